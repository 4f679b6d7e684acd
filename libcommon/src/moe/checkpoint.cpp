#include "hm/moe/checkpoint.h"

#include "hm/base/log.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/optimizer_state.h"
#include "hm/moe/state_file.h"

namespace hm::moe {

using Named = NamedTensors;
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

constexpr std::string_view kOldMagic = "HMCKPT01";

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

constexpr StateKind kCheckpoint{"HMCKPT02", "hm checkpoint", "hm checkpoint", 2, kFields};

// A checked, parsed checkpoint: its header and the payload's fields.
struct Parsed {
  CheckpointHeader header;
  std::vector<IValue> fields;
  const IValue& at(Field field) const { return fields[field]; }
};

uint64_t read_count(const std::string& path, const IValue& value, const char* what) {
  const int64_t count = value.toInt();
  if (count < 0) throw CorruptCheckpoint(fmt::format("{}: {} is {}", path, what, count));
  return static_cast<uint64_t>(count);
}

void parse(const std::string& path, Parsed& out) {
  const std::string file = read_state_bytes(path);
  if (std::string_view(file).substr(0, kOldMagic.size()) == kOldMagic) {
    throw CorruptCheckpoint(fmt::format(
        "{}: checkpoint format 1 ({}), written by an earlier hm: no longer read, since "
        "LibTorch compiles the code inside it (and crashes on crafted code)",
        path, kOldMagic));
  }
  out.fields = parse_state(path, file, kCheckpoint);
  read_state(path, "unreadable archive", [&] {
    const auto& fields = out.fields;
    auto& header = out.header;
    header.uid = fields[kUidAt].toStringRef();
    header.expert_cls = fields[kClsAt].toStringRef();
    header.optimizer = fields[kOptimizerAt].toStringRef();
    header.hidden_dim = fields[kHiddenDimAt].toInt();
    header.steps = read_count(path, fields[kStepsAt], "the step count");
    header.examples_processed = read_count(path, fields[kExamplesAt], "the examples count");
  });
}

// The saved tensors of `what` ("parameter", "buffer"), checked against the
// module's (read_named_tensors).
std::vector<torch::Tensor> read_named(const std::string& path, const Parsed& parsed,
                                      const std::string& what, Field names_at, Field tensors_at,
                                      const Named& current) {
  return read_named_tensors(path, what, parsed.at(names_at), parsed.at(tensors_at), current,
                            "this " + parsed.header.expert_cls + " expert");
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
  const auto root = state_root(
      kCheckpoint,
      {IValue(header.uid), IValue(header.expert_cls), IValue(header.optimizer),
       IValue(header.hidden_dim), IValue(static_cast<int64_t>(header.steps)),
       IValue(static_cast<int64_t>(header.examples_processed)), names_of(snapshot.parameters),
       tensors_of(snapshot.parameters), names_of(snapshot.buffers), tensors_of(snapshot.buffers),
       Tuple::create(snapshot.optimizer_states)});
  return frame_state(kCheckpoint, root);
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
      same_optimizer
          ? load_optimizer_states(path, parsed.at(kOptimizerStatesAt), *optimizer, params)
          : OptimizerStates{};
  // Everything is checked: only now does the backend change.
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].second.copy_(saved_params[i]);
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].second.copy_(saved_buffers[i]);
  }
  if (same_optimizer) {
    // The configured options (lr...) stay: a checkpoint holds only the state.
    for (size_t i = 0; i < params.size(); ++i) {
      set_optimizer_state(*optimizer, params[i].second, std::move(states[i]));
    }
  } else if (optimizer != nullptr) {
    spdlog::warn("{}: saved with optimizer {}, now {}: starting {}'s state afresh", path,
                 header.optimizer, options.optimizer.name, options.optimizer.name);
  }
  backend.set_counters(header.steps, header.examples_processed);
  return header;
}

}  // namespace hm::moe
