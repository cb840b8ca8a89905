#!/usr/bin/python3
"""dicom_ref.py OUTDIR — DICOM files (pydicom) and their compressed copies (GDCM's gdcmconv), with
the grey values medcolor must decode them to, for tests/test_dicom.c (docs/dicom.md).

Exit 77 with a "SKIP" line on stdout when pydicom or gdcmconv is missing.

OUTDIR/manifest.txt, one line per case:
    ok   NAME FILE W H REF.f32 TOL WINDOW SAME
    err  NAME FILE KEYWORD
    any  NAME FILE           (damaged compressed data: an error naming the file, or pixels in [0, 1])
    rgb8 NAME FILE W H REF.u8
WINDOW is "-" (none) or "C,W" (the user window, mc_image_load_grey_window); SAME is "-" or the
name of an earlier case whose decode this one must equal bit for bit (a lossless compressed copy
of it). KEYWORD must appear in the error message (which must also name the file).

The references: pydicom's pixel_array of the uncompressed file through pydicom's
apply_modality_lut and apply_voi_lut (prefer_lut, index 0), mapped to [0, 1] the way medcolor
maps the output range (docs/dicom.md):
  - VOI LUT Sequence: v / (2^bits - 1) (8-bit LUTs applied in numpy: pydicom 2.3 indexes them
    through uint8 indices, which wrap for inputs past first + 255);
  - a window: (v - ymin) / (ymax - ymin), with pydicom's own ymin / ymax (the modality output
    range it computes in apply_windowing);
  - none: (m - lo) / (hi - lo), lo / hi the same range (ordered);
then clipped to [0, 1] and inverted for MONOCHROME1. The user window is pydicom's
apply_windowing with that Window Center/Width and VOI LUT Function LINEAR. PNG / JPEG cases with a
window: the decoded samples (numpy / PIL) through the same pydicom function on a dataset that
describes them. Computed in float64; medcolor stores float32, hence the tolerance 1e-6 (float32
rounding of a value in [0, 1] is <= 3e-8; the two double computations differ by ulps).
"""
import copy
import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np

try:
    import pydicom
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    from pydicom.sequence import Sequence
except ImportError:
    print("SKIP test_dicom: python3-pydicom is not installed (scripts/install-deps.sh)")
    sys.exit(77)
if shutil.which("gdcmconv") is None:
    print("SKIP test_dicom: gdcmconv is not installed (libgdcm-tools, scripts/install-deps.sh)")
    sys.exit(77)
from PIL import Image

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(16)
lines = []
W, H = 37, 23

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DX = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
TS_OF = {"j2k": "1.2.840.10008.1.2.4.90", "jpeg": "1.2.840.10008.1.2.4.70", "rle": "1.2.840.10008.1.2.5",
         "jpegls": "1.2.840.10008.1.2.4.80"}


def field(lo, hi):
    """a smooth field with noise over [lo, hi] (integers) with both ends present"""
    y, x = np.mgrid[0:H, 0:W]
    f = np.sin(x / 5.0 + rng.uniform(0, 6)) + np.cos(y / 4.0 + rng.uniform(0, 6)) + rng.uniform(-0.3, 0.3, (H, W))
    f = (f - f.min()) / (f.max() - f.min())
    a = np.round(lo + f * (hi - lo)).astype(np.int64)
    a[0, 0], a[0, 1] = lo, hi
    return a


