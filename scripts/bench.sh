#!/usr/bin/env bash
# bench.sh — `make bench`: medcolor against PyTorch on this machine, in the same run.
#
# For each configuration of issue 6 (batch 16, 320x320, one grey input channel through T or the
# grey copy, a training step = forward + backward + SGD update), for ResNet18 inference
# (eval, batch 16) and for the colorization U-Net ResNet-18 (issue 14: batch 16, 256x256, 3 input
# channels, MSE against a 2x256x256 target, an Adam step), runs medcolor (BENCH_BIN, built from bench/bench_step.c) and PyTorch
# (scripts/bench_torch.py), each in its own process one after the other, and prints a table with
# the median step times, the medcolor/PyTorch time ratio (wall clock; also of the CPU time of
# all threads, which a busy machine disturbs less) and each process's peak RSS, then one line per
# configuration `ratio <config> = <number>` (< 1: medcolor faster). Before the table: the CPU's
# vector extensions, OPENBLAS_CORETYPE, the machine's sgemm peak through OpenBLAS and that of the
# float32 GEMM the convolutions run (bench_step --sgemm-peak: on AVX-512 CPUs medcolor's own,
# cpu/gemm_f32.c); in the table each step's GFLOP/s (convolutions and connected layers, the same
# count for both) and medcolor's share of the convolutions' GEMM peak.
#
# bf16 rows: where the CPU has AVX512-BF16, each configuration runs a second time with medcolor's
# --precision bf16 (bench_step --bf16) against PyTorch under torch.autocast("cpu", bfloat16)
# (bench_torch.py --bf16), rows marked "(bf16)"; the bf16 GEMM's peak (bench_step --sgemm-peak
# --bf16) is printed beside the sgemm peak, and the bf16 rows' share is of that peak. BF16=0 leaves
# them out; on a CPU without AVX512-BF16 a line says why they are missing.
#
# Repeats: each float32 row's pair of runs three times, medcolor's first and PyTorch's first in
# turn; the row shown is the pair with the median ratio, and the three ratios are printed with it
# (on a shared machine one pair moves by a third between runs: docs/performance.md). The bf16
# rows, which have no goal, run once.
#
# Environment: QUICK=1 (1 warm-up + 1 timed step instead of 1 + 3, every row once), REPEAT=N
# (every row's pair N times, bf16 rows too; REPEAT=1: one pair per row), THREADS (2), PYTHON
# (/usr/bin/python3), BENCH_BIN (build/bench_step), ONLY (a substring: run only the matching
# configurations, e.g. ONLY=resnet18-pixelshuffle), ISA (avx2: both sides held to AVX2, below).
# The machine should be quiet: the load
# average before and after is printed; on a busy machine repeat and compare ratios, not times.
set -u
cd "$(dirname "$0")/.."
BIN=${BENCH_BIN:-build/bench_step}
PY=${PYTHON:-/usr/bin/python3}
THREADS=${THREADS:-2}
if [ "${QUICK:-0}" = 1 ]; then STEPS=1; WARM=1; else STEPS=${STEPS:-3}; WARM=${WARM:-1}; fi
ONLY=${ONLY:-}
if [ -n "${REPEAT:-}" ]; then REPEAT_FP32=$REPEAT; REPEAT_BF16=$REPEAT
elif [ "${QUICK:-0}" = 1 ]; then REPEAT_FP32=1; REPEAT_BF16=1
else REPEAT_FP32=3; REPEAT_BF16=1; fi
[[ "$REPEAT_FP32" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: REPEAT=$REPEAT_FP32: give a count >= 1"; exit 2; }
[ -x "$BIN" ] || { echo "bench.sh: $BIN missing (make bench builds it)"; exit 1; }
# ISA=avx2: both sides held to AVX2 + FMA on a CPU with AVX-512, to measure what an AVX2 machine
# runs: medcolor as on a CPU without AVX-512 (MC_TEST_NO_AVX512=1: its AVX2 kernels, the same
# bits), PyTorch with ATen's and oneDNN's kernels capped at AVX2; no bf16 rows (AVX512-BF16 is
# AVX-512). docs/performance.md, "An AVX2 machine, emulated on this one".
ISA=${ISA:-}
case "$ISA" in
  "") ;;
  avx2) export MC_TEST_NO_AVX512=1 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 DNNL_MAX_CPU_ISA=AVX2; BF16=0 ;;
  *) echo "bench.sh: ISA=$ISA: the one choice is avx2 (or leave it unset)"; exit 2 ;;
