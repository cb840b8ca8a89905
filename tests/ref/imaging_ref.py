#!/usr/bin/python3
"""imaging_ref.py OUTDIR — references for tests/test_imaging.c (src/imaging/: luma, Lanczos,
D-hash, YCbCr, CIELAB, k-means), written as raw files plus OUTDIR/manifest.txt, one case a line:

  lanczos K C SW SH DW DH     lanczos_K.in (SW*SH*C bytes), lanczos_K.out: PIL's
                              Image.resize((DW, DH), Image.LANCZOS) of it (C = 1: "L", 3: "RGB")
  dhash K C W H HEX           dhash_K.in; HEX = imagehash's dhash written out below (PIL only)
  luma N                      luma.in (N RGB pixels), luma.out = PIL convert("L")
  ycbcr N                     ycbcr_rgb.in (N RGB pixels, a 128^3 grid), ycbcr_pil.out = PIL
                              convert("YCbCr"); ycbcr_ycc.in (N YCbCr triples, the same grid),
                              ycbcr_back_pil.out = PIL convert("RGB") of them
  merge N GAIN                merge_a.in, merge_b.in (N RGB pixels each), merge_GAIN.out: the
                              numpy formulas of the spec (§2 step 9), merge_pil.out (gain 1): PIL's
                              Image.merge("YCbCr", (Y of a, Cb of b, Cr of b)).convert("RGB")
  lab N SKIMAGE               lab_rgb.in (N float64 RGB triples, the 64^3 grid i/63),
                              lab_np.out: the spec's formulas in numpy (float64), lab_sk.out:
                              skimage.color.rgb2lab when SKIMAGE = 1; lab_lab.in (N Lab triples
                              on a grid L 0..100, a, b -110..110), lab_back_np.out and
                              lab_back_sk.out the inverse (skimage's lab2rgb conventions);
                              lab_grid_back_np.out: lab2rgb of lab_np.out (the 64^3 grid back)
  kmeans K N NC               kmeans_K.in (N grey bytes), kmeans_K.out (N labels), NC clusters:
                              a numpy version of §2 step 3 written here
Every random input comes from numpy.random.RandomState(15).
"""
import os
import sys

import numpy as np
from PIL import Image

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(15)
man = []


def put(name, arr):
    np.ascontiguousarray(arr).tofile(os.path.join(OUT, name))


def image(w, h, c, kind):
    """test pictures: smooth gradients with edges and noise, or pure noise"""
    if kind == "noise":
        return rng.randint(0, 256, size=(h, w, c)).astype(np.uint8)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.zeros((h, w, c))
    for ch in range(c):
        fx, fy, ph = rng.uniform(0.5, 4) / max(w, 1), rng.uniform(0.5, 4) / max(h, 1), rng.uniform(0, 6.3)
        a[..., ch] = 128 + 100 * np.sin(2 * np.pi * (fx * x + fy * y) + ph)
        a[..., ch] += np.where(x > w * rng.uniform(0.2, 0.8), 60, -20)  # a vertical edge
        a[..., ch] += rng.normal(0, 12, size=(h, w))
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def pil(arr):
    return Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr, "L" if arr.shape[2] == 1 else "RGB")


# ---- Lanczos: 50 size pairs (up, down, odd, 1-pixel edges, one axis only) ----
pairs = [(64, 64, 32, 32), (64, 64, 128, 128), (100, 80, 37, 53), (37, 53, 100, 80), (9, 8, 224, 224),
         (600, 520, 224, 224), (600, 520, 9, 8), (513, 301, 9, 8), (1, 1, 5, 7), (5, 7, 1, 1),
         (1, 40, 9, 8), (40, 1, 9, 8), (1, 50, 1, 17), (50, 1, 17, 1), (3, 3, 2, 2), (2, 2, 3, 3),
         (224, 224, 300, 260), (300, 260, 224, 224), (255, 255, 256, 256), (256, 256, 255, 255),
         (17, 29, 17, 11), (17, 29, 31, 29), (101, 33, 99, 33), (33, 101, 33, 99), (12, 12, 12, 12),
         (640, 480, 9, 8), (11, 13, 3, 200), (200, 3, 11, 13), (97, 89, 61, 43), (61, 43, 97, 89),
         (8, 8, 9, 8), (9, 9, 9, 8), (45, 30, 90, 15), (30, 45, 15, 90), (7, 5, 21, 15),
         (128, 96, 96, 128), (250, 250, 84, 84), (84, 84, 250, 250), (19, 23, 2, 3), (2, 3, 19, 23),
         (333, 222, 111, 74), (111, 74, 333, 222), (64, 48, 63, 47), (63, 47, 64, 48), (1, 2, 2, 1),
         (160, 120, 224, 224), (599, 401, 224, 224), (224, 224, 599, 401), (31, 31, 1, 31), (31, 31, 31, 1)]
