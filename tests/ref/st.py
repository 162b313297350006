#!/usr/bin/python3
"""A tiny safetensors writer and reader (the `safetensors` package is not
installed).  Same bytes as the reference implementation for float tensors:

    u64 little-endian N | N bytes of JSON, padded with spaces to a multiple of 8 | data

The JSON maps each name (sorted) to {"dtype", "shape", "data_offsets": [begin,
end]}, offsets relative to the data and contiguous; an optional "__metadata__"
maps strings to strings.

    import st
    st.save({"conv1.weight": torch.randn(6, 1, 5, 5)}, "w.safetensors", {"step": "10"})
    tensors = st.load("w.safetensors")            # {name: torch.Tensor}
    tensors, meta = st.load("w.safetensors", with_metadata=True)

Run with /usr/bin/python3 (torch 1.13).
"""
import json
import struct
import sys

import torch

DTYPES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}
FROM_NAME = {v: k for k, v in DTYPES.items()}


def _bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype not in DTYPES:
        raise ValueError("unsupported dtype %s" % t.dtype)
    if t.dtype == torch.bfloat16:                   # numpy has no bfloat16
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        a = t.numpy()
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
    return raw


def save(tensors, path, metadata=None):
    """Write {name: tensor} (and string metadata) to path as safetensors."""
    header = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("metadata must map strings to strings")
        header["__metadata__"] = dict(metadata)
    blobs = []
    pos = 0
    for name in sorted(tensors):
        t = tensors[name]
        raw = _bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [pos, pos + len(raw)]}
        blobs.append(raw)
        pos += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def load(path, with_metadata=False):
    """Read path; return {name: tensor} (and the metadata dict if asked)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length %d exceeds the file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    for name, e in header.items():
        dt = FROM_NAME[e["dtype"]]
        b, en = e["data_offsets"]
        if not 0 <= b <= en <= len(buf):
            raise ValueError("%s: %s: offsets out of range" % (path, name))
        raw = bytearray(buf[b:en])
        if dt == torch.bfloat16:
            t = torch.frombuffer(raw, dtype=torch.int16).view(torch.bfloat16) if raw else torch.empty(0, dtype=dt)
        elif raw:
            t = torch.frombuffer(raw, dtype=dt)
            if sys.byteorder == "big" and t.element_size() > 1:
                t = torch.from_numpy(t.numpy().byteswap())
        else:
            t = torch.empty(0, dtype=dt)
        out[name] = t.reshape(e["shape"]).clone()
    return (out, meta) if with_metadata else out


if __name__ == "__main__":
    # st.py FILE: list the tensors of a safetensors file
    ts, md = load(sys.argv[1], with_metadata=True)
    for k, v in md.items():
        print("metadata %s = %s" % (k, v))
    for k in sorted(ts):
        print("%s %s %s" % (k, str(ts[k].dtype).replace("torch.", ""), list(ts[k].shape)))
