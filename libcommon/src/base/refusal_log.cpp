#include "hm/base/refusal_log.h"

namespace hm {

std::string_view flag_named_in(std::string_view message) {
  const auto is_flag_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  };
  std::string_view found;
  for (size_t at = message.find("--"); at != std::string_view::npos;
       at = message.find("--", at + 2)) {
    size_t end = at + 2;
    while (end < message.size() && is_flag_char(message[end])) ++end;
    if (end > at + 2 && message[at + 2] != '-') found = message.substr(at + 2, end - at - 2);
  }
  return found;
}

metrics::Counter& RefusalLog::counter_for(std::string_view limit) {
  for (auto& [name, counter] : counters_) {
    if (name == limit) return *counter;
  }
  static auto& family = metrics::default_registry().counter(
      "hm_refusals_total", "Requests, connections and datagrams refused, by the limit (flag) "
      "that refused them", {"limit"});
  auto& counter = family.with({std::string(limit)});
  counters_.emplace_back(std::string(limit), &counter);
  return counter;
}

}  // namespace hm
