#include "server_metrics.h"

#include "hm/base/refusal_log.h"

namespace hm::rpc {
namespace {

metrics::Registry& registry() { return metrics::default_registry(); }

metrics::Family<metrics::Counter>& calls_family() {
  static auto& family = registry().counter(
      "hm_expert_calls_total", "Calls an expert answered, by method and outcome (ok, error)",
      {"uid", "method", "outcome"});
  return family;
}

metrics::Family<metrics::Counter>& errors_family() {
  static auto& family = registry().counter(
      "hm_expert_errors_total",
      "Calls an expert failed, by method and error (a limit's flag, unknown-expert, "
      "shutting-down, deadline-exceeded, expert-failed, malformed, bad-input)",
      {"uid", "method", "error"});
  return family;
}

metrics::Family<metrics::Counter>& received_family() {
  static auto& family = registry().counter(
      "hm_expert_received_bytes_total", "Bytes of the requests an expert received",
      {"uid", "method"});
  return family;
}

metrics::Family<metrics::Counter>& sent_family() {
  static auto& family = registry().counter(
      "hm_expert_sent_bytes_total", "Bytes of the tensors an expert sent back, as on the wire",
      {"uid", "method"});
  return family;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

}  // namespace

std::string_view error_name(std::string_view message) {
  if (auto flag = flag_named_in(message); !flag.empty()) return flag;
  if (contains(message, "unknown expert")) return "unknown-expert";
  if (contains(message, "shutting down")) return "shutting-down";
  if (contains(message, "deadline exceeded")) return "deadline-exceeded";
  if (message.starts_with("expert ") && contains(message, " failed: ")) return "expert-failed";
  if (contains(message, "malformed")) return "malformed";
  return "bad-input";
}

std::string_view method_name(CallMethod method) {
  switch (method) {
    case CallMethod::info: return "info";
    case CallMethod::forward: return "forward";
    case CallMethod::backward: return "backward";
  }
  return "info";
}

ServerMetrics::ServerMetrics(const std::vector<std::string>& uids)
    : connections(registry()
                      .gauge("hm_server_connections", "RPC connections open now")
                      .only()),
      in_flight(registry()
                    .gauge("hm_server_calls_in_flight",
                           "Forward and backward calls received and not answered yet")
                    .only()) {
  for (const auto& uid : uids) {
    experts_.emplace(uid, std::array{make(uid, CallMethod::info), make(uid, CallMethod::forward),
                                     make(uid, CallMethod::backward)});
  }
  unknown_ = {make("", CallMethod::info), make("", CallMethod::forward),
              make("", CallMethod::backward)};
}

MethodMetrics ServerMetrics::make(const std::string& uid, CallMethod method) {
  const std::string name(method_name(method));
  return MethodMetrics{
      .ok = &calls_family().with({uid, name, "ok"}),
      .failed = &calls_family().with({uid, name, "error"}),
      .received_bytes = &received_family().with({uid, name}),
      .sent_bytes = &sent_family().with({uid, name}),
      .uid = uid,
      .method = method,
  };
}

MethodMetrics& ServerMetrics::of(std::string_view uid, CallMethod method) {
  auto found = experts_.find(uid);
  auto& methods = found == experts_.end() ? unknown_ : found->second;
  return methods[static_cast<size_t>(method)];
}

void ServerMetrics::failed(MethodMetrics& call, std::string_view message) {
  call.failed->inc();
  errors_family()
      .with({call.uid, std::string(method_name(call.method)), std::string(error_name(message))})
      .inc();
}

}  // namespace hm::rpc
