#!/usr/bin/env bash
# `medcolor import` + `medcolor predict` end to end against PyTorch.
# References (tests/torch/make_network_fixtures.py, $MC_FIXTURES/networks/predict): a small
# network (tiny.cfg, tiny.safetensors) and images of every kind predict reads (8-bit grey PNG at
# the input size, 16-bit PNG, RGB PNG, grey and colour JPEG, portrait and landscape), with the
# probabilities PyTorch computes after the reference preprocessing (decode, centre square crop,
# bilinear resize, normalise); and resnet18-pixelshuffle at 320x320 (its weights imported from
# the torchvision-style file with --partial, then T and C with --base) on two 320x320 PNGs.
# Tolerance 1e-4 absolute on every probability (the CSV has 7 significant digits).
set -u
BIN=${MC_BIN:-./medcolor}
FX=${MC_FIXTURES:-build/fixtures}/networks
P=$FX/predict
T=${MC_TMP:-/tmp}
fail=0
say() { echo "FAIL cli_predict: $*"; fail=1; }
[ -f "$P/expected.txt" ] || { echo "FAIL cli_predict: $P/expected.txt missing: run 'make fixtures'"; exit 1; }

# compare CSV ($1) with expected rows "file p1 p2 ..." ($2): same files (by base name), in order
compare() {
  awk -F, -v tol=1e-4 -v what="$3" '
    NR == FNR { n++; name[n] = $1; nv[n] = NF - 1; for (i = 2; i <= NF; i++) v[n, i - 1] = $i; next }
    FNR == 1 { next }
    { r++; p = $1; gsub(/^"|"$/, "", p); sub(/.*\//, "", p)
      if (p != name[r]) { printf "row %d: %s, expected %s\n", r, p, name[r]; bad = 1; next }
      if (NF - 1 != nv[r]) { printf "row %d: %d values, expected %d\n", r, NF - 1, nv[r]; bad = 1; next }
      for (i = 2; i <= NF; i++) { d = $i - v[r, i - 1]; if (d < 0) d = -d; if (d > worst) worst = d
        if (d > tol) { printf "%s: %s column %d: %s vs %s\n", what, p, i - 1, $i, v[r, i - 1]; bad = 1 } } }
    END { if (r != n) { printf "%s: %d rows, expected %d\n", what, r, n; bad = 1 }
          if (!bad) printf "  %-44s %d images, max |dprob| %.1e\n", what, r, worst; exit bad }
  ' <(tr ' ' ',' < "$2") "$1"
}

# ---- the small network: every image kind, header from the cfg's labels= ----
"$BIN" import "$P/tiny.cfg" "$P/tiny.safetensors" -o "$T/tiny.weights" > "$T/import.txt" 2>&1 ||
  { say "import of tiny.safetensors failed: $(cat "$T/import.txt")"; }
IMGS=()
while read -r f _; do IMGS+=("$P/$f"); done < "$P/expected.txt"
"$BIN" predict "$P/tiny.cfg" "$T/tiny.weights" "${IMGS[@]}" -o "$T/out.csv" --threads 2 2> "$T/err.txt" ||
  say "predict failed: $(cat "$T/err.txt")"
[ "$(head -1 "$T/out.csv")" = "path,Atelectasis,Cardiomegaly,Pleural Effusion" ] ||
  say "header from the cfg's labels=: '$(head -1 "$T/out.csv")'"
[ "$(sed -n 2p "$T/out.csv" | cut -d, -f1)" = "${IMGS[0]}" ] || say "the path column is not the path as given"
compare "$T/out.csv" "$P/expected.txt" "tiny net, 5 images, batch 3 (cfg)" || fail=1

# a list file (blank and comment lines), --batch 2 (a partial last batch), stdout, safetensors weights
{ echo "# images"; for f in "${IMGS[@]}"; do echo "$f"; echo; done; } > "$T/list.txt"
"$BIN" predict "$P/tiny.cfg" "$P/tiny.safetensors" "$T/list.txt" --batch 2 > "$T/out2.csv" 2> "$T/err.txt" ||
  say "predict from a list failed: $(cat "$T/err.txt")"
compare "$T/out2.csv" "$P/expected.txt" "list.txt, batch 2, stdout, .safetensors" || fail=1
"$BIN" predict "$P/tiny.cfg" "$T/tiny.weights" "${IMGS[0]}" --batch 1 -o - --labels 'a,b,"c"' > "$T/out3.csv" 2>/dev/null
[ "$(head -1 "$T/out3.csv")" = 'path,a,b,"""c"""' ] || say "--labels header (quoted): '$(head -1 "$T/out3.csv")'"

# no labels= in the cfg: out0..out2; a path with a comma is quoted
grep -v '^labels=' "$P/tiny.cfg" > "$T/nolabels.cfg"
cp "$P/a_exact.png" "$T/with,comma.png"
"$BIN" predict "$T/nolabels.cfg" "$T/tiny.weights" "$T/with,comma.png" > "$T/out4.csv" 2>/dev/null
[ "$(head -1 "$T/out4.csv")" = "path,out0,out1,out2" ] || say "default header: '$(head -1 "$T/out4.csv")'"
[ "$(sed -n 2p "$T/out4.csv" | cut -c1-1)" = '"' ] && grep -q 'with,comma.png",0' "$T/out4.csv" ||
  say "a path with a comma is not quoted: $(sed -n 2p "$T/out4.csv")"

# errors: one line naming the file, exit 1, no CSV written
rm -f "$T/bad.csv"
msg=$("$BIN" predict "$P/tiny.cfg" "$T/tiny.weights" "${IMGS[0]}" "$T/nope.png" -o "$T/bad.csv" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$msg" | wc -l)" -eq 1 ] && [[ "$msg" == *"nope.png: No such file"* ]] && [ ! -e "$T/bad.csv" ] ||
  say "missing image: rc $rc: $msg"
msg=$("$BIN" predict "$P/tiny.cfg" "$T/tiny.weights" "${IMGS[0]}" "$P/truncated.png" -o "$T/bad.csv" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$(echo "$msg" | wc -l)" -eq 1 ] && [[ "$msg" == *"truncated.png"* ]] && [ ! -e "$T/bad.csv" ] ||
  say "corrupt image: rc $rc: $msg"
msg=$("$BIN" predict "$P/tiny.cfg" "$T/tiny.weights" "${IMGS[0]}" --labels a,b 2>&1); rc=$?
[ $rc -ne 0 ] && [[ "$msg" == *"2 label names"*"3 outputs"* ]] || say "--labels count: rc $rc: $msg"
"$BIN" predict "$P/tiny.cfg" "$T/tiny.weights" >/dev/null 2>&1; [ $? -eq 2 ] || say "no images should exit 2"

# ---- resnet18-pixelshuffle at 320x320: ImageNet-style E (--partial), then T and C (--base) ----
CFG=cfg/resnet18-pixelshuffle.cfg
"$BIN" import $CFG "$FX/e_resnet18.safetensors" -o "$T/e.weights" --partial > "$T/import1.txt" 2>&1 ||
  say "import --partial of e_resnet18: $(tail -3 "$T/import1.txt")"
grep -q "skipped   2 classifier" "$T/import1.txt" && grep -q "missing   110 tensors" "$T/import1.txt" ||
  say "import --partial notices: $(head -8 "$T/import1.txt")"
"$BIN" import $CFG "$FX/resnet18-pixelshuffle.tc.safetensors" --base "$T/e.weights" -o "$T/full.weights" \
  --partial > "$T/import2.txt" 2>&1 || say "import of T and C with --base: $(tail -3 "$T/import2.txt")"
"$BIN" predict $CFG "$T/full.weights" "$P/img0.png" "$P/img1.png" --threads 2 -o "$T/r18.csv" 2> "$T/err.txt" ||
  say "predict resnet18-pixelshuffle: $(cat "$T/err.txt")"
compare "$T/r18.csv" "$P/expected_resnet18-pixelshuffle.txt" "resnet18-pixelshuffle 320x320 (8/16-bit)" || fail=1
# the same network without --partial: the documented error, exit 1
msg=$("$BIN" import $CFG "$FX/e_resnet18.safetensors" -o "$T/x.weights" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$(echo "$msg" | head -1)" == *"is not in the file (110 of 210 missing"* ]] && [ ! -e "$T/x.weights" ] ||
  say "import without --partial: rc $rc: $(echo "$msg" | head -2)"

[ $fail -eq 0 ] && echo "cli_predict                    import + predict vs PyTorch ok"
exit $fail
