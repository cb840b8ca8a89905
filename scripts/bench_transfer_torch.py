#!/usr/bin/python3
"""bench_transfer_torch.py — the PyTorch side of `make bench`'s transfer row: one evaluation of the
colour transfer's objective (f and dL/dO, O the image, every term at the paper's weights: content
at relu4_2, masked Gram colour at 5 taps x 4 clusters, Y, swap MSE at 3 taps, TV) at NxN through
torchvision's vgg19 features (float32, eval, parameters frozen), as bench/bench_transfer.c does.
The constants (masks, reference Grams, swapped maps, content target) are made once, outside the
timing, as in medcolor. Prints one line:
  torch bench=transfer size=N threads=T step_median=S step_min=S cpu_median=S maxrss_mb=M
Usage: bench_transfer_torch.py [--size N] [--steps N] [--warmup W] [--threads T]"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F
import torchvision

TAPS = [0, 5, 10, 19, 21, 28]
COLOR, SWAP, CONTENT = [0, 5, 10, 19, 28], [10, 19, 28], 21


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    feats = torchvision.models.vgg19().features[:30].eval()
    for p in feats.parameters():
        p.requires_grad_(False)
    n = a.size
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)

    def taps(o):
        x = ((o / 255 - mean) / std).unsqueeze(0)
        out = {}
        for i, layer in enumerate(feats):
            x = layer(x)
            if i - 1 in TAPS and isinstance(layer, torch.nn.ReLU):
                out[i - 1] = x[0]
        return out

    target = torch.rand(n, n).mul(255).floor().expand(3, n, n).contiguous()
    ref = torch.rand(3, n, n).mul(255).floor()
    # masks: 4 clusters of each image by grey band, propagated as medcolor does (shapes matter here)
    def masks(img):
        g = img.mean(0)
        lab = (g / 64).floor().clamp(0, 3)
        res = {}
        m = torch.stack([(lab == c).float() for c in range(4)]).unsqueeze(1)
        for i, layer in enumerate(feats):
            if isinstance(layer, torch.nn.Conv2d):
                m = F.avg_pool2d(m, 3, 1, 1)
                if i in TAPS:
                    res[i] = m[:, 0]
            elif isinstance(layer, torch.nn.MaxPool2d):
                m = m[:, :, ::2, ::2]
            if i >= 28:
                break
        return res
    mt, mr = masks(target), masks(ref)

    def gram(f, m):
        c, h, w = f.shape
        fm = (f * m).reshape(c, -1)
        mm = m.mean()
        return fm @ fm.t() / (c * h * w * mm)

    with torch.no_grad():
        fr, ft = taps(ref), taps(target)
        gr = {t: [gram(fr[t], mr[t][c]) for c in range(4)] for t in COLOR}
        sw = {t: torch.randn_like(ft[t]) for t in SWAP}
        content = ft[CONTENT]
    iy = 0.299 * target[0] + 0.587 * target[1] + 0.114 * target[2]
    o0 = target + torch.randn(3, n, n) * 5

    def step():
        o = o0.clone().requires_grad_(True)
        f = taps(o)
        lc = 0.5 * ((f[CONTENT] - content) ** 2).mean()
        col = 0
        for t in COLOR:
            for c in range(4):
                m = mt[t][c]
                col = col + 0.5 * ((gram(f[t], m) - gr[t][c]) ** 2).mean() * m.mean()
        oy = 0.299 * o[0] + 0.587 * o[1] + 0.114 * o[2]
        ly = ((iy - oy) ** 2).sum() / (2 * n * n)
        ls = sum(((f[t] - sw[t]) ** 2).mean() for t in SWAP)
        dx = o[:, :-1, :-1] - o[:, :-1, 1:]
        dy = o[:, :-1, :-1] - o[:, 1:, :-1]
        tv = 0.5 * ((dx * dx).sum() + (dy * dy).sum())
        loss = lc + 100 * col + 1e5 * ly + 10 * ls + 1e-3 * tv
        loss.backward()
        return float(loss), o.grad

    tw, tc = [], []
    for k in range(a.warmup + a.steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        if k >= a.warmup:
            tw.append(time.perf_counter() - t)
            tc.append(time.process_time() - c)
    tw.sort()
    tc.sort()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch bench=transfer size={n} threads={torch.get_num_threads()} step_median={tw[len(tw) // 2]:.3f} "
          f"step_min={tw[0]:.3f} cpu_median={tc[len(tc) // 2]:.3f} maxrss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
