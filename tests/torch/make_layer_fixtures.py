#!/usr/bin/python3
"""Makes the PyTorch fixtures of the layer parity and gradient-check tests.

For every case: a medcolor cfg (stored in the file's metadata) and the same computation built
from torch.nn modules. Parameters and BatchNorm running statistics are drawn at random
(non-trivial: BN gamma around 1, beta, running mean and variance away from 0/1), then PyTorch
runs forward on a random input x and backward from a random output gradient dy. Written per
case, as safetensors (F32):

  x, dy, y, dx                  input, output gradient, output, input gradient
  param.<name>                  every medcolor tensor before the forward pass
  grad.<name>                   gradient of every trainable tensor (absent when frozen)
  after.<name>                  BN running statistics after the forward pass
  t, mask, loss                 for [cost] cases: targets, mask, the loss (then dy is unused)

<name> is medcolor's tensor name ("<layer index or name>.<tensor>"). Metadata: cfg, train
("1"/"0"), frozen (group frozen in medcolor, or ""), and cost ("1" when the net ends in [cost]).

Usage: make_layer_fixtures.py OUTDIR   (writes OUTDIR/<case>.safetensors and OUTDIR/index.txt)
"""
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.use_deterministic_algorithms(True)
CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def net_header(c, h, w, batch=2):
    return f"[net]\nbatch={batch}\nwidth={w}\nheight={h}\nchannels={c}\n"


def randomize(named):
    with torch.no_grad():
        for k, v in named.items():
            if k.endswith("running_mean"):
                v.copy_(torch.randn_like(v) * 0.5)
            elif k.endswith("running_var"):
                v.copy_(torch.rand_like(v) * 1.5 + 0.5)
            elif k.endswith("bn.weight") or (v.dim() == 1 and "bn" in k and k.endswith("weight")):
                v.copy_(torch.rand_like(v) + 0.5)
            elif v.dim() == 1:
                v.copy_(torch.rand_like(v) - 0.5)
            else:
                fan = v[0].numel()
                v.copy_((torch.rand_like(v) * 2 - 1) * (3.0 / fan) ** 0.5)


