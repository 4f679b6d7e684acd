#include "hm/data/torch_archive.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "hm/base/error.h"
#include <zlib.h>

#include "zip_records.h"

namespace hm::data {
namespace {

// What the model knows of a value on LibTorch's unpickler stack: a string,
// an int or a tuple of known values exactly; anything else (lists, dicts,
// objects, tensors, results of globals) is opaque. The model's stack is
// LibTorch's with at most some opaque values added (a global's REDUCE may
// push nothing in LibTorch), so a known value on top of it is on top of
// LibTorch's too. Every value also carries a bound on how deeply
// containers nest inside it: LibTorch frees nested values recursively, so a
// pickle of a million nested lists would overflow its stack.
struct Value {
  enum class Kind { kOpaque, kString, kInt, kTuple } kind = Kind::kOpaque;
  std::string text;
  int64_t number = 0;
  std::vector<std::shared_ptr<Value>> items;  // all known when kind is kTuple
  size_t depth = 0;  // 0 for scalars, 1 + the deepest item for containers
};
using ValueRef = std::shared_ptr<Value>;

constexpr size_t kMaxDepth = 1000;

// A fresh value: containers (lists, dicts) grow in place, so each is its own.
ValueRef make(Value::Kind kind, size_t depth = 0) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  value->depth = depth;
  return value;
}

ValueRef scalar() {
  static const ValueRef value = make(Value::Kind::kOpaque);
  return value;
}

ValueRef make_int(int64_t number) {
  auto value = make(Value::Kind::kInt);
  value->number = number;
  return value;
}

// Bytes per element of LibTorch's ScalarType values 0..17 (Byte, Char,
// Short, Int, Long, Half, Float, Double, ComplexHalf, ComplexFloat,
// ComplexDouble, Bool, QInt8, QUInt8, QInt32, BFloat16, QUInt4x2, QUInt2x4),
// and the <Name>Storage globals that stand for them.
constexpr int kItemBytes[] = {1, 1, 2, 4, 8, 2, 4, 8, 4, 8, 16, 1, 1, 1, 4, 2, 1, 1};
constexpr std::string_view kStorageNames[] = {
    "ByteStorage",   "CharStorage",         "ShortStorage",         "IntStorage",
    "LongStorage",   "HalfStorage",         "FloatStorage",         "DoubleStorage",
    "ComplexHalfStorage", "ComplexFloatStorage", "ComplexDoubleStorage", "BoolStorage",
    "QInt8Storage",  "QUInt8Storage",       "QInt32Storage",        "BFloat16Storage",
    "QUInt4x2Storage", "QUInt2x4Storage"};

// One pickle record run through the model of LibTorch 1.13's unpickler
// (torch/csrc/jit/serialization/unpickler.cpp), opcode by opcode.
class PickleCheck {
 public:
  // `sizes`: every record's declared size by lower-cased name; storage
  // references resolve to "<dir>/<stem>/<key>" for a pickle "<dir>/<stem>.pkl".
  PickleCheck(std::string_view name, std::span<const std::byte> bytes,
              const std::unordered_map<std::string, uint64_t>& sizes, PickleGlobals globals)
      : name_(name), bytes_(bytes), sizes_(sizes), globals_(globals) {
    storage_prefix_ = ascii_lower(name.substr(0, name.rfind('.'))) + "/";
  }

  void run() {
    require_byte(0x80, "starts without PROTO");
    require_byte(2, "is not pickle protocol 2");
    while (step()) {
    }
  }

 private:
  [[noreturn]] void bad(std::string_view what) const {
    fail("pickle {}, offset {}: {}", name_, opcode_at_, what);
  }

  size_t left() const { return bytes_.size() - at_; }

  uint64_t read_le(size_t width) {
    if (left() < width) bad("truncated");
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) {
      value |= uint64_t{std::to_integer<uint8_t>(bytes_[at_ + i])} << (8 * i);
    }
    at_ += width;
    return value;
  }

