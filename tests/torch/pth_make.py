#!/usr/bin/python3
"""PyTorch checkpoints for medcolor import's .pth reader (tests/cli_trained.sh, docs/import.md),
written by torch.save from the tensors of a safetensors file (medcolor export's):

  plain.pth    torch.save(state_dict)                     zip format (torch >= 1.6's default)
  fastai.pth   torch.save({'model': sd, 'opt': SGD-with-momentum state after one step}) as fastai's
               Learner.save(with_opt=True) writes it (opt: ints, floats, bools, lists, tensors)
  strided.pth  the same values, every 2-D+ tensor a transposed (non-contiguous) view of its
               storage, every 1-D float tensor a view at an offset into one shared storage
  half.pth     the state dict in float16; half_ref.safetensors: its values as float32 (what
               medcolor must load)
  legacy.pth   _use_new_zipfile_serialization=False (the pre-1.6 format; more in pth_legacy_make.py)
  evil.pth     an object whose unpickling would call os.system: refused, nothing run
  module.pth   torch.save(model) (the whole module, pickled by class): refused
Usage: pth_make.py FILE.safetensors OUTDIR
"""
import json
import os
import struct
import sys

import numpy as np
import torch


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
        arr = np.frombuffer(data[8 + n + a:8 + n + b], dtype="<f4").reshape(h["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = tensors[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(sys.argv[2], "PWNED"),))


def main():
    src, out = sys.argv[1], sys.argv[2]
    sd = read_safetensors(src)
    sd = {k: (v.long() if k.endswith("num_batches_tracked") else v) for k, v in sd.items()}
    torch.save(sd, os.path.join(out, "plain.pth"))
    # fastai: the model's state dict and an optimizer's after one step
    params = [torch.nn.Parameter(v.clone()) for k, v in sd.items() if v.is_floating_point() and "running" not in k]
    params = params[:6]  # a few: the file stays small
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    torch.save({"model": sd, "opt": opt.state_dict()}, os.path.join(out, "fastai.pth"))
    # non-contiguous tensors and offsets into a shared storage
    big = torch.cat([v for v in sd.values() if v.dtype == torch.float32 and v.dim() == 1])
    strided, o = {}, 0
    for k, v in sd.items():
        if v.dtype != torch.float32:
            strided[k] = v
            continue
        if v.dim() == 1:
            view = big[o:o + v.numel()]
            o += v.numel()
        else:  # the same values through a transposed storage: stride (1, rows, ...)
            view = v.transpose(0, 1).contiguous().transpose(0, 1)
        strided[k] = view
    assert sum(not v.is_contiguous() for v in strided.values()) > 10
    torch.save(strided, os.path.join(out, "strided.pth"))
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}
    torch.save(half, os.path.join(out, "half.pth"))
    write_safetensors(os.path.join(out, "half_ref.safetensors"),
                      {k: v.float() for k, v in half.items() if v.is_floating_point()})
    torch.save(sd, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"model": Evil()}, os.path.join(out, "evil.pth"))
    torch.save(torch.nn.Linear(2, 3), os.path.join(out, "module.pth"))


main()
