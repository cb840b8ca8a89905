#!/usr/bin/env bash
# cli_badinput.sh — values that used to be replaced or accepted silently are errors naming the
# option (or file:line) and the value, in one line, before anything runs: the option table's
# ranges (src/cli/args.c), max_lr / weight decay / subset / stages in .exp files and on the
# command line, a color stage on a network without group color, --resume with no run, a rerun
# into a folder that holds a run (refused without --resume or --overwrite), a failed start that
# leaves nothing behind, lrfind's --iters; stats --check-files opening every image (and listing
# every bad one), stats going on past an empty split and saying where the datasets are looked for.
set -u
BIN=${MC_BIN:-./medcolor}
T=$MC_TMP
fail=0
ck() { if ! eval "$1"; then echo "FAIL cli_badinput: $2"; fail=1; fi; }
# usage error: exit 2 and exactly this one line on stderr, nothing on stdout
usage() {
  local want=$1; shift
  local out err rc
  out=$("$BIN" "$@" 2>"$T/err"); rc=$?; err=$(cat "$T/err")
  ck '[ $rc -eq 2 ] && [ -z "$out" ] && [ "$err" = "$want" ]' "$* -> rc $rc: [$err] (want [$want])"
}

"$BIN" demo-data "$T/demo" --train 32 --valid 16 --width 32 --height 32 --seed 3 >/dev/null
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
filters=4
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
C=$T/tiny.cfg
D=$T/demo.data

# ---- the option table's ranges: the parser names the option and the value ----
usage "medcolor lrfind: --iters 0: must be in 16..100000" lrfind "$C" "$D" --iters 0
usage "medcolor lrfind: --iters 15: must be in 16..100000" lrfind "$C" "$D" --iters 15
usage "medcolor lrfind: --end 1: must be greater than --start 10" lrfind "$C" "$D" --start 10 --end 1
usage "medcolor lrfind: --momentum 1: must be >= 0 and < 1" lrfind "$C" "$D" --momentum 1
usage "medcolor demo-data: --width 1: must be in 16..4096" demo-data "$T/d2" --width 1
usage "medcolor report: --alpha 2: must be > 0 and < 1" report "$T" --alpha 2
usage "medcolor train: --max-lr -1: must be > 0" train "$C" "$D" --max-lr -1
usage "medcolor train: --max-lr 0: must be > 0" train "$C" "$D" --max-lr 0
usage "medcolor train: --wd -0.1: must be >= 0" train "$C" "$D" --wd -0.1
usage "medcolor train: --subset 0: must be > 0 and <= 1" train "$C" "$D" --subset 0
usage "medcolor train: --subset 1.5: must be > 0 and <= 1" train "$C" "$D" --subset 1.5
usage "medcolor train: --epochs 0: must be in 1..100000" train "$C" "$D" --epochs 0
usage "medcolor train: --batch 0: must be in 1..65536" train "$C" "$D" --batch 0
usage "medcolor train: --max-iters 0: must be in 1..2147483647" train "$C" "$D" --max-iters 0
usage "medcolor train: --checkpoint-every 0: must be in 1..2147483647" train "$C" "$D" --checkpoint-every 0
usage "medcolor train: --seed 4294967296: must be in 0..2147483647" train "$C" "$D" --seed 4294967296
usage "medcolor finetune: --stop-after 0: must be in 1..2147483647" finetune "$C" w "$D" --stop-after 0
usage "medcolor eval: --split tset: must be one of valid, test, train" eval run --split tset
usage "medcolor predict: --batch 0: must be in 1..1048576" predict run a.png --batch 0
usage "medcolor colorize: --threads 5000: must be in 0..1024" colorize run a.png --threads 5000
usage "medcolor features: -o OUT.safetensors is required (see medcolor features --help)" features run a.png
usage "medcolor features: give --l-scale and --l-shift together" features run a.png -o x.safetensors --l-scale 2
usage "medcolor features: expected [net.cfg] <weights | run folder> <image...|list.txt>, got 1 argument (see medcolor features --help)" features run -o x.safetensors
usage "medcolor run-grid: --index 0: must be >= 1" run-grid "$T" --index 0
usage "medcolor train: --subset-seed 8: there is no --subset (or subset=) to draw" train "$C" "$D" --subset-seed 8
usage "medcolor train: --stages '': no stage given (the stages: baseline, baseline-all, color, all, last)" train "$C" "$D" --stages ''
usage "medcolor train: --stages 'color,,all': an empty stage name in the list (the stages: baseline, baseline-all, color, all, last)" train "$C" "$D" --stages color,,all
usage "medcolor train: --stages 'color,al': unknown stage 'al' (expected baseline, baseline-all, color, all or last)" train "$C" "$D" --stages color,al
usage "medcolor lrfind: expected <net.cfg> <data.data>, got 1 argument (see medcolor lrfind --help)" lrfind "$C"
usage "medcolor train: --resume and --overwrite: continue the run, or start it again, not both" train "$C" "$D" -o "$T/x" --resume --overwrite
out=$("$BIN" lrfind --help); ck '[[ "$out" == *"(default: 100; in 16..100000)"* ]]' "--help shows the range: $out"
ck '[ ! -e "$T/d2" ] && [ ! -e "$T/runs" ] && [ ! -e "$T/x" ]' "a usage error creates nothing"

