#!/usr/bin/env bash
# cli_dist.sh — `medcolor train` under mpirun (docs/distributed.md) and scripts/slurm_train.sh:
#   - the script's srun line (DRY_RUN): --mpi, --kill-on-bad-exit, the experiment and options,
#     --threads from SLURM_CPUS_PER_TASK, --gpu 0 when the job has GPUs and not otherwise;
#     refusals (no .exp);
#   - medcolor info --system says whether the build has MPI;
#   - with MPI and mpirun: 3 ranks and a global batch of 4 are refused with a message naming both
#     numbers and the rank, within seconds; 2 ranks train a short run of the demo network whose
#     files rank 0 alone writes (log.csv has each iteration once); eval on 3 ranks prints exactly
#     what one process prints; predict on 3 ranks writes the CSV one process writes (also when a
#     rank has no image), and a bad image on one rank ends the job naming the rank; run-grid on
#     2 ranks trains each run data-parallel, bit for bit as train on 2 ranks, rank 0 alone printing.
# The mpirun parts skip (exit 77) without an MPI build or mpirun; the library's semantics are
# tested in tests/test_dist.c.
set -u
BIN=${MC_BIN:-./medcolor}
T=${MC_TMP:-$(mktemp -d)}
fail=0
no() { echo "FAIL cli_dist: $*" >&2; fail=1; }

S=scripts/slurm_train.sh
out=$(DRY_RUN=1 SLURM_JOB_GPUS=0,1,2,3 SLURM_CPUS_PER_TASK=8 SLURM_NTASKS=8 MEDCOLOR=$BIN $S experiments/demo.exp -o runs/x 2>&1)
echo "$out" | grep -q -- "srun --mpi=pmix --kill-on-bad-exit=1 $BIN train experiments/demo.exp -o runs/x --plain --threads 8 --gpu 0" ||
  no "slurm_train.sh with GPUs: unexpected command: $out"
out=$(env -u CUDA_VISIBLE_DEVICES DRY_RUN=1 SRUN_MPI=none MEDCOLOR=$BIN $S experiments/demo.exp 2>&1)
echo "$out" | grep -q -- "srun --kill-on-bad-exit=1 $BIN train experiments/demo.exp --plain$" ||
  no "slurm_train.sh without GPUs: unexpected command: $out"
out=$($S cfg/resnet18.cfg 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "the experiment (.exp)" || no "slurm_train.sh with a cfg: exit $rc: $out"

info=$($BIN info --system) || no "info --system failed"
echo "$info" | grep -q "^data-parallel training: " || no "info --system does not say whether MPI is built in: $info"
if ! echo "$info" | grep -q "^data-parallel training: MPI"; then
  # started as one of 2 processes (as mpirun would), a build without MPI refuses, saying how to build
  out=$(OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 $BIN train experiments/demo.exp -o "$T/nompi" 2>&1); rc=$?
  [ $rc -eq 1 ] && echo "$out" | grep -q "one of 2 processes (mpirun/srun), but this medcolor was built without MPI: build it with \`make MPI=1\`" ||
    no "a build without MPI under a launcher: exit $rc: $out"
  [ -e "$T/nompi" ] && no "a build without MPI under a launcher wrote $T/nompi"
  echo "SKIP cli_dist: medcolor built without MPI (make MPI=1): the mpirun checks did not run"
  [ $fail -eq 0 ] && exit 77 || exit 1
fi
if ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIP cli_dist: mpirun not found (apt-get install openmpi-bin)"
  [ $fail -eq 0 ] && exit 77 || exit 1
fi
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
test -f "$T/demo/CheXpert-v1.0-small/valid.csv" ||
  $BIN demo-data "$T/demo" --train 48 --valid 16 --width 40 --height 48 >/dev/null || no "demo-data"
cat > "$T/demo.data" <<DATA
format = chexpert
root = $T/demo
train = CheXpert-v1.0-small/train.csv
valid = CheXpert-v1.0-small/valid.csv
labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones
DATA
cat > "$T/tiny.cfg" <<CFG
[net]
batch=4
width=32
height=32
channels=1
[convolutional]
name=t1
group=color
filters=4
size=3
padding=1
batch_normalize=1
activation=leaky
[convolutional]
name=t2
group=color
filters=3
size=1
[convolutional]
name=e1
group=backbone
filters=8
size=3
stride=2
padding=1
batch_normalize=1
activation=relu
[avgpool]
group=backbone
[connected]
name=head
group=head
output=5
[cost]
group=head
CFG
cat > "$T/run.exp" <<EXP
[experiment]
net = $T/tiny.cfg
data = $T/demo.data
output = $T/run
threads = 1
[stage]
stage = color
max_lr = 1e-2
epochs = 1
max_iters = 6
checkpoint_every = 3
EXP
start=$(date +%s)
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN train "$T/run.exp" --plain 2>&1); rc=$?
secs=$(( $(date +%s) - start ))
[ $rc -ne 0 ] || no "3 ranks, batch 4: accepted"
echo "$out" | grep -q "rank [0-2] of 3 (host .*): .*the batch of 4 does not divide among 3 processes" ||
  no "3 ranks, batch 4: the message does not name the rank, the batch and the processes: $out"
