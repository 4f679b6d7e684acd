// hm-call: call one expert of an hm-serve process from a shell.
//   hm-call --server 127.0.0.1:7000 ffn.0.0 info
//   hm-call --server 127.0.0.1:7000 ffn.0.0 forward -i x.npy -o y.npy
//   hm-call --server 127.0.0.1:7000 ffn.0.0 backward -i x.npy -g dy.npy > dx.npy
//   hm-call --server 127.0.0.1:7000 list
#include <unistd.h>

#include <cstdio>

#include "hm/base/address.h"
#include "hm/base/allocator.h"
#include "hm/cli/app.h"
#include "hm/cli/expert_json.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"
#include "hm/swarm/dht_join.h"
#include "hm/tensor/tensor_io.h"

namespace {

struct Flags {
  std::string server;
  std::vector<std::string> dht_peers;
  std::string uid;
  std::string action;
  std::vector<std::string> inputs;
  std::vector<std::string> grads;
  std::string output;
  std::string format = "npy";
  double timeout = 30;
  bool json = false;
};

std::vector<hm::HostTensor> read_sources(const std::vector<std::string>& paths,
                                         hm::TensorFormat format, hm::DType text_dtype) {
  std::vector<hm::HostTensor> tensors;
  for (const auto& path : paths) {
    auto bytes = path == "-" ? hm::read_all_stdin() : hm::read_file(path);
    auto more = hm::read_tensors(bytes, format, text_dtype);
    if (more.empty()) hm::fail("{}: no tensors in it", path);
    tensors.insert(tensors.end(), more.begin(), more.end());
  }
  return tensors;
}

std::vector<hm::HostTensor> read_stdin(hm::TensorFormat format, hm::DType text_dtype) {
  if (isatty(STDIN_FILENO)) {
    throw hm::UsageError("no input tensors: give -i FILE or pipe tensors on stdin");
  }
  auto tensors = hm::read_tensors(hm::read_all_stdin(), format, text_dtype);
  if (tensors.empty()) hm::fail("stdin: no tensors in it");
  return tensors;
}

void write_output(const Flags& flags, hm::TensorFormat format,
                  const std::vector<hm::HostTensor>& tensors) {
  if (flags.output.empty() || flags.output == "-") {
    hm::write_tensors(STDOUT_FILENO, tensors, format, "stdout");
  } else {
    hm::write_tensors_to_file(flags.output, tensors, format);
  }
}

// The server hosting flags.uid, found through the DHT.
hm::HostPort find_server(hm::io::EventLoop& loop, const Flags& flags) {
  auto peers = hm::swarm::parse_peers(flags.dht_peers, "--dht");
  hm::dht::DhtNode node(loop.uv(), hm::swarm::client_node_config(peers));
  hm::rpc::wait_for(loop, hm::swarm::join(node, peers), flags.timeout, "joining the DHT");
  auto found = hm::rpc::wait_for(loop, hm::swarm::find_experts_async(node, {flags.uid}),
                                 flags.timeout, "looking up " + flags.uid + " in the DHT");
  if (!found[0]) hm::fail("no live expert '{}' in the DHT", flags.uid);
  spdlog::debug("{} is at {}", flags.uid, found[0]->server.to_string());
  return found[0]->server;
}

int run(const Flags& flags) {
  auto format = hm::format_from_name(flags.format);
  if (flags.action.empty() && flags.uid != "list") {
    throw hm::UsageError("missing ACTION after the uid: info, forward or backward");
  }
  if (flags.server.empty() == flags.dht_peers.empty()) {
    throw hm::UsageError("give the expert's server with --server HOST:PORT or find it with "
                         "--dht PEER... (one of them)");
  }
  if (flags.uid == "list" && flags.server.empty()) {
    throw hm::UsageError("list needs --server (it asks one server for its experts)");
  }
  hm::io::EventLoop loop;
  auto address = flags.server.empty() ? find_server(loop, flags)
                                      : hm::parse_host_port(flags.server, "--server");
  auto where = address.to_string();
  auto client = hm::rpc::wait_for(loop, hm::rpc::ExpertClient::connect(loop, address),
                                  flags.timeout, "connect to " + where);

  if (flags.uid == "list" && flags.action.empty()) {
    auto uids = hm::rpc::wait_for(loop, client->list(), flags.timeout, "list from " + where);
    if (flags.json) {
      std::printf("%s\n", nlohmann::json(uids).dump().c_str());
    } else {
      for (const auto& uid : uids) std::printf("%s\n", uid.c_str());
    }
    return 0;
  }

  auto info = hm::rpc::wait_for(loop, client->info(flags.uid), flags.timeout,
                                "info from " + where);
  if (flags.action == "info") {
    if (flags.json) {
      std::printf("%s\n", hm::cli::to_json(info).dump().c_str());
    } else {
      std::fputs(hm::cli::to_text(info).c_str(), stdout);
    }
    return 0;
  }
  // Text tensors carry no dtype: read them as the expert expects.
  auto text_dtype = info.inputs.empty() ? hm::DType::Float32 : info.inputs[0].dtype;

  if (flags.action == "forward") {
    if (!flags.grads.empty()) throw hm::UsageError("-g is only for backward");
    auto inputs = flags.inputs.empty() ? read_stdin(format, text_dtype)
                                       : read_sources(flags.inputs, format, text_dtype);
    auto outputs = hm::rpc::wait_for(loop, client->forward(flags.uid, inputs), flags.timeout,
                                     "forward on " + flags.uid + " at " + where);
    write_output(flags, format, outputs);
    return 0;
  }

  // backward: inputs then output gradients. With neither -i nor -g, stdin
  // holds both, split by the expert's input count.
  std::vector<hm::HostTensor> inputs, grads;
  if (flags.inputs.empty() && flags.grads.empty()) {
    auto all = read_stdin(format, text_dtype);
    if (all.size() != info.inputs.size() + info.outputs.size()) {
      hm::fail("backward on {} needs {} inputs then {} output gradients, stdin has {} tensors",
               flags.uid, info.inputs.size(), info.outputs.size(), all.size());
    }
    inputs.assign(all.begin(), all.begin() + info.inputs.size());
    grads.assign(all.begin() + info.inputs.size(), all.end());
  } else {
    inputs = flags.inputs.empty() ? read_stdin(format, text_dtype)
                                  : read_sources(flags.inputs, format, text_dtype);
    grads = flags.grads.empty() ? read_stdin(format, text_dtype)
                                : read_sources(flags.grads, format, text_dtype);
  }
  auto grad_inputs =
      hm::rpc::wait_for(loop, client->backward(flags.uid, inputs, grads), flags.timeout,
                        "backward on " + flags.uid + " at " + where);
  write_output(flags, format, grad_inputs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "Call one expert of an hm-serve server from a shell: print its description, run it "
      "forward, or run it backward (which also trains it). Tensors go in with -i/-g or on "
      "stdin and come out on stdout (or -o), as .npy by default.",
      "hm-call"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  Flags flags;
  app.add_option("--server,-s", flags.server, "Address of the hm-serve process (HOST:PORT)");
  app.add_option("--dht", flags.dht_peers,
                 "Find the expert's server through the DHT, joining through this peer "
                 "(repeat for several)")
      ->allow_extra_args(false);
  app.add_option("uid", flags.uid, "The expert's uid (e.g. ffn.0.3), or 'list' for every uid")
      ->required();
  app.add_option("action", flags.action, "info | forward | backward")
      ->check(CLI::IsMember({"info", "forward", "backward"}));
  app.add_option("-i,--input", flags.inputs,
                 "Input tensor file (repeat for several; a file may hold several records; "
                 "'-' = stdin). Default: stdin")
      ->allow_extra_args(false);
  app.add_option("-g,--grad", flags.grads,
                 "backward: gradient of an output (repeat for several). Without -i and -g, "
                 "stdin holds the inputs followed by the gradients")
      ->allow_extra_args(false);
  app.add_option("-o,--output", flags.output, "Write result tensors here instead of stdout");
  app.add_option("--format,-f", flags.format, "Tensor format in and out: npy, text, capnp")
      ->capture_default_str();
  app.add_option("--timeout", flags.timeout,
                 "Give up after this many seconds per call (0 = wait forever)")
      ->capture_default_str();
  app.add_flag("--json", flags.json, "info and list: print JSON");
  return hm::cli::run(app, argc, argv, common, [&] { return run(flags); });
}
