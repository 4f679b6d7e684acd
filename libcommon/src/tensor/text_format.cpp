#include "hm/tensor/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "hm/base/error.h"
#include "hm/tensor/half.h"
#include "hm/tensor/quote.h"

namespace hm {
namespace {

template <typename T>
T load(const std::byte* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T>
void append_number(T value, std::string& out) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

void append_value(DType dtype, const std::byte* p, std::string& out) {
  switch (dtype) {
    case DType::Float32: return append_number(load<float>(p), out);
    case DType::Float16: return append_number(half_to_float(load<uint16_t>(p)), out);
    case DType::BFloat16: return append_number(bfloat16_to_float(load<uint16_t>(p)), out);
    case DType::Float64: return append_number(load<double>(p), out);
    case DType::Int64: return append_number(load<int64_t>(p), out);
    case DType::Int32: return append_number(load<int32_t>(p), out);
    case DType::Int16: return append_number(load<int16_t>(p), out);
    case DType::Int8: return append_number(load<int8_t>(p), out);
    case DType::UInt8: return append_number(load<uint8_t>(p), out);
    case DType::Bool: out += load<uint8_t>(p) ? '1' : '0'; return;
  }
  fail("text format: unknown dtype code {}", static_cast<int>(dtype));
}

// Parses one token as `dtype` and appends its bytes to a tensor's buffer.
class ValueParser {
 public:
  ValueParser(DType dtype, size_t line) : dtype_(dtype), line_(line) {}

  void parse(std::string_view token, std::vector<std::byte>& out) {
    token_ = token;
    // from_chars takes no leading '+'; people (and some tools) write one.
    if (token.size() > 1 && token[0] == '+' && token[1] != '+' && token[1] != '-') {
      token.remove_prefix(1);
    }
    switch (dtype_) {
      case DType::Float32: return store(to_float(token), out);
      case DType::Float16: return store(narrow(token, float_to_half, half_to_float), out);
      case DType::BFloat16:
        return store(narrow(token, float_to_bfloat16, bfloat16_to_float), out);
      case DType::Float64: return store(number<double>(token), out);
      case DType::Int64: return store(number<int64_t>(token), out);
      case DType::Int32: return store(integer<int32_t>(token), out);
      case DType::Int16: return store(integer<int16_t>(token), out);
      case DType::Int8: return store(integer<int8_t>(token), out);
      case DType::UInt8: return store(integer<uint8_t>(token), out);
      case DType::Bool: return store(boolean(), out);
    }
    fail("text tensor: unknown dtype code {}", static_cast<int>(dtype_));
  }

 private:
  [[noreturn]] void not_a_number() const {
    fail("text tensor: line {}: '{}' is not {}", line_, quote(token_),
         is_floating(dtype_) ? "a number" : "an integer");
  }

  [[noreturn]] void out_of_range() const {
    fail("text tensor: line {}: {} is out of range for {}", line_, quote(token_),
         dtype_name(dtype_));
  }

  template <typename T>
  void store(T value, std::vector<std::byte>& out) const {
    auto bytes = std::as_bytes(std::span(&value, 1));
    out.insert(out.end(), bytes.begin(), bytes.end());
  }

  // A number of type T; `range` is set instead of failing when it is out of T's range.
  template <typename T>
  T number(std::string_view token, bool* range = nullptr) const {
    T value{};
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    if (ec == std::errc::result_out_of_range && end == token.data() + token.size()) {
      if (range == nullptr) out_of_range();
      *range = true;
      return value;
    }
    if (ec != std::errc() || end != token.data() + token.size()) not_a_number();
    return value;
  }

  float to_float(std::string_view token) const {
    bool range = false;
    float value = number<float>(token, &range);
    if (!range) return value;
    // Out of float's range: too large is an error, too small is (nearly) zero.
    double wide = number<double>(token);
    if (std::fabs(wide) >= 1.0) out_of_range();
    return static_cast<float>(wide);
  }

  // A float narrowed to a 16-bit format, where it must still be finite.
  uint16_t narrow(std::string_view token, uint16_t (*to)(float), float (*from)(uint16_t)) const {
    float value = to_float(token);
    uint16_t bits = to(value);
    if (std::isinf(from(bits)) && std::isfinite(value)) out_of_range();
    return bits;
  }

  template <typename T>
  T integer(std::string_view token) const {
    int64_t value = number<int64_t>(token);
    if (value < std::numeric_limits<T>::min() || value > std::numeric_limits<T>::max()) {
      out_of_range();
    }
    return static_cast<T>(value);
  }

  uint8_t boolean() const {
    if (token_ == "0") return 0;
    if (token_ == "1") return 1;
    fail("text tensor: line {}: '{}' is not a bool (use 0 or 1)", line_, quote(token_));
  }

  DType dtype_;
  size_t line_;
  std::string_view token_;
};

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

// Calls `on_token` for every token of `line`; returns how many there were.
template <typename F>
size_t for_each_token(std::string_view line, F&& on_token) {
  size_t count = 0;
  size_t pos = 0;
  while (true) {
    while (pos < line.size() && is_blank(line[pos])) ++pos;
    if (pos == line.size()) return count;
    size_t start = pos;
    while (pos < line.size() && !is_blank(line[pos])) ++pos;
    on_token(line.substr(start, pos - start));
    ++count;
  }
}

// Accumulates the rows of one block into a tensor.
struct Block {
  std::vector<std::byte> buffer;
  int64_t rows = 0;
  int64_t columns = 0;
};

HostTensor finish(Block& block, DType dtype) {
  return HostTensor::adopt(dtype, {block.rows, block.columns}, std::move(block.buffer));
}

}  // namespace

void append_text(const HostTensor& tensor, std::string& out) {
  int64_t numel = tensor.numel();
  if (numel <= 0) fail("text format cannot write {}: it has no values", describe(tensor));
  int64_t rows = tensor.shape.empty() ? 1 : tensor.shape[0];
  int64_t columns = numel / rows;
  size_t size = dtype_size(tensor.dtype);
  const std::byte* p = tensor.data();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < columns; ++c, p += size) {
      if (c > 0) out += ' ';
      append_value(tensor.dtype, p, out);
    }
    out += '\n';
  }
}

std::string format_text(std::span<const HostTensor> tensors) {
  std::string out;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i > 0) out += '\n';
    append_text(tensors[i], out);
  }
  return out;
}

std::vector<HostTensor> parse_text(std::string_view text, DType dtype,
                                   const TensorLimits& limits) {
  std::vector<HostTensor> tensors;
  Block block;
  size_t element_size = dtype_size(dtype);
  size_t max_values = std::min(static_cast<size_t>(std::max<int64_t>(limits.max_elements, 0)),
                               limits.max_bytes / element_size);
  size_t line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;

    ValueParser parser(dtype, line_number);
    size_t count = for_each_token(line, [&](std::string_view token) {
      require(block.buffer.size() / element_size < max_values,
              "text tensor: line {}: more than {} values in one tensor", line_number,
              max_values);
      parser.parse(token, block.buffer);
    });
    if (count == 0) {  // an empty line ends the block
      if (block.rows > 0) tensors.push_back(finish(block, dtype));
      block = Block{};
      continue;
    }
    if (block.rows == 0) block.columns = static_cast<int64_t>(count);
    require(static_cast<int64_t>(count) == block.columns,
            "text tensor: row {} has {} values, row 1 has {} (line {})", block.rows + 1, count,
            block.columns, line_number);
    ++block.rows;
  }
  if (block.rows > 0) tensors.push_back(finish(block, dtype));
  return tensors;
}

}  // namespace hm
