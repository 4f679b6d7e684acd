#include "hm/client/train_state.h"

#include "hm/base/error.h"
#include "hm/moe/checkpoint.h"
#include "hm/moe/optimizer_state.h"
#include "hm/moe/state_file.h"

namespace hm::client {
namespace {

using c10::IValue;
using c10::ivalue::Tuple;

// Where each field sits in the root tuple.
enum Field : size_t {
  kTagAt,
  kFormatAt,
  kStepAt,
  kParameterNamesAt,
  kParametersAt,
  kBufferNamesAt,
  kBuffersAt,
  kOptimizerStatesAt,
  kFields
};

constexpr moe::StateKind kTrainState{"HMTRAIN1", "hm-moe train checkpoint", "hm-moe train", 1,
                                     kFields};

moe::NamedTensors named(const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  moe::NamedTensors out;
  for (const auto& item : dict) out.emplace_back(item.key(), item.value());
  return out;
}

moe::NamedTensors host_copies(moe::NamedTensors tensors) {
  for (auto& [name, tensor] : tensors) tensor = moe::host_copy(tensor);
  return tensors;
}

constexpr std::string_view kHint =
    " (same --hidden-dim, --blocks and --grid as when it was saved?)";

}  // namespace

TrainState snapshot_train_state(const torch::nn::Module& master,
                                const torch::optim::Optimizer& optimizer, int64_t step) {
  const auto parameters = named(master.named_parameters());
  const auto buffers = named(master.named_buffers());
  std::vector<IValue> states;
  for (const auto& [name, parameter] : parameters) {
    states.push_back(moe::save_optimizer_state(optimizer, parameter, /*copy=*/true));
  }
  const auto saved_parameters = host_copies(parameters);
  const auto saved_buffers = host_copies(buffers);
  return {moe::state_root(kTrainState,
                          {IValue(step), moe::names_of(saved_parameters),
                           moe::tensors_of(saved_parameters), moe::names_of(saved_buffers),
                           moe::tensors_of(saved_buffers), Tuple::create(std::move(states))})};
}

void save_train_state(const std::string& path, const TrainState& state) {
  moe::write_file_atomically(path, moe::frame_state(kTrainState, state.root));
}

int64_t restore_train_state(const std::string& path, torch::nn::Module& master,
                            torch::optim::Optimizer& optimizer) {
  const auto fields = moe::parse_state(path, moe::read_state_bytes(path), kTrainState);
  int64_t step = 0;
  moe::read_state(path, "unreadable checkpoint", [&] { step = fields[kStepAt].toInt(); });
  if (step < 0) throw moe::CorruptCheckpoint(fmt::format("{}: step {}", path, step));
  const auto parameters = named(master.named_parameters());
  const auto buffers = named(master.named_buffers());
  std::vector<torch::Tensor> saved_parameters, saved_buffers;
  try {
    saved_parameters = moe::read_named_tensors(path, "parameter", fields[kParameterNamesAt],
                                               fields[kParametersAt], parameters, "this model");
    saved_buffers = moe::read_named_tensors(path, "buffer", fields[kBufferNamesAt],
                                            fields[kBuffersAt], buffers, "this model");
  } catch (const moe::CorruptCheckpoint&) {
    throw;
  } catch (const Error& e) {
    fail("{}{}", e.what(), kHint);  // a well-formed file of another model
  }
  auto states =
      moe::load_optimizer_states(path, fields[kOptimizerStatesAt], optimizer, parameters);
  // Everything is checked: only now do the model and optimizer change.
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters.size(); ++i) {
    parameters[i].second.copy_(saved_parameters[i]);
    moe::set_optimizer_state(optimizer, parameters[i].second, std::move(states[i]));
  }
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i].second.copy_(saved_buffers[i]);
  return step;
}

}  // namespace hm::client
