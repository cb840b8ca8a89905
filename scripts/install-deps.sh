#!/usr/bin/env bash
# Installs what medcolor needs on Debian 12 (run as root, or as a user who may use sudo).
#   build: gcc, g++, make, OpenBLAS, libpng, libjpeg, zlib, OpenMPI (mpicc, mpirun: data-parallel
#          training over several processes, docs/distributed.md; `make` uses it when mpicc is found),
#          GDCM (DICOM images, JPEG 2000 / JPEG-LS / JPEG / RLE, docs/dicom.md; `make` uses it when
#          its headers are found)
#   tests: Debian's PyTorch + torchvision (the reference the tests compare with), numpy, PIL,
#          darknet (its libdarknet.so checks .cfg/.weights compatibility), scipy (L-BFGS-B, the
#          reference of src/optim/) and scikit-image (rgb2lab, SSIM); without the last two the
#          tests that need them skip those comparisons; pydicom and GDCM's gdcmconv (the DICOM
#          tests' reference and their compressed copies; without them those tests skip)
# GPU builds additionally need CUDA 13 + cuDNN 9 under /usr/local/cuda (not installed here); with
# OpenMPI installed they also link NCCL (libnccl.so.2, installed with the CUDA toolkit there).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-deps.sh: installing packages needs root, and sudo is not installed:" >&2
    echo "  run it as root (su -c ./scripts/install-deps.sh), or install sudo first" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential libopenblas-dev libpng-dev libjpeg-dev zlib1g-dev openmpi-bin libopenmpi-dev libgdcm-dev \
    python3 python3-torch python3-torchvision python3-numpy python3-pil darknet \
    python3-scipy python3-skimage python3-pydicom libgdcm-tools >/dev/null
echo "medcolor: dependencies installed"