def write_safetensors(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        b = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def run(name, cfg, model, named, xshape, train=True, frozen="", frozen_names=(), cost=False,
        bn_modules=(), seed=0, xscale=1.0, eval_modules=()):
    torch.manual_seed(seed)
    randomize(named)
    before = {k: v.detach().clone() for k, v in named.items()}
    model.train(train)
    for mod in eval_modules:  # frozen BN with running statistics (frozen_bn=running)
        mod.eval()
    for k, v in named.items():
        if isinstance(v, nn.Parameter):
            v.requires_grad_(k not in frozen_names)
    x = (torch.randn(xshape) * xscale).requires_grad_(True)
    out = {"x": x.detach().clone()}
    y = model(x)
    if cost in ("mse", "l1", "mse_nomask", "l1_ties"):
        # dense regression target of the output's shape; the mask drops about a quarter
        t = torch.randn(y.shape)
        mask = (torch.rand(y.shape) > 0.25).float()
        if cost == "mse_nomask":  # exactly nn.MSELoss() (mean over every entry)
            mask = torch.ones(y.shape)
            loss = F.mse_loss(y, t)
        elif cost == "l1_ties":  # some targets equal to the output: the gradient there is sign(0) = 0
            ties = torch.rand(y.shape) < 0.15
            t = torch.where(ties, y.detach(), t)
            loss = ((y - t).abs() * mask).sum() / mask.sum()
        elif cost == "l1":
            loss = ((y - t).abs() * mask).sum() / mask.sum()
        else:
            loss = ((y - t) ** 2 * mask).sum() / mask.sum()
        loss.backward()
        out.update(t=t, mask=mask, loss=loss.detach().reshape(1), y=y.detach(), dy=torch.zeros_like(y))
    elif cost:
        t = (torch.rand(y.shape) > 0.5).float()
        mask = (torch.rand(y.shape) > 0.25).float()
        loss = F.binary_cross_entropy_with_logits(y, t, weight=mask, reduction="sum") / mask.sum()
        loss.backward()
        out.update(t=t, mask=mask, loss=loss.detach().reshape(1), y=torch.sigmoid(y).detach(),
                   dy=torch.zeros_like(y))
    else:
        dy = torch.randn(y.shape)
        y.backward(dy)
        out.update(y=y.detach(), dy=dy)
    out["dx"] = x.grad.detach()
    for k, v in before.items():
        out["param." + k] = v
    for k, v in named.items():
        if isinstance(v, nn.Parameter) and k not in frozen_names:
            out["grad." + k] = v.grad.detach().clone()
        if not isinstance(v, nn.Parameter):
            out["after." + k] = v.detach().clone()
    return name, out, {"cfg": cfg, "train": "1" if train else "0", "frozen": frozen,
                       "cost": "1" if cost else "0"}


def bn_named(prefix, bn):
    return {prefix + "weight": bn.weight, prefix + "bias": bn.bias,
            prefix + "running_mean": bn.running_mean, prefix + "running_var": bn.running_var}


def act_module(kind):
    if kind == "relu":
        return nn.ReLU(), "activation=relu\n"
    if kind == "leaky":
        return nn.LeakyReLU(0.01), "activation=leaky\nslope=0.01\n"
    if kind == "leaky_darknet":
        return nn.LeakyReLU(0.1), "activation=leaky\n"
    if kind == "logistic":
        return nn.Sigmoid(), "activation=logistic\n"
    if kind == "hardtanh":
        return nn.Hardtanh(-0.5, 0.5), "activation=hardtanh\nmin=-0.5\nmax=0.5\n"
    if kind == "tanh":
        return nn.Tanh(), "activation=tanh\n"
    if kind == "hardtanh_wide":
        return nn.Hardtanh(-10000.0, 10000.0), "activation=hardtanh\nmin=-10000\nmax=10000\n"
    return nn.Identity(), "activation=linear\n"


def conv_case(name, cin, h, w, filters, size, stride, pad, groups=1, bias=True, bn=False,
              act="linear", train=True, darknet_pad=False, seed=0):
    conv = nn.Conv2d(cin, filters, size, stride, pad, groups=groups, bias=bias)
    a, acfg = act_module(act)
    mods = [conv]
    named = {"0.weight": conv.weight}
    if bias:
        named["0.bias"] = conv.bias
    if bn:
        b = nn.BatchNorm2d(filters)
        mods.append(b)
        named.update(bn_named("0.bn.", b))
    mods.append(a)
    padkey = "pad=1\n" if darknet_pad else f"padding={pad}\n"
    cfg = (net_header(cin, h, w) + f"[convolutional]\nfilters={filters}\nsize={size}\nstride={stride}\n"
           + padkey + f"groups={groups}\nbias={int(bias)}\nbatch_normalize={int(bn)}\n" + acfg)
    return run(name, cfg, nn.Sequential(*mods), named, (2, cin, h, w), train=train, seed=seed)


@case
def conv_3x3():
    return conv_case("conv_3x3_bias", 3, 9, 8, 5, 3, 1, 1, seed=1)


@case
def conv_stem():  # the colorization stem: 7x7 s2 p2, conv bias + BN + LeakyReLU(0.01)
    return conv_case("conv_7x7_s2_p2_bias_bn_leaky", 1, 20, 18, 6, 7, 2, 2, bias=True, bn=True,
                     act="leaky", seed=2)


@case
def conv_bn_relu_eval():
    return conv_case("conv_3x3_s2_bn_relu_eval", 4, 11, 11, 6, 3, 2, 1, bias=False, bn=True,
                     act="relu", train=False, seed=3)


@case
def conv_bn_relu_train():
    return conv_case("conv_3x3_s2_bn_relu_train", 4, 11, 11, 6, 3, 2, 1, bias=False, bn=True,
                     act="relu", seed=4)


@case
def conv_1x1():
    return conv_case("conv_1x1_direct", 6, 7, 5, 4, 1, 1, 0, seed=5)


@case
def conv_1x1_s2():
    return conv_case("conv_1x1_s2_nobias", 6, 8, 8, 4, 1, 2, 0, bias=False, seed=6)


@case
def conv_groups():
    return conv_case("conv_groups2", 4, 7, 7, 6, 3, 1, 1, groups=2, seed=7)


@case
def conv_depthwise():
    return conv_case("conv_depthwise", 3, 8, 8, 6, 3, 2, 1, groups=3, act="logistic", seed=8)


@case
def conv_down4():
    return conv_case("conv_4x4_s2_p1_leaky", 3, 10, 10, 4, 4, 2, 1, act="leaky", seed=9)


@case
def conv_hardtanh():
    return conv_case("conv_hardtanh", 3, 6, 6, 4, 3, 1, 1, act="hardtanh", seed=10)


@case
def conv_hardtanh_wide():
    return conv_case("conv_bn_hardtanh_wide", 3, 6, 6, 4, 1, 1, 0, bn=True, bias=True,
                     act="hardtanh_wide", seed=11)


@case
def conv_darknet_pad():
    return conv_case("conv_darknet_pad_leaky01", 2, 7, 7, 3, 5, 1, 2, act="leaky_darknet",
                     darknet_pad=True, seed=12)


@case
def conv_tanh():  # the colorization networks' output layer: conv 3x3 with bias, tanh
    return conv_case("conv_3x3_tanh", 4, 7, 6, 2, 3, 1, 1, act="tanh", seed=13)


@case
def conv_bn_tanh():  # tanh through the fused batch norm + activation
    return conv_case("conv_bn_tanh_train", 3, 6, 5, 4, 3, 1, 1, bias=False, bn=True, act="tanh", seed=14)


def deconv_case(name, cin, h, w, filters, size, stride, pad, opad=0, groups=1, bias=True, bn=False,
                act="linear", seed=0, train=True):
    dc = nn.ConvTranspose2d(cin, filters, size, stride, pad, output_padding=opad, groups=groups, bias=bias)
    a, acfg = act_module(act)
    mods = [dc]
    named = {"0.weight": dc.weight}
    if bias:
        named["0.bias"] = dc.bias
    if bn:
        b = nn.BatchNorm2d(filters)
        mods.append(b)
        named.update(bn_named("0.bn.", b))
    mods.append(a)
    cfg = (net_header(cin, h, w) + f"[deconvolutional]\nfilters={filters}\nsize={size}\nstride={stride}\n"
           f"padding={pad}\noutput_padding={opad}\ngroups={groups}\nbias={int(bias)}\n"
           f"batch_normalize={int(bn)}\n" + acfg)
    return run(name, cfg, nn.Sequential(*mods), named, (2, cin, h, w), train=train, seed=seed)


@case
def deconv_up():  # ColorU's up-sampling: 4x4 s2 p1 with bias
    return deconv_case("deconv_4x4_s2_p1_leaky", 4, 5, 6, 3, 4, 2, 1, act="leaky", seed=20)


@case
def deconv_depthwise():  # DECONV's last layer: 8x8 s4 p2 groups=3 no bias
    return deconv_case("deconv_8x8_s4_p2_g3_nobias", 3, 5, 5, 3, 8, 4, 2, groups=3, bias=False, seed=21)


@case
def deconv_opad():
    return deconv_case("deconv_3x3_s2_opad1", 3, 4, 5, 2, 3, 2, 1, opad=1, seed=22)


@case
def deconv_bn():
    return deconv_case("deconv_bn_relu", 3, 4, 4, 4, 2, 2, 0, bias=False, bn=True, act="relu", seed=23)


@case
def deconv_groups2():
    return deconv_case("deconv_groups2", 4, 4, 4, 6, 3, 1, 1, groups=2, seed=24)


def bn_layer_case(name, train, seed):
    b = nn.BatchNorm2d(5)
    cfg = net_header(5, 6, 7) + "[batchnorm]\n"
    return run(name, cfg, b, bn_named("0.", b), (2, 5, 6, 7), train=train, seed=seed, xscale=2.0)


@case
def bn_train():
    return bn_layer_case("batchnorm_train", True, 30)


@case
def bn_eval():
    return bn_layer_case("batchnorm_eval", False, 31)


@case
def bn_relu():  # DenseNet's norm + relu as one layer
    b = nn.BatchNorm2d(4)
    cfg = net_header(4, 5, 5) + "[batchnorm]\nactivation=relu\n"
    return run("batchnorm_relu_train", cfg, nn.Sequential(b, nn.ReLU()), bn_named("0.", b), (2, 4, 5, 5),
               seed=32, xscale=2.0)


class Downsample(nn.Module):
    """ResNet's first block of a stage: conv s2 -> conv, plus a 1x1 s2 projection of the input."""
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, 2, 1, bias=False)
        self.b1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(4)
        self.d = nn.Conv2d(2, 4, 1, 2, bias=False)
        self.db = nn.BatchNorm2d(4)

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + self.db(self.d(x)))


