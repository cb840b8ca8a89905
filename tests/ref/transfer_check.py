#!/usr/bin/python3
"""transfer_check.py — the checks of tests/cli_transfer.sh on a `medcolor transfer` run:
  transfer_check.py TARGET OUT DUMPDIR MODE
TARGET the grey phantom, OUT the result (at TARGET's size), DUMPDIR its --dump folder.
  - OUT has TARGET's size;
  - PIL "L" of OUT within 1 of TARGET wherever no channel of OUT is 0 or 255 (the YCbCr merge keeps
    the target's Y; rounding and PIL's luma give at most 1);
  - the best loss of each pass (log.csv) never increases; pass 2 starts at iteration 0 and its
    lowest loss is below half of that start;
  - chroma: mean (Cb, Cr) (JFIF, double) of the NxN result (result_n.png) nearer the reference's
    (ref_n.png) than the start O0 = (123.68, 116.779, 103.939)'s; MODE "strong" asks for at most
    0.8 of O0's distance, "weak" only nearer, "none" prints it without a check (the rgb
    coordinates, where random weights drag the chroma away: docs/transfer.md).
Prints the figures; exit 1 on a failed check."""
import csv
import sys

import numpy as np
from PIL import Image


def chroma(a):
    a = np.asarray(a, dtype=np.float64).reshape(-1, 3)
    cb = 128 - 0.168736 * a[:, 0] - 0.331264 * a[:, 1] + 0.5 * a[:, 2]
    cr = 128 + 0.5 * a[:, 0] - 0.418688 * a[:, 1] - 0.081312 * a[:, 2]
    return np.array([cb.mean(), cr.mean()])


def main():
    target, out, dump, mode = sys.argv[1:5]
    ok = True
    t = Image.open(target).convert("L")
    o = Image.open(out).convert("RGB")
    if o.size != t.size:
        print("FAIL size %s, target %s" % (o.size, t.size))
        return 1
    rgb = np.asarray(o).astype(np.int64)
    lum = np.asarray(o.convert("L")).astype(np.int64)
    tl = np.asarray(t).astype(np.int64)
    free = ~((rgb == 0) | (rgb == 255)).any(-1)
    d = np.abs(lum - tl)[free]
    print("  luminance: |L(out) - target| max %d over %d of %d unclipped pixels" % (d.max(), free.sum(), free.size))
    if d.max() > 1:
        print("FAIL luminance differs by %d" % d.max())
        ok = False
    rows = list(csv.DictReader(open(dump + "/log.csv")))
    for p in ("1", "2"):
        best = [float(r["best"]) for r in rows if r["pass"] == p]
        if any(b2 > b1 for b1, b2 in zip(best, best[1:])):
            print("FAIL pass %s: the best loss increases" % p)
            ok = False
    loss2 = [float(r["loss"]) for r in rows if r["pass"] == "2"]
    if not loss2 or rows[[r["pass"] for r in rows].index("2")]["iter"] != "0":
        print("FAIL log.csv: pass 2 does not start with its iteration 0")
        ok = False
    elif not min(loss2) < loss2[0] / 2:
        print("FAIL pass 2: best %.6g not below half its start %.6g" % (min(loss2), loss2[0]))
        ok = False
    best2 = [float(r["best"]) for r in rows if r["pass"] == "2"]
    if not best2:
        print("FAIL no pass-2 iteration in log.csv")
        return 1
    ref = chroma(Image.open(dump + "/ref_n.png").convert("RGB"))
    res = chroma(Image.open(dump + "/result_n.png").convert("RGB"))
    o0 = chroma(np.array([[123.68, 116.779, 103.939]]))
    dr, d0 = np.linalg.norm(res - ref), np.linalg.norm(o0 - ref)
    print("  chroma (Cb, Cr): reference (%.2f, %.2f), result (%.2f, %.2f), O0 (%.2f, %.2f): distance %.3f vs O0's %.3f"
          % (ref[0], ref[1], res[0], res[1], o0[0], o0[1], dr, d0))
    limit = 0.8 * d0 if mode == "strong" else d0
    if mode != "none" and not dr < limit:
        print("FAIL the result's mean chroma is not nearer the reference's (%.3f, limit %.3f)" % (dr, limit))
        ok = False
    print("  pass 2: best loss %.6g after %d iterations" % (best2[-1], len(best2) - 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
