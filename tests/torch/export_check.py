#!/usr/bin/python3
"""The PyTorch side of `medcolor export`'s round trip (tests/cli_trained.sh, docs/import.md):

  export_check.py images DIR N SIZE
      writes N smooth random 8-bit grey PNGs of SIZE x SIZE (the network's input size, so that
      predict uses them as they are) as DIR/imgK.png
  export_check.py check MODULE BACKBONE NAMES FILE.safetensors PRED.csv NLABELS
      builds the PyTorch network -- NAMES medcolor: the spec's network of
      make_network_fixtures.py (T = MODULE, E = torchvision BACKBONE, C = Linear); NAMES
      torchvision: torchvision.models.BACKBONE(num_classes=NLABELS) on the grey image repeated to
      3 channels -- loads FILE with load_state_dict(strict=True) (a missing, extra or misshapen
      tensor fails), and compares its eval-mode sigmoid probabilities on the images of PRED.csv
      (medcolor predict's CSV: path, one column per label) with medcolor's. Prints the largest
      difference; exits 1 above 1e-5 (float32 on both sides, different convolution algorithms:
      ~1e-7 expected).
The safetensors file is read here with json + struct + numpy (the format, not medcolor's code).
"""
import csv
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_network_fixtures as mnf  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", (name, h["dtype"])
        a, b = h["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype="<f4").reshape(h["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def main():
    if sys.argv[1] == "images":
        d, n, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        rng = np.random.default_rng(16)
        for k in range(n):
            a = np.round(mnf.smooth(rng, size, size) * 255).astype(np.uint8)
            Image.fromarray(a, "L").save(os.path.join(d, f"img{k}.png"))
        return 0
    module, backbone, names, st, pred, nlabels = sys.argv[2:8]
    nlabels = int(nlabels)
    sd = read_safetensors(st)
    if names == "medcolor":
        mnf.NOUT = nlabels
        model = mnf.Net(module, backbone)
        prep = lambda x: x
    else:
        model = getattr(torchvision.models, backbone)(num_classes=nlabels)
        prep = lambda x: x.repeat(1, 3, 1, 1)
    model.load_state_dict(sd, strict=True)
    model.eval()
    with open(pred) as f:
        rows = list(csv.reader(f))

    def distance():
        worst = 0.0
        for r in rows[1:]:
            img = np.asarray(Image.open(r[0]), dtype=np.float64) / 255.0
            x = mnf.normalise(img)[None, None]
            with torch.no_grad():
                p = torch.sigmoid(model(prep(x)))[0].double().numpy()
            ours = np.array([float(v) for v in r[1:]])
            worst = max(worst, float(np.abs(p - ours).max()))
        return worst

    worst = distance()
    print(f"{len(sd)} tensors loaded strictly into PyTorch ({names} names); {len(rows) - 1} images: "
          f"max |p_torch - p_medcolor| = {worst:.3g}")
    # the comparison can fail: a tensor off by half (early, middle and late in the network: a
    # misplaced tensor of that kind) moves the probabilities by more than the tolerance
    keys = [k for k in sd if k.endswith(("running_var", "running_mean", "weight")) and sd[k].numel() > 1]
    weak = []
    for k in (keys[len(keys) // 10], keys[len(keys) // 2], keys[-1]):
        model.load_state_dict({**sd, k: sd[k] * 0.5}, strict=True)
        d = distance()
        print(f"  with {k} halved: {d:.3g}")
        if d <= 1e-5:
            weak.append(k)
    if weak:
        print("the comparison cannot see a wrong " + ", ".join(weak))
    return 0 if worst <= 1e-5 and not weak else 1


sys.exit(main())
