#!/usr/bin/python3
"""Makes the whole-network PyTorch fixtures of tests/test_networks.c and tests/cli_predict.sh.

For each of the paper's 8 networks (module T in {none, deconv, pixelshuffle, coloru} x backbone
E in {resnet18, densenet121}, head C = Linear(features -> 5)), and the ResNet34 baseline
(cfg/resnet34.cfg: no module, E = torchvision's resnet34), PyTorch builds the network:
T from torch.nn exactly as docs/modules.md describes it (from the papers) (state_dict names exactly
those of param-names.txt), E = Debian's torchvision 0.14 resnet18 / densenet121 with the
ImageNet classifier replaced by C. Weights are random; BatchNorm running statistics are made
non-trivial (measured on a calibration batch, then perturbed: mean shifted by ~0.2 std, var
scaled by U(0.6, 1.6)), so eval mode really uses them. The head is scaled so that the logits
are O(1) (probabilities not saturated).

Files written to OUTDIR (about 95 MB in all; 1 minute on 2 cores):

  e_resnet18.safetensors      E of the 4 ResNet18 networks (e_resnet34: of the ResNet34 one) as a torchvision/timm ImageNet
                              state dict: names WITHOUT "backbone.", the 1000-class fc.*,
                              num_batches_tracked (I64), all floats as F16 (the values used
                              by PyTorch are exactly the F16 ones)
  e_densenet121.safetensors   the same for DenseNet121 (classifier.*), F32
  <net>.tc.safetensors        T and C of <net>: canonical color.* and head.* names, F32
  inputs.safetensors          x_eval [2,1,320,320]: the eval input = predict/img0.png (8-bit)
                              and predict/img1.png (16-bit) normalised; x_train [2,1,320,320]
  <net>.ref.safetensors       what PyTorch computed (F32 unless noted):
      prob_eval [2,5]           eval-mode sigmoid probabilities of x_eval
      feat_eval [2,F]           eval-mode pooled backbone features (input of the head)
      t, mask                   train-mode targets and loss mask of x_train (B = 2)
      --- train mode from PyTorch in float64 (the exact values; stored as F32) ---
      loss [1], prob_train      BCE-with-logits averaged over unmasked entries; probabilities
      dx [2,1,320,320]          dL/d(input) in train mode
      after.<name>              every BN running statistic after the train-mode forward
      grad.<name>               full gradient of every trainable tensor with <= 4096 values
      for larger ones (disk size: a full copy would be ~300 MB), a sketch from the full
      gradient g (float64 arithmetic):
      gidx.<name> (I32) [4096]  sorted random element indices; gval.<name>: g at them
      grow.<name> [dim0]        sum |g| over each slice g[i] (per output / input channel)
      gstat.<name> [3]          max |g|, ||g||_2, sum_i s_i g_i with the sign vector
                                s_i = +1 if splitmix64(i + SALT) has its top bit clear, else -1
      t32err.<name> [2]         how far PyTorch's own float32 gradient of the tensor lands from
                                those float64 values: max |d| / max |g| and ||d|| / ||g||,
                                measured as the test measures medcolor's (through the sketch
                                for the larger tensors); not for conv biases before BN
      metadata params           PyTorch's parameter count of the network
      metadata torch32_*        the same summarised: the loss (relative), the worst gradient over
                                the tensors (max rel and nrel), the median tensor's nrel, dL/dx;
                                the test holds medcolor's distance to them (README's claim)
  index.txt                   the 9 network names
  predict/                    images and expected outputs for tests/cli_predict.sh (below)
  the colorization networks   cfg/colorize/*: see make_colorize_fixtures (colorize.txt, their
                              <name>.full / <name>.ref safetensors, two images)

Usage: make_network_fixtures.py OUTDIR
"""
import copy
import json
import os
import re
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from PIL import Image

MEAN, STD = 0.5028, 0.2902
SIZE = 320
FULL = 4096     # gradients up to this many values are stored whole
SAMPLES = 4096  # sampled elements of larger gradients
SALT = 0x5851F42D4C957F2D
MODULES = ["none", "deconv", "pixelshuffle", "coloru"]
BACKBONES = ["resnet18", "densenet121", "resnet34"]
# the networks: the paper's 8, then the ResNet34 baseline (no module)
NETWORKS = [(bb, mod) for bb in BACKBONES[:2] for mod in MODULES] + [("resnet34", "none")]
COLORIZE = ["autoencoder", "unet-resnet18", "unet-resnet34"]
CSIZE = 128  # the colorization networks' test input (any multiple of 32; the cfgs say 256)
NOUT = 5


# ---------------------------------------------------------------- safetensors (json + struct)
def to_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
         torch.int32: "I32"}


def write_safetensors(path, tensors, meta=None):
    """tensors: dict name -> torch tensor (dtype kept). Sorted by name, header padded to 8."""
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name in sorted(tensors):
        t = tensors[name]
        b = to_bytes(t)
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


# ---------------------------------------------------------------- the colorization modules T
def lrelu():
    return nn.LeakyReLU(0.01)


