#include "hm/moe/state_file.h"

#include <torch/csrc/jit/serialization/pickle.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "hm/data/torch_archive.h"
#include "hm/moe/optimizer_state.h"

namespace hm::moe {
namespace {

using c10::IValue;
using c10::ivalue::Tuple;

constexpr size_t kMagicBytes = 8;
constexpr size_t kFrameBytes = 24;  // magic, payload size, payload checksum

void put_u64(char* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t get_u64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

std::span<const std::byte> as_bytes(std::string_view bytes) {
  return std::as_bytes(std::span(bytes.data(), bytes.size()));
}

// The payload of a state file after checking its frame.
std::string_view checked_payload(const std::string& path, const std::string& file,
                                 std::string_view magic, std::string_view kind) {
  if (file.size() < kFrameBytes || std::string_view(file).substr(0, kMagicBytes) != magic) {
    throw CorruptCheckpoint(fmt::format("{}: not an {} ({} bytes, no {} header)", path, kind,
                                        file.size(), magic));
  }
  const uint64_t size = get_u64(file.data() + 8);
  const uint64_t available = file.size() - kFrameBytes;
  if (size != available) {
    throw CorruptCheckpoint(fmt::format("{}: {}: header says {} bytes of data, file has {}", path,
                                        size > available ? "truncated" : "trailing data", size,
                                        available));
  }
  const std::string_view payload(file.data() + kFrameBytes, available);
  const uint64_t want = get_u64(file.data() + 16);
  const uint64_t got = checksum64(as_bytes(payload));
  if (want != got) {
    throw CorruptCheckpoint(
        fmt::format("{}: checksum mismatch (header {:016x}, data {:016x})", path, want, got));
  }
  return payload;
}

}  // namespace

std::string frame_state(const StateKind& kind, const IValue& root) {
  const std::string_view magic = kind.magic;
  require(magic.size() == kMagicBytes, "a state file's magic is {} bytes, not {}", kMagicBytes,
          magic.size());
  const std::vector<char> payload = torch::jit::pickle_save(root);
  const std::string_view bytes(payload.data(), payload.size());
  std::string out(kFrameBytes + payload.size(), '\0');
  std::memcpy(out.data(), magic.data(), magic.size());
  put_u64(out.data() + 8, payload.size());
  put_u64(out.data() + 16, checksum64(as_bytes(bytes)));
  std::memcpy(out.data() + kFrameBytes, payload.data(), payload.size());
  return out;
}

std::string read_state_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CorruptCheckpoint(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw CorruptCheckpoint(fmt::format("{}: cannot read", path));
  return bytes;
}

std::vector<IValue> parse_state(const std::string& path, const std::string& file,
                                const StateKind& kind) {
  const auto payload = checked_payload(path, file, kind.magic, kind.name);
  // LibTorch believes the sizes an archive declares: bound them first, and
  // let its pickles name nothing but tensors.
  try {
    data::check_torch_archive(as_bytes(payload), data::PickleGlobals::kTensorsOnly);
  } catch (const Error& error) {
    throw CorruptCheckpoint(fmt::format("{}: unreadable archive: {}", path, error.what()));
  }
  std::vector<IValue> fields;
  read_state(path, "unreadable archive", [&] {
    const IValue root = torch::jit::pickle_load(std::vector<char>(payload.begin(), payload.end()));
    const auto elements = root.toTupleRef().elements().asArrayRef();
    if (elements.size() != kind.fields || !elements[0].isString() ||
        elements[0].toStringRef() != kind.tag) {
      throw CorruptCheckpoint(fmt::format("{}: not an {} archive", path, kind.name));
    }
    const int64_t format = elements[1].toInt();
    if (format != kind.format) {
      throw CorruptCheckpoint(fmt::format("{}: {} format {} (this hm reads {})", path, kind.name,
                                          format, kind.format));
    }
    fields.assign(elements.begin(), elements.end());
  });
  return fields;
}

IValue state_root(const StateKind& kind, std::vector<IValue> fields) {
  fields.insert(fields.begin(), {IValue(std::string(kind.tag)), IValue(kind.format)});
  return Tuple::create(std::move(fields));
}

IValue names_of(const NamedTensors& named) {
  std::vector<IValue> names;
  for (const auto& [name, tensor] : named) names.emplace_back(name);
  return Tuple::create(std::move(names));
}

IValue tensors_of(const NamedTensors& named) {
  std::vector<IValue> tensors;
  for (const auto& [name, tensor] : named) tensors.emplace_back(tensor.detach());
  return Tuple::create(std::move(tensors));
}

std::vector<torch::Tensor> read_named_tensors(const std::string& path, const std::string& what,
                                              const IValue& saved_names,
                                              const IValue& saved_tensors,
                                              const NamedTensors& current,
                                              std::string_view whose) {
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  read_state(path, "unreadable " + what + "s", [&] {
    for (const auto& name : saved_names.toTupleRef().elements()) {
      names.push_back(name.toStringRef());
    }
    for (const auto& tensor : saved_tensors.toTupleRef().elements()) {
      tensors.push_back(tensor.toTensor());
    }
  });
  if (names.size() != tensors.size()) {
    throw CorruptCheckpoint(
        fmt::format("{}: {} {} names but {} tensors", path, names.size(), what, tensors.size()));
  }
  require(names.size() == current.size(), "{}: {} {}s in the checkpoint, {} in {}", path,
          names.size(), what, current.size(), whose);
  for (size_t i = 0; i < names.size(); ++i) {
    const auto& [name, tensor] = current[i];
    require(names[i] == name, "{}: {} {} is '{}' in the checkpoint, '{}' here", path, what, i,
            names[i], name);
    require(tensors[i].sizes() == tensor.sizes() && tensors[i].dtype() == tensor.dtype(),
            "{}: {} {} is {} in the checkpoint, {} here", path, what, name,
            describe_tensor(tensors[i]), describe_tensor(tensor));
    require_inside_storage(path, what + " " + name, tensors[i]);
  }
  return tensors;
}

}  // namespace hm::moe