assert len(pairs) == 50
for k, (sw, sh, dw, dh) in enumerate(pairs):
    c = 3 if k % 2 else 1
    a = image(sw, sh, c, "noise" if k % 5 == 4 else "smooth")
    put("lanczos_%d.in" % k, a)
    put("lanczos_%d.out" % k, np.asarray(pil(a).resize((dw, dh), Image.LANCZOS)))
    man.append("lanczos %d %d %d %d %d %d" % (k, c, sw, sh, dw, dh))


# ---- D-hash (imagehash.dhash, hash_size 8, written from its definition) ----
def dhash(im):
    px = np.asarray(im.convert("L").resize((9, 8), Image.LANCZOS)).astype(np.int32)
    bits = (px[:, 1:] > px[:, :-1]).flatten()
    return "%016x" % int("".join("1" if b else "0" for b in bits), 2)


for k in range(24):
    w, h, c = int(rng.randint(9, 400)), int(rng.randint(8, 400)), 3 if k % 3 else 1
    a = image(w, h, c, "noise" if k % 4 == 3 else "smooth")
    put("dhash_%d.in" % k, a)
    man.append("dhash %d %d %d %d %s" % (k, c, w, h, dhash(pil(a))))

# ---- luma ----
n = 100000
rgb = rng.randint(0, 256, size=(1, n, 3)).astype(np.uint8)
rgb[0, :256] = np.arange(256)[:, None]  # greys give themselves
put("luma.in", rgb)
put("luma.out", np.asarray(Image.fromarray(rgb, "RGB").convert("L")))
man.append("luma %d" % n)

# ---- YCbCr both ways, 128^3 grid ----
v = np.rint(np.arange(128) * 255 / 127).astype(np.uint8)
grid = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(1, -1, 3)
put("ycbcr_rgb.in", grid)
put("ycbcr_pil.out", np.asarray(Image.fromarray(grid, "RGB").convert("YCbCr")))
put("ycbcr_ycc.in", grid)
put("ycbcr_back_pil.out", np.asarray(Image.frombytes("YCbCr", (grid.shape[1], 1), grid.tobytes()).convert("RGB")))
man.append("ycbcr %d" % grid.shape[1])


# ---- the Y-only merge ----
def rnd(x):  # round half away from zero, clip
    return np.clip(np.where(x < 0, -np.floor(-x + 0.5), np.floor(x + 0.5)), 0, 255)


def ycc(a):
    r, g, b = [a[..., i].astype(np.float64) for i in range(3)]
    return (rnd(0.299 * r + 0.587 * g + 0.114 * b), rnd(128 - 0.168736 * r - 0.331264 * g + 0.5 * b),
            rnd(128 + 0.5 * r - 0.418688 * g - 0.081312 * b))


def back(y, cb, cr):
    return np.stack([rnd(y + 1.402 * (cr - 128)), rnd(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)),
                     rnd(y + 1.772 * (cb - 128))], -1).astype(np.uint8)


n = 50000
a = rng.randint(0, 256, size=(1, n, 3)).astype(np.uint8)
b = rng.randint(0, 256, size=(1, n, 3)).astype(np.uint8)
put("merge_a.in", a)
put("merge_b.in", b)
ya, _, _ = ycc(a)
_, cbb, crb = ycc(b)
for gain in (1.0, 1.5, 0.5):
    cb, cr = (cbb, crb) if gain == 1.0 else (rnd(128 + gain * (cbb - 128)), rnd(128 + gain * (crb - 128)))
    put("merge_%g.out" % gain, back(ya, cb, cr))
    man.append("merge %d %g" % (n, gain))
