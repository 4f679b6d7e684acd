// hm-moe train's --save / --resume file: the master model's parameters and
// buffers, its optimizer's state per parameter and the step, so that a run
// goes on where it stopped.
//
// A state file (hm/moe/state_file.h) with magic "HMTRAIN1" whose root is the
// tuple ("hm-moe train", 1, step, parameter names, parameters, buffer names,
// buffers, optimizer state per parameter: hm/moe/optimizer_state.h). Only
// strings, ints, None, tuples and tensors, every size checked before
// LibTorch reads it: a crafted or damaged file is refused with one line,
// never run as code or trusted for a size. Saves are atomic (a temp file,
// fsync, rename).
//
// Thread rules: snapshot_train_state and restore_train_state read or change
// the model and optimizer, so they must run where no step does (under the
// trainer's lock); save_train_state touches only its snapshot.
#pragma once

#include <cstdint>
#include <string>

#include <ATen/core/ivalue.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

namespace hm::client {

// Host copies of everything a save holds.
struct TrainState {
  c10::IValue root;
};

TrainState snapshot_train_state(const torch::nn::Module& master,
                                const torch::optim::Optimizer& optimizer, int64_t step);

// Writes `state` to `path` atomically. Throws hm::Error "checkpoint <path>:
// <reason>" when it cannot (disk full, no such directory).
void save_train_state(const std::string& path, const TrainState& state);

// Restores `master` and `optimizer` from the file at `path` and returns its
// step. Throws hm::Error "<path>: ..." naming the problem (not such a file,
// truncated, checksum mismatch, another model's shapes: "... (same
// --hidden-dim, --blocks and --grid as when it was saved?)"); the model and
// optimizer are unchanged then, since everything is checked first.
int64_t restore_train_state(const std::string& path, torch::nn::Module& master,
                            torch::optim::Optimizer& optimizer);

}  // namespace hm::client
