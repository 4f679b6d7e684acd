#include "hm/discovery/expert_records.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "hm/base/error.h"
#include "hm/base/expert_uid.h"

namespace hm::discovery {
namespace {

constexpr std::string_view kFlatSubkey = "-1";
// Not a number, so never taken for a coordinate (nor does it overwrite the
// "-1" entry of a one-dimensional expert).
constexpr std::string_view kNegativeSubkey = "none";

std::optional<int64_t> parse_coordinate(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::vector<dht::StoreEntry> declaration_entries(std::span<const std::string> uids,
                                                 const HostPort& server, double expiration) {
  std::vector<dht::StoreEntry> entries;
  // Experts under one prefix share its upper levels ("ffn.1." subkey "2" for
  // both ffn.1.2.3 and ffn.1.2.4): each (key, subkey) is stored once.
  std::set<std::pair<std::string, std::string>> declared;
  auto add_successor = [&](std::string key, std::string subkey, const std::string& successor) {
    if (!declared.emplace(key, subkey).second) return;
    entries.push_back({std::move(key), std::move(subkey), successor, expiration});
  };
  const std::string address = server.to_string();
  for (const auto& uid : uids) {
    require(is_valid_uid(uid), "cannot declare '{}': not a valid expert uid", uid);
    entries.push_back({uid, std::nullopt, address, expiration});
    const std::string successor = uid + " " + address;
    // Every proper prefix ending in '.', from the longest: "ffn.1.2." then "ffn.1.".
    size_t dots = std::count(uid.begin(), uid.end(), '.');
    if (dots == 1) {
      add_successor(uid + ".", std::string(kFlatSubkey), successor);
      continue;
    }
    size_t end = uid.size();
    for (size_t level = dots; level >= 2; --level) {
      size_t dot = uid.rfind('.', end - 1);
      add_successor(uid.substr(0, dot + 1), uid.substr(dot + 1, end - dot - 1), successor);
      end = dot;
    }
  }
  return entries;
}

std::optional<HostPort> parse_server(std::string_view value) {
  try {
    return parse_host_port(value, "expert address");
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<ExpertLocation> parse_successor(std::string_view value) {
  auto space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  auto uid = value.substr(0, space);
  if (!is_valid_uid(uid)) return std::nullopt;
  auto server = parse_server(value.substr(space + 1));
  if (!server) return std::nullopt;
  return ExpertLocation{std::string(uid), *server};
}

std::vector<std::pair<int64_t, ExpertLocation>> successors(const dht::StoredValue& value) {
  std::vector<std::pair<int64_t, ExpertLocation>> result;
  if (!value.is_dictionary) return result;
  for (const auto& [subkey, entry] : value.subkeys) {
    auto coordinate = parse_coordinate(subkey);
    auto location = parse_successor(entry.value);
    if (coordinate && location) result.emplace_back(*coordinate, std::move(*location));
  }
  return result;
}

dht::StoreEntry negative_entry(const std::string& prefix, double expiration) {
  return {prefix, std::string(kNegativeSubkey), "", expiration};
}

}  // namespace hm::discovery