  void require_byte(uint8_t want, std::string_view what) {
    opcode_at_ = at_;
    if (read_le(1) != want) bad(what);
  }

  std::string read_bytes(uint64_t length) {
    if (length > left()) {
      bad(fmt::format("string of {} bytes, {} bytes left", length, left()));
    }
    std::string text(reinterpret_cast<const char*>(bytes_.data() + at_), length);
    at_ += length;
    return text;
  }

  std::string read_line() {
    for (size_t end = at_; end < bytes_.size(); ++end) {
      if (bytes_[end] == std::byte{'\n'}) {
        std::string line = read_bytes(end - at_);
        ++at_;
        return line;
      }
    }
    bad("a GLOBAL name without its newline");
  }

  void push(ValueRef value) {
    if (value->depth > kMaxDepth) bad(fmt::format("containers nested over {} deep", kMaxDepth));
    stack_.push_back(std::move(value));
  }

  // 1 + the deepest of the values from `from` up the stack.
  size_t depth_above(size_t from) const {
    size_t depth = 0;
    for (size_t i = from; i < stack_.size(); ++i) depth = std::max(depth, stack_[i]->depth);
    return depth + 1;
  }

  // Pops the values from `from` up into the container below them.
  void fill(ValueRef& container, size_t from) {
    container->depth = std::max(container->depth, depth_above(from));
    if (container->depth > kMaxDepth) {
      bad(fmt::format("containers nested over {} deep", kMaxDepth));
    }
    stack_.resize(from);
  }

  // The innermost mark: nothing but the op that consumes it pops below it.
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  ValueRef pop() {
    if (stack_.size() <= floor()) bad("pops an empty stack (or below its mark)");
    ValueRef top = std::move(stack_.back());
    stack_.pop_back();
    return top;
  }

  // Consumes the innermost mark; returns where it stood.
  size_t pop_mark() {
    if (marks_.empty()) bad("no MARK to close");
    const size_t mark = marks_.back();
    marks_.pop_back();
    if (mark > stack_.size()) bad("a MARK above the stack");
    return mark;
  }

  void push_tuple(size_t from) {
    auto tuple = make(Value::Kind::kTuple, depth_above(from));
    for (size_t i = from; i < stack_.size(); ++i) {
      if (stack_[i]->kind == Value::Kind::kOpaque) tuple->kind = Value::Kind::kOpaque;
      tuple->items.push_back(stack_[i]);
    }
    stack_.resize(from);
    if (tuple->kind == Value::Kind::kOpaque) tuple->items.clear();
    push(std::move(tuple));
  }

  void put_memo(uint64_t id) {
    if (stack_.empty()) bad("memoizes an empty stack");
    if (id > memo_.size()) {
      bad(fmt::format("memo id {} skips ahead of the {} entries", id, memo_.size()));
    }
    if (id == memo_.size()) {
      memo_.push_back(stack_.back());
    } else {
      memo_[id] = stack_.back();
    }
  }

  void get_memo(uint64_t id) {
    if (id >= memo_.size()) bad(fmt::format("memo id {} of {}", id, memo_.size()));
    push(memo_[id]);
  }

  void global() {
    const std::string module = read_line();
    const std::string name = read_line();
    if (module == "torch._tensor" && name == "_rebuild_from_type_v2") {
      bad("a tensor subclass (torch._tensor._rebuild_from_type_v2)");
    }
    if (module == "torch") {
      for (size_t type = 0; type < std::size(kStorageNames); ++type) {
        if (name == kStorageNames[type]) return push(make_int(static_cast<int64_t>(type)));
      }
    }
    const bool tensor_global = (module == "torch._utils" && name == "_rebuild_tensor_v2") ||
                               (module == "collections" && name == "OrderedDict");
    if (globals_ == PickleGlobals::kTensorsOnly && !tensor_global) {
      bad(fmt::format("global {}.{}, where only tensors may be", module, name));
    }
    push(scalar());
  }

