#!/usr/bin/python3
"""dhash_files.py — references for tests/cli_dhash.sh, with PIL and imagehash's dhash written out
from its definition (imagehash is not packaged in Debian 12):

    dhash(im) = bits of (px[:, 1:] > px[:, :-1]) of im.convert("L").resize((9, 8), LANCZOS),
                row-major, first bit most significant, as 16 hex digits

  gen DIR N       writes N PNG/JPEG files of mixed modes (L, RGB, RGBA, P, LA; PNG and JPEG) and
                  sizes (9-600 px each side) into DIR; prints '<hex> <path>' for each, sorted by path
  hash FILE...    prints '<hex> <path>' for each file
  query Q DIR     prints what `medcolor dhash --query Q --refs DIR` must: 'query <hex> <Q>', then
                  '<distance> <hex> <path>' for every .png/.jpg/.jpeg of DIR sorted by name, then
                  'reference <path> distance <d>' (minimum distance, ties: the first by name)
"""
import os
import sys

import numpy as np
from PIL import Image


def dhash(path):
    px = np.asarray(Image.open(path).convert("L").resize((9, 8), Image.LANCZOS)).astype(np.int32)
    bits = (px[:, 1:] > px[:, :-1]).flatten()
    return "%016x" % int("".join("1" if b else "0" for b in bits), 2)


def picture(rng, w, h):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.zeros((h, w, 3))
    for c in range(3):
        a[..., c] = 128 + 90 * np.sin(x / rng.uniform(3, 80) + rng.uniform(0, 6)) * np.cos(y / rng.uniform(3, 80))
        a[..., c] += 40 * (((x - rng.uniform(0, w)) ** 2 + (y - rng.uniform(0, h)) ** 2) < (min(w, h) / 3) ** 2)
    a += rng.normal(0, 6, a.shape)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def gen(d, n):
    os.makedirs(d, exist_ok=True)
    rng = np.random.RandomState(200)
    modes = ["L", "RGB", "RGBA", "P", "LA"]
    out = []
    for i in range(n):
        w, h = int(rng.randint(9, 601)), int(rng.randint(9, 601))
        if i % 17 == 0:  # some tiny and some extreme shapes
            w, h = [(9, 8), (9, 600), (600, 9), (10, 10)][(i // 17) % 4]
        mode = modes[i % len(modes)]
        rgb = Image.fromarray(picture(rng, w, h), "RGB")
        im = rgb.convert(mode) if mode != "P" else rgb.quantize(colors=int(rng.randint(8, 200)))
        if mode == "RGBA":
            alpha = Image.fromarray(rng.randint(0, 256, (h, w)).astype(np.uint8), "L")
            im.putalpha(alpha)
        jpeg = i % 3 == 0 and mode in ("L", "RGB")
        name = os.path.join(d, "img%03d_%s.%s" % (i, mode, "jpg" if jpeg else "png"))
        im.save(name, quality=int(rng.randint(50, 96))) if jpeg else im.save(name)
        out.append(name)
    for p in sorted(out):
        print(dhash(p), p)


def query(q, d):
    qh = dhash(q)
    print("query", qh, q)
    names = sorted(f for f in os.listdir(d) if not f.startswith(".") and
                   os.path.splitext(f)[1].lower() in (".png", ".jpg", ".jpeg"))
    best = None
    for f in names:
        p = os.path.join(d, f)
        h = dhash(p)
        dist = bin(int(h, 16) ^ int(qh, 16)).count("1")
        print("%2d %s %s" % (dist, h, p))
        if best is None or dist < best[0]:
            best = (dist, p)
    print("reference %s distance %d" % (best[1], best[0]))


if sys.argv[1] == "gen":
    gen(sys.argv[2], int(sys.argv[3]))
elif sys.argv[1] == "hash":
    for p in sys.argv[2:]:
        print(dhash(p), p)
elif sys.argv[1] == "query":
    query(sys.argv[2], sys.argv[3])
