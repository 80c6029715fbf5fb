"""make_seeds: writes the seed corpus for the fuzz harnesses (run once; the
files are committed).  Each corpus holds valid inputs that reach deep into
the parser plus a few near-misses.

usage: python3 make_seeds.py   (from tests/fuzz)
"""
import json
import os
import struct


def put(kind, name, data):
    d = os.path.join("corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(header, data, pad=True):
    js = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + data


# The harness's model: w F32 [2,3], b F64 [3], s F32 [], e F32 [0,2].
W = struct.pack("<6f", 1, 2, 3, 4, 5, 6)
B = struct.pack("<3d", 0.5, -1, 1e300)
S = struct.pack("<f", 2.5)
good = {
    "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
    "b": {"dtype": "F64", "shape": [3], "data_offsets": [24, 48]},
    "s": {"dtype": "F32", "shape": [], "data_offsets": [48, 52]},
    "e": {"dtype": "F32", "shape": [0, 2], "data_offsets": [52, 52]},
}
put("checkpoint", "good", safetensors(good, W + B + S))
meta = {"__metadata__": {"step": "1200", "optimizer": "adam", "lr": "0.001"}, **good}
put("checkpoint", "good_meta", safetensors(meta, W + B + S))
rev = {
    "e": {"dtype": "F32", "shape": [0, 2], "data_offsets": [0, 0]},
    "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
    "b": {"dtype": "F64", "shape": [3], "data_offsets": [4, 28]},
    "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [28, 52]},
}
put("checkpoint", "good_reordered", safetensors(rev, S + B + W, pad=False))
bad_shape = dict(good, w={"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]})
put("checkpoint", "wrong_shape", safetensors(bad_shape, W + B + S))
overlap = dict(good, b={"dtype": "F64", "shape": [3], "data_offsets": [16, 40]})
put("checkpoint", "overlap", safetensors(overlap, W + B + S))
put("checkpoint", "short", b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
put("checkpoint", "empty_model_file", safetensors({}, b""))

# IDX: magic 0 0 type ndim, big-endian sizes, then the bytes.
def idx(shape, body, typ=8):
    return bytes([0, 0, typ, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape) + body


put("idx", "labels", idx([5], bytes([3, 1, 4, 1, 5])))
put("idx", "images", idx([2, 3, 3], bytes(range(18))))
put("idx", "empty", idx([0, 28, 28], b""))
put("idx", "four_dims", idx([1, 2, 2, 2], bytes(range(8))))
put("idx", "too_short", idx([2, 3, 3], bytes(range(17))))
put("idx", "float_type", idx([2], b"\0\0\0\0\0\0\0\0", typ=0x0D))

# The calculator's language (inputs x, y, z are bound by the harness).
programs = {
    "lecture": "(2*x + 3*y)^2 + 3",
    "statements": "a = 2*x; b = 3*y; c = a + b; c = c + 1; c^2 + 3",
    "functions": "exp(x) + log(abs(y)) + sqrt(z) + max(x, 0) - min(y, z) + pow(x, y)",
    "unary": "--x^2 + -y^-1 + 2^-1",
    "numbers": "1e-3 * x + 0.5 + 3.25e+2 - .5",
    "comment": "a = x * y # the product\n; a / (z + 1)",
    "nested": "((((((x))))))*((y+(z)))",
    "syntax_error": "x + * y",
    "unknown_fn": "foo(x)",
    "arity": "max(x)",
}
for name, src in programs.items():
    put("calc", name, src)