# ---- .exp values: file:line, the key and the value; nothing created ----
exp_bad() { # KEY=VALUE, section (experiment|stage), the message's tail
  local kv=$1 where=$2 want=$3
  if [ "$where" = experiment ]; then
    printf '[experiment]\nnet = %s\ndata = %s\noutput = %s/e\n%s\n[stage]\nstage = color\n' "$C" "$D" "$T" "$kv" > "$T/bad.exp"
    line=5
  else
    printf '[experiment]\nnet = %s\ndata = %s\noutput = %s/e\n[stage]\nstage = color\n%s\n' "$C" "$D" "$T" "$kv" > "$T/bad.exp"
    line=7
  fi
  local out rc
  out=$("$BIN" train "$T/bad.exp" 2>&1); rc=$?
  ck '[ $rc -eq 1 ] && [ "$out" = "medcolor train: $T/bad.exp:$line: [$where] ${kv// /}: $want" ] && [ ! -e "$T/e" ]' ".exp $kv: rc $rc: $out"
}
exp_bad "max_lr = -1" experiment "expected a number > 0"
exp_bad "max_lr = 0" experiment "expected a number > 0"
exp_bad "max_lr = -1" stage "expected a number > 0"
exp_bad "max_lr = 0" stage "expected a number > 0"
exp_bad "weight_decay = -1" experiment "expected a number >= 0"
exp_bad "subset = 0" experiment "expected a fraction of the training split in (0, 1]"
exp_bad "subset = 1.5" experiment "expected a fraction of the training split in (0, 1]"
exp_bad "epochs = 0" stage "expected an integer in [1, 100000]"

# ---- a color stage needs a colorization module ----
sed 's/group=color/group=backbone/' "$C" > "$T/nocolor.cfg"
out=$("$BIN" train "$T/nocolor.cfg" "$D" -o "$T/nc" --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == "medcolor train: stage color trains the colorization module T (group color), but the network has no trainable layer in group color"* ]] && [ ! -e "$T/nc" ]' "color stage without group color: rc $rc: $out"
out=$("$BIN" lrfind "$T/nocolor.cfg" "$D" -o "$T/nclr" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"network has no trainable layer in group color"* ]]' "lrfind --stage color without group color: rc $rc: $out"

