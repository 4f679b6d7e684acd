// One throughput client of hm-bench: connects to a server, sends its batches
// to randomly picked experts (forward, then backward when backprop is on),
// and times every call. It runs on a thread of hm-bench, or alone in a client
// process (`hm-bench _client --spec TEXT`, see client_process.h).
//
// A client owns its EventLoop and its connection for the whole run, like one
// of hivemind's client processes; calls are sequential.
//
// Threads: run_client() on any thread that has no EventLoop yet; it blocks
// until the client is done. Hooks are called on that thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "hm/base/address.h"
#include "hm/tensor/compression.h"

namespace hm::bench {

struct ClientSpec {
  HostPort server;
  size_t index = 0;     // which client: picks its inputs and its expert schedule
  size_t experts = 1;   // calls go to expert.0 .. expert.(experts-1)
  size_t batches = 1;   // timed batches
  size_t warmup = 1;    // untimed batches before them
  size_t batch_size = 1;
  int64_t hidden_dim = 1024;
  std::string expert_cls = "ffn";
  bool backprop = true;
  uint64_t seed = 0;
  double timeout_s = 300;  // per call; 0 = none
  CompressionPolicy compression;  // of the requests

  bool operator==(const ClientSpec&) const = default;
};

// One line of "key=value" pairs separated by ';', and back. Throws
// hm::UsageError for a malformed text, naming the bad pair.
std::string encode(const ClientSpec& spec);
ClientSpec decode_client_spec(std::string_view text);

struct ClientResult {
  double start_s = 0;  // monotonic_seconds() when the first timed batch started
  double end_s = 0;    // ... and when the last one ended
  uint64_t samples = 0;
  std::vector<double> forward_us;   // one per timed forward call
  std::vector<double> backward_us;  // one per timed backward call

  bool operator==(const ClientResult&) const = default;
};

// One line, and back (throws hm::Error for a malformed text).
std::string encode(const ClientResult& result);
ClientResult decode_client_result(std::string_view text);

struct ClientHooks {
  std::function<void()> ready;       // after connecting and the warmup; may block
  std::function<void()> batch_done;  // after each timed batch
};

// Runs the client. Throws hm::Error when it cannot connect or a call fails
// (the message names the call and the server's reason).
ClientResult run_client(const ClientSpec& spec, const ClientHooks& hooks = {});

}  // namespace hm::bench
