#!/usr/bin/python3
"""image_ref.py OUTDIR — test images and their true grey values for tests/test_image.c.

Writes PNG and JPEG files of every kind the decoder must handle, plus corrupt / truncated
ones, and OUTDIR/manifest.txt with one line per case:

    name  file  ok   w  h  ref.f32  tol  what
    name  file  err  -  -  -        -    what

ref.f32 holds the expected [h][w] grey values (little-endian float32). Where they come from:
- PNG: the very sample values this script encoded (numpy arrays), divided by maxval; colour
  becomes 0.299 R + 0.587 G + 0.114 B on the [0, 1] values (float64). Files are written either
  with PIL or with the small PNG writer below (16-bit colour, 1/2/4-bit grey, Adam7 interlace,
  grey+alpha 16-bit, which PIL cannot write); PIL must decode every file PIL can read back to
  the same values, which checks the writer.
- JPEG: PIL's decode (same libjpeg-turbo); colour files decoded with im.draft('L'), which asks
  libjpeg for JCS_GRAYSCALE output like the C decoder. Tolerance 1/255 (one grey level, the
  spread between IDCT implementations); with the same library the decode is identical. For
  colour JPEGs a second line compares with the 601 luma of PIL's RGB decode (tolerance 2/255:
  RGB rounding after the YCbCr→RGB conversion).
"""
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(1234)
lines = []


def smooth(h, w, lo, hi, noise):
    """A smooth random field with some noise, in [lo, hi] (float64)."""
    y, x = np.mgrid[0:h, 0:w]
    f = np.zeros((h, w))
    for _ in range(4):
        fx, fy, ph = rng.uniform(0.5, 4) / w, rng.uniform(0.5, 4) / h, rng.uniform(0, 6.3)
        f += np.sin(2 * np.pi * (fx * x + fy * y) + ph)
    f = (f - f.min()) / (f.max() - f.min() + 1e-12)
    f = f + rng.uniform(-noise, noise, size=f.shape)
    return np.clip(lo + (hi - lo) * f, lo, hi)


def luma(r, g, b):
    return 0.299 * r + 0.587 * g + 0.114 * b


def save_ref(name, ref):
    path = os.path.join(OUT, name + ".f32")
    np.asarray(ref, dtype="<f4").tofile(path)
    return name + ".f32"


def ok(name, fname, ref, tol, what):
    h, w = ref.shape
    lines.append("%s %s ok %d %d %s %.9g %s" % (name, fname, w, h, save_ref(name, ref), tol, what))


def err(name, fname, what):
    lines.append("%s %s err - - - - %s" % (name, fname, what))


