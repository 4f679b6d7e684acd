// .npy interop with numpy as the oracle: numpy writes, we read; we write,
// numpy reads. Each side compares values against raw little-endian C-order
// bytes that the other side wrote next to the .npy files.
#include <gtest/gtest.h>

#include <sstream>

#include "hm/tensor/npy.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::bytes_of;

constexpr const char* kNumpyWrites = R"(
import sys, numpy as np
d = sys.argv[1]
fmt = np.lib.format
cases = []

def add(name, hm_dtype, a, writer=None, raw=None):
    path = f'{d}/{name}.npy'
    if writer is None:
        np.save(path, a)
    else:
        with open(path, 'wb') as f:
            writer(f, a)
    if raw is None:
        raw = a.astype(a.dtype.newbyteorder('<')).tobytes(order='C')
    open(f'{d}/{name}.raw', 'wb').write(raw)
    cases.append(' '.join([name, hm_dtype] + [str(s) for s in a.shape]))

rng = np.random.default_rng(0)
special = [0.0, -0.0, 1.0, -1.5, np.inf, -np.inf, np.nan, 1e-7, 65504.0, 0.1]
base = np.concatenate([special, rng.standard_normal(14) * 100])
ints = np.array([0, -1, 1, 2**31 - 1, -2**31, 127, -128, 255, 12345, -54321, 7, 9])
bits = np.array([0x3f80, 0xbf80, 0x7f80, 0x7fc0, 0x0001, 0x4049], dtype='<u2')
with np.errstate(all='ignore'):
    add('f4', 'float32', base.astype('<f4').reshape(2, 3, 4))
    add('f2', 'float16', base.astype('<f2').reshape(4, 6))
    add('f8', 'float64', base.astype('<f8'))
    add('i8', 'int64', np.array([0, -1, -2**63, 2**63 - 1, 2**53 + 1, 42], dtype='<i8').reshape(2, 3))
    add('i4', 'int32', ints.astype('<i4').reshape(3, 4))
    add('i2', 'int16', ints.astype('<i2'))
    add('i1', 'int8', ints.astype('i1').reshape(2, 2, 3))
    add('u1', 'uint8', ints.astype('u1').reshape(12, 1))
    add('b1', 'bool', (ints % 3 == 0).reshape(3, 4))
    add('scalar', 'float32', np.array(3.5, dtype='<f4'))
    add('empty', 'float32', np.zeros((0, 3), dtype='<f4'))
    add('bf16', 'bfloat16', bits.view([('bfloat16', '<u2')]).reshape(2, 3), raw=bits.tobytes())
    add('be_bf16', 'bfloat16', bits.astype('>u2').view([('bfloat16', '>u2')]), raw=bits.tobytes())
    add('v2', 'float32', base.astype('<f4').reshape(4, 6),
        writer=lambda f, a: fmt.write_array(f, a, version=(2, 0)))
    add('v3', 'int32', ints.astype('<i4'),
        writer=lambda f, a: fmt.write_array(f, a, version=(3, 0)))
    add('fortran', 'float32', np.asfortranarray(np.arange(24, dtype='<f4').reshape(2, 3, 4)))
    add('fortran_2d_u1', 'uint8', np.asfortranarray(np.arange(6, dtype='u1').reshape(2, 3)))
    add('be_f4', 'float32', base.astype('>f4').reshape(6, 4))
    add('be_i8', 'int64', np.arange(-5, 5, dtype='>i8'))
    add('be_f2', 'float16', base.astype('>f2'))
    add('be_fortran_i4', 'int32', np.asfortranarray(np.arange(60, dtype='>i4').reshape(3, 4, 5)))

    parts = [base.astype('<f4').reshape(2, 12), ints.astype('<i8'), ints > 0]
    with open(f'{d}/multi.npy', 'wb') as f:
        for a in parts:
            np.save(f, a)
    open(f'{d}/multi.raw', 'wb').write(b''.join(a.tobytes() for a in parts))

open(f'{d}/cases.txt', 'w').write('\n'.join(cases) + '\n')
print(len(cases))
)";

