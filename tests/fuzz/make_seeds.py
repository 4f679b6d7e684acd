#!/usr/bin/python3
# Writes the seed corpora in tests/fuzz/corpus/<target>/: small valid inputs
# and edge cases for every fuzz target. Deterministic; rerun after a format
# change and commit the result. Needs Debian's python3-numpy and python3-torch
# (/usr/bin/python3) and capnp (capnproto). Regression inputs that a fuzzer
# found are added to the corpus by hand (crash-<name> files) and are kept:
# this script only rewrites the seed-* files.
#   tests/fuzz/make_seeds.py [TARGET...]   (default: every target)
import collections
import gzip
import io
import pathlib
import struct
import subprocess
import sys

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent
SCHEMAS = HERE.parent.parent / "schemas"
CORPUS = HERE / "corpus"

# The call params as the generated ForwardParams/BackwardParams lay them out
# (method parameters get ordinals in order), for `capnp encode`.
PARAMS_SCHEMA = """@0xc4b1a5f0e2d3c6b7;
using T = import "tensor.capnp";
struct ForwardParams { uid @0 :Text; inputs @1 :List(T.Tensor); }
struct BackwardParams { uid @0 :Text; inputs @1 :List(T.Tensor); gradOutputs @2 :List(T.Tensor); }
"""


def capnp_encode(schema, type_name, text):
    return subprocess.run(["capnp", "encode", "-I", str(SCHEMAS), str(schema), type_name],
                          input=text.encode(), capture_output=True, check=True).stdout


def npy(array, version=None):
    out = io.BytesIO()
    if version is None:
        np.save(out, array, allow_pickle=False)
    else:
        np.lib.format.write_array(out, array, version=version, allow_pickle=False)
    return out.getvalue()


def npy_seeds():
    f32 = np.arange(6, dtype="<f4").reshape(2, 3)
    bf16 = np.zeros(3, dtype=[("bfloat16", "<u2")])
    bf16["bfloat16"] = [0x3F80, 0x4000, 0xC040]
    seeds = {
        "f32_2x3": npy(f32),
        "f32_fortran": npy(np.asfortranarray(f32)),
        "f64_big_endian": npy(np.arange(4, dtype=">f8")),
        "f16": npy(np.array([1.5, -2.0, np.inf], dtype="<f2")),
        "bf16_record": npy(bf16),
        "i64_scalar": npy(np.array(7, dtype="<i8")),
        "i32_3d": npy(np.arange(8, dtype="<i4").reshape(2, 2, 2)),
        "i16_be_fortran": npy(np.asfortranarray(np.arange(6, dtype=">i2").reshape(3, 2))),
        "i8_empty": npy(np.zeros((0, 4), dtype="i1")),
        "u8": npy(np.arange(5, dtype="u1")),
        "bool": npy(np.array([True, False, True])),
        "v2_header": npy(f32, version=(2, 0)),
        "v3_header": npy(f32, version=(3, 0)),
        "two_records": npy(f32) + npy(np.arange(3, dtype="<i8")),
        "truncated_data": npy(f32)[:-5],
        "bad_magic": b"\x93NUMPX" + npy(f32)[6:],
        "u16_refused": npy(np.arange(3, dtype="<u2")),
    }
    return seeds


def text_seeds():
    dtypes = ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8",
              "uint8", "bool"]
    code = {name: bytes([i]) for i, name in enumerate(dtypes)}
    return {
        "f32_matrix": code["float32"] + b"1 2 3\n4 5 6\n",
        "f32_two_blocks": code["float32"] + b"1.5 -2\n3e10 nan\n\ninf -inf\n",
        "f32_tabs_crlf": code["float32"] + b"1\t2\r\n3\t4\r\n",
        "f16_range": code["float16"] + b"65504 -65504 1e-8\n",
        "bf16": code["bfloat16"] + b"1 2\n",
        "f64": code["float64"] + b"0.1 1e308 -1e-308\n",
        "i64_edges": code["int64"] + b"9223372036854775807 -9223372036854775808\n",
        "i32_overflow": code["int32"] + b"2147483648\n",
        "i16": code["int16"] + b"-32768 32767\n",
        "i8_out_of_range": code["int8"] + b"300\n",
        "u8_negative": code["uint8"] + b"-1\n",
        "bool": code["bool"] + b"0 1\n1 0\n",
        "ragged": code["float32"] + b"1 2\n3\n",
        "not_a_number": code["float32"] + b"abc\n",
        "only_blank_lines": code["float32"] + b"\n\n\n",
    }