class Stem(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 64, 7, 2, 2)
        self.bn = nn.BatchNorm2d(64)
        self.act = lrelu()
        self.pool = nn.MaxPool2d(3, 2, 1)

    def forward(self, x):
        return self.pool(self.act(self.bn(self.conv(x))))


class Res(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(*[nn.Sequential(nn.Conv2d(64, 64, 3, 1, 1), nn.BatchNorm2d(64), lrelu())
                                    for _ in range(2)])

    def forward(self, x):
        return x + self.body(x)  # no activation after the sum


class Deconv(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Stem()
        self.res = nn.Sequential(*[Res() for _ in range(8)])
        self.to3 = nn.Conv2d(64, 3, 1)
        self.up = nn.ConvTranspose2d(3, 3, 8, 4, 2, groups=3, bias=False)

    def forward(self, x):
        return self.up(self.to3(self.res(self.stem(x))))


class PixelShuffleT(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = Stem()
        self.res = nn.Sequential(*[Res() for _ in range(8)])
        self.conv = nn.Conv2d(64, 48, 1)
        self.bn = nn.BatchNorm2d(48)

    def forward(self, x):
        y = F.hardtanh(self.bn(self.conv(self.res(self.stem(x)))), -10000.0, 10000.0)
        y = F.pad(F.pixel_shuffle(y, 4), (1, 0, 1, 0), mode="replicate")
        return F.avg_pool2d(y, 2, 1)


def down(i, o):
    return nn.Sequential(nn.Conv2d(i, o, 3, 1, 1), lrelu(), nn.Conv2d(o, o, 4, 2, 1), lrelu(), nn.BatchNorm2d(o))


def up(i, o):
    return nn.Sequential(nn.ConvTranspose2d(i, o, 4, 2, 1), lrelu(), nn.Conv2d(o, o, 3, 1, 1), lrelu(),
                         nn.Conv2d(o, o, 3, 1, 1), lrelu(), nn.BatchNorm2d(o))


class ColorU(nn.Module):
    def __init__(self):
        super().__init__()
        self.d1, self.d2, self.d3 = down(1, 16), down(16, 32), down(32, 64)
        self.u1, self.u2 = up(64, 32), up(64, 16)
        self.out = nn.Sequential(nn.ConvTranspose2d(32, 16, 4, 2, 1), lrelu(), nn.Conv2d(16, 16, 3, 1, 1), lrelu(),
                                 nn.Conv2d(16, 3, 1))

    def forward(self, x):
        a = self.d1(x)
        b = self.d2(a)
        u = self.u1(self.d3(b))
        u = self.u2(torch.cat([b, u], 1))  # skip first, upsampled second
        return self.out(torch.cat([a, u], 1))


class Grey3(nn.Module):
    def forward(self, x):
        return x.repeat(1, 3, 1, 1)


class Net(nn.Module):
    def __init__(self, module, backbone):
        super().__init__()
        self.color = {"none": Grey3, "deconv": Deconv, "pixelshuffle": PixelShuffleT, "coloru": ColorU}[module]()
        if backbone in ("resnet18", "resnet34"):
            self.backbone = getattr(torchvision.models, backbone)()
            self.nfeat = self.backbone.fc.in_features
            self.backbone.fc = nn.Identity()
        else:
            self.backbone = torchvision.models.densenet121()
            self.nfeat = self.backbone.classifier.in_features
            self.backbone.classifier = nn.Identity()
        self.head = nn.Linear(self.nfeat, NOUT)

    def features(self, x):
        return self.backbone(self.color(x))

    def forward(self, x):
        return self.head(self.features(x))


# ---------------------------------------------------------------- random weights and BN statistics
def randomize(module, g):
    """Random weights: U(+-sqrt(6/fan)) (He-uniform, fan = weight[0].numel()), biases U(+-0.2),
    BN gamma U(0.5, 1.5), beta U(-0.3, 0.3)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                bound = (6.0 / m.weight[0].numel()) ** 0.5
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_((torch.rand(m.bias.shape, generator=g) - 0.5) * 0.6)


def calibrate(model, part, x, g):
    """Running statistics of the BNs in `part` := their batch statistics on x (train mode, other
    BNs untouched), then perturbed so that eval mode differs from train mode."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    mine = set(id(m) for m in part.modules() if isinstance(m, nn.BatchNorm2d))
    for m in bns:
        if id(m) in mine:
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch = the batch statistics
        else:
            m.momentum = 0.0  # no update
    model.train()
    with torch.no_grad():
        model(x)
        for m in bns:
            m.momentum = 0.1
            if id(m) in mine:
                sd = m.running_var.sqrt()
                m.running_mean.add_(0.2 * sd * torch.randn(sd.shape, generator=g))
                m.running_var.mul_(torch.rand(sd.shape, generator=g) + 0.6)


def rescale_output(model, x):
    """Deconv / ColorU end without BN: scale their last layer so T's output channels have unit
    standard deviation (and ColorU's zero mean) in eval mode, like a normalised image."""
    c = model.color
    if isinstance(c, (Deconv, ColorU)):
        model.eval()
        with torch.no_grad():
            y = c(x)
            m, s = y.mean((0, 2, 3)), y.std((0, 2, 3))
            last = c.to3 if isinstance(c, Deconv) else c.out[4]
            last.weight.div_(s.view(-1, 1, 1, 1))
            last.bias.div_(s)
            if isinstance(c, ColorU):
                last.bias.sub_(m / s)


def round_f16(module):
    with torch.no_grad():
        for t in module.state_dict().values():
            if t.is_floating_point():
                t.copy_(t.half().float())


# ---------------------------------------------------------------- images
def smooth(rng, h, w):
    """A smooth random field in [0, 1] with some noise (float64), X-ray-like enough."""
    y, x = np.mgrid[0:h, 0:w]
    f = np.zeros((h, w))
    for _ in range(5):
        fx, fy, ph = rng.uniform(0.5, 6) / w, rng.uniform(0.5, 6) / h, rng.uniform(0, 6.3)
        f += np.sin(2 * np.pi * (fx * x + fy * y) + ph)
    f = (f - f.min()) / (f.max() - f.min() + 1e-12)
    return np.clip(0.05 + 0.9 * f + rng.uniform(-0.05, 0.05, size=f.shape), 0, 1)


def normalise(grey01):
    """[h][w] float64 in [0, 1] -> normalised float32 tensor, as medcolor computes it."""
    return (torch.from_numpy(np.asarray(grey01, dtype=np.float32)) - MEAN) / STD


def centre_crop_resize(img, oh, ow):
    """An image of exactly oh x ow as it is; else torchvision CenterCrop to the square side
    (offset = round((size - side) / 2), Python's round), then F.interpolate bilinear,
    align_corners=False, no antialias; float32."""
    h, w = img.shape
    if (h, w) == (oh, ow):  # already the input size: used as it is
        return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    side = min(h, w)
    y0, x0 = round((h - side) / 2), round((w - side) / 2)
    crop = torch.from_numpy(np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side], dtype=np.float32))
    if side == oh and side == ow:
        return crop
    return F.interpolate(crop[None, None], size=(oh, ow), mode="bilinear", align_corners=False)[0, 0]


def pre_bn_bias(name):
    """Conv biases followed by BatchNorm (DECONV / PixelShuffle stem, residual convs, the 64->48
    conv): zero gradient in exact arithmetic in train mode."""
    return re.fullmatch(r"color\.(stem\.conv|res\.\d+\.body\.\d+\.0|conv)\.bias", name) is not None


# ---------------------------------------------------------------- gradient sketches
def splitmix64(z):
    z = (z + np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def sketch(name, g, rng, out, g32=None):
    """Stores the sketch of the float64 gradient g; with g32 (PyTorch's float32 gradient of the
    same tensor) also t32err.<name> = [max rel, nrel] of g32 against the stored reference,
    measured exactly as tests/test_networks.c measures medcolor's gradient (compare() and
    grad_error(): on the whole tensor when it is stored whole, else on the samples and through
    the slice sums, the norm and the projection), so that the two are compared like for like."""
    dim0 = g.shape[0]
    g = g.detach().to(torch.float64).reshape(-1).numpy()
    m32 = None if g32 is None else g32.detach().to(torch.float64).reshape(-1).numpy()

    def cmp(mine, ref):  # test_networks.c compare(): max |d| / max |ref|, ||d|| / ||ref||
        ref = ref.astype(np.float32).astype(np.float64)
        d = np.abs(mine - ref)
        return d.max() / max(np.abs(ref).max(), 1e-30), np.sqrt((d * d).sum()) / np.sqrt(max((ref * ref).sum(), 1e-60))

    if g.size <= FULL:
        out["grad." + name] = torch.from_numpy(g.astype(np.float32))
        if m32 is not None:
            out["t32err." + name] = torch.tensor(cmp(m32, g), dtype=torch.float32)
        return
    idx = np.sort(rng.choice(g.size, SAMPLES, replace=False)).astype(np.int32)
    out["gidx." + name] = torch.from_numpy(idx)
    out["gval." + name] = torch.from_numpy(g[idx].astype(np.float32))
    rows = np.abs(g).reshape(dim0, -1).sum(1)
    out["grow." + name] = torch.from_numpy(rows.astype(np.float32))
    with np.errstate(over="ignore"):
        s = np.where(splitmix64(np.arange(g.size, dtype=np.uint64) + np.uint64(SALT)) >> np.uint64(63), -1.0, 1.0)
    out["gstat." + name] = torch.tensor([np.abs(g).max(), np.sqrt((g * g).sum()), (s * g).sum()],
                                        dtype=torch.float32)
    if m32 is not None:
        emax, enrel = cmp(m32[idx], g[idx])
        stat = out["gstat." + name].double().numpy()
        l2 = max(stat[1], 1e-30)
        rows32 = np.abs(m32).reshape(dim0, -1).sum(1).astype(np.float32).astype(np.float64)
        er = cmp(rows32, rows)[0]
        el = abs(np.sqrt((m32 * m32).sum()) - l2) / l2
        ep = abs((s * m32).sum() - stat[2]) / l2
        out["t32err." + name] = torch.tensor([emax, max(enrel, er, el, ep)], dtype=torch.float32)


# ---------------------------------------------------------------- the networks
def backbone_state(model, dtype, classifier):
    """E as a torchvision/timm ImageNet state dict: names without 'backbone.', with a random
    1000-class classifier and the I64 num_batches_tracked counters."""
    sd = {}
    for k, v in model.backbone.state_dict().items():
        sd[k] = v.clone() if k.endswith("num_batches_tracked") else v.to(dtype).clone()
    nfeat = model.nfeat
    g = torch.Generator().manual_seed(7)
    sd[classifier + ".weight"] = ((torch.rand(1000, nfeat, generator=g) * 2 - 1) / nfeat ** 0.5).to(dtype)
    sd[classifier + ".bias"] = ((torch.rand(1000, generator=g) * 2 - 1) / nfeat ** 0.5).to(dtype)
    return sd


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "predict"), exist_ok=True)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    t_start = time.time()
    rng = np.random.RandomState(2024)

    # the two eval images (also used by cli_predict.sh): 8-bit and 16-bit grey PNG, 320x320
    a8 = np.round(smooth(rng, SIZE, SIZE) * 255).astype(np.uint8)
    a16 = np.round(smooth(rng, SIZE, SIZE) * 65535).astype(np.uint16)
    Image.fromarray(a8, "L").save(os.path.join(out, "predict", "img0.png"))
    Image.fromarray(a16.astype(np.int32), "I").convert("I;16").save(os.path.join(out, "predict", "img1.png"))
    back = np.asarray(Image.open(os.path.join(out, "predict", "img1.png")), dtype=np.int64)
    assert (back == a16).all(), "16-bit PNG did not round-trip through PIL"
    x_eval = torch.stack([normalise(a8 / 255.0), normalise(a16 / 65535.0)])[:, None]
    x_train = torch.stack([normalise(smooth(rng, SIZE, SIZE)) for _ in range(2)])[:, None]
    x_cal = torch.stack([normalise(smooth(rng, SIZE, SIZE)) for _ in range(2)])[:, None]

    write_safetensors(os.path.join(out, "inputs.safetensors"), {"x_eval": x_eval, "x_train": x_train})
    names = []
    backbones = {}
    only = os.environ.get("MC_FX_NETS")  # development: only these (comma-separated) networks
    for bb, mod in NETWORKS:
        bi, mi = BACKBONES.index(bb), MODULES.index(mod)
        name = f"{bb}-{mod}" if mod != "none" else bb
        if only and name not in only.split(","):
            continue
        t0 = time.time()
        torch.manual_seed(100 + 10 * bi + mi)
        model = Net(mod, bb)
        g = torch.Generator().manual_seed(1000 + 10 * bi + mi)
        if bb not in backbones:
            # E: random, BN statistics from the baseline input, shared by the 4 networks
            randomize(model.backbone, g)
            calibrate(model, model.backbone, x_cal, g)
            if bb.startswith("resnet"):
                round_f16(model.backbone)  # stored as F16: PyTorch uses the F16 values
            backbones[bb] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
            dtype, cls = (torch.float16, "fc") if bb.startswith("resnet") else (torch.float32, "classifier")
            write_safetensors(os.path.join(out, f"e_{bb}.safetensors"), backbone_state(model, dtype, cls),
                              {"what": f"random {bb} E, torchvision ImageNet-style state dict"})
        else:
            model.backbone.load_state_dict(backbones[bb])
        randomize(model.color, g)
        calibrate(model, model.color, x_cal, g)
        rescale_output(model, x_cal)
        # head: logits O(1) on the eval images
        model.eval()
        with torch.no_grad():
            f = model.features(x_eval)
            w = torch.randn(NOUT, model.nfeat, generator=g)
            z = f @ w.t()
            w *= 1.5 / (z.std() + 1e-6)
            model.head.weight.copy_(w)
            model.head.bias.copy_(-(f @ w.t()).mean(0) + (torch.rand(NOUT, generator=g) - 0.5))
        tc = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("backbone.")}
        write_safetensors(os.path.join(out, f"{name}.tc.safetensors"), tc)

        ref = {}
        # eval mode
        model.eval()
        with torch.no_grad():
            f = model.features(x_eval)
            ref["feat_eval"] = f.clone()
            ref["prob_eval"] = torch.sigmoid(model.head(f))
        # train mode, batch 2: loss, probabilities, every gradient, running stats after. The
        # reference is PyTorch in float64 (same weights): the exact values, to which float32
        # PyTorch is compared too (metadata), to show how far float32 itself lands from them
        tg = torch.Generator().manual_seed(5000 + 10 * bi + mi)
        t = (torch.rand(2, NOUT, generator=tg) > 0.5).float()
        mask = (torch.rand(2, NOUT, generator=tg) > 0.2).float()
        mask[0, 0] = 1.0
        runs = {}
        for dt in (torch.float64, torch.float32):
            mm = copy.deepcopy(model).to(dt).train()
            x = x_train.to(dt).clone().requires_grad_(True)
            y = mm(x)
            loss = F.binary_cross_entropy_with_logits(y, t.to(dt), weight=mask.to(dt), reduction="sum") / mask.sum()
            loss.backward()
            runs[dt] = (mm, loss.detach(), torch.sigmoid(y).detach(), x.grad.detach())
        m64, loss, prob, dx = runs[torch.float64]
        ref.update(t=t, mask=mask, loss=loss.float().reshape(1), prob_train=prob.float(), dx=dx.float())
        srng = np.random.RandomState(77 + 10 * bi + mi)
        m32 = runs[torch.float32][0]
        g32 = dict(m32.named_parameters())
        worst = {"max": 0.0, "nrel": 0.0}
        nrels = []
        for k, p in m64.named_parameters():
            if pre_bn_bias(k):
                sketch(k, p.grad, srng, ref)
                continue
            sketch(k, p.grad, srng, ref, g32[k].grad)
            emax, enrel = ref["t32err." + k].tolist()
            worst["max"] = max(worst["max"], emax)
            worst["nrel"] = max(worst["nrel"], enrel)
            nrels.append(enrel)
        for k, v in m64.state_dict().items():
            if k.endswith("running_mean") or k.endswith("running_var"):
                ref["after." + k] = v.float()
        l32, p32, dx32 = runs[torch.float32][1:]
        meta = {"cfg": f"cfg/{name}.cfg", "module": mod, "backbone": bb,
                "params": str(sum(p.numel() for p in model.parameters())),
                "torch32_loss": "%.3g" % abs(l32.double().item() / loss.item() - 1),
                "torch32_grad_max": "%.3g" % worst["max"], "torch32_grad_nrel": "%.3g" % worst["nrel"],
                "torch32_grad_nrel_median": "%.3g" % sorted(nrels)[len(nrels) // 2],
                "torch32_dx": "%.3g" % ((dx32.double() - dx).abs().max() / dx.abs().max()).item()}
        write_safetensors(os.path.join(out, f"{name}.ref.safetensors"), ref, meta)
        del runs, m64, m32
        if name == "resnet18-pixelshuffle":
            with open(os.path.join(out, "predict", "expected_resnet18-pixelshuffle.txt"), "w") as fo:
                for i, img in enumerate(["img0.png", "img1.png"]):
                    fo.write(img + " " + " ".join("%.9g" % v for v in ref["prob_eval"][i].tolist()) + "\n")
        names.append(name)
        print(f"  {name:28s} loss {loss.item():.4f}  torch float32 vs float64: gradients max {meta['torch32_grad_max']}"
              f" nrel {meta['torch32_grad_nrel']}  {time.time() - t0:.1f} s", flush=True)
    make_predict_fixtures(os.path.join(out, "predict"), rng)
    with open(os.path.join(out, "index.txt"), "w") as fo:
        fo.write("\n".join(names) + "\n")
    make_colorize_fixtures(out, rng, backbones)
    names += COLORIZE
    print(f"wrote {len(names)} whole-network PyTorch fixtures to {out} in {time.time() - t_start:.0f} s")


# ---------------------------------------------------------------- the colorization networks
def conv3(i, o, stride=1, bias=True):
    return nn.Conv2d(i, o, 3, stride, 1, bias=bias)


class Autoencoder(nn.Module):
    """Saini et al.'s basic autoencoder as the spec writes it (section 1(A)); names as
    cfg/colorize/autoencoder.cfg (three nn.Sequential)."""

    def __init__(self):
        super().__init__()
        enc = []
        for i, o, st in [(1, 64, 1), (64, 64, 2), (64, 128, 1), (128, 128, 2), (128, 256, 1), (256, 256, 2)]:
            enc += [conv3(i, o, st), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.middle = nn.Sequential(conv3(256, 512), nn.ReLU(), conv3(512, 256), nn.ReLU(), conv3(256, 128), nn.ReLU())
        self.decoder = nn.Sequential(nn.Upsample(scale_factor=2), conv3(128, 64), nn.ReLU(), nn.Upsample(scale_factor=2),
                                     conv3(64, 32), nn.ReLU(), conv3(32, 2), nn.Tanh(), nn.Upsample(scale_factor=2))

    def last_conv(self):
        return self.decoder[6]

    def forward(self, x):
        return self.decoder(self.middle(self.encoder(x)))


def conv_bn_relu(i, o):
    return nn.Sequential(conv3(i, o, bias=False), nn.BatchNorm2d(o), nn.ReLU())


class DecoderBlock(nn.Module):
    def __init__(self, i, skip, o):
        super().__init__()
        self.conv1 = conv_bn_relu(i + skip, o)
        self.conv2 = conv_bn_relu(o, o)

    def forward(self, x, skip):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], 1)  # the upsampled first, then the skip
        return self.conv2(self.conv1(x))


