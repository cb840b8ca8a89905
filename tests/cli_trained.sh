#!/usr/bin/env bash
# cli_trained.sh — a trained network carries its configuration (docs/weights.md, the metadata
# trailer): the demo's run (experiments/demo.exp: 64x64 through set = net.width=64, ..., cut
# short with --max-iters) is used by eval, predict and colorize through its run folder alone,
# without the cfg or any --set: eval reproduces the run's own validation AUCs (each label's and
# the mean, results.csv), predict's CSV columns are the label names, colorize writes its
# pictures; a cfg that disagrees is refused naming the difference; a one-label finetuned
# network predicts with its one label's column; plain darknet weights still need their cfg.
# eval's statistics and --compare (docs/evaluation.md), export's round trip through PyTorch and
# import of torch.save's .pth files (docs/import.md) are checked on the same run.
set -u
BIN=${MC_BIN:-./medcolor}
T=$MC_TMP
fail=0
ck() { if ! eval "$1"; then echo "FAIL cli_trained: $2"; fail=1; fi; }

"$BIN" demo-data "$T/demo" --train 48 --valid 32 --width 64 --height 72 --seed 5 >/dev/null
out=$("$BIN" train experiments/demo.exp --root "$T/demo" -o "$T/run" --max-iters 2 --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ -s "$T/run/2-all/best.weights" ]' "the demo's run: rc $rc: $out"

