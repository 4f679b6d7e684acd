#include "hm/client/expert_dispatch.h"

#include <torch/autograd.h>
#include <torch/types.h>

#include <chrono>
#include <map>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/base/metrics.h"
#include "hm/torch/torch_bridge.h"

namespace hm::client {
namespace {

// Counts a mixture call's experts by outcome: hm_moe_expert_calls_total
// {direction="forward"|"backward", outcome="answered"|"failed"}.
// Each direction's two series are looked up once, not per call.
struct ExpertCallCounters {
  metrics::Counter& answered;
  metrics::Counter& failed;
  explicit ExpertCallCounters(const char* direction)
      : answered(family().with({direction, "answered"})),
        failed(family().with({direction, "failed"})) {}
  static metrics::Family<metrics::Counter>& family() {
    static auto& family = metrics::default_registry().counter(
        "hm_moe_expert_calls_total",
        "Remote expert calls a mixture of experts made, by direction and outcome (answered, "
        "failed: an error, a timeout, or an answer unlike the others)",
        {"direction", "outcome"});
    return family;
  }
};

void count_expert_calls(const ExpertCallCounters& counters, size_t answered, size_t asked) {
  counters.answered.inc(static_cast<double>(answered));
  counters.failed.inc(static_cast<double>(asked - answered));
}

const ExpertCallCounters& forward_calls() {
  static const ExpertCallCounters counters("forward");
  return counters;
}

const ExpertCallCounters& backward_calls() {
  static const ExpertCallCounters counters("backward");
  return counters;
}


using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The experts one forward called, and which (sample, slot) each row is.
struct Route {
  discovery::ExpertLocation location;
  std::vector<int64_t> rows;   // sample index of every row sent
  std::vector<int64_t> slots;  // its position among that sample's experts
  bool answered = false;
};

struct CallPlan : torch::CustomClassHolder {
  discovery::SwarmClient* swarm = nullptr;
  std::vector<Route> routes;
  int64_t slots = 0;  // K: most experts of any sample
  MixtureConfig config;
  std::optional<double> forward_time_left;
  MixtureStats* stats = nullptr;
};

torch::Tensor rows_of(const Route& route) { return torch::tensor(route.rows, torch::kLong); }
torch::Tensor slots_of(const Route& route) { return torch::tensor(route.slots, torch::kLong); }

bool all_finite(const torch::Tensor& t) {
  return !t.is_floating_point() || torch::isfinite(t).all().item<bool>();
}

// Calls every routed expert in parallel: returns per-slot outputs
// [B, K, out...] and the mask of slots that answered [B, K].
struct CallMany : torch::autograd::Function<CallMany> {
  static variable_list forward(AutogradContext* ctx, torch::Tensor x,
                               c10::intrusive_ptr<CallPlan> plan) {
    auto x_cpu = x.detach().to(torch::kCPU).contiguous();
    const auto& config = plan->config;
    std::vector<rpc::ExpertCall> calls;
    for (const auto& route : plan->routes) {
      auto rows = x_cpu.index_select(0, rows_of(route));
      calls.push_back({route.location.server, route.location.uid, {from_torch(rows)}, {},
                       route.rows});
    }
    rpc::ParallelCallRules rules{config.k_min, plan->forward_time_left,
                                 config.timeout_after_k_min, false, config.inject_failures,
                                 config.latency_ms};
    auto started = Clock::now();
    auto results = plan->swarm->call(std::move(calls), x.size(0), rules).get();
    plan->stats->call_seconds = seconds_since(started);

    torch::Tensor outputs, mask = torch::zeros({x.size(0), plan->slots}, torch::kBool);
    size_t answered = 0, answered_experts = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      auto& route = plan->routes[i];
      if (!results[i].outputs || results[i].outputs->empty()) {
        spdlog::debug("expert {} failed: {}", route.location.uid, results[i].error);
        continue;
      }
      auto out = to_torch((*results[i].outputs)[0]);
      if (out.dim() < 1 || out.size(0) != static_cast<int64_t>(route.rows.size())) {
        spdlog::warn("expert {} returned {} for {} rows: ignored", route.location.uid,
                     describe((*results[i].outputs)[0]), route.rows.size());
        continue;
      }
      if (config.detect_anomalies && !all_finite(out)) {
        spdlog::warn("expert {} returned non-finite values: ignored", route.location.uid);
        continue;
      }
      if (!outputs.defined()) {
        auto shape = out.sizes().vec();
        shape.erase(shape.begin());
        shape.insert(shape.begin(), {x.size(0), plan->slots});
        outputs = torch::zeros(shape, out.options());
      } else if (out.sizes().slice(1) != outputs.sizes().slice(2)) {
        spdlog::warn("expert {} returned {} unlike the others: ignored", route.location.uid,
                     describe((*results[i].outputs)[0]));
        continue;
      }
      auto rows = rows_of(route), slots = slots_of(route);
      outputs.index_put_({rows, slots}, out);
      mask.index_put_({rows, slots}, true);
      route.answered = true;
      answered += route.rows.size();
      ++answered_experts;
    }
    plan->stats->experts_answered = answered_experts;
    count_expert_calls(forward_calls(), answered_experts, results.size());
    if (answered < config.k_min) {
      fail("only {} (sample, expert) answers arrived, k_min is {} ({} of {} experts answered "
           "within the timeout)", answered, config.k_min, answered_experts, results.size());
    }
    if (answered == 0 && !config.allow_zero_outputs) {
      fail("none of the {} experts answered (allow_zero_outputs is off)", results.size());
    }
    if (!outputs.defined()) {
      auto shape = x.sizes().vec();
      shape.back() = config.out_features.value_or(config.in_features);
      shape.insert(shape.begin() + 1, plan->slots);
      outputs = torch::zeros(shape, x.options());
    }
    ctx->save_for_backward({x});
    ctx->saved_data["plan"] = c10::IValue::make_capsule(plan);
    ctx->mark_non_differentiable({mask});
    return {outputs.to(x.device()), mask.to(x.device())};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto plan = c10::static_intrusive_pointer_cast<CallPlan>(
        ctx->saved_data["plan"].toCapsule());
    auto x = ctx->get_saved_variables()[0];
    auto grad_outputs = grads[0].to(torch::kCPU).contiguous();
    const auto& config = plan->config;
    if (config.detect_anomalies) {
      require(all_finite(grad_outputs), "mixture backward: non-finite output gradients");
    }
    auto x_cpu = x.detach().to(torch::kCPU).contiguous();
    std::vector<rpc::ExpertCall> calls;
    std::vector<const Route*> called;
    for (const auto& route : plan->routes) {
      if (!route.answered) continue;
      auto rows = rows_of(route);
      auto grad = grad_outputs.index({rows, slots_of(route)}).contiguous();
      calls.push_back({route.location.server, route.location.uid,
                       {from_torch(x_cpu.index_select(0, rows))}, {from_torch(grad)},
                       route.rows});
      called.push_back(&route);
    }
    rpc::ParallelCallRules rules{config.backward_k_min, config.backward_timeout, std::nullopt,
                                 true, 0, config.latency_ms};
    auto results = plan->swarm->call(std::move(calls), x.size(0), rules).get();
    auto grad_x = torch::zeros_like(x_cpu);
    size_t answered = 0, answered_experts = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].outputs || results[i].outputs->empty()) {
        spdlog::debug("expert {} backward failed: {}", called[i]->location.uid, results[i].error);
        continue;
      }
      auto grad = to_torch((*results[i].outputs)[0]);
      if (grad.sizes() != x_cpu.index_select(0, rows_of(*called[i])).sizes()) continue;
      if (config.detect_anomalies && !all_finite(grad)) continue;
      grad_x.index_add_(0, rows_of(*called[i]), grad.to(grad_x.dtype()));
      answered += called[i]->rows.size();
      ++answered_experts;
    }
    count_expert_calls(backward_calls(), answered_experts, results.size());
    if (answered < config.backward_k_min) {
      fail("mixture backward: only {} (sample, expert) gradients arrived, backward_k_min is {}",
           answered, config.backward_k_min);
    }
    return {grad_x.to(x.device()), torch::Tensor()};
  }
};

