#!/usr/bin/env bash
# cli_dhash.sh — `medcolor dhash` against PIL + imagehash's algorithm (tests/ref/dhash_files.py):
# 200 generated PNG/JPEG files of mixed modes (grey, RGB, RGBA, palette, grey+alpha) and sizes
# (9-600 px): identical hex for every file; --query/--refs: every distance and the chosen
# reference as the Python reference (ties: the first by name); --index: built, reused when
# nothing changed, refreshed for a changed, a new and a removed file, a malformed index refused
# with file:line; a bad image and usage errors.
set -u
BIN=${MC_BIN:-./medcolor}
T=${MC_TMP:-$(mktemp -d)}
PY=/usr/bin/python3
fail=0
bad() { echo "FAIL cli_dhash: $*"; fail=1; }

$PY tests/ref/dhash_files.py gen "$T/imgs" 200 > "$T/want.txt" || { echo "FAIL cli_dhash: generator failed"; exit 1; }
"$BIN" dhash "$T"/imgs/* > "$T/got.txt" 2> "$T/err.txt" || bad "dhash of 200 files exited $?: $(head -3 "$T/err.txt")"
n=$(wc -l < "$T/want.txt")
[ "$n" -eq 200 ] || bad "the generator made $n files, not 200"
if ! cmp -s "$T/want.txt" "$T/got.txt"; then
  bad "hashes differ from PIL + imagehash's dhash: $(diff "$T/want.txt" "$T/got.txt" | grep -c '^>') lines, first:"
  diff "$T/want.txt" "$T/got.txt" | head -4
fi
echo "  200 files (L/RGB/RGBA/P/LA, PNG and JPEG, 9-600 px): $(grep -c . "$T/got.txt") hashes, identical to PIL + imagehash's definition: $(cmp -s "$T/want.txt" "$T/got.txt" && echo yes || echo NO)"
# a list file gives the same
ls "$T"/imgs/* > "$T/list.txt"
"$BIN" dhash "$T/list.txt" > "$T/got2.txt" && cmp -s "$T/got.txt" "$T/got2.txt" || bad "a .txt list gives other output"

# retrieval: references = 40 of the files, queries = 5 others, and a tie (a copy of a reference)
mkdir -p "$T/refs"
ls "$T"/imgs/* | sed -n '1~5p' | head -40 | while read -r f; do cp -p "$f" "$T/refs/"; done
cp -p "$T/refs/$(ls "$T/refs" | sed -n 7p)" "$T/refs/zz_copy.png" 2>/dev/null
for q in $(ls "$T"/imgs/* | sed -n '3~41p'); do
  $PY tests/ref/dhash_files.py query "$q" "$T/refs" > "$T/qwant.txt"
  "$BIN" dhash --query "$q" --refs "$T/refs" > "$T/qgot.txt" 2>&1 || bad "query $q exited $?"
  cmp -s "$T/qwant.txt" "$T/qgot.txt" || { bad "query $q differs:"; diff "$T/qwant.txt" "$T/qgot.txt" | head -5; }
done
# the tie: the query is the copied reference itself; its original comes first by name
orig="$T/refs/$(ls "$T/refs" | sed -n 7p)"
got=$("$BIN" dhash -q --query "$T/refs/zz_copy.png" --refs "$T/refs")
[ "$got" = "reference $orig distance 0" ] || bad "tie: '$got', want 'reference $orig distance 0'"
echo "  retrieval: 5 queries against 41 references as the Python reference; a tie goes to the first name"

# the index
idx="$T/refs.idx"
"$BIN" dhash --refs "$T/refs" --index "$idx" > "$T/i1.txt" 2> "$T/i1.err" || bad "index build exited $?"
grep -q "41 references, 0 hashes reused, 41 computed, index written" "$T/i1.err" || bad "index build: $(cat "$T/i1.err")"
[ "$(head -1 "$idx")" = "# medcolor dhash index 1" ] && [ "$(grep -vc '^#' "$idx")" -eq 41 ] || bad "index content: $(head -2 "$idx")"
"$BIN" dhash --refs "$T/refs" > "$T/i0.txt"
cmp -s "$T/i0.txt" "$T/i1.txt" || bad "hashes through the index differ from a fresh run"
before=$(stat -c %Y.%s "$idx"; md5sum < "$idx")
"$BIN" dhash --refs "$T/refs" --index "$idx" > "$T/i2.txt" 2> "$T/i2.err"
grep -q "41 references, 41 hashes reused, 0 computed, index unchanged" "$T/i2.err" || bad "index reuse: $(cat "$T/i2.err")"
cmp -s "$T/i1.txt" "$T/i2.txt" || bad "reused hashes differ"
[ "$before" = "$(stat -c %Y.%s "$idx"; md5sum < "$idx")" ] || bad "an unchanged index was rewritten"
# the index is trusted when size and mtime match: a forged hash shows it is really reused
first=$(sed -n 2p "$idx" | cut -f4)
sed "2s/^[0-9a-f]\{16\}/0123456789abcdef/" "$idx" > "$T/forged.idx"
"$BIN" dhash --refs "$T/refs" --index "$T/forged.idx" 2>/dev/null | grep -q "^0123456789abcdef .*/$first$" || bad "index hash not reused"
# change one file (new content, new mtime), add one, remove one
victim=$(ls "$T/refs" | sed -n 2p); gone=$(ls "$T/refs" | sed -n 3p)
cp "$T/imgs/img199_"* "$T/refs/$victim.tmp.png" 2>/dev/null; mv "$T/refs/$victim.tmp.png" "$T/refs/$victim"
touch -d '2001-01-01' "$T/refs/$victim"
cp "$T"/imgs/img198_* "$T/refs/"
rm "$T/refs/$gone"
"$BIN" dhash --refs "$T/refs" --index "$idx" > "$T/i3.txt" 2> "$T/i3.err"
grep -q "41 references, 39 hashes reused, 2 computed, index written" "$T/i3.err" || bad "index refresh: $(cat "$T/i3.err")"
"$BIN" dhash --refs "$T/refs" > "$T/i4.txt"
cmp -s "$T/i3.txt" "$T/i4.txt" || bad "refreshed index gives other hashes than a fresh run"
# a malformed index: file:line and the value
printf '# medcolor dhash index 1\nzz23456789abcdef\t1\t2\tx.png\n' > "$T/bad.idx"
msg=$("$BIN" dhash --refs "$T/refs" --index "$T/bad.idx" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"bad.idx:2: bad hash 'zz23456789abcdef'"* ]] || bad "bad index: rc $rc: $msg"
printf 'hello\n' > "$T/bad2.idx"
msg=$("$BIN" dhash --refs "$T/refs" --index "$T/bad2.idx" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"bad2.idx:1: not a medcolor dhash index"* ]] || bad "foreign index: rc $rc: $msg"
echo "  index: built, reused unchanged, refreshed (1 changed, 1 new, 1 removed), malformed ones refused"

