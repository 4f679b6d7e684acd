// The lossy codecs against numpy re-statements of hivemind's: (a) hm
// encodes, numpy decodes by the formulas of tensor.capnp and gets hm's
// values bit for bit, and numpy's re-statement of hivemind's encoders
// agrees with hm's codes; (b) numpy encodes as hivemind does (np.quantile
// for quantile8, bitsandbytes' dynamic map rebuilt in numpy for blockwise8),
// hm decodes and gets numpy's values bit for bit, and the map numpy built
// is hm's code, bit for bit. Skips without python3 and numpy.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "compression_test_util.h"
#include "hm/tensor/compression.h"
#include "tensor_test_util.h"
#include "test_paths.h"

namespace hm {
namespace {

using test::bytes_of;

// Shared by both scripts: hivemind's encoders and the decoders, in numpy.
constexpr const char* kNumpyCodecs = R"(
import sys, struct, numpy as np
f32 = np.float32

def torch_linspace(start, end, steps):
    # torch 1.13's float32 linspace on an AVX2 CPU: runs of 8 from a base
    # (one rounding: a fused multiply-add), base + j * step (two roundings).
    start, end = f32(start), f32(end)
    step = f32((end - start) / f32(steps - 1))
    half = steps // 2
    def at(i):
        if i < half:
            return f32(np.float64(start) + np.float64(step) * i)
        return f32(np.float64(end) - np.float64(step) * (steps - 1 - i))
    out = np.zeros(steps, dtype=f32)
    i = 0
    while i + 16 <= steps:
        for run in (i, i + 8):
            base = at(run)
            for j in range(8):
                out[run + j] = f32(base + f32(f32(j) * step))
        i += 16
    for k in range(i, steps):
        out[k] = at(k)
    return out

def dynamic_map():
    # bitsandbytes' create_dynamic_map(signed=True), 7 exponent bits.
    data = []
    for i in range(7):
        b = torch_linspace(0.1, 1, 2 ** i + 1)
        means = ((b[:-1] + b[1:]) / f32(2)).astype(f32)
        scale = f32(10.0 ** (i - 6))
        data += list((scale * means).astype(f32)) + list((-scale * means).astype(f32))
    data += [f32(0), f32(1)]
    return np.sort(np.array(data, dtype=f32))

def bucket_means(x, codes):
    sums = np.bincount(codes, weights=x.astype(np.float64), minlength=256)
    counts = np.bincount(codes, minlength=256)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0).astype(f32)

def codebook_layout(codebook, codes):
    return struct.pack('<q', len(codebook)) + codebook.tobytes() + codes.astype(np.uint8).tobytes()

def enc_uniform8(x, shape):
    m = x.mean(dtype=f32)
    c = (x - m).astype(f32)
    std = np.linalg.norm(c.astype(np.float64)) / np.sqrt(x.size - 1)
    scale = f32(6 * std / 256)
    codes = np.clip(np.rint(c * (f32(1) / scale)) + 128, 0, 255).astype(np.int64)
    return codebook_layout(bucket_means(x, codes), codes)

def enc_quantile8(x, shape):
    # hivemind: quantile_qq_approximation, exactly np.quantile below 10^5 values.
    borders = np.quantile(x, np.linspace(0, 1, 257, dtype=f32))[1:-1].astype(f32)
    codes = np.minimum(np.searchsorted(borders, x, side='left'), 255)
    return codebook_layout(bucket_means(x, codes), codes)

def rows_of(shape):
    last = shape[-1] if shape else 1
    rows = int(np.prod(shape[:-1])) if shape else 1
    return rows, last

def enc_meanstd16(x, shape):
    rows, last = rows_of(shape)
    a = x.reshape(rows, last)
    means = a.mean(axis=-1, dtype=f32, keepdims=True)
    c = (a - means).astype(f32)
    stds = np.maximum(np.linalg.norm(c, axis=-1, keepdims=True) / f32(np.sqrt(last)),
                      np.finfo(f32).eps).astype(f32)
    h = np.clip(c / stds, -65504, 65504).astype(np.float16)
    return h.tobytes() + means.astype(f32).tobytes() + stds.tobytes()

def enc_blockwise8(x, shape):
    code = dynamic_map()
    mids = ((code[:-1] + code[1:]) * f32(0.5)).astype(f32)
    n = x.size
    blocks = (n + 4095) // 4096
    absmax = np.array([np.abs(x[b * 4096:(b + 1) * 4096]).max() for b in range(blocks)], dtype=f32)
    codes = np.empty(n, dtype=np.uint8)
    for b in range(blocks):
        part = x[b * 4096:(b + 1) * 4096]
        if absmax[b] == 0:
            codes[b * 4096:b * 4096 + part.size] = 127
        else:
            codes[b * 4096:b * 4096 + part.size] = np.searchsorted(mids, (part / absmax[b]).astype(f32), side='left')
    return struct.pack('<qq', blocks, 256) + absmax.tobytes() + code.tobytes() + codes.tobytes()

def dec_codebook(data, n, shape):
    L = struct.unpack_from('<q', data, 0)[0]
    codebook = np.frombuffer(data, dtype=f32, count=L, offset=8)
    codes = np.frombuffer(data, dtype=np.uint8, count=n, offset=8 + 4 * L)
    return codebook[codes]

def dec_meanstd16(data, n, shape):
    rows, last = rows_of(shape)
    h = np.frombuffer(data, dtype=np.float16, count=n).astype(f32).reshape(rows, last)
    means = np.frombuffer(data, dtype=f32, count=rows, offset=2 * n).reshape(rows, 1)
    stds = np.frombuffer(data, dtype=f32, count=rows, offset=2 * n + 4 * rows).reshape(rows, 1)
    return (h * stds + means).astype(f32).reshape(-1)

def dec_blockwise8(data, n, shape):
    A, C = struct.unpack_from('<qq', data, 0)
    absmax = np.frombuffer(data, dtype=f32, count=A, offset=16)
    code = np.frombuffer(data, dtype=f32, count=C, offset=16 + 4 * A)
    codes = np.frombuffer(data, dtype=np.uint8, count=n, offset=16 + 4 * A + 4 * C)
    return (code[codes] * absmax[np.arange(n) // 4096]).astype(f32)

ENCODERS = {'meanstd16': enc_meanstd16, 'uniform8': enc_uniform8,
            'quantile8': enc_quantile8, 'blockwise8': enc_blockwise8}
DECODERS = {'meanstd16': dec_meanstd16, 'uniform8': dec_codebook,
            'quantile8': dec_codebook, 'blockwise8': dec_blockwise8}
CODES_AT = {'uniform8': lambda n: 8 + 1024, 'quantile8': lambda n: 8 + 1024,
            'blockwise8': lambda n: 16 + 4 * ((n + 4095) // 4096) + 1024}
d = sys.argv[1]
)";

constexpr const char* kNumpyDecodes = R"(
checked = 0
for line in open(f'{d}/cases.txt').read().split('\n')[:-1]:
    name, kind, *dims = line.split()
    shape = [int(s) for s in dims]
    n = int(np.prod(shape)) if shape else 1
    data = open(f'{d}/{name}.bin', 'rb').read()
    x = np.fromfile(f'{d}/{name}.x', dtype=f32)
    ours = DECODERS[kind](data, n, shape)
    theirs = np.fromfile(f'{d}/{name}.out', dtype=f32)
    assert ours.tobytes() == theirs.tobytes(), (name, np.abs(ours - theirs).max())
    # What hivemind would have sent: the same layout, nearly the same codes.
    mine = ENCODERS[kind](x, shape)
    assert len(mine) == len(data), (name, len(mine), len(data))
    if kind in CODES_AT:
        at = CODES_AT[kind](n)
        a = np.frombuffer(data, dtype=np.uint8, offset=at).astype(int)
        b = np.frombuffer(mine, dtype=np.uint8, offset=at).astype(int)
        differ = np.count_nonzero(a != b) / n
        # quantile8 above 65536 values: hm's borders come from a sample, off by
        # about half a bucket in rank, so up to a quarter of the codes move by one.
        limit = {'uniform8': 0.001, 'quantile8': 0.25 if n > 65536 else 0.01,
                 'blockwise8': 0.001}[kind]
        assert np.abs(a - b).max() <= 1 and differ <= limit, (name, np.abs(a - b).max(), differ)
        if kind == 'blockwise8':
            code = np.frombuffer(data, dtype=f32, count=256, offset=16 + 4 * ((n + 4095) // 4096))
            assert code.tobytes() == dynamic_map().tobytes(), name
    else:
        rows, last = rows_of(shape)
        ms = np.frombuffer(data, dtype=f32, offset=2 * n)
        theirs_ms = np.frombuffer(mine, dtype=f32, offset=2 * n)
        assert np.allclose(ms, theirs_ms, rtol=1e-5, atol=1e-6), name
        h = np.frombuffer(data, dtype=np.float16, count=n).astype(f32)
        g = np.frombuffer(mine, dtype=np.float16, count=n).astype(f32)
        assert np.abs(h - g).max() <= 2e-3 * max(1, np.abs(g).max()), name
    checked += 1
print('ok', checked)
)";

constexpr const char* kNumpyEncodes = R"(
rng = np.random.default_rng(0)
cases = []
def add(name, kind, dtype, shape, x):
    x = x.astype(f32).reshape(-1)
    data = ENCODERS[kind](x, shape)
    out = DECODERS[kind](data, x.size, shape)
    if dtype == 'float16':
        out = out.astype(np.float16)
    open(f'{d}/{name}.bin', 'wb').write(data)
    open(f'{d}/{name}.out', 'wb').write(out.tobytes())
    cases.append(' '.join([name, kind, dtype] + [str(s) for s in shape]))
for kind in ENCODERS:
    add(f'{kind}_randn', kind, 'float32', [128, 96], rng.standard_normal(128 * 96))
    add(f'{kind}_3d', kind, 'float32', [3, 7, 401], rng.standard_normal(3 * 7 * 401) * 5 + 2)
    add(f'{kind}_half', kind, 'float16', [50], rng.standard_normal(50).astype(np.float16))
    add(f'{kind}_relu', kind, 'float32', [9000], np.maximum(rng.standard_normal(9000), 0))
add('meanstd16_scalar', 'meanstd16', 'float32', [], np.array([4.5]))
add('blockwise8_zeros', 'blockwise8', 'float32', [5000], np.zeros(5000))
open(f'{d}/dynamic_map.f32', 'wb').write(dynamic_map().tobytes())
open(f'{d}/cases.txt', 'w').write('\n'.join(cases) + '\n')
print(len(cases))
)";

// Whether /usr/bin/python3 (HM_PYTHON) has numpy.
bool have_numpy() {
  return test::run_command(std::string(HM_PYTHON) + " -c 'import numpy' 2>/dev/null").status == 0;
}

std::vector<int64_t> read_shape(std::istringstream& fields) {
  std::vector<int64_t> shape;
  for (int64_t dim; fields >> dim;) shape.push_back(dim);
  return shape;
}

TEST(CompressionNumpy, NumpyDecodesWhatHmEncodes) {
  if (!have_numpy()) GTEST_SKIP() << "needs python3 with numpy";
  struct Case {
    const char* name;
    wire::Compression kind;
    std::vector<int64_t> shape;
  };
  const std::vector<Case> cases = {
      {"m_rows", wire::Compression::MEANSTD16, {3, 50}},
      {"m_scalar", wire::Compression::MEANSTD16, {}},
      {"m_3d", wire::Compression::MEANSTD16, {2, 3, 700}},
      {"u_big", wire::Compression::UNIFORM8, {100, 100}},
      {"u_small", wire::Compression::UNIFORM8, {4, 4}},
      {"q_sampled", wire::Compression::QUANTILE8, {70000}},  // borders from a sample
      {"q_small", wire::Compression::QUANTILE8, {300}},
      {"b_blocks", wire::Compression::BLOCKWISE8, {10000}},
      {"b_small", wire::Compression::BLOCKWISE8, {5}},
  };
  test::TempDir dir;
  std::string listing;
  uint64_t seed = 1;
  for (const auto& c : cases) {
    auto tensor = test::randn(DType::Float32, c.shape, seed++);
    auto* x = reinterpret_cast<float*>(tensor.mutable_data());
    for (int64_t i = 0; i < tensor.numel(); ++i) x[i] = x[i] * 3 + 1;
    std::vector<std::byte> wire(compressed_size(tensor, c.kind));
    compress_into(tensor, c.kind, wire);
    const auto decoded = decompress(DType::Float32, c.shape, c.kind, wire);
    const std::string name = c.name;
    test::write_file(dir.file(name + ".bin"), wire);
    test::write_file(dir.file(name + ".x"), tensor.bytes);
    test::write_file(dir.file(name + ".out"), decoded.bytes);
    listing += name + " " + std::string(compression_name(c.kind));
    for (int64_t dim : c.shape) listing += " " + std::to_string(dim);
    listing += "\n";
  }
  test::write_file(dir.file("cases.txt"), bytes_of(listing));
  auto result = test::run_python(dir, std::string(kNumpyCodecs) + kNumpyDecodes);
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, "ok " + std::to_string(cases.size()) + "\n");
}

TEST(CompressionNumpy, HmDecodesWhatNumpyEncodes) {
  if (!have_numpy()) GTEST_SKIP() << "needs python3 with numpy";
  test::TempDir dir;
  auto result = test::run_python(dir, std::string(kNumpyCodecs) + kNumpyEncodes);
  ASSERT_EQ(result.status, 0);
  ASSERT_EQ(result.out, "18\n");
  std::istringstream cases(test::read_whole(dir.file("cases.txt")));
  std::string line;
  int checked = 0;
  while (std::getline(cases, line)) {
    std::istringstream fields(line);
    std::string name, kind, dtype;
    fields >> name >> kind >> dtype;
    const auto shape = read_shape(fields);
    const std::string data = test::read_whole(dir.file(name + ".bin"));
    const std::string expected = test::read_whole(dir.file(name + ".out"));
    const auto decoded =
        decompress(dtype_from_name(dtype), shape, compression_from_name(kind), bytes_of(data));
    ASSERT_EQ(decoded.nbytes(), expected.size()) << name;
    EXPECT_EQ(std::memcmp(decoded.data(), expected.data(), expected.size()), 0) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 18);

  // The dynamic map numpy rebuilt (as torch computes it) is hm's code.
  const auto tensor = test::randn(DType::Float32, {10});
  std::vector<std::byte> wire(compressed_size(tensor, wire::Compression::BLOCKWISE8));
  compress_into(tensor, wire::Compression::BLOCKWISE8, wire);
  const std::string map = test::read_whole(dir.file("dynamic_map.f32"));
  ASSERT_EQ(map.size(), 1024u);
  EXPECT_EQ(std::memcmp(wire.data() + 16 + 4, map.data(), 1024), 0);
}

}  // namespace
}  // namespace hm
