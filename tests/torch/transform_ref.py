#!/usr/bin/python3
"""transform_ref.py OUTDIR — PyTorch references for tests/test_transform.c.

Writes input images (float32 [h][w], little-endian .f32) and OUTDIR/cases.txt, one case a line:

  cropoff  name iw ih x0 y0 side                  torchvision CenterCrop offsets
  randcrop name iw ih u x0 y0 side                fastai v1 _crop_default offsets
  resize   name in iw ih x0 y0 s ow oh r32 r64     F.interpolate(bilinear, align_corners=False)
  centre   name in iw ih ow oh r32 r64            CenterCrop(min side) + F.interpolate
  warp     name in h w t0..t5 r32 r64             F.affine_grid + F.grid_sample(bilinear,
                                                  reflection, align_corners=True) with theta
  fastai   name h w angle scale row col t0..t5    fastai v1 rotate·zoom matrix as theta
  pipeline name in iw ih x0 y0 s rot angle zoom scale row col oh ow r32 r64
                                                  crop, resize, warp, normalise

r32 is PyTorch's float32 result (the reference the tolerance is stated against), r64 the same
computation in float64 (the exact value; shows that the remaining float32 difference is
PyTorch's own rounding of grid coordinates). The fastai matrices are built the way fastai v1
builds them (rotate and zoom matrices multiplied affine_mat @ m in transform order, then
_affine_mult's aspect correction) and the script checks that fastai's own flow field
(_affine_grid + _affine_mult) equals F.affine_grid with that theta.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(4321)
lines = []
MEAN, STD = 0.5028, 0.2902


def smooth(h, w, noise):
    """X-ray-like test image in [0, 1]: smooth structure plus fine noise of +-noise."""
    y, x = np.mgrid[0:h, 0:w]
    f = np.zeros((h, w))
    for _ in range(5):
        fx, fy, ph = rng.uniform(0.5, 6) / w, rng.uniform(0.5, 6) / h, rng.uniform(0, 6.3)
        f += np.sin(2 * np.pi * (fx * x + fy * y) + ph)
    f = (f - f.min()) / (f.max() - f.min())
    f = 0.05 + 0.9 * f + rng.uniform(-noise, noise, size=f.shape)
    return np.clip(f, 0, 1).astype(np.float32)


def save(name, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(os.path.join(OUT, name))
    return name


images = {}


def image(name, h, w, noise):
    a = smooth(h, w, noise) if noise is not None else rng.uniform(0, 1, size=(h, w)).astype(np.float32)
    images[name] = a
    save(name, a)
    return name


def t(a, dtype):
    return torch.from_numpy(np.asarray(a)).to(dtype)[None, None]


def interp(a, oh, ow, dtype):
    return F.interpolate(t(a, dtype), size=(oh, ow), mode="bilinear", align_corners=False)[0, 0].numpy()


def grid_sample(a, theta, dtype):
    h, w = a.shape
    th = torch.tensor(np.asarray(theta, dtype=np.float64).reshape(1, 2, 3), dtype=dtype)
    grid = F.affine_grid(th, (1, 1, h, w), align_corners=True)
    return F.grid_sample(t(a, dtype), grid, mode="bilinear", padding_mode="reflection",
                         align_corners=True)[0, 0].numpy()


def fastai_matrix(angle, scale, row_pct, col_pct, h, w):
    """fastai v1: affine_mat = I @ _rotate(degrees) @ _zoom(scale, row_pct, col_pct), then
    _affine_mult's m[0,1] *= h/w, m[1,0] *= w/h."""
    a = angle * math.pi / 180
    rot = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0, 0, 1.0]])
    s = 1 - 1 / scale
    zoom = np.array([[1 / scale, 0, s * (2 * col_pct - 1)], [0, 1 / scale, s * (2 * row_pct - 1)], [0, 0, 1.0]])
    m = np.eye(3) @ rot @ zoom
    m[0, 1] *= h / w
    m[1, 0] *= w / h
    return m[:2].astype(np.float32)  # theta as PyTorch holds it (float32)


def fastai_flow(theta, h, w):
    """fastai v1's _affine_grid + _affine_mult (float64), to confirm the theta convention."""
    grid = np.zeros((h, w, 2))
    grid[..., 0] = np.outer(np.ones(h), np.linspace(-1, 1, w) if w > 1 else [-1])
    grid[..., 1] = np.outer(np.linspace(-1, 1, h) if h > 1 else [-1], np.ones(w))
    m = np.asarray(theta, dtype=np.float64).reshape(2, 3)
    return grid.reshape(-1, 2) @ m[:, :2].T + m[:, 2]


