#include "hm/discovery/swarm_client.h"

#include "hm/base/log.h"
#include "hm/rpc/client_pool.h"
#include "hm/discovery/dht_join.h"
#include "hm/discovery/expert_declarer.h"
#include "hm/io/pending.h"

namespace hm::discovery {

struct SwarmClient::State {
  std::unique_ptr<dht::DhtNode> node;
  std::unique_ptr<rpc::ClientPool> pool;
};

SwarmClient::SwarmClient(const std::vector<std::string>& peer_texts, double join_timeout_s,
                         CompressionPolicy compression) {
  auto peers = parse_peers(peer_texts, "--dht");
  if (peers.empty()) throw UsageError("--dht: give at least one DHT peer (HOST:PORT)");
  auto joined = thread_.call<bool>([this, peers, join_timeout_s, compression](io::EventLoop& loop) {
    state_ = std::make_unique<State>();
    state_->node = std::make_unique<dht::DhtNode>(loop, client_node_config(peers));
    state_->pool = std::make_unique<rpc::ClientPool>(loop, compression);
    auto limit = static_cast<int64_t>(join_timeout_s * 1000) * kj::MILLISECONDS;
    return join(*state_->node, peers)
        .then([] { return true; })
        .exclusiveJoin(loop.timer().afterDelay(limit).then([]() -> bool {
          throw io::failure("cannot join the DHT: no peer answered in time");
        }));
  });
  joined.get();  // rethrows the failure as hm::Error
}

SwarmClient::~SwarmClient() {
  std::promise<void> gone;
  thread_.post([this, &gone] {
    state_.reset();
    gone.set_value();
  });
  gone.get_future().wait();
}

std::future<std::vector<std::vector<ScoredExpert>>> SwarmClient::find_best_experts(
    GridSpec grid, std::vector<std::vector<float>> scores, BeamSearchOptions options,
    std::optional<double> timeout_s) {
  using Result = std::vector<std::vector<ScoredExpert>>;
  return thread_.call<Result>([this, grid = std::move(grid), scores = std::move(scores), options,
                               timeout_s](io::EventLoop& loop) mutable -> kj::Promise<Result> {
    size_t samples = scores.size();
    auto best = discovery::find_best_experts(PrefixStore::of(*state_->node), std::move(grid),
                                             std::move(scores), options, state_->node->dht_time());
    if (!timeout_s) return best;
    auto limit = static_cast<int64_t>(*timeout_s * 1e6) * kj::MICROSECONDS;
    return best.exclusiveJoin(loop.timer().afterDelay(limit).then([samples, timeout_s] {
      spdlog::warn("beam search did not finish within {} s: no experts this time", *timeout_s);
      return Result(samples);
    }));
  });
}

std::future<std::vector<rpc::CallResult>> SwarmClient::call(std::vector<rpc::ExpertCall> calls,
                                                            size_t num_samples,
                                                            rpc::ParallelCallRules rules) {
  return thread_.call<std::vector<rpc::CallResult>>(
      [this, calls = std::move(calls), num_samples, rules](io::EventLoop& loop) mutable {
        return rpc::call_in_parallel(loop, *state_->pool, std::move(calls), num_samples, rules);
      });
}

std::future<std::vector<std::optional<ExpertLocation>>> SwarmClient::locate(
    std::vector<std::string> uids) {
  return thread_.call<std::vector<std::optional<ExpertLocation>>>(
      [this, uids = std::move(uids)](io::EventLoop&) mutable {
        return find_experts(*state_->node, std::move(uids));
      });
}

}  // namespace hm::discovery