# ---- --resume with no run ----
out=$("$BIN" train "$C" "$D" -o "$T/none" --resume --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [ "$out" = "medcolor train: $T/none: no run to resume there (no log.csv, results.csv or stage folder): start it without --resume" ] && [ ! -e "$T/none" ]' "--resume with no run: rc $rc: $out"

# ---- a rerun into a folder that holds a run ----
R=$T/run
"$BIN" train "$C" "$D" --stages color --max-iters 4 -o "$R" --quiet --threads 2 >/dev/null 2>&1
sums() { cat "$R/log.csv" "$R/results.csv" "$R/1-color/best.weights" | md5sum; }
before=$(sums)
out=$("$BIN" train "$C" "$D" --stages color --max-iters 4 -o "$R" --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [ "$out" = "medcolor train: $R holds a finished run: --overwrite trains it again from scratch (its files are replaced), or choose another output folder" ] && [ "$(sums)" = "$before" ]' "a rerun into a finished run: rc $rc: $out"
out=$("$BIN" train "$C" "$D" --stages color --max-iters 4 -o "$R" --resume --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ "$(sums)" = "$before" ]' "--resume of a finished run changes nothing: rc $rc: $out"
touch "$R/1-color/notes.txt"
out=$("$BIN" train "$C" "$D" --stages color --max-iters 4 -o "$R" --overwrite --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"$R/1-color/notes.txt is not a file of a run: move it away first"* ]] && [ "$(sums)" = "$before" ]' "--overwrite with a foreign file: rc $rc: $out"
rm "$R/1-color/notes.txt"
out=$("$BIN" train "$C" "$D" --stages color,all --max-iters 4 -o "$R" --overwrite --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ $(grep -c "^color," "$R/log.csv") -eq 4 ] && [ $(grep -c "^all," "$R/log.csv") -eq 4 ] && [ -e "$R/2-all/DONE" ]' "--overwrite starts afresh: rc $rc: $out; $(cut -d, -f1 "$R/log.csv" | sort | uniq -c | paste -sd' ')"
S=$T/started
"$BIN" train "$C" "$D" --stages color --max-iters 4 --checkpoint-every 2 --stop-after 2 -o "$S" --quiet --threads 2 >/dev/null 2>&1
out=$("$BIN" train "$C" "$D" --stages color --max-iters 4 --checkpoint-every 2 -o "$S" --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [ "$out" = "medcolor train: $S holds a started run: --resume continues it, --overwrite starts it again from scratch (its files are replaced)" ] && [ ! -e "$S/1-color/DONE" ]' "a rerun into a started run: rc $rc: $out"
out=$("$BIN" train "$C" "$D" --stages color --max-iters 4 --checkpoint-every 2 -o "$S" --resume --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ -e "$S/1-color/DONE" ]' "--resume of the started run: rc $rc: $out"

# ---- a start that fails leaves nothing behind (and can simply be started again) ----
mv "$T/demo/CheXpert-v1.0-small/valid/patient90003/study1/view1_frontal.jpg" "$T/hidden.jpg"
out=$("$BIN" train "$C" "$D" --stages color --max-iters 2 -o "$T/f1" --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"1 of 16 image files are missing"* ]] && [ ! -e "$T/f1" ]' "a failed start into a new folder: rc $rc: $out; $(ls -R "$T/f1" 2>&1)"
mkdir -p "$T/f2"
out=$("$BIN" train "$C" "$D" --stages color --max-iters 2 -o "$T/f2" --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [ -d "$T/f2" ] && [ -z "$(ls -A "$T/f2")" ]' "a failed start into an existing folder leaves it as it was: rc $rc: $(ls -A "$T/f2")"
mv "$T/hidden.jpg" "$T/demo/CheXpert-v1.0-small/valid/patient90003/study1/view1_frontal.jpg"
out=$("$BIN" train "$C" "$D" --stages color --max-iters 2 -o "$T/f1" --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ -e "$T/f1/1-color/DONE" ]' "started again after the failure: rc $rc: $out"

# ---- lrfind: progress lines without '\r' when stderr is not a terminal ----
out=$("$BIN" lrfind "$C" "$D" --iters 16 -o "$T/lr" --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] || [[ "$out" == *"diverged"* ]]' "lrfind --iters 16: rc $rc: $out"
ck '! printf %s "$out" | grep -q $'"'"'\r'"'"'' "lrfind writes carriage returns into a pipe: $(printf %s "$out" | od -c | head -3)"
ck '[[ "$out" == *"lrfind 16/16  lr "* ]] || [[ "$out" == *"diverged"* ]]' "lrfind's last step line: $out"

# ---- stats --check-files: every image opened; every bad one listed ----
B=$T/bad
"$BIN" demo-data "$B" --train 12 --valid 4 --width 32 --height 32 --seed 2 >/dev/null
tr=$B/CheXpert-v1.0-small/train
: > "$tr/patient00001/study1/view1_frontal.jpg"
echo "hello, not an image" > "$tr/patient00002/study1/view1_frontal.jpg"
f=$tr/patient00003/study1/view1_frontal.jpg; head -c $(( $(stat -c %s "$f") / 2 )) "$f" > "$T/cut.jpg"; mv "$T/cut.jpg" "$f"
/usr/bin/python3 - "$tr/patient00004/study1/view1_frontal.jpg" "$tr/patient00005/study1/view1_frontal.jpg" <<'PY'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
# a PNG whose header says 20000 x 20000 grey pixels
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
from PIL import Image
Image.new("CMYK", (32, 32), (10, 20, 30, 40)).save(sys.argv[2], "JPEG")
PY
rm "$tr/patient00006/study1/view1_frontal.jpg"; mkdir "$tr/patient00006/study1/view1_frontal.jpg"
sed "s#^root = .*#root = $B#" "$D" > "$T/bad.data"
out=$("$BIN" stats "$T/bad.data" --check-files --split train 2>/dev/null); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"5 of 12 image files are bad (headers checked; --decode also decodes them):"* ]]' "stats --check-files: rc $rc: $out"
for want in "patient00001/study1/view1_frontal.jpg: empty file, not an image" \
            "patient00002/study1/view1_frontal.jpg: not a PNG, JPEG or DICOM file" \
            "patient00004/study1/view1_frontal.jpg: image too large (20000x20000 pixels" \
            "patient00005/study1/view1_frontal.jpg: unsupported JPEG colour space (CMYK" \
            "patient00006/study1/view1_frontal.jpg: a folder, not an image file"; do
  ck '[[ "$out" == *"$want"* ]]' "stats --check-files does not list: $want"