// Plans one request per distinct expert, recording each sample's slots.
void route(const std::vector<std::vector<discovery::ScoredExpert>>& best, CallPlan& plan,
           std::vector<std::vector<int64_t>>& coordinates) {
  std::map<std::string, size_t> by_uid;
  for (size_t s = 0; s < best.size(); ++s) {
    plan.slots = std::max<int64_t>(plan.slots, best[s].size());
    for (size_t k = 0; k < best[s].size(); ++k) {
      const auto& expert = best[s][k];
      auto [it, fresh] = by_uid.emplace(expert.location.uid, plan.routes.size());
      if (fresh) plan.routes.push_back({expert.location, {}, {}, false});
      plan.routes[it->second].rows.push_back(static_cast<int64_t>(s));
      plan.routes[it->second].slots.push_back(static_cast<int64_t>(k));
      coordinates.push_back(expert.coordinates);
    }
  }
}

}  // namespace

Dispatch dispatch_to_experts(discovery::SwarmClient& swarm, const MixtureConfig& config,
                             const torch::Tensor& x, const torch::Tensor& scores,
                             MixtureStats& stats) {
  auto started = Clock::now();
  const int64_t batch = x.size(0);
  auto cpu_scores = scores.detach().to(torch::kCPU, torch::kFloat).contiguous();
  std::vector<std::vector<float>> rows(batch);
  auto width = config.grid.total();
  for (int64_t s = 0; s < batch; ++s) {
    const float* row = cpu_scores.data_ptr<float>() + s * width;
    rows[s].assign(row, row + width);
  }
  auto best = swarm.find_best_experts(config.grid, std::move(rows), {.beam_size = config.k_best},
                                      config.forward_timeout)
                  .get();
  stats.search_seconds = seconds_since(started);

  auto plan = c10::make_intrusive<CallPlan>();
  plan->swarm = &swarm;
  plan->config = config;
  plan->stats = &stats;
  if (config.forward_timeout) {
    plan->forward_time_left = std::max(0.0, *config.forward_timeout - stats.search_seconds);
  }
  std::vector<std::vector<int64_t>> coordinates;
  route(best, *plan, coordinates);
  stats.experts_asked = plan->routes.size();
  Dispatch dispatch;
  if (plan->routes.empty()) {
    if (!config.allow_zero_outputs) {
      fail("no live experts found under '{}' in the DHT (is a server declaring them?)",
           config.grid.prefix);
    }
    return dispatch;
  }
  auto called = CallMany::apply(x, plan);
  dispatch.outputs = called[0];
  dispatch.mask = called[1];

  const int64_t slots = plan->slots, dims = config.grid.dims.size();
  dispatch.index = torch::zeros({batch, slots, dims}, torch::kLong);
  auto index = dispatch.index.accessor<int64_t, 3>();
  size_t next = 0;
  for (int64_t s = 0; s < batch; ++s) {
    for (size_t k = 0; k < best[s].size(); ++k, ++next) {
      int64_t offset = 0;
      for (int64_t d = 0; d < dims; ++d) {
        index[s][k][d] = offset + coordinates[next][d];
        offset += config.grid.dims[d];
      }
    }
  }
  dispatch.index = dispatch.index.to(x.device());
  return dispatch;
}

