#!/usr/bin/env bash
# cli_pth_legacy.sh — `medcolor import` of PyTorch checkpoints in torch.save's legacy format
# (docs/import.md, ".pth"; files from tests/torch/pth_legacy_make.py, written by torch 1.13 with
# _use_new_zipfile_serialization=False, and one written as torch <= 0.3 did):
#   - torchvision's resnet18 state dict (an OrderedDict with _metadata), fastai's {'model', 'opt'}
#     and a state dict of shared storages, views and float16/float64/int64 tensors import into
#     cfg/resnet18.cfg to the same .weights, bit for bit, as the zip-format file of the same object;
#   - each, and the torch-0.3-style file (storage views, _rebuild_tensor, torch.cuda storages,
#     Python 2's pickled OrderedDict),
#     equals what torch.load gives, tensor by tensor (export --names torchvision, then
#     pth_legacy_make.py check: bit for bit as float32);
#   - a file cut at every byte, a wrong magic number or protocol version, a storage whose count
#     disagrees with its persistent id, bytes after the last storage, a pickle that would call
#     os.system, a pickled module and the old tar format each give one line naming the file
#     (and what), exit status 1, and no output file.
set -u
BIN=${MC_BIN:-./medcolor}
T=${MC_TMP:-/tmp}
fail=0
ck() { if ! eval "$1"; then echo "FAIL cli_pth_legacy: $2"; fail=1; fi; }

L=$T/legacy
mkdir -p "$L"
out=$(/usr/bin/python3 tests/torch/pth_legacy_make.py make "$L" 2>&1); rc=$?
ck '[ $rc -eq 0 ]' "pth_legacy_make.py: rc $rc: $out"

for f in resnet18 fastai views; do
  for g in "$f" "$f.zip"; do
    out=$("$BIN" import cfg/resnet18.cfg "$L/$g.pth" -o "$L/$g.weights" 2>&1); rc=$?
    ck '[ $rc -eq 0 ] && [[ "$out" == *"loaded    102 of 102 tensors"* ]]' "import $g.pth: rc $rc: $out"
  done
  ck '[[ "$(head -1 <<<"$out")" == *"(PyTorch checkpoint)" ]]' "the zip file is named as such: $out"
  out=$("$BIN" import cfg/resnet18.cfg "$L/$f.pth" -o "$L/$f.weights" 2>&1)
  ck '[[ "$(head -1 <<<"$out")" == *"$f.pth (PyTorch checkpoint, legacy format)" ]]' "the legacy file is named as such: $out"
  ck '[ -s "$L/$f.weights" ] && cmp -s "$L/$f.weights" "$L/$f.zip.weights"' "$f.pth (legacy) imports as $f.zip.pth does"
done
# the views' float16 layers make a different network than the float32 state dict's: the cmp can fail
ck '! cmp -s "$L/views.weights" "$L/resnet18.weights"' "views.pth's float16 tensors are not resnet18.pth's float32 ones"
out=$("$BIN" import cfg/resnet18.cfg "$L/old.pth" -o "$L/old.weights" 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"loaded    102 of 102 tensors"* ]]' "import old.pth: rc $rc: $out"
ck 'cmp -s "$L/old.weights" "$L/resnet18.weights"' "old.pth (torch 0.3 style) imports as resnet18.pth does"
for f in resnet18 fastai views old; do
  "$BIN" export cfg/resnet18.cfg "$L/$f.weights" -o "$L/$f.safetensors" --names torchvision >/dev/null 2>&1
  out=$(/usr/bin/python3 tests/torch/pth_legacy_make.py check "$L/$f.pth" "$L/$f.safetensors" 2>&1); rc=$?
  ck '[ $rc -eq 0 ]' "$f.pth against torch.load: rc $rc: $out"
  echo "  $out"