@case
def downsample_input_key():
    m = Downsample()
    cfg = (net_header(2, 8, 7) +
           "[convolutional]\nname=c1\nbn_name=b1\nfilters=4\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
           "[convolutional]\nname=c2\nbn_name=b2\nfilters=4\nsize=3\npadding=1\nbatch_normalize=1\n"
           "[convolutional]\ninput=input\nname=down.0\nbn_name=down.1\nfilters=4\nsize=1\nstride=2\nbatch_normalize=1\n"
           "[shortcut]\nfrom=c2\nactivation=relu\n")
    named = {"c1.weight": m.c1.weight, "c2.weight": m.c2.weight, "down.0.weight": m.d.weight}
    named.update(bn_named("b1.", m.b1))
    named.update(bn_named("b2.", m.b2))
    named.update(bn_named("down.1.", m.db))
    return run("downsample_input_key_bn_name", cfg, m, named, (2, 2, 8, 7), seed=81)


def act_layer_case(kind, seed):
    a, acfg = act_module(kind)
    cfg = net_header(3, 5, 6) + "[activation]\n" + acfg
    return run("activation_" + kind, cfg, a, {}, (2, 3, 5, 6), seed=seed)


for i, k in enumerate(["relu", "leaky", "leaky_darknet", "logistic", "hardtanh", "hardtanh_wide", "linear", "tanh"]):
    CASES.append(lambda k=k, i=i: act_layer_case(k, 40 + i))


