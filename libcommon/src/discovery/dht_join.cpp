#include "hm/discovery/dht_join.h"

#include <memory>

#include "hm/base/error.h"
#include "hm/discovery/expert_declarer.h"

namespace hm::discovery {
namespace {

// Moves a kj fulfiller into a copyable callback for the DHT's std::function.
template <typename T>
std::shared_ptr<kj::Own<kj::PromiseFulfiller<T>>> share(kj::Own<kj::PromiseFulfiller<T>> f) {
  return std::make_shared<kj::Own<kj::PromiseFulfiller<T>>>(kj::mv(f));
}

}  // namespace

std::vector<io::Endpoint> parse_peers(const std::vector<std::string>& texts,
                                      std::string_view what) {
  std::vector<io::Endpoint> peers;
  for (const auto& text : texts) peers.push_back(io::Endpoint::parse(text, what));
  return peers;
}

dht::DhtConfig client_node_config(const std::vector<io::Endpoint>& peers) {
  dht::DhtConfig config;
  uint8_t any4[4] = {0, 0, 0, 0}, loop4[4] = {127, 0, 0, 1};
  uint8_t any6[16] = {}, loop6[16] = {};
  loop6[15] = 1;
  bool v6 = !peers.empty() && peers[0].family() == AF_INET6;
  bool local = !peers.empty() && peers[0].is_loopback();
  config.listen = v6 ? io::Endpoint::from_ip_bytes(local ? loop6 : any6, 0)
                     : io::Endpoint::from_ip_bytes(local ? loop4 : any4, 0);
  config.protocol.client_mode = true;
  config.cache_refresh_before_expiry = 0;
  return config;
}

kj::Promise<void> join(dht::DhtNode& node, std::vector<io::Endpoint> peers) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  auto fulfiller = share(kj::mv(paf.fulfiller));
  node.bootstrap(std::move(peers), [fulfiller](const std::string& error) {
    if (!(*fulfiller)->isWaiting()) return;
    if (error.empty()) {
      (*fulfiller)->fulfill();
    } else {
      (*fulfiller)->reject(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                                         kj::str("cannot join the DHT: ", error.c_str())));
    }
  });
  return kj::mv(paf.promise);
}

kj::Promise<std::vector<std::optional<ExpertLocation>>> find_experts_async(
    dht::DhtNode& node, std::vector<std::string> uids) {
  auto paf = kj::newPromiseAndFulfiller<std::vector<std::optional<ExpertLocation>>>();
  auto fulfiller = share(kj::mv(paf.fulfiller));
  find_experts(node, std::move(uids), [fulfiller](auto found) {
    if ((*fulfiller)->isWaiting()) (*fulfiller)->fulfill(std::move(found));
  });
  return kj::mv(paf.promise);
}

}  // namespace hm::discovery
