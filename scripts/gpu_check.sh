#!/usr/bin/env bash
# gpu_check.sh — the GPU checks of docs/gpu.md in one short run, for a machine with a GPU where
# nothing can be built or installed: the binaries (built elsewhere with
# `make GPU=1 CUDNN=1 ARCH=...`) and the shared libraries they need that the machine may lack
# (OpenBLAS, libpng, libjpeg, ...) come in one folder.
#
#   scripts/gpu_check.sh DIR [OUTDIR]
#   DIR/bin: medcolor bench_step test_gpu test_gpu_host     DIR/lib: extra shared libraries
#
# CUDA's own libraries (cudart, cuBLAS, cuDNN 9) are taken from the machine (CUDA toolkit or
# the nvidia-* Python wheels beside PyTorch). Steps, most important first, each with a time
# limit: the host test, the GPU-vs-CPU test (cuDNN and own kernels), training-step times
# against PyTorch on the same GPU (FP32 and TF32), and the demo trained end to end on the GPU.
# Everything is printed and also written to OUTDIR (default ./gpu-check-out).
set -u
D=$(cd "$1" && pwd)
OUT=${2:-gpu-check-out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
libdir() { # the folder of the first file named $1 under /usr /opt
  local f
  f=$(find /usr/local /usr/lib /opt -name "$1" 2>/dev/null | head -1)
  [ -n "$f" ] && dirname "$f"
}
LP="$D/lib"
for l in libcudnn.so.9 libcublas.so.13 libcudart.so.13; do
  d=$(libdir $l) && LP="$LP:$d"
done
# only for medcolor's binaries: PyTorch brings its own cuDNN, and an older one found first through
# LD_LIBRARY_PATH stops it ("cuDNN version incompatibility", seen on the first run)
MCLP="$LP${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mc() { LD_LIBRARY_PATH="$MCLP" "$@"; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
step() { echo; echo "=== $* ==="; }
{
  step "machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nproc; grep -m1 'model name' /proc/cpuinfo
  echo "medcolor's LD_LIBRARY_PATH=$MCLP"
  mc ldd "$D/bin/test_gpu" | grep -E 'not found|cudnn|cublas|cudart|openblas'

  step "test_gpu_host"
  MC_TMP=$(mktemp -d) mc timeout 120 "$D/bin/test_gpu_host" 2>&1 | tail -5
  echo "rc=${PIPESTATUS[0]}"

  step "test_gpu (GPU against the CPU backend: cuDNN, then own kernels)"
  MC_TMP=$(mktemp -d) mc timeout 240 "$D/bin/test_gpu" > "$OUT/test_gpu.log" 2>&1
  rc=$?
  grep -E 'FAIL|SKIP|passed|failed|checks' "$OUT/test_gpu.log" | head -60
  tail -3 "$OUT/test_gpu.log"
  echo "rc=$rc"
} 2>&1 | tee "$OUT/check.log"

{
  step "training step on the GPU: medcolor against PyTorch (batch 16, 320x320)"
  "$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cudnn", torch.backends.cudnn.version())'
  mc "$D/bin/medcolor" --version 2>&1 | head -1
  while read -r net stage mode; do
    inf=""; [ "$mode" = infer ] && inf="--infer"
    mc timeout 60 "$D/bin/bench_step" "cfg/$net.cfg" --stage "$stage" $inf --gpu 0 --steps 20 --warmup 3 2>&1 | head -2
    MEDCOLOR_TF32=1 mc timeout 60 "$D/bin/bench_step" "cfg/$net.cfg" --stage "$stage" $inf --gpu 0 --steps 20 --warmup 3 2>&1 | head -1 | sed 's/^medcolor/medcolor-tf32/'
    timeout 90 "$PY" scripts/bench_torch.py "$net" --stage "$stage" $inf --device cuda --steps 20 --warmup 3 2>&1 | tail -1
    timeout 90 "$PY" scripts/bench_torch.py "$net" --stage "$stage" $inf --device cuda --tf32 --steps 20 --warmup 3 2>&1 | tail -1 | sed 's/^torch/torch-tf32/'
  done <<'EOF'
resnet18-pixelshuffle all train
resnet18-pixelshuffle color train
densenet121 all train
resnet18-coloru color train
resnet18 all infer
EOF
} 2>&1 | tee "$OUT/bench.log"

{
  step "the demo trained on the GPU (make demo's experiment, --gpu 0)"
  mc timeout 60 "$D/bin/medcolor" demo-data /tmp/gpu-demo > /dev/null 2>&1 || echo "demo-data failed"
  sed "s#build/demo-run#/tmp/gpu-demo-run#" experiments/demo.exp > /tmp/gpu-demo.exp
  SECONDS=0
  MEDCOLOR_DATA=/tmp/gpu-demo mc timeout 200 "$D/bin/medcolor" train /tmp/gpu-demo.exp --gpu 0 --root /tmp/gpu-demo --workers 4 --plain \
    > "$OUT/demo-train.log" 2>&1
  echo "rc=$? seconds=$SECONDS"
  grep -E 'mean AUC' "$OUT/demo-train.log"; tail -4 "$OUT/demo-train.log"
} 2>&1 | tee "$OUT/demo.log"
