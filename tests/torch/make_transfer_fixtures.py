#!/usr/bin/python3
"""Makes the fixtures of the colour transfer (tests/test_transfer.c, tests/cli_transfer.sh):
the reference written from the spec's steps 1-8 (docs/transfer.md) in numpy and
PyTorch (autograd in float64 for every loss term and its gradient).

Files written to OUTDIR (about 45 MB; 20-40 s on 2 cores):

  vgg19.safetensors     torchvision 0.14 vgg19() built with torch.manual_seed(0) (its own
                        initialisation), biases drawn N(0, 0.05) so they matter, the features
                        up to features.34 (conv5_4; everything past features.28, the last tap,
                        must import as unused) as F16: the values PyTorch computes with are
                        exactly the F16 ones. The classifier (123 M values) is left out.
  taps.safetensors      x64 [1,3,64,64], x224 [1,3,224,224]: normalised inputs;
                        tap{64,224}.features.N: the six post-ReLU taps (float64 result stored F32)
  losses.safetensors    the objective at 64x64 (one image):
      target, ref [64,64,3]   I' (a grey phantom, R=G=B) and S' (a colour image), 0..255 bytes
      o [3,64,64]             the point O (0..255 floats) where everything is evaluated
      labels_t, labels_r      k-means labels (PIL L, k = 4) of I' and S' [64*64] (I32)
      mask_t.N, mask_r.N      the 4 masks of each image propagated to tap features.N [4,h,w]
      swap_idx.N              per position of tap N the chosen reference patch (I32)
      swap_gap.N              per position the gap between the best and second correlation
      swap.N                  the swapped feature map SW at tap N
      <term>, grad.<term>     for term in content, color, y0, y05, y1 (alpha_Y 0, 1/2, 1), swap,
                              tv, total1 (pass 1: content + 100 color + 1e-3 tv), total2 (all,
                              alpha_Y = 0): the value [1] and dL/dO [3,64,64]
      caffe.total2, caffe.grad.total2   total2 with the caffe input convention
  e2e/                  the end-to-end case: phantom.png (300x260 grey), refs/r0..r5.png
                        (64..200 px colour; one, r3, a coloured match of the phantom) and
                        expected.txt: "reference r3.png distance D" from the D-hash written in
                        PIL (imagehash's four lines)

Usage: make_transfer_fixtures.py OUTDIR
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

TAPS = [0, 5, 10, 19, 21, 28]
COLOR_TAPS = [0, 5, 10, 19, 28]
SWAP_TAPS = [10, 19, 28]
CONTENT_TAP = 21
K = 4
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68])

DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.int32: "I32"}


def write_safetensors(path, tensors, meta=None):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def f32(a):
    return torch.as_tensor(np.asarray(a, dtype=np.float64)).float()


# ---------------------------------------------------------------- VGG19
def make_vgg():
    torch.manual_seed(0)
    m = torchvision.models.vgg19()
    feats = m.features
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for i, layer in enumerate(feats):
            if isinstance(layer, torch.nn.Conv2d):
                layer.bias.copy_(torch.randn(layer.bias.shape, generator=g) * 0.05)
                layer.weight.copy_(layer.weight.half().float())
                layer.bias.copy_(layer.bias.half().float())
    sd = {k: v.half() for k, v in feats.state_dict().items() if int(k.split(".")[0]) <= 34}
    sd = {"features." + k: v for k, v in sd.items()}
    return feats.double().eval(), sd


def taps_of(feats, x, upto=28):
    """post-ReLU outputs of features.N for N in TAPS (the ReLU is features.N+1)"""
    out = {}
    for i, layer in enumerate(feats):
        x = layer(x)
        if i - 1 in TAPS and isinstance(layer, torch.nn.ReLU):
            out[i - 1] = x
        if i > upto:
            break
    return out


def pre(o, convention):
    """o [3,N,N] RGB 0..255 (float64 tensor) -> the network input [1,3,N,N]"""
    if convention == "torchvision":
        m = torch.tensor(MEAN).view(3, 1, 1)
        s = torch.tensor(STD).view(3, 1, 1)
        return ((o / 255.0 - m) / s).unsqueeze(0)
    bgr = o.flip(0)
    return (bgr - torch.tensor(CAFFE_BGR_MEAN).view(3, 1, 1)).unsqueeze(0)


# ---------------------------------------------------------------- masks (§2 steps 3, 5)
def pil_l(rgb):
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    return ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16).astype(np.int64)


def kmeans_grey(grey, k=K):
    v = grey.reshape(-1)
    lo = v.min()
    vs = v - lo + 1
    mx = vs.max()
    hist = np.bincount(vs, minlength=mx + 1).astype(np.float64)
    levels = np.nonzero(hist)[0]
    cent = np.array([i * (mx + 1) / (k + 1) for i in range(1, k + 1)], dtype=np.float64)
    assign = None
    for _ in range(1000):
        d = np.abs(levels[:, None].astype(np.float64) - cent[None, :])
        a = np.argmin(d, axis=1)  # first minimum: the lowest index on ties
        if assign is not None and np.array_equal(a, assign):
            break
        assign = a
        for c in range(k):
            sel = levels[a == c]
            if len(sel):
                cent[c] = (hist[sel] * sel).sum() / hist[sel].sum()
    lab_of_level = np.zeros(mx + 1, dtype=np.int64)
    lab_of_level[levels] = assign
    return lab_of_level[vs]


def avg3(m):
    """3x3 average, stride 1, zero padding 1, divisor 9; the 9 shifts summed row-major"""
    h, w = m.shape
    p = np.zeros((h + 2, w + 2))
    p[1:-1, 1:-1] = m
    s = np.zeros((h, w))
    for dy in range(3):
        for dx in range(3):
            s = s + p[dy:dy + h, dx:dx + w]
    return s / 9.0


def propagate(mask):
    """mask [h,w] float64 -> {tap: mask at that tap}"""
    out = {}
    m = mask.astype(np.float64)
    for i, kind in enumerate(VGG_KINDS):
        if kind == "C":
            m = avg3(m)
            if i in TAPS:
                out[i] = m.copy()
        elif kind == "M":
            m = m[::2, ::2]
        if i >= 28:
            break
    return out


def vgg_kinds():
    kinds = {}
    i = 0
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512]:
        if v == "M":
            kinds[i] = "M"
            i += 1
        else:
            kinds[i] = "C"
            kinds[i + 1] = "R"
            i += 2
    return [kinds[j] for j in range(29)]


VGG_KINDS = vgg_kinds()


# ---------------------------------------------------------------- swap (§2 step 6)
def swap_of(fr, ft):
    """fr, ft [C,h,w] float64 tensors (reference, target features) -> SW, idx, gap"""
    c, h, w = fr.shape
    ph, pw = h // 3, w // 3
    patches = torch.stack([fr[:, 3 * i:3 * i + 3, 3 * j:3 * j + 3] for i in range(ph) for j in range(pw)])
    norm = patches.reshape(len(patches), -1).pow(2).sum(1).clamp_min(1e-12).sqrt()
    pn = patches / norm.view(-1, 1, 1, 1)
    corr = F.conv2d(ft.unsqueeze(0), pn, padding=1)[0]  # [P,h,w]
    cn = corr.numpy()
    idx = np.argmax(cn, axis=0)  # first maximum
    srt = np.sort(cn, axis=0)
    gap = srt[-1] - srt[-2] if len(patches) > 1 else np.full((h, w), np.inf)
    onehot = torch.zeros_like(corr)
    onehot.scatter_(0, torch.as_tensor(idx).unsqueeze(0), 1.0)
    sw = F.conv_transpose2d(onehot.unsqueeze(0), patches, padding=1)[0] / 9.0
    return sw, idx, gap


# ---------------------------------------------------------------- the objective (§2 step 6)
class Objective:
    def __init__(self, feats, target, ref, convention="torchvision"):
        self.feats, self.conv = feats, convention
        n = target.shape[0]
        self.D = n * n
        ti = torch.as_tensor(target.astype(np.float64)).permute(2, 0, 1)
        si = torch.as_tensor(ref.astype(np.float64)).permute(2, 0, 1)
        self.iy = 0.299 * ti[0] + 0.587 * ti[1] + 0.114 * ti[2]
        self.labels_t = kmeans_grey(pil_l(target))
        self.labels_r = kmeans_grey(pil_l(ref))
        self.mt, self.mr = {}, {}
        for c in range(K):
            pt = propagate((self.labels_t == c).reshape(n, n))
            pr = propagate((self.labels_r == c).reshape(n, n))
            for t in TAPS:
                self.mt.setdefault(t, []).append(pt[t])
                self.mr.setdefault(t, []).append(pr[t])
        self.mt = {t: np.stack(v) for t, v in self.mt.items()}
        self.mr = {t: np.stack(v) for t, v in self.mr.items()}
        with torch.no_grad():
            ft = taps_of(feats, pre(ti, convention))
            fs = taps_of(feats, pre(si, convention))
        self.content = ft[CONTENT_TAP][0]
        self.gram_r = {t: [self.gram(fs[t][0], torch.as_tensor(self.mr[t][c])) for c in range(K)] for t in COLOR_TAPS}
        self.swap, self.swap_idx, self.swap_gap = {}, {}, {}
        for t in SWAP_TAPS:
            self.swap[t], self.swap_idx[t], self.swap_gap[t] = swap_of(fs[t][0], ft[t][0])

    @staticmethod
    def gram(f, m):
        c, h, w = f.shape
        fm = (f * m.unsqueeze(0)).reshape(c, -1)
        g = fm @ fm.t()
        mm = float(m.mean())
        return g / (c * h * w * mm) if mm > 0 else g

    def terms(self, o):
        f = taps_of(self.feats, pre(o, self.conv))
        out = {}
        out["content"] = 0.5 * ((f[CONTENT_TAP][0] - self.content) ** 2).mean()
        col = 0
        for t in COLOR_TAPS:
            for c in range(K):
                mt = torch.as_tensor(self.mt[t][c])
                g = self.gram(f[t][0], mt)
                col = col + 0.5 * ((g - self.gram_r[t][c]) ** 2).mean() * float(mt.mean())
        out["color"] = col
        oy = 0.299 * o[0] + 0.587 * o[1] + 0.114 * o[2]
        d = self.iy - oy
        for name, a in (("y0", 0.0), ("y05", 0.5), ("y1", 1.0)):
            out[name] = (a * d.abs().sum() + (1 - a) * (d * d).sum()) / (2 * self.D)
        out["swap"] = sum(((f[t][0] - self.swap[t]) ** 2).mean() for t in SWAP_TAPS)
        dx = o[:, :-1, :-1] - o[:, :-1, 1:]
        dy = o[:, :-1, :-1] - o[:, 1:, :-1]
        out["tv"] = 0.5 * ((dx * dx).sum() + (dy * dy).sum())
        out["total1"] = out["content"] + 100 * out["color"] + 1e-3 * out["tv"]
        out["total2"] = (out["content"] + 100 * out["color"] + 1e5 * out["y0"] + 10 * out["swap"] +
                         1e-3 * out["tv"])
        return out


# ---------------------------------------------------------------- smoothing (§2 step 8)
def smooth_ref(guide, img):
    """guide, img [h,w,3] bytes -> (bytes, the float result x255 before clipping)"""
    h, w, _ = guide.shape
    g = guide.astype(np.float64) / 255
    o = img.astype(np.float64) / 255
    coef = np.zeros((h, w, 3, 4))
    ridge = np.diag([1e-3, 1e-3, 1e-3, 0.0])
    for y in range(h):
        for x in range(w):
            ys, xs = slice(max(y - 1, 0), min(y + 2, h)), slice(max(x - 1, 0), min(x + 2, w))
            X = np.concatenate([g[ys, xs].reshape(-1, 3), np.ones((g[ys, xs].shape[0] * g[ys, xs].shape[1], 1))], 1)
            O = o[ys, xs].reshape(-1, 3)
            M = X.T @ X + ridge
            B = O.T @ X
            if abs(np.linalg.det(M)) < 1e-9:
                continue
            coef[y, x] = np.linalg.solve(M.T, B.T).T
    out = np.zeros((h, w, 3))
    yy, xx = np.mgrid[0:h, 0:w]
    for y in range(h):
        for x in range(w):
            ys, xs = slice(max(y - 15, 0), min(y + 16, h)), slice(max(x - 15, 0), min(x + 16, w))
            d2 = (yy[ys, xs] - y) ** 2 + (xx[ys, xs] - x) ** 2
            dc = ((g[ys, xs] - g[y, x]) ** 2).sum(-1) / 3
            wt = np.exp(-d2 / 50.0) * np.exp(-dc / 0.02)
            a = (wt[..., None, None] * coef[ys, xs]).sum((0, 1)) / wt.sum()
            out[y, x] = a[:, :3] @ g[y, x] + a[:, 3]
    v = out * 255
    return np.clip(v, 0, 255).astype(np.uint8), v


def phantom(w, h, seed):
    """a grey CT-like phantom: an ellipse body, two lobes, a bright spine, smooth noise"""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    cx, cy = w / 2, h / 2
    img = np.full((h, w), 20.0)
    body = ((x - cx) / (0.45 * w)) ** 2 + ((y - cy) / (0.42 * h)) ** 2 < 1
    img[body] = 110
    for s in (-1, 1):
        lobe = ((x - cx - s * 0.2 * w) / (0.14 * w)) ** 2 + ((y - cy) / (0.28 * h)) ** 2 < 1
        img[lobe] = 55
    spine = ((x - cx) / (0.06 * w)) ** 2 + ((y - cy - 0.25 * h) / (0.06 * h)) ** 2 < 1
    img[spine] = 225
    img += rng.normal(0, 4, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def colourise(grey, hue_shift):
    """a colour image whose PIL L follows grey closely: a palette by grey band"""
    g = grey.astype(np.float64) / 255
    r = np.clip(255 * (g * 1.1 + 0.1 * np.sin(6 * g + hue_shift)), 0, 255)
    gg = np.clip(255 * (g * 0.9 + 0.05), 0, 255)
    b = np.clip(255 * (g * 0.8 + 0.15 * np.cos(5 * g + hue_shift)), 0, 255)
    return np.stack([r, gg, b], -1).round().astype(np.uint8)


def dhash(path):
    im = Image.open(path).convert("RGB").convert("L").resize((9, 8), Image.LANCZOS)
    px = np.asarray(im, dtype=np.int64)
    bits = (px[:, 1:] > px[:, :-1]).reshape(-1)
    return int("".join("1" if b else "0" for b in bits), 2)


def make_e2e(outdir):
    d = os.path.join(outdir, "e2e")
    os.makedirs(os.path.join(d, "refs"), exist_ok=True)
    ph = phantom(300, 260, 1)
    Image.fromarray(ph, "L").save(os.path.join(d, "phantom.png"))
    rng = np.random.default_rng(2)
    sizes = [(64, 80), (120, 100), (200, 150), (180, 156), (96, 96), (150, 200)]
    for k, (w, h) in enumerate(sizes):
        if k == 3:  # the coloured match: the phantom itself (another noise draw), coloured
            img = colourise(np.asarray(Image.fromarray(phantom(300, 260, 7)).resize((w, h), Image.LANCZOS)), 0.5)
        else:  # colour textures unlike the phantom
            y, x = np.mgrid[0:h, 0:w].astype(np.float64)
            f = rng.uniform(0.02, 0.2, 3)
            img = np.stack([127 + 120 * np.sin(f[c] * (x * np.cos(c + k) + y * np.sin(c + k)) + k)
                            for c in range(3)], -1)
            img = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).round().astype(np.uint8)
        Image.fromarray(img, "RGB").save(os.path.join(d, "refs", "r%d.png" % k))
    q = dhash(os.path.join(d, "phantom.png"))
    best = None
    for k in range(len(sizes)):
        name = "r%d.png" % k
        dist = bin(q ^ dhash(os.path.join(d, "refs", name))).count("1")
        if best is None or dist < best[1]:
            best = (name, dist)
    with open(os.path.join(d, "expected.txt"), "w") as f:
        f.write("reference %s distance %d\n" % best)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    feats, sd = make_vgg()
    write_safetensors(os.path.join(out, "vgg19.safetensors"), sd)

    # taps at 64 and 224
    g = torch.Generator().manual_seed(3)
    t = {}
    for n in (64, 224):
        x = torch.randn(1, 3, n, n, generator=g, dtype=torch.float64)
        t["x%d" % n] = x.float()
        with torch.no_grad():
            taps = taps_of(feats, x)
        for k, v in taps.items():
            t["tap%d.features.%d" % (n, k)] = v.float()
    write_safetensors(os.path.join(out, "taps.safetensors"), t)

    # the objective at 64
    n = 64
    ph = phantom(n, n, 5)
    target = np.repeat(ph[:, :, None], 3, axis=2)
    ref = colourise(phantom(n, n, 6), 1.0)
    ref = np.clip(ref.astype(np.int64) + np.random.default_rng(4).integers(-20, 21, ref.shape), 0, 255).astype(np.uint8)
    obj = Objective(feats, target, ref)
    rng = np.random.default_rng(5)
    o0 = target.transpose(2, 0, 1).astype(np.float64) + rng.normal(0, 20, (3, n, n))
    o0[0] += 15
    o0[2] -= 10
    res = {"target": f32(target), "ref": f32(ref), "o": f32(o0),
           "labels_t": torch.as_tensor(obj.labels_t.astype(np.int32)),
           "labels_r": torch.as_tensor(obj.labels_r.astype(np.int32))}
    for tp in TAPS:
        res["mask_t.%d" % tp] = f32(obj.mt[tp])
        res["mask_r.%d" % tp] = f32(obj.mr[tp])
    for tp in SWAP_TAPS:
        res["swap_idx.%d" % tp] = torch.as_tensor(obj.swap_idx[tp].astype(np.int32))
        res["swap_gap.%d" % tp] = f32(np.minimum(obj.swap_gap[tp], 1e30))
        res["swap.%d" % tp] = obj.swap[tp].float()
    o = torch.as_tensor(o0.astype(np.float32).astype(np.float64))  # the point as the test holds it
    for name in ("content", "color", "y0", "y05", "y1", "swap", "tv", "total1", "total2"):
        x = o.clone().requires_grad_(True)
        v = obj.terms(x)[name]
        v.backward()
        res[name] = v.detach().reshape(1).float()
        res["grad." + name] = x.grad.float()
    objc = Objective(feats, target, ref, "caffe")
    x = o.clone().requires_grad_(True)
    v = objc.terms(x)["total2"]
    v.backward()
    res["caffe.total2"] = v.detach().reshape(1).float()
    res["caffe.grad.total2"] = x.grad.float()
    write_safetensors(os.path.join(out, "losses.safetensors"), res)

    # smoothing: a grey guide (as in the transfer) and a colour one, 40x36
    sm = {}
    rng = np.random.default_rng(8)
    grey = phantom(40, 36, 9)
    guides = {"grey": np.repeat(grey[:, :, None], 3, 2), "colour": colourise(grey, 2.0)}
    for name, gd in guides.items():
        img = np.clip(colourise(grey, 0.3).astype(np.int64) + rng.integers(-30, 31, gd.shape), 0, 255).astype(np.uint8)
        o8, v = smooth_ref(gd, img)
        sm["guide." + name], sm["img." + name] = f32(gd), f32(img)
        sm["out." + name], sm["val." + name] = f32(o8), f32(v)
    write_safetensors(os.path.join(out, "smooth.safetensors"), sm)
    make_e2e(out)


if __name__ == "__main__":
    main()