[ "$secs" -lt 60 ] || no "3 ranks, batch 4: the job took $secs s to end"
rm -rf "$T/run"
out=$(OMP_NUM_THREADS=1 timeout 300 $MPIRUN -np 2 $BIN train "$T/run.exp" --plain 2>&1); rc=$?
[ $rc -eq 0 ] || no "2 ranks: exit $rc: $out"
echo "$out" | grep -q "2 processes (data-parallel)" || no "2 ranks: no line saying so: $out"
[ -f "$T/run/1-color/DONE" ] && [ -f "$T/run/1-color/best.weights" ] || no "2 ranks: the stage's files are missing"
n=$(grep -c '^color,' "$T/run/log.csv" 2>/dev/null || echo 0)
[ "$n" -eq 6 ] || no "2 ranks: log.csv has $n rows of the stage, not 6 (one per iteration, rank 0 alone)"
# eval over 3 ranks (16 images: the last batch's parts are short or empty) prints (stdout) what one
# process prints
one=$($BIN eval "$T/run" --quiet --batch 2 2>"$T/eval1.err") || no "eval: $(cat "$T/eval1.err")"
three=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN eval "$T/run" --quiet --batch 2 2>"$T/eval3.err") ||
  no "eval on 3 ranks: $(cat "$T/eval3.err")"
[ "$one" = "$three" ] || no "eval on 3 ranks differs from one process:
$one
---
$three"
# predict over 3 ranks: 7 images (parts of 2, 2, 3), batch 2, write the CSV (rank 0) that one process
# writes, byte for byte; 2 images (rank 0 has none) to stdout the same; an undecodable image on
# rank 2 ends the job naming rank and image, and no CSV is written
find "$T/demo/CheXpert-v1.0-small/valid" -name '*.jpg' | sort | head -7 > "$T/seven.txt"
$BIN predict "$T/run" "$T/seven.txt" --batch 2 -o "$T/p1.csv" --quiet 2>"$T/p1.err" || no "predict: $(cat "$T/p1.err")"
OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN predict "$T/run" "$T/seven.txt" --batch 2 -o "$T/p3.csv" --quiet \
  2>"$T/p3.err" || no "predict on 3 ranks: $(cat "$T/p3.err")"
[ "$(wc -l < "$T/p1.csv")" -eq 8 ] && cmp -s "$T/p1.csv" "$T/p3.csv" || no "predict on 3 ranks: a CSV other than one process's:
$(cat "$T/p1.csv")
---
$(cat "$T/p3.csv" 2>&1)"
grep -q "7 images on 3 processes (rank 0: 2 in" "$T/p3.err" || no "predict on 3 ranks does not say so: $(cat "$T/p3.err")"
head -2 "$T/seven.txt" > "$T/two.txt"
one=$($BIN predict "$T/run" "$T/two.txt" --quiet 2>/dev/null)
three=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN predict "$T/run" "$T/two.txt" --quiet 2>"$T/p3.err") ||
  no "predict of 2 images on 3 ranks: $(cat "$T/p3.err")"