def wire_tensor(dtype, shape, data, compression="none"):
    text = f"(dtype = {dtype}, shape = {list(shape)}, compression = {compression}"
    return text + (f", data = 0x\"{data.hex()}\")" if data else ")")  # capnp: no empty 0x""


TENSORS = [
    wire_tensor("float32", [2, 2], np.arange(4, dtype="<f4").tobytes()),
    wire_tensor("float32", [3], np.arange(3, dtype="<f2").tobytes(), "float16"),
    wire_tensor("int64", [], np.array([5], dtype="<i8").tobytes()),
    wire_tensor("bool", [4], bytes([0, 1, 1, 0])),
    wire_tensor("uint8", [0, 3], b""),
    wire_tensor("bfloat16", [2], bytes([0x80, 0x3F, 0, 0x40])),
    wire_tensor("float64", [1, 1], np.ones(1, dtype="<f8").tobytes()),
    wire_tensor("int8", [2], bytes([1, 2, 3])),  # data longer than the shape says
    wire_tensor("bool", [1], bytes([2])),  # not 0 or 1
    wire_tensor("int32", [-1], b""),
]


def capnp_stream_seeds():
    tensor_schema = SCHEMAS / "tensor.capnp"
    messages = [capnp_encode(tensor_schema, "Tensor", t) for t in TENSORS]
    seeds = {f"tensor_{i}": m for i, m in enumerate(messages)}
    seeds["stream_of_three"] = b"".join(messages[:3])
    seeds["truncated"] = messages[0][:-8]
    seeds["huge_segment_table"] = struct.pack("<II", 0xFFFF, 0xFFFFFFF0) + bytes(8)
    # The lossy compressions, as from_wire decodes them.
    book = np.linspace(-1, 1, 256)
    code = np.sort(np.concatenate([np.linspace(-1, 1, 255), [0]]))
    compressed = {
        "uniform8": wire_tensor("float32", [2, 2], codebook8(book, [0, 9, 128, 255]), "uniform8"),
        "quantile8": wire_tensor("float16", [3], codebook8(book[:4], [0, 3, 4]), "quantile8"),
        "blockwise8": wire_tensor("float32", [4], blockwise8([2], code, [0, 127, 200, 255]),
                                  "blockwise8"),
        "meanstd16": wire_tensor("float64", [2, 2], meanstd16([1, -1, 0, 2], [5, 6], [1, 2]),
                                 "meanstd16"),
    }
    for name, text in compressed.items():
        seeds[f"compressed_{name}"] = capnp_encode(tensor_schema, "Tensor", text)
    return seeds


def request_seeds(tmp):
    schema = tmp / "params.capnp"
    schema.write_text(PARAMS_SCHEMA)
    (tmp / "tensor.capnp").write_text((SCHEMAS / "tensor.capnp").read_text())
    inputs = ", ".join(TENSORS[:4])
    seeds = {
        "forward": b"\x00" + capnp_encode(schema, "ForwardParams",
                                          f"(uid = \"ffn.0.1\", inputs = [{TENSORS[0]}])"),
        "forward_many": b"\x00" + capnp_encode(schema, "ForwardParams",
                                               f"(uid = \"ffn.3\", inputs = [{inputs}])"),
        "backward": b"\x01" + capnp_encode(
            schema, "BackwardParams",
            f"(uid = \"ffn.0.1\", inputs = [{TENSORS[0]}], gradOutputs = [{TENSORS[6]}])"),
        "forward_bad_tensors": b"\x00" + capnp_encode(
            schema, "ForwardParams", f"(uid = \"x.1\", inputs = [{', '.join(TENSORS[7:])}])"),
        "forward_65_tensors": b"\x00" + capnp_encode(
            schema, "ForwardParams",
            "(uid = \"x.1\", inputs = [" + ", ".join([TENSORS[4]] * 65) + "])"),
    }
    return seeds


