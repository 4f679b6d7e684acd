// Private to hm_rpc. What an ExpertRpcServer reports to Prometheus, in the
// process's registry (hm/base/metrics.h):
//   hm_expert_calls_total{uid,method,outcome}   outcome ok | error
//   hm_expert_errors_total{uid,method,error}    error: error_name() of the message
//   hm_expert_received_bytes_total{uid,method}  request messages
//   hm_expert_sent_bytes_total{uid,method}      response tensors on the wire
//   hm_server_connections                       open now
//   hm_server_calls_in_flight                   forward/backward not answered yet
// (refusals by limit: hm_refusals_total, counted by RefusalLog). Each series
// of an expert is made once, at start, for the uids the host serves: a uid
// that a request names and the host does not serve counts under uid="", so
// that no peer can make series at will.
//
// Loop thread.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hm/base/metrics.h"

namespace hm::rpc {

// A short kebab-case name for an error message, for the `error` label: the
// flag of a limit it names ("max-batch-size"), else one of unknown-expert,
// shutting-down, deadline-exceeded, expert-failed, malformed, bad-input.
std::string_view error_name(std::string_view message);

enum class CallMethod { info, forward, backward };
std::string_view method_name(CallMethod method);

// One expert's series for one method.
struct MethodMetrics {
  metrics::Counter* ok = nullptr;
  metrics::Counter* failed = nullptr;
  metrics::Counter* received_bytes = nullptr;
  metrics::Counter* sent_bytes = nullptr;
  std::string uid;  // "" for the uids not served here
  CallMethod method = CallMethod::info;
};

class ServerMetrics {
 public:
  explicit ServerMetrics(const std::vector<std::string>& uids);

  // The series of `uid` (or of uid="" when it is not served here).
  MethodMetrics& of(std::string_view uid, CallMethod method);

  // Counts a failed call and its error by name.
  void failed(MethodMetrics& call, std::string_view message);

  metrics::Gauge& connections;
  metrics::Gauge& in_flight;

 private:
  MethodMetrics make(const std::string& uid, CallMethod method);

  std::map<std::string, std::array<MethodMetrics, 3>, std::less<>> experts_;
  std::array<MethodMetrics, 3> unknown_;
};

}  // namespace hm::rpc
