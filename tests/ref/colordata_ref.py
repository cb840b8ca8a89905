"""colordata_ref.py OUTDIR — inputs and references of tests/test_colordata.c (the colorization
data pipeline):

  lab/*.png|jpg and lab/manifest.txt, one line per case "FILE W H OW OH": mc_lab_load(FILE, W, H)
  must give lab/FILE.W.lab (float32, planar [3][OH][OW]): PIL decodes the file (grey files as
  x / maxval, 16-bit kept; colour / 255), torch.nn.functional.interpolate(bilinear,
  align_corners=False) resizes each channel in float32 (W = H = 0: no resize), and the spec's
  CIELAB formulas (§1 "Colour pipeline") in numpy float64 convert it.
  tree/: an image folder in Kaggle's layout (train/NORMAL 30 files, train/PNEUMONIA 45, a README
  and a hidden file beside them, a folder inside a class folder) and draw_S_K.txt: the paths
  numpy.random.RandomState(S).permutation(n)[:K] picks from each class's sorted names, class after
  class (the files are empty: the folder reader never opens them).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

out = sys.argv[1]
os.makedirs(out + "/lab", exist_ok=True)
rng = np.random.RandomState(7)

M = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
W = np.array([0.95047, 1.0, 1.08883])


def rgb2lab(rgb):
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = (lin @ M.T) / W
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], -1)


def smooth(h, w, c):
    """a smooth random image (so that resizing matters), 0..1"""
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, c))
    for k in range(c):
        a, b, p = rng.uniform(0.05, 0.4, 3)
        img[..., k] = 0.5 + 0.35 * np.sin(a * x + p * 7) * np.cos(b * y + k) + 0.1 * rng.rand(h, w)
    return np.clip(img, 0, 1)


files = []
im = (smooth(23, 37, 3) * 255).round().astype(np.uint8)
Image.fromarray(im, "RGB").save(out + "/lab/rgb8.png")
files.append("rgb8.png")
g16 = (smooth(30, 40, 1)[..., 0] * 65535).round().astype(np.uint16)
Image.fromarray(g16).save(out + "/lab/grey16.png")  # mode I;16
files.append("grey16.png")
g8 = (smooth(31, 33, 1)[..., 0] * 255).round().astype(np.uint8)
Image.fromarray(g8, "L").save(out + "/lab/grey8.jpg", quality=90)
files.append("grey8.jpg")
Image.fromarray((smooth(40, 48, 3) * 255).round().astype(np.uint8), "RGB").save(out + "/lab/rgb.jpg", quality=90)
files.append("rgb.jpg")


def decode(path):
    im = Image.open(path)
    a = np.asarray(im)
    if im.mode in ("I;16", "I;16B", "I"):
        return np.repeat((a.astype(np.float64) / 65535.0)[..., None], 3, -1).astype(np.float32)
    if im.mode == "L":
        return np.repeat((a.astype(np.float32) / np.float32(255))[..., None], 3, -1)
    return np.asarray(im.convert("RGB")).astype(np.float32) / np.float32(255)


man = []
for f, w, h in [("rgb8.png", 16, 12), ("rgb8.png", 0, 0), ("rgb8.png", 50, 40), ("grey16.png", 20, 20),
                ("grey8.jpg", 16, 16), ("rgb.jpg", 24, 20)]:
    x = decode(out + "/lab/" + f)  # h x w x 3 float32
    if w > 0:
        t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        x = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0].numpy().transpose(1, 2, 0)
    oh, ow = x.shape[:2]
    lab = rgb2lab(x.reshape(-1, 3).astype(np.float64)).reshape(oh, ow, 3).transpose(2, 0, 1).astype(np.float32)
    lab.tofile("%s/lab/%s.%d.lab" % (out, f, w))
    man.append("%s %d %d %d %d" % (f, w, h, ow, oh))
open(out + "/lab/manifest.txt", "w").write("\n".join(man) + "\n")

# ---- the image-folder tree and its draws ----
t = out + "/tree/train"
names = {"NORMAL": ["IM-%04d-0001.jpeg" % (i * 7 % 101) for i in range(30)],
         "PNEUMONIA": ["person%d_bacteria_%d.jpeg" % (i, i * 3) for i in range(45)]}
for c, ns in names.items():
    os.makedirs(t + "/" + c, exist_ok=True)
    for n in ns:
        open(t + "/" + c + "/" + n, "w").close()
os.makedirs(t + "/PNEUMONIA/extra", exist_ok=True)  # a folder inside a class folder: not read
open(t + "/README.txt", "w").write("not an image\n")
open(t + "/.DS_Store", "w").close()
for seed, k in [(0, 10), (3, 30), (12345, 5)]:
    rows = []
    for c in sorted(names):
        ns = sorted(names[c])
        for j in np.random.RandomState(seed).permutation(len(ns))[:k]:
            rows.append("%s/%s/%s" % (t, c, ns[j]))
    open("%s/draw_%d_%d.txt" % (out, seed, k), "w").write("\n".join(rows) + "\n")
