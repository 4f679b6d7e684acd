#include "hm/moe/checkpoint.h"

#include <torch/csrc/jit/serialization/pickle.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "hm/base/log.h"
#include "hm/data/torch_archive.h"
#include "hm/moe/expert_backend.h"
#include "optimizer_state.h"

namespace hm::moe {

using Named = std::vector<std::pair<std::string, torch::Tensor>>;
using OptimizerStates = std::vector<std::unique_ptr<torch::optim::OptimizerParamState>>;

// Tensors by reference (a view of a live backend, for where no batch runs)
// or copies (take_snapshot), plus what the header says.
struct CheckpointSnapshot {
  CheckpointHeader header;
  Named parameters;
  Named buffers;
  std::vector<c10::IValue> optimizer_states;  // one per parameter (optimizer_state.h)
};

namespace {

using c10::IValue;
using c10::ivalue::Tuple;

constexpr std::string_view kMagic = "HMCKPT02";
constexpr std::string_view kOldMagic = "HMCKPT01";
constexpr size_t kFrameBytes = 24;  // magic, payload size, payload checksum
constexpr std::string_view kTag = "hm checkpoint";
constexpr int64_t kFormat = 2;

// Where each field sits in the payload's tuple.
enum Field : size_t {
  kTagAt,
  kFormatAt,
  kUidAt,
  kClsAt,
  kOptimizerAt,
  kHiddenDimAt,
  kStepsAt,
  kExamplesAt,
  kParameterNamesAt,
  kParametersAt,
  kBufferNamesAt,
  kBuffersAt,
  kOptimizerStatesAt,
  kFields
};

void put_u64(char* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t get_u64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CorruptCheckpoint(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw CorruptCheckpoint(fmt::format("{}: cannot read", path));
  return bytes;
}

// The payload of a checkpoint file after checking its frame.
std::string_view checked_payload(const std::string& path, const std::string& file) {
  const std::string_view magic = std::string_view(file).substr(0, kMagic.size());
  if (magic == kOldMagic) {
    throw CorruptCheckpoint(fmt::format(
        "{}: checkpoint format 1 ({}), written by an earlier hm: no longer read, since "
        "LibTorch compiles the code inside it (and crashes on crafted code)",
        path, kOldMagic));
  }
  if (file.size() < kFrameBytes || magic != kMagic) {
    throw CorruptCheckpoint(fmt::format("{}: not an hm checkpoint ({} bytes, no {} header)", path,
                                        file.size(), kMagic));
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
  const uint64_t got = checksum64(std::as_bytes(std::span(payload.data(), payload.size())));
  if (want != got) {
    throw CorruptCheckpoint(
        fmt::format("{}: checksum mismatch (header {:016x}, data {:016x})", path, want, got));
  }
  return payload;
}

// Runs `read`, turning what torch throws (c10::Error for a value of the
// wrong type, other std::exceptions) into CorruptCheckpoint "<path>: <what>:
// ...". hm's own errors pass through.
template <typename Read>
void read_archive(const std::string& path, std::string_view what, Read&& read) {
  try {
    read();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& error) {
    throw CorruptCheckpoint(
        fmt::format("{}: {}: {}", path, what, error.what_without_backtrace()));
  } catch (const std::exception& error) {
    throw CorruptCheckpoint(fmt::format("{}: {}: {}", path, what, error.what()));
  }
}

// A checked, parsed checkpoint: its header and the payload's fields.
struct Parsed {
  CheckpointHeader header;
  IValue root;
  const IValue& at(Field field) const { return root.toTupleRef().elements().asArrayRef()[field]; }
};

uint64_t read_count(const std::string& path, const IValue& value, const char* what) {
  const int64_t count = value.toInt();
  if (count < 0) throw CorruptCheckpoint(fmt::format("{}: {} is {}", path, what, count));
  return static_cast<uint64_t>(count);
}

void parse(const std::string& path, Parsed& out) {
  const std::string file = read_file(path);
  const auto payload = checked_payload(path, file);
  // LibTorch believes the sizes an archive declares: bound them first, and
  // let its pickles name nothing but tensors.
  try {
    data::check_torch_archive(std::as_bytes(std::span(payload.data(), payload.size())),
                              data::PickleGlobals::kTensorsOnly);
  } catch (const Error& error) {
    throw CorruptCheckpoint(fmt::format("{}: unreadable archive: {}", path, error.what()));
  }
  read_archive(path, "unreadable archive", [&] {
    out.root = torch::pickle_load(std::vector<char>(payload.begin(), payload.end()));
    const auto fields = out.root.toTupleRef().elements().asArrayRef();
    if (fields.size() != kFields || !fields[kTagAt].isString() ||
        fields[kTagAt].toStringRef() != kTag) {
      throw CorruptCheckpoint(fmt::format("{}: not an hm checkpoint archive", path));
    }
    const int64_t format = fields[kFormatAt].toInt();
    if (format != kFormat) {
      throw CorruptCheckpoint(
          fmt::format("{}: checkpoint format {} (this hm reads {})", path, format, kFormat));
    }
    auto& header = out.header;
    header.uid = fields[kUidAt].toStringRef();
    header.expert_cls = fields[kClsAt].toStringRef();
    header.optimizer = fields[kOptimizerAt].toStringRef();
    header.hidden_dim = fields[kHiddenDimAt].toInt();
    header.steps = read_count(path, fields[kStepsAt], "the step count");
    header.examples_processed = read_count(path, fields[kExamplesAt], "the examples count");
  });
}

IValue names_of(const Named& named) {
  std::vector<IValue> names;
  for (const auto& [name, tensor] : named) names.emplace_back(name);
  return Tuple::create(std::move(names));
}

IValue tensors_of(const Named& named) {
  std::vector<IValue> tensors;
  for (const auto& [name, tensor] : named) tensors.emplace_back(tensor.detach());
  return Tuple::create(std::move(tensors));
}

// The saved tensors of `what` ("parameter", "buffer"), checked against the
// module's: same names, shapes and dtypes, each inside its storage.
std::vector<torch::Tensor> read_named(const std::string& path, const Parsed& parsed,
                                      const std::string& what, Field names_at, Field tensors_at,
                                      const Named& current) {
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  read_archive(path, "unreadable " + what + "s", [&] {
    for (const auto& name : parsed.at(names_at).toTupleRef().elements()) {
      names.push_back(name.toStringRef());
    }
    for (const auto& tensor : parsed.at(tensors_at).toTupleRef().elements()) {
      tensors.push_back(tensor.toTensor());
    }
  });
  if (names.size() != tensors.size()) {
    throw CorruptCheckpoint(
        fmt::format("{}: {} {} names but {} tensors", path, names.size(), what, tensors.size()));
  }
  require(names.size() == current.size(), "{}: {} {}s in the checkpoint, {} in this {} expert",
          path, names.size(), what, current.size(), parsed.header.expert_cls);
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

// The optimizer states saved for `parameters`, each checked (see
// load_optimizer_state); nullptr where a parameter has none.
OptimizerStates read_optimizer_states(
    const std::string& path, const Parsed& parsed, const torch::optim::Optimizer& optimizer,
    const Named& parameters) {
  OptimizerStates states;
  read_archive(path, "unreadable optimizer state", [&] {
    const auto& saved = parsed.at(kOptimizerStatesAt).toTupleRef().elements();
    if (saved.size() != parameters.size()) {
      throw CorruptCheckpoint(fmt::format("{}: optimizer state for {} parameters, not {}", path,
                                          saved.size(), parameters.size()));
    }
    for (size_t i = 0; i < saved.size(); ++i) {
      states.push_back(load_optimizer_state(path, saved[i], optimizer, parameters[i].second));
    }
  });
  return states;
}

// The state of `backend`: by reference (no copies), or copied to host memory.
CheckpointSnapshot snapshot_of(ExpertBackend& backend, int64_t hidden_dim, bool copy) {
  const auto& options = backend.options();
  CheckpointSnapshot snapshot;
  snapshot.header = {options.uid, options.expert_cls, options.optimizer.name,
                     hidden_dim,  backend.steps(),    backend.examples_processed()};
  snapshot.parameters = backend.module().named_parameters();
  snapshot.buffers = backend.module().named_buffers();
  if (const auto* optimizer = backend.optimizer()) {
    for (const auto& [name, parameter] : snapshot.parameters) {
      snapshot.optimizer_states.push_back(save_optimizer_state(*optimizer, parameter, copy));
    }
  } else {
    snapshot.optimizer_states.assign(snapshot.parameters.size(), Tuple::create({}));
  }
  if (copy) {
    for (auto* named : {&snapshot.parameters, &snapshot.buffers}) {
      for (auto& [name, tensor] : *named) {
        tensor = host_copy(tensor);
      }
    }
  }
  return snapshot;
}

}  // namespace

std::shared_ptr<const CheckpointSnapshot> take_snapshot(ExpertBackend& backend,
                                                        int64_t hidden_dim) {
  return std::make_shared<CheckpointSnapshot>(snapshot_of(backend, hidden_dim, /*copy=*/true));
}

std::string serialize_checkpoint(const CheckpointSnapshot& snapshot) {
  const auto& header = snapshot.header;
  const auto root = Tuple::create({IValue(std::string(kTag)),
                                   IValue(kFormat),
                                   IValue(header.uid),
                                   IValue(header.expert_cls),
                                   IValue(header.optimizer),
                                   IValue(header.hidden_dim),
                                   IValue(static_cast<int64_t>(header.steps)),
                                   IValue(static_cast<int64_t>(header.examples_processed)),
                                   names_of(snapshot.parameters),
                                   tensors_of(snapshot.parameters),
                                   names_of(snapshot.buffers),
                                   tensors_of(snapshot.buffers),
                                   Tuple::create(snapshot.optimizer_states)});
  const std::vector<char> payload = torch::pickle_save(root);
  std::string out(kFrameBytes + payload.size(), '\0');
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  put_u64(out.data() + 8, payload.size());
  put_u64(out.data() + 16, checksum64(std::as_bytes(std::span(payload.data(), payload.size()))));
  std::memcpy(out.data() + kFrameBytes, payload.data(), payload.size());
  return out;
}

std::string serialize_checkpoint(ExpertBackend& backend, int64_t hidden_dim) {
  return serialize_checkpoint(snapshot_of(backend, hidden_dim, /*copy=*/false));
}

CheckpointHeader read_checkpoint_header(const std::string& path) {
  Parsed parsed;
  parse(path, parsed);
  return parsed.header;
}

CheckpointHeader restore_checkpoint(ExpertBackend& backend, int64_t hidden_dim,
                                    const std::string& path) {
  const auto& options = backend.options();
  Parsed parsed;
  parse(path, parsed);
  const auto& header = parsed.header;
  if (header.uid != options.uid) {
    throw CorruptCheckpoint(
        fmt::format("{}: holds expert '{}', not '{}' (renamed?)", path, header.uid, options.uid));
  }
  require(header.expert_cls == options.expert_cls,
          "{}: a {} expert, but this server hosts {} experts", path, header.expert_cls,
          options.expert_cls);
  require(header.expert_cls == "module" || header.hidden_dim == hidden_dim,
          "{}: saved with hidden dim {}, but this server has {}", path, header.hidden_dim,
          hidden_dim);
  auto& module = backend.module();
  const auto params = module.named_parameters();
  const auto buffers = module.named_buffers();
  const auto saved_params =
      read_named(path, parsed, "parameter", kParameterNamesAt, kParametersAt, params);
  const auto saved_buffers = read_named(path, parsed, "buffer", kBufferNamesAt, kBuffersAt, buffers);
  auto* optimizer = backend.optimizer();
  const bool same_optimizer = optimizer != nullptr && header.optimizer == options.optimizer.name;
  auto states =
      same_optimizer ? read_optimizer_states(path, parsed, *optimizer, params) : OptimizerStates{};
  // Everything is checked: only now does the backend change.
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].second.copy_(saved_params[i]);
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].second.copy_(saved_buffers[i]);
  }
  if (same_optimizer) {
    // The configured options (lr...) stay: a checkpoint holds only the state.
    for (size_t i = 0; i < params.size(); ++i) {
      const auto key = optimizer_state_key(params[i].second);
      if (states[i] == nullptr) {
        optimizer->state().erase(key);
      } else {
        optimizer->state()[key] = std::move(states[i]);
      }
    }
  } else if (optimizer != nullptr) {
    spdlog::warn("{}: saved with optimizer {}, now {}: starting {}'s state afresh", path,
                 header.optimizer, options.optimizer.name, options.optimizer.name);
  }
  backend.set_counters(header.steps, header.examples_processed);
  return header;
}

}  // namespace hm::moe
