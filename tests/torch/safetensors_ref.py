#!/usr/bin/python3
"""safetensors_ref.py — an independent Python implementation of the safetensors format (json +
struct; the `safetensors` package is not available) used by tests/test_safetensors.c.

  gen DIR      writes test files made from PyTorch tensors, each with a manifest of what a
               correct reader must find:
                 DIR/mixed.safetensors   many dtypes and special values (inf, nan, subnormals,
                                         integers that round), a scalar, an empty tensor, odd
                                         names, metadata; tensors in unsorted order and a header
                                         length that is not a multiple of 8 (misaligned data)
                 DIR/mixed.expect        lines "T<TAB>name<TAB>dtype<TAB>d0,d1,..." and
                                         "M<TAB>key<TAB>value"
                 DIR/mixed.expect.f32    torch's .to(float32) of each T line's tensor, in order
                 DIR/resnet18.safetensors  torchvision resnet18 state_dict (incl. the I64
                                         num_batches_tracked), written the reference way
                 DIR/resnet18.expect     "T<TAB>name<TAB>dtype<TAB>dims<TAB>sum<TAB>sumsq"
                 DIR/big.safetensors     a 110 MB F32 tensor big[i] = (i % 65521) / 8, 27518820 values,
                                         followed by a small F16 tensor "tail" = [1.5, -2.25, 65504]
  check FILE OUT  verifies a file written by the C writer the way the reference implementation
               would: 8-aligned header padded with spaces, compact JSON with "__metadata__"
               first and tensors sorted by name at contiguous offsets from 0, no trailing bytes;
               re-encodes it with this script's writer and requires identical bytes; then writes
               OUT (manifest, as mixed.expect) and OUT.f32 (the values) for the C test to
               compare with what it wrote. Exit status 0 only when all holds.
"""
import json
import math
import struct
import sys

import torch

# dtype name -> (torch dtype, element size)
DTYPES = {
    "BOOL": (torch.bool, 1), "U8": (torch.uint8, 1), "I8": (torch.int8, 1),
    "I16": (torch.int16, 2), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2),
    "I32": (torch.int32, 4), "F32": (torch.float32, 4), "F64": (torch.float64, 8),
    "I64": (torch.int64, 8),
}
NAME_OF = {v[0]: k for k, v in DTYPES.items()}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()  # numpy has no bfloat16
    return t.numpy().tobytes()  # little-endian on x86/arm


