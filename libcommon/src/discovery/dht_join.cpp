#include "hm/discovery/dht_join.h"

#include "hm/base/error.h"
#include "hm/io/pending.h"

namespace hm::discovery {

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
  return node.bootstrap(std::move(peers)).catch_([](kj::Exception&& e) {
    throw io::failure(fmt::format("cannot join the DHT: {}", e.getDescription().cStr()));
  });
}

}  // namespace hm::discovery