def make(name, arr, bits_alloc, bits_stored, signed, photometric="MONOCHROME2", ts=EXPLICIT_LE, preamble=True,
         extra=None, raw_pixels=None):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1016.%d" % (len(lines) + 1)
    meta.TransferSyntaxUID = ts
    ds = FileDataset(name, {}, file_meta=meta, preamble=b"\0" * 128 if preamble else None)
    ds.SOPClassUID = DX
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientID = "medcolor-test"
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_alloc
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if extra:
        extra(ds)
    ds.is_little_endian = ts != EXPLICIT_BE
    ds.is_implicit_VR = ts == IMPLICIT_LE
    if raw_pixels is None:
        dt = ("<" if ds.is_little_endian else ">") + ("i" if signed else "u") + str(bits_alloc // 8)
        raw_pixels = arr.astype(dt).tobytes()
    ds.PixelData = raw_pixels
    ds["PixelData"].VR = "OW" if bits_alloc > 8 else "OB"
    ds.save_as(os.path.join(OUT, name), write_like_original=not preamble)
    return ds


def lut_item(n, first, bits, data, signed):
    it = Dataset()
    it.add_new(0x00283002, "SS" if signed and first < 0 else "US", [n % 65536, first, bits])
    if n > 16384:  # a US element holds at most 64 KiB in explicit VR: OW (pydicom unpacks both)
        it.add_new(0x00283006, "OW", np.asarray(data, dtype="<u2").tobytes())
    else:
        it.add_new(0x00283006, "US", [int(v) for v in data])
    return it


def reference(path, user=None):
    """pydicom's modality + VOI on the file at path, mapped to [0, 1] (see the module's text)"""
    ds = pydicom.dcmread(path, force=True)
    arr = ds.pixel_array.astype(np.int64)
    bs = ds.BitsStored
    m = apply_modality_lut(arr, ds)
    # pydicom's output range of the modality step (as apply_windowing computes it)
    if ds.get("ModalityLUTSequence"):
        ymin, ymax = 0.0, 2.0 ** ds.ModalityLUTSequence[0].LUTDescriptor[2] - 1
    elif ds.PixelRepresentation == 0:
        ymin, ymax = 0.0, 2.0 ** bs - 1
    else:
        ymin, ymax = -2.0 ** (bs - 1), 2.0 ** (bs - 1) - 1
    if not ds.get("ModalityLUTSequence") and "RescaleSlope" in ds and "RescaleIntercept" in ds:
        ymin, ymax = ymin * float(ds.RescaleSlope) + float(ds.RescaleIntercept), ymax * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    if user is not None:
        d2 = copy.deepcopy(ds)
        for kw in ("VOILUTSequence", "VOILUTFunction"):
            if kw in d2:
                delattr(d2, kw)
        d2.WindowCenter, d2.WindowWidth = user
        v = apply_voi_lut(m, d2)
        y = (v - ymin) / (ymax - ymin)
    elif ds.get("VOILUTSequence"):
        n, first, bits = ds.VOILUTSequence[0].LUTDescriptor
        if bits == 8:  # pydicom 2.3 indexes 8-bit LUTs through uint8 indices, which wrap: numpy here
            data = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.int64)
            v = data[np.clip(np.floor(m - first), 0, (n or 65536) - 1).astype(np.int64)]
        else:
            v = apply_voi_lut(m, ds)
        y = v.astype(np.float64) / (2.0 ** bits - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        v = apply_voi_lut(m, ds)
        y = (v - ymin) / (ymax - ymin)
    else:
        lo, hi = min(ymin, ymax), max(ymin, ymax)
        y = (m.astype(np.float64) - lo) / (hi - lo)
    y = np.clip(y, 0.0, 1.0)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        y = 1.0 - y
    return y


def save_ref(name, y):
    np.asarray(y, dtype="<f4").tofile(os.path.join(OUT, name + ".f32"))
    return name + ".f32"


def ok(name, fname, y, window="-", same="-", tol=1e-6):
    h, w = y.shape
    lines.append("ok %s %s %d %d %s %g %s %s" % (name, fname, w, h, save_ref(name, y), tol, window, same))


def case(name, arr, ba, bs, signed, **kw):
    fname = name + ".dcm"
    make(fname, arr, ba, bs, signed, **kw)
    ok(name, fname, reference(os.path.join(OUT, fname)))
    return fname


def compress(name, src, kind):
    """a lossless compressed copy of src through gdcmconv; its transfer syntax checked"""
    fname = "%s-%s.dcm" % (name, kind)
    args = ["gdcmconv", "--" + kind]
    if kind == "jpeg":
        args += ["--lossless"] if "--lossless" in subprocess.run(["gdcmconv", "--help"], capture_output=True, text=True).stdout else []
    subprocess.run(args + [os.path.join(OUT, src), os.path.join(OUT, fname)], check=True, capture_output=True)
    got = pydicom.dcmread(os.path.join(OUT, fname), stop_before_pixels=True).file_meta.TransferSyntaxUID
    if got != TS_OF[kind]:
        sys.exit("dicom_ref.py: gdcmconv --%s wrote transfer syntax %s, expected %s" % (kind, got, TS_OF[kind]))
    return fname


def window(c, w, fn=None):
    def f(ds):
        ds.WindowCenter, ds.WindowWidth = c, w
        if fn:
            ds.VOILUTFunction = fn
    return f


def chain(*fs):
    def f(ds):
        for g in fs:
            g(ds)
    return f


def rescale(slope, icpt):
    def f(ds):
        ds.RescaleSlope, ds.RescaleIntercept = slope, icpt
    return f


# ---- uncompressed files: parity with pydicom --------------------------------------------------
u16 = case("u16_none", field(0, 65535), 16, 16, False)
u12w = case("u12_window", field(0, 4095), 16, 12, False, extra=window("2048", "3000"))
case("u12_mono1_two_windows", field(0, 4095), 16, 12, False, photometric="MONOCHROME1",
     extra=window(["1500", "3000"], ["1000", "500"]))
s12 = case("s12_rescale_window", field(-2048, 2047), 16, 12, True, extra=chain(rescale("1", "-1024"), window("-500", "1500")))
case("s16_rescale_none", field(-32768, 32767), 16, 16, True, extra=rescale("0.5", "100"))
u8 = case("u8_none", field(0, 255), 8, 8, False)
case("u8_mono1_linear_exact", field(0, 255), 8, 8, False, photometric="MONOCHROME1", extra=window("100.5", "81", "LINEAR_EXACT"))
case("s8_window", field(-128, 127), 8, 8, True, extra=window("0", "128"))
case("u10_sigmoid", field(0, 1023), 16, 10, False, extra=window("400", "300", "SIGMOID"))
case("u14_neg_slope", field(0, 16383), 16, 14, False, extra=rescale("-2", "30000"))
case("u12_window_width1", field(0, 4095), 16, 12, False, extra=window("2000", "1"))


def voilut(n, first, bits, signed, with_window=True):
    data = np.round((2 ** bits - 1) * (np.linspace(0, 1, n) ** 0.7)).astype(np.int64)  # a gamma-like curve

    def f(ds):
        ds.VOILUTSequence = Sequence([lut_item(n, first, bits, data, signed)])
        if with_window:
            ds.WindowCenter, ds.WindowWidth = "100", "50"  # present too: the LUT wins (PS3.3, pydicom)
    return f


case("u12_voilut16", field(0, 4095), 16, 12, False, extra=voilut(4096, 0, 16, False))
case("u12_voilut8_clamped", field(0, 4095), 16, 12, False, extra=voilut(3000, 500, 8, False))
case("s12_voilut12", field(-2048, 2047), 16, 12, True, extra=voilut(4096, -2048, 12, True, with_window=False))


def modlut(n, first, bits, signed):
    data = np.round(np.linspace(0, 2 ** bits - 1, n) ** 1.0).astype(np.int64)[::-1]  # an inverting LUT

    def f(ds):
        it = lut_item(n, first, bits, data, signed)
        it.ModalityLUTType = "OD"
        ds.ModalityLUTSequence = Sequence([it])
    return f


case("u12_modlut16_window", field(0, 4095), 16, 12, False, extra=chain(modlut(4096, 0, 16, False), window("30000", "40000")))
case("u12_modlut16_none", field(0, 4095), 16, 12, False, extra=modlut(4000, 50, 16, False))
case("u12_modlut_voilut", field(0, 4095), 16, 12, False, extra=chain(modlut(4096, 0, 16, False), voilut(65536, 0, 16, False)))

# bits above Bits Stored set (an overlay in the high bits): not part of the value
a = field(0, 4095)
dirty = (a | (rng.randint(0, 16, a.shape) << 12)).astype("<u2").tobytes()
make("u12_dirty_high_bits.dcm", a, 16, 12, False, extra=window("2048", "4096"), raw_pixels=dirty)
clean = "u12_dirty_clean.dcm"
make(clean, a, 16, 12, False, extra=window("2048", "4096"))
ok("u12_dirty_high_bits", "u12_dirty_high_bits.dcm", reference(os.path.join(OUT, clean)))

# other encodings of the same pixels: implicit VR, big endian, no preamble (.dcm), .dicom, a .png name
a = field(0, 4095)
for nm, kw in (("implicit", {"ts": IMPLICIT_LE}), ("bigendian", {"ts": EXPLICIT_BE})):
    make("u12_%s.dcm" % nm, a, 16, 12, False, extra=window("2048", "3000"), **kw)
    ok("u12_" + nm, "u12_%s.dcm" % nm, reference(os.path.join(OUT, "u12_%s.dcm" % nm)))
make("nopreamble.dcm", a, 16, 12, False, preamble=False, extra=window("2048", "3000"))
ok("nopreamble", "nopreamble.dcm", reference(os.path.join(OUT, "nopreamble.dcm")))
shutil.copy(os.path.join(OUT, u12w), os.path.join(OUT, "vindr.dicom"))
ok("vindr_ext", "vindr.dicom", reference(os.path.join(OUT, u12w)), same="u12_window")
shutil.copy(os.path.join(OUT, u12w), os.path.join(OUT, "dicom_named.png"))
ok("magic_not_name", "dicom_named.png", reference(os.path.join(OUT, u12w)), same="u12_window")

# the user's window (over the file's)
for nm, src, cw in (("user_u12", u12w, (1000.0, 1500.0)), ("user_s12_hu", s12, (40.0, 400.0)),
                    ("user_u16", u16, (30000.0, 20001.0)), ("user_u8", u8, (128.0, 1.0))):
    ok(nm, src, reference(os.path.join(OUT, src), user=cw), window="%r,%r" % cw)

# ---- lossless compressed copies: the same pixels as the originals ------------------------------
for src, base in ((u16, "u16_none"), (u12w, "u12_window"), (s12, "s12_rescale_window"), (u8, "u8_none")):
    y = reference(os.path.join(OUT, src))
    for kind in ("j2k", "jpeg", "rle", "jpegls"):
        if kind == "rle" and base == "u8_none":
            continue  # gdcmconv 3.0.21 --rle asserts on 8-bit images of this size (gdcmRLECodec.cxx:506)
        try:
            f = compress(base, src, kind)
        except subprocess.CalledProcessError as e:
            sys.exit("dicom_ref.py: gdcmconv --%s %s failed: %s" % (kind, src, e.stderr.decode(errors="replace")))
        ok("%s_%s" % (base, kind), f, y, same=base)
        if kind == "rle":  # pydicom decodes RLE itself: a second, independent reference
            ok("%s_rle_pydicom" % base, f, reference(os.path.join(OUT, f)))

# ---- lossy copies: the code stream inside decoded by PIL (libjpeg-turbo; OpenJPEG, the library GDCM
# uses too): JPEG baseline within one grey level (1/255: IDCTs differ between GDCM's IJG build and
# libjpeg-turbo), JPEG 2000 lossy identical (1e-6, float32 rounding)
import io
from pydicom.encaps import generate_pixel_data_frame
for src, kind, uid, q, maxval, tol in ((u8, "jpeg", "1.2.840.10008.1.2.4.50", "90", 255.0, 1.0 / 255 + 1e-6),
                                       (u16, "j2k", "1.2.840.10008.1.2.4.91", "40", 65535.0, 1e-6)):
    f = "%s-%s-lossy.dcm" % (src[:-4], kind)
    subprocess.run(["gdcmconv", "--" + kind, "--lossy", "-q", q, os.path.join(OUT, src), os.path.join(OUT, f)],
                   check=True, capture_output=True)
    d = pydicom.dcmread(os.path.join(OUT, f))
    if d.file_meta.TransferSyntaxUID != uid:
        sys.exit("dicom_ref.py: gdcmconv --%s --lossy wrote %s, expected %s" % (kind, d.file_meta.TransferSyntaxUID, uid))
    frame = next(generate_pixel_data_frame(d.PixelData))
    ok("%s_%s_lossy" % (src[:-4], kind), f, np.asarray(Image.open(io.BytesIO(frame))).astype(np.float64) / maxval, tol=tol)

# ---- 16-bit and 8-bit PNG, grey JPEG with the user window: pydicom's windowing on their samples --


def png16(path, v):
    raw = b"".join(b"\0" + r.astype(">u2").tobytes() for r in v)
    ch = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + ch(b"IHDR", struct.pack(">IIBBBBB", v.shape[1], v.shape[0], 16, 0, 0, 0, 0)) +
                ch(b"IDAT", zlib.compress(raw)) + ch(b"IEND", b""))


