#!/usr/bin/env bash
# bench_predict.sh — `medcolor predict` time per image against PyTorch eval, same machine, same run.
#
# For ResNet18+PixelShuffle and DenseNet121+PixelShuffle (320x320, batch 16, THREADS threads):
#  - writes N grey 8-bit PNGs of 320x320 (the input size: used as they are) and a list file;
#  - medcolor: random weights (seed 0, `medcolor import --partial` of a file holding only
#    head.bias), then `medcolor predict cfg w.weights list.txt --batch 16 --threads THREADS`;
#    its own summary line gives ms/image end to end (decode + network) and for the network alone
#    (network construction and weight loading are not counted);
#  - PyTorch (Debian's torch/torchvision; the network of tests/torch/make_network_fixtures.py):
#    the same images decoded with PIL, normalised, batches of 16 under torch.no_grad() in eval
#    mode, torch.set_num_threads(THREADS); one warm-up batch, then all N images timed, end to end
#    and network alone.
# Prints ms/image for both and the ratio medcolor / PyTorch (< 1: medcolor faster), with the load
# average before and after (the machine should be quiet; compare ratios, not times, on a busy one).
#
# Environment: N (images, default 64), THREADS (2), BATCH (16), BIN (./medcolor), PYTHON
# (/usr/bin/python3), ONLY (substring of the network names to run).
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-./medcolor}
PY=${PYTHON:-/usr/bin/python3}
N=${N:-64}
THREADS=${THREADS:-2}
BATCH=${BATCH:-16}
ONLY=${ONLY:-}
[ -x "$BIN" ] || { echo "bench_predict.sh: $BIN missing (run make)"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/bench_predict.XXXXXX")
trap 'rm -rf "$W"' EXIT

"$PY" - "$W" "$N" <<'EOF' || exit 1
import json, os, struct, sys
import numpy as np
from PIL import Image
d, n = sys.argv[1], int(sys.argv[2])
rng = np.random.RandomState(0)
y, x = np.mgrid[0:320, 0:320]
with open(os.path.join(d, "list.txt"), "w") as f:
    for i in range(n):
        g = np.sin(x / rng.uniform(8, 40) + rng.uniform(0, 6)) + np.cos(y / rng.uniform(8, 40))
        g = (g - g.min()) / (g.max() - g.min()) * 0.8 + 0.1 + rng.uniform(-0.05, 0.05, g.shape)
        p = os.path.join(d, "img%03d.png" % i)
        Image.fromarray(np.clip(np.round(g * 255), 0, 255).astype(np.uint8), "L").save(p)
        f.write(p + "\n")
b = np.zeros(5, np.float32).tobytes()  # head.bias only: everything else from the seed
h = json.dumps({"head.bias": {"dtype": "F32", "shape": [5], "data_offsets": [0, len(b)]}}).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(os.path.join(d, "head.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + b)
EOF

echo "predict: $N images 320x320, batch $BATCH, $THREADS threads; $(nproc) cores,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-26s %13s %13s %13s %13s %9s %9s\n' "network" "medcolor" "PyTorch" "medcolor" "PyTorch" "ratio" "ratio"
printf '%-26s %13s %13s %13s %13s %9s %9s\n' "" "ms/img e2e" "ms/img e2e" "ms/img net" "ms/img net" "e2e" "net"
for net in resnet18-pixelshuffle densenet121-pixelshuffle; do
  [ -n "$ONLY" ] && [[ "$net" != *"$ONLY"* ]] && continue
  "$BIN" import "cfg/$net.cfg" "$W/head.safetensors" -o "$W/$net.weights" --partial > /dev/null || exit 1
  line=$("$BIN" predict "cfg/$net.cfg" "$W/$net.weights" "$W/list.txt" --batch "$BATCH" --threads "$THREADS" \
         -o "$W/$net.csv" 2>&1 >/dev/null | grep 'ms/image') || { echo "predict failed"; exit 1; }
  # "medcolor predict: 64 images in 12.3 s: 192.1 ms/image (network 180.0, decoding 12.1) -> ..."
  mc_e2e=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) ms\/image.*/\1/p')
  mc_net=$(echo "$line" | sed -n 's/.*(network \([0-9.]*\),.*/\1/p')
  read -r pt_e2e pt_net < <("$PY" - "$net" "$W/list.txt" "$BATCH" "$THREADS" <<'EOF'
import sys, time
import numpy as np
import torch
from PIL import Image
sys.path.insert(0, "tests/torch")
from make_network_fixtures import Net
name, lst, B, T = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(T)
bb, mod = name.split("-")
model = Net(mod, bb).eval()
paths = [l.strip() for l in open(lst) if l.strip()]
def load(ps):
    a = np.stack([np.asarray(Image.open(p), dtype=np.float32) / 255.0 for p in ps])
    return (torch.from_numpy(a)[:, None] - 0.5028) / 0.2902
with torch.no_grad():
    model(load(paths[:B]))  # warm-up
    net = 0.0
    t0 = time.perf_counter()
    for i in range(0, len(paths), B):
        x = load(paths[i:i + B])
        t1 = time.perf_counter()
        torch.sigmoid(model(x))
        net += time.perf_counter() - t1
    e2e = time.perf_counter() - t0
print("%.1f %.1f" % (1e3 * e2e / len(paths), 1e3 * net / len(paths)))
EOF
)
  r1=$(awk -v a="$mc_e2e" -v b="$pt_e2e" 'BEGIN { printf "%.2f", a / b }')
  r2=$(awk -v a="$mc_net" -v b="$pt_net" 'BEGIN { printf "%.2f", a / b }')
  printf '%-26s %13s %13s %13s %13s %9s %9s\n' "$net" "$mc_e2e" "$pt_e2e" "$mc_net" "$pt_net" "$r1" "$r2"
  echo "ratio $net = $r1"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
