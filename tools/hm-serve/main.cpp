// hm-serve: host experts for a swarm. Batches incoming requests per expert,
// runs them on one runtime thread per device, trains on backward.
//   hm-serve --listen 127.0.0.1:0 --num-experts 16 --expert-pattern 'ffn.[0:4].[0:4]'
#include "hm/base/allocator.h"
#include "hm/base/expert_kinds.h"
#include "hm/cli/app.h"
#include "hm/cli/busy_poll_flag.h"
#include "hm/cli/compression_flags.h"
#include "hm/cli/limit_flags.h"
#include "hm/cli/metrics_flag.h"
#include "hm/cli/serve_command.h"
#include "hm/serve/serve_experts.h"

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "Host experts for a decentralized mixture of experts: serve forward and backward "
      "calls over Cap'n Proto RPC, batching requests per expert, and train each expert on "
      "every backward batch. Prints the bound HOST:PORT as the first line on stdout.",
      "hm-serve"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  hm::cli::ServeFlags flags;
  app.add_option("--listen,-l", flags.listen, "HOST:PORT to listen on (port 0 = any free port)")
      ->capture_default_str();
  app.add_option("--expert-uids", flags.expert_uids, "Host exactly these uids (e.g. ffn.0.0 ffn.0.1)");
  app.add_option("--num-experts,-n", flags.num_experts,
                 "Host this many experts (uids from --expert-pattern, else expert.0 ...)");
  app.add_option("--expert-pattern", flags.expert_pattern,
                 "Pick uids at random from a grid, e.g. 'ffn.[0:4].[0:4]' (all of it when "
                 "--num-experts is not given)");
  app.add_option("--expert-cls", flags.expert_cls,
                 "Built-in expert kind: " + hm::builtin_expert_kinds_text())
      ->capture_default_str()
      ->check(CLI::IsMember(std::vector<std::string>(hm::kBuiltinExpertKinds.begin(),
                                                     hm::kBuiltinExpertKinds.end())));
  app.add_option("--hidden-dim", flags.hidden_dim, "Hidden size of the built-in experts")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--module", flags.module,
                 "Host this TorchScript module file (torch.jit.save) under every uid")
      ->check(CLI::ExistingFile);
  app.add_option("--module-inputs", flags.module_inputs,
                 "--module's inputs, e.g. 'float32[*,64]' 'int64[*]' (default: one "
                 "float32[*,HIDDEN_DIM])");
  app.add_option("--max-batch-size", flags.max_batch_size,
                 "Most rows in one batch; a request with more is refused")
      ->capture_default_str();
  app.add_option("--min-batch-size", flags.min_batch_size,
                 "Wait for this many rows before running a batch (at most --max-wait-ms)")
      ->capture_default_str();
  app.add_option("--max-wait-ms", flags.max_wait_ms,
                 "Longest a request waits for --min-batch-size rows")
      ->capture_default_str();
  app.add_option("--device", flags.device, "cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--optimizer", flags.optimizer, "adam, sgd or none")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "sgd", "none"}));
  app.add_option("--lr", flags.lr, "Learning rate (default: 0.001 for adam, 0.01 for sgd)");
  app.add_option("--clip-grad-norm", flags.clip_grad_norm,
                 "Clip each expert's gradient norm to this before a step (0 = off)");
  app.add_option("--seed", flags.seed,
                 "Seed for expert weights (each expert's weights depend on seed and uid) and "
                 "for --expert-pattern")
      ->capture_default_str();
  app.add_option("--stats-every", flags.stats_every,
                 "Log batches/s, samples/s and mean batch size per pool every SECONDS (0 = off)")
      ->capture_default_str();
  app.add_flag("--busy-idle", flags.busy_idle,
               "Keep idle CPUs polling while serving (/dev/cpu_dma_latency; root): lower "
               "latency on machines whose idle CPUs halt, at the cost of busy CPUs");
  hm::cli::add_busy_poll_flag(app, flags.busy_poll_us);
  hm::cli::add_compression_flags(app, flags.compression,
                                 "the outputs and input gradients it sends");
  hm::cli::add_server_limit_flags(app, flags.limits);
  app.add_option("--dht", flags.dht_peers,
                 "Join the DHT through these peers (HOST:PORT...) and declare every expert "
                 "there; the DHT node uses the server's port number over UDP");
  app.add_option("--update-period", flags.update_period,
                 "With --dht: re-declare the experts every SECONDS (they expire after twice that)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  hm::cli::add_dht_limit_flags(app, flags.dht_limits);
  app.add_option("--announce", flags.announce,
                 "With --dht: the host clients should call (default: the --listen host)");
  auto* checkpoint_dir = app.add_option("--checkpoint-dir", flags.checkpoint_dir,
                 "Save each expert (weights, optimizer state, step count) to DIR/UID.pt at "
                 "shutdown; at start, restore and host every expert found there");
  app.add_option("--checkpoint-every", flags.checkpoint_every,
                 "With --checkpoint-dir: also save every SECONDS (0 = only at shutdown)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(checkpoint_dir);
  hm::cli::add_metrics_flag(app, flags.metrics);
  return hm::cli::run(app, argc, argv, common, [&] { return hm::serve::serve_experts(flags); });
}
