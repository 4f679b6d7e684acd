// SwarmClient: a trainer's window on the swarm, usable from torch threads.
//
// It owns an event-loop thread with a client-mode DHT node (joined through
// the given peers) and a pool of expert connections, and offers the two
// things a mixture of experts needs as futures: a beam search for the best
// live experts, and parallel expert calls with k_min/timeout rules. Both
// honour a deadline (the beam search is bounded by the same timeout as the
// calls, unlike hivemind's).
//
// Threads: any thread may call; construct and destroy on one owner thread.
#pragma once

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hm/io/loop_thread.h"
#include "hm/rpc/parallel_calls.h"
#include "hm/tensor/compression.h"
#include "hm/discovery/beam_search.h"

namespace hm::discovery {

class SwarmClient {
 public:
  // Joins the DHT through `peers` ("host:port"); throws hm::Error when none
  // answers within `join_timeout_s`, UsageError for a malformed address.
  // Expert requests are compressed as `compression` says.
  SwarmClient(const std::vector<std::string>& peers, double join_timeout_s = 30,
              CompressionPolicy compression = {});
  ~SwarmClient();
  SwarmClient(const SwarmClient&) = delete;
  SwarmClient& operator=(const SwarmClient&) = delete;

  // Best live experts per sample. With a timeout, a search that is not done
  // in time resolves with no experts for every sample.
  std::future<std::vector<std::vector<ScoredExpert>>> find_best_experts(
      GridSpec grid, std::vector<std::vector<float>> scores, BeamSearchOptions options,
      std::optional<double> timeout_s);

  std::future<std::vector<rpc::CallResult>> call(std::vector<rpc::ExpertCall> calls,
                                                 size_t num_samples, rpc::ParallelCallRules rules);

  // Looks uids up in the DHT.
  std::future<std::vector<std::optional<ExpertLocation>>> locate(std::vector<std::string> uids);

 private:
  struct State;  // lives on the loop thread
  io::LoopThread thread_;
  std::unique_ptr<State> state_;
};

}  // namespace hm::discovery