done
out=$("$BIN" stats "$T/bad.data" --check-files --decode --split train 2>/dev/null); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"6 of 12 image files are bad (decoded whole):"* && "$out" == *"patient00003/study1/view1_frontal.jpg: corrupt or truncated JPEG"* ]]' "stats --check-files --decode: rc $rc: $out"
out=$("$BIN" stats "$D" --check-files 2>/dev/null); rc=$?
ck '[ $rc -eq 0 ] && [ $(grep -c "image files readable (headers checked)" <<< "$out") -eq 2 ]' "stats --check-files of good files: rc $rc: $out"
out=$(MEDCOLOR_PROGRESS_SECONDS=0 "$BIN" stats "$D" --check-files --split train 2>&1 >/dev/null); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == "medcolor stats: 32/32 train images (100%)"* ]]' "stats --check-files progress: $out"

# ---- stats: an empty split is reported, the others shown ----
head -1 "$T/demo/CheXpert-v1.0-small/valid.csv" > "$T/empty.csv"
sed "s#^valid = .*#valid = $T/empty.csv#" "$D" > "$T/empty.data"
out=$("$BIN" stats "$T/empty.data" 2>"$T/err"); rc=$?; err=$(cat "$T/err")
ck '[ $rc -eq 1 ] && [[ "$out" == *"images 32"* ]] && [ "$err" = "medcolor stats: valid: $T/empty.csv: the valid split is empty (after skipped rows, the view / body-part filter, drawn splits and subset)" ]' "stats with an empty split: rc $rc: $out / $err"
sed "s#^train = .*#train = $T/empty.csv#" "$D" > "$T/empty2.data"
out=$("$BIN" stats "$T/empty2.data" 2>/dev/null); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"valid  "*"images 16"* ]]' "stats with an empty train split shows valid: rc $rc: $out"
# ---- and where the datasets are looked for ----
out=$(cd "$T" && env -u MEDCOLOR_DATA "$(cd "$OLDPWD" && realpath "$BIN")" stats "$(cd "$OLDPWD" && realpath data/chexpert.data)" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"no dataset root was given, so paths are relative to the current folder: set --root DIR or MEDCOLOR_DATA"* ]]' "stats without a root: rc $rc: $out"

[ $fail -eq 0 ] && echo "cli_badinput                   ranges, .exp values, run folders, failed starts, stats --check-files ok"
exit $fail
