#!/usr/bin/env bash
# The training commands through the command line, end to end on a small generated dataset:
# demo-data, train (an .exp with two stages), eval (files), lrfind (files, suggestion),
# colorize (PNG files), finetune (last layer onto a 1-label dataset: T and E arrive unchanged,
# a classifier outside group head is refused), where each setting comes from (command line >
# [stage] > [experiment] > the cfg's [net] > built-in, seen in experiment.exp, log.csv and
# valid.csv), darknet's training keys refused, --help of every command, and the exit codes of
# usage and data errors.
set -u
BIN=${MC_BIN:-./medcolor}
T=$MC_TMP
fail=0
ck() { if ! eval "$1"; then echo "FAIL cli_train: $2"; fail=1; fi; }

"$BIN" demo-data "$T/demo" --train 96 --valid 48 --width 40 --height 48 --seed 3 >/dev/null
ck '[ -f "$T/demo/CheXpert-v1.0-small/train.csv" ] && [ $(wc -l < "$T/demo/CheXpert-v1.0-small/valid.csv") -eq 49 ]' "demo-data files"
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
cat > "$T/demo.data" <<DATA
format = chexpert
root = $T/demo
train = CheXpert-v1.0-small/train.csv
valid = CheXpert-v1.0-small/valid.csv
labels = Atelectasis:ones, Cardiomegaly:zeros, Consolidation:zeros, Edema:ones, Pleural Effusion:ones
DATA
cat > "$T/run.exp" <<EXP
[experiment]
net = $T/tiny.cfg
data = $T/demo.data
output = $T/run
seed = 2
[stage]
stage = color
epochs = 2
[stage]
stage = all
epochs = 1
max_lr = 1e-2
EXP
out=$("$BIN" train "$T/run.exp" --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ]' "train rc $rc: $out"
ck '[[ "$out" == *"color mean AUC"* && "$out" == *"all mean AUC"* ]]' "train prints the mean AUC of each stage: $out"
for f in experiment.exp log.csv results.csv 1-color/best.weights 1-color/last.weights 1-color/DONE 1-color/valid.csv \
         2-all/best.weights 2-all/checkpoint.safetensors; do
  ck '[ -s "$T/run/$f" ]' "train wrote $f"
done
ck '[ $(grep -c "^color," "$T/run/log.csv") -eq 24 ]' "log.csv has one row per color iteration (2 epochs x 12)"
ck 'grep -q "^2,all,.*,mean," "$T/run/results.csv"' "results.csv has the all stage's mean"
# the settings file reproduces the run
ck 'grep -q "^stage = all" "$T/run/experiment.exp" && grep -q "^max_lr = 0.01" "$T/run/experiment.exp"' "experiment.exp records the settings"
# running again with --resume skips the finished stages
out=$("$BIN" train "$T/run.exp" --resume --plain --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"finished before"* ]]' "resume of a finished run: $out"

out=$("$BIN" eval "$T/tiny.cfg" "$T/run/2-all/best.weights" "$T/demo.data" -o "$T/eval" 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"mean AUC"* ]]' "eval: $out"
for f in predictions.csv auc.csv roc.csv roc.png; do ck '[ -s "$T/eval/$f" ]' "eval wrote $f"; done
ck '[ $(wc -l < "$T/eval/predictions.csv") -eq 49 ]' "predictions.csv: one row per validation image"
# eval's mean AUC equals the best validation of training (same weights, same images)
m1=$(grep "^mean," "$T/eval/auc.csv" | cut -d, -f2); m2=$(grep "^2,all,.*,mean," "$T/run/results.csv" | cut -d, -f5)
ck '[ "$m1" = "$m2" ]' "eval mean AUC $m1 vs training's best $m2"

out=$("$BIN" lrfind "$T/tiny.cfg" "$T/demo.data" --iters 30 -o "$T/lr" --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"suggested max_lr"* ]] && [ -s "$T/lr/lrfind.png" ] && [ $(wc -l < "$T/lr/lrfind.csv") -ge 17 ]' "lrfind: $out"