# eval with the run folder alone: the last stage's best weights, the 64x64 network, the demo data
out=$("$BIN" eval "$T/run" -o "$T/ev" --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ]' "eval RUN: rc $rc: $out"
ck '[[ "$out" == *"using $T/run/2-all/best.weights (the best of stage 2, all)"* ]]' "eval says which weights it uses: $out"
# every label's AUC and the mean, as the run's own validation found them (results.csv, stage 2)
want=$(grep '^2,all,' "$T/run/results.csv" | cut -d, -f4,5 | tr -d '"')
got=$(tail -n +2 "$T/ev/auc.csv" | tr -d '"')
ck '[ -n "$want" ] && [ "$want" = "$got" ]' "eval RUN reproduces the run's validation AUCs: got [$got] want [$want]"
# the same through the weights file, and through the cfg with the run's overrides
out=$("$BIN" eval "$T/run/1-color/best.weights" -o "$T/ev1" --threads 2 2>&1); rc=$?
want=$(grep '^1,color,.*,mean,' "$T/run/results.csv" | cut -d, -f5); got=$(grep '^mean,' "$T/ev1/auc.csv" | cut -d, -f2)
ck '[ $rc -eq 0 ] && [ "$want" = "$got" ]' "eval WEIGHTS: $got vs the run's $want: $out"
# eval's statistics (docs/evaluation.md): stats.csv has one row per label whose AUC is auc.csv's
# and whose intervals hold it; the same seed gives the same file, another seed another bootstrap
ck '[ $(wc -l < "$T/ev/stats.csv") -eq 6 ] && [ "$(tail -n +2 "$T/ev/stats.csv" | cut -d, -f1,4)" = "$(tail -n +2 "$T/ev/auc.csv" | head -5)" ]' "stats.csv: one row per label, auc.csv's AUCs: $(cat "$T/ev/stats.csv")"
ck '[ -z "$(tail -n +2 "$T/ev/stats.csv" | awk -F, '"'"'!($6 <= $4 && $4 <= $7 && $8 <= $9 && $19 == 2000 && $21 == 1)'"'"')" ]' "stats.csv: DeLong interval around the AUC, 2000 stratified replicates: $(cat "$T/ev/stats.csv")"
"$BIN" eval "$T/run" -o "$T/evs" --threads 2 --quiet >/dev/null 2>&1
"$BIN" eval "$T/run" -o "$T/evs2" --threads 2 --quiet --bootstrap-seed 2 >/dev/null 2>&1
ck 'cmp -s "$T/ev/stats.csv" "$T/evs/stats.csv" && ! cmp -s "$T/ev/stats.csv" "$T/evs2/stats.csv" && [ "$(cut -d, -f1-7 "$T/ev/stats.csv")" = "$(cut -d, -f1-7 "$T/evs2/stats.csv")" ]' "the bootstrap seed changes the bootstrap interval only"
# --compare: against its own predictions every z is 0 and p 1; against another model's, that
# model's AUCs (its predictions.csv read back exactly) and the DeLong test of each label
out=$("$BIN" eval "$T/run" --compare "$T/ev/predictions.csv" -o "$T/evc" --threads 2 --quiet 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ -z "$(tail -n +2 "$T/evc/compare.csv" | awk -F, '"'"'!($8 == 0 && $9 == 1 && $4 == $5)'"'"')" ]' "compare with itself: rc $rc: $(cat "$T/evc/compare.csv" 2>&1)"
out=$("$BIN" eval "$T/run" --compare "$T/ev1/predictions.csv" -o "$T/evc1" --threads 2 --quiet 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ "$(tail -n +2 "$T/evc1/compare.csv" | cut -d, -f1,5)" = "$(tail -n +2 "$T/ev1/auc.csv" | head -5)" ] && [[ "$out" == *"DeLong'"'"'s test against"* ]]' "compare with stage 1's predictions: rc $rc: $out $(cat "$T/evc1/compare.csv" 2>&1)"
# predictions of other images, or with another truth, are refused naming file:line
head -20 "$T/ev/predictions.csv" > "$T/short.csv"
out=$("$BIN" eval "$T/run" --compare "$T/short.csv" --threads 2 --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"short.csv: 13 of the split'"'"'s 32 images are missing, the first"* ]]' "predictions of fewer images: rc $rc: $out"
awk -F, 'BEGIN{OFS=","} NR==3{ $7 = ($7 == "1" ? "0" : "1") } {print}' "$T/ev/predictions.csv" > "$T/truth.csv"
out=$("$BIN" eval "$T/run" --compare "$T/truth.csv" --threads 2 --quiet 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"truth.csv:3: column '"'"'truth:Atelectasis'"'"' is "* ]]' "another truth: rc $rc: $out"
out=$("$BIN" eval cfg/resnet18-pixelshuffle.cfg "$T/run" --set net.width=64 --set net.height=64 -o "$T/ev2" --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && cmp -s "$T/ev/auc.csv" "$T/ev2/auc.csv"' "eval CFG RUN --set ... agrees: rc $rc: $out"
# without the overrides the cfg is another network: refused, naming the difference
out=$("$BIN" eval cfg/resnet18-pixelshuffle.cfg "$T/run" --threads 2 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"net.width: the weights were trained at 64, the cfg says 320 (2 differences in all)"* ]]' "a disagreeing cfg: rc $rc: $out"
ck '[ $(echo "$out" | grep -c "^medcolor eval: cfg/") -eq 1 ] && [ ! -e "$T/ev3" ]' "one line naming the cfg: $out"
out=$("$BIN" eval cfg/resnet18-deconv.cfg "$T/run/2-all/best.weights" --set net.width=64 --set net.height=64 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"is not the network"*"the weights were trained with"* ]]' "another module: rc $rc: $out"
# labels of another dataset are refused (the same number, another order)
sed 's/^labels *= .*/labels = Cardiomegaly:zeros, Atelectasis:ones, Consolidation:zeros, Edema:ones, Pleural Effusion:ones/' data/demo.data > "$T/swapped.data"
out=$("$BIN" eval "$T/run" "$T/swapped.data" --root "$T/demo" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"trained for the labels Atelectasis, Cardiomegaly, "*"swapped.data has Cardiomegaly, Atelectasis"* ]]' "labels in another order: rc $rc: $out"

# predict: the label names as columns; the same probabilities as eval's predictions.csv
imgs=$(ls "$T"/demo/CheXpert-v1.0-small/valid/patient9000[0-2]/study1/view1_frontal.jpg)
out=$("$BIN" predict "$T/run" $imgs -o "$T/pred.csv" --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ "$(head -1 "$T/pred.csv")" = "path,Atelectasis,Cardiomegaly,Consolidation,Edema,Pleural Effusion" ] && [ $(wc -l < "$T/pred.csv") -eq 4 ]' "predict RUN: rc $rc: $out; $(head -1 "$T/pred.csv" 2>&1)"
out=$("$BIN" predict cfg/resnet18-pixelshuffle.cfg "$T/run" $imgs 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"net.width: the weights were trained at 64, the cfg says 320"* ]]' "predict with a disagreeing cfg: rc $rc: $out"

# colorize: T's pictures from the run folder alone
out=$("$BIN" colorize "$T/run" $imgs -o "$T/col" --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ $(ls "$T/col" | grep -c png) -eq 6 ]' "colorize RUN: rc $rc: $out"
out=$("$BIN" colorize cfg/resnet18-pixelshuffle.cfg "$T/run" $imgs -o "$T/col2" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"net.width: the weights were trained at 64"* ]] && [ ! -e "$T/col2" ]' "colorize with a disagreeing cfg: rc $rc: $out"

