#include "hm/client/trainer.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/base/metrics.h"
#include "hm/client/mixture.h"
#include "hm/client/train_state.h"
#include "hm/data/idx.h"
#include "hm/torch/torch_bridge.h"

namespace hm::client {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxFailuresInARow = 50;

// After a failed step a trainer waits 50 ms, doubling with each failure in a
// row up to 2 s, so that a swarm restarting a server (calls refused at once
// for a few seconds) is ridden out, while a dead swarm still ends training
// after kMaxFailuresInARow failures (about 90 s).
std::chrono::milliseconds backoff_after(int64_t failures_in_a_row) {
  const int64_t doublings = std::min<int64_t>(failures_in_a_row - 1, 6);
  return std::min(std::chrono::milliseconds(50 << doublings), std::chrono::milliseconds(2000));
}

// Linear(784, d) -> blocks -> Linear(d, 10).
struct ClassifierImpl : torch::nn::Module {
  ClassifierImpl(const TrainConfig& config, int64_t inputs,
                 const std::shared_ptr<discovery::SwarmClient>& swarm) {
    input = register_module("input", torch::nn::Linear(inputs, config.hidden_dim));
    auto block_config = config.block;
    block_config.in_features = config.hidden_dim;
    for (int b = 0; b < config.blocks; ++b) {
      blocks.push_back(register_module("block" + std::to_string(b),
                                       RemoteMixtureOfExperts(block_config, swarm)));
    }
    output = register_module("output", torch::nn::Linear(config.hidden_dim, 10));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto h = input->forward(x);
    for (auto& block : blocks) h = block->forward(h);
    return output->forward(h);
  }

  // Fraction of the experts asked in the last forward that answered.
  double reached() const {
    size_t asked = 0, answered = 0;
    for (const auto& block : blocks) {
      asked += block->last_stats().experts_asked;
      answered += block->last_stats().experts_answered;
    }
    return asked ? static_cast<double>(answered) / asked : 0;
  }

  torch::nn::Linear input{nullptr}, output{nullptr};
  std::vector<RemoteMixtureOfExperts> blocks;
};
TORCH_MODULE(Classifier);

struct Data {
  torch::Tensor images;  // float [N, 784] in [0, 1]
  torch::Tensor labels;  // long [N]
};

Data load(const std::string& dir, const std::string& split) {
  auto raw = data::load_idx_split(dir, split);
  auto images = to_torch(raw.images).to(torch::kFloat).div(255.0);
  return {images.reshape({images.size(0), -1}).contiguous(), to_torch(raw.labels).to(torch::kLong)};
}

void copy_parameters(Classifier& from, Classifier& to) {
  torch::NoGradGuard no_grad;
  auto source = from->parameters(), target = to->parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
}

}  // namespace

// hm-moe train's metrics (hm/base/metrics.h).
struct TrainMetrics {
  metrics::Registry& registry = metrics::default_registry();
  metrics::Counter& steps =
      registry.counter("hm_train_steps_total", "Optimizer steps taken on the master copy").only();
  metrics::Counter& failed_steps =
      registry.counter("hm_train_failed_steps_total",
                       "Training steps lost to errors (too few experts answered)")
          .only();
  metrics::Counter& samples =
      registry.counter("hm_train_samples_total", "Training samples in the steps taken").only();
  metrics::Gauge& loss =
      registry.gauge("hm_train_loss", "Training loss (cross entropy) of the last step").only();
  metrics::Gauge& accuracy =
      registry.gauge("hm_train_test_accuracy", "Test accuracy at the last evaluation (0 to 1)")
          .only();
  metrics::Gauge& evaluated_step =
      registry.gauge("hm_train_evaluated_step", "Step of the last evaluation").only();
};

