#!/usr/bin/python3
"""make_trees.py OUTDIR — small dataset trees in the real folder layouts, for tests/test_datasets.c.

Writes tiny real image files (JPEG for CheXpert, PNG for ChestX-ray14 and MURA, some MURA ones
RGB) and the label files exactly as the datasets ship them:

  OUTDIR/CheXpert-v1.0-small/{train.csv,valid.csv,train/patientNNNNN/studyN/viewN_*.jpg,valid/...}
  OUTDIR/ChestX-ray14/{Data_Entry_2017.csv (old release: trailing commas), train_val_list.txt,
                       test_list.txt, images_001/images/*.png, images_002/images/*.png}
  OUTDIR/MURA-v1.1/{train,valid}_{image_paths,labeled_studies}.csv, {train,valid}/XR_*/...

plus files with deliberately malformed rows, and the expected results, computed here from the
definitions (not by reading back the files):

  OUTDIR/expected/<name>.txt   one line per image in the reader's order:
                               path-relative-to-OUTDIR <TAB> y,y,... <TAB> mask,mask,... <TAB> patient
  OUTDIR/expected/missing_<name>.txt   the images deliberately not written
  OUTDIR/expected/bad.txt      "file line" of each malformed row
"""
import os
import random
import sys

import numpy as np
from PIL import Image

out = sys.argv[1]
rng = random.Random(1234)
os.makedirs(os.path.join(out, "expected"), exist_ok=True)


def img(rel, kind, rgb=False):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h, w = rng.randint(6, 12), rng.randint(6, 12)
    a = np.array([[rng.randint(0, 255) for _ in range(w)] for _ in range(h)], dtype=np.uint8)
    if rgb:
        im = Image.fromarray(np.stack([a, a, a], axis=2), "RGB")
    else:
        im = Image.fromarray(a, "L")
    im.save(path, kind)


def write(rel, text, newline="\n"):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        f.write(text.replace("\n", newline))


def expect(name, rows):
    with open(os.path.join(out, "expected", name + ".txt"), "w") as f:
        for rel, y, m, patient in rows:
            f.write("%s\t%s\t%s\t%s\n" % (rel, ",".join("%d" % v for v in y),
                                          ",".join("%d" % v for v in m), patient))


def expect_list(name, items):
    with open(os.path.join(out, "expected", name + ".txt"), "w") as f:
        for it in items:
            f.write("%s\n" % it)


bad = []

# ---------------------------------------------------------------- CheXpert-v1.0-small
CHX_HEADER = ("Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,"
              "Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,"
              "Pleural Effusion,Pleural Other,Fracture,Support Devices")
cols = CHX_HEADER.split(",")
OBS = cols[5:]
# The paper's labels and policies (thesis Table 4.1), and a U-Ignore variant for Edema.
PAPER = [("Atelectasis", "ones"), ("Cardiomegaly", "zeros"), ("Consolidation", "zeros"),
         ("Edema", "ones"), ("Pleural Effusion", "ones")]


def policy_target(v, pol):
    """(y, mask) of a CheXpert value ('1.0', '0.0', '-1.0', '') under a policy."""
    if v == "1.0":
        return 1, 1
    if v == "-1.0":
        if pol == "ones":
            return 1, 1
        if pol == "ignore":
            return 0, 0
        return 0, 1
    return 0, 1


def chexpert_split(split, npat, missing_every):
    lines, rows, frontal_rows, missing = [CHX_HEADER], [], [], []
    k = 0
    for p in range(1, npat + 1):
        pid = "patient%05d" % (p if split == "train" else 64540 + p)
        for s in range(1, rng.randint(1, 2) + 1):
            for v in range(1, rng.randint(1, 2) + 1):
                lateral = v == 2
                rel = "CheXpert-v1.0-small/%s/%s/study%d/view%d_%s.jpg" % (
                    split, pid, s, v, "lateral" if lateral else "frontal")
                vals = {}
                for o in OBS:
                    choices = ["1.0", "0.0", "-1.0", ""] if split == "train" else ["1.0", "0.0"]
                    vals[o] = rng.choice(choices)
                fields = [rel, rng.choice(["Male", "Female"]), str(rng.randint(20, 90)),
                          "Lateral" if lateral else "Frontal", "" if lateral else rng.choice(["AP", "PA"])]
                fields += [vals[o] for o in OBS]
                lines.append(",".join(fields))
                y, m = [], []
                for name, pol in PAPER:
                    a, b = policy_target(vals[name], pol)
                    y.append(a)
                    m.append(b)
                row = (rel, y, m, pid)
                rows.append(row)
                if not lateral:
                    frontal_rows.append(row)
                k += 1
                if missing_every and k % missing_every == 0:
                    missing.append(rel)
                else:
                    img(rel, "JPEG")
    write("CheXpert-v1.0-small/%s.csv" % split, "\n".join(lines) + "\n")
    expect("chexpert_" + split, rows)
    expect("chexpert_%s_frontal" % split, frontal_rows)
    expect_list("missing_chexpert_" + split, missing)
    return lines


train_lines = chexpert_split("train", 12, 7)
chexpert_split("valid", 3, 0)

# U-Ignore on every label: expected masks.
rows = []
for line in train_lines[1:]:
    f = line.split(",")
    vals = dict(zip(cols, f))
    y, m = [], []
    for name, _ in PAPER:
        a, b = policy_target(vals[name], "ignore")
        y.append(a)
        m.append(b)
    rows.append((f[0], y, m, f[0].split("/")[2]))
