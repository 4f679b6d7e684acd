#include "hm/client/remote_expert.h"

#include <torch/autograd.h>
#include <torch/types.h>

#include "hm/torch/torch_bridge.h"

namespace hm::client {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::vector<HostTensor> to_host(const variable_list& tensors) {
  std::vector<HostTensor> host;
  host.reserve(tensors.size());
  for (const auto& t : tensors) host.push_back(from_torch(t.detach()));
  return host;
}

variable_list to_torch_on(const std::vector<HostTensor>& host, const torch::Device& device) {
  variable_list tensors;
  tensors.reserve(host.size());
  for (const auto& h : host) tensors.push_back(to_torch(h).to(device));
  return tensors;
}

// inputs[0] is a dummy that requires grad; the rest are the expert's inputs.
struct RemoteCall : torch::autograd::Function<RemoteCall> {
  static variable_list forward(AutogradContext* ctx, rpc::RemoteCaller* caller,
                               const HostPort& server, const std::string& uid,
                               variable_list dummy_and_inputs) {
    variable_list inputs(dummy_and_inputs.begin() + 1, dummy_and_inputs.end());
    auto device = inputs.empty() ? torch::Device(torch::kCPU) : inputs[0].device();
    auto outputs = caller->forward(server, uid, to_host(inputs)).get();
    // The caller outlives the graph: RemoteExpert (or the mixture) owns a
    // shared_ptr to it for as long as its outputs can be differentiated.
    ctx->saved_data["caller"] = reinterpret_cast<int64_t>(caller);
    ctx->saved_data["host"] = server.host;
    ctx->saved_data["port"] = static_cast<int64_t>(server.port);
    ctx->saved_data["uid"] = uid;
    ctx->save_for_backward(inputs);
    return to_torch_on(outputs, device);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto* caller = reinterpret_cast<rpc::RemoteCaller*>(ctx->saved_data["caller"].toInt());
    HostPort server{ctx->saved_data["host"].toStringRef(),
                    static_cast<uint16_t>(ctx->saved_data["port"].toInt())};
    auto uid = ctx->saved_data["uid"].toStringRef();
    auto inputs = ctx->get_saved_variables();
    for (size_t i = 0; i < grad_outputs.size(); ++i) {
      // autograd passes undefined gradients for outputs that were not used.
      if (!grad_outputs[i].defined()) grad_outputs[i] = torch::zeros({0});
    }
    auto grads = caller->backward(server, uid, to_host(inputs), to_host(grad_outputs)).get();
    auto device = inputs.empty() ? torch::Device(torch::kCPU) : inputs[0].device();
    // One gradient per argument of forward: caller, server and uid get none,
    // then one per tensor of dummy_and_inputs (the dummy gets none, as do
    // inputs that are not floating point).
    variable_list result(4);
    auto grad_tensors = to_torch_on(grads, device);
    for (size_t i = 0; i < grad_tensors.size(); ++i) {
      bool differentiable = i < inputs.size() && inputs[i].is_floating_point();
      result.push_back(differentiable ? grad_tensors[i] : torch::Tensor());
    }
    return result;
  }
};

}  // namespace

std::vector<torch::Tensor> call_remote_expert(rpc::RemoteCaller& caller, const HostPort& server,
                                              const std::string& uid,
                                              const std::vector<torch::Tensor>& inputs) {
  static thread_local torch::Tensor dummy = torch::empty({0}, torch::requires_grad());
  variable_list dummy_and_inputs{dummy};
  dummy_and_inputs.insert(dummy_and_inputs.end(), inputs.begin(), inputs.end());
  return RemoteCall::apply(&caller, server, uid, dummy_and_inputs);
}

RemoteExpertImpl::RemoteExpertImpl(std::string uid, HostPort server,
                                   std::shared_ptr<rpc::RemoteCaller> caller)
    : uid_(std::move(uid)), server_(std::move(server)), caller_(std::move(caller)) {}

std::vector<torch::Tensor> RemoteExpertImpl::forward(const std::vector<torch::Tensor>& inputs) {
  return call_remote_expert(*caller_, server_, uid_, inputs);
}

ExpertDescription RemoteExpertImpl::info() { return caller_->info(server_, uid_).get(); }

}  // namespace hm::client