def check_convention(theta, h, w):
    th = torch.tensor(np.asarray(theta, dtype=np.float64).reshape(1, 2, 3))
    g = F.affine_grid(th, (1, 1, h, w), align_corners=True)[0].numpy().reshape(-1, 2)
    assert np.abs(g - fastai_flow(theta, h, w)).max() < 1e-12, "theta convention mismatch"


def fmt(v):
    return " ".join("%.9g" % x for x in v)


# ---- crops -------------------------------------------------------------------------------------
for iw, ih in [(20, 21), (20, 23), (20, 25), (20, 27), (27, 20), (25, 20), (31, 30), (30, 30),
               (390, 320), (320, 390), (1024, 1024), (2320, 2828), (9, 2)]:
    idx = torch.arange(ih * iw, dtype=torch.float64).reshape(1, ih, iw)
    s = min(iw, ih)
    c = TF.center_crop(idx, [s, s])
    v = int(c[0, 0, 0].item())
    lines.append("cropoff c%dx%d %d %d %d %d %d" % (iw, ih, iw, ih, v % iw, v // iw, s))

for iw, ih in [(390, 320), (320, 390), (37, 30), (30, 30)]:
    for u in [0.0, 0.3, 0.5, 0.999999, 0.123456]:
        s = min(iw, ih)
        # fastai v1 _crop_default: row = int((rows - crop + 1) * row_pct); rand_crop draws pct ~ U(0, 1)
        x0, y0 = int((iw - s + 1) * u), int((ih - s + 1) * u)
        lines.append("randcrop r%dx%d_%g %d %d %.17g %d %d %d" % (iw, ih, u, iw, ih, u, x0, y0, s))

# ---- resize ------------------------------------------------------------------------------------
image("img_a.f32", 341, 397, 0.02)   # CheXpert-small-like (h=341, w=397)
image("img_b.f32", 96, 80, 0.02)
image("img_n.f32", 64, 72, None)     # pure noise: float64 reference only is strict
image("img_big.f32", 1024, 1024, 0.02)
image("img_320.f32", 320, 320, 0.02)
image("img_s.f32", 48, 48, 0.02)

resize_cases = [
    ("down_397_341_to_320", "img_a.f32", 0, 0, 341, 320, 320, None),
    ("crop_right", "img_a.f32", 56, 0, 341, 320, 320, None),
    ("down_1024_to_320", "img_big.f32", 0, 0, 1024, 320, 320, None),
    ("up_80_to_320", "img_b.f32", 0, 8, 80, 320, 320, None),
    ("same_size", "img_320.f32", 0, 0, 320, 320, 320, None),
    ("nonsquare_out", "img_a.f32", 10, 0, 341, 200, 300, None),
    ("odd_ratio", "img_b.f32", 3, 11, 77, 31, 53, None),
    ("noise_down", "img_n.f32", 4, 0, 64, 29, 29, None),
    ("noise_up", "img_n.f32", 0, 0, 64, 100, 100, None),
    ("to_1x1", "img_s.f32", 0, 0, 48, 1, 1, None),
]
for name, src, x0, y0, s, ow, oh, _ in resize_cases:
    a = images[src][y0:y0 + s, x0:x0 + s]
    r32 = save("r32_" + name, interp(a, oh, ow, torch.float32))
    r64 = save("r64_" + name, interp(a.astype(np.float64), oh, ow, torch.float64))
    ih, iw = images[src].shape
    lines.append("resize %s %s %d %d %d %d %d %d %d %s %s" % (name, src, iw, ih, x0, y0, s, ow, oh, r32, r64))

for name, src, ow, oh in [("centre_a", "img_a.f32", 320, 320), ("centre_b", "img_b.f32", 64, 64)]:
    a = images[src]
    ih, iw = a.shape
    s = min(ih, iw)
    c32 = TF.center_crop(torch.from_numpy(a)[None], [s, s])[0].numpy()
    r32 = save("r32_" + name, interp(c32, oh, ow, torch.float32))
    r64 = save("r64_" + name, interp(c32.astype(np.float64), oh, ow, torch.float64))
    lines.append("centre %s %s %d %d %d %d %s %s" % (name, src, iw, ih, ow, oh, r32, r64))

# ---- warp with a given theta ------------------------------------------------------------------
theta_cases = [
    ("identity", "img_320.f32", [1, 0, 0, 0, 1, 0]),
    ("rot10", "img_320.f32", fastai_matrix(10, 1, 0.5, 0.5, 320, 320).reshape(-1)),
    ("rot-7.3_zoom1.07", "img_320.f32", fastai_matrix(-7.3, 1.07, 0.2, 0.9, 320, 320).reshape(-1)),
    ("zoom_out_reflect", "img_320.f32", [1.6, 0.2, 0.1, -0.15, 1.7, -0.05]),
    ("far_reflect", "img_s.f32", [3.3, 0.4, 0.7, -0.2, 2.9, -1.3]),   # several reflections
    ("rot45_shift", "img_s.f32", [0.7071, -0.7071, 0.3, 0.7071, 0.7071, -0.2]),
    ("nonsquare", "img_b.f32", fastai_matrix(8, 1.05, 0.7, 0.1, 96, 80).reshape(-1)),
    ("noise_rot", "img_n.f32", fastai_matrix(-9.5, 1.09, 0.3, 0.6, 64, 72).reshape(-1)),
]
for name, src, th in theta_cases:
    th = np.asarray(th, dtype=np.float32)
    a = images[src]
    h, w = a.shape
    check_convention(th, h, w)
    r32 = save("w32_" + name, grid_sample(a, th, torch.float32))
    r64 = save("w64_" + name, grid_sample(a.astype(np.float64), th.astype(np.float64), torch.float64))
    lines.append("warp %s %s %d %d %s %s %s" % (name, src, h, w, fmt(th), r32, r64))

# ---- fastai matrices ------------------------------------------------------------------------------
for i, (h, w) in enumerate([(320, 320)] * 6 + [(96, 80), (200, 300)]):
    angle, scale = rng.uniform(-10, 10), rng.uniform(1.0, 1.1)
    row, col = rng.uniform(0, 1), rng.uniform(0, 1)
    if i == 0:
        angle, scale, row, col = 0.0, 1.0, 0.5, 0.5
    th = fastai_matrix(angle, scale, row, col, h, w)
    check_convention(th, h, w)
    lines.append("fastai f%d %d %d %.17g %.17g %.17g %.17g %s" % (i, h, w, angle, scale, row, col, fmt(th.reshape(-1))))

# ---- whole pipeline ---------------------------------------------------------------------------------
pipe_cases = [
    ("train_a", "img_a.f32", 37, 0, 341, 1, 9.1, 1, 1.08, 0.15, 0.85, 320, 320),
    ("train_rot_only", "img_a.f32", 0, 0, 341, 1, -10.0, 0, 1.0, 0.5, 0.5, 320, 320),
    ("train_zoom_only", "img_big.f32", 0, 0, 1024, 0, 0.0, 1, 1.1, 1.0, 0.0, 320, 320),
    ("eval_like", "img_a.f32", 28, 0, 341, 0, 0.0, 0, 1.0, 0.5, 0.5, 320, 320),
    ("small_out", "img_b.f32", 0, 5, 80, 1, 3.0, 1, 1.03, 0.4, 0.6, 40, 56),
]
for name, src, x0, y0, s, rot, angle, zoom, scale, row, col, oh, ow in pipe_cases:
    a = images[src]
    ih, iw = a.shape
    res = {}
    for dt, npdt in ((torch.float32, np.float32), (torch.float64, np.float64)):
        x = interp(a[y0:y0 + s, x0:x0 + s].astype(npdt), oh, ow, dt)
        if rot or zoom:
            th = fastai_matrix(angle if rot else 0.0, scale if zoom else 1.0, row, col, oh, ow)
            x = grid_sample(x, th.astype(npdt), dt)
        res[dt] = ((torch.from_numpy(x) - MEAN) / STD).numpy()  # in the tensor's precision
    r32 = save("p32_" + name, res[torch.float32])
    r64 = save("p64_" + name, res[torch.float64])
    lines.append("pipeline %s %s %d %d %d %d %d %d %.17g %d %.17g %.17g %.17g %d %d %s %s" % (
        name, src, iw, ih, x0, y0, s, rot, angle, zoom, scale, row, col, oh, ow, r32, r64))

with open(os.path.join(OUT, "cases.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("transform_ref.py: %d cases in %s" % (len(lines), OUT))
