// hm-moe: a mixture-of-experts layer over the swarm, from a shell.
//   hm-moe forward  --dht 127.0.0.1:7000 --prefix ffn --grid 4x4 --k-best 4 -i x.npy > y.npy
//   hm-moe backward --dht 127.0.0.1:7000 --prefix ffn --grid 4x4 --k-best 4 -i x.npy -g dy.npy > dx.npy
#include <cstdio>

#include <nlohmann/json.hpp>

#include "hm/base/allocator.h"
#include "hm/base/expert_uid.h"
#include "hm/base/progress_line.h"
#include "hm/cli/app.h"
#include "hm/cli/busy_poll_flag.h"
#include "hm/cli/compression_flags.h"
#include "hm/cli/metrics_flag.h"
#include "hm/cli/metrics_server.h"
#include "hm/cli/tensor_args.h"
#include "hm/client/layer_command.h"

namespace {

using Flags = hm::client::LayerFlags;

int run(const Flags& flags, bool backward) {
  hm::cli::TensorArgs args;
  args.format = hm::format_from_name(flags.format);
  hm::parse_grid(flags.grid, "--grid");  // usage errors before any work
  if (backward && flags.grad.empty()) {
    throw hm::UsageError("backward needs -g FILE (output gradients)");
  }
  auto inputs =
      hm::cli::read_tensor_arg(args, flags.input, "no input: give -i FILE or pipe a tensor");
  std::function<hm::HostTensor()> output_grad;
  if (backward) {
    output_grad = [&] {
      return hm::cli::one_float_tensor(hm::cli::read_tensor_file(args, flags.grad), "-g");
    };
  }
  std::vector<hm::HostTensor> result{
      hm::client::run_layer(flags, hm::cli::one_float_tensor(inputs, "input"), output_grad)};
  hm::cli::write_tensor_result(args, flags.output, result);
  return 0;
}

int run_train(const Flags& flags) {
  auto metrics = hm::cli::serve_metrics(flags.metrics);
  // Progress on stderr: a live line on a terminal, a log line every 10 s otherwise.
  hm::ProgressLine progress(hm::ProgressLine::on_stderr(
      {.width = 78, .ending = hm::ProgressLine::Ending::Keep,
       .log_every = std::chrono::seconds(10)}));
  hm::client::train(
      flags,
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
      [&](const hm::client::Progress& p) {
        progress.show(fmt::format(
            "step {}/{}  loss {:.3f}  {:.0f} samples/s  experts reached {:.0f}%", p.step,
            flags.steps, p.loss, p.samples_per_s, 100 * p.experts_reached));
      });
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
  hm::cli::add_compression_flags(command, flags.compression, "the tensors sent to experts");
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
  hm::cli::add_metrics_flag(*train, flags.metrics);

  return hm::cli::run(app, argc, argv, common, [&] {
    hm::cli::apply_busy_poll(flags.busy_poll_us);
    if (train->parsed()) return run_train(flags);
    return run(flags, backward->parsed());
  });
}