class UNet(nn.Module):
    """U-Net with a torchvision ResNet encoder (spec section 1(B/C), segmentation_models_pytorch's
    Unet defaults) and a tanh head; names as cfg/colorize/unet-resnetN.cfg."""

    def __init__(self, depth):
        super().__init__()
        self.backbone = getattr(torchvision.models, f"resnet{depth}")()
        self.backbone.fc = nn.Identity()
        self.decoder = nn.Module()
        self.decoder.blocks = nn.ModuleList([DecoderBlock(512, 256, 256), DecoderBlock(256, 128, 128),
                                             DecoderBlock(128, 64, 64), DecoderBlock(64, 64, 32),
                                             DecoderBlock(32, 0, 16)])
        self.head = nn.Sequential(conv3(16, 2))

    def last_conv(self):
        return self.head[0]

    def forward(self, x):
        b = self.backbone
        s1 = b.relu(b.bn1(b.conv1(x)))
        s2 = b.layer1(b.maxpool(s1))
        s3 = b.layer2(s2)
        s4 = b.layer3(s3)
        y = b.layer4(s4)
        for blk, skip in zip(self.decoder.blocks, [s4, s3, s2, s1, None]):
            y = blk(y, skip)
        return torch.tanh(self.head(y))


def colorize_model(name):
    return Autoencoder() if name == "autoencoder" else UNet(int(name[-2:]))


