#include "hm/discovery/expert_listing.h"

#include <map>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"
#include "hm/discovery/expert_declarer.h"

namespace hm::discovery {
namespace {

constexpr int kMaxLevels = 64;

// Walks the prefixes level by level, collecting experts in `found`.
class Walk {
 public:
  explicit Walk(dht::DhtNode& node) : node_(node) {}

  kj::Promise<std::vector<ExpertLocation>> run(std::vector<std::string> uids,
                                               std::vector<std::string> prefixes) {
    return find_experts(node_, std::move(uids))
        .then([this, prefixes = std::move(prefixes)](auto located) mutable {
          for (auto& location : located) {
            if (location) found_[location->uid] = *location;
          }
          return level(std::move(prefixes), 0);
        })
        .then([this] {
          std::vector<ExpertLocation> list;
          for (auto& [uid, location] : found_) list.push_back(std::move(location));
          return list;
        });
  }

 private:
  kj::Promise<void> level(std::vector<std::string> keys, int depth) {
    if (keys.empty() || depth >= kMaxLevels) return kj::READY_NOW;
    auto asked = keys;
    return node_.get(std::move(asked), false)
        .then([this, keys = std::move(keys), depth](dht::DhtNode::Values values) {
          std::vector<std::string> next;
          for (size_t i = 0; i < keys.size() && i < values.size(); ++i) {
            if (!values[i]) continue;
            const auto& key = keys[i];
            for (auto& [coordinate, location] : successors(*values[i])) {
              std::string child = key + std::to_string(coordinate);
              bool flat = coordinate == -1 && location.uid == key.substr(0, key.size() - 1);
              if (flat || location.uid == child) {
                found_[location.uid] = location;
              } else if (coordinate >= 0 && location.uid.starts_with(child + ".")) {
                next.push_back(child + ".");
              }
            }
          }
          return level(std::move(next), depth + 1);
        });
  }

  dht::DhtNode& node_;
  std::map<std::string, ExpertLocation> found_;
};

}  // namespace

kj::Promise<std::vector<ExpertLocation>> list_experts(dht::DhtNode& node,
                                                      const std::vector<std::string>& targets,
                                                      int64_t first_dim) {
  std::vector<std::string> uids, prefixes;
  for (const auto& target : targets) {
    if (is_valid_uid(target)) {
      uids.push_back(target);
    } else if (is_valid_prefix(target)) {
      bool bare = target.find('.') == target.size() - 1;
      if (!bare) {
        prefixes.push_back(target);
        continue;
      }
      if (first_dim <= 0) {
        throw UsageError(fmt::format(
            "'{}' has no coordinate: give --grid (e.g. --grid 4x4) so its first dimension can "
            "be probed, or a longer prefix like {}0.", target, target));
      }
      for (int64_t i = 0; i < first_dim; ++i) prefixes.push_back(target + std::to_string(i) + ".");
    } else {
      throw UsageError(fmt::format(
          "'{}' is neither an expert uid (ffn.1.2) nor a prefix ending in '.' (ffn.1.)", target));
    }
  }
  auto walk = kj::heap<Walk>(node);
  auto listed = walk->run(std::move(uids), std::move(prefixes));
  return listed.attach(kj::mv(walk));
}

}  // namespace hm::discovery
