// ExpertHost: what the expert RPC server asks of whatever runs the experts.
//
// The RPC layer is torch-free; hm::moe::ExpertServerHost (libcommon/moe,
// LibTorch) implements this with backends, task pools and runtime threads.
// Every method may be called from the event-loop thread and must not block
// on torch work: submit_* validate and enqueue, and call `done` later, once,
// from a runtime thread.
//
// A call's CallDeadline (call_deadline.h; default: none) rides along with its
// task: a host drops a task whose deadline passed before its batch started,
// calling `done` with CallDeadline::exceeded_message() instead of computing
// it. A task without a deadline is never dropped for time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hm/rpc/call_deadline.h"
#include "hm/tensor/host_tensor.h"
#include "hm/wire/tensor.capnp.h"
#include "hm/tensor/tensor_spec.h"

namespace hm {

struct ExpertDescription {
  std::string uid;
  std::string expert_cls;         // "ffn", ..., or "module"
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  uint64_t steps = 0;             // optimizer steps taken
  uint64_t examples_processed = 0;  // rows seen by backward
  uint32_t max_batch_size = 0;
  // How the server compresses the floating tensors it sends back (info's
  // output schemas); the host leaves it none, the RPC server fills it in.
  wire::Compression compression = wire::Compression::NONE;
};

// The result of one task: outputs, or a one-line error for the client.
struct TaskOutcome {
  std::vector<HostTensor> outputs;
  std::string error;  // empty on success
  bool ok() const { return error.empty(); }
};

using TaskDone = std::function<void(TaskOutcome)>;

class ExpertHost {
 public:
  virtual ~ExpertHost() = default;

  // Every hosted uid, sorted.
  virtual std::vector<std::string> uids() const = 0;

  // nullopt when `uid` is not hosted here.
  virtual std::optional<ExpertDescription> describe(std::string_view uid) const = 0;

  // Validate `inputs` against the expert's input specs and queue them. Throws
  // hm::Error (unknown expert, wrong count/dtype/shape, more rows than
  // max_batch_size, server shutting down) without calling `done`; otherwise
  // `done` is called exactly once from a runtime thread. `deadline`: see
  // above (overrides repeat the same default).
  virtual void submit_forward(std::string_view uid, std::vector<HostTensor> inputs,
                              TaskDone done, CallDeadline deadline = {}) = 0;

  // Like submit_forward; `inputs_and_grads` are the forward inputs followed by
  // one gradient per output. Outcome: one gradient per input.
  virtual void submit_backward(std::string_view uid,
                               std::vector<HostTensor> inputs_and_grads,
                               TaskDone done, CallDeadline deadline = {}) = 0;
};

}  // namespace hm
