// One parameter's optimizer state as a checkpoint holds it: a tuple of
// strings, ints and tensors that torch::pickle_save writes and the archive
// check (hm/data/torch_archive.h, PickleGlobals::kTensorsOnly) lets through:
//   ()                                       no state (no step taken yet)
//   ("adam", step, exp_avg, exp_avg_sq, max_exp_avg_sq or None)
//   ("sgd", momentum_buffer or None)
// For the files of hm/moe/state_file.h: expert checkpoints (checkpoint.h)
// and hm-moe train's --save. Thread rules: those of the optimizer.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>
#include <torch/optim/optimizer.h>

namespace hm::moe {

// The key under which torch's optimizers keep a parameter's state.
std::string optimizer_state_key(const torch::Tensor& parameter);

// Makes `state` (from load_optimizer_state) `parameter`'s state in
// `optimizer`; nullptr clears it.
void set_optimizer_state(torch::optim::Optimizer& optimizer, const torch::Tensor& parameter,
                         std::unique_ptr<torch::optim::OptimizerParamState> state);

// `parameter`'s state in `optimizer` as a tuple; `copy` makes host copies
// of its tensors (else they are the live ones, detached). Throws hm::Error
// for a state of a kind other than Adam's or SGD's.
c10::IValue save_optimizer_state(const torch::optim::Optimizer& optimizer,
                                 const torch::Tensor& parameter, bool copy);

// The state a saved tuple describes for `parameter` of `optimizer` (nullptr
// for ()), its tensors on the parameter's device. Throws CorruptCheckpoint
// "<path>: ..." for a tuple of the wrong shape, a kind other than the
// optimizer's, or a tensor whose shape or dtype differs from the
// parameter's or that reaches past its storage.
std::unique_ptr<torch::optim::OptimizerParamState> load_optimizer_state(
    const std::string& path, const c10::IValue& saved, const torch::optim::Optimizer& optimizer,
    const torch::Tensor& parameter);

// One state per parameter of `parameters` (each: load_optimizer_state) from
// `saved`, a tuple of saved states. Throws CorruptCheckpoint "<path>: ..."
// for a count other than the parameters' or a malformed tuple.
std::vector<std::unique_ptr<torch::optim::OptimizerParamState>> load_optimizer_states(
    const std::string& path, const c10::IValue& saved, const torch::optim::Optimizer& optimizer,
    const std::vector<std::pair<std::string, torch::Tensor>>& parameters);

// LibTorch 1.13 gives a loaded tensor the sizes, strides and offset its
// archive says, unchecked against the storage under it (whose size the
// archive check bounds by its record). Throws CorruptCheckpoint "<path>:
// <what> float32[8, 8] reaches past its 64-byte storage" for one that does.
void require_inside_storage(const std::string& path, const std::string& what,
                            const torch::Tensor& tensor);

// A detached copy of `tensor` in host memory.
torch::Tensor host_copy(const torch::Tensor& tensor);

// "float32[8, 32]".
std::string describe_tensor(const torch::Tensor& tensor);

}  // namespace hm::moe