esac

# name  cfg-name  stage  mode (train-adam: Adam instead of SGD)
CONFIGS="resnet18 all train
resnet18-pixelshuffle color train
resnet18-pixelshuffle all train
resnet18-coloru color train
densenet121 all train
densenet121-pixelshuffle color train
resnet18 all infer
colorize/unet-resnet18 all train-adam"

gfs() { # gfs GFLOP SECONDS: GFLOP/s of the same work in that time
  awk -v g="$1" -v t="$2" 'BEGIN{if (g == "" || t <= 0) print "?"; else printf "%.1f", g / t}'
}
pct() { # pct GFLOP SECONDS: that rate as a percentage of the sgemm peak
  awk -v g="$1" -v t="$2" -v p="${PEAK_ROW:-${PEAK:-0}}" 'BEGIN{if (g == "" || t <= 0 || p <= 0) print "?"; else printf "%.0f%%", 100 * g / t / p}'
}
field() { # field NAME LINE
  echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}
run_torch() { # PyTorch's run of the row: sets th, thout
  thout=$("$PY" scripts/bench_torch.py "$net" --stage "$stage" --steps "$STEPS" --warmup "$WARM" --threads "$THREADS" $extra 2>&1)
  th=$(echo "$thout" | grep '^torch ')
}
run_pair() { # medcolor's run of the row (net, stage, extra) and PyTorch's: sets mc, gf, th, thout;
  # `run_pair torch-first` runs PyTorch's first
  local mcout
  [ "${1:-}" = torch-first ] && run_torch
  mcout=$("$BIN" "cfg/$net.cfg" --stage "$stage" --steps "$STEPS" --warmup "$WARM" --threads "$THREADS" $extra 2>&1)
  mc=$(echo "$mcout" | grep '^medcolor ')
  # "  514.2 GFLOP per step (...) = 1234.5 GFLOP/s at the median"
  gf=$(echo "$mcout" | sed -nE 's/^ *([0-9.]+) GFLOP per (step|pass).*/\1/p' | head -1)
  [ "${1:-}" = torch-first ] || run_torch
}
ratio_of() { # ratio_of MODE MEDCOLOR-LINE TORCH-LINE: medcolor's time over PyTorch's
  if [ "$1" = infer ]; then awk -v a="$(field img_per_s "$2")" -v b="$(field img_per_s "$3")" 'BEGIN{printf "%.4f", b/a}'
  else awk -v a="$(field step_median "$2")" -v b="$(field step_median "$3")" 'BEGIN{printf "%.4f", a/b}'; fi
}

echo "medcolor vs PyTorch: batch 16, 320x320 (colorize/: 256x256), $THREADS threads, median of $STEPS step(s) after $WARM warm-up; each float32 row the median of $REPEAT_FP32 pair(s), bf16 rows of $REPEAT_BF16, alternating which side runs first"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "vector ISA: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|amx_bf16)$' | tr '\n' ' ')OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
[ "$ISA" = avx2 ] && echo "ISA=avx2: both held to AVX2 + FMA (medcolor: MC_TEST_NO_AVX512=1; PyTorch: ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2)"
# the machine's float32 GEMM peak through OpenBLAS (every convolution ends in a GEMM): the yardstick
# for the GFLOP/s column below
peak_out=$("$BIN" --sgemm-peak --threads "$THREADS" 2>&1)
peak_line=$(echo "$peak_out" | grep '^sgemm ')
gemm_line=$(echo "$peak_out" | grep '^gemm ')
PEAK=$(field gflops "$peak_line")
echo "sgemm peak (OpenBLAS, 2048^3, $THREADS threads): ${PEAK:-?} GFLOP/s; 1 thread (1024^3): $(field gflops_1thread "$peak_line") GFLOP/s"
# the float32 GEMM the convolutions run: medcolor's own (cpu/gemm_f32.c) on CPUs with AVX-512 or
# AVX2, whose peak is then the yardstick of the % column
kind=$(field kind "$gemm_line")
if [ "$kind" = own-avx512 ] || [ "$kind" = own-avx2 ]; then
  PEAK=$(field gflops "$gemm_line")
  echo "medcolor's float32 GEMM (own ${kind#own-} kernels, the convolutions' GEMM; 2048^3, $THREADS threads): ${PEAK:-?} GFLOP/s; 1 thread (1024^3): $(field gflops_1thread "$gemm_line") GFLOP/s"
