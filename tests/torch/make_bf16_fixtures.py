#!/usr/bin/python3
"""Makes the PyTorch fixtures of tests/test_bf16.c: single layers run under PyTorch's CPU autocast
in bfloat16 (torch.autocast("cpu", dtype=torch.bfloat16)), the counterpart of medcolor's
--precision bf16.

Each case is one convolution or connected layer without bias (autocast
would round a bias to bf16; medcolor adds it in float32), batch 2. PyTorch casts x and the weight
to bf16 (round to nearest even), convolves with float32 sums (oneDNN) and returns y in bf16; the
output gradient dy is given in bf16 (the same rounding of the float32 dy written here); dx and the
weight gradient come back as bf16 values in float32 tensors. No transposed convolution: torch
1.13's CPU autocast leaves conv_transpose2d in float32, and its bf16 conv_transpose2d on CPU fails
on a valid shape; medcolor's are backward-data passes, which the dx of every case here checks. Written per case, as safetensors
(F32): x, dy, y, dx, param.0.weight, grad.0.weight; metadata: cfg (the medcolor network),
terms_y / terms_dx / terms_dw (the largest number of products summed into one element of y, dx,
dw: the k of test_bf16's float32-accumulation bound).

Usage: make_bf16_fixtures.py OUTDIR   (writes OUTDIR/bf16_<case>.safetensors, OUTDIR/bf16_index.txt)
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_layer_fixtures import net_header, write_safetensors  # noqa: E402

BF16 = torch.bfloat16


def run(name, cfg, model, xshape, terms, seed):
    torch.manual_seed(seed)
    wt = model[-1].weight
    with torch.no_grad():
        fan = wt[0].numel()
        wt.copy_((torch.rand_like(wt) * 2 - 1) * (3.0 / fan) ** 0.5)
    w0 = wt.detach().clone()
    x = torch.randn(xshape).requires_grad_(True)
    with torch.autocast("cpu", dtype=BF16):
        y = model(x)
    assert y.dtype == BF16, f"{name}: autocast gave {y.dtype}"
    dy = torch.randn(y.shape)
    y.backward(dy.to(BF16))
    out = {"x": x.detach(), "dy": dy, "y": y.detach().float(), "dx": x.grad.detach(),
           "param.0.weight": w0, "grad.0.weight": wt.grad.detach().clone()}
    meta = {"cfg": cfg, "terms_y": str(terms[0]), "terms_dx": str(terms[1]), "terms_dw": str(terms[2])}
    return name, out, meta


def conv(name, cin, h, w, k, size, stride, pad, groups=1, seed=0):
    m = nn.Sequential(nn.Conv2d(cin, k, size, stride, pad, groups=groups, bias=False))
    oh, ow = (h + 2 * pad - size) // stride + 1, (w + 2 * pad - size) // stride + 1
    cfg = (net_header(cin, h, w) + f"[convolutional]\nfilters={k}\nsize={size}\nstride={stride}\n"
           f"padding={pad}\ngroups={groups}\nbias=0\n")
    terms = (cin // groups * size * size, k // groups * size * size, 2 * oh * ow)
    return run(name, cfg, m, (2, cin, h, w), terms, seed)


def connected(name, c, h, w, out, seed=0):
    m = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, out, bias=False))
    cfg = net_header(c, h, w) + f"[connected]\noutput={out}\nbias=0\n"
    return run(name, cfg, m, (2, c, h, w), (c * h * w, out, 2), seed)


CASES = [
    lambda: conv("bf16_conv_3x3", 16, 12, 12, 16, 3, 1, 1, seed=11),     # Winograd-sized in float32
    lambda: conv("bf16_conv_7x7_s2", 3, 33, 31, 8, 7, 2, 3, seed=12),    # the ResNet stem's shape, odd sizes
    lambda: conv("bf16_conv_1x1", 24, 10, 10, 12, 1, 1, 0, seed=13),
    lambda: conv("bf16_conv_groups_s2", 12, 9, 9, 6, 3, 2, 1, groups=3, seed=14),
    lambda: conv("bf16_conv_wide", 64, 8, 8, 40, 3, 1, 1, seed=15),      # k = 576 terms
    lambda: connected("bf16_connected", 32, 3, 3, 10, seed=17),
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    names = []
    for fn in CASES:
        name, tensors, meta = fn()
        write_safetensors(os.path.join(out, name + ".safetensors"), tensors, meta)
        names.append(name)
    with open(os.path.join(out, "bf16_index.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"wrote {len(names)} PyTorch autocast-bf16 layer fixtures to {out}")


if __name__ == "__main__":
    main()