# errors: a bad image names the file (the others are still printed), usage errors exit 2
echo "not an image" > "$T/junk.png"
out=$("$BIN" dhash "$T/imgs/img000_L.jpg" "$T/junk.png" 2>"$T/e.txt"); rc=$?
[ $rc -eq 1 ] && grep -q "junk.png: not a PNG, JPEG or DICOM" "$T/e.txt" && [ "$(echo "$out" | wc -l)" -eq 1 ] || bad "bad image: rc $rc: $(cat "$T/e.txt")"
cp "$T/junk.png" "$T/refs/"
msg=$("$BIN" dhash --query "$T/imgs/img000_L.jpg" --refs "$T/refs" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"junk.png"* ]] || bad "bad reference: rc $rc: $msg"
"$BIN" dhash --query x.png >/dev/null 2>&1; [ $? -eq 2 ] || bad "--query without --refs should exit 2"
"$BIN" dhash >/dev/null 2>&1; [ $? -eq 2 ] || bad "no argument should exit 2"
mkdir -p "$T/empty"
msg=$("$BIN" dhash --query "$T/imgs/img000_L.jpg" --refs "$T/empty" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"no .png/.jpg/.jpeg/.dcm/.dicom file"* ]] || bad "empty reference folder: rc $rc: $msg"
# the shared parser: did-you-mean and --help
msg=$("$BIN" dhash --qeury x.png --refs d 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$msg" = "medcolor dhash: unknown option '--qeury' (did you mean --query? see medcolor dhash --help)" ] || bad "hint: $rc: $msg"
help=$("$BIN" dhash --help); [ $? -eq 0 ] || bad "--help exit"
for o in "--query IMG" "--refs DIR" "--index FILE" "-q, --quiet"; do [[ "$help" == *"$o"* ]] || bad "--help lacks $o"; done
[ $fail -eq 0 ] && echo "cli_dhash                      200 hashes identical, retrieval and index ok"
exit $fail
