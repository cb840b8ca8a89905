#!/usr/bin/env bash
# A full disk, a killed run and a signal lose no data.
#
# A short training run (color stage, 12 iterations, a checkpoint every 4) is stopped at
# iteration 4. Then:
#   - the log gets rows written after that checkpoint, as a run killed between checkpoints
#     leaves them;
#   - the disk is full at the start of `train --resume`, then full in the middle of the run (the
#     first checkpoint write fails). Each time: exit code 1, a one-line error that names the
#     file and says why, the checkpoint and best weights untouched, no temporary file left;
#   - with space again, `--resume` finishes, and the weights are byte-identical to an
#     uninterrupted run's, and log.csv / valid.csv hold every iteration once, with the same
#     values as the uninterrupted run.
# The full disk is a small tmpfs in a private mount namespace (`unshare -rm`, or a plain mount
# when that is refused but we are root); where neither is allowed (some containers), a file size
# limit (`ulimit -f`, EFBIG instead of ENOSPC) stands in for it, and the test says so.
set -u
BIN=${MC_BIN:-./medcolor}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
T=$MC_TMP/diskfull
rm -rf "$T"
mkdir -p "$T"
fail=0
ck() { if ! eval "$1"; then echo "FAIL cli_diskfull: $2"; fail=1; fi; }

"$BIN" demo-data "$T/demo" --train 96 --valid 48 --width 40 --height 48 --seed 4 >/dev/null || { echo "FAIL cli_diskfull: demo-data"; exit 1; }
# a network whose weights (~18 KB) and checkpoint (~37 KB) span several 4 KiB pages
cat > "$T/tiny.cfg" <<'CFG'
[net]
batch=8
width=32
height=32
channels=1
[convolutional]
name=t
group=color
filters=3
size=3
padding=1
[convolutional]
name=e1
group=backbone
filters=128
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
cat > "$T/demo.data" <<DATA
format = chexpert
root = $T/demo
train = CheXpert-v1.0-small/train.csv
valid = CheXpert-v1.0-small/valid.csv
labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones
DATA
ARGS=(--stages color --epochs 1 --checkpoint-every 4 --seed 5 --quiet --threads 2)
"$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$T/ref" "${ARGS[@]}" >/dev/null 2>&1 || { echo "FAIL cli_diskfull: reference run"; exit 1; }

# the scenario, run in the folder FS; LIMIT (optional): a `ulimit -f` in KiB instead of a full disk
cat > "$T/scenario.sh" <<'SCEN'
set -u
FS=$1; MODE=$2
R=$FS/run
fail=0
ck() { if ! eval "$1"; then echo "FAIL cli_diskfull ($MODE): $2"; fail=1; fi; }
sums() { md5sum "$R/1-color/checkpoint.safetensors" "$R/1-color/best.weights" "$R/experiment.exp" 2>&1; }
"$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$R" "${ARGS[@]}" --stop-after 4 >/dev/null 2>&1
ck '[ $? -eq 0 ] && [ -s "$R/1-color/checkpoint.safetensors" ] && [ ! -e "$R/1-color/DONE" ]' "stopped run at iteration 4"
# rows a run killed at iteration 6 would have left after the checkpoint of iteration 4
echo "color,1,5,9.999999,1.0e-03,0.900000,1.000" >> "$R/log.csv"
echo "color,1,6,9.999999,1.0e-03,0.900000,1.100" >> "$R/log.csv"
before=$(sums)
# (1) no space at all when the resumed run starts
if [ "$MODE" = tmpfs ]; then
  dd if=/dev/zero of="$FS/filler" bs=4k >/dev/null 2>&1
  out=$("$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$R" "${ARGS[@]}" --resume 2>&1); rc=$?
  ck '[ $rc -eq 1 ] && [ $(printf "%s\n" "$out" | wc -l) -eq 1 ] && [[ "$out" == *"$R/"*"No space left on device"* ]]' "full disk at the start: rc $rc, message: $out"
  ck '[ "$(sums)" = "$before" ]' "full disk at the start changed the checkpoint or weights"
  ck '[ -z "$(find "$R" -name "*.tmp.*")" ]' "full disk at the start left temporary files: $(find "$R" -name "*.tmp.*")"
  # (2) room for the settings and the log, not for the weights: the first checkpoint write fails
  truncate -s -16K "$FS/filler"
  out=$("$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$R" "${ARGS[@]}" --resume 2>&1); rc=$?
else
  out=$( (trap '' XFSZ; ulimit -f 8; exec "$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$R" "${ARGS[@]}" --resume) 2>&1); rc=$?
