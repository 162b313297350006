"""IDX files (the MNIST format cnnc-train --data reads), for the test
scripts that make their own datasets (handnets.py, wide_concat.py)."""
import struct

import numpy as np


def write_idx(path, arr, labels):
    """arr: uint8 labels [n], or images [n][H][W]"""
    with open(path, "wb") as f:
        if labels:
            f.write(struct.pack(">II", 0x801, arr.shape[0]))
        else:
            f.write(struct.pack(">IIII", 0x803, arr.shape[0], arr.shape[1], arr.shape[2]))
        f.write(arr.astype(np.uint8).tobytes())


def read_idx(path):
    with open(path, "rb") as f:
        b = f.read()
    (magic,) = struct.unpack(">I", b[:4])
    nd = magic & 0xff
    dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b[4 + 4 * nd:], dtype=np.uint8).reshape(dims)
