#include "hm/discovery/expert_listing.h"

#include <map>
#include <memory>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"
#include "hm/discovery/expert_declarer.h"

namespace hm::discovery {
namespace {

constexpr int kMaxLevels = 64;

class Walk : public std::enable_shared_from_this<Walk> {
 public:
  Walk(dht::DhtNode& node, std::function<void(std::vector<ExpertLocation>)> done)
      : node_(node), done_(std::move(done)) {}

  void start(std::vector<std::string> uids, std::vector<std::string> prefixes) {
    auto self = shared_from_this();
    find_experts(node_, std::move(uids), [self, prefixes](auto found) {
      for (auto& location : found) {
        if (location) self->found_[location->uid] = *location;
      }
      self->level(prefixes, 0);
    });
  }

 private:
  void level(std::vector<std::string> keys, int depth) {
    if (keys.empty() || depth >= kMaxLevels) return finish();
    auto self = shared_from_this();
    node_.get(keys, false, [self, keys, depth](std::vector<std::optional<dht::StoredValue>> values) {
      std::vector<std::string> next;
      for (size_t i = 0; i < keys.size() && i < values.size(); ++i) {
        if (!values[i]) continue;
        const auto& key = keys[i];
        for (auto& [coordinate, location] : successors(*values[i])) {
          std::string child = key + std::to_string(coordinate);
          bool flat = coordinate == -1 && location.uid == key.substr(0, key.size() - 1);
          if (flat || location.uid == child) {
            self->found_[location.uid] = location;
          } else if (coordinate >= 0 && location.uid.starts_with(child + ".")) {
            next.push_back(child + ".");
          }
        }
      }
      self->level(std::move(next), depth + 1);
    });
  }

  void finish() {
    std::vector<ExpertLocation> list;
    for (auto& [uid, location] : found_) list.push_back(std::move(location));
    done_(std::move(list));
  }

  dht::DhtNode& node_;
  std::function<void(std::vector<ExpertLocation>)> done_;
  std::map<std::string, ExpertLocation> found_;
};

}  // namespace

void list_experts(dht::DhtNode& node, const std::vector<std::string>& targets, int64_t first_dim,
                  std::function<void(std::vector<ExpertLocation>)> done) {
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
  std::make_shared<Walk>(node, std::move(done))->start(std::move(uids), std::move(prefixes));
}

}  // namespace hm::discovery