fi
why="No space left on device"; [ "$MODE" = tmpfs ] || why="File too large"
ck '[ $rc -eq 1 ] && [ $(printf "%s\n" "$out" | wc -l) -eq 1 ] && [[ "$out" == *"$R/1-color/"*"$why"* ]]' "disk full at a checkpoint: rc $rc, message: $out"
ck '[ "$(sums | grep -v experiment.exp)" = "$(printf "%s\n" "$before" | grep -v experiment.exp)" ]' "a failed checkpoint changed the last good one: $(sums)"
ck '[ -z "$(find "$R" -name "*.tmp.*")" ]' "a failed checkpoint left temporary files: $(find "$R" -name "*.tmp.*")"
rm -f "$FS/filler"
# (3) space again: the run resumes from the last good checkpoint and ends as if never stopped
out=$("$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$R" "${ARGS[@]}" --resume 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ -e "$R/1-color/DONE" ]' "resume after the full disk: rc $rc: $out"
for f in 1-color/best.weights 1-color/last.weights; do
  ck 'cmp -s "$R/$f" "$T/ref/$f"' "$f differs from the uninterrupted run's"
done
ck '[ "$(cut -d, -f1-6 "$R/log.csv")" = "$(cut -d, -f1-6 "$T/ref/log.csv")" ]' "log.csv differs from the uninterrupted run's (each iteration once): $(cut -d, -f1-3 "$R/log.csv" | tr '\n' ' ')"
ck 'cmp -s "$R/1-color/valid.csv" "$T/ref/1-color/valid.csv"' "valid.csv differs from the uninterrupted run's"
exit $fail
SCEN
export BIN T
export ARGS_STR="${ARGS[*]}"
# arrays do not cross processes: the scenario rebuilds ARGS from ARGS_STR
sed -i '2i read -r -a ARGS <<< "$ARGS_STR"' "$T/scenario.sh"

mnt() { mkdir -p "$T/fs" && mount -t tmpfs -o size=2m tmpfs "$T/fs" && bash "$T/scenario.sh" "$T/fs" tmpfs; r=$?; umount "$T/fs"; return $r; }
export -f mnt
modes=""
if unshare -rm true 2>/dev/null; then
  unshare -rm bash -c 'mnt' || fail=1
  modes="tmpfs (unshare)"
elif [ "$(id -u)" = 0 ] && mkdir -p "$T/probe" && mount -t tmpfs -o size=64k tmpfs "$T/probe" 2>/dev/null; then
  umount "$T/probe"
  mnt || fail=1
  modes="tmpfs (mount)"
else
  echo "cli_diskfull: no tmpfs can be mounted here; a file size limit (ulimit -f) stands in for the full disk"
fi
mkdir -p "$T/lim"
bash "$T/scenario.sh" "$T/lim" ulimit || fail=1
modes="${modes:+$modes + }ulimit -f"
# A signal (Ctrl-C; SLURM's SIGTERM at a time limit) between checkpoints: the run writes a
# checkpoint after the current iteration, exits 128 + the signal's number, and --resume ends
# byte-identical to an uninterrupted run. The signal is sent once the first checkpoint
# (iteration 50 of 480) exists, so it lands between checkpoints in all but a rare race, in which
# the stop coincides with a regular checkpoint: the outcome must be the same then too.
sigs=""
LONG=(--stages color --epochs 40 --checkpoint-every 50 --seed 5 --threads 2)
"$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$T/sref" "${LONG[@]}" --quiet >/dev/null 2>&1 || { echo "FAIL cli_diskfull: long reference run"; fail=1; }
for sig in INT TERM; do
  R=$T/sig-$sig
  "$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$R" "${LONG[@]}" --plain >"$R.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 3000); do [ -e "$R/1-color/checkpoint.safetensors" ] && break; sleep 0.01; done
  kill -$sig $pid
  wait $pid; rc=$?
  want=$((128 + $(kill -l $sig)))
  ck '[ $rc -eq $want ] && grep -q "interrupted at iteration" "$R.out" && [ ! -e "$R/1-color/DONE" ]' "SIG$sig: rc $rc (want $want): $(tail -2 "$R.out")"
  "$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$R" "${LONG[@]}" --resume --quiet >/dev/null 2>&1
  ck '[ $? -eq 0 ] && [ -e "$R/1-color/DONE" ]' "SIG$sig: the resumed run did not finish"
  for f in 1-color/best.weights 1-color/last.weights 1-color/valid.csv; do
    ck 'cmp -s "$R/$f" "$T/sref/$f"' "SIG$sig: $f differs from the uninterrupted run's"
  done
  ck '[ "$(cut -d, -f1-6 "$R/log.csv")" = "$(cut -d, -f1-6 "$T/sref/log.csv")" ]' "SIG$sig: log.csv differs from the uninterrupted run's"
  at=$(grep -o "interrupted at iteration [0-9]*" "$R.out" | grep -o "[0-9]*$")
  sigs="$sigs SIG$sig@${at:-?}"
done
[ $fail -eq 0 ] && echo "cli_diskfull                   stopped by$sigs: checkpointed, resumed byte-identical"
[ $fail -eq 0 ] && echo "cli_diskfull                   full disk and killed run lose nothing; resume identical [$modes]"
exit $fail