else
  echo "medcolor's float32 GEMM: OpenBLAS's (this CPU has no AVX2 with FMA, or MC_CPU_GEMM=openblas)"
fi
PRECS="fp32"
if [ "${BF16:-1}" != 0 ]; then
  if grep -qw avx512_bf16 /proc/cpuinfo; then
    bpeak_line=$("$BIN" --sgemm-peak --bf16 --threads "$THREADS" 2>&1 | grep '^bf16gemm ')
    BPEAK=$(field gflops "$bpeak_line")
    echo "bf16 GEMM peak (medcolor's, bf16 operands, float32 sums, 2048^3, $THREADS threads): ${BPEAK:-?} GFLOP/s; 1 thread (1024^3): $(field gflops_1thread "$bpeak_line") GFLOP/s"
    PRECS="fp32 bf16"
  else
    echo "bf16 rows: none (this CPU lacks AVX512-BF16)"
  fi
fi
echo
rows=""
ratios=""
fail=0
while read -r net stage mode; do
  [ -n "$ONLY" ] && [[ "$net $stage $mode" != *"$ONLY"* ]] && continue
 for prec in $PRECS; do
  extra=""; [ "$mode" = infer ] && extra="--infer"; [ "$mode" = train-adam ] && extra="--adam"
  [ "$prec" = bf16 ] && extra="$extra --bf16"
  # the peak the share column is of, and the row's label
  if [ "$prec" = bf16 ]; then PEAK_ROW=${BPEAK:-0}; tag=" (bf16)"; else PEAK_ROW=${PEAK:-0}; tag=""; fi
  run_pair
  # PyTorch without a bf16 kernel for one of the network's operations (1.13: hardshrink_backward,
  # reached from the PixelShuffle module's hardtanh): a row saying so, medcolor's time alone, not a failure
  nobf=$(echo "$thout" | grep -o "\"[a-z_0-9]*\" not implemented for 'BFloat16'" | head -1)
  if [ -n "$mc" ] && [ -z "$th" ] && [ "$prec" = bf16 ] && [ -n "$nobf" ]; then
    mv=$(field step_median "$mc"); [ "$mode" = infer ] && mv=$(field img_per_s "$mc")
    rows="$rows| $net | $stage$tag | $mv $([ "$mode" = infer ] && echo img/s || echo s) | PyTorch $("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null) cannot: $nobf | - | - | - | - | - | $(field maxrss_mb "$mc") | - |
"
    echo "  done: $net $stage $mode $prec: medcolor $mv, PyTorch cannot ($nobf)" >&2
    continue
  fi
  if [ -z "$mc" ] || [ -z "$th" ]; then
    echo "FAILED: $net $stage $mode $prec (medcolor: '${mc:-no output}', torch: '${th:-no output}')"
    fail=1
    continue
  fi
  # repeats: the pair again, PyTorch's run first in every other repeat (so that a host whose load
  # drifts over the minutes favours neither side), and the row is the pair whose ratio is the
  # median (a shared machine moves single steps by a third between runs: docs/performance.md)
  reps=""
  if [ "$prec" = bf16 ]; then nrep=$REPEAT_BF16; else nrep=$REPEAT_FP32; fi
  if [ "$nrep" -gt 1 ]; then
    pairs=("$mc|$th|$gf")
    for ((rep = 1; rep < nrep; rep++)); do
      if ((rep % 2)); then run_pair torch-first; else run_pair; fi
      [ -n "$mc" ] && [ -n "$th" ] && pairs+=("$mc|$th|$gf")
    done
    med=$(for i in "${!pairs[@]}"; do IFS='|' read -r a b _ <<< "${pairs[$i]}"; echo "$(ratio_of "$mode" "$a" "$b") $i"; done |
          sort -g | awk '{r[NR] = $1; i[NR] = $2} END {m = int((NR + 1) / 2); printf "%s", i[m]; for (k = 1; k <= NR; k++) printf " %.2f", r[k]}')
    reps="; ratios of the ${#pairs[@]} repeats: ${med#* }"
    IFS='|' read -r mc th gf <<< "${pairs[${med%% *}]}"
  fi
  mrss=$(field maxrss_mb "$mc"); trss=$(field maxrss_mb "$th")
  mcpu=$(field cpu_median "$mc"); tcpu=$(field cpu_median "$th")
  cratio=$(awk -v a="$mcpu" -v b="$tcpu" 'BEGIN{printf "%.2f", a/b}')
  if [ "$mode" = infer ]; then
    mv=$(field img_per_s "$mc"); tv=$(field img_per_s "$th")
    ratio=$(awk -v a="$mv" -v b="$tv" 'BEGIN{printf "%.2f", b/a}')
    mt=$(field pass_median "$mc"); tt=$(awk -v b=16 -v v="$tv" 'BEGIN{printf "%.4f", b/v}')
    rows="$rows| $net | inference (eval)$tag | $mv img/s | $tv img/s | $ratio | $cratio | $(gfs "$gf" "$mt") | $(gfs "$gf" "$tt") | $(pct "$gf" "$mt") | $mrss | $trss |
