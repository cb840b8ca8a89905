#!/usr/bin/python3
"""rgb_ref.py OUTDIR — PNG and JPEG files of every mode and what PIL makes of them with
Image.open(f).convert("RGB") (Pillow 9.4), for tests/test_image_rgb.c (mc_image_load_rgb8); except
16-bit grey, which medcolor reads at full precision (round(255 x / 65535), not PIL's clip).

OUTDIR/manifest.txt, one line per file:
  ok  FILE W H     FILE.rgb = PIL's convert("RGB") pixels (W*H*3 bytes)
  err FILE WHY     the decoder must refuse FILE with a message naming it
Files PIL cannot write (1/2/4-bit grey, 16-bit grey+alpha/RGB/RGBA, 4-bit palette) come from the
small PNG writer below; PIL reads each of them back here (that is the reference).
"""
import os
import struct
import sys
import warnings
import zlib

import numpy as np
from PIL import Image

OUT = sys.argv[1]
warnings.simplefilter("ignore")  # PIL warns that palette transparency in bytes should be RGBA
os.makedirs(OUT, exist_ok=True)
rng = np.random.RandomState(3)
man = []


def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def write_png(path, rows_bytes, w, h, depth, ctype, extra=b""):
    data = b"".join(b"\0" + r for r in rows_bytes)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)) + extra +
                chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b""))


def pack_bits(vals, depth):
    """a row of small integers packed MSB first"""
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(vals), per):
        b = 0
        for j in range(per):
            v = int(vals[i + j]) if i + j < len(vals) else 0
            b |= v << (8 - depth * (j + 1))
        out.append(b)
    return bytes(out)