# a one-label finetuned network: predict needs neither a cfg nor --set, its one column is the label
sed 's/^labels *= .*/labels = Edema:ones/' data/demo.data > "$T/edema.data"
out=$("$BIN" finetune cfg/resnet18-pixelshuffle.cfg "$T/run/2-all/best.weights" "$T/edema.data" --root "$T/demo" --set net.width=64 --set net.height=64 -o "$T/ft" --max-iters 2 --quiet --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ]' "finetune onto one label: rc $rc: $out"
out=$("$BIN" predict "$T/ft" $imgs -o "$T/ft.csv" 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [ "$(head -1 "$T/ft.csv")" = "path,Edema" ] && [ $(head -2 "$T/ft.csv" | tail -1 | tr -cd , | wc -c) -eq 1 ]' "predict on a one-label network: rc $rc: $out; $(head -2 "$T/ft.csv" 2>&1)"
out=$("$BIN" eval "$T/ft" --threads 2 2>&1); rc=$?
want=$(grep '^1,last,.*,mean,' "$T/ft/results.csv" | cut -d, -f5)
ck '[ $rc -eq 0 ] && [[ "$out" == *"mean AUC ${want:0:6}"* ]]' "eval of the one-label network: rc $rc: $out (want $want)"

# plain darknet weights (no trailer) need their cfg, and still work with it
head -c $(( $(stat -c %s "$T/run/2-all/last.weights") - $(/usr/bin/python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(); print(struct.unpack('<Q', d[-16:-8])[0])" "$T/run/2-all/last.weights") )) "$T/run/2-all/last.weights" > "$T/plain.weights"
out=$("$BIN" eval "$T/plain.weights" data/demo.data --root "$T/demo" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"plain.weights carries no network"*"give the cfg it was trained with"* ]]' "plain weights without a cfg: rc $rc: $out"
out=$("$BIN" eval cfg/resnet18-pixelshuffle.cfg "$T/plain.weights" data/demo.data --root "$T/demo" --set net.width=64 --set net.height=64 --threads 2 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"mean AUC"* ]]' "plain weights with their cfg: rc $rc: $out"
# the data the weights name, from another folder: not found, said so (data/demo.data is relative)
absbin=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
out=$(cd "$T" && "$absbin" eval "$T/run" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"was trained on data/demo.data, which is not found from here"*"give the .data"* ]]' "eval from another folder: rc $rc: $out"
# a folder that is not a run
mkdir -p "$T/empty"
out=$("$BIN" eval "$T/empty" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"empty is a folder but not a run folder"* ]]' "not a run folder: rc $rc: $out"

