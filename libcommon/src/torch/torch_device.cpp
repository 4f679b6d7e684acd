#include "hm/torch/torch_device.h"

#include <torch/cuda.h>

#include <optional>
#include <string>

#include "hm/base/error.h"
#include "hm/torch/torch_errors.h"

namespace hm {

torch::Device parse_device(std::string_view name) {
  std::optional<torch::Device> device;
  try {
    device.emplace(std::string(name));
  } catch (const std::exception& error) {
    throw UsageError(fmt::format("invalid device '{}' (use cpu, cuda or cuda:N): {}", name,
                                 one_line_what(error)));
  }
  if (device->is_cpu()) return *device;
  require(device->is_cuda(), "device '{}' is not supported (use cpu, cuda or cuda:N)", name);
  require(torch::cuda::is_available(),
          "device '{}' requested but CUDA is not available (this LibTorch has no CUDA "
          "support or no GPU is visible); use --device cpu",
          name);
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  const int64_t index = device->has_index() ? device->index() : 0;
  require(index < count, "device '{}' requested but only {} CUDA device(s) are visible", name,
          count);
  return torch::Device(torch::kCUDA, static_cast<torch::DeviceIndex>(index));
}

}  // namespace hm
