#!/usr/bin/python3
"""Makes the whole-network PyTorch fixtures of tests/test_networks.c and tests/cli_predict.sh.

For each of the paper's 8 networks (module T in {none, deconv, pixelshuffle, coloru} x backbone
E in {resnet18, densenet121}, head C = Linear(features -> 5)), PyTorch builds the network:
T from torch.nn exactly as ../shared/spec/modules.md describes it (state_dict names exactly
those of param-names.txt), E = Debian's torchvision 0.14 resnet18 / densenet121 with the
ImageNet classifier replaced by C. Weights are random; BatchNorm running statistics are made
non-trivial (measured on a calibration batch, then perturbed: mean shifted by ~0.2 std, var
scaled by U(0.6, 1.6)), so eval mode really uses them. The head is scaled so that the logits
are O(1) (probabilities not saturated).

Files written to OUTDIR (about 95 MB in all; 1 minute on 2 cores):

  e_resnet18.safetensors      E of the 4 ResNet18 networks as a torchvision/timm ImageNet
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
      metadata torch32_*        the same summarised: the loss (relative), the worst gradient over
                                the tensors (max rel and nrel), the median tensor's nrel, dL/dx;
                                the test holds medcolor's distance to them (README's claim)
  index.txt                   the 8 network names
  predict/                    images and expected outputs for tests/cli_predict.sh (below)

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
BACKBONES = ["resnet18", "densenet121"]
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
        if backbone == "resnet18":
            self.backbone = torchvision.models.resnet18()
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
    for bi, bb in enumerate(BACKBONES):
        for mi, mod in enumerate(MODULES):
            name = f"{bb}-{mod}" if mod != "none" else bb
            t0 = time.time()
            torch.manual_seed(100 + 10 * bi + mi)
            model = Net(mod, bb)
            g = torch.Generator().manual_seed(1000 + 10 * bi + mi)
            if bb not in backbones:
                # E: random, BN statistics from the baseline input, shared by the 4 networks
                randomize(model.backbone, g)
                calibrate(model, model.backbone, x_cal, g)
                if bb == "resnet18":
                    round_f16(model.backbone)  # stored as F16: PyTorch uses the F16 values
                backbones[bb] = {k: v.clone() for k, v in model.backbone.state_dict().items()}
                dtype, cls = (torch.float16, "fc") if bb == "resnet18" else (torch.float32, "classifier")
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
    print(f"wrote {len(names)} whole-network PyTorch fixtures to {out} in {time.time() - t_start:.0f} s")


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
