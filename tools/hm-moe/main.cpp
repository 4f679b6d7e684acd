// hm-moe: a mixture-of-experts layer over the swarm, from a shell.
//   hm-moe forward  --dht 127.0.0.1:7000 --prefix ffn --grid 4x4 --k-best 4 -i x.npy > y.npy
//   hm-moe backward --dht 127.0.0.1:7000 --prefix ffn --grid 4x4 --k-best 4 -i x.npy -g dy.npy > dx.npy
#include <torch/torch.h>
#include <unistd.h>

#include <charconv>
#include <chrono>

#include <nlohmann/json.hpp>

#include "hm/base/allocator.h"
#include "hm/cli/app.h"
#include "hm/cli/busy_poll_flag.h"
#include "hm/client/mixture.h"
#include "hm/client/trainer.h"
#include "hm/tensor/tensor_io.h"
#include "hm/torch/torch_bridge.h"

namespace {

struct Flags {
  std::vector<std::string> dht;
  std::string prefix;
  std::string grid;
  size_t k_best = 4;
  size_t k_min = 1;
  double forward_timeout = 0;
  double timeout_after_k_min = 0;
  size_t backward_k_min = 1;
  double backward_timeout = 0;
  bool allow_zero_outputs = false;
  unsigned busy_poll_us = 0;
  bool detect_anomalies = false;
  std::string gate;
  std::string save_gate;
  uint64_t seed = 0;
  std::string input;
  std::string grad;
  std::string output;
  std::string format = "npy";
  // train
  int64_t hidden_dim = 64;
  int blocks = 2;
  int64_t steps = 1000;
  int64_t batch_size = 64;
  int trainers = 4;
  int64_t eval_every = 100;
  int64_t eval_samples = 10000;
  double inject_failures = 0;
  double latency_ms = 0;
  double lr = 1e-3;
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string save;
  std::string resume;
  bool json = false;
};

std::vector<int64_t> parse_grid(const std::string& text) {
  std::vector<int64_t> dims;
  std::string_view rest = text;
  while (true) {
    auto x = rest.find('x');
    auto part = rest.substr(0, x);
    int64_t value = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || value <= 0) {
      throw hm::UsageError(fmt::format("--grid: bad grid '{}' (expected sizes like 4x4)", text));
    }
    dims.push_back(value);
    if (x == std::string_view::npos) return dims;
    rest.remove_prefix(x + 1);
  }
}

hm::client::MixtureConfig mixture_config(const Flags& flags, int64_t in_features) {
  hm::client::MixtureConfig config;
  config.in_features = in_features;
  config.grid.prefix = flags.prefix.ends_with('.') ? flags.prefix : flags.prefix + ".";
  config.grid.dims = parse_grid(flags.grid);
  config.k_best = flags.k_best;
  config.k_min = flags.k_min;
  if (flags.forward_timeout > 0) config.forward_timeout = flags.forward_timeout;
  if (flags.timeout_after_k_min > 0) config.timeout_after_k_min = flags.timeout_after_k_min;
  config.backward_k_min = flags.backward_k_min;
  if (flags.backward_timeout > 0) config.backward_timeout = flags.backward_timeout;
  config.allow_zero_outputs = flags.allow_zero_outputs;
  config.detect_anomalies = flags.detect_anomalies;
  return config;
}

std::vector<hm::HostTensor> read_input(const std::string& path, hm::TensorFormat format) {
  if (path.empty() || path == "-") {
    if (isatty(STDIN_FILENO)) throw hm::UsageError("no input: give -i FILE or pipe a tensor");
    return hm::read_tensors(hm::read_all_stdin(), format);
  }
  return hm::read_tensors(hm::read_file(path), format);
}

torch::Tensor one_tensor(const std::vector<hm::HostTensor>& tensors, const char* what) {
  if (tensors.size() != 1) hm::fail("{}: expected one tensor, got {}", what, tensors.size());
  auto tensor = hm::to_torch(tensors[0]);
  if (tensor.dim() < 2 || !tensor.is_floating_point()) {
    hm::fail("{}: expected a float tensor [batch, ..., features], got {}", what,
             hm::describe(tensors[0]));
  }
  return tensor.to(torch::kFloat).clone();
}