def colorize_input(name, L):
    """The network's input from L (0..100) [n][h][w]: the autoencoder takes L as it is, the
    U-Nets L/50 - 1 in 3 channels (the spec's pipeline)."""
    if name == "autoencoder":
        return L[:, None].clone()
    return (L / 50 - 1)[:, None].repeat(1, 3, 1, 1)


def rough(rng, h, w):
    """smooth() with 40 % white noise: a network of random weights on smooth fields alone has
    convolution outputs whose per-channel mean dwarfs their spread, and train-mode BatchNorm then
    turns float32 rounding into relative errors of ~1e-3 (PyTorch's own float32 run as much as
    medcolor's); the noise keeps the comparison about the implementations."""
    return 0.6 * smooth(rng, h, w) + 0.4 * rng.uniform(0, 1, size=(h, w))


def lightness(rgb):
    """CIELAB L (0..100) of sRGB in [0, 1] (float64 [..., 3]), the spec's formulas (D65, Y/1)."""
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    y = lin @ np.array([0.212671, 0.715160, 0.072169])
    f = np.where(y > 0.008856, np.cbrt(y), 7.787 * y + 16 / 116)
    return 116 * f - 16


def lab_input(name, rgb01, size):
    """medcolor features' preprocessing of an image-to-image network: each RGB channel (float32)
    resized with F.interpolate (bilinear, align_corners=False) unless already size x size, L in
    float64 from those float32 values, stored as float32, then L as it is (autoencoder) or
    L/50 - 1 (computed in float64, stored as float32) in 3 channels."""
    x = torch.from_numpy(np.ascontiguousarray(rgb01.transpose(2, 0, 1), dtype=np.float32))
    if x.shape[1:] != (size, size):
        x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    L = torch.from_numpy(lightness(x.numpy().astype(np.float64).transpose(1, 2, 0))).float()
    if name == "autoencoder":
        return L[None]
    return (L.double() * (1 / 50) + (-1)).float()[None].repeat(3, 1, 1)


