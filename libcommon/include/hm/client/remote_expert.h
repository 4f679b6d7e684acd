// RemoteExpert: a torch module whose forward and backward run on an expert
// of a remote hm-serve process, so autograd flows through the network.
//
// forward sends the inputs and returns the outputs; when autograd later
// reaches them, backward sends the inputs and the output gradients and
// returns the input gradients (the server recomputes forward and takes an
// optimizer step). A hidden tensor that requires grad makes backward run
// even when no input requires grad, so the expert trains either way.
// Errors (unknown expert, shapes, network) throw hm::Error.
//
// Threads: any torch thread; calls go through a shared rpc::RemoteCaller.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "hm/base/address.h"
#include "hm/rpc/remote_caller.h"

namespace hm::client {

// One call, differentiable: outputs of expert `uid` at `server` for `inputs`.
std::vector<torch::Tensor> call_remote_expert(rpc::RemoteCaller& caller, const HostPort& server,
                                              const std::string& uid,
                                              const std::vector<torch::Tensor>& inputs);

class RemoteExpertImpl : public torch::nn::Module {
 public:
  RemoteExpertImpl(std::string uid, HostPort server, std::shared_ptr<rpc::RemoteCaller> caller);

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& inputs);

  // The expert's schemas and step count, fetched on every call.
  ExpertDescription info();

  const std::string& uid() const { return uid_; }
  const HostPort& server() const { return server_; }

 private:
  std::string uid_;
  HostPort server_;
  std::shared_ptr<rpc::RemoteCaller> caller_;
};
TORCH_MODULE(RemoteExpert);

}  // namespace hm::client
