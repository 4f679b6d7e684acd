#include "hm/moe/optimizer_state.h"

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include "hm/base/error.h"
#include "hm/moe/checkpoint.h"
#include "hm/moe/state_file.h"
#include "hm/torch/torch_bridge.h"

namespace hm::moe {
namespace {

using c10::IValue;
using c10::ivalue::Tuple;

IValue saved_tensor(const torch::Tensor& tensor, bool copy) {
  if (!tensor.defined()) return IValue();
  if (!copy) return IValue(tensor.detach());
  return IValue(host_copy(tensor));
}

}  // namespace

torch::Tensor host_copy(const torch::Tensor& tensor) {
  return tensor.detach().to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true);
}

std::string optimizer_state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

void set_optimizer_state(torch::optim::Optimizer& optimizer, const torch::Tensor& parameter,
                         std::unique_ptr<torch::optim::OptimizerParamState> state) {
  const auto key = optimizer_state_key(parameter);
  if (state == nullptr) {
    optimizer.state().erase(key);
  } else {
    optimizer.state()[key] = std::move(state);
  }
}

std::string describe_tensor(const torch::Tensor& tensor) {
  std::string dtype;
  try {
    dtype = std::string(dtype_name(dtype_from_torch(tensor.scalar_type())));
  } catch (const Error&) {
    dtype = c10::toString(tensor.scalar_type());
  }
  return dtype + shape_string(std::span(tensor.sizes().data(), tensor.sizes().size()));
}

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

IValue save_optimizer_state(const torch::optim::Optimizer& optimizer,
                            const torch::Tensor& parameter, bool copy) {
  const auto found = optimizer.state().find(optimizer_state_key(parameter));
  if (found == optimizer.state().end()) return Tuple::create({});
  const auto* state = found->second.get();
  if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(state)) {
    return Tuple::create({IValue(std::string("adam")), IValue(adam->step()),
                          saved_tensor(adam->exp_avg(), copy),
                          saved_tensor(adam->exp_avg_sq(), copy),
                          saved_tensor(adam->max_exp_avg_sq(), copy)});
  }
  if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(state)) {
    return Tuple::create(
        {IValue(std::string("sgd")), saved_tensor(sgd->momentum_buffer(), copy)});
  }
  fail("cannot checkpoint the state of this optimizer (only Adam's and SGD's)");
}

std::unique_ptr<torch::optim::OptimizerParamState> load_optimizer_state(
    const std::string& path, const IValue& saved, const torch::optim::Optimizer& optimizer,
    const torch::Tensor& parameter) {
  const auto& items = saved.toTupleRef().elements();
  if (items.empty()) return nullptr;
  // A saved tensor, or an undefined one for None; checked against the parameter.
  const auto tensor_at = [&](size_t i) -> torch::Tensor {
    if (items[i].isNone()) return {};
    auto tensor = items[i].toTensor();
    if (tensor.sizes() != parameter.sizes() || tensor.dtype() != parameter.dtype()) {
      throw CorruptCheckpoint(fmt::format("{}: optimizer state {} for a parameter {}", path,
                                          describe_tensor(tensor), describe_tensor(parameter)));
    }
    require_inside_storage(path, "optimizer state", tensor);
    return tensor.to(parameter.device());
  };
  const auto& kind = items[0].toStringRef();
  const bool adam = dynamic_cast<const torch::optim::Adam*>(&optimizer) != nullptr;
  const bool sgd = dynamic_cast<const torch::optim::SGD*>(&optimizer) != nullptr;
  if (kind == "adam" && adam && items.size() == 5) {
    auto state = std::make_unique<torch::optim::AdamParamState>();
    state->step(items[1].toInt());
    state->exp_avg(tensor_at(2));
    state->exp_avg_sq(tensor_at(3));
    state->max_exp_avg_sq(tensor_at(4));
    if (state->step() < 0 || !state->exp_avg().defined() || !state->exp_avg_sq().defined()) {
      throw CorruptCheckpoint(fmt::format("{}: Adam state without its step or averages", path));
    }
    return state;
  }
  if (kind == "sgd" && sgd && items.size() == 2) {
    auto state = std::make_unique<torch::optim::SGDParamState>();
    state->momentum_buffer(tensor_at(1));
    return state;
  }
  throw CorruptCheckpoint(fmt::format("{}: optimizer state '{}' of {} items, not this optimizer's",
                                      path, kind, items.size()));
}

std::vector<std::unique_ptr<torch::optim::OptimizerParamState>> load_optimizer_states(
    const std::string& path, const IValue& saved, const torch::optim::Optimizer& optimizer,
    const std::vector<std::pair<std::string, torch::Tensor>>& parameters) {
  std::vector<std::unique_ptr<torch::optim::OptimizerParamState>> states;
  read_state(path, "unreadable optimizer state", [&] {
    const auto& each = saved.toTupleRef().elements();
    if (each.size() != parameters.size()) {
      throw CorruptCheckpoint(fmt::format("{}: optimizer state for {} parameters, not {}", path,
                                          each.size(), parameters.size()));
    }
    for (size_t i = 0; i < each.size(); ++i) {
      states.push_back(load_optimizer_state(path, each[i], optimizer, parameters[i].second));
    }
  });
  return states;
}

}  // namespace hm::moe
