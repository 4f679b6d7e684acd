// hm-serve's command: which experts its flags ask for, and the serve
// sequence around them. serve() listens, joins the DHT and declares the
// experts there (with --dht), prints the bound HOST:PORT as the first line
// on stdout, serves until SIGINT/SIGTERM, then stops accepting, stops
// declaring, stops the experts (queued tasks fail with "server shutting
// down"; final checkpoint) and lets the last answers reach their clients.
//
// Torch-free: the experts come from the caller (hm-serve builds an
// hm::moe::ExpertServerHost), through the ServedExperts hooks.
//
// Threads: serve() runs the event loop on the calling thread and returns
// when it is done; the other functions are pure (fit_connections changes the
// process's open-file limit).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hm/base/address.h"
#include "hm/cli/limit_values.h"
#include "hm/rpc/expert_host.h"
#include "hm/tensor/compression.h"

namespace hm::cli {

// hm-serve's command line, as values (man hm-serve says what each means).
struct ServeFlags {
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> expert_uids;
  size_t num_experts = 0;
  std::string expert_pattern;
  std::string expert_cls = "ffn";
  int64_t hidden_dim = 1024;
  std::string module;
  std::vector<std::string> module_inputs;
  uint32_t max_batch_size = 4096;
  uint32_t min_batch_size = 1;
  double max_wait_ms = 50;
  std::string device = "cpu";
  std::string optimizer = "adam";
  double lr = 0;              // 0 = the optimizer's default
  double clip_grad_norm = 0;  // 0 = off
  uint64_t seed = 0;
  double stats_every = 0;     // seconds; 0 = off
  bool busy_idle = false;
  unsigned busy_poll_us = 0;
  CompressionPolicy compression;  // of outputs and input gradients
  ServerLimitFlags limits;
  DhtLimitFlags dht_limits;
  std::vector<std::string> dht_peers;
  double update_period = 30;
  std::string announce;
  std::string checkpoint_dir;
  double checkpoint_every = 0;  // seconds; 0 = only at shutdown
  std::string metrics;          // --metrics HOST:PORT; empty = off
};

// Throws hm::UsageError for a bad --listen or batch sizes (zero
// --max-batch-size, --min-batch-size above it): the checks made before any
// work.
void check_serve_flags(const ServeFlags& flags);

// The uids to host: --expert-uids (each a valid uid; not with
// --num-experts/--expert-pattern), else --num-experts of them sampled from
// --expert-pattern with --seed (all of the pattern without --num-experts),
// else expert.0 ... expert.N-1. Empty with only --checkpoint-dir (host what
// the checkpoints hold). Throws hm::UsageError naming the flag otherwise.
std::vector<std::string> choose_uids(const ServeFlags& flags);

// Makes room for `connections` sockets plus other files (the listening and
// DHT sockets, checkpoints): raises the open-file limit as far as its hard
// limit allows (hm::raise_file_limit). Returns how many connections fit:
// fewer, with a warning, when the hard limit is too low, so that
// --max-connections (which makes room by closing silent connections) bites
// before accept() runs out of file descriptors.
uint32_t fit_connections(uint32_t connections);

// The address the swarm should call: `bound` with the host `announce`
// (--announce), or `bound` itself; hm::UsageError when that is a wildcard
// (0.0.0.0, ::) that clients cannot call.
HostPort announced_address(const std::string& announce, const HostPort& bound);

// The experts that serve() hosts.
struct ServedExperts {
  std::shared_ptr<ExpertHost> host;                       // what the RPC server calls
  std::function<std::vector<std::string>()> stats_report;  // --stats-every lines
  std::function<void()> stop;  // refuse and fail tasks, final checkpoint
};

// Runs hm-serve as described above. `build` is called once SIGINT/SIGTERM
// are caught (a signal during a long build, e.g. restoring checkpoints,
// still shuts down gracefully). Returns 0 after the signal; throws what
// listening, joining the DHT and `build` throw.
int serve(const ServeFlags& flags, const std::function<ServedExperts()>& build);

}  // namespace hm::cli
