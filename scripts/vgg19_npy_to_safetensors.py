#!/usr/bin/python3
"""vgg19_npy_to_safetensors.py — converts Caffe VGG19 weights as TensorFlow ports keep them (a
`vgg19.npy` dict: layer name `convA_B` -> [weight HWIO (kh, kw, in, out), bias (out,)], the
format the authors' TF1 code loads) into a safetensors file with torchvision's names, which
`medcolor import cfg/vgg19.cfg` and `medcolor transfer` read:
    convA_B -> features.N (conv1_1 -> features.0, conv1_2 -> .2, conv2_1 -> .5, ... conv5_4 -> .34)
    weight HWIO -> OIHW (transpose 3, 2, 0, 1); bias unchanged; float32
The fully connected layers (fc6, fc7, fc8) are left out. The channels keep Caffe's order (BGR
input): run the transfer with --vgg-input caffe (docs/transfer.md).

Usage: vgg19_npy_to_safetensors.py VGG19.npy OUT.safetensors"""
import json
import os
import struct
import sys

import numpy as np

BLOCKS = [2, 2, 4, 4, 4]  # convolutions per block


def torchvision_index():
    names, i = {}, 0
    for b, n in enumerate(BLOCKS):
        for k in range(n):
            names["conv%d_%d" % (b + 1, k + 1)] = i
            i += 2
        i += 1  # the max pool
    return names


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        b = np.ascontiguousarray(tensors[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [off, off + len(b)]}
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


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1:]
    d = np.load(src, allow_pickle=True, encoding="latin1").item()
    idx = torchvision_index()
    tensors = {}
    for name, n in idx.items():
        if name not in d:
            sys.exit("%s: no layer %s" % (src, name))
        w, b = d[name][0], d[name][1]
        if w.ndim != 4 or w.shape[0] != 3 or w.shape[1] != 3 or b.shape != (w.shape[3],):
            sys.exit("%s: %s has weight %s and bias %s, expected (3, 3, in, out) and (out,)" % (src, name, w.shape, b.shape))
        tensors["features.%d.weight" % n] = np.transpose(w, (3, 2, 0, 1)).astype(np.float32)
        tensors["features.%d.bias" % n] = b.astype(np.float32)
    write_safetensors(out, tensors)
    print("wrote %s: %d convolutions (features.0 ... features.34)" % (out, len(idx)))


if __name__ == "__main__":
    main()
