#!/usr/bin/env bash
# bench_transfer.sh — `make bench`'s colour-transfer row: one evaluation of the transfer's
# objective (f and the gradient with respect to the 224x224 image, every term; VGG19 to relu5_1
# forward, backward from six taps) in medcolor (TRANSFER_BENCH, bench/bench_transfer.c) and in
# PyTorch (scripts/bench_transfer_torch.py), one process after the other; prints the median times
# and `ratio transfer/224 = <medcolor/PyTorch wall-clock>` (< 1: medcolor faster).
# Environment: QUICK=1 (1 warm-up + 1 timed evaluation instead of 1 + 3), THREADS (2), PYTHON,
# TRANSFER_BENCH (build/bench_transfer), SIZE (224).
set -u
cd "$(dirname "$0")/.."
BIN=${TRANSFER_BENCH:-build/bench_transfer}
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
SIZE=${SIZE:-224}
if [ "${QUICK:-0}" = 1 ]; then STEPS=1; else STEPS=${STEPS:-3}; fi
[ -x "$BIN" ] || { echo "bench_transfer.sh: $BIN missing (make bench builds it)"; exit 1; }
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
echo
echo "== colour transfer: one f + gradient at ${SIZE}x${SIZE}, $THREADS threads, median of $STEPS after 1 warm-up =="
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
mc=$("$BIN" --size "$SIZE" --steps "$STEPS" --warmup 1 --threads "$THREADS" 2>&1 | grep '^medcolor ')
th=$("$PY" scripts/bench_transfer_torch.py --size "$SIZE" --steps "$STEPS" --warmup 1 --threads "$THREADS" 2>&1 | grep '^torch ')
if [ -z "$mc" ] || [ -z "$th" ]; then
  echo "FAILED: transfer (medcolor: '${mc:-no output}', torch: '${th:-no output}')"
  exit 1
fi
mv=$(field step_median "$mc"); tv=$(field step_median "$th")
mcpu=$(field cpu_median "$mc"); tcpu=$(field cpu_median "$th")
ratio=$(awk -v a="$mv" -v b="$tv" 'BEGIN{printf "%.2f", a/b}')
cratio=$(awk -v a="$mcpu" -v b="$tcpu" 'BEGIN{printf "%.2f", a/b}')
echo "| objective | medcolor | PyTorch | ratio (time) | ratio (CPU time) | medcolor peak RSS MB | PyTorch peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
echo "| transfer f+grad ${SIZE}x${SIZE} | $mv s | $tv s | $ratio | $cratio | $(field maxrss_mb "$mc") | $(field maxrss_mb "$th") |"
echo "ratio transfer/$SIZE = $ratio  (medcolor/PyTorch wall-clock time; CPU time ratio $cratio)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