class Pool(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def pool_case(name, cfg_body, f, shape, seed):
    cfg = net_header(shape[1], shape[2], shape[3]) + cfg_body
    return run(name, cfg, Pool(f), {}, shape, seed=seed)


@case
def maxpool_stem():
    return pool_case("maxpool_3_s2_p1", "[maxpool]\nsize=3\nstride=2\npadding=1\n",
                     lambda x: F.max_pool2d(x, 3, 2, 1), (2, 3, 9, 10), 50)


@case
def maxpool_2():
    return pool_case("maxpool_2_s2", "[maxpool]\nsize=2\nstride=2\n",
                     lambda x: F.max_pool2d(x, 2, 2), (2, 2, 7, 8), 51)


@case
def maxpool_darknet():
    # darknet: total padding size-1, window starts at -padding/2, out = (h + pad - size)/stride + 1
    def f(x):
        return F.max_pool2d(F.pad(x, (1, 1, 1, 1), value=float("-inf")), 3, 2)
    return pool_case("maxpool_darknet_3_s2", "[maxpool]\nsize=3\nstride=2\ndarknet=1\n", f, (2, 2, 8, 9), 52)


@case
def avgpool_global():
    return pool_case("avgpool_global", "[avgpool]\n", lambda x: F.adaptive_avg_pool2d(x, 1), (2, 4, 5, 7), 53)


@case
def avgpool_2s2():
    return pool_case("avgpool_2_s2", "[avgpool]\nsize=2\nstride=2\n", lambda x: F.avg_pool2d(x, 2, 2),
                     (2, 3, 7, 8), 54)


@case
def avgpool_2s1():  # PixelShuffle's blur
    return pool_case("avgpool_2_s1", "[avgpool]\nsize=2\nstride=1\n", lambda x: F.avg_pool2d(x, 2, 1),
                     (2, 3, 6, 5), 55)


@case
def avgpool_3s1p1():
    return pool_case("avgpool_3_s1_p1", "[avgpool]\nsize=3\nstride=1\npadding=1\n",
                     lambda x: F.avg_pool2d(x, 3, 1, 1), (2, 2, 5, 6), 56)


@case
def connected_relu():
    fc = nn.Linear(3 * 4 * 5, 7)
    cfg = net_header(3, 4, 5, batch=3) + "[connected]\noutput=7\nactivation=relu\n"
    return run("connected_relu", cfg, nn.Sequential(nn.Flatten(), fc, nn.ReLU()),
               {"0.weight": fc.weight, "0.bias": fc.bias}, (3, 3, 4, 5), seed=60)


@case
def connected_nobias():
    fc = nn.Linear(6, 4, bias=False)
    cfg = net_header(6, 1, 1, batch=3) + "[connected]\noutput=4\nbias=0\n"
    return run("connected_nobias", cfg, nn.Sequential(nn.Flatten(), fc), {"0.weight": fc.weight},
               (3, 6, 1, 1), seed=61)


class RouteNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 3, 3, 1, 1)
        self.b = nn.Conv2d(2 + 3 + 3, 4, 1)

    def forward(self, x):
        a = self.a(x)
        return self.b(torch.cat([a, x, a], 1))


@case
def route():
    m = RouteNet()
    cfg = (net_header(2, 5, 6) + "[convolutional]\nname=a\nfilters=3\nsize=3\npadding=1\n"
           "[route]\nlayers=-1,input,a\n[convolutional]\nfilters=4\nsize=1\n")
    return run("route_concat_order", cfg, m, {"a.weight": m.a.weight, "a.bias": m.a.bias,
                                              "2.weight": m.b.weight, "2.bias": m.b.bias}, (2, 2, 5, 6), seed=70)


class GreyTo3(nn.Module):
    def forward(self, x):
        return x.repeat(1, 3, 1, 1)


@case
def route_grey():
    cfg = net_header(1, 4, 5) + "[route]\nlayers=input,input,input\n"
    return run("route_grey_to_rgb", cfg, GreyTo3(), {}, (2, 1, 4, 5), seed=71)


class ResBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 3, 3, 1, 1, bias=False)
        self.b1 = nn.BatchNorm2d(3)
        self.c2 = nn.Conv2d(3, 3, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(3)

    def forward(self, x):
        return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + x)


@case
def shortcut():
    m = ResBlock()
    cfg = (net_header(3, 6, 6) +
           "[convolutional]\nfilters=3\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
           "[convolutional]\nfilters=3\nsize=3\npadding=1\nbatch_normalize=1\n"
           "[shortcut]\nfrom=input\nactivation=relu\n")
    named = {"0.weight": m.c1.weight, "1.weight": m.c2.weight}
    named.update(bn_named("0.bn.", m.b1))
    named.update(bn_named("1.bn.", m.b2))
    return run("shortcut_resblock", cfg, m, named, (2, 3, 6, 6), seed=80)


@case
def pixelshuffle2():
    return pool_case("pixelshuffle_2", "[pixelshuffle]\nfactor=2\n", lambda x: F.pixel_shuffle(x, 2),
                     (2, 8, 3, 4), 90)


@case
def pixelshuffle4():
    return pool_case("pixelshuffle_4", "[pixelshuffle]\nfactor=4\n", lambda x: F.pixel_shuffle(x, 4),
                     (2, 48, 3, 2), 91)


