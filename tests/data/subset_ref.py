#!/usr/bin/python3
"""subset_ref.py DIR — the independent reference for tests/test_subset.c.

Writes into DIR a CheXpert-layout label file of 223,414 rows (the size of the real
CheXpert-v1.0-small train.csv) with generated labels, and what medcolor must select from it,
computed here from docs/data.md's description of the draw (not from medcolor's code):

  subset = f, subset_seed = s on n rows (after the view filter) keeps the first round(f * n)
  entries (Python's round) of numpy's legacy RandomState(s).permutation(n), in that order;
  then the label policies: ones (-1 -> 1), zeros (-1 -> 0), ignore (-1 -> mask 0);
  blank -> 0; "1.0" = "1", "0.0" = "0", "-1.0" = "-1".

Files written (relative paths are relative to DIR):
  CheXpert-v1.0-small/train.csv       the generated label file (plain text, "\\n" line ends)
  CheXpert-v1.0-small/train.csv.gz    the same bytes, gzip-compressed
  cases.txt                           one line per case:
      NAME FRAC SEED VIEW POLICIES SIZE POS_1..POS_5
    VIEW is all/frontal, POLICIES the five policies joined by ",", POS_j the positives of label j
    in the selection; the labels are LABELS below, in that order
  expected/NAME.txt                   the selection, one row a line: PATH<TAB>y1,..,y5<TAB>m1,..,m5
                                      (PATH relative to DIR, as the reader joins it)
  expected/NAME.csv                   for the CLI cases: the subset as `medcolor subset` writes it
                                      (the header, then the chosen input lines byte for byte)
  full.txt                            positives of the whole file under the paper's policies
"""
import gzip
import os
import random
import sys

import numpy as np

N = 223414
HEADER = ("Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
          "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
          "Pleural Effusion,Pleural Other,Fracture,Support Devices")
COLUMNS = HEADER.split(",")
LABELS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Pleural Effusion"]
PAPER = ["ones", "zeros", "zeros", "ones", "ones"]  # thesis Table 4.1
SEEDS = [8, 8829, 2901]  # the thesis' seeds
FRACS = [0.1, 0.05, 0.01, 0.005, 0.002, 0.001]  # Table 4.2's subsets


def generate(rng):
    """The rows as text lines. Each label column mixes positive, negative, uncertain and blank
    values, written both as CheXpert writes them (1.0, 0.0, -1.0, empty) and as integers, with
    uncertain rates high enough that U-Ones and U-Zeros give clearly different counts."""
    rows = []
    patient, study, in_study = 0, 0, 0
    for i in range(N):
        if in_study == 0:
            if rng.random() < 0.35 or i == 0:
                patient += 1
                study = 1
            else:
                study += 1
            in_study = rng.choice((1, 1, 2, 2, 3))
        in_study -= 1
        frontal = rng.random() < 0.855
        view_no = 1 + in_study
        path = "CheXpert-v1.0-small/train/patient%05d/study%d/view%d_%s.jpg" % (
            patient, study, view_no, "frontal" if frontal else "lateral")
        fields = [path, rng.choice(("Male", "Female", "Unknown")), str(rng.randint(18, 90)),
                  "Frontal" if frontal else "Lateral", rng.choice(("AP", "PA")) if frontal else ""]
        for name in COLUMNS[5:]:
            u = rng.random()
            if u < 0.30:
                v = ""
            elif u < 0.55:
                v = "1.0"
            elif u < 0.75:
                v = "0.0"
            elif u < 0.90:
                v = "-1.0"
            else:
                v = rng.choice(("1", "0", "-1"))
            fields.append(v)
        rows.append(",".join(fields))
    assert len(set(r.split(",", 1)[0] for r in rows)) == N, "paths must be unique"
    return rows


def value(text):
    return {"": 0, "1.0": 1, "1": 1, "0.0": 0, "0": 0, "-1.0": -1, "-1": -1}[text]


def targets(fields, policies):
    y, m = [], []
    for name, pol in zip(LABELS, policies):
        v = value(fields[COLUMNS.index(name)])
        if v == -1:
            if pol == "ones":
                y.append(1); m.append(1)
            elif pol == "zeros":
                y.append(0); m.append(1)
            else:
                y.append(0); m.append(0)
        else:
            y.append(v); m.append(1)
    return y, m


def select(n, frac, seed):
    size = round(frac * n)  # Python's round: half to even, as pandas
    return [int(i) for i in np.random.RandomState(seed).permutation(n)[:size]]


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "CheXpert-v1.0-small"), exist_ok=True)
    os.makedirs(os.path.join(out, "expected"), exist_ok=True)
    rows = generate(random.Random(20240612))
    text = HEADER + "\n" + "\n".join(rows) + "\n"
    with open(os.path.join(out, "CheXpert-v1.0-small", "train.csv"), "w", newline="") as f:
        f.write(text)
    with gzip.open(os.path.join(out, "CheXpert-v1.0-small", "train.csv.gz"), "wb", compresslevel=1) as f:
        f.write(text.encode())
    split = [r.split(",") for r in rows]

    full = [0] * 5
    for fields in split:
        y, _ = targets(fields, PAPER)
        full = [a + b for a, b in zip(full, y)]
    with open(os.path.join(out, "full.txt"), "w") as f:
        f.write("%d %s\n" % (len(split), " ".join(map(str, full))))

    cases = []
    for frac in FRACS:
        for seed in SEEDS:
            cases.append(("f%g_s%d" % (frac, seed), frac, seed, "all", PAPER, False))
    # the CLI writes these as CSV; one with every label ignored when uncertain; one where the
    # view filter comes first (the draw is over the frontal rows only)
    cases.append(("cli_f0.002_s2901", 0.002, 2901, "all", PAPER, True))
    cases.append(("cli_f0.01_s8829", 0.01, 8829, "all", PAPER, True))
    cases.append(("ignore_f0.01_s8", 0.01, 8, "all", ["ignore"] * 5, False))
    cases.append(("frontal_f0.005_s2901", 0.005, 2901, "frontal", PAPER, False))
    with open(os.path.join(out, "cases.txt"), "w") as cf:
        for name, frac, seed, view, pols, as_csv in cases:
            pool = [i for i, r in enumerate(split) if view == "all" or r[3] == "Frontal"]
            chosen = [pool[k] for k in select(len(pool), frac, seed)]
            pos = [0] * 5
            with open(os.path.join(out, "expected", name + ".txt"), "w") as ef:
                for i in chosen:
                    y, m = targets(split[i], pols)
                    pos = [a + b * c for a, b, c in zip(pos, y, m)]
                    ef.write("%s\t%s\t%s\n" % (split[i][0], ",".join(map(str, y)),
                                               ",".join(map(str, m))))
            if as_csv:
                with open(os.path.join(out, "expected", name + ".csv"), "w", newline="") as ef:
                    ef.write(HEADER + "\n" + "".join(rows[i] + "\n" for i in chosen))
            cf.write("%s %r %d %s %s %d %s\n" % (name, frac, seed, view, ",".join(pols), len(chosen),
                                                 " ".join(map(str, pos))))


if __name__ == "__main__":
    main()