def header_bytes(entries, metadata=None, pad=True, extra_pad=0):
    """entries: list of (name, dtype name, shape, nbytes) in data order. Returns the 8-byte
    length and the JSON header the reference implementation writes (compact, padded to 8)."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = dict(sorted(metadata.items()))
    off = 0
    for name, dtype, shape, nbytes in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + nbytes]}
        off += nbytes
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    h += b" " * extra_pad
    return struct.pack("<Q", len(h)) + h


def encode(tensors, metadata=None, sort=True, pad=True, extra_pad=0):
    """tensors: list of (name, torch tensor). Returns the file bytes. With sort/pad this is what
    the reference implementation writes (for tensors of one dtype)."""
    items = sorted(tensors, key=lambda kv: kv[0]) if sort else list(tensors)
    blobs = [tensor_bytes(t) for _, t in items]
    entries = [(name, NAME_OF[t.dtype], t.shape, len(b)) for (name, t), b in zip(items, blobs)]
    return header_bytes(entries, metadata, pad, extra_pad) + b"".join(blobs)


def write_manifest(path, tensors, metadata):
    with open(path, "w", encoding="utf-8") as m, open(path + ".f32", "wb") as f:
        for name, t in tensors:
            assert "\t" not in name and "\n" not in name
            dims = ",".join(str(d) for d in t.shape)
            m.write(f"T\t{name}\t{NAME_OF[t.dtype]}\t{dims}\n")
            f.write(t.to(torch.float32).contiguous().numpy().tobytes())
        for k, v in (metadata or {}).items():
            m.write(f"M\t{k}\t{v}\n")


def gen(d):
    torch.manual_seed(1234)
    inf, nan = math.inf, math.nan
    a = torch.randn(3, 4)
    a.view(-1)[:5] = torch.tensor([inf, -inf, nan, -0.0, 1e-45])
    b = (torch.randn(5, 7) * 100).to(torch.float16)
    b.view(-1)[:6] = torch.tensor([65504.0, -65504.0, 2.0 ** -24, 3 * 2.0 ** -20, inf, nan], dtype=torch.float16)
    c = (torch.randn(2, 3, 4) * 1e3).to(torch.bfloat16)
    c.view(-1)[:4] = torch.tensor([3.0e38, 1e-40, -inf, nan], dtype=torch.bfloat16)
    tensors = [
        ("zeta.last", torch.arange(6, dtype=torch.float32).reshape(2, 3) - 2.5),
        ("a.f32", a),
        ("b.f16", b),
        ("c.bf16", c),
        ("d.f64", torch.tensor([1e300, 1e-50, 0.1, -2.5, 16777217.0, -1e-310], dtype=torch.float64)),
        ("e.num_batches_tracked", torch.tensor(12345, dtype=torch.int64)),
        ("e2.i64", torch.tensor([2 ** 40 + 1, -(2 ** 53) - 3, 0, -1, 2 ** 62 + 12345], dtype=torch.int64)),
        ("f.i32", torch.tensor([2 ** 31 - 1, -(2 ** 31), 16777217, -7], dtype=torch.int32)),
        ("g.i16", torch.tensor([[32767, -32768], [5, -5]], dtype=torch.int16)),
        ("h.i8", torch.tensor([127, -128, 0], dtype=torch.int8)),
        ("i.u8", torch.tensor([0, 1, 200, 255], dtype=torch.uint8)),
        ("j.bool", torch.tensor([True, False, True], dtype=torch.bool)),
        ("k.empty", torch.zeros(0, 3)),
        ("layer1.0.conv1.weight", torch.randn(4, 2, 3, 3)),
        ('name "quoted" \\ é✓', torch.tensor([[1.0, 2.0], [3.0, 4.0]])),
    ]
    meta = {"format": "pt", "note": 'héllo ✓ "q" \\ end'}
    # Unsorted, and a header length of 8k+3: the data that follows is misaligned.
    raw = encode(tensors, meta, sort=False, pad=False)
    hl = struct.unpack("<Q", raw[:8])[0]
    extra = (3 - hl % 8) % 8
    raw = encode(tensors, meta, sort=False, pad=False, extra_pad=extra)
    assert struct.unpack("<Q", raw[:8])[0] % 8 == 3
    with open(f"{d}/mixed.safetensors", "wb") as f:
        f.write(raw)
    write_manifest(f"{d}/mixed.expect", tensors, meta)

    import torchvision
    torch.manual_seed(0)
    sd = torchvision.models.resnet18().state_dict()
    sd["bn1.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)
    for k in sd:
        if k.endswith("running_mean"):
            sd[k] = torch.randn(sd[k].shape)  # non-trivial buffers
    items = list(sd.items())
    with open(f"{d}/resnet18.safetensors", "wb") as f:
        f.write(encode(items, {"format": "pt"}))
    with open(f"{d}/resnet18.expect", "w") as m:
        for name, t in items:
            x = t.to(torch.float64)
            dims = ",".join(str(s) for s in t.shape)
            m.write(f"T\t{name}\t{NAME_OF[t.dtype]}\t{dims}\t{x.sum().item():.17g}\t{(x * x).sum().item():.17g}\n")

    # Written in chunks of one period so that no 110 MB buffer is built.
    period = 65521
    reps = 420  # 420 * 65521 = 27,518,820 floats = 110 MB
    chunk = tensor_bytes(torch.arange(period, dtype=torch.float32) / 8.0)
    tail = torch.tensor([1.5, -2.25, 65504.0], dtype=torch.float16)
    entries = [("big", "F32", [reps * period], reps * len(chunk)), ("tail", "F16", [3], 6)]
    with open(f"{d}/big.safetensors", "wb") as f:
        f.write(header_bytes(entries, {"what": "large-file test"}))
        for _ in range(reps):
            f.write(chunk)
        f.write(tensor_bytes(tail))


def fail(msg):
    print(f"safetensors_ref.py check: {msg}", file=sys.stderr)
    sys.exit(1)


def check(path, out):
    data = open(path, "rb").read()
    if len(data) < 8:
        fail("file shorter than 8 bytes")
    (hl,) = struct.unpack("<Q", data[:8])
    if hl % 8:
        fail(f"header length {hl} is not a multiple of 8")
    hb = data[8:8 + hl]
    stripped = hb.rstrip(b" ")
    if len(hb) - len(stripped) >= 8:
        fail("more padding than needed")
    header = json.loads(stripped.decode("utf-8"))
    keys = list(header.keys())
    meta = header.pop("__metadata__", None)
    if meta is not None and keys[0] != "__metadata__":
        fail("__metadata__ is not the first key")
    names = [k for k in keys if k != "__metadata__"]
    if names != sorted(names):
        fail(f"tensors not sorted by name: {names}")
    buf = data[8 + hl:]
    off = 0
    tensors = []
    for name in names:
        info = header[name]
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail(f"{name}: unexpected keys {sorted(info)}")
        dt, esz = DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        numel = math.prod(info["shape"])
        if b != off or e - b != numel * esz:
            fail(f"{name}: data_offsets {info['data_offsets']} (expected [{off}, {off + numel * esz}])")
        off = e
        raw = bytearray(buf[b:e])
        t = torch.frombuffer(raw, dtype=dt) if numel else torch.zeros(0, dtype=dt)
        tensors.append((name, t.reshape(info["shape"])))
    if off != len(buf):
        fail(f"data buffer has {len(buf)} bytes, tensors cover {off}")
    if meta is not None and not all(isinstance(v, str) for v in meta.values()):
        fail("metadata values must be strings")
    again = encode(tensors, meta)
    if again != data:
        fail("the reference encoding of the same tensors differs from the file")
    write_manifest(out, tensors, meta)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
