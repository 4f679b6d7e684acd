#include "hm/client/gate_file.h"

#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "hm/base/error.h"
#include "hm/tensor/tensor_io.h"
#include "hm/torch/torch_bridge.h"

namespace hm::client {

void load_gate(torch::nn::Linear& gate, const std::string& path) {
  auto tensors = read_tensors(read_file(path), TensorFormat::Npy);
  torch::NoGradGuard no_grad;
  auto& weight = gate->weight;
  auto& bias = gate->bias;
  if (tensors.size() != 2 || to_torch(tensors[0]).sizes() != weight.sizes() ||
      to_torch(tensors[1]).sizes() != bias.sizes()) {
    fail("--gate {}: expected two .npy records, weight [{}, {}] and bias [{}]", path,
         weight.size(0), weight.size(1), bias.size(0));
  }
  weight.copy_(to_torch(tensors[0]));
  bias.copy_(to_torch(tensors[1]));
}

void save_gate(const torch::nn::Linear& gate, const std::string& path) {
  std::vector<HostTensor> tensors{from_torch(gate->weight.detach().contiguous()),
                                  from_torch(gate->bias.detach().contiguous())};
  write_tensors_to_file(path, tensors, TensorFormat::Npy);
}

}  // namespace hm::client
