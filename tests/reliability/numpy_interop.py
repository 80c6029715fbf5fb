"""numpy_interop: safetensors files cross between wengert and numpy.

usage: numpy_interop.py CKPT_TOOL

1. ckpt_tool writes a file; this script parses it with the standard library
   and numpy alone and checks every value against the same formulas.
2. This script writes a file its own way (keys and data in another order,
   header padded with spaces, metadata last); ckpt_tool loads and checks it.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8"}


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert 8 + n <= len(raw), "header length runs past the end"
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    meta = header.pop("__metadata__", {})
    out, spans = {}, []
    for name, t in header.items():
        begin, end = t["data_offsets"]
        spans.append((begin, end))
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[t["dtype"]])
        out[name] = arr.reshape(t["shape"])
    spans.sort()
    at = 0
    for begin, end in spans:
        assert begin == at, "offsets must tile the data section"
        at = end
    assert at == len(data), "data section fully covered"
    return out, meta


def write_safetensors(path, tensors, meta, order):
    header, blobs, off = {}, [], 0
    for name in order:  # data order differs from the JSON key order below
        a = np.asarray(tensors[name])  # (ascontiguousarray would make a 0-d array 1-d)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": {"float32": "F32", "float64": "F64"}[a.dtype.name],
                        "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    ordered = {k: header[k] for k in sorted(header)}
    ordered["__metadata__"] = meta
    js = json.dumps(ordered).encode("utf-8")
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


def main():
    tool = sys.argv[1]
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "from_wengert.safetensors")
        subprocess.run([tool, "write", p], check=True)
        t, meta = read_safetensors(p)
        want = {
            "w": (np.arange(12, dtype=np.float32) * np.float32(0.25) - np.float32(1.5)).reshape(3, 4),
            "b": 1.0 / (np.arange(4, dtype=np.float64) + 1),
            "s": np.array(2.5, dtype=np.float32),
            "e": np.zeros((0, 2), dtype=np.float32),
        }
        for name, w in want.items():
            got = t.get(name)
            ok = got is not None and got.dtype == w.dtype and got.shape == w.shape and np.array_equal(got, w)
            print(f"wengert -> numpy: {name} {'ok' if ok else 'MISMATCH'}")
            failures += not ok
        ok = meta == {"step": "7", "optimizer": "sgd"}
        print(f"wengert -> numpy: __metadata__ {meta} {'ok' if ok else 'MISMATCH'}")
        failures += not ok

        q = os.path.join(d, "from_numpy.safetensors")
        mine = {
            "w": (np.arange(12, dtype=np.float32) * np.float32(0.5) + np.float32(1)).reshape(3, 4),
            "b": -(np.arange(4, dtype=np.float64) + 1) / 3,
            "s": np.array(-3.75, dtype=np.float32),
            "e": np.zeros((0, 2), dtype=np.float32),
        }
        write_safetensors(q, mine, {"step": "11", "written_by": "numpy"}, ["b", "e", "s", "w"])
        r = subprocess.run([tool, "check", q])
        print(f"numpy -> wengert: {'ok' if r.returncode == 0 else 'FAILED'}")
        failures += r.returncode != 0
    print(f"numpy_interop: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