@case
def pad_pixelshuffle_blur():
    return pool_case("pad_replicate_l1_t1", "[pad]\nleft=1\ntop=1\n",
                     lambda x: F.pad(x, (1, 0, 1, 0), mode="replicate"), (2, 3, 4, 5), 92)


@case
def pad_all():
    return pool_case("pad_replicate_2_1_0_3", "[pad]\nleft=2\nright=1\ntop=0\nbottom=3\n",
                     lambda x: F.pad(x, (2, 1, 0, 3), mode="replicate"), (2, 2, 3, 4), 93)


def up_case(name, key, f, mode, shape, seed):
    body = f"[upsample]\n{key}={f}\n" + (f"mode={mode}\n" if mode != "default" else "")
    m = "nearest" if mode == "default" else mode
    if m == "nearest":
        fn = lambda x: F.interpolate(x, scale_factor=f, mode="nearest")
    else:
        fn = lambda x: F.interpolate(x, scale_factor=f, mode="bilinear", align_corners=False)
    return pool_case(name, body, fn, shape, seed)


UP_CASES = [("upsample_nearest_2", "stride", 2, "default", (2, 3, 4, 5)),
            ("upsample_nearest_3", "factor", 3, "nearest", (2, 2, 5, 3)),
            ("upsample_nearest_1", "factor", 1, "nearest", (2, 2, 3, 4)),
            ("upsample_bilinear_2", "factor", 2, "bilinear", (2, 3, 5, 4)),
            ("upsample_bilinear_3", "stride", 3, "bilinear", (2, 2, 4, 5)),
            ("upsample_bilinear_4_1px", "factor", 4, "bilinear", (2, 2, 1, 3)),
            ("upsample_bilinear_1", "factor", 1, "bilinear", (2, 2, 3, 3))]
for i, (nm, key, f, mode, shape) in enumerate(UP_CASES):
    CASES.append(lambda nm=nm, key=key, f=f, mode=mode, shape=shape, i=i: up_case(nm, key, f, mode, shape, 120 + i))


class UnetBlock(nn.Module):
    """A U-Net decoder block in miniature (segmentation_models_pytorch's DecoderBlock): nearest x2,
    concat [up, skip] (up first), two conv3x3 no bias + BN + ReLU; the skip from a stride-2 conv."""
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(2, 3, 3, 2, 1)
        self.c1 = nn.Conv2d(3 + 2, 4, 3, 1, 1, bias=False)
        self.b1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(4)

    def forward(self, x):
        e = self.enc(x)
        u = F.interpolate(e, scale_factor=2, mode="nearest")
        y = F.relu(self.b1(self.c1(torch.cat([u, x], 1))))
        return F.relu(self.b2(self.c2(y)))


@case
def unet_block():
    m = UnetBlock()
    cfg = (net_header(2, 6, 8) + "[convolutional]\nname=enc\nfilters=3\nsize=3\nstride=2\npadding=1\n"
           "[upsample]\nstride=2\n[route]\nlayers=-1,input\n"
           "[convolutional]\nname=c1.0\nbn_name=c1.1\nfilters=4\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
           "[convolutional]\nname=c2.0\nbn_name=c2.1\nfilters=4\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n")
    named = {"enc.weight": m.enc.weight, "enc.bias": m.enc.bias, "c1.0.weight": m.c1.weight,
             "c2.0.weight": m.c2.weight}
    named.update(bn_named("c1.1.", m.b1))
    named.update(bn_named("c2.1.", m.b2))
    return run("upsample_unet_block", cfg, m, named, (2, 2, 6, 8), seed=130)


@case
def cost_mse():
    c = nn.Conv2d(3, 2, 3, 1, 1)
    cfg = net_header(3, 5, 4, batch=3) + "[convolutional]\nfilters=2\nsize=3\npadding=1\nactivation=tanh\n[cost]\ntype=mse\n"
    return run("cost_mse_masked", cfg, nn.Sequential(c, nn.Tanh()), {"0.weight": c.weight, "0.bias": c.bias},
               (3, 3, 5, 4), cost="mse", seed=101)


@case
def cost_mse_nomask():
    c = nn.Conv2d(2, 2, 3, 1, 1)
    cfg = net_header(2, 4, 6, batch=2) + "[convolutional]\nfilters=2\nsize=3\npadding=1\n[cost]\ntype=mse\n"
    return run("cost_mse_mean_nn_MSELoss", cfg, nn.Sequential(c), {"0.weight": c.weight, "0.bias": c.bias},
               (2, 2, 4, 6), cost="mse_nomask", seed=102)


@case
def cost_l1():
    c = nn.Conv2d(3, 2, 3, 1, 1)
    cfg = net_header(3, 5, 4, batch=3) + "[convolutional]\nfilters=2\nsize=3\npadding=1\n[cost]\ntype=l1\n"
    return run("cost_l1_masked", cfg, nn.Sequential(c), {"0.weight": c.weight, "0.bias": c.bias},
               (3, 3, 5, 4), cost="l1", seed=103)