"
  else
    mv=$(field step_median "$mc"); tv=$(field step_median "$th")
    ratio=$(awk -v a="$mv" -v b="$tv" 'BEGIN{printf "%.2f", a/b}')
    rows="$rows| $net | $stage$tag | $mv s | $tv s | $ratio | $cratio | $(gfs "$gf" "$mv") | $(gfs "$gf" "$tv") | $(pct "$gf" "$mv") | $mrss | $trss |
"
  fi
  ratios="${ratios}ratio $net/$stage/$mode$([ "$prec" = bf16 ] && echo /bf16) = $ratio  (medcolor/PyTorch wall-clock time; CPU time ratio $cratio; peak RSS MB $mrss vs $trss$reps)
"
  echo "  done: $net $stage $mode $prec: medcolor $mv, PyTorch $tv, ratio $ratio$reps" >&2
 done
done <<< "$CONFIGS"

echo "| network | stage | medcolor | PyTorch | ratio (time) | ratio (CPU time) | medcolor GFLOP/s | PyTorch GFLOP/s | medcolor % of the GEMM peak (float32: the convolutions' GEMM; bf16 rows: the bf16 GEMM) | medcolor peak RSS MB | PyTorch peak RSS MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf "%s" "$rows"
echo
printf "%s" "$ratios"

# ---- scaling: data-parallel ranks (src/dist/, docs/distributed.md) -------------------------------
# the same network and global batch on the same cores: 2 ranks x 1 thread (mpirun, synchronised
# batch norm, gradients summed after backward) against 1 rank x 2 threads; comm = seconds per step
# in MPI calls, waiting for the slower rank included
SCALE_NET=${SCALE_NET:-resnet18}
if [ -z "$ONLY" ] || [[ "scaling $SCALE_NET" == *"$ONLY"* ]]; then
  one=$("$BIN" "cfg/$SCALE_NET.cfg" --stage all --steps "$STEPS" --warmup "$WARM" --threads 2 2>&1 | grep '^medcolor ')
  if ! command -v mpirun >/dev/null 2>&1; then
    echo "scaling: skipped (mpirun not found: apt-get install openmpi-bin libopenmpi-dev, then make MPI=1)"
  else
    two=$(OMP_NUM_THREADS=1 mpirun --allow-run-as-root --oversubscribe -np 2 "$BIN" "cfg/$SCALE_NET.cfg" --stage all \
          --steps "$STEPS" --warmup "$WARM" --threads 1 --dist 2>&1 | grep '^medcolor ')
    if [ -z "$one" ] || [ -z "$two" ] || ! echo "$two" | grep -q ' ranks=2 '; then
      echo "scaling: FAILED or not built with MPI (1 rank: '${one:-no output}'; 2 ranks: '${two:-no output}')"
      fail=1
    else
      t1=$(field step_median "$one"); t2=$(field step_median "$two"); cm=$(field comm_median "$two")
      sr=$(awk -v a="$t2" -v b="$t1" 'BEGIN{printf "%.2f", a/b}')
      echo
      echo "| scaling ($SCALE_NET all, global batch 16) | step | communication per step |"
      echo "|---|---|---|"
      echo "| 1 rank x 2 threads | $t1 s | - |"
      echo "| 2 ranks x 1 thread (MPI) | $t2 s | $cm s |"
      echo "ratio scaling/$SCALE_NET = $sr  (2 ranks x 1 thread / 1 rank x 2 threads, step time; communication $cm s per step)"
    fi
  fi
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $fail
