#include "hm/moe/checkpoint.h"

#include <torch/optim/adam.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_map>

#include "hm/base/log.h"
#include "hm/data/torch_archive.h"
#include "hm/moe/expert_backend.h"
#include "hm/torch/torch_bridge.h"

namespace hm::moe {

// Tensors by reference (a view of a live backend, for where no batch runs)
// or copies (take_snapshot), plus what the header says.
struct CheckpointSnapshot {
  CheckpointHeader header;
  std::vector<std::pair<std::string, torch::Tensor>> parameters;
  std::vector<std::pair<std::string, torch::Tensor>> buffers;
  torch::optim::Optimizer* optimizer = nullptr;  // live, or owned_optimizer
  std::unique_ptr<torch::optim::Optimizer> owned_optimizer;
  std::optional<std::string> bytes;  // already serialized (an optimizer not copied)
};

namespace {

constexpr std::string_view kMagic = "HMCKPT01";
constexpr size_t kFrameBytes = 24;  // magic, payload size, payload checksum
constexpr int64_t kFormat = 1;

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
  if (file.size() < kFrameBytes || std::string_view(file).substr(0, kMagic.size()) != kMagic) {
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

// A checked, parsed checkpoint: its header and archive.
struct Parsed {
  CheckpointHeader header;
  torch::serialize::InputArchive archive;
};

std::string read_string(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toStringRef();
}

int64_t read_int(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toInt();
}

// Runs `read` (reads from an archive), turning what torch throws into
// CorruptCheckpoint "<path>: <what>: ...": c10::Error for a value of the wrong
// type, and other std::exceptions (torch::jit::ObjectAttributeError) for a
// missing key. hm's own errors pass through.
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

void parse(const std::string& path, Parsed& out, torch::Device device) {
  const std::string file = read_file(path);
  const auto payload = checked_payload(path, file);
  // LibTorch believes the sizes an archive declares: bound them first.
  try {
    data::check_torch_archive(std::as_bytes(std::span(payload.data(), payload.size())));
  } catch (const Error& error) {
    throw CorruptCheckpoint(fmt::format("{}: unreadable archive: {}", path, error.what()));
  }
  read_archive(path, "unreadable archive", [&] {
    out.archive.load_from(payload.data(), payload.size(), device);
    const int64_t format = read_int(out.archive, "hm_format");
    if (format != kFormat) {
      throw CorruptCheckpoint(
          fmt::format("{}: checkpoint format {} (this hm reads {})", path, format, kFormat));
    }
    auto& header = out.header;
    header.uid = read_string(out.archive, "uid");
    header.expert_cls = read_string(out.archive, "expert_cls");
    header.optimizer = read_string(out.archive, "optimizer");
    header.hidden_dim = read_int(out.archive, "hidden_dim");
    header.steps = static_cast<uint64_t>(read_int(out.archive, "steps"));
    header.examples_processed = static_cast<uint64_t>(read_int(out.archive, "examples"));
  });
}

// "float32[8, 32]".
std::string describe_tensor(const torch::Tensor& tensor) {
  std::string dtype;
  try {
    dtype = std::string(dtype_name(dtype_from_torch(tensor.scalar_type())));
  } catch (const Error&) {
    dtype = c10::toString(tensor.scalar_type());
  }
  return dtype + shape_string(std::span(tensor.sizes().data(), tensor.sizes().size()));
}

// LibTorch 1.13 gives a loaded tensor the sizes, strides and offset its
// archive says, unchecked against the storage under it (whose size
// check_torch_archive bounds by its record): a tensor that reaches past its
// storage is corrupt, not something to read.
void require_inside_storage(const std::string& path, const std::string& what,
                            const torch::Tensor& tensor) {
  if (!tensor.defined() || tensor.numel() == 0) return;
  int64_t last = tensor.storage_offset();  // the highest element index it reaches
  bool ok = last >= 0;
  for (int64_t dim = 0; ok && dim < tensor.dim(); ++dim) {
    int64_t reach = 0;
    ok = tensor.stride(dim) >= 0 &&
         !__builtin_mul_overflow(tensor.size(dim) - 1, tensor.stride(dim), &reach) &&
         !__builtin_add_overflow(last, reach, &last);
  }
  int64_t bytes = 0;
  ok = ok && !__builtin_add_overflow(last, 1, &last) &&
       !__builtin_mul_overflow(last, static_cast<int64_t>(tensor.element_size()), &bytes) &&
       static_cast<uint64_t>(bytes) <= tensor.storage().nbytes();
  if (!ok) {
    throw CorruptCheckpoint(fmt::format("{}: {} {} reaches past its {}-byte storage", path, what,
                                        describe_tensor(tensor), tensor.storage().nbytes()));
  }
}

using Named = std::vector<std::pair<std::string, torch::Tensor>>;

void write_named(torch::serialize::OutputArchive& archive, const std::string& what,
                 const Named& named) {
  c10::List<std::string> names;
  c10::List<at::Tensor> tensors;
  for (const auto& [name, tensor] : named) {
    names.push_back(name);
    tensors.push_back(tensor.detach());
  }
  archive.write(what + "_names", c10::IValue(names));
  archive.write(what + "s", c10::IValue(tensors));
}

// The saved tensors of `what` ("parameter", "buffer"), checked against the
// module's: same names, shapes and dtypes.
std::vector<torch::Tensor> read_named(const std::string& path, Parsed& parsed,
                                      const std::string& what, const Named& current) {
  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  read_archive(path, "unreadable " + what + "s", [&] {
    c10::IValue value;
    parsed.archive.read(what + "_names", value);
    for (const auto& name : value.toListRef()) names.push_back(name.toStringRef());
    parsed.archive.read(what + "s", value);
    for (const auto& tensor : value.toTensorList()) tensors.push_back(tensor);
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

// The live state of `backend`, by reference (no copies).
CheckpointSnapshot view_of(ExpertBackend& backend, int64_t hidden_dim) {
  const auto& options = backend.options();
  CheckpointSnapshot view;
  view.header = {options.uid, options.expert_cls, options.optimizer.name,
                 hidden_dim,  backend.steps(),    backend.examples_processed()};
  view.parameters = backend.module().named_parameters();
  view.buffers = backend.module().named_buffers();
  view.optimizer = backend.optimizer();
  return view;
}

torch::Tensor host_copy(const torch::Tensor& tensor) {
  return tensor.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
}

// A deep copy of one parameter's optimizer state; nullptr for a kind this
// does not know.
std::unique_ptr<torch::optim::OptimizerParamState> copy_state(
    const torch::optim::OptimizerParamState& state) {
  if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(&state)) {
    auto copy = std::make_unique<torch::optim::AdamParamState>(*adam);
    copy->exp_avg(host_copy(adam->exp_avg()));
    copy->exp_avg_sq(host_copy(adam->exp_avg_sq()));
    if (adam->max_exp_avg_sq().defined()) copy->max_exp_avg_sq(host_copy(adam->max_exp_avg_sq()));
    return copy;
  }
  if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(&state)) {
    auto copy = std::make_unique<torch::optim::SGDParamState>(*sgd);
    if (sgd->momentum_buffer().defined()) copy->momentum_buffer(host_copy(sgd->momentum_buffer()));
    return copy;
  }
  return nullptr;
}

// The state of a parameter as torch's optimizers key it (see
// torch/optim/serialize.h).
std::string state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

// An optimizer of the same kind and options as `live`, over the parameter
// copies, holding deep copies of its state; nullptr for a kind other than
// Adam and SGD.
std::unique_ptr<torch::optim::Optimizer> copy_optimizer(
    torch::optim::Optimizer& live, const std::unordered_map<const void*, torch::Tensor>& copies) {
  const bool adam = dynamic_cast<torch::optim::Adam*>(&live) != nullptr;
  const bool sgd = dynamic_cast<torch::optim::SGD*>(&live) != nullptr;
  if (!adam && !sgd) return nullptr;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (auto& group : live.param_groups()) {
    std::vector<torch::Tensor> params;
    for (const auto& p : group.params()) params.push_back(copies.at(p.unsafeGetTensorImpl()));
    groups.emplace_back(std::move(params), group.options().clone());
  }
  std::unique_ptr<torch::optim::Optimizer> copy;
  if (adam) {
    copy = std::make_unique<torch::optim::Adam>(
        std::move(groups), static_cast<const torch::optim::AdamOptions&>(live.defaults()));
  } else {
    copy = std::make_unique<torch::optim::SGD>(
        std::move(groups), static_cast<const torch::optim::SGDOptions&>(live.defaults()));
  }
  for (const auto& group : live.param_groups()) {
    for (const auto& p : group.params()) {
      auto found = live.state().find(state_key(p));
      if (found == live.state().end()) continue;  // no step taken yet
      auto state = copy_state(*found->second);
      if (state == nullptr) return nullptr;
      copy->state()[state_key(copies.at(p.unsafeGetTensorImpl()))] = std::move(state);
    }
  }
  return copy;
}

// The tensors of a loaded optimizer state: each must have its parameter's
// shape and dtype (LibTorch's load checks neither, and a step would fail on
// every batch or read past a storage).
void check_optimizer_state(const std::string& path, torch::optim::Optimizer& optimizer) {
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& parameter : group.params()) {
      auto found = optimizer.state().find(state_key(parameter));
      if (found == optimizer.state().end()) continue;
      std::vector<torch::Tensor> tensors;
      if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(found->second.get())) {
        tensors = {adam->exp_avg(), adam->exp_avg_sq(), adam->max_exp_avg_sq()};
      } else if (const auto* sgd =
                     dynamic_cast<const torch::optim::SGDParamState*>(found->second.get())) {
        tensors = {sgd->momentum_buffer()};
      }
      for (const auto& tensor : tensors) {
        if (!tensor.defined()) continue;
        if (tensor.sizes() != parameter.sizes() || tensor.dtype() != parameter.dtype()) {
          throw CorruptCheckpoint(fmt::format("{}: optimizer state {} for a parameter {}", path,
                                              describe_tensor(tensor), describe_tensor(parameter)));
        }
        require_inside_storage(path, "optimizer state", tensor);
      }
    }
  }
}

}  // namespace