@case
def cost_l1_ties():  # the cost alone on the input: exact ties z == t give the gradient 0
    cfg = net_header(2, 5, 6, batch=2) + "[cost]\ntype=l1\n"
    return run("cost_l1_ties_sign0", cfg, nn.Identity(), {}, (2, 2, 5, 6), cost="l1_ties", seed=104)


@case
def cost_bce():
    fc = nn.Linear(12, 5)
    cfg = net_header(3, 2, 2, batch=4) + "[connected]\noutput=5\n[cost]\ntype=bce\n"
    return run("cost_bce_masked", cfg, nn.Sequential(nn.Flatten(), fc),
               {"0.weight": fc.weight, "0.bias": fc.bias}, (4, 3, 2, 2), cost=True, seed=100)


class Frozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = nn.Conv2d(1, 3, 3, 1, 1)
        self.e = nn.Conv2d(3, 4, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = F.relu(self.bn(self.e(self.t(x))))
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


@case
def frozen_backbone():
    # Color Module stage in miniature: E frozen (no gradient, BN still in batch mode and
    # updating its running statistics), the gradient flows through E into T.
    m = Frozen()
    cfg = (net_header(1, 6, 6) +
           "[convolutional]\ngroup=color\nfilters=3\nsize=3\npadding=1\n"
           "[convolutional]\ngroup=backbone\nfilters=4\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
           "[avgpool]\ngroup=backbone\n[connected]\ngroup=head\noutput=2\n")
    named = {"0.weight": m.t.weight, "0.bias": m.t.bias, "1.weight": m.e.weight, "3.weight": m.fc.weight,
             "3.bias": m.fc.bias}
    named.update(bn_named("1.bn.", m.bn))
    return run("frozen_backbone_batchstats", cfg, m, named, (2, 1, 6, 6), frozen="backbone",
               frozen_names=("1.weight", "1.bn.weight", "1.bn.bias"), seed=110)


@case
def frozen_backbone_running():
    # the same with [net] frozen_bn=running: the frozen group's BN uses and keeps its running
    # statistics (PyTorch: that BN module in eval mode, the rest in train mode)
    m = Frozen()
    cfg = (net_header(1, 6, 6) + "frozen_bn=running\n" +
           "[convolutional]\ngroup=color\nfilters=3\nsize=3\npadding=1\n"
           "[convolutional]\ngroup=backbone\nfilters=4\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
           "[avgpool]\ngroup=backbone\n[connected]\ngroup=head\noutput=2\n")
    named = {"0.weight": m.t.weight, "0.bias": m.t.bias, "1.weight": m.e.weight, "3.weight": m.fc.weight,
             "3.bias": m.fc.bias}
    named.update(bn_named("1.bn.", m.bn))
    return run("frozen_backbone_runningstats", cfg, m, named, (2, 1, 6, 6), frozen="backbone",
               frozen_names=("1.weight", "1.bn.weight", "1.bn.bias"), seed=111, eval_modules=(m.bn,))


class SgdNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = nn.Conv2d(1, 3, 3, 1, 1)
        self.e = nn.Conv2d(3, 4, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        y = F.relu(self.bn(self.e(self.t(x))))
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


SGD_CFG = (net_header(1, 8, 8, batch=4) +
           "[convolutional]\ngroup=color\nfilters=3\nsize=3\npadding=1\n"
           "[convolutional]\ngroup=backbone\nfilters=4\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\n"
           "activation=relu\n[avgpool]\ngroup=backbone\n[connected]\ngroup=head\noutput=3\n[cost]\n")


def sgd_case(name, decoupled, frozen, lrs, momenta, wd=1e-2, seed=200, frozen_bn="batch"):
    """A few SGD steps (PyTorch SGD; fastai's decoupled weight decay p *= 1 - lr*wd before the
    step) with a changing lr and momentum, as the one-cycle schedule does. frozen_bn="running":
    the frozen group's BN in eval mode (running statistics, used and not updated), the rest in
    train mode; the cfg says [net] frozen_bn=running."""
    torch.manual_seed(seed)
    m = SgdNet()
    named = {"0.weight": m.t.weight, "0.bias": m.t.bias, "1.weight": m.e.weight, "3.weight": m.fc.weight,
             "3.bias": m.fc.bias}
    named.update(bn_named("1.bn.", m.bn))
    randomize(named)
    out = {"param." + k: v.detach().clone() for k, v in named.items()}
    frozen_names = {"backbone": ("1.weight", "1.bn.weight", "1.bn.bias")}.get(frozen, ())
    params = [v for k, v in named.items() if isinstance(v, nn.Parameter) and k not in frozen_names]
    for k, v in named.items():
        if isinstance(v, nn.Parameter):
            v.requires_grad_(k not in frozen_names)
    opt = torch.optim.SGD(params, lr=lrs[0], momentum=momenta[0], weight_decay=0.0 if decoupled else wd)
    m.train()
    if frozen_bn == "running":
        assert frozen == "backbone"
        m.bn.eval()
    for step, (lr, mom) in enumerate(zip(lrs, momenta)):
        for g in opt.param_groups:
            g["lr"], g["momentum"] = lr, mom
        x = torch.randn(4, 1, 8, 8)
        t = (torch.rand(4, 3) > 0.5).float()
        mask = (torch.rand(4, 3) > 0.2).float()
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(m(x), t, weight=mask, reduction="sum") / mask.sum()
        loss.backward()
        if decoupled:
            with torch.no_grad():
                for p in params:
                    p.mul_(1 - lr * wd)
        opt.step()
        out[f"x{step}"], out[f"t{step}"], out[f"mask{step}"] = x, t, mask
        out[f"loss{step}"] = loss.detach().reshape(1)
    for k, v in named.items():
        out["final." + k] = v.detach().clone()
    cfg = SGD_CFG if frozen_bn == "batch" else SGD_CFG.replace("[net]\n", "[net]\nfrozen_bn=%s\n" % frozen_bn, 1)
    meta = {"cfg": cfg, "steps": str(len(lrs)), "lr": ",".join(map(repr, lrs)),
            "momentum": ",".join(map(repr, momenta)), "wd": repr(wd), "decoupled": str(int(decoupled)),
            "frozen": frozen, "frozen_bn": frozen_bn}
    return name, out, meta


SGD_CASES = [
    lambda: sgd_case("sgd_l2", False, "", [0.1, 0.05, 0.02, 0.01], [0.95, 0.9, 0.85, 0.9]),
    lambda: sgd_case("sgd_decoupled", True, "", [0.1, 0.05, 0.02, 0.01], [0.95, 0.9, 0.85, 0.9], seed=201),
    lambda: sgd_case("sgd_decoupled_frozen_backbone", True, "backbone", [0.2, 0.1, 0.05], [0.9, 0.9, 0.9],
                     seed=202),
    lambda: sgd_case("sgd_decoupled_frozen_backbone_running", True, "backbone", [0.2, 0.1, 0.05], [0.9, 0.9, 0.9],
                     seed=203, frozen_bn="running"),
]


class OptNet(nn.Module):
    """A colorization network in miniature: conv-BN-ReLU, a stride-2 conv-BN-ReLU, nearest x2,
    conv 3x3 with bias and tanh, MSE against a dense target (no conv bias before a BN: its
    gradient is rounding noise, which Adam's normalisation would blow up to full steps)."""
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(1, 4, 3, 1, 1, bias=False)
        self.b0 = nn.BatchNorm2d(4)
        self.c1 = nn.Conv2d(4, 4, 3, 2, 1, bias=False)
        self.b1 = nn.BatchNorm2d(4)
        self.c3 = nn.Conv2d(4, 2, 3, 1, 1)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(F.relu(self.b0(self.c0(x))))))
        return torch.tanh(self.c3(F.interpolate(y, scale_factor=2, mode="nearest")))


