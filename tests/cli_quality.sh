#!/usr/bin/env bash
# cli_quality.sh — `medcolor quality` against the numpy metrics of tests/ref/quality_ref.py
# (tests/ref/quality_files.py): a list of four pairs (grey with noise, RGB with a colour shift, a
# 600x520 pair through FSIM's F = 2 downsampling, an identical pair), with and without --color,
# every value and the mean/std rows of the CSV within 1e-6; one pair on stdout; the identical pair
# prints 100 / 1 / 1; size mismatches, missing files, malformed lists and usage errors.
set -u
BIN=${MC_BIN:-./medcolor}
T=${MC_TMP:-$(mktemp -d)}
PY=/usr/bin/python3
fail=0
bad() { echo "FAIL cli_quality: $*"; fail=1; }

$PY tests/ref/quality_files.py gen "$T" || { echo "FAIL cli_quality: generator failed"; exit 1; }
for color in 0 1; do
  flag=; [ $color -eq 1 ] && flag=--color
  "$BIN" quality --pairs "$T/list.tsv" $flag -o "$T/q$color.csv" > "$T/q$color.txt" 2> "$T/q$color.err" ||
    bad "--pairs $flag exited $?: $(cat "$T/q$color.err")"
  $PY tests/ref/quality_files.py check "$T/q$color.csv" "$T/list.tsv" $color || fail=1
  grep -q "^mean " "$T/q$color.txt" && grep -q "^std " "$T/q$color.txt" || bad "--pairs $flag: no mean/std lines"
done
# one pair on stdout: the metric lines, the identical pair's values
out=$("$BIN" quality "$T/imgs/same_ref.png" "$T/imgs/same_img.png" --color)
want=$(printf 'psnr         100.000000\nssim         1.000000\nfsim         1.000000\nfsimc        1.000000\n')
[ "$(echo "$out" | head -4)" = "$want" ] || bad "identical pair: $out"
echo "$out" | grep -q "^entropy_ref " && echo "$out" | grep -q "^entropy_img " || bad "identical pair: no entropies"
out=$("$BIN" quality "$T/imgs/grey_ref.png" "$T/imgs/grey_img.png")
[ "$(echo "$out" | awk '{print $1}' | tr '\n' ' ')" = "psnr ssim fsim entropy_ref entropy_img " ] || bad "grey pair lines: $out"
psnr_line=$(echo "$out" | awk '$1 == "psnr" {print $2}')
psnr_csv=$(awk -F, 'NR == 2 {printf "%.6f", $3}' "$T/q0.csv")
[ "$psnr_line" = "$psnr_csv" ] || bad "stdout PSNR $psnr_line vs CSV $psnr_csv"
echo "  one pair on stdout; identical pair: PSNR 100, SSIM 1, FSIM 1, FSIMc 1"

# errors
msg=$("$BIN" quality "$T/imgs/grey_ref.png" "$T/imgs/rgb_img.png" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"grey_ref.png is 128x120 but "*"rgb_img.png is 96x72"* ]] || bad "size mismatch: rc $rc: $msg"
msg=$("$BIN" quality "$T/imgs/grey_ref.png" "$T/nothere.png" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"nothere.png"* ]] || bad "missing file: rc $rc: $msg"
printf 'imgs/grey_ref.png imgs/grey_img.png\n' > "$T/bad.tsv"
msg=$("$BIN" quality --pairs "$T/bad.tsv" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"bad.tsv:1: expected two tab-separated paths"* ]] || bad "malformed list: rc $rc: $msg"
printf '# nothing\n' > "$T/empty.tsv"
msg=$("$BIN" quality --pairs "$T/empty.tsv" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"empty.tsv: no pairs"* ]] || bad "empty list: rc $rc: $msg"
printf 'ref\timg\nimgs/grey_ref.png\timgs/nothere.png\n' > "$T/miss.tsv"
msg=$("$BIN" quality --pairs "$T/miss.tsv" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"imgs/nothere.png"* ]] || bad "list with a missing file: rc $rc: $msg"
"$BIN" quality "$T/imgs/grey_ref.png" >/dev/null 2>&1; [ $? -eq 2 ] || bad "one image should exit 2"
"$BIN" quality a.png b.png --pairs "$T/list.tsv" >/dev/null 2>&1; [ $? -eq 2 ] || bad "pairs and images should exit 2"
echo "  errors: size mismatch, missing file, malformed/empty list, usage"
# the shared parser: did-you-mean and --help
msg=$("$BIN" quality --colr a.png b.png 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$msg" = "medcolor quality: unknown option '--colr' (did you mean --color? see medcolor quality --help)" ] || bad "hint: $rc: $msg"
help=$("$BIN" quality --help); [ $? -eq 0 ] || bad "--help exit"
for o in "--pairs LIST" "--color" "-o, --output CSV"; do [[ "$help" == *"$o"* ]] || bad "--help lacks $o"; done
[ $fail -eq 0 ] && echo "cli_quality                    CSV and stdout as numpy within 1e-6"
exit $fail