def sample_window(v, bits, cw):
    d = Dataset()
    d.PhotometricInterpretation, d.BitsStored, d.PixelRepresentation = "MONOCHROME2", bits, 0
    d.WindowCenter, d.WindowWidth = cw
    return (apply_voi_lut(v.astype(np.int64), d) - 0.0) / (2.0 ** bits - 1)


v = field(0, 65535)
png16(os.path.join(OUT, "grey16.png"), v)
ok("png16_full", "grey16.png", v / 65535.0)
ok("png16_user", "grey16.png", sample_window(v, 16, (20000.0, 30001.0)), window="20000.0,30001.0")
v8 = field(0, 255)
Image.fromarray(v8.astype(np.uint8), "L").save(os.path.join(OUT, "grey8.png"))
ok("png8_user", "grey8.png", sample_window(v8, 8, (100.0, 60.0)), window="100.0,60.0")
Image.fromarray(v8.astype(np.uint8), "L").save(os.path.join(OUT, "grey.jpg"), quality=90)
j = np.asarray(Image.open(os.path.join(OUT, "grey.jpg")).convert("L")).astype(np.int64)
ok("jpeg_user", "grey.jpg", sample_window(j, 8, (100.0, 60.0)), window="100.0,60.0")

# mc_image_load_rgb8 of a DICOM file and of a 16-bit PNG: round(255 y) replicated
for nm, f in (("rgb8_dicom", u12w), ("rgb8_png16", "grey16.png")):
    y = reference(os.path.join(OUT, f)) if f.endswith(".dcm") else v / 65535.0
    q = np.floor(y * 255.0 + 0.5).astype(np.uint8)
    np.repeat(q[..., None], 3, axis=2).tofile(os.path.join(OUT, nm + ".u8"))
    lines.append("rgb8 %s %s %d %d %s" % (nm, f, W, H, nm + ".u8"))