def field(h, w, c, hi=256):
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([(x * (ch + 3) + y * (7 - ch)) % hi for ch in range(c)], -1)
    a = (a + rng.randint(0, max(hi // 8, 1), size=a.shape)) % hi
    return a


def ref16(name, v):
    """16-bit grey (no alpha): medcolor decodes it at full precision, x / 65535, and quantises
    round(255 y) (PIL's mode "I" would clip at 255 and make most X-rays white)"""
    q = np.floor(v.astype(np.float64) / 65535.0 * 255.0 + 0.5).astype(np.uint8)
    np.repeat(q[..., None], 3, axis=2).tofile(os.path.join(OUT, name + ".rgb"))
    man.append("ok %s %d %d %s" % (name, v.shape[1], v.shape[0], "I;16-full"))


def ref(name):
    im = Image.open(os.path.join(OUT, name))
    rgb = np.asarray(im.convert("RGB"))
    rgb.tofile(os.path.join(OUT, name + ".rgb"))
    man.append("ok %s %d %d %s" % (name, im.size[0], im.size[1], im.mode))


w, h = 37, 23
# PIL-written PNGs
Image.fromarray(field(h, w, 1)[..., 0].astype(np.uint8), "L").save(os.path.join(OUT, "l8.png"))
Image.fromarray(field(h, w, 3).astype(np.uint8), "RGB").save(os.path.join(OUT, "rgb8.png"))
Image.fromarray(field(h, w, 4).astype(np.uint8), "RGBA").save(os.path.join(OUT, "rgba8.png"))
Image.fromarray(field(h, w, 2).astype(np.uint8), "LA").save(os.path.join(OUT, "la8.png"))
Image.fromarray(field(h, w, 1)[..., 0] > 128).save(os.path.join(OUT, "bw1.png"))
p = Image.fromarray(field(h, w, 3).astype(np.uint8), "RGB").quantize(colors=50)
p.save(os.path.join(OUT, "pal8.png"))
p.save(os.path.join(OUT, "pal8trns.png"), transparency=3)
g = Image.fromarray(field(h, w, 1)[..., 0].astype(np.uint8), "L")
g.save(os.path.join(OUT, "l8trns.png"), transparency=17)
Image.fromarray(field(h, w, 3).astype(np.uint8), "RGB").save(os.path.join(OUT, "rgb8i.png"), optimize=True)
for n in ("l8.png", "rgb8.png", "rgba8.png", "la8.png", "bw1.png", "pal8.png", "pal8trns.png", "l8trns.png", "rgb8i.png"):
    ref(n)

# hand-written PNGs
for depth in (1, 2, 4):
    v = field(h, w, 1, 1 << depth)[..., 0]
    write_png(os.path.join(OUT, "l%d.png" % depth), [pack_bits(r, depth) for r in v], w, h, depth, 0)
    ref("l%d.png" % depth)
v = field(h, w, 1, 65536)[..., 0]
v[0, :8] = [0, 1, 254, 255, 256, 300, 65535, 32768]  # around PIL's clip for mode "I" (not applied)
write_png(os.path.join(OUT, "l16.png"), [r.astype(">u2").tobytes() for r in v], w, h, 16, 0)
ref16("l16.png", v)
small = field(h, w, 1, 256)[..., 0]  # 16-bit grey with only small values
write_png(os.path.join(OUT, "l16small.png"), [r.astype(">u2").tobytes() for r in small], w, h, 16, 0)
ref16("l16small.png", small)
for name, c, ctype in (("la16.png", 2, 4), ("rgb16.png", 3, 2), ("rgba16.png", 4, 6)):
    v = field(h, w, c, 65536)
    write_png(os.path.join(OUT, name), [r.astype(">u2").tobytes() for r in v], w, h, 16, ctype)
    ref(name)
pal = rng.randint(0, 256, size=(16, 3)).astype(np.uint8)
v = field(h, w, 1, 16)[..., 0]
write_png(os.path.join(OUT, "pal4.png"), [pack_bits(r, 4) for r in v], w, h, 4, 3, chunk(b"PLTE", pal.tobytes()))
ref("pal4.png")
write_png(os.path.join(OUT, "pal4trns.png"), [pack_bits(r, 4) for r in v], w, h, 4, 3,
          chunk(b"PLTE", pal.tobytes()) + chunk(b"tRNS", bytes([0, 128, 255, 7])))
ref("pal4trns.png")
# 16-bit grey with a tRNS chunk
v = field(h, w, 1, 400)[..., 0]
write_png(os.path.join(OUT, "l16trns.png"), [r.astype(">u2").tobytes() for r in v], w, h, 16, 0,
          chunk(b"tRNS", struct.pack(">H", 100)))
ref16("l16trns.png", v)

# JPEGs: grey, colour 4:2:0 / 4:2:2 / 4:4:4, progressive, odd size
for name, mode, kw in (("grey.jpg", "L", {}), ("c420.jpg", "RGB", {"subsampling": 2}),
                       ("c422.jpg", "RGB", {"subsampling": 1}), ("c444.jpg", "RGB", {"subsampling": 0}),
                       ("prog.jpg", "RGB", {"progressive": True}), ("odd.jpg", "RGB", {"quality": 60})):
    c = 1 if mode == "L" else 3
    a = field(h + (4 if name == "odd.jpg" else 0), w + (2 if name == "odd.jpg" else 0), c).astype(np.uint8)
    Image.fromarray(a[..., 0] if c == 1 else a, mode).save(os.path.join(OUT, name), quality=kw.pop("quality", 90), **kw)
    ref(name)

# refused
Image.fromarray(field(h, w, 4).astype(np.uint8), "CMYK").save(os.path.join(OUT, "cmyk.jpg"))
man.append("err cmyk.jpg CMYK")
data = open(os.path.join(OUT, "rgb8.png"), "rb").read()
open(os.path.join(OUT, "trunc.png"), "wb").write(data[:len(data) // 2])
man.append("err trunc.png truncated")
data = open(os.path.join(OUT, "c420.jpg"), "rb").read()
open(os.path.join(OUT, "trunc.jpg"), "wb").write(data[:len(data) // 2])
man.append("err trunc.jpg truncated")
open(os.path.join(OUT, "text.png"), "w").write("not an image\n")
man.append("err text.png not-an-image")
open(os.path.join(OUT, "empty.png"), "w").close()
man.append("err empty.png empty")
man.append("err missing.png missing")

with open(os.path.join(OUT, "manifest.txt"), "w") as f:
    f.write("\n".join(man) + "\n")