# ---- a small PNG writer ----------------------------------------------------------------------
def chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def pack_row(samples, depth):
    """samples: 1-D int array (all channels of a row interleaved) -> bytes."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per = 8 // depth
    n = len(samples)
    padded = np.zeros(((n + per - 1) // per) * per, dtype=np.int64)
    padded[:n] = samples
    padded = padded.reshape(-1, per)
    out = np.zeros(len(padded), dtype=np.int64)
    for k in range(per):
        out |= padded[:, k] << (8 - depth * (k + 1))
    return out.astype(np.uint8).tobytes()


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, a, depth, ctype, interlace=False, plte=None, trns=None):
    """a: (h, w) or (h, w, c) integer samples."""
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    raw = b""
    if not interlace:
        for y in range(h):
            raw += b"\x00" + pack_row(a[y].reshape(-1), depth)
    else:
        for x0, y0, dx, dy in ADAM7:
            sub = a[y0::dy, x0::dx]
            if sub.shape[0] == 0 or sub.shape[1] == 0:
                continue
            for y in range(sub.shape[0]):
                raw += b"\x00" + pack_row(sub[y].reshape(-1), depth)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if plte is not None:
        data += chunk(b"PLTE", plte)
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)


def check_pil(path, expect):
    """PIL must read the file back to `expect` (integer samples)."""
    got = np.array(Image.open(path)).astype(np.int64)
    assert got.shape == expect.shape and np.array_equal(got, expect), "PIL disagrees: " + path


def P(name):
    return os.path.join(OUT, name)


# ---- PNG cases --------------------------------------------------------------------------------
g8 = np.round(smooth(23, 37, 0, 255, 0.05)).astype(np.int64)
g8[0, 0], g8[0, 1] = 0, 255
Image.fromarray(g8.astype(np.uint8), "L").save(P("grey8.png"))
check_pil(P("grey8.png"), g8)
ok("grey8", "grey8.png", g8 / 255.0, 1e-6, "8-bit grey PNG (PIL)")

g16 = np.round(smooth(31, 29, 0, 65535, 0.05)).astype(np.int64)
g16[0, 0], g16[0, 1], g16[0, 2] = 0, 65535, 1
write_png(P("grey16.png"), g16, 16, 0)
check_pil(P("grey16.png"), g16)
ok("grey16", "grey16.png", g16 / 65535.0, 1e-6, "16-bit grey PNG, full precision")
# 1/65535 steps must survive: neighbouring values 1 apart
g16b = (np.arange(40 * 3).reshape(3, 40) + 30000).astype(np.int64)
write_png(P("grey16_steps.png"), g16b, 16, 0)
ok("grey16_steps", "grey16_steps.png", g16b / 65535.0, 1e-6, "16-bit grey, consecutive values")

for d in (1, 2, 4):
    m = (1 << d) - 1
    a = rng.randint(0, m + 1, size=(13, 19)).astype(np.int64)
    write_png(P("grey%d.png" % d), a, d, 0)
    ok("grey%dbit" % d, "grey%d.png" % d, a / float(m), 1e-6, "%d-bit grey PNG" % d)

rgb = np.stack([np.round(smooth(21, 33, 0, 255, 0.1)) for _ in range(3)], -1).astype(np.int64)
Image.fromarray(rgb.astype(np.uint8), "RGB").save(P("rgb8.png"))
check_pil(P("rgb8.png"), rgb)
ok("rgb8", "rgb8.png", luma(*(rgb[..., k] / 255.0 for k in range(3))), 1e-6, "RGB PNG -> 601 luma")

alpha = rng.randint(0, 256, size=rgb.shape[:2])
rgba = np.concatenate([rgb, alpha[..., None]], -1)
Image.fromarray(rgba.astype(np.uint8), "RGBA").save(P("rgba8.png"))
check_pil(P("rgba8.png"), rgba)
ok("rgba8", "rgba8.png", luma(*(rgb[..., k] / 255.0 for k in range(3))), 1e-6, "RGBA PNG, alpha ignored")

la = np.stack([g8, rng.randint(0, 256, size=g8.shape)], -1)
Image.fromarray(la.astype(np.uint8), "LA").save(P("la8.png"))
check_pil(P("la8.png"), la)
ok("greyalpha8", "la8.png", g8 / 255.0, 1e-6, "grey+alpha 8-bit PNG, alpha ignored")

la16 = np.stack([g16, rng.randint(0, 65536, size=g16.shape)], -1)
write_png(P("la16.png"), la16, 16, 4)
ok("greyalpha16", "la16.png", g16 / 65535.0, 1e-6, "grey+alpha 16-bit PNG")

rgb16 = np.stack([np.round(smooth(17, 26, 0, 65535, 0.1)) for _ in range(3)], -1).astype(np.int64)
write_png(P("rgb16.png"), rgb16, 16, 2)
ok("rgb16", "rgb16.png", luma(*(rgb16[..., k] / 65535.0 for k in range(3))), 1e-6, "16-bit RGB PNG")

pal = rng.randint(0, 256, size=(16, 3))
idx = rng.randint(0, 16, size=(22, 27))
im = Image.fromarray(idx.astype(np.uint8), "P")
im.putpalette(pal.astype(np.uint8).reshape(-1).tolist())
im.save(P("palette.png"))
check_pil(P("palette.png"), idx)
pref = luma(*(pal[idx][..., k] / 255.0 for k in range(3)))
ok("palette", "palette.png", pref, 1e-6, "palette PNG -> luma of the palette colours")
write_png(P("palette_trns.png"), idx, 4, 3, plte=pal.astype(np.uint8).tobytes(), trns=bytes([0, 128, 255]))
ok("palette_trns", "palette_trns.png", pref, 1e-6, "4-bit palette PNG with tRNS (alpha ignored)")

write_png(P("grey8_adam7.png"), g8, 8, 0, interlace=True)
check_pil(P("grey8_adam7.png"), g8)
ok("grey8_interlaced", "grey8_adam7.png", g8 / 255.0, 1e-6, "Adam7-interlaced 8-bit grey PNG")
write_png(P("rgb16_adam7.png"), rgb16, 16, 2, interlace=True)
ok("rgb16_interlaced", "rgb16_adam7.png", luma(*(rgb16[..., k] / 65535.0 for k in range(3))), 1e-6,
   "Adam7-interlaced 16-bit RGB PNG")

one = np.array([[200]], dtype=np.int64)
write_png(P("one.png"), one, 8, 0)
ok("onepixel", "one.png", one / 255.0, 1e-6, "1x1 PNG")

# ---- JPEG cases -------------------------------------------------------------------------------
def pil_grey_decode(path):
    im = Image.open(path)
    if im.mode != "L":
        im.draft("L", im.size)  # libjpeg JCS_GRAYSCALE output, like the C decoder
    assert im.mode == "L", path
    return np.array(im).astype(np.float64) / 255.0


JTOL = 1.0 / 255.0 + 1e-6
gj = np.round(smooth(320, 390, 10, 245, 0.08)).astype(np.uint8)
Image.fromarray(gj, "L").save(P("grey.jpg"), quality=90)
ok("jpeg_grey", "grey.jpg", pil_grey_decode(P("grey.jpg")), JTOL, "grey JPEG 390x320 vs PIL")

Image.fromarray(gj, "L").save(P("grey_prog.jpg"), quality=85, progressive=True)
ok("jpeg_progressive", "grey_prog.jpg", pil_grey_decode(P("grey_prog.jpg")), JTOL, "progressive grey JPEG")

cj = np.stack([np.round(smooth(45, 61, 40, 215, 0.05)) for _ in range(3)], -1).astype(np.uint8)
Image.fromarray(cj, "RGB").save(P("colour.jpg"), quality=92)  # 4:2:0 subsampling
ok("jpeg_colour", "colour.jpg", pil_grey_decode(P("colour.jpg")), JTOL, "YCbCr JPEG -> Y, vs PIL draft('L')")
rgbdec = np.array(Image.open(P("colour.jpg")).convert("RGB")).astype(np.float64) / 255.0
ok("jpeg_colour_luma", "colour.jpg", luma(rgbdec[..., 0], rgbdec[..., 1], rgbdec[..., 2]), 2.0 / 255.0 + 1e-6,
   "YCbCr JPEG vs luma of PIL's RGB decode")

# A JPEG named .png: the format comes from the signature.
with open(P("grey.jpg"), "rb") as f:
    jbytes = f.read()
with open(P("jpeg_named.png"), "wb") as f:
    f.write(jbytes)
ok("jpeg_named_png", "jpeg_named.png", pil_grey_decode(P("grey.jpg")), JTOL, "JPEG data in a .png file")

# ---- corrupt and truncated files ---------------------------------------------------------------
with open(P("grey8.png"), "rb") as f:
    pbytes = f.read()


def wr(name, data):
    with open(P(name), "wb") as f:
        f.write(data)


def find_chunk(data, tag):
    """(offset of the length field, length) of the first chunk `tag`."""
    pos = 8
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == tag:
            return pos, n
        pos += 12 + n
    raise KeyError(tag)


def rechunk(data, tag, newbody):
    """Replaces chunk `tag`'s body and writes a correct CRC (so only the zlib data is wrong)."""
    pos, n = find_chunk(data, tag)
    return data[:pos] + chunk(tag, newbody) + data[pos + 12 + n:]


