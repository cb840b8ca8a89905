#!/usr/bin/python3
"""PyTorch checkpoints in torch.save's legacy format (_use_new_zipfile_serialization=False, the
format of torch < 1.6) for medcolor import's .pth reader (tests/cli_pth_legacy.sh, docs/import.md).

  pth_legacy_make.py make OUTDIR      writes, for cfg/resnet18.cfg (torchvision's resnet18, 5 classes):
    resnet18.pth / resnet18.zip.pth   model.state_dict() (an OrderedDict with _metadata), legacy / zip
    fastai.pth / fastai.zip.pth       {'model': state dict, 'opt': Adam's state after one step}, as
                                      fastai's Learner.save(with_opt=True) writes it
    views.pth / views.zip.pth         shared storages and views in several dtypes: BN weights and
                                      biases at offsets into one float32 storage, running variances
                                      every second element of a storage (stride 2, offsets 0 and 1),
                                      layer1's convolutions float16, layer2's float64, layer3/4's
                                      through permuted strides, fc.weight a transposed view, the
                                      num_batches_tracked 0-d views into one int64 storage
    old.pth                           written here by hand as torch <= 0.3 did (no zip twin): tensors
                                      through torch._utils._rebuild_tensor, torch.cuda.FloatStorage
                                      types at 'cuda:0', every BN tensor a storage *view* (the
                                      persistent id's view metadata) of one root storage, the
                                      OrderedDict as Python 2 pickled it (a list of [key, value])
  and, for the error cases (a one-convolution network, tiny.cfg):
    tiny.pth          a legacy state dict {'c.weight', 'c.bias'} with two storages; tiny.txt: the
                      file offsets where each of its sections starts ("magic 0", ..., "storage1 N",
                      "end N")
    evil.pth          legacy: an object whose unpickling would call os.system
    module.pth        legacy: torch.save(nn.Linear) (the whole module, pickled by class)
    tar.pth           torch's oldest format: a tar archive with 'storages', 'tensors', 'pickle'

  pth_legacy_make.py check CKPT EXPORTED.safetensors
    compares every float tensor of the state dict torch.load finds in CKPT (its 'model' entry for
    fastai) with the same name in EXPORTED (medcolor export --names torchvision of the imported
    .weights): equal to torch's values as float32, bit for bit (float16 and float64 tensors as
    their float32 conversion, which is what medcolor stores). Prints the count and the largest
    difference; exit 1 on any mismatch.
"""
import collections
import io
import json
import os
import pickle
import pickletools
import struct
import sys
import tarfile

import numpy as np
import torch
import torchvision

MAGIC = 0x1950a86a20f9469cfc6c


def resnet18_sd():
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=5)
    with torch.no_grad():  # BN statistics and affine parameters away from their 0/1 initialisation
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.5, 0.5)
                mod.running_mean.uniform_(-0.2, 0.2)
                mod.running_var.uniform_(0.5, 2.0)
                mod.num_batches_tracked.fill_(7)
    sd = m.state_dict()
    assert isinstance(sd, collections.OrderedDict) and hasattr(sd, "_metadata")
    return sd


def save_both(out, name, obj):
    torch.save(obj, os.path.join(out, name + ".pth"), _use_new_zipfile_serialization=False)
    torch.save(obj, os.path.join(out, name + ".zip.pth"))


