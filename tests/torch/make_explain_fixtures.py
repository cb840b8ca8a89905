#!/usr/bin/python3
"""Makes the Grad-CAM fixtures of tests/test_explain.c and tests/cli_explain.sh (`medcolor explain`).

Three networks, built in PyTorch with the classes of make_network_fixtures.py and seeded random
weights (its randomize / calibrate: non-trivial BatchNorm running statistics, so eval mode uses
them), each written as one safetensors state dict under medcolor's canonical names (what
`medcolor import` reads whole):

  tiny                   the small classifier of tests/cli_predict.sh (tiny.cfg, 40x48 input, 3
                         labels, one of them "Pleural Effusion"), images of two sizes
  resnet18-pixelshuffle  cfg/resnet18-pixelshuffle.cfg (T = PixelShuffle, E = torchvision's
                         resnet18, C = Linear(512, 5)) at 320x320
  densenet121            cfg/densenet121.cfg (the baseline: no T, E = torchvision's densenet121)

and Grad-CAM as the usual PyTorch implementation computes it: a forward hook on the module whose
output is the layer A (stores A), a hook on that output's gradient (stores dy/dA), eval mode,
y = model(x), y[:, c].sum().backward() (one backward for the batch: in eval mode each image's
gradient is its own), then

    alpha = grads.mean((2, 3), keepdim=True)
    cam = relu((alpha * acts).sum(1))                                    [B, h, w]
    up = F.interpolate(cam[:, None], (H, W), mode="bilinear", align_corners=False)[:, 0]
    heat = up / up.amax((1, 2), keepdim=True)                             [B, H, W]

in float32 (what a user gets), and the same in float64 (metadata: how far float32 PyTorch itself
lands from it). Where medcolor's layer fuses an activation that the PyTorch model applies as a
function (DenseNet's final F.relu after features.norm5, Tiny's F.relu after c2), the reference
forward has that activation as a module and hooks it: the tensor is the same one medcolor's
layer outputs (the input of the global pooling).

Files in OUTDIR:
  index.txt                   the networks' names
  <net>.safetensors           the weights (float32, canonical names; num_batches_tracked kept)
  <net>.ref.safetensors       x [B, 1, H, W] (the preprocessed input), logits [B, labels], color
                              [B, 3, H, W] (T's output, resnet18-pixelshuffle), and per
                              layer L (medcolor's name) act.<L> [B, C, h, w], and per label c:
                              grad.<L>.<c>, cam.<L>.<c>, heat.<L>.<c>; metadata: cfg, layers,
                              default_layer, labels (the label indices tested), images, torch32_*
  <net>_img0.png, _img1.png   the images x comes from (8-bit and 16-bit grey; Tiny's second one
                              90x70, centre-cropped and resized as predict does)
  tiny.cfg                    the Tiny network (make_network_fixtures.TINY_CFG)
  jet.safetensors             matplotlib's cm.jet(v, bytes=True) RGB for values v (around [0, 1])
                              and its 256-entry table

Usage: make_explain_fixtures.py OUTDIR
"""
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_network_fixtures as mnf  # noqa: E402  (the networks, weights and images of the other fixtures)
from PIL import Image  # noqa: E402


