#include "tensor_test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "hm/base/error.h"
#include "hm/tensor/half.h"
#include "test_paths.h"

namespace hm::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/hm-tensor-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.out.append(buffer, n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult run_python(const TempDir& dir, const std::string& script) {
  std::string path = dir.file("script.py");
  write_file(path, bytes_of(script));
  return run_command(std::string(HM_PYTHON) + " " + path + " " + dir.path());
}

namespace {

// Fills `tensor` with `edges` first, then with values from `make(i)`.
template <typename T, typename Make>
void fill(HostTensor& tensor, std::initializer_list<T> edges, Make make) {
  auto* out = reinterpret_cast<T*>(tensor.mutable_data());
  size_t count = static_cast<size_t>(tensor.numel());
  size_t i = 0;
  for (T edge : edges) {
    if (i == count) return;
    out[i++] = edge;
  }
  for (; i < count; ++i) out[i] = make(i);
}

template <typename T>
T int_value(size_t i) {
  auto wide = static_cast<int64_t>(i) * 1234567 - 99;
  return static_cast<T>(wide);
}

}  // namespace

HostTensor sample_tensor(DType dtype, std::vector<int64_t> shape) {
  HostTensor tensor = HostTensor::zeros(dtype, std::move(shape));
  auto real = [](size_t i) { return static_cast<double>(i) * 0.37 - 5.0; };
  constexpr float kInf = std::numeric_limits<float>::infinity();
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  switch (dtype) {
    case DType::Float32:
      fill<float>(tensor,
                  {0.0f, -0.0f, 1.0f, -1.5f, 0.1f, std::numeric_limits<float>::max(),
                   -std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                   std::numeric_limits<float>::denorm_min(), kInf, -kInf, kNan, 65504.0f,
                   1.0f / 3.0f},
                  [&](size_t i) { return static_cast<float>(real(i)); });
      break;
    case DType::Float16:
      fill<uint16_t>(tensor,
                     {0x0000, 0x8000, 0x3c00, 0x7bff, 0xfbff, 0x0001, 0x0400, 0x7c00, 0xfc00,
                      0x7e00, 0x3555},
                     [&](size_t i) { return float_to_half(static_cast<float>(real(i))); });
      break;
    case DType::BFloat16:
      fill<uint16_t>(tensor, {0x0000, 0x8000, 0x3f80, 0x7f7f, 0x0001, 0x7f80, 0xff80, 0x7fc0, 0x3eab},
                     [&](size_t i) { return float_to_bfloat16(static_cast<float>(real(i))); });
      break;
    case DType::Float64:
      fill<double>(tensor,
                   {0.0, -0.0, 0.1, std::numeric_limits<double>::max(),
                    std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::min(),
                    std::numeric_limits<double>::infinity(),
                    -std::numeric_limits<double>::infinity(),
                    std::numeric_limits<double>::quiet_NaN(), 1.0 / 3.0},
                   real);
      break;
    case DType::Int64:
      fill<int64_t>(tensor,
                    {0, -1, std::numeric_limits<int64_t>::min(),
                     std::numeric_limits<int64_t>::max(), (int64_t{1} << 53) + 1},
                    int_value<int64_t>);
      break;
    case DType::Int32:
      fill<int32_t>(tensor, {0, -1, std::numeric_limits<int32_t>::min(),
                             std::numeric_limits<int32_t>::max()},
                    int_value<int32_t>);
      break;
    case DType::Int16:
      fill<int16_t>(tensor, {0, -1, -32768, 32767}, int_value<int16_t>);
      break;
    case DType::Int8:
      fill<int8_t>(tensor, {0, -1, -128, 127}, int_value<int8_t>);
      break;
    case DType::UInt8:
      fill<uint8_t>(tensor, {0, 255, 128}, int_value<uint8_t>);
      break;
    case DType::Bool:
      fill<uint8_t>(tensor, {}, [](size_t i) { return static_cast<uint8_t>(i % 3 == 0); });
      break;
  }
  return tensor;
}

std::vector<HostTensor> sample_tensors() {
  return {
      sample_tensor(DType::Float32, {2, 3, 4}), sample_tensor(DType::Float16, {17}),
      sample_tensor(DType::BFloat16, {3, 5}),   sample_tensor(DType::Float64, {4, 4}),
      sample_tensor(DType::Int64, {2, 5}),      sample_tensor(DType::Int32, {6}),
      sample_tensor(DType::Int16, {3, 3}),      sample_tensor(DType::Int8, {2, 2, 2}),
      sample_tensor(DType::UInt8, {1, 7}),      sample_tensor(DType::Bool, {5, 2}),
      sample_tensor(DType::Float32, {}),
  };
}

::testing::AssertionResult same_tensor(const HostTensor& a, const HostTensor& b) {
  if (a.dtype != b.dtype || a.shape != b.shape) {
    return ::testing::AssertionFailure() << describe(a) << " vs " << describe(b);
  }
  if (a.nbytes() != b.nbytes()) {
    return ::testing::AssertionFailure() << a.nbytes() << " bytes vs " << b.nbytes();
  }
  for (size_t i = 0; i < a.nbytes(); ++i) {
    if (a.bytes[i] != b.bytes[i]) {
      return ::testing::AssertionFailure()
             << describe(a) << ": byte " << i << " differs: " << static_cast<int>(a.bytes[i])
             << " vs " << static_cast<int>(b.bytes[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::span<const std::byte> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

void write_file(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace hm::test
