#include "hm/bench/client.h"

#include <charconv>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "hm/base/error.h"
#include "hm/bench/presets.h"
#include "hm/bench/stats.h"
#include "hm/bench/workload.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"

namespace hm::bench {
namespace {

using Pairs = std::map<std::string, std::string, std::less<>>;

Pairs split_pairs(std::string_view text, const char* what) {
  Pairs pairs;
  while (!text.empty()) {
    auto end = text.find(';');
    auto item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      throw UsageError(fmt::format("{}: '{}' is not key=value", what, item));
    }
    pairs.emplace(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
  }
  return pairs;
}

const std::string& field(const Pairs& pairs, const char* key, const char* what) {
  auto it = pairs.find(key);
  if (it == pairs.end()) throw UsageError(fmt::format("{}: '{}' is missing", what, key));
  return it->second;
}

template <typename T>
T number(const Pairs& pairs, const char* key, const char* what) {
  const auto& text = field(pairs, key, what);
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    throw UsageError(fmt::format("{}: {}='{}' is not a number", what, key, text));
  }
  return value;
}

std::vector<double> number_list(const Pairs& pairs, const char* key, const char* what) {
  std::vector<double> values;
  std::string_view text = field(pairs, key, what);
  while (!text.empty()) {
    auto end = text.find(',');
    auto item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    double value = 0;
    auto [stop, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (ec != std::errc() || stop != item.data() + item.size()) {
      throw Error(fmt::format("{}: {} holds '{}', not a number", what, key, item));
    }
    values.push_back(value);
  }
  return values;
}

double micros_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

std::string encode(const ClientSpec& s) {
  return fmt::format(
      "server={};index={};experts={};batches={};warmup={};batch_size={};hidden_dim={};"
      "expert_cls={};backprop={};seed={};timeout_s={};compression={};compression_min_bytes={}",
      s.server.to_string(), s.index, s.experts, s.batches, s.warmup, s.batch_size, s.hidden_dim,
      s.expert_cls, s.backprop ? 1 : 0, s.seed, s.timeout_s, compression_name(s.compression.kind),
      s.compression.min_bytes);
}

ClientSpec decode_client_spec(std::string_view text) {
  const char* what = "client spec";
  auto pairs = split_pairs(text, what);
  ClientSpec s;
  s.server = parse_host_port(field(pairs, "server", what), "client spec server");
  s.index = number<size_t>(pairs, "index", what);
  s.experts = number<size_t>(pairs, "experts", what);
  s.batches = number<size_t>(pairs, "batches", what);
  s.warmup = number<size_t>(pairs, "warmup", what);
  s.batch_size = number<size_t>(pairs, "batch_size", what);
  s.hidden_dim = number<int64_t>(pairs, "hidden_dim", what);
  s.expert_cls = field(pairs, "expert_cls", what);
  s.backprop = number<int>(pairs, "backprop", what) != 0;
  s.seed = number<uint64_t>(pairs, "seed", what);
  s.timeout_s = number<double>(pairs, "timeout_s", what);
  s.compression.kind = compression_from_name(field(pairs, "compression", what));
  s.compression.min_bytes = number<size_t>(pairs, "compression_min_bytes", what);
  if (s.experts == 0 || s.batch_size == 0) {
    throw UsageError("client spec: experts and batch_size must be at least 1");
  }
  return s;
}

std::string encode(const ClientResult& r) {
  return fmt::format("start={:.9f};end={:.9f};samples={};forward={:.3f};backward={:.3f}",
                     r.start_s, r.end_s, r.samples, fmt::join(r.forward_us, ","),
                     fmt::join(r.backward_us, ","));
}

ClientResult decode_client_result(std::string_view text) {
  const char* what = "client result";
  auto pairs = split_pairs(text, what);
  ClientResult r;
  r.start_s = number<double>(pairs, "start", what);
  r.end_s = number<double>(pairs, "end", what);
  r.samples = number<uint64_t>(pairs, "samples", what);
  r.forward_us = number_list(pairs, "forward", what);
  r.backward_us = number_list(pairs, "backward", what);
  return r;
}

ClientResult run_client(const ClientSpec& spec, const ClientHooks& hooks) {
  const auto inputs =
      client_inputs(spec.expert_cls, spec.hidden_dim, spec.batch_size, spec.seed, spec.index);
  const auto grads = spec.backprop
                         ? output_grads(spec.expert_cls, spec.hidden_dim, spec.batch_size)
                         : std::vector<HostTensor>{};
  const auto schedule =
      expert_schedule(spec.seed, spec.index, spec.warmup + spec.batches, spec.experts);
  std::vector<std::string> uids;
  for (size_t i = 0; i < spec.experts; ++i) uids.push_back(bench_uid(i));

  io::EventLoop loop;
  const auto where = spec.server.to_string();
  auto client = rpc::wait_for(loop, rpc::ExpertClient::connect(loop, spec.server, spec.compression),
                              spec.timeout_s, "connect to " + where);
  ClientResult result;
  // Waits for one call; a failure names the call ("forward on expert.3 at
  // 127.0.0.1:7000: <the server's reason>").
  auto wait = [&](kj::Promise<std::vector<HostTensor>> call, const char* kind,
                  const std::string& uid) {
    const auto what = fmt::format("{} on {} at {}", kind, uid, where);
    try {
      rpc::wait_for(loop, kj::mv(call), spec.timeout_s, what);
    } catch (const Error& e) {
      if (std::string_view(e.what()).starts_with(what)) throw;
      throw Error(fmt::format("{}: {}", what, e.what()));
    }
  };
  auto run_batch = [&](size_t b, bool timed) {
    const auto& uid = uids[schedule[b]];
    auto start = std::chrono::steady_clock::now();
    // The server drops a call that the client gave up on (--timeout).
    wait(client->forward(uid, inputs, CallDeadline::in_seconds(spec.timeout_s)), "forward",
         uid);
    if (timed) result.forward_us.push_back(micros_since(start));
    if (!spec.backprop) return;
    start = std::chrono::steady_clock::now();
    wait(client->backward(uid, inputs, grads, CallDeadline::in_seconds(spec.timeout_s)),
         "backward", uid);
    if (timed) result.backward_us.push_back(micros_since(start));
  };
  for (size_t w = 0; w < spec.warmup; ++w) run_batch(w, false);
  if (hooks.ready) hooks.ready();
  result.forward_us.reserve(spec.batches);
  result.backward_us.reserve(spec.backprop ? spec.batches : 0);
  result.start_s = monotonic_seconds();
  for (size_t b = 0; b < spec.batches; ++b) {
    run_batch(spec.warmup + b, true);
    result.samples += spec.batch_size;
    if (hooks.batch_done) hooks.batch_done();
  }
  result.end_s = monotonic_seconds();
  return result;
}

}  // namespace hm::bench