  // A storage reference: ("storage", dtype, key, device, numel).
  void storage_reference() {
    const ValueRef tuple = pop();
    const auto& items = tuple->items;
    using Kind = Value::Kind;
    if (tuple->kind != Kind::kTuple || items.size() != 5 || items[0]->kind != Kind::kString ||
        items[0]->text != "storage" || items[1]->kind != Kind::kInt ||
        items[2]->kind != Kind::kString || items[3]->kind != Kind::kString ||
        items[4]->kind != Kind::kInt) {
      bad("a storage reference that is not a literal (\"storage\", dtype, key, device, numel)");
    }
    const int64_t type = items[1]->number;
    const int64_t numel = items[4]->number;
    if (type < 0 || type >= static_cast<int64_t>(std::size(kItemBytes))) {
      bad(fmt::format("storage of unknown scalar type {}", type));
    }
    if (numel < 0 || numel > std::numeric_limits<int64_t>::max() / kItemBytes[type]) {
      bad(fmt::format("storage of {} elements", numel));
    }
    const uint64_t need = static_cast<uint64_t>(numel) * kItemBytes[type];
    if (numel > 0) {
      const std::string record = storage_prefix_ + ascii_lower(items[2]->text);
      const auto found = sizes_.find(record);
      if (found == sizes_.end()) bad(fmt::format("storage {} has no record", items[2]->text));
      if (found->second < need) {
        bad(fmt::format("storage {} declares {} bytes, its record has {}", items[2]->text, need,
                        found->second));
      }
    }
    push(make(Value::Kind::kOpaque, 1));  // the tensor
  }

  // One opcode; false after STOP.
  bool step() {
    opcode_at_ = at_;
    const auto opcode = static_cast<uint8_t>(read_le(1));
    switch (opcode) {
      case '.':  // STOP
        return false;
      case ']':  // EMPTY_LIST
      case '}':  // EMPTY_DICT
        push(make(Value::Kind::kOpaque, 1));
        break;
      case 'N':  // NONE
      case 0x88:  // NEWTRUE
      case 0x89:  // NEWFALSE
        push(scalar());
        break;
      case 'G':  // BINFLOAT
        read_le(8);
        push(scalar());
        break;
      case ')':  // EMPTY_TUPLE
        push_tuple(stack_.size());
        break;
      case 'q':  // BINPUT
        put_memo(read_le(1));
        break;
      case 'r':  // LONG_BINPUT
        put_memo(read_le(4));
        break;
      case 'h':  // BINGET
        get_memo(read_le(1));
        break;
      case 'j':  // LONG_BINGET
        get_memo(read_le(4));
        break;
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case 'K':  // BININT1
        push(make_int(static_cast<int64_t>(read_le(1))));
        break;
      case 'M':  // BININT2
        push(make_int(static_cast<int64_t>(read_le(2))));
        break;
      case 'J':  // BININT
        push(make_int(static_cast<int32_t>(read_le(4))));
        break;
      case 0x8a:  // LONG1, of 8 bytes only
        if (read_le(1) != 8) bad("LONG1 of other than 8 bytes");
        push(make_int(static_cast<int64_t>(read_le(8))));
        break;
      case 'X': {  // BINUNICODE
        auto text = make(Value::Kind::kString);
        text->text = read_bytes(read_le(4));
        push(std::move(text));
        break;
      }
      case 't':  // TUPLE
        push_tuple(pop_mark());
        break;
      case 0x85:  // TUPLE1
      case 0x86:  // TUPLE2
      case 0x87: {  // TUPLE3
        const size_t count = opcode - 0x84u;
        if (stack_.size() < floor() + count) bad("a tuple of more items than the stack holds");
        push_tuple(stack_.size() - count);
        break;
      }
      case 'e':  // APPENDS: the list stays below the mark
      case 'u': {  // SETITEMS: the dict stays below the mark
        const size_t mark = pop_mark();
        if (mark == 0 || mark <= floor()) bad("APPENDS or SETITEMS without its container");
        if (opcode == 'u' && (stack_.size() - mark) % 2 != 0) bad("a key without its value");
        fill(stack_[mark - 1], mark);
        break;
      }
      case 'l':  // LIST
      case 'd': {  // DICT
        const size_t mark = pop_mark();
        if (opcode == 'd' && (stack_.size() - mark) % 2 != 0) bad("a key without its value");
        auto container = make(Value::Kind::kOpaque, depth_above(mark));
        stack_.resize(mark);
        push(std::move(container));
        break;
      }
      case 's':  // SETITEM
        if (stack_.size() < floor() + 3) bad("SETITEM without its dict");
        fill(stack_[stack_.size() - 3], stack_.size() - 2);
        break;
      case 'c':  // GLOBAL
        global();
        break;
      case 0x81:  // NEWOBJ
        pop();
        break;
      case 'b':  // BUILD
      case 'R': {  // REDUCE: what a global makes of its argument
        const size_t depth = std::max(pop()->depth, pop()->depth) + 1;
        push(make(Value::Kind::kOpaque, depth));
        break;
      }
      case 'Q':  // BINPERSID
        storage_reference();
        break;
      default:
        bad(fmt::format("opcode 0x{:02x}, which LibTorch does not read", opcode));
    }
    return true;
  }