def gradcam(forward, modules, x, labels, dtype):
    """Grad-CAM at each module's output for each label: {(i, c): (acts, grads, cam, heat)} (i the
    module's index) and the logits. One forward and backward per label for all the modules."""
    store = {}
    hooks = []
    for i, m in enumerate(modules):
        def fwd_hook(mod, inp, out, i=i):
            store[("act", i)] = out.detach().clone()
            out.register_hook(lambda g: store.__setitem__(("grad", i), g.detach().clone()))
        hooks.append(m.register_forward_hook(fwd_hook))
    res = {}
    logits = None
    try:
        for c in labels:
            y = forward(x.to(dtype).clone())
            logits = y.detach()
            y[:, c].sum().backward()
            for i in range(len(modules)):
                acts, grads = store[("act", i)], store[("grad", i)]
                alpha = grads.mean((2, 3), keepdim=True)
                cam = F.relu((alpha * acts).sum(1))
                up = F.interpolate(cam[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
                heat = up / up.amax((1, 2), keepdim=True)
                assert (cam.amax((1, 2)) > 0).all(), f"a zero Grad-CAM (layer {i}, label {c}: maxima {cam.amax((1, 2)).tolist()}): pick another label"
                res[(i, c)] = (acts, grads, cam, heat)
    finally:
        for h in hooks:
            h.remove()
    return res, logits


class Seq(nn.Module):
    """A model's forward with every step a module (the hooked ReLUs among them)."""

    def __init__(self, *steps):
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def forward(self, x):
        for s in self.steps:
            x = s(x)
        return x


class Mean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


def images(out, name, rng, h, w, second):
    """img0: 8-bit at the input size (used as it is); img1: 16-bit, of size `second` (crop +
    resize when it differs from the input). Returns x [2, 1, h, w] as predict makes it."""
    a8 = np.round(mnf.smooth(rng, h, w) * 255).astype(np.uint8)
    Image.fromarray(a8, "L").save(os.path.join(out, f"{name}_img0.png"))
    a16 = np.round(mnf.smooth(rng, *second) * 65535).astype(np.uint16)
    Image.fromarray(a16.astype(np.int32), "I").convert("I;16").save(os.path.join(out, f"{name}_img1.png"))
    xs = [mnf.normalise(mnf.centre_crop_resize(v, h, w).numpy()) for v in (a8 / 255.0, a16 / 65535.0)]
    return torch.stack(xs)[:, None]


def full_state(model):
    return {k: v.detach().clone() if k.endswith("num_batches_tracked") else v.detach().float().clone()
            for k, v in model.state_dict().items()}


def scale_head(head, feats, g):
    """Head C: logits O(1), centred, on these features."""
    with torch.no_grad():
        w = torch.randn(head.weight.shape, generator=g)
        z = feats @ w.t()
        w *= 1.5 / (z.std() + 1e-6)
        head.weight.copy_(w)
        head.bias.copy_(-(feats @ w.t()).mean(0) + (torch.rand(head.bias.shape, generator=g) - 0.5))


def make(out, name, cfg, model, forward, layers, default_layer, labels, x, imgs, color=None):
    t0 = time.time()
    ref = {"x": x.clone()}
    if color is not None:  # T's output, the colorized view beside the heatmaps
        with torch.no_grad():
            ref["color"] = color(x).float()
    meta = {"cfg": cfg, "layers": ",".join(m for m, _ in layers), "default_layer": default_layer,
            "labels": ",".join(str(c) for c in labels), "images": ",".join(imgs)}
    worst = 0.0
    mods = [m for _, m in layers]
    r32, logits = gradcam(forward, mods, x, labels, torch.float32)
    model.double()
    r64, _ = gradcam(forward, mods, x, labels, torch.float64)
    model.float()
    ref["logits"] = logits.float()
    for i, (mc_name, _) in enumerate(layers):
        lw = 0.0
        for c in labels:
            acts, grads, cam, heat = r32[(i, c)]
            ref["act." + mc_name] = acts.float()
            ref[f"grad.{mc_name}.{c}"] = grads.float()
            ref[f"cam.{mc_name}.{c}"] = cam.float()
            ref[f"heat.{mc_name}.{c}"] = heat.float()
            ref[f"heat64.{mc_name}.{c}"] = r64[(i, c)][3].float()
            ref[f"grad64.{mc_name}.{c}"] = r64[(i, c)][1].float()
            lw = max(lw, (heat.double() - r64[(i, c)][3]).abs().max().item())
        meta["torch32_heat." + mc_name] = "%.3g" % lw
        worst = max(worst, lw)
    meta["torch32_heat"] = "%.3g" % worst
    mnf.write_safetensors(os.path.join(out, f"{name}.ref.safetensors"), ref, meta)
    mnf.write_safetensors(os.path.join(out, f"{name}.safetensors"), full_state(model))
    print(f"  {name:24s} PyTorch float32 vs float64, heatmaps: "
          + ", ".join(f"{m} {meta['torch32_heat.' + m]}" for m, _ in layers) + f"  {time.time() - t0:.1f} s", flush=True)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    t_start = time.time()
    rng = np.random.RandomState(1616)
    names = []

    # ---- tiny: the classifier of cli_predict.sh; all 3 labels; c2 (+ its ReLU) and c1
    with open(os.path.join(out, "tiny.cfg"), "w") as fo:
        fo.write(mnf.TINY_CFG)
    torch.manual_seed(16)
    tiny = mnf.Tiny()
    g = torch.Generator().manual_seed(16)
    mnf.randomize(tiny, g)
    x = images(out, "tiny", rng, 40, 48, (90, 70))
    mnf.calibrate(tiny, tiny, torch.cat([x, x.flip(3)]), g)
    relu2, act1 = nn.ReLU(), nn.LeakyReLU(0.01)
    seq = Seq(tiny.c1, tiny.c1bn, act1, tiny.c2, relu2, Mean(), tiny.head).eval()
    with torch.no_grad():
        scale_head(tiny.head, relu2(tiny.c2(act1(tiny.c1bn(tiny.c1(x))))).mean((2, 3)), g)
    tiny.eval()
    make(out, "tiny", "tiny.cfg", tiny, seq, [("c2", relu2), ("c1", act1)], "c2", [0, 1, 2], x,
         ["tiny_img0.png", "tiny_img1.png"])
    names.append("tiny")

    # ---- resnet18-pixelshuffle: layer4 (the default), layer3, the last residual block of T
    torch.manual_seed(1618)
    model = mnf.Net("pixelshuffle", "resnet18")
    g = torch.Generator().manual_seed(1618)
    mnf.randomize(model, g)
    x = images(out, "resnet18-pixelshuffle", rng, 320, 320, (320, 320))
    x_cal = torch.stack([mnf.normalise(mnf.smooth(rng, 320, 320)) for _ in range(2)])[:, None]
    mnf.calibrate(model, model, x_cal, g)
    model.eval()
    with torch.no_grad():
        scale_head(model.head, model.features(x), g)
    bb = model.backbone
    make(out, "resnet18-pixelshuffle", "cfg/resnet18-pixelshuffle.cfg", model, model,
         [("backbone.layer4.1", bb.layer4), ("backbone.layer3.1", bb.layer3), ("color.res.7", model.color.res[7])],
         "backbone.layer4.1", [2, 3], x, ["resnet18-pixelshuffle_img0.png", "resnet18-pixelshuffle_img1.png"],
         color=model.color)
    names.append("resnet18-pixelshuffle")

    # ---- densenet121 (baseline): norm5 + DenseNet's ReLU (the default), denseblock3
    torch.manual_seed(1619)
    model = mnf.Net("none", "densenet121")
    g = torch.Generator().manual_seed(1619)
    mnf.randomize(model, g)
    x = images(out, "densenet121", rng, 320, 320, (320, 320))
    x_cal = torch.stack([mnf.normalise(mnf.smooth(rng, 320, 320)) for _ in range(2)])[:, None]
    mnf.calibrate(model, model, x_cal, g)
    model.eval()
    feat = model.backbone.features
    relu5 = nn.ReLU()
    # torchvision's DenseNet.forward: features -> F.relu -> adaptive average pool -> flatten -> classifier
    seq = Seq(model.color, feat, relu5, nn.AdaptiveAvgPool2d(1), nn.Flatten(), model.head).eval()
    with torch.no_grad():
        scale_head(model.head, model.features(x), g)
    make(out, "densenet121", "cfg/densenet121.cfg", model, seq,
         [("backbone.features.norm5", relu5), ("backbone.features.denseblock3.cat24", feat.denseblock3)],
         "backbone.features.norm5", [0, 4], x, ["densenet121_img0.png", "densenet121_img1.png"])
    names.append("densenet121")

    # ---- matplotlib's jet
    import matplotlib
    import matplotlib.cm
    v = np.concatenate([np.linspace(-0.1, 1.1, 2401), np.arange(257) / 256.0, [0.0, 1.0, 0.5, 1e-7, 1 - 1e-7]])
    v = v.astype(np.float32)
    rgb = matplotlib.cm.jet(v, bytes=True)[:, :3]
    lut = (matplotlib.cm.jet(np.arange(256)) * 255).astype(np.uint8)[:, :3]
    mnf.write_safetensors(os.path.join(out, "jet.safetensors"),
                          {"v": torch.from_numpy(v), "rgb": torch.from_numpy(rgb.astype(np.float32)),
                           "lut": torch.from_numpy(lut.astype(np.float32))},
                          {"matplotlib": matplotlib.__version__})

    with open(os.path.join(out, "index.txt"), "w") as fo:
        fo.write("\n".join(names) + "\n")
    print(f"wrote the Grad-CAM fixtures of {len(names)} networks to {out} in {time.time() - t_start:.0f} s")


if __name__ == "__main__":
    main()