TEST(NpyNumpy, ReadsWhatNumpyWrites) {
  test::TempDir dir;
  auto result = test::run_python(dir, kNumpyWrites);
  ASSERT_EQ(result.status, 0);
  ASSERT_EQ(result.out, "21\n");

  std::istringstream cases(test::read_whole(dir.file("cases.txt")));
  std::string line;
  int checked = 0;
  while (std::getline(cases, line)) {
    std::istringstream fields(line);
    std::string name, dtype;
    fields >> name >> dtype;
    std::vector<int64_t> shape;
    for (int64_t dim; fields >> dim;) shape.push_back(dim);
    std::string npy = test::read_whole(dir.file(name + ".npy"));
    std::string raw = test::read_whole(dir.file(name + ".raw"));
    NpyRecord record = decode_npy(bytes_of(npy));
    EXPECT_EQ(record.consumed, npy.size()) << name;
    EXPECT_EQ(dtype_name(record.tensor.dtype), dtype) << name;
    EXPECT_EQ(record.tensor.shape, shape) << name;
    EXPECT_TRUE(test::same_tensor(
        record.tensor, HostTensor::copy_of(record.tensor.dtype, shape, bytes_of(raw))))
        << name;
    ++checked;
  }
  EXPECT_EQ(checked, 21);

  // Spot checks against values known here, not just numpy's raw bytes.
  auto load = [&](const std::string& name) {
    return decode_npy(bytes_of(test::read_whole(dir.file(name + ".npy")))).tensor;
  };
  EXPECT_EQ(load("f4").as<float>()[3], -1.5f);
  EXPECT_EQ(load("fortran").as<float>()[1 * 12 + 2 * 4 + 3], 23.0f);  // [1, 2, 3]
  EXPECT_EQ(load("be_fortran_i4").as<int32_t>()[2 * 20 + 3 * 5 + 4], 59);
  EXPECT_EQ(load("be_i8").as<int64_t>()[0], -5);
  EXPECT_EQ(load("bf16").as<uint16_t>()[5], 0x4049);
  EXPECT_EQ(load("i8").as<int64_t>()[2], INT64_MIN);
  EXPECT_EQ(load("scalar").as<float>()[0], 3.5f);

  std::string multi = test::read_whole(dir.file("multi.npy"));
  auto tensors = decode_npy_all(bytes_of(multi));
  ASSERT_EQ(tensors.size(), 3u);
  EXPECT_EQ(describe(tensors[0]), "float32[2, 12]");
  EXPECT_EQ(describe(tensors[1]), "int64[12]");
  EXPECT_EQ(describe(tensors[2]), "bool[12]");
  std::string joined;
  for (const auto& t : tensors) joined.append(reinterpret_cast<const char*>(t.data()), t.nbytes());
  EXPECT_EQ(joined, test::read_whole(dir.file("multi.raw")));
}

constexpr const char* kNumpyReads = R"(
import sys, numpy as np
d = sys.argv[1]
lines = open(f'{d}/cases.txt').read().split('\n')[:-1]

def check(a, name, dt, shape):
    assert a.shape == shape, (name, a.shape, shape)
    if dt == 'bf16':
        assert a.dtype == np.dtype([('bfloat16', '<u2')]), (name, a.dtype)
        a = a['bfloat16']
    else:
        assert a.dtype.str == dt, (name, a.dtype.str, dt)
    raw = open(f'{d}/{name}.raw', 'rb').read()
    assert a.tobytes() == raw, name
    return a

with open(f'{d}/multi.npy', 'rb') as multi:
    for line in lines:
        name, dt, *dims = line.split()
        shape = tuple(int(s) for s in dims)
        a = check(np.load(f'{d}/{name}.npy'), name, dt, shape)
        check(np.load(multi), name, dt, shape)
        if dt == 'bf16':
            values = (a.astype(np.uint32) << 16).view(np.float32).ravel()
            assert values[2] == 1.0, values
    assert multi.read() == b''
print('ok', len(lines))
)";

std::string numpy_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float16: return "<f2";
    case DType::BFloat16: return "bf16";
    case DType::Float64: return "<f8";
    case DType::Int64: return "<i8";
    case DType::Int32: return "<i4";
    case DType::Int16: return "<i2";
    case DType::Int8: return "|i1";
    case DType::UInt8: return "|u1";
    case DType::Bool: return "|b1";
  }
  return "?";
}

TEST(NpyNumpy, NumpyReadsWhatWeWrite) {
  test::TempDir dir;
  auto tensors = test::sample_tensors();
  tensors.push_back(HostTensor::zeros(DType::Int32, {0, 4}));
  std::string cases, multi;
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string name = "t" + std::to_string(i);
    std::string encoded = encode_npy(tensors[i]);
    test::write_file(dir.file(name + ".npy"), bytes_of(encoded));
    test::write_file(dir.file(name + ".raw"), tensors[i].bytes);
    multi += encoded;
    cases += name + " " + numpy_dtype(tensors[i].dtype);
    for (int64_t dim : tensors[i].shape) cases += " " + std::to_string(dim);
    cases += "\n";
  }
  test::write_file(dir.file("multi.npy"), bytes_of(multi));
  test::write_file(dir.file("cases.txt"), bytes_of(cases));
  auto result = test::run_python(dir, kNumpyReads);
  EXPECT_EQ(result.status, 0);
  EXPECT_EQ(result.out, "ok " + std::to_string(tensors.size()) + "\n");
}

}  // namespace
}  // namespace hm
