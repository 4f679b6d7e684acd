#include "hm/serve/serve_experts.h"

#include <memory>

#include "hm/tensor/tensor_spec_parse.h"

namespace hm::serve {

moe::ExpertServerConfig server_config(const cli::ServeFlags& flags,
                                      std::vector<std::string> uids) {
  moe::ExpertServerConfig config;
  config.uids = std::move(uids);
  config.expert_cls = flags.module.empty() ? flags.expert_cls : "module";
  config.hidden_dim = flags.hidden_dim;
  config.module_path = flags.module;
  for (const auto& text : flags.module_inputs) {
    config.module_inputs.push_back(parse_tensor_spec(text));
  }
  config.optimizer = flags.optimizer;
  if (flags.lr > 0) config.lr = flags.lr;
  if (flags.clip_grad_norm > 0) config.clip_grad_norm = flags.clip_grad_norm;
  config.max_batch_size = flags.max_batch_size;
  config.min_batch_size = flags.min_batch_size;
  config.max_wait = std::chrono::milliseconds(static_cast<int64_t>(flags.max_wait_ms));
  config.device = flags.device;
  config.seed = flags.seed;
  config.checkpoint_dir = flags.checkpoint_dir;
  config.checkpoint_every =
      std::chrono::milliseconds(static_cast<int64_t>(flags.checkpoint_every * 1000));
  return config;
}

int serve_experts(const cli::ServeFlags& flags) {
  cli::check_serve_flags(flags);
  auto config = server_config(flags, cli::choose_uids(flags));
  return cli::serve(flags, [&config] {
    auto host = std::make_shared<moe::ExpertServerHost>(config);
    return cli::ServedExperts{
        host, [host] { return host->stats_report(); }, [host] { host->stop(); }};
  });
}

}  // namespace hm::serve
