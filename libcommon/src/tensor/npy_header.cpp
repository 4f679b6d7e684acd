// Parses the Python literal a .npy header holds: a dict of strings, booleans,
// integers, tuples and lists, nothing else (no expressions, no calls).
#include "hm/tensor/npy_header.h"

#include <array>
#include <charconv>
#include <optional>

#include <fmt/ranges.h>

#include "hm/base/error.h"
#include "hm/tensor/quote.h"

namespace hm {
namespace {

constexpr int kMaxDepth = 16;

struct Literal {
  enum class Kind { String, Bool, None, Int, Tuple, List };
  Kind kind = Kind::None;
  std::string string;  // Kind::String
  bool flag = false;   // Kind::Bool
  int64_t number = 0;  // Kind::Int
  std::vector<Literal> items;  // Kind::Tuple, Kind::List
  std::string_view source;     // the literal as written, for messages
};

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view text) : text_(text) {}

  // The whole header: one dict, then only whitespace.
  std::vector<std::pair<std::string, Literal>> dict() {
    skip_space();
    expect('{');
    std::vector<std::pair<std::string, Literal>> entries;
    while (true) {
      skip_space();
      if (peek() == '}') break;
      Literal key = value(1);
      if (key.kind != Literal::Kind::String) error("dict key must be a string", key.source);
      skip_space();
      expect(':');
      entries.emplace_back(std::move(key.string), value(1));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') error("expected ',' or '}'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the dict");
    return entries;
  }

 private:
  [[noreturn]] void error(std::string_view what, std::string_view near = {}) const {
    if (near.empty()) near = text_.substr(pos_, 20);
    fail("npy header: {} at offset {} (near '{}')", what, pos_, quote(near));
  }

  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  void expect(char c) {
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++pos_;
  }

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool take_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Literal value(int depth) {
    if (depth > kMaxDepth) error("nesting too deep");
    skip_space();
    size_t start = pos_;
    Literal literal;
    char c = peek();
    if (c == '\'' || c == '"') {
      literal.kind = Literal::Kind::String;
      literal.string = quoted();
    } else if (c == '(' || c == '[') {
      sequence(literal, depth);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      literal.kind = Literal::Kind::Int;
      literal.number = integer();
    } else if (take_word("True") || take_word("False")) {
      literal.kind = Literal::Kind::Bool;
      literal.flag = text_[start] == 'T';
    } else if (take_word("None")) {
      literal.kind = Literal::Kind::None;
    } else {
      error("expected a string, number, tuple, list, True, False or None");
    }
    // A parenthesised single value without a comma is that value.
    if (literal.source.empty()) literal.source = text_.substr(start, pos_ - start);
    return literal;
  }

  std::string quoted() {
    char delimiter = text_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) error("unterminated string");
      char c = text_[pos_++];
      if (c == delimiter) return out;
      if (c == '\n') error("newline in a string");
      if (c == '\\') {
        if (pos_ >= text_.size()) error("unterminated string");
        c = text_[pos_++];
      }
      out += c;
    }
  }

  int64_t integer() {
    size_t start = pos_;
    if (peek() == '-') ++pos_;
    while (peek() >= '0' && peek() <= '9') ++pos_;
    std::string_view digits = text_.substr(start, pos_ - start);
    int64_t number = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec == std::errc::result_out_of_range) error("integer out of range", digits);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      error("malformed integer", digits);
    }
    if (peek() == 'L') ++pos_;  // Python 2 long, as very old numpy wrote
    return number;
  }

  void sequence(Literal& literal, int depth) {
    size_t start = pos_;
    char close = text_[pos_++] == '(' ? ')' : ']';
    literal.kind = close == ')' ? Literal::Kind::Tuple : Literal::Kind::List;
    bool saw_comma = false;
    while (true) {
      skip_space();
      if (peek() == close) break;
      literal.items.push_back(value(depth + 1));
      skip_space();
      if (peek() == ',') {
        saw_comma = true;
        ++pos_;
        continue;
      }
      if (peek() != close) error(fmt::format("expected ',' or '{}'", close));
    }
    ++pos_;
    if (close == ')' && literal.items.size() == 1 && !saw_comma) {
      Literal inner = std::move(literal.items[0]);
      literal = std::move(inner);
      return;
    }
    literal.source = text_.substr(start, pos_ - start);
  }

  std::string_view text_;
  size_t pos_ = 0;
};

struct TypeCode {
  std::string_view code;  // numpy's kind + size, e.g. "f4"
  DType dtype;
};