std::shared_ptr<const CheckpointSnapshot> take_snapshot(ExpertBackend& backend,
                                                        int64_t hidden_dim) {
  auto snapshot = std::make_shared<CheckpointSnapshot>(view_of(backend, hidden_dim));
  std::unordered_map<const void*, torch::Tensor> copies;  // live parameter -> its copy
  for (auto& [name, tensor] : snapshot->parameters) {
    auto copy = host_copy(tensor);
    copies.emplace(tensor.unsafeGetTensorImpl(), copy);
    tensor = copy;
  }
  for (auto& [name, tensor] : snapshot->buffers) tensor = host_copy(tensor);
  if (snapshot->optimizer != nullptr) {
    snapshot->owned_optimizer = copy_optimizer(*snapshot->optimizer, copies);
    snapshot->optimizer = snapshot->owned_optimizer.get();
    if (snapshot->optimizer == nullptr) {
      // An optimizer kind copy_optimizer does not know: serialize it all now.
      snapshot->bytes = serialize_checkpoint(backend, hidden_dim);
    }
  }
  return snapshot;
}

std::string serialize_checkpoint(const CheckpointSnapshot& snapshot) {
  if (snapshot.bytes) return *snapshot.bytes;
  const auto& header = snapshot.header;
  torch::serialize::OutputArchive archive;
  archive.write("hm_format", c10::IValue(kFormat));
  archive.write("uid", c10::IValue(header.uid));
  archive.write("expert_cls", c10::IValue(header.expert_cls));
  archive.write("optimizer", c10::IValue(header.optimizer));
  archive.write("hidden_dim", c10::IValue(header.hidden_dim));
  archive.write("steps", c10::IValue(static_cast<int64_t>(header.steps)));
  archive.write("examples", c10::IValue(static_cast<int64_t>(header.examples_processed)));
  write_named(archive, "parameter", snapshot.parameters);
  write_named(archive, "buffer", snapshot.buffers);
  if (snapshot.optimizer != nullptr) {
    torch::serialize::OutputArchive state;
    snapshot.optimizer->save(state);
    archive.write("optimizer_state", state);
  }
  std::string out(kFrameBytes, '\0');
  archive.save_to([&out](const void* data, size_t size) {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  const std::string_view payload(out.data() + kFrameBytes, out.size() - kFrameBytes);
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  put_u64(out.data() + 8, payload.size());
  put_u64(out.data() + 16, checksum64(std::as_bytes(std::span(payload.data(), payload.size()))));
  return out;
}

std::string serialize_checkpoint(ExpertBackend& backend, int64_t hidden_dim) {
  return serialize_checkpoint(view_of(backend, hidden_dim));
}

CheckpointHeader read_checkpoint_header(const std::string& path) {
  Parsed parsed;
  parse(path, parsed, torch::Device(torch::kCPU));
  return parsed.header;
}

CheckpointHeader restore_checkpoint(ExpertBackend& backend, int64_t hidden_dim,
                                    const std::string& path) {
  const auto& options = backend.options();
  Parsed parsed;
  parse(path, parsed, options.device);
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
  const auto saved_params = read_named(path, parsed, "parameter", params);
  const auto saved_buffers = read_named(path, parsed, "buffer", buffers);

  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].second.copy_(saved_params[i]);
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].second.copy_(saved_buffers[i]);
  }
  auto* optimizer = backend.optimizer();
  if (optimizer != nullptr && header.optimizer == options.optimizer.name) {
    // load() also restores the saved options (lr...); the configured ones win.
    std::vector<std::unique_ptr<torch::optim::OptimizerOptions>> configured;
    for (auto& group : optimizer->param_groups()) configured.push_back(group.options().clone());
    read_archive(path, "unreadable optimizer state", [&] {
      torch::serialize::InputArchive state;
      parsed.archive.read("optimizer_state", state);
      optimizer->load(state);
    });
    check_optimizer_state(path, *optimizer);
    for (size_t i = 0; i < configured.size(); ++i) {
      optimizer->param_groups()[i].set_options(std::move(configured[i]));
    }
  } else if (optimizer != nullptr) {
    spdlog::warn("{}: saved with optimizer {}, now {}: starting {}'s state afresh", path,
                 header.optimizer, options.optimizer.name, options.optimizer.name);
  }
  backend.set_counters(header.steps, header.examples_processed);
  return header;
}

}  // namespace hm::moe