OPT_CFG = (net_header(1, 8, 8, batch=4) +
           "[convolutional]\nfilters=4\nsize=3\npadding=1\nbatch_normalize=1\nactivation=relu\n"
           "[convolutional]\nfilters=4\nsize=3\nstride=2\npadding=1\nbatch_normalize=1\nactivation=relu\n"
           "[upsample]\nstride=2\n"
           "[convolutional]\nfilters=2\nsize=3\npadding=1\nactivation=tanh\n"
           "[cost]\ntype=mse\n")


def opt_case(name, kind, lrs, wd=0.0, decoupled=False, betas1=None, beta2=0.999, eps=1e-8, alpha=0.99,
             momentum=0.0, centered=False, net="opt", frozen="", seed=300):
    """A trajectory of torch.optim steps (lr, and Adam's beta1, changing every step as one-cycle
    does). kind: adam, adamw, rmsprop; decoupled: fastai's true_wd, p *= 1 - lr*wd before the
    step with the optimiser's own weight_decay 0 (for adam that is AdamW's update)."""
    torch.manual_seed(seed)
    if net == "opt":
        m = OptNet()
        named = {"0.weight": m.c0.weight, "1.weight": m.c1.weight, "3.weight": m.c3.weight, "3.bias": m.c3.bias}
        named.update(bn_named("0.bn.", m.b0))
        named.update(bn_named("1.bn.", m.b1))
        cfg, nout = OPT_CFG, (2, 8, 8)
    else:
        m = SgdNet()
        named = {"0.weight": m.t.weight, "0.bias": m.t.bias, "1.weight": m.e.weight, "3.weight": m.fc.weight,
                 "3.bias": m.fc.bias}
        named.update(bn_named("1.bn.", m.bn))
        cfg, nout = SGD_CFG, (3,)
    randomize(named)
    out = {"param." + k: v.detach().clone() for k, v in named.items()}
    frozen_names = {"backbone": ("1.weight", "1.bn.weight", "1.bn.bias")}.get(frozen, ())
    params = [v for k, v in named.items() if isinstance(v, nn.Parameter) and k not in frozen_names]
    for k, v in named.items():
        if isinstance(v, nn.Parameter):
            v.requires_grad_(k not in frozen_names)
    betas1 = betas1 or [0.9] * len(lrs)
    l2 = 0.0 if decoupled else wd
    if kind == "adam":
        opt = torch.optim.Adam(params, lr=lrs[0], betas=(betas1[0], beta2), eps=eps, weight_decay=l2)
    elif kind == "adamw":
        opt = torch.optim.AdamW(params, lr=lrs[0], betas=(betas1[0], beta2), eps=eps, weight_decay=wd)
    else:
        opt = torch.optim.RMSprop(params, lr=lrs[0], alpha=alpha, eps=eps, weight_decay=l2, momentum=momentum,
                                  centered=centered)
    m.train()
    for step, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
            if kind != "rmsprop":
                g["betas"] = (betas1[step], beta2)
        x = torch.randn(4, 1, 8, 8)
        if net == "opt":
            t = torch.randn(4, *nout) * 0.5
            mask = (torch.rand(4, *nout) > 0.2).float()
            loss = ((m(x) - t) ** 2 * mask).sum() / mask.sum()
        else:
            t = (torch.rand(4, 3) > 0.5).float()
            mask = (torch.rand(4, 3) > 0.2).float()
            loss = F.binary_cross_entropy_with_logits(m(x), t, weight=mask, reduction="sum") / mask.sum()
        opt.zero_grad()
        loss.backward()
        if decoupled and kind != "adamw":
            with torch.no_grad():
                for p in params:
                    p.mul_(1 - lr * wd)
        opt.step()
        out[f"x{step}"], out[f"t{step}"], out[f"mask{step}"] = x, t, mask
        out[f"loss{step}"] = loss.detach().reshape(1)
    for k, v in named.items():
        out["final." + k] = v.detach().clone()
    meta = {"cfg": cfg, "steps": str(len(lrs)), "lr": ",".join(map(repr, lrs)),
            "momentum": ",".join(["0"] * len(lrs)), "wd": repr(wd), "decoupled": str(int(decoupled)),
            "frozen": frozen, "frozen_bn": "batch", "optimizer": kind, "beta1": ",".join(map(repr, betas1)),
            "beta2": repr(beta2), "eps": repr(eps), "alpha": repr(alpha), "rms_momentum": repr(momentum),
            "centered": str(int(centered))}
    return name, out, meta