def make_colorize_fixtures(out, rng, backbones):
    """Per colorization network (cfg/colorize/<name>.cfg at CSIZE x CSIZE, batch 2):
      <name>.full.safetensors  every tensor under its canonical name (F32; num_batches_tracked
                               included, to be ignored); the U-Nets' encoders are the random
                               ResNet18/34 of e_resnet18/34.safetensors (their F16 values)
      <name>.ref.safetensors   x_eval, x_train [2,C,S,S]; out_eval [2,2,S,S] (eval mode, float64);
                               feat_img (and feat_bottom: the encoder's last block) of the two
                               images col_grey16.png, col_rgb.png as `features` reads them; t, mask
                               (the (a, b)/128 target and a 0/1 mask); the train-mode loss
                               (masked MSE), out_train and dx from PyTorch float64, after.*,
                               the gradients (whole or sketched as for the classifiers) with
                               t32err.*, metadata cfg, params, torch32_*.
    Weights: random as the classifiers' (the U-Nets' encoder weights those of e_resnetN); every BN's
    statistics calibrated on this input, then perturbed; the last conv
    scaled so that its pre-tanh output has standard deviation 0.5 (tanh not saturated)."""
    S = CSIZE
    # two images for `medcolor features`: a 16-bit grey PNG (170 x 150) and an 8-bit RGB PNG
    # (112 x 96), both resized to S x S
    g16 = np.round(rough(rng, 150, 170) * 65535).astype(np.uint16)
    Image.fromarray(g16.astype(np.int32), "I").convert("I;16").save(os.path.join(out, "col_grey16.png"))
    rgb8 = np.stack([np.round(rough(rng, 96, 112) * 255) for _ in range(3)], -1).astype(np.uint8)
    Image.fromarray(rgb8, "RGB").save(os.path.join(out, "col_rgb.png"))
    imgs = [np.repeat((g16 / 65535.0)[..., None], 3, -1), rgb8 / 255.0]
    L = lambda: torch.from_numpy(100 * rough(rng, S, S)).float()
    L_eval, L_train, L_cal = [torch.stack([L(), L()]) for _ in range(3)]
    for ci, name in enumerate(COLORIZE):
        t0 = time.time()
        torch.manual_seed(300 + ci)
        model = colorize_model(name)
        g = torch.Generator().manual_seed(3000 + ci)
        randomize(model, g)
        if name != "autoencoder":
            bb = f"resnet{name[-2:]}"
            model.backbone.load_state_dict({k: v for k, v in backbones[bb].items()})
        x_eval, x_train, x_cal = (colorize_input(name, v) for v in (L_eval, L_train, L_cal))
        calibrate(model, model, x_cal, g)  # the encoder's statistics too: for this input
        # the pre-tanh output: standard deviation 0.5 on the calibration input, eval mode
        model.eval()
        last = model.last_conv()
        pre = {}
        hook = last.register_forward_hook(lambda m, i, o: pre.__setitem__("y", o))
        with torch.no_grad():
            model(x_cal)
            sd = pre["y"].std((0, 2, 3))
            last.weight.div_(2 * sd.view(-1, 1, 1, 1))
            last.bias.div_(2 * sd)
        hook.remove()
        sd_full = dict(model.state_dict())
        write_safetensors(os.path.join(out, f"{name}.full.safetensors"), sd_full)
        ref = {"x_eval": x_eval, "x_train": x_train}
        with torch.no_grad():
            # eval mode: the float64 values (exact) as the reference; PyTorch float32's own
            # distance to them in the metadata
            o64 = copy.deepcopy(model).double().eval()(x_eval.double())
            o32 = model(x_eval)
            ref["out_eval"] = o64.float()
            t32_eval = ((o32.double() - o64).abs().max() / o64.abs().max()).item()
            # `medcolor features` on the two images: the head's output, and for the U-Nets the
            # encoder's last block too
            xi = torch.stack([lab_input(name, im, S) for im in imgs]).double()
            m64 = copy.deepcopy(model).double().eval()
            ref["feat_img"] = m64(xi).float()
            if name != "autoencoder":
                b = m64.backbone
                ref["feat_bottom"] = b.layer4(b.layer3(b.layer2(b.layer1(b.maxpool(b.relu(b.bn1(b.conv1(xi)))))))).float()
            del m64
        tg = torch.Generator().manual_seed(6000 + ci)
        t = torch.from_numpy(np.stack([np.stack([smooth(rng, S, S) - 0.5 for _ in range(2)]) * 0.6
                                       for _ in range(2)])).float()
        mask = (torch.rand(2, 2, S, S, generator=tg) > 0.2).float()
        runs = {}
        for dt in (torch.float64, torch.float32):
            mm = copy.deepcopy(model).to(dt).train()
            x = x_train.to(dt).clone().requires_grad_(True)
            y = mm(x)
            loss = (mask.to(dt) * (y - t.to(dt)) ** 2).sum() / mask.sum()
            loss.backward()
            runs[dt] = (mm, loss.detach(), y.detach(), x.grad.detach())
        m64, loss, y64, dx = runs[torch.float64]
        ref.update(t=t, mask=mask, loss=loss.float().reshape(1), out_train=y64.float(), dx=dx.float())
        srng = np.random.RandomState(700 + ci)
        g32 = dict(runs[torch.float32][0].named_parameters())
        worst = {"max": 0.0, "nrel": 0.0}
        nrels = []
        for k, p in m64.named_parameters():
            sketch(k, p.grad, srng, ref, g32[k].grad)
            emax, enrel = ref["t32err." + k].tolist()
            worst["max"], worst["nrel"] = max(worst["max"], emax), max(worst["nrel"], enrel)
            nrels.append(enrel)
        for k, v in m64.state_dict().items():
            if k.endswith("running_mean") or k.endswith("running_var"):
                ref["after." + k] = v.float()
        l32, y32, dx32 = runs[torch.float32][1:]
        meta = {"cfg": f"cfg/colorize/{name}.cfg", "size": str(S), "images": "col_grey16.png,col_rgb.png",
                "torch32_eval": "%.3g" % t32_eval,
                "torch32_out": "%.3g" % ((y32.double() - y64).abs().max() / y64.abs().max()).item(),
                "params": str(sum(p.numel() for p in model.parameters())),
                "torch32_loss": "%.3g" % abs(l32.double().item() / loss.item() - 1),
                "torch32_grad_max": "%.3g" % worst["max"], "torch32_grad_nrel": "%.3g" % worst["nrel"],
                "torch32_grad_nrel_median": "%.3g" % sorted(nrels)[len(nrels) // 2],
                "torch32_dx": "%.3g" % ((dx32.double() - dx).abs().max() / dx.abs().max()).item()}
        write_safetensors(os.path.join(out, f"{name}.ref.safetensors"), ref, meta)
        print(f"  {name:28s} loss {loss.item():.5f}  torch float32 vs float64: eval {meta['torch32_eval']} gradients max "
              f"{meta['torch32_grad_max']} nrel {meta['torch32_grad_nrel']}  {time.time() - t0:.1f} s", flush=True)
    with open(os.path.join(out, "colorize.txt"), "w") as fo:
        fo.write("\n".join(COLORIZE) + "\n")


# ---------------------------------------------------------------- a small network for predict
TINY_CFG = """# a small network for tests/cli_predict.sh (made by tests/torch/make_network_fixtures.py)
[net]
batch=3
width=48
height=40
channels=1
labels=Atelectasis:ones, Cardiomegaly, Pleural Effusion:ones

[convolutional]
name=c1
filters=8
size=3
stride=2
padding=1
bias=0
batch_normalize=1
bn_name=c1bn
activation=leaky
slope=0.01

[convolutional]
name=c2
filters=12
size=3
padding=1
activation=relu

[avgpool]

[connected]
name=head
output=3

[cost]
type=bce
"""


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, 2, 1, bias=False)
        self.c1bn = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 12, 3, 1, 1)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        y = F.leaky_relu(self.c1bn(self.c1(x)), 0.01)
        y = F.relu(self.c2(y)).mean((2, 3))
        return self.head(y)