done
rm -f "$L"/*.weights "$L"/*.safetensors "$L"/resnet18* "$L"/fastai* "$L"/views* "$L"/old*

# the error cases, on a one-convolution network
printf '[net]\nwidth=4\nheight=4\nchannels=1\n\n[convolutional]\nname=c\nfilters=2\nsize=1\nactivation=linear\n' > "$L/tiny.cfg"
out=$("$BIN" import "$L/tiny.cfg" "$L/tiny.pth" -o "$L/tiny.weights" 2>&1); rc=$?
ck '[ $rc -eq 0 ] && [[ "$out" == *"loaded    2 of 2 tensors, 4 values"* ]]' "import tiny.pth: rc $rc: $out"
# refused: exit 1, one line naming the file and holding $2, no output
refused() {
  local f=$1 want=$2 out rc
  rm -f "$L/o.weights"
  out=$("$BIN" import "$L/tiny.cfg" "$f" -o "$L/o.weights" 2>&1); rc=$?
  ck '[ $rc -eq 1 ] && [ $(wc -l <<<"$out") -eq 1 ] && [[ "$out" == *"$f"* ]] && [[ "$out" == *"$want"* ]] && [ ! -e "$L/o.weights" ]' \
     "$(basename "$f"): rc $rc: $out (want '$want')"
}
declare -A at
while read -r name off; do at[$name]=$off; done < "$L/tiny.txt"
size=$(stat -c %s "$L/tiny.pth")
ck '[ "${at[end]}" = "$size" ]' "tiny.txt's sections end at the file's size: ${at[end]} vs $size"
# cut at every byte (each section's start and middle included): one line, the file named
bad=0
for ((n = 0; n < size; n++)); do
  head -c $n "$L/tiny.pth" > "$L/cut.pth"
  out=$("$BIN" import "$L/tiny.cfg" "$L/cut.pth" -o "$L/o.weights" 2>&1); rc=$?
  if [ $rc -ne 1 ] || [ $(wc -l <<<"$out") -ne 1 ] || [[ "$out" != *"cut.pth"* ]] || [ -e "$L/o.weights" ]; then
    [ $bad -lt 5 ] && echo "FAIL cli_pth_legacy: tiny.pth cut at byte $n of $size: rc $rc: $out"
    bad=$((bad + 1)); fail=1
  fi
done
# and what each cut says, at the sections' boundaries and inside them
cut_at() { head -c "$1" "$L/tiny.pth" > "$L/cut.pth"; refused "$L/cut.pth" "$2"; }
cut_at $((at[magic] + 8)) "the magic number's pickle (legacy format), file byte 2: truncated"
cut_at ${at[protocol]} "ends at byte ${at[protocol]}, before the protocol version's pickle (legacy format) (truncated?)"
cut_at $((at[protocol] + 5)) "the protocol version's pickle (legacy format) ends without STOP (truncated?)"
cut_at ${at[sysinfo]} "ends at byte ${at[sysinfo]}, before the sys_info pickle"
cut_at $((at[sysinfo] + 50)) "the sys_info pickle (legacy format)"
cut_at ${at[object]} "before the object's pickle"
cut_at $(((at[object] + at[keys]) / 2)) "the object's pickle (legacy format)"
cut_at ${at[keys]} "before the storage keys' pickle"
cut_at $((at[keys] + 20)) "the storage keys' pickle (legacy format)"
cut_at ${at[storage0]} "ends at byte ${at[storage0]}, in the element count of storage '"
cut_at $((at[storage0] + 5)) "in the element count of storage '"
cut_at $((at[storage0] + 12)) "ends at byte $((at[storage0] + 12)), in storage '"
cut_at ${at[storage1]} "in the element count of storage '"
cut_at $((at[end] - 1)) "(key 2 of 2: 2 elements of 4 bytes from byte $((at[storage1] + 8)); truncated?)"
# a damaged byte: at offset $1, the value $2 (octal escape for printf)
damage() { cp "$L/tiny.pth" "$L/$3.pth"; printf "$2" | dd of="$L/$3.pth" bs=1 seek="$1" conv=notrunc status=none; }
damage 4 '\155' magic
refused "$L/magic.pth" "a pickle, but not PyTorch's legacy-format checkpoint (its first value, of type big int, is not the magic number 0x1950a86a20f9469cfc6c)"
damage $((at[protocol] + 3)) '\352' protocol  # BININT2 1001 -> 1002
refused "$L/protocol.pth" "legacy format protocol version 1002, not 1001"
damage ${at[storage0]} '\003' count  # the first storage says 3 elements, its persistent id 2
refused "$L/count.pth" "byte ${at[storage0]}: storage '"
refused "$L/count.pth" "' holds 3 elements, its persistent id says 2"
cp "$L/tiny.pth" "$L/trailing.pth"; printf 'x' >> "$L/trailing.pth"
refused "$L/trailing.pth" "1 bytes after the last storage (at byte $size)"
printf '\200\002K\001.' > "$L/pickle.pth"  # a pickle of the number 1
refused "$L/pickle.pth" "a pickle, but not PyTorch's legacy-format checkpoint (its first value, of type int, is not the magic number"
refused "$L/evil.pth" "the object's pickle (legacy format), file byte "
refused "$L/evil.pth" "refuses the global 'posix.system'"
ck '[ ! -e "$L/PWNED" ]' "evil.pth ran nothing"
refused "$L/module.pth" "refuses the global 'torch.nn.modules.linear.Linear'"
refused "$L/tar.pth" "a tar archive: torch's oldest checkpoint format"

[ $fail -eq 0 ] && echo "cli_pth_legacy                 torch.save's legacy format: resnet18, fastai, views, torch 0.3 = zip = torch.load; $size cuts and 10 damaged files refused, ok"
exit $fail