constexpr std::array<TypeCode, 9> kTypeCodes = {{
    {"f4", DType::Float32},
    {"f2", DType::Float16},
    {"f8", DType::Float64},
    {"i8", DType::Int64},
    {"i4", DType::Int32},
    {"i2", DType::Int16},
    {"i1", DType::Int8},
    {"u1", DType::UInt8},
    {"b1", DType::Bool},
}};

// Reads a numpy type string such as "<f4" or "|b1" into `header`.
bool parse_typestr(std::string_view typestr, NpyHeader& header) {
  if (typestr.size() < 2) return false;
  char order = typestr[0];
  std::string_view code = typestr.substr(1);
  for (const auto& entry : kTypeCodes) {
    if (entry.code != code) continue;
    bool single_byte = dtype_size(entry.dtype) == 1;
    if (order == '|' && !single_byte) return false;
    if (order != '|' && order != '<' && order != '>' && order != '=') return false;
    header.dtype = entry.dtype;
    header.big_endian = order == '>' && !single_byte;
    return true;
  }
  return false;
}

// hm's bfloat16 convention: [('bfloat16', '<u2')] (or '>u2').
bool parse_bfloat16_descr(const Literal& descr, NpyHeader& header) {
  if (descr.kind != Literal::Kind::List || descr.items.size() != 1) return false;
  const Literal& field = descr.items[0];
  if (field.kind != Literal::Kind::Tuple || field.items.size() != 2) return false;
  const Literal& name = field.items[0];
  const Literal& type = field.items[1];
  if (name.kind != Literal::Kind::String || name.string != "bfloat16") return false;
  if (type.kind != Literal::Kind::String) return false;
  if (type.string != "<u2" && type.string != ">u2" && type.string != "=u2") return false;
  header.dtype = DType::BFloat16;
  header.big_endian = type.string == ">u2";
  return true;
}

void apply_descr(const Literal& descr, NpyHeader& header) {
  bool known = descr.kind == Literal::Kind::String ? parse_typestr(descr.string, header)
                                                   : parse_bfloat16_descr(descr, header);
  if (!known) {
    fail(
        "npy header: unsupported descr {} (hm reads float16/32/64, int8/16/32/64, "
        "uint8, bool '|b1' and bfloat16 [('bfloat16', '<u2')])",
        quote(descr.source, 80));
  }
}

void apply_shape(const Literal& shape, NpyHeader& header) {
  if (shape.kind != Literal::Kind::Tuple) {
    fail("npy header: shape must be a tuple, got {}", quote(shape.source));
  }
  for (const auto& dim : shape.items) {
    if (dim.kind != Literal::Kind::Int) {
      fail("npy header: shape entry {} is not an integer", quote(dim.source));
    }
    header.shape.push_back(dim.number);
  }
}

}  // namespace

NpyHeader parse_npy_header(std::string_view text) {
  NpyHeader header;
  std::array<bool, 3> seen{};
  for (const auto& [key, value] : LiteralParser(text).dict()) {
    size_t index = key == "descr" ? 0 : key == "fortran_order" ? 1 : key == "shape" ? 2 : 3;
    if (index >= 3) fail("npy header: unexpected key '{}'", quote(key));
    require(!seen[index], "npy header: key '{}' appears twice", key);
    seen[index] = true;
    if (index == 0) {
      apply_descr(value, header);
    } else if (index == 1) {
      if (value.kind != Literal::Kind::Bool) {
        fail("npy header: fortran_order must be True or False, got {}", quote(value.source));
      }
      header.fortran_order = value.flag;
    } else {
      apply_shape(value, header);
    }
  }
  constexpr std::array<std::string_view, 3> kKeys = {"descr", "fortran_order", "shape"};
  for (size_t i = 0; i < kKeys.size(); ++i) {
    require(seen[i], "npy header: missing key '{}'", kKeys[i]);
  }
  return header;
}

std::string format_npy_header(const NpyHeader& header) {
  char order = header.big_endian ? '>' : '<';
  std::string descr;
  if (header.dtype == DType::BFloat16) {
    descr = fmt::format("[('bfloat16', '{}u2')]", order);
  } else {
    for (const auto& entry : kTypeCodes) {
      if (entry.dtype != header.dtype) continue;
      descr = fmt::format("'{}{}'", dtype_size(entry.dtype) == 1 ? '|' : order, entry.code);
    }
  }
  std::string shape = header.shape.size() == 1
                          ? fmt::format("({},)", header.shape[0])
                          : fmt::format("({})", fmt::join(header.shape, ", "));
  return fmt::format("{{'descr': {}, 'fortran_order': {}, 'shape': {}, }}", descr,
                     header.fortran_order ? "True" : "False", shape);
}

}  // namespace hm
