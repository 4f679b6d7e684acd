// torch_bridge: HostTensor <-> torch::Tensor without copying where possible.
//
// to_torch wraps a HostTensor's bytes in a CPU tensor whose deleter holds the
// HostTensor's owner, so the bytes live as long as either side needs them.
// The wrapped tensor aliases immutable bytes: treat it as read-only (never
// write into it in place; operations that produce new tensors are fine).
// from_torch wraps a contiguous CPU tensor the same way (the HostTensor's
// owner holds a reference to the tensor); any other tensor (on a GPU,
// strided, with a storage that is not plain memory) is copied to contiguous
// CPU memory first. Both are free functions without state: any thread.
#pragma once

#include <torch/types.h>

#include "hm/tensor/host_tensor.h"

namespace hm {

// Throws hm::Error for torch dtypes that have no DType (complex, qint, ...).
DType dtype_from_torch(torch::ScalarType type);
torch::ScalarType to_torch(DType dtype);

// Zero-copy CPU view of `tensor` (read-only by contract). Copies only when the
// bytes are not aligned to the element size, which torch kernels assume.
torch::Tensor to_torch(const HostTensor& tensor);

// Zero-copy when `tensor` is a contiguous CPU tensor; otherwise one copy to
// contiguous CPU memory. Autograd history is dropped (the data is detached).
HostTensor from_torch(const torch::Tensor& tensor);

}  // namespace hm
