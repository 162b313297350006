#!/usr/bin/python3
"""cmp_hex.py GOT REF — compare two outputs of harness.c.

Each file: one float32 per line as its 32-bit pattern in hex, then "end N".
Passes (exit 0) when both hold the same number of values, both end with
their "end" line, none is NaN, and max|got - ref| <= 1e-5 * max(1, max|ref|).
Prints one line: the largest difference, the tolerance and the count (or
what was wrong).
"""
import math
import struct
import sys


def load(path):
    vals, end = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("end "):
                end = line
                break
            vals.append(struct.unpack("<f", struct.pack("<I", int(line, 16)))[0])
    return vals, end


def main():
    got_path, ref_path = sys.argv[1:3]
    try:
        got, got_end = load(got_path)
        ref, ref_end = load(ref_path)
    except (OSError, ValueError) as e:
        print(f"unreadable output: {e}")
        return 1
    if got_end is None or ref_end is None or got_end != ref_end or len(got) != len(ref) or not ref:
        print(f"{len(got)} values ({got_end or 'no end line'}) against {len(ref)} ({ref_end or 'no end line'})")
        return 1
    nan = [i for i, v in enumerate(got + ref) if math.isnan(v)]
    if nan:
        print(f"NaN at value {nan[0] % len(got)} ({len(nan)} in all)")
        return 1
    diff = max(abs(a - b) for a, b in zip(got, ref))
    tol = 1e-5 * max(1.0, max(abs(v) for v in ref))
    print(f"max|diff| {diff:.3g} (tolerance {tol:.3g}, {len(got)} values)")
    return 0 if diff <= tol else 1


if __name__ == "__main__":
    sys.exit(main())