expect("chexpert_train_ignore", rows)

# Malformed copies: a short row (line 4) and a bad value (line 7).
b = list(train_lines)
f3 = b[3].split(",")
b[3] = ",".join(f3[:-2])
f6 = b[6].split(",")
f6[cols.index("Edema")] = "2.0"
b[6] = ",".join(f6)
write("CheXpert-v1.0-small/train_bad.csv", "\n".join(b) + "\n", newline="\r\n")
bad += ["train_bad.csv 4", "train_bad.csv 7"]
good = [r for i, r in enumerate(rows) if i + 1 not in (3, 6)]
expect_list("chexpert_train_bad_skipped", [r[0] for r in good])

# ---------------------------------------------------------------- ChestX-ray14 (old release)
FINDINGS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis",
            "Hernia", "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax"]
NIH_LABELS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Pleural_Thickening"]
hdr = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
       "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],")
lines = [hdr]
entries = []
for p in range(1, 21):
    for fu in range(rng.randint(1, 3)):
        name = "%08d_%03d.png" % (p, fu)
        k = rng.choice([0, 0, 1, 1, 2, 3])
        fs = rng.sample(FINDINGS, k)
        labels = "|".join(fs) if fs else "No Finding"
        lines.append("%s,%s,%d,%d,%d,%s,%s,2500,2048,0.168,0.168," % (
            name, labels, fu, p, rng.randint(10, 90), rng.choice("MF"), rng.choice(["PA", "AP"])))
        entries.append((name, p, fs))
write("ChestX-ray14/Data_Entry_2017.csv", "\n".join(lines) + "\n")
nih_missing = []
for i, (name, p, fs) in enumerate(entries):
    folder = "images_001" if i < len(entries) // 2 else "images_002"
    if i == 5:
        nih_missing.append("ChestX-ray14/images/" + name)  # where the reader must point a missing file
        continue
    img("ChestX-ray14/%s/images/%s" % (folder, name), "PNG")
test_patients = {3, 7, 11, 19}
tv = [e for e in entries if e[1] not in test_patients]
te = [e for e in entries if e[1] in test_patients]
write("ChestX-ray14/train_val_list.txt", "".join(e[0] + "\n" for e in tv))
write("ChestX-ray14/test_list.txt", "".join(e[0] + "\n" for e in te))


def nih_rows(es):
    rows = []
    for i, (name, p, fs) in enumerate(entries):
        if (name, p, fs) not in es:
            continue
        folder = "images_001" if i < len(entries) // 2 else "images_002"
        rel = ("ChestX-ray14/images/%s" % name) if i == 5 else ("ChestX-ray14/%s/images/%s" % (folder, name))
        y = [1 if (l in fs) else 0 for l in NIH_LABELS]
        rows.append((rel, y, [1] * len(y), str(p)))
    return rows


expect("nih_trainval", nih_rows(tv))
expect("nih_test", nih_rows(te))
expect_list("missing_nih_trainval", [m for m in nih_missing if any(m.endswith(e[0]) for e in tv)])
# v2020 release: the same entries without the trailing comma, CRLF line ends.
write("ChestX-ray14/Data_Entry_2017_v2020.csv", "\n".join(l[:-1] for l in lines) + "\n", newline="\r\n")
# A malformed entry file: row 5 (line 6) lost a field.
b = list(lines)
b[5] = b[5].replace(",2500,2048", ",2500")
write("ChestX-ray14/Data_Entry_bad.csv", "\n".join(b) + "\n")
bad.append("Data_Entry_bad.csv 6")

# ---------------------------------------------------------------- MURA-v1.1
PARTS = ["XR_SHOULDER", "XR_WRIST", "XR_ELBOW"]
for split in ["train", "valid"]:
    paths, studies, rows_all, rows_sh = [], [], [], []
    base = 1 if split == "train" else 900
    for p in range(base, base + 8):
        part = PARTS[p % 3]
        for s in range(1, rng.randint(1, 2) + 1):
            lab = rng.randint(0, 1)
            study = "MURA-v1.1/%s/%s/patient%05d/study%d_%s/" % (split, part, p, s,
                                                                  "positive" if lab else "negative")
            studies.append("%s,%d" % (study, lab))
            for i in range(1, rng.randint(1, 3) + 1):
                rel = study + "image%d.png" % i
                paths.append(rel)
                img(rel, "PNG", rgb=(i == 2))
                row = (rel, [lab], [1], "patient%05d" % p)
                rows_all.append(row)
                if part == "XR_SHOULDER":
                    rows_sh.append(row)
    write("MURA-v1.1/%s_image_paths.csv" % split, "".join(x + "\n" for x in paths))
    write("MURA-v1.1/%s_labeled_studies.csv" % split, "".join(x + "\n" for x in studies))
    expect("mura_%s_all" % split, rows_all)
    expect("mura_%s_shoulder" % split, rows_sh)
    if split == "train":
        bpaths = list(paths)
        bpaths.insert(2, "MURA-v1.1/train/XR_SHOULDER/patient99999/study1_positive/image1.png")
        write("MURA-v1.1/bad_image_paths.csv", "".join(x + "\n" for x in bpaths))
        write("MURA-v1.1/bad_labeled_studies.csv", "".join(x + "\n" for x in studies))
        bad.append("bad_image_paths.csv 3")

expect_list("bad", bad)
print("trees written to", out)
