#include "hm/bench/chain.h"

#include <memory>
#include <random>

#include <kj/async.h>

#include "hm/base/error.h"
#include "hm/bench/presets.h"
#include "hm/bench/progress.h"
#include "hm/bench/server.h"
#include "hm/bench/workload.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"

namespace hm::bench {
namespace {

using Tensors = std::vector<HostTensor>;

struct Trainer {
  kj::Own<rpc::ExpertClient> client;
  std::mt19937_64 rng;
};

// What every trainer shares during one phase.
struct Phase {
  io::EventLoop& loop;
  const ChainRun& run;
  const std::vector<std::string>& uids;
  const Tensors& inputs;
  const Tensors& grads;
  double ping = 0;
  Progress& progress;
  std::vector<double> batch_s;  // every batch's duration
};

kj::Promise<void> delay(Phase& phase, Trainer& trainer) {
  if (phase.ping <= 0) return kj::READY_NOW;
  std::exponential_distribution<double> exp(1.0);
  const double seconds = phase.ping * exp(trainer.rng);
  return phase.loop.timer().afterDelay(static_cast<int64_t>(seconds * 1e9) * kj::NANOSECONDS);
}

// The next block's inputs: this block's outputs, then the inputs it did not
// replace (a transformer's padding mask, det_dropout's mask).
Tensors carry(Tensors outputs, const Tensors& inputs) {
  for (size_t i = outputs.size(); i < inputs.size(); ++i) outputs.push_back(inputs[i]);
  return outputs;
}

kj::Promise<void> backward_from(Phase& phase, Trainer& trainer,
                                std::shared_ptr<std::vector<Tensors>> saved, size_t block,
                                Tensors grads) {
  auto& uid = phase.uids[block];
  return trainer.client->backward(uid, (*saved)[block], grads)
      .then([&phase, &trainer, saved, block](Tensors grad_inputs) -> kj::Promise<void> {
        return delay(phase, trainer).then(
            [&phase, &trainer, saved, block, grad_inputs = kj::mv(grad_inputs)]() mutable
            -> kj::Promise<void> {
              if (block == 0) return kj::READY_NOW;
              grad_inputs.resize(phase.grads.size());  // gradients of the previous outputs
              return backward_from(phase, trainer, saved, block - 1, kj::mv(grad_inputs));
            });
      });
}

kj::Promise<void> forward_from(Phase& phase, Trainer& trainer,
                               std::shared_ptr<std::vector<Tensors>> saved, size_t block,
                               Tensors x) {
  if (block == phase.uids.size()) {
    if (!phase.run.backprop) return kj::READY_NOW;
    return backward_from(phase, trainer, saved, block - 1, phase.grads);
  }
  if (phase.run.backprop) saved->push_back(x);
  auto request = trainer.client->forward(phase.uids[block], x);
  return request.then([&phase, &trainer, saved, block, x = kj::mv(x)](Tensors out) mutable {
    auto next = carry(kj::mv(out), x);
    return delay(phase, trainer).then(
        [&phase, &trainer, saved, block, next = kj::mv(next)]() mutable {
          return forward_from(phase, trainer, saved, block + 1, kj::mv(next));
        });
  });
}

kj::Promise<void> run_batches(Phase& phase, Trainer& trainer, size_t left) {
  if (left == 0) return kj::READY_NOW;
  const double start = monotonic_seconds();
  auto saved = std::make_shared<std::vector<Tensors>>();
  return forward_from(phase, trainer, saved, 0, phase.inputs)
      .then([&phase, &trainer, left, start] {
        phase.batch_s.push_back(monotonic_seconds() - start);
        phase.progress.add();
        return run_batches(phase, trainer, left - 1);
      });
}

// Runs `trainers[0..count)` with `batches` each; returns the wall time.
double run_phase(Phase& phase, std::vector<Trainer>& trainers, size_t count, size_t batches,
                 const char* name) {
  auto promises = kj::heapArrayBuilder<kj::Promise<void>>(count);
  const double start = monotonic_seconds();
  for (size_t j = 0; j < count; ++j) promises.add(run_batches(phase, trainers[j], batches));
  rpc::wait_for(phase.loop, kj::joinPromises(promises.finish()), phase.run.timeout_s,
                fmt::format("chain {} phase (ping {} s)", name, phase.ping));
  return monotonic_seconds() - start;
}

void check(const ChainRun& run) {
  if (run.blocks == 0) throw UsageError("--blocks must be at least 1");
  if (run.jobs == 0) throw UsageError("--jobs must be at least 1");
  if (run.batches == 0 || run.latency_batches == 0) {
    throw UsageError("--batches and --latency-batches must be at least 1");
  }
  if (run.pings.empty()) throw UsageError("--ping needs at least one value");
  for (double ping : run.pings) {
    if (!(ping >= 0)) throw UsageError(fmt::format("--ping {} is negative", ping));
  }
  ThroughputParams p;
  p.expert_cls = run.expert_cls;
  p.hidden_dim = run.hidden_dim;
  p.batch_size = run.batch_size;
  p.max_batch_size = 0;
  validate(p);
}

}  // namespace

ChainReport run_chain(const ChainRun& run) {
  check(run);
  ChainReport report;
  std::vector<std::string> uids;
  for (size_t i = 0; i < run.blocks; ++i) uids.push_back(bench_uid(i));

  std::unique_ptr<InProcessServer> server;
  HostPort address;
  if (run.server.empty()) {
    moe::ExpertServerConfig config;
    config.uids = uids;
    config.expert_cls = run.expert_cls;
    config.hidden_dim = run.hidden_dim;
    config.max_batch_size =
        static_cast<uint32_t>(std::max<size_t>(run.batch_size * run.jobs, run.batch_size));
    server = std::make_unique<InProcessServer>(config);
    address = server->address();
    report.startup_s = server->experts_startup_s() + server->networking_startup_s();
  } else {
    address = parse_host_port(run.server, "--server");
  }
  const auto inputs = client_inputs(run.expert_cls, run.hidden_dim, run.batch_size, run.seed, 0);
  const auto grads = output_grads(run.expert_cls, run.hidden_dim, run.batch_size);

  io::EventLoop loop;
  std::vector<Trainer> trainers;
  for (size_t j = 0; j < run.jobs; ++j) {
    trainers.push_back(Trainer{
        rpc::wait_for(loop, rpc::ExpertClient::connect(loop, address), run.timeout_s,
                      "connect to " + address.to_string()),
        std::mt19937_64(run.seed * 7919 + j)});
  }
  Progress progress("chain", run.pings.size() * (run.latency_batches + run.jobs * run.batches),
                    run.progress);
  const double samples = static_cast<double>(run.batch_size);
  for (double ping : run.pings) {
    ChainRow row;
    row.ping_s = ping;
    Phase sequential{loop, run, uids, inputs, grads, ping, progress, {}};
    double seq_s = run_phase(sequential, trainers, 1, run.latency_batches, "sequential");
    row.latency_s = summarize(sequential.batch_s);
    row.sequential_samples_per_s =
        per_second(samples * static_cast<double>(run.latency_batches), seq_s);
    Phase parallel{loop, run, uids, inputs, grads, ping, progress, {}};
    double par_s = run_phase(parallel, trainers, run.jobs, run.batches, "parallel");
    row.parallel_samples_per_s =
        per_second(samples * static_cast<double>(run.jobs * run.batches), par_s);
    row.speedup = ratio(row.parallel_samples_per_s, row.sequential_samples_per_s);
    report.rows.push_back(row);
  }
  progress.finish();
  trainers.clear();  // connections close before the loop goes
  return report;
}

}  // namespace hm::bench
