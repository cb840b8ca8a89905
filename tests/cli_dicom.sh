#!/usr/bin/env bash
# cli_dicom.sh — DICOM files where the commands take PNG/JPEG (docs/dicom.md), and --window.
# Generated with pydicom: an 8-bit PNG and the same pixels as DICOM (MONOCHROME2; MONOCHROME1 with
# the values inverted; a copy named .dicom; a DICOM file named .png): dhash gives one hash for all,
# quality finds them identical (PSNR 100); --window on the PNG and on the DICOM (stored = sample
# values, no rescale) gives one hash, other than without it; predict on the 16-bit PNG of the
# PyTorch fixtures and on DICOM copies of it (MONOCHROME2, and MONOCHROME1 inverted) gives
# PyTorch's probabilities (the decoded grey is the same x / 65535); a bad --window is a usage
# error; a multi-frame file is refused naming the file. Skips (77) without pydicom; in a build
# without GDCM (make DICOM=0) checks the refusal and skips.
set -u
BIN=${MC_BIN:-./medcolor}
T=${MC_TMP:-$(mktemp -d)}
PY=/usr/bin/python3
FX=${MC_FIXTURES:-build/fixtures}/networks/predict
fail=0
bad() { echo "FAIL cli_dicom: $*"; fail=1; }

$PY -c "import pydicom" 2>/dev/null || { echo "SKIP cli_dicom: python3-pydicom is not installed (scripts/install-deps.sh)"; exit 77; }
$PY - "$T" "$FX/b_16bit.png" <<'PYEOF' || { echo "FAIL cli_dicom: generator failed"; exit 1; }
import os, shutil, sys
import numpy as np
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
out, png16 = sys.argv[1], sys.argv[2]

