#!/usr/bin/python3
"""vgg19_npy_check.py — for tests/cli_transfer.sh: makes a TF-style vgg19.npy from the fixture's
torchvision safetensors (OIHW -> HWIO under Caffe's names), or compares a converted file with
the fixture (every tensor identical).
  vgg19_npy_check.py make FIXTURE.safetensors OUT.npy
  vgg19_npy_check.py compare FIXTURE.safetensors CONVERTED.safetensors"""
import json
import struct
import sys

import numpy as np

DT = {"F16": np.float16, "F32": np.float32}


def read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(blob[a:b], dtype=DT[v["dtype"]]).reshape(v["shape"]).astype(np.float32)
    return out


def main():
    mode, fx, other = sys.argv[1:4]
    t = read(fx)
    names, i = {}, 0
    for b, n in enumerate([2, 2, 4, 4, 4]):
        for k in range(n):
            names["conv%d_%d" % (b + 1, k + 1)] = i
            i += 2
        i += 1
    if mode == "make":
        d = {c: [np.transpose(t["features.%d.weight" % n], (2, 3, 1, 0)), t["features.%d.bias" % n]]
             for c, n in names.items()}
        d["fc8"] = [np.zeros((4, 2), np.float32), np.zeros(2, np.float32)]
        np.save(other, d, allow_pickle=True)
        return 0
    c = read(other)
    bad = [k for k in t if k not in c or c[k].shape != t[k].shape or not np.array_equal(c[k], t[k])]
    if bad or len(c) != len(t):
        print("FAIL converted file: %d tensors differ or are missing (%s), %d vs %d tensors" % (len(bad), bad[:3], len(c), len(t)))
        return 1
    print("  vgg19.npy (Caffe names, HWIO) -> safetensors: %d tensors identical to torchvision's" % len(c))
    return 0


if __name__ == "__main__":
    sys.exit(main())
