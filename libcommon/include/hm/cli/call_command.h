// hm-call's command: call one expert of an hm-serve process from a shell.
// call() finds the server (--server, or the uid's record in the DHT),
// connects, and runs the action: list the server's uids, print the
// expert's description (info), or run it forward or backward with tensors
// from -i/-g or stdin, writing the result to stdout or -o (see
// hm/cli/tensor_args.h).
//
// Threads: call() runs an event loop on the calling thread and returns when
// the action is done.
#pragma once

#include <string>
#include <vector>

#include "hm/tensor/compression.h"

namespace hm::cli {

// hm-call's command line, as values (man hm-call says what each means).
struct CallFlags {
  std::string server;
  std::vector<std::string> dht_peers;
  std::string uid;     // or "list"
  std::string action;  // info, forward, backward; "" with list
  std::vector<std::string> inputs;
  std::vector<std::string> grads;
  std::string output;
  std::string format = "npy";
  double timeout = 30;  // seconds per call; 0 = none
  CompressionPolicy compression;  // of the request tensors
  bool json = false;
};

// Throws hm::UsageError for a combination that cannot work: no action after
// a uid, neither or both of --server and --dht, list without --server.
void check_call_flags(const CallFlags& flags);

// Runs hm-call (after check_call_flags). Returns the exit code, 0; throws
// hm::UsageError or hm::Error with the one line to print.
int call(const CallFlags& flags);

}  // namespace hm::cli