torch::Tensor gather_slots(const torch::Tensor& per_index, const Dispatch& dispatch) {
  auto batch = dispatch.index.size(0), slots = dispatch.index.size(1);
  auto dims = dispatch.index.size(2);
  return per_index.gather(1, dispatch.index.view({batch, slots * dims}))
      .view({batch, slots, dims});
}

torch::Tensor weighted_sum(const torch::Tensor& weights, const Dispatch& dispatch) {
  auto shape = weights.sizes().vec();
  while (shape.size() < static_cast<size_t>(dispatch.outputs.dim())) shape.push_back(1);
  return (weights.view(shape) * dispatch.outputs).sum(1);
}

torch::Tensor zero_output(const MixtureConfig& config, const torch::Tensor& x) {
  auto shape = x.sizes().vec();
  shape.back() = config.out_features.value_or(config.in_features);
  return torch::zeros(shape, x.options());
}

}  // namespace hm::client

namespace hm::client {

void check_mixture_config(const MixtureConfig& config) {
  if (config.in_features <= 0) throw UsageError("mixture: in_features must be positive");
  if (config.grid.dims.empty()) throw UsageError("mixture: the grid has no dimensions");
  if (config.k_best == 0) throw UsageError("mixture: k_best must be at least 1");
}

void check_mixture_input(const MixtureConfig& config, const torch::Tensor& x) {
  require(x.dim() >= 2 && x.size(-1) == config.in_features,
          "mixture: expected input [batch, ..., {}], got [{}]", config.in_features,
          fmt::join(x.sizes(), ", "));
  if (config.detect_anomalies) {
    require(!x.is_floating_point() || torch::isfinite(x).all().item<bool>(),
            "mixture: non-finite inputs");
  }
}

}  // namespace hm::client