[ -n "$one" ] && [ "$one" = "$three" ] || no "predict of 2 images on 3 ranks differs from one process: [$one] [$three]"
echo "not an image" > "$T/bad.jpg"
{ head -6 "$T/seven.txt"; echo "$T/bad.jpg"; } > "$T/bad.txt"
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN predict "$T/run" "$T/bad.txt" --batch 2 -o "$T/pb.csv" --quiet 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"medcolor predict: rank 2 of 3 (host "*"): $T/bad.jpg: not a PNG, JPEG or DICOM file"* ]] &&
  [ ! -e "$T/pb.csv" ] || no "predict on 3 ranks, a bad image on rank 2: rc $rc: $out"
# run-grid under mpirun: each run data-parallel over the ranks (a run with several GPUs), the
# same weights, bit for bit, as `mpirun -np 2 medcolor train` of the run's own experiment; rank 0
# alone prints; a second pass skips the finished run
mkdir -p "$T/gcfg" && cp "$T/tiny.cfg" "$T/gcfg/tiny-color.cfg"
cat > "$T/g.grid" <<GRID
[grid]
data = $T/demo.data
cfg_dir = $T/gcfg
backbones = tiny
seeds = 1
batch = 4
workers = 1
threads = 1
epochs = 1
max_iters = 6
checkpoint_every = 3
max_lr = 1e-2
[chain]
modules = color
stages = color
GRID
$BIN grid "$T/g.grid" -o "$T/g2" > /dev/null || no "grid"
G="$T/g2/tiny-color_color_seed1"
out=$(OMP_NUM_THREADS=1 timeout 300 $MPIRUN -np 2 $BIN run-grid "$T/g2" --plain 2>&1); rc=$?
[ $rc -eq 0 ] || no "run-grid on 2 ranks: exit $rc: $out"
[ "$(echo "$out" | grep -c '^\[1/1\] tiny-color_color_seed1: start$')" -eq 1 ] || no "run-grid on 2 ranks: not one start line: $out"
echo "$out" | grep -q "2 processes: each run data-parallel" || no "run-grid on 2 ranks: no line saying so: $out"
[ "$(grep -c '^color,' "$G/log.csv" 2>/dev/null)" = 6 ] || no "run-grid on 2 ranks: log.csv has not 6 rows of the stage"
OMP_NUM_THREADS=1 timeout 300 $MPIRUN -np 2 $BIN train "$G/experiment.exp" -o "$T/gtrain" --quiet > /dev/null 2>&1 ||
  no "train of the grid run's experiment on 2 ranks failed"
cmp -s "$G/1-color/best.weights" "$T/gtrain/1-color/best.weights" ||
  no "run-grid on 2 ranks and train on 2 ranks gave other weights"
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 2 $BIN run-grid "$T/g2" 2>&1) || no "run-grid again on 2 ranks: $out"
[ "$(echo "$out" | grep -c 'finished before, skipped')" -eq 1 ] || no "run-grid again on 2 ranks: $out"

mkdir -p "$T/fimg"; i=0
while read -r f; do i=$((i + 1)); cp "$f" "$T/fimg/i$i.jpg"; echo "$T/fimg/i$i.jpg"; done < "$T/seven.txt" > "$T/fseven.txt"
# colorize (T's view) over 3 ranks: each its part of the 7 images, rank 0 prints every line in
# order: the lines and the files one process writes
one=$($BIN colorize "$T/run" "$T/fseven.txt" -o "$T/col1" 2>"$T/col1.err") || no "colorize: $(cat "$T/col1.err")"
three=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN colorize "$T/run" "$T/fseven.txt" -o "$T/col3" 2>"$T/col3.err") ||
  no "colorize on 3 ranks: $(cat "$T/col3.err")"
[ "$(echo "$one" | wc -l)" -eq 7 ] && [ "$one" = "$(echo "$three" | sed "s|$T/col3|$T/col1|")" ] && [ "$(ls "$T/col1" | wc -l)" -eq 14 ] &&
  diff -r "$T/col1" "$T/col3" > /dev/null || no "colorize on 3 ranks: other lines or files than one process's: [$one] [$three]"