def dht_seeds():
    schema = SCHEMAS / "dht.capnp"
    sender = ('requestId = 7, senderId = 0x"0102030405060708090a0b0c0d0e0f1011121314", '
              'senderPort = 31337, dhtTime = 1700000000.5')
    key = '0x"a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4"'
    peer = f'(id = {key}, ip = 0x"7f000001", port = 4000)'
    peer6 = f'(id = {key}, ip = 0x"00000000000000000000000000000001", port = 4001)'
    entry = '(subkey = 0x"01", value = 0x"0203", expiration = 1700000100)'
    bodies = {
        "ping_request": (0, "pingRequest = void"),
        "ping_response": (0, f"pingResponse = (yourAddress = {peer})"),
        "store_request": (0, "storeRequest = (items = ["
                             f"(key = {key}, expiration = 1700000100, regular = 0x\"cafe\"), "
                             f"(key = {key}, expiration = 1700000100, inCache = true, "
                             f"subkey = {entry}), "
                             f"(key = {key}, dictionary = [{entry}, {entry}])])"),
        "store_response": (2, "storeResponse = (accepted = [true, false])"),
        "find_request": (0, f"findRequest = (keys = [{key}, {key}])"),
        "find_response": (3, f"findResponse = (peers = [{peer}, {peer6}], results = ["
                             "(notFound = void, nearest = [0, 1]), "
                             "(regular = 0x\"beef\", expiration = 1700000100, nearest = [1]), "
                             f"(dictionary = [{entry}], expiration = 1700000100)])"),
        "find_response_bad_peer_index": (1, f"findResponse = (peers = [{peer}], results = ["
                                            "(omitted = void, nearest = [5])])"),
        "short_sender_id": (0, 'requestId = 1, senderId = 0x"01", pingRequest = void'),
    }
    seeds = {}
    for name, (expected, body) in bodies.items():
        text = f"({body})" if body.startswith("requestId") else f"({sender}, {body})"
        seeds[name] = bytes([expected]) + capnp_encode(schema, "DhtMessage", text)
    seeds["truncated"] = seeds["ping_request"][:-8]
    return seeds


def idx(code, array):
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d)
                                                         for d in array.shape)
    return header + array.tobytes()


def gz(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


def idx_seeds():
    images = idx(0x08, np.arange(2 * 3 * 3, dtype="u1").reshape(2, 3, 3))
    return {
        "u8_images": images,
        "u8_labels": idx(0x08, np.array([1, 0, 9], dtype="u1")),
        "i8": idx(0x09, np.array([-1, 2], dtype="i1")),
        "i16": idx(0x0B, np.array([-300, 2], dtype=">i2")),
        "i32": idx(0x0C, np.array([[1, 2], [3, 4]], dtype=">i4")),
        "f32": idx(0x0D, np.array([1.5, -2.0], dtype=">f4")),
        "f64": idx(0x0E, np.array([0.1], dtype=">f8")),
        "gzipped": gz(images),
        "gzip_truncated": gz(images)[:-6],
        "trailing_data": images + b"\x00",
        "huge_header": bytes([0, 0, 0x08, 3]) + struct.pack(">III", 60000, 60000, 60000),
        "huge_header_gzipped": gz(bytes([0, 0, 0x0D, 2]) + struct.pack(">II", 1 << 20, 1 << 20)),
        "zero_dims": bytes([0, 0, 0x08, 0]),
        "bad_type": bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 7]),
    }


def pickled(value):
    """What torch::pickle_save writes for `value` (torch.save's zip format)."""
    out = io.BytesIO()
    torch.save(value, out)
    return out.getvalue()


def checkpoint_fields(**changes):
    """A checkpoint's payload tuple (libcommon/src/moe/checkpoint.cpp): an
    Adam-trained expert with one parameter and one buffer."""
    w = torch.arange(4, dtype=torch.float32)
    fields = {
        "tag": "hm checkpoint", "format": 2, "uid": "ffn.0", "expert_cls": "ffn",
        "optimizer": "adam", "hidden_dim": 4, "steps": 3, "examples": 12,
        "parameter_names": ("w",), "parameters": (w,),
        "buffer_names": ("b",), "buffers": (torch.ones(2, dtype=torch.float64),),
        "optimizer_states": (("adam", 3, w * 0.5, w * w, None),),
    }
    fields.update(changes)
    return tuple(fields.values())


