#!/usr/bin/env bash
# gpu_check.sh — the GPU checks of docs/gpu.md in one short run, for a machine with a GPU where
# nothing can be built or installed: the binaries (built elsewhere with
# `make GPU=1 CUDNN=1 MPI=0 DICOM=0 ARCH=...`: the GPU node has neither OpenMPI nor GDCM) and the shared libraries they need that the machine may lack
# (OpenBLAS, libpng, libjpeg, ...) come in one folder.
#
#   scripts/gpu_check.sh DIR [OUTDIR]
#   DIR/bin: medcolor bench_step test_gpu test_gpu_host     DIR/lib: extra shared libraries
#
# CUDA's own libraries (cudart, cuBLAS, cuDNN 9) are taken from the machine (CUDA toolkit or
# the nvidia-* Python wheels beside PyTorch). Steps, most important first, each with a time
# limit: the host test, the GPU-vs-CPU test (cuDNN and own kernels), training-step times
# against PyTorch on the same GPU (FP32 and TF32), the demo trained end to end on the GPU, one
# epoch of learned colorization on the GPU and on the CPU, and the colour transfer on both.
# Everything is printed and also written to OUTDIR (default ./gpu-check-out).
# STEPS="test bench demo colorize transfer" (the default: all) picks the steps; BENCH_NETS
# (lines "cfg-name stage train|infer|train-adam") replaces the bench's list.
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
STEPS=${STEPS:-test bench demo colorize transfer}
want() { [[ " $STEPS " == *" $1 "* ]]; }
BENCH_NETS=${BENCH_NETS:-"resnet18-pixelshuffle all train
resnet18-pixelshuffle color train
densenet121 all train
resnet18-coloru color train
resnet18 all infer
colorize/unet-resnet18 all train-adam"}
want test && {
  step "machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  nproc; grep -m1 'model name' /proc/cpuinfo
  echo "medcolor's LD_LIBRARY_PATH=$MCLP"
  mc ldd "$D/bin/test_gpu" | grep -E 'not found|cudnn|cublas|cudart|openblas'

  step "test_gpu_host"
  MC_TMP=$(mktemp -d) mc timeout 120 "$D/bin/test_gpu_host" 2>&1 | tail -5
  echo "rc=${PIPESTATUS[0]}"

  step "test_gpu (GPU against the CPU backend: cuDNN, then own kernels)"
  MC_TMP=$(mktemp -d) mc timeout 300 "$D/bin/test_gpu" > "$OUT/test_gpu.log" 2>&1
  rc=$?
  grep -E 'FAIL|SKIP|passed|failed|checks' "$OUT/test_gpu.log" | head -60
  tail -3 "$OUT/test_gpu.log"
  echo "rc=$rc"
} 2>&1 | tee "$OUT/check.log"

want bench && {
  step "training step on the GPU: medcolor against PyTorch (batch 16, 320x320)"
  "$PY" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "cudnn", torch.backends.cudnn.version())'
  mc "$D/bin/medcolor" --version 2>&1 | head -1
  while read -r net stage mode; do
    inf=""; [ "$mode" = infer ] && inf="--infer"; [ "$mode" = train-adam ] && inf="--adam"
    mc timeout 60 "$D/bin/bench_step" "cfg/$net.cfg" --stage "$stage" $inf --gpu 0 --steps 20 --warmup 3 2>&1 | head -2
    MEDCOLOR_TF32=1 mc timeout 60 "$D/bin/bench_step" "cfg/$net.cfg" --stage "$stage" $inf --gpu 0 --steps 20 --warmup 3 2>&1 | head -1 | sed 's/^medcolor/medcolor-tf32/'
    timeout 90 "$PY" scripts/bench_torch.py "$net" --stage "$stage" $inf --device cuda --steps 20 --warmup 3 2>&1 | tail -1
    timeout 90 "$PY" scripts/bench_torch.py "$net" --stage "$stage" $inf --device cuda --tf32 --steps 20 --warmup 3 2>&1 | tail -1 | sed 's/^torch/torch-tf32/'
  done <<< "$BENCH_NETS"
} 2>&1 | tee "$OUT/bench.log"

