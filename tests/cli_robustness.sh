#!/usr/bin/env bash
# What a user sees from the command line for the bad inputs of issue 13 (docs/robustness.md):
# one line naming the file (and line, tensor or value), exit 1, never a hang; and the warning
# that import / predict / eval print for weights of absurd magnitude.
set -u
BIN=${MC_BIN:-./medcolor}
PY=${PYTHON:-/usr/bin/python3}
T=$MC_TMP
unset MEDCOLOR_DATA # the .data files here use root=
fail=0
# expect RC PATTERN CMD...: runs CMD (20 s at most), wants exit RC and PATTERN in its stderr
expect() {
  local want=$1 pat=$2; shift 2
  local err rc
  err=$(timeout 20 "$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne "$want" ] || [[ "$err" != *"$pat"* ]]; then
    echo "FAIL cli_robustness: $*: exit $rc (want $want), stderr: $err (want '$pat')"; fail=1
  else
    printf '  %-60s exit %d: %s\n' "${*:1:3}" $rc "$(printf '%s' "$err" | head -1 | cut -c1-110)"
  fi
}

printf '[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nname=c\nfilters=2\nsize=1\n' > "$T/net.cfg"
# .weights for net.cfg (header 0.2.0, seen, then bias[2] and weight[2]) with chosen values
weights() { # file v0 v1 v2 v3
  "$PY" -c 'import struct,sys; open(sys.argv[1],"wb").write(struct.pack("<3iQ4f",0,2,0,0,*map(float,sys.argv[2:])))' "$@"
}
weights "$T/ok.weights" 0.1 -0.2 0.3 0.5
weights "$T/big.weights" 0.1 -0.2 3e38 0.5
weights "$T/nan.weights" 0.1 nan 0.3 0.5

expect 0 "warning: $T/big.weights: tensor c.weight holds 3e+38 at element 0" "$BIN" import "$T/net.cfg" "$T/big.weights" -o "$T/out.weights"
expect 1 "$T/nan.weights: tensor c.bias holds NaN at element 1" "$BIN" import "$T/net.cfg" "$T/nan.weights" -o "$T/out.weights"
err=$("$BIN" import "$T/net.cfg" "$T/ok.weights" -o "$T/out.weights" 2>&1 >/dev/null)
[ -z "$err" ] || { echo "FAIL cli_robustness: a clean import printed: $err"; fail=1; }

# predict on a 4x4 grey PNG
"$PY" -c '
import struct, sys, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\0" + bytes([16 * x + y for x in range(4)]) for y in range(4))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))' "$T/x.png"
expect 0 "medcolor predict: warning: $T/big.weights: tensor c.weight holds 3e+38" "$BIN" predict "$T/net.cfg" "$T/big.weights" "$T/x.png"
expect 1 "$T/nan.weights: tensor c.bias holds NaN" "$BIN" predict "$T/net.cfg" "$T/nan.weights" "$T/x.png"

# inputs that never end or block, and a [cost] before the last layer
printf '[net]\nwidth=4\nheight=4\nchannels=1\n[include]\nfile=/dev/zero\n' > "$T/zero.cfg"
expect 1 "zero.cfg:5: [include]: /dev/zero: is a character device, not a regular file" "$BIN" info "$T/zero.cfg"
mkfifo "$T/fifo.cfg"
expect 1 "fifo.cfg: is a FIFO (named pipe), not a regular file" "$BIN" info "$T/fifo.cfg"
expect 1 "fifo.cfg: is a FIFO" "$BIN" predict "$T/net.cfg" "$T/fifo.cfg" "$T/x.png"
printf '[net]\nwidth=4\nheight=4\nchannels=1\n[convolutional]\nfilters=2\n[cost]\n[convolutional]\nfilters=1\n' > "$T/mid.cfg"
expect 1 "mid.cfg:7: [cost] is layer 1 of 3: it must be the last layer" "$BIN" info "$T/mid.cfg"

# a label CSV: a truncated gzip, a bad label value
mkdir -p "$T/d"
{ echo "Path,A"; for i in $(seq 1 400); do echo "img/$i.png,$((i % 2)).0"; done; } > "$T/d/labels.csv"
gzip -c "$T/d/labels.csv" > "$T/d/full.csv.gz"
head -c $(( $(stat -c %s "$T/d/full.csv.gz") - 6 )) "$T/d/full.csv.gz" > "$T/d/cut.csv.gz"
printf 'format = csv\nroot = .\ntrain = cut.csv.gz\nlabels = A\n' > "$T/d/cut.data"
expect 1 "cut.csv.gz: truncated gzip file" "$BIN" stats "$T/d/cut.data"
printf 'Path,A\nimg/1.png,1\nimg/2.png,0x1\n' > "$T/d/hex.csv"
printf 'format = csv\nroot = .\ntrain = hex.csv\nlabels = A\n' > "$T/d/hex.data"
expect 1 "hex.csv:3: column 'A': bad value '0x1'" "$BIN" stats "$T/d/hex.data"
exit $fail