def checkpoint_seeds():
    payload = pickled(checkpoint_fields())
    # What LibTorch 1.13 alone would take 4 GiB (a string's declared length)
    # or 64 GiB (a memo id) to refuse: hm's archive check refuses both first.
    key = struct.pack("<I", 13) + b"hm checkpoint"
    assert key in payload
    huge_string = payload.replace(key, struct.pack("<I", 0xFFFFFFF0) + b"hm checkpoint", 1)
    memo = b"X" + key + b"q"  # BINUNICODE "hm checkpoint", BINPUT <id>: 20 bytes
    assert memo in payload
    at = payload.index(memo)
    # The same 20 bytes as BINUNICODE "hm checkp", LONG_BINPUT 2^32-1.
    huge_memo = (payload[:at] + b"X" + struct.pack("<I", 10) + b"hm checkpo" +
                 b"r\xff\xff\xff\xff" + payload[at + 20:])
    # First byte odd: the target frames the rest itself (size, checksum).
    return {
        "framed_string_of_4gib": b"\x01" + huge_string,
        "framed_memo_id_4g": b"\x01" + huge_memo,
        "framed_good": b"\x01" + payload,
        "framed_sgd": b"\x01" + pickled(checkpoint_fields(
            optimizer="sgd", optimizer_states=(("sgd", torch.zeros(4)),))),
        "framed_future_format": b"\x01" + pickled(checkpoint_fields(format=3)),
        "framed_uid_not_a_string": b"\x01" + pickled(checkpoint_fields(uid=5)),
        "framed_state_of_another_shape": b"\x01" + pickled(checkpoint_fields(
            optimizer_states=(("adam", 3, torch.zeros(3), torch.zeros(4), None),))),
        "framed_a_class": b"\x01" + pickled(collections.OrderedDict(a=1)),
        "framed_not_a_zip": b"\x01" + b"PK\x03\x04 not really",
        "raw_bad_magic": b"\x00" + b"HMCKPT03" + bytes(16),
        "raw_format_1": b"\x00" + b"HMCKPT01" + bytes(16),
        "raw_wrong_size": b"\x00" + b"HMCKPT02" + struct.pack("<QQ", 100, 0) + payload[:50],
        "raw_bad_checksum": b"\x00" + b"HMCKPT02" + struct.pack("<QQ", len(payload), 1) + payload,
    }


def torch_archive_seeds():
    """Archives as LibTorch writes them: the checkpoint's, and a scripted
    module's (constants, more code, several storages)."""
    checkpoints = checkpoint_seeds()
    good = checkpoints["framed_good"][1:]

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(3, 2)
            self.register_buffer("scale", torch.tensor([0.5, 2.0], dtype=torch.float64))

        def forward(self, x):
            return self.linear(x) * self.scale.float() + torch.tensor([1.0])

    torch.manual_seed(0)
    out = io.BytesIO()
    torch.jit.save(torch.jit.script(Block()), out)
    module = out.getvalue()
    return {"checkpoint": good, "scripted_module": module, "truncated": module[:-30],
            "string_of_4gib": checkpoints["framed_string_of_4gib"][1:],
            "memo_id_4g": checkpoints["framed_memo_id_4g"][1:]}


def uid_seeds():
    texts = ["ffn.3.14", "ffn.", "ffn.3.", "ffn.0", "ffn.01", "🤗.321", "a.b.1", ".1", "ffn",
             "ffn.[0:4].[0:4]", "expert.[0:16]", "ffn.3.[0:8]", "ffn.[4:2]",
             "ffn.[0:18446744073709551615].[0:2]", "ffn.9223372036854775808",
             "ffn.[0:1].[0:1].[0:1].[0:1].[0:1]", "x.[00:1]", "x.[0:]", "x.[:4]", "x.[0:4"]
    return {f"{i:02d}": t.encode() for i, t in enumerate(texts)}


DTYPE_CODES = {"float32": 0, "float16": 1, "bfloat16": 2, "float64": 3, "int64": 4, "int32": 5}


def fuzz_header(dtype, shape):
    """decompress_fuzz.h's input header: dtype, rank, uint16 dimensions."""
    return bytes([DTYPE_CODES[dtype], len(shape)]) + b"".join(struct.pack("<H", d) for d in shape)


def codebook8(codebook, codes):
    return struct.pack("<q", len(codebook)) + np.asarray(codebook, "<f4").tobytes() + \
        np.asarray(codes, "u1").tobytes()


def blockwise8(absmax, code, codes):
    return struct.pack("<qq", len(absmax), len(code)) + np.asarray(absmax, "<f4").tobytes() + \
        np.asarray(code, "<f4").tobytes() + np.asarray(codes, "u1").tobytes()


def meanstd16(values, means, stds):
    return np.asarray(values, "<f2").tobytes() + np.asarray(means, "<f4").tobytes() + \
        np.asarray(stds, "<f4").tobytes()