out=$("$BIN" colorize "$T/tiny.cfg" "$T/run/1-color/best.weights" "$T"/demo/CheXpert-v1.0-small/valid/patient9000[01]/study1/view1_frontal.jpg -o "$T/col" 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ -s "$T/col/patient90000_study1_view1_frontal_color.png" ] && [ -s "$T/col/patient90001_study1_view1_frontal_overlay.png" ] && [ $(ls "$T/col" | grep -c png) -eq 4 ]' "colorize: $out"

# finetune: last layer onto a 1-label dataset (the head is rebuilt, T and E carried over)
sed 's/^labels = .*/labels = Edema:ones/' "$T/demo.data" > "$T/one.data"
out=$("$BIN" finetune "$T/tiny.cfg" "$T/run/2-all/best.weights" "$T/one.data" --epochs 1 -o "$T/ft" --quiet 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"last mean AUC"* ]] && [ -s "$T/ft/1-last/best.weights" ]' "finetune: $out"
# T and E arrive unchanged: with BN frozen on its running statistics, nothing of T and E moves
# in `last`, so every float of them in the result is the input's. In .weights order (20-byte
# header, then the layers in cfg order) T and E come first, the head last: 5 + 5x8 floats in the
# input (5 labels), 1 + 1x8 in the result (1 label); the metadata trailer after them is left out.
out=$("$BIN" finetune "$T/tiny.cfg" "$T/run/2-all/best.weights" "$T/one.data" --epochs 1 --frozen-bn-running -o "$T/ft2" --quiet 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ -s "$T/ft2/1-last/best.weights" ]' "finetune --frozen-bn-running: $out"
same_te() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys
def floats(path):  # the layers' floats: after the 20-byte header, before the metadata trailer
    d = open(path, "rb").read()
    if d[-8:] == b"MCMETEND":
        d = d[:-struct.unpack("<Q", d[-16:-8])[0]]
    return d[20:]
a = floats(sys.argv[1])
b = floats(sys.argv[2])
na, nb = len(a) // 4 - 45, len(b) // 4 - 9
ok = na == nb and na > 0 and a[:4 * na] == b[:4 * nb] and a[4 * na:] != b[4 * nb:]
print("T+E floats: %d and %d, %s" % (na, nb, "identical" if a[:4 * na] == b[:4 * nb] else "DIFFERENT"))
sys.exit(0 if ok else 1)
PY
}
te=$(same_te "$T/run/2-all/best.weights" "$T/ft2/1-last/best.weights"); rc=$?
ck '[ $rc -eq 0 ]' "finetune: T and E must arrive unchanged: $te"
# and against another input: the comparison can fail
te=$(same_te "$T/run/1-color/best.weights" "$T/ft2/1-last/best.weights"); rc=$?
ck '[ $rc -ne 0 ]' "the T/E comparison cannot tell other weights apart: $te"
# a layer outside group head whose shape follows the labels (a BN after the classifier, put in
# backbone) cannot be carried: refused, naming it, before training
sed 's/^output=5$/output=5\n[batchnorm]\nname=headbn\ngroup=backbone/' "$T/tiny.cfg" > "$T/headbn.cfg"
"$BIN" train "$T/headbn.cfg" "$T/demo.data" --stages color --max-iters 1 -o "$T/hb5" --quiet >/dev/null 2>&1
out=$("$BIN" finetune "$T/headbn.cfg" "$T/hb5/1-color/best.weights" "$T/one.data" --epochs 1 -o "$T/hb1" --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"headbn.weight (group backbone) is [1] now but [5] in the network before"* ]] && [ $(echo "$out" | wc -l) -eq 1 ] && [ ! -e "$T/hb1/1-last/checkpoint.safetensors" ]' "finetune with a label-shaped layer outside group head: rc $rc: $out"