err("missing", "does_not_exist.png", "missing file")
wr("empty.png", b"")
err("empty", "empty.png", "empty file")
wr("text.png", b"hello, this is not an image\n")
err("text", "text.png", "a text file named .png")
wr("sig_only.png", pbytes[:8] + b"garbage garbage garbage")
err("png_garbage", "sig_only.png", "PNG signature followed by garbage")
wr("trunc_half.png", pbytes[: len(pbytes) // 2])
err("png_truncated", "trunc_half.png", "PNG cut in half (inside IDAT)")
wr("trunc_iend.png", pbytes[:-12])
err("png_no_iend", "trunc_iend.png", "PNG without its IEND chunk")
pos, n = find_chunk(pbytes, b"IDAT")
flip = bytearray(pbytes)
flip[pos + 8 + n // 2] ^= 0x55
wr("crc.png", bytes(flip))
err("png_crc", "crc.png", "IDAT data byte changed (CRC / zlib error)")
flip = bytearray(pbytes)
flip[pos + 8 + n] ^= 0x01  # the IDAT's stored CRC itself
wr("idat_crc.png", bytes(flip))
err("png_idat_crc", "idat_crc.png", "IDAT with a wrong stored CRC")
body = bytearray(pbytes[pos + 8:pos + 8 + n])
body[2:12] = b"\xff" * 10  # break the deflate stream, CRC made valid
wr("zlib.png", rechunk(pbytes, b"IDAT", bytes(body)))
err("png_zlib", "zlib.png", "broken deflate data with a valid CRC")
body = bytearray(pbytes[pos + 8:pos + 8 + n])
body[-1] ^= 0x01  # adler32 of the zlib stream
wr("adler.png", rechunk(pbytes, b"IDAT", bytes(body)))
err("png_adler", "adler.png", "wrong zlib check value with a valid CRC")
ipos, ilen = find_chunk(pbytes, b"IEND")
txt = bytearray(chunk(b"tEXt", b"Comment\x00hello"))
txt[-1] ^= 0xFF
wr("anc_crc.png", pbytes[:ipos] + bytes(txt) + pbytes[ipos:])
err("png_ancillary_crc", "anc_crc.png", "ancillary chunk with a bad CRC")
raw = zlib.decompress(pbytes[pos + 8:pos + 8 + n]) + b"\x00" + b"\x07" * 37
wr("extra.png", rechunk(pbytes, b"IDAT", zlib.compress(raw, 9)))
err("png_extra_data", "extra.png", "more image data than the image holds")

wr("trunc60.jpg", jbytes[: int(len(jbytes) * 0.6)])
err("jpeg_truncated", "trunc60.jpg", "JPEG cut at 60% (libjpeg: Premature end of JPEG file)")
wr("noeoi.jpg", jbytes[:-2])
err("jpeg_no_eoi", "noeoi.jpg", "JPEG without its EOI marker")
mid = len(jbytes) // 2
wr("marker.jpg", jbytes[:mid] + b"\xff\xd9" + jbytes[mid:])
err("jpeg_marker", "marker.jpg", "EOI marker inside the scan data")
wr("jpeg_hdr.jpg", jbytes[:40])
err("jpeg_header_only", "jpeg_hdr.jpg", "JPEG cut inside its headers")

Image.fromarray(cj, "RGB").convert("CMYK").save(P("cmyk.jpg"), quality=90)
err("jpeg_cmyk", "cmyk.jpg", "CMYK JPEG (no grey conversion in libjpeg): unsupported")
os.makedirs(P("adir.png"), exist_ok=True)
err("directory", "adir.png", "a directory named .png")

with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("image_ref.py: %d cases in %s" % (len(lines), OUT))