  std::string_view name_;
  std::span<const std::byte> bytes_;
  const std::unordered_map<std::string, uint64_t>& sizes_;
  const PickleGlobals globals_;
  std::string storage_prefix_;
  size_t at_ = 0;
  size_t opcode_at_ = 0;
  std::vector<ValueRef> stack_;
  std::vector<size_t> marks_;
  std::vector<ValueRef> memo_;
};

// A deflated record's bytes, which must come to exactly its declared size
// (zip_records bounds that by its compressed size).
std::string inflate_record(const ZipRecord& record) {
  constexpr uint64_t kMaxZlibBytes = std::numeric_limits<uInt>::max();
  require(record.size <= kMaxZlibBytes && record.data.size() <= kMaxZlibBytes,
          "zip: deflated pickle {} of {} bytes", record.name, record.size);
  std::string out(record.size, '\0');
  z_stream stream{};
  require(inflateInit2(&stream, -MAX_WBITS) == Z_OK, "zip: record {}: zlib: out of memory",
          record.name);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(record.data.data()));
  stream.avail_in = static_cast<uInt>(record.data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = inflate(&stream, Z_FINISH);
  const uint64_t produced = stream.total_out;
  inflateEnd(&stream);
  require(status == Z_STREAM_END && produced == record.size,
          "zip: record {}: deflate data {} ({} of the {} bytes it declares)", record.name,
          status == Z_STREAM_END ? "ends early" : "is corrupt or longer", produced, record.size);
  return out;
}

bool is_pickle(std::string_view lower_name) {
  return lower_name.ends_with(".pkl") || lower_name.ends_with(".debug_pkl");
}

}  // namespace

void check_torch_archive(std::span<const std::byte> archive, PickleGlobals globals) {
  const auto records = zip_records(archive);
  std::unordered_map<std::string, uint64_t> sizes;
  for (const auto& record : records) {
    const std::string lower = ascii_lower(record.name);
    require(!lower.ends_with("model.json"),
            "zip: record {}: the legacy TorchScript format, which hm never writes", record.name);
    sizes.emplace(lower, record.size);
  }
  for (const auto& record : records) {
    if (!is_pickle(ascii_lower(record.name))) continue;
    if (record.deflated) {
      const std::string inflated = inflate_record(record);
      PickleCheck(record.name, std::as_bytes(std::span(inflated.data(), inflated.size())), sizes,
                  globals)
          .run();
    } else {
      PickleCheck(record.name, record.data, sizes, globals).run();
    }
  }
}

}  // namespace hm::data