def views_sd(sd):
    """the same values through shared storages, views and several dtypes"""
    v = collections.OrderedDict()
    affine = [k for k, t in sd.items() if t.dim() == 1 and t.is_floating_point() and not k.startswith("fc.")
              and (k.endswith(".weight") or k.endswith(".bias"))]
    big = torch.cat([sd[k] for k in affine])  # one float32 storage
    offs, o = {}, 0
    for k in affine:
        offs[k] = o
        o += sd[k].numel()
    nbt_keys = [k for k in sd if k.endswith("num_batches_tracked")]
    nbt = torch.tensor([int(sd[k]) for k in nbt_keys], dtype=torch.int64)
    for k, t in sd.items():
        if k in offs:
            x = big[offs[k]:offs[k] + t.numel()]
        elif k.endswith("running_var"):  # every second element: stride 2, offset 0 or 1
            pair = torch.stack([t, -t], 1) if len(v) % 2 else torch.stack([-t, t], 1)
            x = pair[:, 0] if len(v) % 2 else pair[:, 1]
        elif k.endswith("running_mean"):
            x = t.double()
        elif k in nbt_keys:
            x = nbt[nbt_keys.index(k)]
        elif k == "fc.weight":
            x = t.t().contiguous().t()
        elif k == "fc.bias":
            x = t.double()
        elif k.startswith("layer1.") or k == "conv1.weight":
            x = t.half()
        elif k.startswith("layer2."):
            x = t.double()
        else:  # 4-d convolutions of layer3/4: permuted strides
            x = t.permute(2, 3, 1, 0).contiguous().permute(3, 2, 0, 1)
        v[k] = x
    assert sum(not x.is_contiguous() for x in v.values()) > 20
    assert {x.dtype for x in v.values()} == {torch.float32, torch.float16, torch.float64, torch.int64}
    return v


class OldStorage:
    """a storage as torch <= 0.3 pickled it: its persistent id carries a view (key, offset, size)"""

    def __init__(self, root_key, root, view_key=None, offset=0, size=0):
        self.root_key, self.root, self.view_key, self.offset, self.size = root_key, root, view_key, offset, size


class Py2OrderedDict(collections.OrderedDict):
    """pickled as Python 2 pickled an OrderedDict: OrderedDict([[key, value], ...]), then its
    attributes (BUILD)"""

    def __reduce__(self):
        return (collections.OrderedDict, ([[k, v] for k, v in self.items()],), {"_metadata": {"": {"version": 1}}})


class OldTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride))

    def __reduce__(self):
        return (torch._utils._rebuild_tensor, self.args)


def save_old(sd, path):
    """torch <= 0.3's legacy file: every BN tensor a view of one root storage (float32, on cuda:0)"""
    roots = {}  # key -> float32 numpy array
    obj = Py2OrderedDict()
    bn = [k for k in sd if sd[k].dim() == 1 and sd[k].dtype == torch.float32]
    shared = np.concatenate([sd[k].numpy() for k in bn]).astype("<f4")
    roots["94000000"] = shared
    o = 0
    for i, (k, t) in enumerate(sd.items()):
        if t.dtype != torch.float32:
            continue  # num_batches_tracked: not in torch 0.3's state dicts
        if k in bn:
            # a view of [o - 1, o + n + 1) of the root (inside it), the tensor at offset 1 in the view
            n = t.numel()
            lo, hi = max(o - 1, 0), min(o + n + 1, len(shared))
            s = OldStorage("94000000", shared, "95%06d" % i, lo, hi - lo)
            obj[k] = OldTensor(s, o - lo, t.shape, t.stride())
            o += n
        else:
            key = "96%06d" % i
            roots[key] = t.contiguous().numpy().astype("<f4").ravel()
            obj[k] = OldTensor(OldStorage(key, roots[key]), 0, t.shape, t.stride())

    def pid(x):
        if not isinstance(x, OldStorage):
            return None
        view = None if x.view_key is None else (x.view_key, x.offset, x.size)
        return ("storage", torch.cuda.FloatStorage, x.root_key, "cuda:0", len(x.root), view)

    f = io.BytesIO()
    for head in (MAGIC, 1001, {"protocol_version": 1001, "little_endian": True,
                               "type_sizes": {"short": 2, "int": 4, "long": 8}}):
        pickle.dump(head, f, protocol=2)
    p = pickle.Pickler(f, protocol=2)
    p.persistent_id = pid
    p.dump(obj)
    keys = sorted(roots)
    pickle.dump(keys, f, protocol=2)
    for k in keys:
        f.write(struct.pack("<q", len(roots[k])) + roots[k].tobytes())
    data = f.getvalue()
    assert b"torch.cuda\nFloatStorage" in data and b"_rebuild_tensor\n" in data and b"ctorch\n" not in data
    with open(path, "wb") as g:
        g.write(data)
    # torch itself reads it back as sd
    back = torch.load(path, map_location="cpu")
    for k, t in back.items():
        assert torch.equal(t, sd[k]), k


