#include "hm/rpc/parallel_calls.h"

#include "hm/rpc/rpc_errors.h"

#include <random>

namespace hm::rpc {
namespace {

kj::Duration seconds(double s) {
  return static_cast<int64_t>(s * 1e6) * kj::MICROSECONDS;
}

// Shared by the call continuations; lives until the outer promise resolves.
struct Collector : kj::Refcounted {
  Collector(size_t calls, size_t num_samples, size_t k_min_in)
      : results(calls), successes_per_sample(num_samples, 0), k_min(k_min_in) {
    if (k_min == 0 || num_samples == 0) samples_short_of_k_min = 0;
    else samples_short_of_k_min = num_samples;
  }

  void record(size_t index, const std::vector<int64_t>& samples, CallResult result) {
    bool ok = result.outputs.has_value();
    results[index] = std::move(result);
    if (ok) {
      for (auto sample : samples) {
        if (sample < 0 || static_cast<size_t>(sample) >= successes_per_sample.size()) continue;
        if (++successes_per_sample[sample] == k_min && samples_short_of_k_min > 0) {
          --samples_short_of_k_min;
        }
      }
    }
    ++finished;
  }

  std::vector<CallResult> results;
  std::vector<size_t> successes_per_sample;
  size_t k_min;
  size_t samples_short_of_k_min;
  size_t finished = 0;
  bool after_k_min_started = false;
  kj::Own<kj::PromiseFulfiller<void>> all_done;  // every call finished
  kj::Own<kj::PromiseFulfiller<void>> k_min_met;  // every sample has k_min
};

}  // namespace

kj::Promise<std::vector<CallResult>> call_in_parallel(io::EventLoop& loop, ClientPool& pool,
                                                      std::vector<ExpertCall> calls,
                                                      size_t num_samples,
                                                      ParallelCallRules rules) {
  auto collector = kj::refcounted<Collector>(calls.size(), num_samples, rules.k_min);
  auto done = kj::newPromiseAndFulfiller<void>();
  auto k_min_met = kj::newPromiseAndFulfiller<void>();
  collector->all_done = kj::mv(done.fulfiller);
  collector->k_min_met = kj::mv(k_min_met.fulfiller);

  // The moment the caller gives up on every call: each request carries what
  // is left of it when it is sent (after any injected latency).
  const CallDeadline deadline =
      rules.timeout_s ? CallDeadline::in_seconds(*rules.timeout_s) : CallDeadline{};
  auto running = kj::heapArrayBuilder<kj::Promise<void>>(calls.size());
  static thread_local std::mt19937_64 random{std::random_device{}()};
  for (size_t i = 0; i < calls.size(); ++i) {
    auto& call = calls[i];
    kj::Promise<std::vector<HostTensor>> request = nullptr;
    if (rules.drop_probability > 0 &&
        std::bernoulli_distribution(rules.drop_probability)(random)) {
      request = remote_exception("dropped on purpose (--inject-failures)");
    } else {
      kj::Promise<void> wait = kj::READY_NOW;
      if (rules.mean_latency_ms > 0) {
        double ms = std::exponential_distribution<double>(1.0 / rules.mean_latency_ms)(random);
        wait = loop.timer().afterDelay(static_cast<int64_t>(ms * 1000) * kj::MICROSECONDS);
      }
      request = wait.then([&pool, backward = rules.backward, server = call.server, uid = call.uid,
                           inputs = std::move(call.inputs), grads = std::move(call.grad_outputs),
                           deadline]() mutable {
        return backward
                   ? pool.backward(server, uid, std::move(inputs), std::move(grads), deadline)
                   : pool.forward(server, uid, std::move(inputs), deadline);
      });
    }
    auto* c = collector.get();
    running.add(request.then(
        [c, i, samples = call.samples](std::vector<HostTensor> outputs) {
          c->record(i, samples, CallResult{std::move(outputs), {}});
        },
        [c, i, samples = call.samples, where = call.uid + "@" + call.server.to_string()](
            kj::Exception&& e) {
          c->record(i, samples, CallResult{std::nullopt, where + ": " + describe_exception(e)});
        }).then([c] {
          if (c->samples_short_of_k_min == 0 && c->k_min_met->isWaiting()) c->k_min_met->fulfill();
          if (c->finished == c->results.size() && c->all_done->isWaiting()) c->all_done->fulfill();
        })
        // kj runs a continuation only when its consumer asks; joinPromises
        // asks when every branch is ready. Evaluate each call eagerly so
        // that k_min is counted as answers arrive.
        .eagerlyEvaluate(nullptr));
  }
  if (calls.empty()) collector->all_done->fulfill();
  if (collector->samples_short_of_k_min == 0) collector->k_min_met->fulfill();

  // Finish when every call is done, or k_min is met and the grace period
  // passes, or the total timeout passes: whichever comes first.
  kj::Promise<void> finish = kj::mv(done.promise);
  if (rules.timeout_after_k_min_s) {
    auto grace = seconds(*rules.timeout_after_k_min_s);
    finish = finish.exclusiveJoin(
        k_min_met.promise.then([&loop, grace] { return loop.timer().afterDelay(grace); }));
  }
  if (rules.timeout_s) finish = finish.exclusiveJoin(loop.timer().afterDelay(seconds(*rules.timeout_s)));

  // `running` is dropped when `finish` resolves, which cancels the stragglers.
  return finish.attach(running.finish())
      .then([collector = kj::mv(collector)]() mutable {
        for (auto& result : collector->results) {
          if (!result.outputs && result.error.empty()) result.error = "cancelled: no answer in time";
        }
        return std::move(collector->results);
      });
}

}  // namespace hm::rpc