def make_predict_fixtures(d, rng):
    """Images of every kind predict reads, a small network (tiny.cfg + tiny.safetensors) and
    the probabilities PyTorch gives for each image after the reference preprocessing:
    decode to [0, 1] grey (from the very sample values written; colour: 0.299 R + 0.587 G +
    0.114 B; JPEG: PIL's decode of the file, colour ones through draft('L') = libjpeg's own
    grey output, as medcolor decodes them); an image of exactly 48x40 (a_exact.png) as it is, the
    others centre square crop, bilinear resize to 40x48
    (h x w: the resize of a square crop to a non-square input also exercises the axes),
    normalise. expected.txt: file name, then one probability per label."""
    with open(os.path.join(d, "tiny.cfg"), "w") as fo:
        fo.write(TINY_CFG)
    torch.manual_seed(9)
    tiny = Tiny()
    g = torch.Generator().manual_seed(9)
    randomize(tiny, g)
    imgs = {}
    a = np.round(smooth(rng, 40, 48) * 255).astype(np.uint8)  # exactly the input size: used as is
    Image.fromarray(a, "L").save(os.path.join(d, "a_exact.png"))
    imgs["a_exact.png"] = a / 255.0
    b = np.round(smooth(rng, 90, 70) * 65535).astype(np.uint16)  # 16-bit, portrait
    Image.fromarray(b.astype(np.int32), "I").convert("I;16").save(os.path.join(d, "b_16bit.png"))
    imgs["b_16bit.png"] = b / 65535.0
    rgb = np.stack([np.round(smooth(rng, 50, 81) * 255) for _ in range(3)], -1).astype(np.uint8)  # landscape
    Image.fromarray(rgb, "RGB").save(os.path.join(d, "c_rgb.png"))
    imgs["c_rgb.png"] = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]) / 255.0
    grey = np.round(smooth(rng, 100, 100) * 255).astype(np.uint8)
    Image.fromarray(grey, "L").save(os.path.join(d, "d_grey.jpg"), quality=90)
    imgs["d_grey.jpg"] = np.asarray(Image.open(os.path.join(d, "d_grey.jpg")), dtype=np.float64) / 255.0
    rgb2 = np.stack([np.round(smooth(rng, 61, 75) * 255) for _ in range(3)], -1).astype(np.uint8)
    Image.fromarray(rgb2, "RGB").save(os.path.join(d, "e_colour.jpg"), quality=85)
    im = Image.open(os.path.join(d, "e_colour.jpg"))
    im.draft("L", im.size)
    imgs["e_colour.jpg"] = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    x = torch.stack([normalise(centre_crop_resize(v, 40, 48).numpy()) for v in imgs.values()])[:, None]
    calibrate(tiny, tiny, x, g)
    tiny.eval()
    with torch.no_grad():
        z = tiny(x)
        tiny.head.weight.mul_(1.5 / (z.std() + 1e-6))
        tiny.head.bias.sub_(tiny(x).mean(0))
        p = torch.sigmoid(tiny(x))
    write_safetensors(os.path.join(d, "tiny.safetensors"), dict(tiny.state_dict()))
    with open(os.path.join(d, "expected.txt"), "w") as fo:
        for i, k in enumerate(imgs):
            fo.write(k + " " + " ".join("%.9g" % v for v in p[i].tolist()) + "\n")
    # a truncated PNG (corrupt) for the error test
    with open(os.path.join(d, "a_exact.png"), "rb") as fi:
        data = fi.read()
    with open(os.path.join(d, "truncated.png"), "wb") as fo:
        fo.write(data[:len(data) // 2])


if __name__ == "__main__":
    main()