def sections(path):
    """the file offsets where each pickle and each storage of a legacy file starts"""
    with open(path, "rb") as f:
        data = f.read()
    f = io.BytesIO(data)
    out = []
    for name in ("magic", "protocol", "sysinfo", "object", "keys"):
        out.append((name, f.tell()))
        start = f.tell()
        for op, arg, pos in pickletools.genops(f):  # walks to STOP, runs nothing
            pass
    keys = pickle.loads(data[start:f.tell()])
    for i, k in enumerate(keys):
        out.append(("storage%d" % i, f.tell()))
        n = struct.unpack("<q", f.read(8))[0]
        f.read(n * 4)
    out.append(("end", f.tell()))
    assert f.tell() == len(data)
    return out


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(sys.argv[2], "PWNED"),))


def make(out):
    sd = resnet18_sd()
    save_both(out, "resnet18", sd)
    # fastai: the model and an Adam state (fastai v1's default optimiser) after one step
    params = [torch.nn.Parameter(t.clone()) for k, t in sd.items() if t.is_floating_point() and "running" not in k]
    params = params[:8]  # a few: the file stays small
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.99), weight_decay=1e-2)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    save_both(out, "fastai", {"model": sd, "opt": opt.state_dict()})
    save_both(out, "views", views_sd(sd))
    save_old(sd, os.path.join(out, "old.pth"))
    # the error cases
    tiny = collections.OrderedDict([("c.weight", torch.arange(1.0, 3.0).view(2, 1, 1, 1)),
                                    ("c.bias", torch.tensor([0.5, -0.25]))])
    p = os.path.join(out, "tiny.pth")
    torch.save(tiny, p, _use_new_zipfile_serialization=False)
    with open(os.path.join(out, "tiny.txt"), "w") as f:
        for name, off in sections(p):
            f.write("%s %d\n" % (name, off))
    torch.save({"model": Evil()}, os.path.join(out, "evil.pth"), _use_new_zipfile_serialization=False)
    torch.save(torch.nn.Linear(2, 3), os.path.join(out, "module.pth"), _use_new_zipfile_serialization=False)
    with tarfile.open(os.path.join(out, "tar.pth"), "w", format=tarfile.PAX_FORMAT) as t:
        for name in ("storages", "tensors", "pickle"):
            b = pickle.dumps(0, protocol=2)
            info = tarfile.TarInfo(name)
            info.size = len(b)
            t.addfile(info, io.BytesIO(b))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        assert h["dtype"] == "F32", (name, h["dtype"])
        out[name] = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(h["shape"])
    return out


def check(ckpt, exported):
    obj = torch.load(ckpt, map_location="cpu")
    sd = obj["model"] if "model" in obj else obj
    got = read_safetensors(exported)
    bad, n, worst = [], 0, 0.0
    for k, t in sd.items():
        if not t.is_floating_point():
            continue
        want = t.float().contiguous().numpy()
        if k not in got:
            bad.append("%s: not in %s" % (k, exported))
            continue
        g = got[k]
        if g.shape != want.shape:
            bad.append("%s: shape %s, torch's %s" % (k, g.shape, want.shape))
            continue
        n += 1
        worst = max(worst, float(np.max(np.abs(g - want))) if want.size else 0.0)
        if not np.array_equal(g.view(np.uint32), want.view(np.uint32)):
            bad.append("%s: differs by up to %g" % (k, float(np.max(np.abs(g - want)))))
    if bad or n == 0:
        print("%s: %d of %d tensors differ from torch.load's: %s" % (ckpt, len(bad), n + len(bad), "; ".join(bad[:5])))
        sys.exit(1)
    print("%s: %d tensors equal torch.load's, bit for bit (largest difference %g)" % (os.path.basename(ckpt), n, worst))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
