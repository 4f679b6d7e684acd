#include "hm/cli/call_command.h"

#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "hm/base/address.h"
#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/cli/expert_json.h"
#include "hm/cli/tensor_args.h"
#include "hm/discovery/dht_join.h"
#include "hm/discovery/expert_declarer.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/blocking.h"
#include "hm/rpc/expert_client.h"

namespace hm::cli {
namespace {

constexpr std::string_view kNoInput = "no input tensors: give -i FILE or pipe tensors on stdin";

// The server hosting flags.uid, found through the DHT.
HostPort find_server(io::EventLoop& loop, const CallFlags& flags) {
  auto peers = discovery::parse_peers(flags.dht_peers, "--dht");
  dht::DhtNode node(loop, discovery::client_node_config(peers));
  rpc::wait_for(loop, discovery::join(node, peers), flags.timeout, "joining the DHT");
  auto found = rpc::wait_for(loop, discovery::find_experts(node, {flags.uid}),
                             flags.timeout, "looking up " + flags.uid + " in the DHT");
  if (!found[0]) fail("no live expert '{}' in the DHT", flags.uid);
  spdlog::debug("{} is at {}", flags.uid, found[0]->server.to_string());
  return found[0]->server;
}

}  // namespace

void check_call_flags(const CallFlags& flags) {
  if (flags.action.empty() && flags.uid != "list") {
    throw UsageError("missing ACTION after the uid: info, forward or backward");
  }
  if (flags.server.empty() == flags.dht_peers.empty()) {
    throw UsageError("give the expert's server with --server HOST:PORT or find it with "
                     "--dht PEER... (one of them)");
  }
  if (flags.uid == "list" && flags.server.empty()) {
    throw UsageError("list needs --server (it asks one server for its experts)");
  }
}

int call(const CallFlags& flags) {
  TensorArgs args;
  args.format = format_from_name(flags.format);
  check_call_flags(flags);
  io::EventLoop loop;
  auto address =
      flags.server.empty() ? find_server(loop, flags) : parse_host_port(flags.server, "--server");
  auto where = address.to_string();
  auto client = rpc::wait_for(loop, rpc::ExpertClient::connect(loop, address, flags.compression), flags.timeout,
                              "connect to " + where);

  if (flags.uid == "list" && flags.action.empty()) {
    auto uids = rpc::wait_for(loop, client->list(), flags.timeout, "list from " + where);
    if (flags.json) {
      std::printf("%s\n", nlohmann::json(uids).dump().c_str());
    } else {
      for (const auto& uid : uids) std::printf("%s\n", uid.c_str());
    }
    return 0;
  }

  auto info = rpc::wait_for(loop, client->info(flags.uid), flags.timeout, "info from " + where);
  if (flags.action == "info") {
    if (flags.json) {
      std::printf("%s\n", to_json(info).dump().c_str());
    } else {
      std::fputs(to_text(info).c_str(), stdout);
    }
    return 0;
  }
  // Text tensors carry no dtype: read them as the expert expects.
  args.text_dtype = info.inputs.empty() ? DType::Float32 : info.inputs[0].dtype;

  // The server drops the call once --timeout has passed (0: no deadline).
  const CallDeadline deadline = CallDeadline::in_seconds(flags.timeout);
  if (flags.action == "forward") {
    if (!flags.grads.empty()) throw UsageError("-g is only for backward");
    auto inputs = read_tensor_args(args, flags.inputs, kNoInput);
    auto outputs = rpc::wait_for(loop, client->forward(flags.uid, inputs, deadline), flags.timeout,
                                 "forward on " + flags.uid + " at " + where);
    write_tensor_result(args, flags.output, outputs);
    return 0;
  }

  // backward: inputs then output gradients. With neither -i nor -g, stdin
  // holds both, split by the expert's input count.
  std::vector<HostTensor> inputs, grads;
  if (flags.inputs.empty() && flags.grads.empty()) {
    auto all = read_tensor_args(args, {}, kNoInput);
    if (all.size() != info.inputs.size() + info.outputs.size()) {
      fail("backward on {} needs {} inputs then {} output gradients, stdin has {} tensors",
           flags.uid, info.inputs.size(), info.outputs.size(), all.size());
    }
    inputs.assign(all.begin(), all.begin() + info.inputs.size());
    grads.assign(all.begin() + info.inputs.size(), all.end());
  } else {
    inputs = read_tensor_args(args, flags.inputs, kNoInput);
    grads = read_tensor_args(args, flags.grads, kNoInput);
  }
  auto grad_inputs = rpc::wait_for(loop, client->backward(flags.uid, inputs, grads, deadline),
                                   flags.timeout, "backward on " + flags.uid + " at " + where);
  write_tensor_result(args, flags.output, grad_inputs);
  return 0;
}

}  // namespace hm::cli