def decompress_seeds(kind):
    """Valid encodings of each layout (tensor.capnp) and each way to break one."""
    rng = np.random.default_rng(0)
    h = fuzz_header
    randn = rng.standard_normal(5000).astype("<f4")
    if kind == "meanstd16":
        return {
            "rows": h("float32", [3, 4]) + meanstd16(rng.standard_normal(12), [1, 2, 3], [1, 1, 2]),
            "scalar": h("float32", []) + meanstd16([0], [4.5], [1.2e-7]),
            "empty_rows": h("float32", [3, 0]) + meanstd16([], [0, 0, 0], [1, 1, 1]),
            "float16": h("float16", [2, 2]) + meanstd16([1, -1, 0.5, 2], [0, 1], [1, 3]),
            "nan_mean": h("float32", [1, 2]) + meanstd16([1, 2], [np.nan], [1]),
            "short": h("float32", [3, 4]) + meanstd16(np.zeros(12), [1, 2], [1, 1]),
            "int_dtype": h("int32", [2]) + meanstd16([1, 2], [0], [1]),
            "values": h("float32", [len(randn)]) + randn.tobytes(),
        }
    if kind in ("uniform8", "quantile8"):
        book = np.sort(rng.standard_normal(256))
        return {
            "valid": h("float32", [4, 4]) + codebook8(book, rng.integers(0, 256, 16)),
            "bfloat16": h("bfloat16", [3]) + codebook8(book, [0, 128, 255]),
            "short_book": h("float32", [5]) + codebook8(book[:17], [0, 5, 16, 17, 200]),
            "nan_entry": h("float32", [2]) + codebook8(np.append(book[:-1], np.nan), [0, 1]),
            "bad_length": h("float32", [2]) + struct.pack("<q", 1 << 40) + bytes(10),
            "truncated": h("float32", [4, 4]) + codebook8(book, np.zeros(16))[:-3],
            "empty": h("float32", [0, 3]) + codebook8(book, []),
            "int_dtype": h("int64", [1]) + codebook8(book, [3]),
            "values": h("float32", [len(randn)]) + randn.tobytes(),
            "values_f64": h("float64", [100]) + rng.standard_normal(100).astype("<f8").tobytes(),
        }
    code = np.sort(np.concatenate([np.linspace(-1, 1, 255), [0]]))
    return {
        "two_blocks": h("float32", [5000]) + blockwise8([2, 3], code, rng.integers(0, 256, 5000)),
        "small_code": h("float32", [6]) + blockwise8([1], code[:16], [0, 1, 15, 16, 3, 2]),
        "absmax_count": h("float32", [5000]) + blockwise8([2], code, np.zeros(5000)),
        "nan_absmax": h("float32", [3]) + blockwise8([np.nan], code, [0, 1, 2]),
        "huge_lengths": h("float32", [1]) + struct.pack("<qq", 1 << 62, 1 << 62) + bytes(8),
        "float16": h("float16", [2, 3]) + blockwise8([0.5], code, [0, 64, 127, 128, 200, 255]),
        "scalar": h("float32", []) + blockwise8([7], code, [255]),
        "values": h("float32", [len(randn)]) + randn.tobytes(),
        "values_zeros": h("float32", [64]) + bytes(256),
    }


def write(target, seeds):
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("seed-*"):
        old.unlink()
    for name, data in seeds.items():
        (directory / f"seed-{name}").write_bytes(data)
    print(f"{target}: {len(seeds)} seeds")


def main():
    import tempfile
    tmp = tempfile.TemporaryDirectory()
    targets = {
        "request_tensors": lambda: request_seeds(pathlib.Path(tmp.name)),
        "npy": npy_seeds,
        "text_tensor": text_seeds,
        "capnp_stream": capnp_stream_seeds,
        "dht_datagram": dht_seeds,
        "idx": idx_seeds,
        "checkpoint": checkpoint_seeds,
        "torch_archive": torch_archive_seeds,
        "expert_uid": uid_seeds,
    }
    for kind in ("meanstd16", "uniform8", "quantile8", "blockwise8"):
        targets[f"decompress_{kind}"] = lambda kind=kind: decompress_seeds(kind)
    chosen = sys.argv[1:] or list(targets)
    for name in chosen:
        if name not in targets:
            print(f"error: no fuzz target {name} (targets: {' '.join(targets)})", file=sys.stderr)
            return 2
    for name in chosen:
        write(name, targets[name]())
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