want demo && {
  step "the demo trained on the GPU (make demo's experiment, --gpu 0)"
  mc timeout 60 "$D/bin/medcolor" demo-data /tmp/gpu-demo > /dev/null 2>&1 || echo "demo-data failed"
  sed "s#build/demo-run#/tmp/gpu-demo-run#" experiments/demo.exp > /tmp/gpu-demo.exp
  SECONDS=0
  MEDCOLOR_DATA=/tmp/gpu-demo mc timeout 200 "$D/bin/medcolor" train /tmp/gpu-demo.exp --gpu 0 --root /tmp/gpu-demo --workers 4 --plain \
    > "$OUT/demo-train.log" 2>&1
  echo "rc=$? seconds=$SECONDS"
  grep -E 'mean AUC' "$OUT/demo-train.log"; tail -4 "$OUT/demo-train.log"
} 2>&1 | tee "$OUT/demo.log"

want colorize && {
  step "learned colorization: one epoch of U-Net ResNet-18 (experiments/demo-colorize.exp) on the GPU and on the CPU"
  mc timeout 60 "$D/bin/medcolor" demo-data --colorize /tmp/gpu-col > /dev/null 2>&1 || echo "demo-data --colorize failed"
  sed "s#build/demo-colorize-run#/tmp/gpu-col-run#; s#build/demo-colorize#/tmp/gpu-col#g" experiments/demo-colorize.exp \
    > /tmp/gpu-col.exp
  for dev in gpu cpu; do
    g=""; [ $dev = gpu ] && g="--gpu 0"
    SECONDS=0
    mc timeout 150 "$D/bin/medcolor" colorize-train /tmp/gpu-col.exp --epochs 1 $g -o /tmp/gpu-col-$dev --plain \
      --overwrite > "$OUT/colorize-$dev.log" 2>&1
    echo "$dev: rc=$? seconds=$SECONDS"
    grep -E 'baseline|^epoch|final' "$OUT/colorize-$dev.log" | tail -4
  done
} 2>&1 | tee "$OUT/colorize.log"

want transfer && {
  step "colour transfer (VGG19, L-BFGS) on the GPU and on the CPU: seeded torchvision VGG19, the e2e case of cli_transfer"
  SECONDS=0
  timeout 150 "$PY" tests/torch/make_transfer_fixtures.py /tmp/gpu-tr > "$OUT/transfer-fixtures.log" 2>&1
  echo "fixtures: rc=$? seconds=$SECONDS"; tail -2 "$OUT/transfer-fixtures.log"
  mc "$D/bin/medcolor" import cfg/vgg19.cfg /tmp/gpu-tr/vgg19.safetensors -o /tmp/gpu-tr/vgg19.weights 2>&1 | tail -1
  cat /tmp/gpu-tr/e2e/expected.txt
  for size in 64 224; do
    for dev in gpu cpu; do
      g=""; [ $dev = gpu ] && g="--gpu 0"
      SECONDS=0
      MC_CPU_WINOGRAD=0 mc timeout 120 "$D/bin/medcolor" transfer cfg/vgg19.cfg /tmp/gpu-tr/vgg19.weights \
        /tmp/gpu-tr/e2e/phantom.png --refs /tmp/gpu-tr/e2e/refs -o /tmp/gpu-tr/out-$dev-$size.png --size $size \
        --init-iters 30 --iters 30 --print-every 0 $g > "$OUT/transfer-$dev-$size.log" 2>&1
      echo "size $size $dev: rc=$? seconds=$SECONDS"
      grep -E '^reference|^passes|best loss' "$OUT/transfer-$dev-$size.log" | tail -3
    done
  done
} 2>&1 | tee "$OUT/transfer.log"
