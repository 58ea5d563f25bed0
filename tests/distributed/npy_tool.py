#!/usr/bin/env python3
"""Small .npy helper for check_cli.sh without NumPy (CI may lack it).
  npy_tool.py make N H D Q K V DZ MASK   random float32 (N, H, D) arrays and a uint8 (N,) mask
  npy_tool.py compare A B TOL            max |a - b| / max |a| <= TOL, else exit 1
"""
import random
import struct
import sys


def save(path, values, shape, code, fmt):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        code, "".join("%d, " % s for s in shape) if len(shape) > 1 else "%d," % shape[0])
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))


def load_f32(path):
    with open(path, "rb") as f:
        data = f.read()
    (hlen,) = struct.unpack("<H", data[8:10])
    body = data[10 + hlen:]
    return struct.unpack("<%df" % (len(body) // 4), body)


def main():
    if sys.argv[1] == "make":
        n, h, d = (int(x) for x in sys.argv[2:5])
        rng = random.Random(11)
        for path in sys.argv[5:9]:
            save(path, [rng.gauss(0, 1) for _ in range(n * h * d)], (n, h, d), "<f4", "f")
        mask = [0 if i >= n - 50 or i % 37 == 5 else 1 for i in range(n)]
        save(sys.argv[9], mask, (n,), "|u1", "B")
        for tokens in (2, 4):  # (tokens, 2 heads, 4) for the bad launches
            save("q%d.npy" % tokens, [rng.gauss(0, 1) for _ in range(tokens * 8)], (tokens, 2, 4), "<f4", "f")
        return 0
    a, b, tol = load_f32(sys.argv[2]), load_f32(sys.argv[3]), float(sys.argv[4])
    if len(a) != len(b):
        print("sizes differ: %d vs %d" % (len(a), len(b)))
        return 1
    scale = max(abs(x) for x in a) or 1.0
    err = max(abs(x - y) for x, y in zip(a, b)) / scale
    print("relative error %.3g (tolerance %g)" % (err, tol))
    return 0 if err <= tol else 1


sys.exit(main())
