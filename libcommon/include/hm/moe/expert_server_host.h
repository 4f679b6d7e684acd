// ExpertServerHost: hm::ExpertHost over LibTorch: N experts of one kind, each
// an ExpertBackend with a forward and a backward TaskPool, all served by one
// Runtime thread on the configured device.
//
// submit_* validate requests (count, dtype, shape, batch size) on the
// caller's thread and throw hm::Error without enqueueing; accepted tasks
// complete later on the runtime thread, or are dropped unrun when their
// deadline passes first (TaskPool). This header is torch-free (the
// binaries include it without LibTorch's headers).
//
// Thread rules: uids(), describe(), submit_*() and stats_report() from any
// thread; stop() and the destructor from one controlling thread. backend()
// is for setup and tests; its forward/backward belong to the runtime thread
// while serving. Ownership: owns backends, pools and the runtime.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hm/rpc/expert_host.h"
#include "hm/tensor/tensor_spec.h"

namespace hm::moe {

class ExpertBackend;

struct ExpertServerConfig {
  std::vector<std::string> uids;   // already expanded; unique
  std::string expert_cls = "ffn";  // ffn, transformer, det_dropout, nop, nop_delay, module
  int64_t hidden_dim = 1024;
  std::string module_path;                // expert_cls "module": TorchScript file
  std::vector<TensorSpec> module_inputs;  // "module": empty = one float32[*, hidden_dim]
  std::string optimizer = "adam";         // adam, sgd, none
  std::optional<double> lr;               // default: adam 1e-3, sgd 0.01
  std::optional<double> clip_grad_norm;
  uint32_t max_batch_size = 4096;
  uint32_t min_batch_size = 1;
  std::chrono::milliseconds max_wait{50};  // a smaller batch runs after this wait
  std::string device = "cpu";              // cpu, cuda, cuda:N
  uint64_t seed = 0;                       // initial weights = f(seed, uid)
  int num_threads = 0;                     // torch intra-op threads; 0 = leave as is
  // Checkpoints (see checkpoint.h): "" = none. With a directory, the experts
  // found there are restored and hosted besides `uids` (which may then be
  // empty), every expert is saved every `checkpoint_every` (0 = only at
  // stop()) and at stop().
  std::string checkpoint_dir;
  std::chrono::milliseconds checkpoint_every{0};
};

class ExpertServerHost final : public ExpertHost {
 public:
  // Builds every expert, restores those with a checkpoint, and starts the
  // runtime (and the periodic checkpoints). Throws hm::UsageError for a bad
  // config (unknown class or optimizer, no or duplicate uids, bad sizes,
  // malformed device) and hm::Error for what the environment refuses (CUDA
  // unavailable, unreadable TorchScript file, a checkpoint of another expert
  // kind, hidden dim or shape). A corrupt checkpoint is logged ("skipping
  // corrupt checkpoint DIR/ffn.0.1.pt: ...") and left in place; its uid is
  // then hosted fresh only when `uids` asks for it (and its first save keeps
  // the corrupt file as DIR/ffn.0.1.pt.corrupt).
  explicit ExpertServerHost(const ExpertServerConfig& config);
  ~ExpertServerHost() override;  // stop(), logging a failed final checkpoint
  ExpertServerHost(const ExpertServerHost&) = delete;
  ExpertServerHost& operator=(const ExpertServerHost&) = delete;

  std::vector<std::string> uids() const override;
  std::optional<ExpertDescription> describe(std::string_view uid) const override;
  void submit_forward(std::string_view uid, std::vector<HostTensor> inputs, TaskDone done,
                      CallDeadline deadline = {}) override;
  void submit_backward(std::string_view uid, std::vector<HostTensor> inputs_and_grads,
                       TaskDone done, CallDeadline deadline = {}) override;

  // Refuses new tasks ("server shutting down"), fails queued ones with the
  // same message, finishes the batch in progress and joins the runtime; then,
  // with a checkpoint_dir, saves every expert (once; throws hm::Error naming
  // the file when a save fails, after trying them all). Idempotent.
  void stop();

  // Periodic checkpoint rounds completed so far (0 without checkpoint_every).
  uint64_t checkpoint_rounds() const;

  // One line per pool that ran batches or dropped tasks since the previous
  // call (or since construction), e.g. "ffn.0.1 forward: 12.0 batches/s,
  // 3072 samples/s, mean batch 256.0" (format_pool_report).
  std::vector<std::string> stats_report();

  // nullptr when `uid` is not hosted.
  ExpertBackend* backend(std::string_view uid);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hm::moe