struct Trainer::Impl {
  TrainMetrics metrics;
  TrainConfig config;
  std::shared_ptr<discovery::SwarmClient> swarm;
  Data train, test;
  Classifier master{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer;
  std::mutex mutex;  // guards master and optimizer

  std::atomic<int64_t> step{0};
  std::atomic<int64_t> samples{0};
  std::atomic<int64_t> failures_in_a_row{0};
  std::atomic<int64_t> failed_steps{0};
  std::atomic<bool> stop{false};
  std::string fatal;  // set under mutex when a trainer gives up
  double loss_sum = 0;       // under mutex: since the last evaluation
  int64_t loss_count = 0;
  double reached_sum = 0;
  double last_loss = 0;

  void train_loop(int index) {
    torch::manual_seed(config.seed * 1000 + index + 1);
    Classifier replica(config, train.images.size(1), swarm);
    while (!stop && step < config.steps) {
      {
        std::lock_guard lock(mutex);
        copy_parameters(master, replica);
      }
      auto rows = torch::randint(train.images.size(0), {config.batch_size}, torch::kLong);
      try {
        replica->zero_grad();
        auto loss = torch::nn::functional::cross_entropy(
            replica->forward(train.images.index_select(0, rows)),
            train.labels.index_select(0, rows));
        loss.backward();
        double reached = replica->reached();
        std::lock_guard lock(mutex);
        auto target = master->parameters(), source = replica->parameters();
        for (size_t i = 0; i < target.size(); ++i) {
          target[i].mutable_grad() = source[i].grad().defined() ? source[i].grad().clone()
                                                                : torch::Tensor();
        }
        optimizer->step();
        ++step;
        samples += config.batch_size;
        failures_in_a_row = 0;
        last_loss = loss.item<double>();
        metrics.steps.inc();
        metrics.samples.inc(static_cast<double>(config.batch_size));
        metrics.loss.set(last_loss);
        loss_sum += last_loss;
        reached_sum += reached;
        ++loss_count;
      } catch (const std::exception& e) {
        ++failed_steps;
        metrics.failed_steps.inc();
        spdlog::warn("trainer {}: step failed: {}", index, e.what());
        if (++failures_in_a_row >= kMaxFailuresInARow) {
          std::lock_guard lock(mutex);
          fatal = fmt::format("{} steps in a row failed; last: {}", kMaxFailuresInARow, e.what());
          stop = true;
        }
        wait_after_failure(failures_in_a_row);
      }
    }
  }

  // The backoff after the `failures_in_a_row`th failure; cut short by stop.
  void wait_after_failure(int64_t failures_in_a_row) {
    const auto until = Clock::now() + backoff_after(failures_in_a_row);
    while (!stop && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // The classifier's logits for `images`, retried like a training step when
  // the swarm answers no expert (a server restarting): an evaluation during
  // a restart waits for it instead of ending the run.
  torch::Tensor logits_of(Classifier& model, const torch::Tensor& images) {
    for (int64_t failures = 1;; ++failures) {
      try {
        return model->forward(images);
      } catch (const std::exception& e) {
        if (failures >= kMaxFailuresInARow || stop) {
          fail("evaluation failed {} times in a row; last: {}", failures, e.what());
        }
        spdlog::warn("evaluation: a batch failed, retrying: {}", e.what());
        wait_after_failure(failures);
      }
    }
  }

  double evaluate() {
    Classifier model(config, test.images.size(1), swarm);
    {
      std::lock_guard lock(mutex);
      copy_parameters(master, model);
    }
    torch::NoGradGuard no_grad;
    int64_t total = config.eval_samples > 0 ? std::min(config.eval_samples, test.images.size(0))
                                            : test.images.size(0);
    int64_t correct = 0;
    for (int64_t start = 0; start < total; start += 500) {
      auto count = std::min<int64_t>(500, total - start);
      auto logits = logits_of(model, test.images.narrow(0, start, count));
      correct += logits.argmax(1).eq(test.labels.narrow(0, start, count)).sum().item<int64_t>();
    }
    return static_cast<double>(correct) / total;
  }

  void save(int64_t at_step) {
    if (config.save_path.empty()) return;
    TrainState state;
    {
      std::lock_guard lock(mutex);
      state = snapshot_train_state(*master, *optimizer, at_step);
    }
    save_train_state(config.save_path, state);
  }

  void resume() {
    if (config.resume_path.empty()) return;
    try {
      std::lock_guard lock(mutex);
      step = restore_train_state(config.resume_path, *master, *optimizer);
    } catch (const Error& e) {
      fail("--resume {}", e.what());
    }
    spdlog::info("resumed from {} at step {}", config.resume_path, step.load());
  }
};

Trainer::Trainer(TrainConfig config, std::shared_ptr<discovery::SwarmClient> swarm)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  impl_->swarm = std::move(swarm);
  impl_->train = load(impl_->config.data_dir, "train");
  impl_->test = load(impl_->config.data_dir, "t10k");
  torch::manual_seed(impl_->config.seed);
  impl_->master = Classifier(impl_->config, impl_->train.images.size(1), impl_->swarm);
  impl_->optimizer = std::make_unique<torch::optim::Adam>(
      impl_->master->parameters(), torch::optim::AdamOptions(impl_->config.lr));
  impl_->resume();
}

Trainer::~Trainer() = default;

void Trainer::run(const std::function<void(const Evaluation&)>& on_eval,
                  const std::function<void(const Progress&)>& on_progress) {
  auto& s = *impl_;
  auto started = Clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  int64_t first_step = s.step;
  std::vector<std::thread> trainers;
  for (int t = 0; t < s.config.trainers; ++t) trainers.emplace_back([&s, t] { s.train_loop(t); });

  auto evaluate = [&](int64_t at_step) {
    Evaluation e;
    e.step = at_step;
    e.test_accuracy = s.evaluate();
    s.metrics.accuracy.set(e.test_accuracy);
    s.metrics.evaluated_step.set(static_cast<double>(at_step));
    {
      std::lock_guard lock(s.mutex);
      e.loss = s.loss_count ? s.loss_sum / s.loss_count : s.last_loss;
      e.experts_reached = s.loss_count ? s.reached_sum / s.loss_count : 0;
      s.loss_sum = s.reached_sum = 0;
      s.loss_count = 0;
    }
    e.seconds = seconds();
    e.samples_per_s = s.samples / std::max(e.seconds, 1e-9);
    e.failed_steps = s.failed_steps;
    s.save(at_step);
    on_eval(e);
  };

  int64_t next_eval = first_step + s.config.eval_every;
  auto last_progress = Clock::now();
  try {
    while (s.step < s.config.steps && !s.stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (s.config.eval_every > 0 && s.step >= next_eval && s.step < s.config.steps) {
        evaluate(s.step);
        next_eval += s.config.eval_every;
      }
      if (Clock::now() - last_progress > std::chrono::milliseconds(500)) {
        last_progress = Clock::now();
        std::lock_guard lock(s.mutex);
        on_progress({s.step, s.last_loss, s.samples / std::max(seconds(), 1e-9),
                     s.loss_count ? s.reached_sum / s.loss_count : 0});
      }
    }
  } catch (...) {
    s.stop = true;
    for (auto& t : trainers) t.join();
    throw;
  }
  for (auto& t : trainers) t.join();
  if (!s.fatal.empty()) fail("training stopped: {}", s.fatal);
  evaluate(s.step);
}

}  // namespace hm::client