# features over 3 ranks: 7 images, two layers: the tensors one process writes (in eval mode an
# image's outputs do not depend on the images beside it, but a batch cut otherwise may cut the
# GEMMs otherwise: compared to 1e-6 of each tensor's largest value; identical here); an
# undecodable image on rank 2 ends the job naming it, and nothing is written
$BIN features "$T/run" "$T/fseven.txt" --layer t1 --layer -1 --batch 2 -o "$T/f1.safetensors" --quiet 2>"$T/f1.err" ||
  no "features: $(cat "$T/f1.err")"
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN features "$T/run" "$T/fseven.txt" --layer t1 --layer -1 --batch 2 \
  -o "$T/f3.safetensors" 2>&1) || no "features on 3 ranks: $out"
/usr/bin/python3 - "$T/f1.safetensors" "$T/f3.safetensors" <<'PY' || no "features on 3 ranks: other values than one process's"
import json, struct, sys
def read(p):
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); d = b[8 + n:]
    return {k: struct.unpack('<%df' % ((v['data_offsets'][1] - v['data_offsets'][0]) // 4), d[v['data_offsets'][0]:v['data_offsets'][1]])
            for k, v in h.items() if k != '__metadata__'}, h.get('__metadata__')
a, ma = read(sys.argv[1]); b, mb = read(sys.argv[2])
assert sorted(a) == sorted(b) and len(a) == 14 and ma == mb, (sorted(a), sorted(b), ma, mb)
# float32 rounding of the same sums cut otherwise: 1e-6 of the layer's largest value
worst = max(max(abs(x - y) for x, y in zip(a[k], b[k])) / max(1e-30, max(abs(x) for x in a[k])) for k in a)
print("  features on 3 ranks: 14 tensors, worst difference %.1e of the tensor's largest value" % worst)
assert worst <= 1e-6, worst
PY
{ head -6 "$T/fseven.txt"; echo "$T/bad.jpg"; } > "$T/fbad.txt"
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN features "$T/run" "$T/fbad.txt" --batch 2 -o "$T/fb.safetensors" --quiet 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"medcolor features: rank 2 of 3 (host "*"): $T/bad.jpg: not a PNG, JPEG or DICOM file"* ]] &&
  [ ! -e "$T/fb.safetensors" ] || no "features on 3 ranks, a bad image on rank 2: rc $rc: $out"

# colorize-train (learned colorization, issue 14) over 2 ranks: global batch 4 (2 each) of the same
# order, gradients summed, batch norm synchronised: every line a one-process run prints (6 digits,
# the seconds aside) and the log.csv values (6 digits) the same; rank 0 alone writes; stopped on 2
# ranks after an epoch and resumed on 1, the same final line; batch 4 on 3 ranks refused once
"$BIN" demo-data --colorize "$T/cd" --train 16 --valid 8 --width 24 > /dev/null || no "demo-data --colorize"
CA=(--train "$T/cd/color/train" --val "$T/cd/color/val" --per-class 8 --val-per-class 4 --epochs 3 --lr 1e-2 --quiet --threads 1)
strip() { sed -E 's/ [0-9.]+s( \(best\))?$//; s/: .*best.weights\)$//' "$1"; }
$BIN colorize-train tests/data/tiny_unet.cfg "${CA[@]}" -o "$T/c1" > "$T/c1.txt" 2>&1 || no "colorize-train: $(cat "$T/c1.txt")"
OMP_NUM_THREADS=1 timeout 300 $MPIRUN -np 2 $BIN colorize-train tests/data/tiny_unet.cfg "${CA[@]}" -o "$T/c2" > "$T/c2.txt" 2>&1 ||
  no "colorize-train on 2 ranks: $(cat "$T/c2.txt")"
[ "$(grep -c '^epoch ' "$T/c2.txt")" -eq 3 ] && [ "$(strip "$T/c1.txt")" = "$(strip "$T/c2.txt")" ] ||
  no "colorize-train on 2 ranks prints other numbers than one process: $(diff <(strip "$T/c1.txt") <(strip "$T/c2.txt"))"