# progress of a pass: lines when stderr is not a terminal (every MEDCOLOR_PROGRESS_SECONDS), no '\r'
out=$(MEDCOLOR_PROGRESS_SECONDS=0 "$BIN" eval "$T/run" --batch 8 --threads 2 2>&1 >/dev/null); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"medcolor eval: 8/32 images (25%)"* && "$out" == *"medcolor eval: 32/32 images (100%)"* ]] && ! printf %s "$out" | grep -q $'"'"'\r'"'"'' "eval progress lines: $out"
out=$(MEDCOLOR_PROGRESS_SECONDS=0 "$BIN" predict "$T/run" $imgs --batch 2 -o "$T/p2.csv" 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"medcolor predict: 2/3 images"* && "$out" == *"3/3 images (100%)"* ]]' "predict progress lines: $out"
out=$("$BIN" eval "$T/run" --quiet --threads 2 2>&1 >/dev/null); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" != *"images ("* ]]' "eval --quiet: $out"

# export (docs/import.md): the run's network as safetensors loads into the spec's PyTorch network
# with load_state_dict(strict=True) and gives medcolor predict's probabilities (tests/torch/
# export_check.py: <= 1e-5, and a tensor off by half would be seen); imported back it predicts
# the same, bit for bit; its E and C as a network without T (cfg/resnet18.cfg) export under
# torchvision's names and load into torchvision.models.resnet18(num_classes=5) the same way
mkdir -p "$T/ximg"
/usr/bin/python3 tests/torch/export_check.py images "$T/ximg" 3 64
"$BIN" predict "$T/run" "$T"/ximg/*.png -o "$T/xp.csv" --threads 2 >/dev/null 2>&1
out=$("$BIN" export "$T/run" -o "$T/x.safetensors" 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"wrote $T/x.safetensors: 248 tensors, medcolor names"* ]]' "export RUN: rc $rc: $out"
out=$(/usr/bin/python3 tests/torch/export_check.py check pixelshuffle resnet18 medcolor "$T/x.safetensors" "$T/xp.csv" 5 2>&1); rc=$?
ck '[ $rc -eq 0 ]' "export round trip through PyTorch: rc $rc: $out"
echo "  $out" | head -1
"$BIN" import cfg/resnet18-pixelshuffle.cfg "$T/x.safetensors" -o "$T/xback.weights" >/dev/null 2>&1
"$BIN" predict cfg/resnet18-pixelshuffle.cfg "$T/xback.weights" --set net.width=64 --set net.height=64 "$T"/ximg/*.png -o "$T/xpb.csv" --threads 2 >/dev/null 2>&1
ck '[ -s "$T/xpb.csv" ] && cmp -s <(tail -n +2 "$T/xp.csv") <(tail -n +2 "$T/xpb.csv")' "export then import: the same probabilities"
out=$("$BIN" export "$T/run" -o "$T/xtv.safetensors" --names torchvision 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"tensor color."*"torchvision'"'"'s model has no place for it"* ]] && [ ! -e "$T/xtv.safetensors" ]' "torchvision names with a module T: rc $rc: $out"
"$BIN" import cfg/resnet18.cfg "$T/x.safetensors" --partial -o "$T/e.weights" >/dev/null 2>&1
"$BIN" predict cfg/resnet18.cfg "$T/e.weights" --set net.width=64 --set net.height=64 "$T"/ximg/*.png -o "$T/xpe.csv" --threads 2 >/dev/null 2>&1
out=$("$BIN" export cfg/resnet18.cfg "$T/e.weights" -o "$T/xtv.safetensors" --names torchvision 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"122 tensors, torchvision names"* ]]' "export --names torchvision: rc $rc: $out"
out=$(/usr/bin/python3 tests/torch/export_check.py check none resnet18 torchvision "$T/xtv.safetensors" "$T/xpe.csv" 5 2>&1); rc=$?
ck '[ $rc -eq 0 ]' "torchvision export round trip through PyTorch: rc $rc: $out"
echo "  $out" | head -1

# PyTorch checkpoints (docs/import.md, ".pth"): torch.save's files of the exported tensors import
# to the same .weights as the safetensors, bit for bit — a plain state dict, fastai's
# {'model', 'opt'}, views with offsets and transposed strides, float16 (= its float32 values),
# the legacy format (more of it in cli_pth_legacy.sh); a pickle that would call os.system and a
# whole pickled module are refused with one line naming what, and nothing is run
mkdir -p "$T/pth"
/usr/bin/python3 tests/torch/pth_make.py "$T/x.safetensors" "$T/pth" >/dev/null 2>&1
for f in plain fastai strided half legacy; do
  out=$("$BIN" import cfg/resnet18-pixelshuffle.cfg "$T/pth/$f.pth" -o "$T/pth/$f.weights" 2>&1); rc=$?
  ck '[ $rc -eq 0 ] && [[ "$out" == *"(PyTorch checkpoint"*"loaded    210 of 210 tensors"* ]]' "import $f.pth: rc $rc: $out"
done
for f in plain fastai strided legacy; do ck 'cmp -s "$T/xback.weights" "$T/pth/$f.weights"' "$f.pth imports as the safetensors does"; done
"$BIN" import cfg/resnet18-pixelshuffle.cfg "$T/pth/half_ref.safetensors" -o "$T/pth/half_ref.weights" >/dev/null 2>&1
ck 'cmp -s "$T/pth/half_ref.weights" "$T/pth/half.weights"' "half.pth imports its float16 values"
out=$("$BIN" import cfg/resnet18-pixelshuffle.cfg "$T/pth/evil.pth" -o "$T/pth/e.weights" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"evil.pth: data.pkl byte "*"refuses the global '"'"'posix.system'"'"'"* ]] && [ ! -e "$T/pth/PWNED" ] && [ ! -e "$T/pth/e.weights" ]' "a pickle calling os.system: rc $rc: $out"
out=$("$BIN" import cfg/resnet18-pixelshuffle.cfg "$T/pth/module.pth" -o "$T/pth/m.weights" 2>&1); rc=$?
ck '[ $rc -eq 1 ] && [[ "$out" == *"refuses the global '"'"'torch.nn.modules.linear.Linear'"'"'"* ]]' "a pickled module: rc $rc: $out"
rm -rf "$T/pth"

[ $fail -eq 0 ] && echo "cli_trained                    eval/predict/colorize from a run folder, without cfg or --set, ok"
exit $fail
