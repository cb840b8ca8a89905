#!/usr/bin/env bash
# `medcolor explain` from the command line: the files it writes, its options and its errors, on the
# small classifier of the Grad-CAM fixtures (tests/torch/make_explain_fixtures.py,
# $MC_FIXTURES/explain: tiny.cfg, tiny.safetensors, two images, 40x48 input, labels Atelectasis,
# Cardiomegaly, Pleural Effusion) and once on resnet18-pixelshuffle (the colorized view beside the
# heatmap, the default layer). The numbers themselves are tests/test_explain.c's (against
# PyTorch's hook-based Grad-CAM).
set -u
BIN=${MC_BIN:-./medcolor}
FX=${MC_FIXTURES:-build/fixtures}/explain
T=${MC_TMP:-/tmp}
fail=0
say() { echo "FAIL cli_explain: $*"; fail=1; }
[ -f "$FX/tiny.safetensors" ] || { echo "FAIL cli_explain: $FX/tiny.safetensors missing: run 'make fixtures'"; exit 1; }
CFG=$FX/tiny.cfg
I0=$FX/tiny_img0.png
I1=$FX/tiny_img1.png
# a PNG's width and height (its IHDR)
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }
# a safetensors header (JSON) as text
st_header() { head -c 65536 "$1" | tail -c +9 | tr -d '\0'; }

# ---- every label, weights imported to .weights, two images ----
"$BIN" import "$CFG" "$FX/tiny.safetensors" -o "$T/tiny.weights" > "$T/import.txt" 2>&1 ||
  say "import: $(cat "$T/import.txt")"
"$BIN" explain "$CFG" "$T/tiny.weights" "$I0" "$I1" -o "$T/out" --threads 2 > "$T/stdout.txt" 2> "$T/err.txt" ||
  say "explain failed: $(cat "$T/err.txt")"
for s in tiny_img0 tiny_img1; do
  for l in Atelectasis Cardiomegaly Pleural_Effusion; do
    f="$T/out/${s}_$l.png"
    [ -f "$f" ] || { say "missing $f"; continue; }
    [ "$(png_size "$f")" = "48x40" ] || say "$f is $(png_size "$f"), expected 48x40 (no colorization module: the heatmap alone)"
  done
  f="$T/out/$s.gradcam.safetensors"
  [ -f "$f" ] || { say "missing $f"; continue; }
  h=$(st_header "$f")
  for k in '"image"' '"logits"' '"Atelectasis/cam"' '"Pleural Effusion/heatmap"' '"layer":"c2"' \
           '"labels":"Atelectasis,Cardiomegaly,Pleural Effusion"'; do
    [[ "$h" == *"$k"* ]] || say "$f: no $k in its header"
  done
  [[ "$h" == *'"color"'* ]] && say "$f: a 'color' tensor for a network without a colorization module"
  [[ "$h" == *'"Atelectasis/cam":{"dtype":"F32","shape":[20,24]'* ]] || say "$f: Atelectasis/cam is not [20, 24] float32: $h"
done
[ "$(wc -l < "$T/stdout.txt")" -eq 2 ] && grep -q "tiny_img1.png -> .*tiny_img1_\*.png.*Pleural Effusion 0\.[0-9]" "$T/stdout.txt" ||
  say "stdout: $(cat "$T/stdout.txt")"
grep -q "2 images x 3 labels, Grad-CAM at layer c2 (12 x 20 x 24)" "$T/err.txt" || say "summary: $(cat "$T/err.txt")"

# ---- one label (case-insensitive), another layer, safetensors weights, --batch 1, a list file
# (the maps at another batch size: tests/test_explain.c, within its tolerance: float rounding) ----
printf '# images\n%s\n\n%s\n' "$I0" "$I1" > "$T/list.txt"
"$BIN" explain "$CFG" "$FX/tiny.safetensors" "$T/list.txt" -o "$T/one" --label cardiomegaly --layer c1 --batch 1 \
  --alpha 0.3 --quiet > /dev/null 2> "$T/err.txt" || say "explain --label --layer: $(cat "$T/err.txt")"
[ "$(ls "$T/one" | sort | tr '\n' ' ')" = "tiny_img0.gradcam.safetensors tiny_img0_Cardiomegaly.png tiny_img1.gradcam.safetensors tiny_img1_Cardiomegaly.png " ] ||
  say "--label cardiomegaly wrote: $(ls "$T/one" | tr '\n' ' ')"
