// hm-call: call one expert of an hm-serve process from a shell.
//   hm-call --server 127.0.0.1:7000 ffn.0.0 info
//   hm-call --server 127.0.0.1:7000 ffn.0.0 forward -i x.npy -o y.npy
//   hm-call --server 127.0.0.1:7000 ffn.0.0 backward -i x.npy -g dy.npy > dx.npy
//   hm-call --server 127.0.0.1:7000 list
#include "hm/base/allocator.h"
#include "hm/cli/app.h"
#include "hm/cli/call_command.h"
#include "hm/cli/compression_flags.h"

int main(int argc, char** argv) {
  hm::tune_allocator();
  CLI::App app{
      "Call one expert of an hm-serve server from a shell: print its description, run it "
      "forward, or run it backward (which also trains it). Tensors go in with -i/-g or on "
      "stdin and come out on stdout (or -o), as .npy by default.",
      "hm-call"};
  hm::cli::CommonFlags common;
  hm::cli::add_common_flags(app, common);
  hm::cli::CallFlags flags;
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
  hm::cli::add_compression_flags(app, flags.compression, "the tensors it sends");
  app.add_flag("--json", flags.json, "info and list: print JSON");
  return hm::cli::run(app, argc, argv, common, [&] { return hm::cli::call(flags); });
}