void load_gate(hm::client::RemoteMixtureOfExperts& moe, const Flags& flags) {
  if (flags.gate.empty()) return;
  auto tensors = hm::read_tensors(hm::read_file(flags.gate), hm::TensorFormat::Npy);
  torch::NoGradGuard no_grad;
  auto& weight = moe->gate->weight;
  auto& bias = moe->gate->bias;
  if (tensors.size() != 2 || hm::to_torch(tensors[0]).sizes() != weight.sizes() ||
      hm::to_torch(tensors[1]).sizes() != bias.sizes()) {
    hm::fail("--gate {}: expected two .npy records, weight [{}, {}] and bias [{}]", flags.gate,
             weight.size(0), weight.size(1), bias.size(0));
  }
  weight.copy_(hm::to_torch(tensors[0]));
  bias.copy_(hm::to_torch(tensors[1]));
}

void save_gate(hm::client::RemoteMixtureOfExperts& moe, const Flags& flags) {
  if (flags.save_gate.empty()) return;
  std::vector<hm::HostTensor> tensors{hm::from_torch(moe->gate->weight.detach().contiguous()),
                                      hm::from_torch(moe->gate->bias.detach().contiguous())};
  hm::write_tensors_to_file(flags.save_gate, tensors, hm::TensorFormat::Npy);
}

int run(const Flags& flags, bool backward) {
  auto format = hm::format_from_name(flags.format);
  parse_grid(flags.grid);  // usage errors before any work
  if (backward && flags.grad.empty()) throw hm::UsageError("backward needs -g FILE (output gradients)");
  auto x = one_tensor(read_input(flags.input, format), "input");
  torch::manual_seed(flags.seed);
  auto swarm = std::make_shared<hm::swarm::SwarmClient>(flags.dht);
  hm::client::RemoteMixtureOfExperts moe(mixture_config(flags, x.size(-1)), swarm);
  load_gate(moe, flags);
  save_gate(moe, flags);

  if (backward) x.requires_grad_(true);
  auto y = moe->forward(x);
  const auto& stats = moe->last_stats();
  spdlog::info("{} experts asked, {} answered; beam search {:.1f} ms, calls {:.1f} ms",
               stats.experts_asked, stats.experts_answered, stats.search_seconds * 1e3,
               stats.call_seconds * 1e3);
  std::vector<hm::HostTensor> result;
  if (backward) {
    auto dy = one_tensor(hm::read_tensors(hm::read_file(flags.grad), format), "-g");
    if (dy.sizes() != y.sizes()) {
      hm::fail("-g: output gradient has shape [{}], the output is [{}]", fmt::join(dy.sizes(), ", "),
               fmt::join(y.sizes(), ", "));
    }
    y.backward(dy);
    result.push_back(hm::from_torch(x.grad().contiguous()));
  } else {
    result.push_back(hm::from_torch(y.detach().contiguous()));
  }
  if (flags.output.empty() || flags.output == "-") {
    hm::write_tensors(STDOUT_FILENO, result, format, "stdout");
  } else {
    hm::write_tensors_to_file(flags.output, result, format);
  }
  return 0;
}

// Progress on stderr: a live line on a terminal, a log line every 10 s otherwise.
class ProgressLine {
 public:
  explicit ProgressLine(int64_t total) : total_(total), tty_(isatty(STDERR_FILENO)) {}
  ~ProgressLine() {
    if (tty_ && drawn_) std::fputc('\n', stderr);
  }
  void show(const hm::client::Progress& p) {
    auto line = fmt::format("step {}/{}  loss {:.3f}  {:.0f} samples/s  experts reached {:.0f}%",
                            p.step, total_, p.loss, p.samples_per_s, 100 * p.experts_reached);
    if (tty_) {
      std::fprintf(stderr, "\r%-78s", line.c_str());
      drawn_ = true;
    } else if (std::chrono::steady_clock::now() - last_ > std::chrono::seconds(10)) {
      last_ = std::chrono::steady_clock::now();
      spdlog::info("{}", line);
    }
  }
  void clear() {
    if (tty_ && drawn_) std::fprintf(stderr, "\r%78s\r", "");
  }

