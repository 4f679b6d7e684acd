#include "hm/discovery/expert_declarer.h"

#include "hm/base/log.h"
#include "hm/discovery/expert_records.h"

namespace hm::discovery {

ExpertDeclarer::ExpertDeclarer(io::EventLoop& loop, dht::DhtNode& node,
                               std::vector<std::string> uids, HostPort server,
                               double update_period_s)
    : loop_(loop),
      node_(node),
      uids_(std::move(uids)),
      server_(std::move(server)),
      update_period_s_(update_period_s),
      timer_(loop.uv(), [this] { declare(); }) {
  // Validate now, not on the first timer tick.
  declaration_entries(uids_, server_, 0);
}

ExpertDeclarer::~ExpertDeclarer() { *alive_ = false; }

void ExpertDeclarer::start() {
  auto period_ms = static_cast<uint64_t>(update_period_s_ * 1000);
  timer_.start(0, period_ms > 0 ? period_ms : 1000);
}

void ExpertDeclarer::stop() { timer_.stop(); }

void ExpertDeclarer::declare() {
  double expiration = node_.dht_time() + 2 * update_period_s_;
  auto entries = declaration_entries(uids_, server_, expiration);
  size_t count = uids_.size();
  auto declared = node_.store(std::move(entries)).then([this, alive = alive_, count](
                                                           std::vector<bool> accepted) {
    if (!*alive) return;
    size_t ok = 0;
    for (size_t i = 0; i < accepted.size(); ++i) ok += accepted[i];
    if (ok == 0) {
      ++refused_;
      spdlog::warn("declaring {} experts: no DHT peer accepted them (will retry)", count);
    } else {
      ++accepted_;
      spdlog::debug("declared {} experts ({} of {} records accepted)", count, ok, accepted.size());
    }
  });
  // The node stopping (the server shutting down) rejects the store: not an error.
  loop_.detach(declared.catch_([](kj::Exception&& e) {
    spdlog::debug("declaring experts: {}", e.getDescription().cStr());
  }));
}

kj::Promise<std::vector<std::optional<ExpertLocation>>> find_experts(
    dht::DhtNode& node, std::vector<std::string> uids) {
  auto keys = uids;
  return node.get(std::move(keys), false)
      .then([uids = std::move(uids)](dht::DhtNode::Values values) {
        std::vector<std::optional<ExpertLocation>> found(uids.size());
        for (size_t i = 0; i < uids.size() && i < values.size(); ++i) {
          if (!values[i] || values[i]->is_dictionary) continue;
          if (auto server = parse_server(values[i]->value)) {
            found[i] = ExpertLocation{uids[i], *server};
          }
        }
        return found;
      });
}

}  // namespace hm::discovery
