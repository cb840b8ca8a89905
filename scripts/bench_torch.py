#!/usr/bin/python3
"""PyTorch's side of `make bench` (scripts/bench.sh): the same networks, stages and step as
bench/bench_step.c, timed in the same way, in its own process.

  bench_torch.py NET [--stage all|color] [--steps N] [--warmup W] [--threads T] [--batch B] [--infer] [--bf16]

NET is a cfg name without .cfg: resnet18, resnet18-pixelshuffle, resnet18-coloru, resnet18-deconv,
densenet121, densenet121-pixelshuffle, ..., or colorize/unet-resnet18 (colorize/unet-resnet34,
colorize/autoencoder): Saini et al.'s colorization networks, the same torch.nn models as their
parity fixtures, input (B, C, 256, 256) normal noise, target (B, 2, 256, 256) 0/1, MSELoss, Adam
lr 1e-4 (--adam; betas 0.9/0.999, eps 1e-8). The classifiers come from
tests/torch/make_network_fixtures.py (T from torch.nn as docs/modules.md describes it,
E = torchvision's resnet18 / densenet121, C = Linear(features -> 5)). Stage color: the backbone's parameters do not
require gradients (E frozen; its BatchNorm still uses batch statistics in train mode, as
medcolor's default). Input: (B, 1, 320, 320) normal noise, 0/1 labels; SGD lr 0.01,
momentum 0.9, weight decay 1e-4; BCEWithLogitsLoss. A step is zero_grad + forward + loss +
backward + optimizer step.

--bf16: the forward pass under torch.autocast("cpu", dtype=torch.bfloat16) (PyTorch's CPU autocast:
convolutions and linear layers in bf16 through oneDNN, float32 master weights; the loss on the
float32 copy of the output), the backward outside it, as PyTorch's documentation does; the
counterpart of medcolor's --precision bf16 (bench_step --bf16).

Prints one line: `torch net=... stage=... mode=train step_median=... step_min=... cpu_median=...
maxrss_mb=...` (mode=infer: eval mode under no_grad, img_per_s=...): wall-clock and CPU seconds
(all threads) per step, and this process's peak RSS.
"""
import argparse
import contextlib
import os
import resource
import sys
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "torch"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("net")
    ap.add_argument("--stage", default="all", choices=["all", "color"])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--infer", action="store_true")
    ap.add_argument("--adam", action="store_true", help="Adam lr 1e-4 instead of SGD")
    ap.add_argument("--bf16", action="store_true", help="forward under torch.autocast('cpu', dtype=torch.bfloat16)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda (each timed step ends with a synchronize)")
    ap.add_argument("--tf32", action="store_true", help="cuda: allow TF32 (PyTorch's cuDNN default); off: true FP32 as medcolor's default")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    # the same torch.nn networks the parity tests use (one definition of the paper's modules)
    from make_network_fixtures import Net, NOUT, colorize_model  # noqa: E402
    assert NOUT == 5
    source = "tests/torch/make_network_fixtures.py"
    colorize = a.net.startswith("colorize/")
    if colorize:
        m = colorize_model(a.net.split("/", 1)[1])
        cin, size, nout = (1 if a.net.endswith("autoencoder") else 3), 256, (2, 256, 256)
    else:
        parts = a.net.split("-")
        backbone, module = parts[0], parts[1] if len(parts) > 1 else "none"
        m = Net(module, backbone)
        cin, size, nout = 1, 320, (5,)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
    m = m.to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if a.stage == "color":
        for p in m.backbone.parameters():
            p.requires_grad_(False)
    x = torch.randn(a.batch, cin, size, size).to(dev)
    y = (torch.rand(a.batch, *nout) > 0.5).float().to(dev)
    ts, cs = [], []
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.bf16 else contextlib.nullcontext
    if a.infer:
        m.eval()
        with torch.no_grad():
            for i in range(a.warmup + a.steps):
                t, c = time.perf_counter(), time.process_time()
                with autocast():
                    m(x)
                sync()
                if i >= a.warmup:
                    ts.append(time.perf_counter() - t)
                    cs.append(time.process_time() - c)
    else:
        params = [p for p in m.parameters() if p.requires_grad]
        if a.adam:
            opt = torch.optim.Adam(params, lr=1e-4)
        else:
            opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
        lossf = nn.MSELoss() if colorize else nn.BCEWithLogitsLoss()
        m.train()
        for i in range(a.warmup + a.steps):
            t, c = time.perf_counter(), time.process_time()
            opt.zero_grad()
            with autocast():
                loss = lossf(m(x).float(), y)
            loss.backward()
            opt.step()
            sync()
            if i >= a.warmup:
                ts.append(time.perf_counter() - t)
                cs.append(time.process_time() - c)
    ts.sort()
    cs.sort()
    n = len(ts)
    med = ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])
    cmed = cs[n // 2] if n % 2 else 0.5 * (cs[n // 2 - 1] + cs[n // 2])
    prec = "bf16" if a.bf16 else "fp32"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if a.infer:
        print(f"torch net={a.net} stage={a.stage} mode=infer precision={prec} batch={a.batch} threads={torch.get_num_threads()} device={a.device} "
              f"img_per_s={a.batch / med:.2f} pass_median={med:.3f} cpu_median={cmed:.3f} maxrss_mb={rss:.1f} models={source}")
    else:
        print(f"torch net={a.net} stage={a.stage} mode=train precision={prec} batch={a.batch} threads={torch.get_num_threads()} device={a.device} "
              f"step_median={med:.3f} step_min={ts[0]:.3f} cpu_median={cmed:.3f} maxrss_mb={rss:.1f} models={source}")


if __name__ == "__main__":
    main()