LRS = [1e-2, 2e-2, 3e-2, 2e-2, 1e-2, 5e-3]
CYCLE = [0.95, 0.93, 0.9, 0.87, 0.85, 0.9]
OPT_CASES = [
    lambda: opt_case("adam_l2_beta1_cycled", "adam", LRS, wd=1e-2, betas1=CYCLE, seed=300),
    lambda: opt_case("adam_decoupled_is_adamw", "adam", LRS, wd=1e-2, decoupled=True, seed=301),
    lambda: opt_case("adamw", "adamw", LRS, wd=5e-2, betas1=CYCLE, beta2=0.99, eps=1e-6, seed=302),
    lambda: opt_case("adamw_frozen_backbone", "adamw", LRS, wd=1e-2, net="sgd", frozen="backbone", seed=303),
    lambda: opt_case("rmsprop_l2", "rmsprop", [1e-3, 2e-3, 3e-3, 2e-3, 1e-3, 1e-3], wd=1e-2, seed=304),
    lambda: opt_case("rmsprop_keras_rho09_eps1e7", "rmsprop", [1e-3] * 6, alpha=0.9, eps=1e-7, seed=305),
    lambda: opt_case("rmsprop_centered_momentum_decoupled", "rmsprop", [1e-3, 2e-3, 3e-3, 2e-3, 1e-3, 1e-3],
                     wd=1e-2, decoupled=True, momentum=0.9, centered=True, seed=306),
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    names = []
    for fn in CASES:
        name, tensors, meta = fn()
        write_safetensors(os.path.join(out, name + ".safetensors"), tensors, meta)
        names.append(name)
    assert len(set(names)) == len(names), "duplicate case names"
    with open(os.path.join(out, "index.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    sgd = []
    for fn in SGD_CASES:
        name, tensors, meta = fn()
        write_safetensors(os.path.join(out, name + ".safetensors"), tensors, meta)
        sgd.append(name)
    with open(os.path.join(out, "sgd_index.txt"), "w") as f:
        f.write("\n".join(sgd) + "\n")
    opts = []
    for fn in OPT_CASES:
        name, tensors, meta = fn()
        write_safetensors(os.path.join(out, name + ".safetensors"), tensors, meta)
        opts.append(name)
    with open(os.path.join(out, "opt_index.txt"), "w") as f:
        f.write("\n".join(opts) + "\n")
    print(f"wrote {len(names)} PyTorch layer fixtures, {len(sgd)} SGD and {len(opts)} Adam/AdamW/RMSprop "
          f"trajectories to {out}")


if __name__ == "__main__":
    main()