 private:
  int64_t total_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

int run_train(const Flags& flags) {
  if (flags.trainers < 1) throw hm::UsageError("--trainers must be at least 1");
  if (flags.blocks < 1) throw hm::UsageError("--blocks must be at least 1");
  if (flags.batch_size < 1 || flags.steps < 1) {
    throw hm::UsageError("--batch-size and --steps must be at least 1");
  }
  if (flags.inject_failures < 0 || flags.inject_failures >= 1) {
    throw hm::UsageError("--inject-failures must be in [0, 1)");
  }
  torch::set_num_threads(1);  // the trainers are the parallelism
  hm::client::TrainConfig config;
  config.block = mixture_config(flags, flags.hidden_dim);
  config.block.inject_failures = flags.inject_failures;
  config.block.latency_ms = flags.latency_ms;
  config.hidden_dim = flags.hidden_dim;
  config.blocks = flags.blocks;
  config.steps = flags.steps;
  config.batch_size = flags.batch_size;
  config.trainers = flags.trainers;
  config.eval_every = flags.eval_every;
  config.eval_samples = flags.eval_samples;
  config.lr = flags.lr;
  config.seed = flags.seed;
  config.data_dir = flags.data;
  config.save_path = flags.save;
  config.resume_path = flags.resume;
  auto swarm = std::make_shared<hm::swarm::SwarmClient>(flags.dht);
  hm::client::Trainer trainer(config, swarm);
  ProgressLine progress(flags.steps);
  trainer.run(
      [&](const hm::client::Evaluation& e) {
        progress.clear();
        if (flags.json) {
          nlohmann::json row{{"step", e.step},
                             {"loss", e.loss},
                             {"test_accuracy", e.test_accuracy},
                             {"samples_per_s", e.samples_per_s},
                             {"seconds", e.seconds},
                             {"experts_reached", e.experts_reached},
                             {"failed_steps", e.failed_steps}};
          std::printf("%s\n", row.dump().c_str());
        } else {
          std::printf("step %6lld  loss %.4f  test accuracy %.4f  %.0f samples/s  %.0f s\n",
                      static_cast<long long>(e.step), e.loss, e.test_accuracy, e.samples_per_s,
                      e.seconds);
        }
        std::fflush(stdout);
      },
      [&](const hm::client::Progress& p) { progress.show(p); });
  return 0;
}

void add_swarm_flags(CLI::App& command, Flags& flags) {
  command.add_option("--dht", flags.dht, "DHT peers to join through (HOST:PORT, repeatable)")
      ->required()
      ->allow_extra_args(false);
  command.add_option("--prefix", flags.prefix, "Expert uid prefix, e.g. ffn (uids ffn.i.j)")
      ->required();
  command.add_option("--grid", flags.grid, "Grid size per dimension, e.g. 4x4")->required();
  command.add_option("--k-best", flags.k_best, "Experts per sample")->capture_default_str();
  command.add_option("--k-min", flags.k_min,
                     "Answers needed (in all) for forward to succeed")->capture_default_str();
  command.add_option("--forward-timeout", flags.forward_timeout,
                     "Seconds for the whole forward, beam search included (0 = none)");
  command.add_option("--timeout-after-k-min", flags.timeout_after_k_min,
                     "Once every sample has k-min answers, wait at most this much more");
  command.add_option("--backward-k-min", flags.backward_k_min,
                     "Gradients needed for backward to succeed")->capture_default_str();
  command.add_option("--backward-timeout", flags.backward_timeout,
                     "Seconds for backward (0 = none)");
  command.add_flag("--allow-zero-outputs", flags.allow_zero_outputs,
                   "Return zeros instead of failing when no expert answers");
  command.add_flag("--detect-anomalies", flags.detect_anomalies,
                   "Refuse non-finite inputs/gradients; drop experts with non-finite outputs");
  hm::cli::add_busy_poll_flag(command, flags.busy_poll_us);
}

void add_layer_flags(CLI::App& command, Flags& flags) {
  add_swarm_flags(command, flags);
  auto* gate = command.add_option("--gate", flags.gate,
                                  "Gating weights: .npy with weight [sum(grid), in] then bias");
  command.add_option("--seed", flags.seed, "Seed for a fresh gate (without --gate)")
      ->excludes(gate);
  command.add_option("--save-gate", flags.save_gate, "Write the gate used to this .npy file");
  command.add_option("-i,--input", flags.input, "Input tensor [batch, ..., in] (default: stdin)");
  command.add_option("-o,--output", flags.output, "Write the result here instead of stdout");
  command.add_option("--format,-f", flags.format, "Tensor format: npy, text, capnp")
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "A mixture-of-experts layer over the swarm: route every input row to the k best live "
      "experts found in the DHT, call them in parallel, and return the gated sum (forward), "
      "or the input gradient while training the experts (backward).",
      "hm-moe"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  app.require_subcommand(1);
  Flags flags;
  auto* forward = app.add_subcommand("forward", "Run the layer on -i, print its output");
  add_layer_flags(*forward, flags);
  auto* backward = app.add_subcommand(
      "backward", "Run forward, then backward with the output gradient -g; print the input "
                  "gradient (the experts take an optimizer step)");
  add_layer_flags(*backward, flags);
  backward->add_option("-g,--grad", flags.grad, "Gradient of the output (same shape)");

  auto* train = app.add_subcommand(
      "train", "Train Linear(784,d) -> blocks of remote mixtures -> Linear(d,10) on an IDX "
               "image dataset (Fashion-MNIST by default) with several asynchronous trainers; "
               "prints one line (or JSON object) per evaluation");
  add_swarm_flags(*train, flags);
  train->add_option("--hidden-dim,-d", flags.hidden_dim,
                    "Width d of the model (the experts' --hidden-dim)")->capture_default_str();
  train->add_option("--blocks,-L", flags.blocks, "Mixture-of-experts blocks")->capture_default_str();
  train->add_option("--steps", flags.steps, "Optimizer steps in all")->capture_default_str();
  train->add_option("--batch-size", flags.batch_size, "Samples per step")->capture_default_str();
  train->add_option("--trainers", flags.trainers, "Trainer threads sharing the model")
      ->capture_default_str();
  train->add_option("--eval-every", flags.eval_every, "Steps between test evaluations")
      ->capture_default_str();
  train->add_option("--eval-samples", flags.eval_samples,
                    "Test samples per evaluation (0 = the whole test set)")->capture_default_str();
  train->add_option("--inject-failures", flags.inject_failures,
                    "Drop this fraction of expert calls (0..1)")->capture_default_str();
  train->add_option("--latency-ms", flags.latency_ms,
                    "Delay each expert call by an exponentially distributed time of this mean")
      ->capture_default_str();
  train->add_option("--lr", flags.lr, "Adam learning rate of the local layers and gates")
      ->capture_default_str();
  train->add_option("--seed", flags.seed, "Seed for the local layers, gates and batches")
      ->capture_default_str();
  train->add_option("--data", flags.data, "Directory with {train,t10k}-{images-idx3,labels-idx1}"
                    "-ubyte[.gz]")->capture_default_str();
  train->add_option("--save", flags.save, "Checkpoint the local layers, gates and optimizer "
                    "here after every evaluation (atomically)");
  train->add_option("--resume", flags.resume, "Start from a --save checkpoint");
  train->add_flag("--json", flags.json, "One JSON object per evaluation on stdout");

  return hm::cli::run(app, argc, argv, common, [&] {
    hm::cli::apply_busy_poll(flags.busy_poll_us);
    if (train->parsed()) return run_train(flags);
    return run(flags, backward->parsed());
  });
}