# ---- errors ----------------------------------------------------------------------------------
frames = np.stack([field(0, 4095), field(0, 4095)])
make("multiframe.dcm", frames[0], 16, 12, False, extra=lambda ds: setattr(ds, "NumberOfFrames", 2),
     raw_pixels=frames.astype("<u2").tobytes())
lines.append("err multiframe multiframe.dcm multi-frame")
meta = FileMetaDataset()
meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1016.999"
meta.TransferSyntaxUID = EXPLICIT_LE
sr = FileDataset("nopixels.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
sr.SOPClassUID, sr.SOPInstanceUID, sr.Modality = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, "SR"
sr.is_little_endian, sr.is_implicit_VR = True, False
sr.save_as(os.path.join(OUT, "nopixels.dcm"))
lines.append("err nopixels nopixels.dcm Pixel Data")


def rgb(ds):
    ds.SamplesPerPixel, ds.PlanarConfiguration = 3, 0


c = np.stack([field(0, 255)] * 3, -1)
make("rgb.dcm", c[..., 0], 8, 8, False, photometric="RGB", extra=rgb, raw_pixels=c.astype(np.uint8).tobytes())
lines.append("err rgb rgb.dcm grey only")
make("badfunction.dcm", field(0, 4095), 16, 12, False, extra=window("2048", "4096", "LOG"))
lines.append("err badfunction badfunction.dcm VOI LUT Function")
make("width0.dcm", field(0, 4095), 16, 12, False, extra=window("2048", "0"))
lines.append("err width0 width0.dcm Window Width")
make("slope_only.dcm", field(0, 4095), 16, 12, False, extra=lambda ds: setattr(ds, "RescaleSlope", "2"))
lines.append("err slope_only slope_only.dcm Rescale Slope")
make("bits32.dcm", field(0, 4095), 32, 32, False)
lines.append("err bits32 bits32.dcm Bits Allocated")
d = open(os.path.join(OUT, u12w), "rb").read()
open(os.path.join(OUT, "truncated.dcm"), "wb").write(d[: len(d) - 700])
lines.append("err truncated truncated.dcm truncated.dcm")
open(os.path.join(OUT, "text.dcm"), "w").write("not a DICOM file\n" * 20)
lines.append("err text text.dcm text.dcm")
d = bytearray(open(os.path.join(OUT, "u16_none-j2k.dcm"), "rb").read())
d[-200:-100] = bytes(100)  # damage inside the JPEG 2000 code stream
open(os.path.join(OUT, "j2k_damaged.dcm"), "wb").write(bytes(d))
lines.append("any j2k_damaged j2k_damaged.dcm")  # an error naming the file, or pixels in [0, 1]
# "DICM" without a File Meta group, the first element (FF02,FFFF) with a VR: GDCM then reads the data
# set big endian, and this OL element's length as 0xD4000000 (it allocated 3.5 GB; fuzz_dicom):
# the structure check must walk it as GDCM reads it, and refuse it
open(os.path.join(OUT, "nometa_bigendian.dcm"), "wb").write(
    bytes(128) + b"DICM" + b"\x02\xff\xff\xffOL\x00\x00\xd4\x00\x00\x00" + bytes(300))
lines.append("err nometa_bigendian nometa_bigendian.dcm declares 3556769792 bytes")
# a marker segment whose declared length runs past the stream's end: GDCM's lossless probe walks
# on past its buffer (a SEGV found by fuzz_dicom); refused before GDCM sees it
d = bytearray(open(os.path.join(OUT, "u16_none-j2k.dcm"), "rb").read())
com = d.index(b"\xff\x64", d.index(b"\xff\x4f\xff\x51"))  # the COM segment GDCM writes
d[com + 2:com + 4] = struct.pack(">H", 0xFFF0)
open(os.path.join(OUT, "j2k_segment_past_end.dcm"), "wb").write(bytes(d))
lines.append("err j2k_segment_past_end j2k_segment_past_end.dcm run past the end")
# a SIZ segment wider than Columns: GDCM copied OpenJPEG's 2056-wide rows into an 8-wide buffer (heap
# overflow, free(): invalid pointer; fuzz_dicom)
d = bytearray(open(os.path.join(OUT, "u16_none-j2k.dcm"), "rb").read())
soc = d.index(b"\xff\x4f\xff\x51")
d[soc + 8:soc + 12] = struct.pack(">I", struct.unpack(">I", d[soc + 8:soc + 12])[0] + 2048)
open(os.path.join(OUT, "j2k_siz_wide.dcm"), "wb").write(bytes(d))
lines.append("err j2k_siz_wide j2k_siz_wide.dcm Columns x Rows are")
d = open(os.path.join(OUT, "u12_window-jpegls.dcm"), "rb").read()
open(os.path.join(OUT, "jpegls_truncated.dcm"), "wb").write(d[: len(d) * 2 // 3])
lines.append("any jpegls_truncated jpegls_truncated.dcm")

# RLE frames GDCM would assert on (a wrong segment count; a segment that decodes short): refused
d = bytearray(open(os.path.join(OUT, "u16_none-rle.dcm"), "rb").read())
items = [i for i in range(len(d) - 4) if d[i:i + 4] == b"\xfe\xff\x00\xe0"]
h, flen = items[1] + 8, struct.unpack("<I", d[items[1] + 4:items[1] + 8])[0]
bad = bytearray(d)
bad[h:h + 4] = struct.pack("<I", 3)
open(os.path.join(OUT, "rle_segments.dcm"), "wb").write(bytes(bad))
lines.append("err rle_segments rle_segments.dcm 3 segments")
bad = bytearray(d)
bad[h + 8:h + 12] = struct.pack("<I", flen - 2)
open(os.path.join(OUT, "rle_short.dcm"), "wb").write(bytes(bad))
lines.append("err rle_short rle_short.dcm decodes to")

with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