h=$(st_header "$T/one/tiny_img0.gradcam.safetensors")
[[ "$h" == *'"layer":"c1"'* && "$h" == *'"Cardiomegaly/cam":{"dtype":"F32","shape":[20,24]'* &&
   "$h" != *Atelectasis* ]] || say "--layer c1 --label cardiomegaly: header $h"
[ -s "$T/err.txt" ] && say "--quiet printed: $(cat "$T/err.txt")"
# ---- the colorized view beside the heatmap: resnet18-pixelshuffle, its default layer ----
R=resnet18-pixelshuffle
"$BIN" explain cfg/$R.cfg "$FX/$R.safetensors" "$FX/${R}_img0.png" -o "$T/r18" --label out3 \
  > /dev/null 2> "$T/err.txt" || say "explain $R: $(cat "$T/err.txt")"
f="$T/r18/${R}_img0_out3.png"
[ -f "$f" ] && [ "$(png_size "$f")" = "640x320" ] || say "$f: $( [ -f "$f" ] && png_size "$f" || echo missing), expected 640x320 (heatmap | T's view)"
grep -q "Grad-CAM at layer backbone.layer4.1 (512 x 10 x 10)" "$T/err.txt" || say "$R default layer: $(cat "$T/err.txt")"
[[ "$(st_header "$T/r18/${R}_img0.gradcam.safetensors")" == *'"color":{"dtype":"F32","shape":[3,320,320]'* ]] ||
  say "$R: no color [3, 320, 320] tensor"

# ---- errors: one line naming the culprit, exit 1 (2 for usage), nothing written ----
one_line() { # rc expected, message pattern, then the command
  local want=$1 pat=$2; shift 2
  local msg rc
  msg=$("$@" 2>&1 >/dev/null); rc=$?
  [ $rc -eq "$want" ] && [ "$(echo "$msg" | wc -l)" -eq 1 ] && [[ "$msg" == $pat ]] ||
    say "$*: rc $rc (expected $want): $msg"
}
one_line 1 "*--label Nope: not a label of*Atelectasis, Cardiomegaly, Pleural Effusion*" \
  "$BIN" explain "$CFG" "$T/tiny.weights" "$I0" -o "$T/e1" --label Nope
one_line 1 "*--label Cardiomegaly is given twice*" \
  "$BIN" explain "$CFG" "$T/tiny.weights" "$I0" -o "$T/e1" --label Cardiomegaly --label cardiomegaly
one_line 1 "*layer head: Grad-CAM needs a layer before the logits*" \
  "$BIN" explain "$CFG" "$T/tiny.weights" "$I0" -o "$T/e1" --layer head
one_line 1 "*layer 2 ?avgpool?: its output is 12 x 1 x 1, not spatial*" \
  "$BIN" explain "$CFG" "$T/tiny.weights" "$I0" -o "$T/e1" --layer 2
one_line 1 "*no layer is named 'c3'*" "$BIN" explain "$CFG" "$T/tiny.weights" "$I0" -o "$T/e1" --layer c3
one_line 1 "*nope.png*No such file*" "$BIN" explain "$CFG" "$T/tiny.weights" "$I0" "$T/nope.png" -o "$T/e1"
one_line 2 "*-o DIR is required*" "$BIN" explain "$CFG" "$T/tiny.weights" "$I0"
one_line 2 "*expected*" "$BIN" explain "$CFG" "$T/tiny.weights" -o "$T/e1"
one_line 2 "*--alpha*" "$BIN" explain "$CFG" "$T/tiny.weights" "$I0" -o "$T/e1" --alpha 2
[ -e "$T/e1" ] && say "an error left $T/e1 behind"
# a corrupt image: the error names it (after the network ran on nothing)
head -c 100 "$I0" > "$T/trunc.png"
msg=$("$BIN" explain "$CFG" "$T/tiny.weights" "$T/trunc.png" -o "$T/e2" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"trunc.png"* ]] || say "corrupt image: rc $rc: $msg"
"$BIN" explain --help | grep -q "Grad-CAM" || say "explain --help"
"$BIN" --help | grep -q "^  explain " || say "medcolor --help does not list explain"

[ $fail -eq 0 ] && echo "cli_explain                    files, options and errors ok"
exit $fail