def dcm(path, a, bits, photometric="MONOCHROME2", frames=1):
    m = FileMetaDataset()
    m.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    m.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1016.1"
    m.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds = FileDataset(path, {}, file_meta=m, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = m.MediaStorageSOPClassUID, m.MediaStorageSOPInstanceUID
    ds.Rows, ds.Columns = a.shape[-2:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit, ds.PixelRepresentation = bits - 1, 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.PixelData = a.astype("<u%d" % (bits // 8)).tobytes()
    ds.save_as(path)

rng = np.random.RandomState(5)
y, x = np.mgrid[0:48, 0:64]
a = ((np.sin(x / 7.0) + np.cos(y / 5.0) + 2) * 60 + rng.randint(0, 20, x.shape)).clip(0, 255).astype(np.uint8)
Image.fromarray(a, "L").save(os.path.join(out, "a.png"))
dcm(os.path.join(out, "a.dcm"), a, 8)
dcm(os.path.join(out, "a_mono1.dcm"), 255 - a, 8, "MONOCHROME1")
shutil.copy(os.path.join(out, "a.dcm"), os.path.join(out, "a.dicom"))
shutil.copy(os.path.join(out, "a.dcm"), os.path.join(out, "a_dicom_named.png"))
dcm(os.path.join(out, "frames.dcm"), np.stack([a, a]), 8, frames=2)
if os.path.exists(png16):
    v = np.asarray(Image.open(png16)).astype(np.int64)
    assert v.max() > 255, "b_16bit.png is not 16-bit"
    dcm(os.path.join(out, "b_16bit.dcm"), v, 16)
    dcm(os.path.join(out, "b_16bit_mono1.dicom"), 65535 - v, 16, "MONOCHROME1")
PYEOF

if ! "$BIN" dhash "$T/a.dcm" > "$T/h.txt" 2> "$T/e.txt"; then
  if grep -q "DICOM=1" "$T/e.txt" && grep -q "a.dcm" "$T/e.txt"; then
    echo "  a build without GDCM refuses DICOM: $(cat "$T/e.txt")"
    [ $fail -eq 0 ] || exit 1
    echo "SKIP cli_dicom: this medcolor was built without GDCM (make DICOM=0)"; exit 77
  fi
  bad "dhash of a DICOM file failed: $(cat "$T/e.txt")"
fi

# one hash for the PNG and its DICOM versions
"$BIN" dhash "$T/a.png" "$T/a.dcm" "$T/a_mono1.dcm" "$T/a.dicom" "$T/a_dicom_named.png" > "$T/h.txt" 2> "$T/e.txt" ||
  bad "dhash exited $?: $(cat "$T/e.txt")"
n=$(awk '{print $1}' "$T/h.txt" | sort -u | wc -l)
[ "$(wc -l < "$T/h.txt")" -eq 5 ] && [ "$n" -eq 1 ] || bad "PNG and DICOM versions hash differently: $(cat "$T/h.txt")"
echo "  dhash: a PNG and 4 DICOM versions of it (MONOCHROME1, .dicom, named .png): $n distinct hash"

# quality: identical images
q=$("$BIN" quality "$T/a.png" "$T/a_mono1.dcm" 2> "$T/e.txt") || bad "quality exited $?: $(cat "$T/e.txt")"
echo "$q" | grep -Eq "^psnr +100\.0+$" || bad "quality of a PNG and its DICOM: $q"

# --window: the same on the PNG and the DICOM, and not a no-op
w1=$("$BIN" dhash --window 100,50 "$T/a.png" | awk '{print $1}')
w2=$("$BIN" dhash --window 100,50 "$T/a.dcm" | awk '{print $1}')
w0=$("$BIN" dhash "$T/a.png" | awk '{print $1}')
[ -n "$w1" ] && [ "$w1" = "$w2" ] || bad "--window 100,50: PNG $w1, DICOM $w2"
[ "$w1" != "$w0" ] || bad "--window 100,50 changed nothing ($w0)"
msg=$("$BIN" dhash --window 100,0.5 "$T/a.png" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$msg" == *"--window 100,0.5"*"width >= 1"* ]] || bad "--window 100,0.5: rc $rc: $msg"
msg=$("$BIN" dhash --window 100 "$T/a.png" 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$msg" == *"CENTER,WIDTH"* ]] || bad "--window 100: rc $rc: $msg"

# refused: several frames
msg=$("$BIN" dhash "$T/frames.dcm" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$msg" == *"frames.dcm: a multi-frame image"* ]] && [ "$(echo "$msg" | wc -l)" -eq 1 ] ||
  bad "multi-frame: rc $rc: $msg"

# predict: the 16-bit PNG of the PyTorch fixtures and its DICOM copies, PyTorch's probabilities
if [ -f "$T/b_16bit.dcm" ] && [ -f "$FX/tiny.cfg" ]; then
  "$BIN" import "$FX/tiny.cfg" "$FX/tiny.safetensors" -o "$T/tiny.weights" > /dev/null 2>&1 || bad "import failed"
  "$BIN" predict "$FX/tiny.cfg" "$T/tiny.weights" "$FX/b_16bit.png" "$T/b_16bit.dcm" "$T/b_16bit_mono1.dicom" \
      -o "$T/p.csv" 2> "$T/e.txt" || bad "predict on DICOM exited $?: $(cat "$T/e.txt")"
  want=$(awk '$1 == "b_16bit.png" { print $2, $3, $4 }' "$FX/expected.txt")
  awk -F, -v want="$want" 'NR > 1 { split(want, w, " "); for (i = 2; i <= 4; i++) { d = $i - w[i - 1]; if (d < 0) d = -d
        if (d > 1e-4) { printf "%s: column %d %s, PyTorch %s\n", $1, i - 1, $i, w[i - 1]; bad = 1 } } n++ }
        END { if (n != 3) { print "rows: " n; bad = 1 } exit bad }' "$T/p.csv" || bad "predict on DICOM: not PyTorch's probabilities"
  echo "  predict: 16-bit PNG, its DICOM (MONOCHROME2) and inverted (MONOCHROME1, .dicom) copies: PyTorch's probabilities (1e-4)"
else
  echo "  predict on DICOM not checked: no network fixtures ($FX; make fixtures)"
fi
exit $fail