# where the settings come from: the cfg's [net] sets every one; the experiment's [experiment]
# overrides weight_decay, epochs and checkpoint_every; the color [stage] overrides
# checkpoint_every again; the command line overrides max_lr
sed 's/^channels=1$/channels=1\nmax_lr=0.03\nepochs=3\ncheckpoint_every=5\nweight_decay=0.005\ndecoupled_wd=0\nseed=7/' "$T/tiny.cfg" > "$T/keys.cfg"
cat > "$T/prec.exp" <<EXP
[experiment]
net = $T/keys.cfg
data = $T/demo.data
weight_decay = 0.004
epochs = 2
checkpoint_every = 4
[stage]
stage = color
checkpoint_every = 6
[stage]
stage = all
EXP
out=$("$BIN" train "$T/prec.exp" --max-lr 0.02 -o "$T/prec" --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ]' "train with settings from every level: rc $rc: $out"
want="seed = 7|weight_decay = 0.004|decoupled_wd = 0|stage = color|max_lr = 0.02|epochs = 2|checkpoint_every = 6|stage = all|max_lr = 0.02|epochs = 2|checkpoint_every = 4"
got=$(grep -E "^(seed|weight_decay|decoupled_wd|stage|max_lr|epochs|checkpoint_every) = " "$T/prec/experiment.exp" | paste -sd'|')
ck '[ "$got" = "$want" ]' "experiment.exp records the settings in effect: $got (want $want)"
# the run did what it records: 2 epochs of 12 iterations per stage; validations every 6
# (color) and 4 (all) iterations; the learning rate peaks just under 0.02 (one-cycle's peak
# falls between iterations), not at [net]'s 0.03
ck '[ $(grep -c "^color," "$T/prec/log.csv") -eq 24 ] && [ $(grep -c "^all," "$T/prec/log.csv") -eq 24 ]' "epochs: $(cut -d, -f1 "$T/prec/log.csv" | sort | uniq -c | paste -sd' ')"
vc=$(grep "^color," "$T/prec/1-color/valid.csv" | cut -d, -f2 | paste -sd' ')
va=$(grep "^all," "$T/prec/2-all/valid.csv" | cut -d, -f2 | paste -sd' ')
ck '[ "$vc" = "6 12 18 24" ]' "color validations at iterations: $vc"
ck '[ "$va" = "4 8 12 16 20 24" ]' "all validations at iterations: $va"
lrmax=$(grep "^color," "$T/prec/log.csv" | cut -d, -f5 | sort -g | tail -1)
ck 'awk -v x="$lrmax" "BEGIN { exit !(x > 0.019 && x <= 0.02) }"' "color stage's peak learning rate $lrmax (want just under 0.02)"
# without the command line and the experiment: the cfg's [net] values (seed 7 names the folder)
absbin=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
out=$(cd "$T" && "$absbin" train keys.cfg demo.data --stages color --max-iters 2 --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && grep -q "^max_lr = 0.03$" "$T/runs/keys-demo-s7/experiment.exp" && grep -q "^epochs = 3$" "$T/runs/keys-demo-s7/experiment.exp" && grep -q "^checkpoint_every = 5$" "$T/runs/keys-demo-s7/experiment.exp" && grep -q "^weight_decay = 0.005$" "$T/runs/keys-demo-s7/experiment.exp"' "[net] settings alone: rc $rc: $out"
# darknet's training keys are refused with file:line and what to use instead
sed 's/^channels=1$/channels=1\nlearning_rate=0.001/' "$T/tiny.cfg" > "$T/darknet.cfg"
out=$("$BIN" train "$T/darknet.cfg" "$T/demo.data" -o "$T/dk" --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"darknet.cfg:6: [net] learning_rate=0.001 is a darknet training key that medcolor'"'"'s trainer does not use; use max_lr"* ]] && [ $(echo "$out" | wc -l) -eq 1 ]' "a darknet key: rc $rc: $out"
out=$("$BIN" info "$T/darknet.cfg" 2>&1); rc=$?
ck '[ $rc -ne 0 ] && [[ "$out" == *"darknet.cfg:6: [net] learning_rate=0.001"* ]]' "info with a darknet key: rc $rc: $out"

for c in train finetune eval lrfind colorize demo-data info stats subset; do
  "$BIN" $c --help >/dev/null 2>&1 || { echo "FAIL cli_train: $c --help"; fail=1; }
done
"$BIN" train >/dev/null 2>&1; ck '[ $? -eq 2 ]' "train without arguments exits 2"
"$BIN" train "$T/run.exp" --max-lr abc >/dev/null 2>&1; ck '[ $? -eq 2 ]' "a malformed number exits 2"
out=$("$BIN" train "$T/run.exp" --epocs 3 2>&1); rc=$?
ck '[ $rc -eq 2 ] && [[ "$out" == *"did you mean --epochs"* ]]' "a misspelt option exits 2 with a hint: $out"
out=$("$BIN" trian 2>&1); rc=$?
ck '[ $rc -eq 2 ] && [[ "$out" == *"did you mean '"'"'train'"'"'"* ]]' "a misspelt command exits 2 with a hint: $out"
out=$("$BIN" train "$T/run.exp" --foo 2>&1)
ck '[[ "$out" != *"did you mean"* ]]' "no hint for an option far from every other: $out"
out=$("$BIN" train "$T/tiny.cfg" "$T/missing.data" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"missing.data"* ]]' "a missing .data exits 1 naming it: $out"
# a diverging run stops with rc 1 and a message, after good checkpoints were written, and does not
# go on to the next stage (an error of a stage ends the experiment)
out=$("$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$T/nan" --stages color,all --epochs 1 --max-lr 1e9 --checkpoint-every 2 --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"finite"* || "$out" == *"nan"* ]] && [[ "$out" != *"mean AUC"* ]] && [ -s "$T/nan/1-color/checkpoint.safetensors" ] && [ ! -e "$T/nan/2-all" ]' "a diverging run: rc $rc: $out"
# --precision bf16 (docs/performance.md "bf16"): refused with the CPU's ISA where AVX512-BF16 is
# missing (MC_TEST_NO_BF16=1 pretends so, on every machine); where present a run in bf16 records
# precision = bf16 and eval runs its weights in bf16; an unknown precision is a usage error
out=$(MC_TEST_NO_BF16=1 "$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$T/bfno" --stages color --max-iters 2 --precision bf16 --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"--precision bf16 needs a CPU with AVX512-BF16 (this CPU: "* ]] && [ $(echo "$out" | wc -l) -eq 1 ]' "bf16 refused without AVX512-BF16: rc $rc: $out"
out=$("$BIN" train "$T/run.exp" --precision fp16 2>&1); rc=$?
ck '[ $rc -eq 2 ] && [[ "$out" == *"--precision"* ]]' "--precision fp16 is a usage error: rc $rc: $out"
if grep -qw avx512_bf16 /proc/cpuinfo; then
  out=$("$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$T/bf" --stages color --max-iters 4 --precision bf16 --quiet --threads 2 2>&1); rc=$?
  ck '[ $rc -eq 0 ] && grep -q "^precision = bf16$" "$T/bf/experiment.exp"' "train --precision bf16: rc $rc: $out"
  out=$("$BIN" eval "$T/bf" --precision bf16 --quiet --bootstrap 0 2>&1); rc=$?
  ck '[ $rc -eq 0 ] && [[ "$out" == *"Edema"* ]]' "eval --precision bf16: rc $rc: $out"
  # the checkpoint records the precision; a resume in another one is refused (it would not repeat
  # the run's arithmetic), the same one resumes
  ck 'grep -aq "\"precision\":\"bf16\"" "$T/bf/1-color/checkpoint.safetensors"' "bf16 checkpoint records its precision"
  rm "$T/bf/1-color/DONE"
  out=$("$BIN" train "$T/bf/experiment.exp" --resume --precision fp32 --quiet --threads 2 2>&1); rc=$?
  ck '[ $rc -eq 1 ] && [[ "$out" == *"checkpoint was made at --precision bf16; now: fp32"* ]] && [ $(echo "$out" | wc -l) -eq 1 ]' "fp32 resume of a bf16 checkpoint refused: rc $rc: $out"
  out=$("$BIN" train "$T/bf/experiment.exp" --resume --precision bf16 --quiet --threads 2 2>&1); rc=$?
  ck '[ $rc -eq 0 ] && [ -f "$T/bf/1-color/DONE" ]' "bf16 resume of a bf16 checkpoint: rc $rc: $out"
fi
rm "$T"/demo/CheXpert-v1.0-small/train/patient0000[1-3]/study1/view1_frontal.jpg
out=$("$BIN" train "$T/tiny.cfg" "$T/demo.data" -o "$T/r2" --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"3 "* ]]' "missing images are reported together before training: $out"
[ $fail -eq 0 ] && echo "cli_train                      train/finetune/eval/lrfind/colorize/demo-data ok"
exit $fail