# log.csv holds 10 digits: the two sums of a batch differ in the last of them (float rounding: a
# 2-rank sum of the gradients and the loss is added in another order), so 6 are compared
six() { awk -F, 'NR > 1 { printf "%s,%s", $1, $2; for (i = 3; i <= 6; i++) printf ",%.6g", $i; print "" }' "$1"; }
six "$T/c1/log.csv" > "$T/c1.log"; six "$T/c2/log.csv" > "$T/c2.log"
[ "$(wc -l < "$T/c2.log")" -eq 4 ] && cmp -s "$T/c1.log" "$T/c2.log" || no "colorize-train on 2 ranks: log.csv differs: $(diff "$T/c1.log" "$T/c2.log")"
[ -f "$T/c2/DONE" ] && [ -f "$T/c2/samples/epoch-003.png" ] || no "colorize-train on 2 ranks: files missing"
# validation is sharded (each rank its half of the 8 images, per-image values and the sample
# sheet's cells summed): the sheet, whose 4 images come from both halves, is one process's
cmp -s "$T/c1/samples/epoch-003.png" "$T/c2/samples/epoch-003.png" || no "colorize-train on 2 ranks: another sample sheet"
OMP_NUM_THREADS=1 timeout 300 $MPIRUN -np 2 $BIN colorize-train tests/data/tiny_unet.cfg "${CA[@]}" -o "$T/c3" --stop-after 4 > "$T/c3.txt" 2>&1 ||
  no "colorize-train on 2 ranks, --stop-after 4: $(cat "$T/c3.txt")"
[ ! -e "$T/c3/DONE" ] && [ "$(grep -c '^epoch ' "$T/c3.txt")" -eq 1 ] || no "colorize-train on 2 ranks did not stop after epoch 1: $(cat "$T/c3.txt")"
$BIN colorize-train "$T/c3/experiment.exp" --resume --quiet > "$T/c3b.txt" 2>&1 || no "resume on 1 process: $(cat "$T/c3b.txt")"
[ "$(strip "$T/c3b.txt" | tail -1)" = "$(strip "$T/c1.txt" | tail -1)" ] ||
  no "stopped on 2 ranks, resumed on 1: $(tail -1 "$T/c3b.txt"), not $(tail -1 "$T/c1.txt")"
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN colorize-train tests/data/tiny_unet.cfg "${CA[@]}" -o "$T/c4" 2>&1); rc=$?
[ $rc -ne 0 ] && [ "$(echo "$out" | grep -c 'the batch of 4 does not divide among 3 processes')" -eq 1 ] ||
  no "colorize-train, batch 4 on 3 ranks: rc $rc, not one message: $out"
# colorize-predict over 3 ranks: 5 images (parts of 1, 2, 2), each rank writes its own PNGs: the
# files one process writes, byte for byte; an undecodable image on rank 2 ends the job naming both
ls "$T"/cd/color/train/*/*.png | awk -F/ '!seen[$NF]++' | head -5 > "$T/five.txt"
$BIN colorize-predict "$T/c1" "$T/five.txt" -o "$T/cp1" --quiet 2>"$T/cp1.err" || no "colorize-predict: $(cat "$T/cp1.err")"
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN colorize-predict "$T/c1" "$T/five.txt" -o "$T/cp3" 2>&1) ||
  no "colorize-predict on 3 ranks: $out"
[[ "$out" == *"5 images written to $T/cp3/ (3 processes)"* ]] || no "colorize-predict on 3 ranks does not say so: $out"
[ "$(ls "$T/cp1" | wc -l)" -eq 5 ] && diff -r "$T/cp1" "$T/cp3" > /dev/null || no "colorize-predict on 3 ranks: other files than one process's"
{ head -4 "$T/five.txt"; echo "$T/bad.jpg"; } > "$T/cbad.txt"
out=$(OMP_NUM_THREADS=1 timeout 120 $MPIRUN -np 3 $BIN colorize-predict "$T/c1" "$T/cbad.txt" -o "$T/cpb" --quiet 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"medcolor colorize-predict: rank 2 of 3 (host "*"): $T/bad.jpg: not a PNG, JPEG or DICOM file"* ]] ||
  no "colorize-predict on 3 ranks, a bad image on rank 2: rc $rc: $out"

[ $fail -eq 0 ] && echo "cli_dist                       slurm_train.sh, mpirun: batch refused on 3 ranks, 2-rank run, 3-rank eval and predict, 2-rank run-grid, 2-rank colorize-train (resumed on 1), 3-rank colorize, colorize-predict and features ok"
exit $fail