A, B = Image.fromarray(a, "RGB").convert("YCbCr"), Image.fromarray(b, "RGB").convert("YCbCr")
put("merge_pil.out", np.asarray(Image.merge("YCbCr", (A.split()[0], B.split()[1], B.split()[2])).convert("RGB")))

# ---- CIELAB (spec §1 "Colour pipeline"; inverse with skimage's conventions) ----
M = np.array([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]])
W = np.array([0.95047, 1.0, 1.08883])


def rgb2lab(rgb):
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    t = (lin @ M.T) / W
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], -1)


def lab2rgb(lab):
    fy = (lab[:, 0] + 16) / 116
    fx, fz = lab[:, 1] / 500 + fy, fy - lab[:, 2] / 200
    fz = np.maximum(fz, 0)
    f = np.stack([fx, fy, fz], -1)
    xyz = np.where(f > 0.2068966, f ** 3, (f - 16 / 116) / 7.787) * W
    lin = xyz @ np.linalg.inv(M).T
    c = np.where(lin > 0.0031308, 1.055 * np.power(np.maximum(lin, 1e-300), 1 / 2.4) - 0.055, 12.92 * lin)
    return np.clip(c, 0, 1)


g = np.arange(64) / 63.0
rgbf = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
L = np.linspace(0, 100, 41)
ab = np.linspace(-110, 110, 45)
labg = np.stack(np.meshgrid(L, ab, ab, indexing="ij"), -1).reshape(-1, 3)
put("lab_rgb.in", rgbf)
put("lab_np.out", rgb2lab(rgbf))
put("lab_grid_back_np.out", lab2rgb(rgb2lab(rgbf)))  # the 64^3 grid back (both ways on one grid)
put("lab_lab.in", labg)
put("lab_back_np.out", lab2rgb(labg))
try:
    import warnings

    from skimage import color
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lab2rgb warns about negative Z values it clips
        put("lab_sk.out", color.rgb2lab(rgbf.reshape(1, -1, 3)).reshape(-1, 3))
        put("lab_back_sk.out", color.lab2rgb(labg.reshape(1, -1, 3)).reshape(-1, 3))
    sk = 1
except ImportError:
    sk = 0
man.append("lab %d %d %d" % (rgbf.shape[0], labg.shape[0], sk))


# ---- 1-D k-means on grey levels (§2 step 3) ----
def kmeans(grey, k):
    v = grey.astype(np.int64).ravel()
    lo, hi = v.min(), v.max()
    vs = v - lo + 1
    levels = np.arange(1, hi - lo + 2)
    hist = np.bincount(vs, minlength=hi - lo + 2)[1:]
    c = np.arange(1, k + 1) * (hi - lo + 2) / (k + 1)
    occ = hist > 0
    prev = None
    for _ in range(1000):
        d = np.abs(levels[:, None] - c[None, :])
        lab = np.argmin(d, axis=1)  # argmin: the first (lowest index) on ties
        if prev is not None and np.array_equal(lab[occ], prev[occ]):
            break
        prev = lab
        for i in range(k):
            m = occ & (lab == i)
            if m.any():
                c[i] = np.sum(hist[m] * levels[m]) / np.sum(hist[m])
    return lab[vs - 1].astype(np.uint8)


kcases = [(64, 64, 4, "smooth"), (100, 37, 4, "noise"), (50, 50, 2, "smooth"), (80, 60, 6, "smooth"),
          (33, 33, 4, "few"), (40, 30, 4, "two"), (224, 224, 4, "smooth"), (17, 9, 3, "noise"),
          (64, 64, 4, "narrow"), (20, 20, 5, "const")]
for k, (w, h, nc, kind) in enumerate(kcases):
    if kind == "few":
        grey = rng.choice([10, 11, 200, 90, 91], size=(h, w)).astype(np.uint8)
    elif kind == "two":
        grey = rng.choice([30, 220], size=(h, w)).astype(np.uint8)
    elif kind == "narrow":
        grey = rng.randint(100, 104, size=(h, w)).astype(np.uint8)
    elif kind == "const":
        grey = np.full((h, w), 77, np.uint8)
    else:
        grey = image(w, h, 1, kind)[..., 0]
    put("kmeans_%d.in" % k, grey)
    put("kmeans_%d.out" % k, kmeans(grey, nc))
    man.append("kmeans %d %d %d" % (k, w * h, nc))

with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(man) + "\n")
