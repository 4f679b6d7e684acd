// Parallel expert calls with a mixture of experts' failure rules
// (hivemind's _RemoteCallMany semantics):
//
//  - every call runs at once, one request per expert carrying all the rows
//    (samples) routed to it;
//  - the whole thing waits at most `timeout`, and every request tells its
//    server how much of it is left (ExpertClient, CallDeadline), so that a
//    server drops what would come too late;
//  - once every sample has at least `k_min` successful experts, it waits at
//    most `timeout_after_k_min` more for the stragglers;
//  - unfinished calls are then cancelled; a failed or cancelled call is
//    simply absent from the result (its error is kept for the log).
//
// Threads: call on the EventLoop's thread; the promise resolves there.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <kj/async.h>

#include "hm/base/address.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/client_pool.h"

namespace hm::rpc {

struct ExpertCall {
  HostPort server;
  std::string uid;
  std::vector<HostTensor> inputs;        // rows = samples.size()
  std::vector<HostTensor> grad_outputs;  // backward only
  std::vector<int64_t> samples;          // which samples of the batch the rows are
};

struct ParallelCallRules {
  size_t k_min = 1;
  std::optional<double> timeout_s;             // none = wait for every call
  std::optional<double> timeout_after_k_min_s; // none = no early stop
  bool backward = false;
  // Simulating a worse network (hm-moe train --inject-failures/--latency-ms):
  double drop_probability = 0;  // each call fails at once with this probability
  double mean_latency_ms = 0;   // each call first waits Exp(mean) milliseconds
};

struct CallResult {
  std::optional<std::vector<HostTensor>> outputs;  // empty when it failed
  std::string error;                               // why, when it failed
};

// Resolves with one CallResult per call, in order. Never rejects: failures
// are per call. `num_samples` is the batch size the `samples` refer to.
kj::Promise<std::vector<CallResult>> call_in_parallel(io::EventLoop& loop, ClientPool& pool,
                                                      std::vector<ExpertCall> calls,
                                                      size_t num_samples,
                                                      ParallelCallRules rules);

}  // namespace hm::rpc
