// Checkpoints: one file per expert, DIR/<uid>.pt, with everything needed to
// continue training where it stopped: parameters, buffers, optimizer state
// (Adam's exp_avg, exp_avg_sq and step; SGD's momentum), the step count and
// the examples processed.
//
// File layout: a state file (hm/moe/state_file.h: frame with checksum, then
// what torch::pickle_save writes) with magic "HMCKPT02", whose root is the
// tuple ("hm checkpoint", 2, uid, expert_cls, optimizer, hidden_dim, steps,
// examples, parameter names, parameters, buffer names, buffers, optimizer
// state per parameter: see optimizer_state.h). Only strings, ints, None,
// tuples and tensors: reading it, LibTorch never resolves a class, parses a
// type or compiles code, and every size it declares is checked before
// LibTorch sees it (hm/data/torch_archive.h); loaded tensors are checked
// against their storage. Format 1 (HMCKPT01, a TorchScript archive LibTorch
// would compile) is refused as corrupt.
// A file that is shorter or longer than its header says, or whose checksum
// differs, is corrupt: a save cut short by a crash can never pass for a good
// checkpoint. Saves are atomic besides: write_file_atomically writes a temp
// file next to the target, fsyncs it and renames it over the target, so the
// old checkpoint stays until the new one is complete.
//
// File names: the uid with every byte outside [A-Za-z0-9._-] written as %XX
// (hivemind uids may hold '/', spaces or UTF-8), plus ".pt". Uids never start
// with '.', so no checkpoint is a hidden file.
//
// Thread rules: pure functions, but serialize_checkpoint and
// restore_checkpoint touch a backend's module and optimizer, so they must run
// where no batch of that backend runs (the runtime thread between batches,
// see Runtime::post, or before the runtime starts / after it stopped).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "hm/base/error.h"

namespace hm::moe {

class ExpertBackend;

// A checkpoint file that cannot be read as one: truncated, bad checksum,
// unparsable archive, missing keys, or a uid other than its file name says.
// Restoring from it is impossible but hosting the expert fresh is not.
class CorruptCheckpoint : public Error {
 public:
  using Error::Error;
};

// What a checkpoint says about its expert, besides the tensors.
struct CheckpointHeader {
  std::string uid;
  std::string expert_cls;
  std::string optimizer;  // adam, sgd or none
  int64_t hidden_dim = 0;
  uint64_t steps = 0;
  uint64_t examples_processed = 0;
};

// "ffn.0.1" -> "ffn.0.1.pt", "a/b.3" -> "a%2Fb.3.pt".
std::string checkpoint_file_name(std::string_view uid);

// The uid a checkpoint file name stands for; nullopt for any other name
// (temp files of a save in progress, ".corrupt" files, unrelated files, names
// that do not decode to a valid uid).
std::optional<std::string> uid_of_checkpoint_file(std::string_view file_name);

// The checkpoints in `dir` by uid (full paths). Creates `dir` when missing
// and removes the temp files that interrupted saves left behind, logging
// each. Throws hm::Error when `dir` cannot be created or listed.
std::map<std::string, std::string> list_checkpoints(const std::string& dir);

// The whole checkpoint file of `backend` as bytes. `hidden_dim` is recorded
// for the mismatch check at restore. See the thread rules above.
std::string serialize_checkpoint(ExpertBackend& backend, int64_t hidden_dim);

// A consistent copy of one expert's state, in host memory. Opaque.
struct CheckpointSnapshot;

// Copies `backend`'s parameters, buffers, optimizer state (Adam, SGD) and
// counters: memcpys only, so that the runtime thread pauses as briefly as
// possible between two batches (see the thread rules above); serialize the
// copy on any thread. Throws hm::Error for an optimizer other than Adam or
// SGD (hm makes no other).
std::shared_ptr<const CheckpointSnapshot> take_snapshot(ExpertBackend& backend, int64_t hidden_dim);

// The whole checkpoint file of a snapshot, as bytes. Any thread.
std::string serialize_checkpoint(const CheckpointSnapshot& snapshot);

// Reads only what a checkpoint says about its expert, after checking the
// whole file's framing and checksum. Throws CorruptCheckpoint "<path>: ...".
CheckpointHeader read_checkpoint_header(const std::string& path);

// Restores `backend` from the file at `path`: weights, buffers, counters and,
// when the checkpoint was saved with the same optimizer kind, its state (the
// learning rate and other options stay as configured now). Throws
// CorruptCheckpoint when the file is unreadable, and hm::Error "<path>:
// ..." when it holds another expert kind, hidden dim or parameter shapes;
// either way the backend is unchanged (everything is checked before it
// changes). Returns the header. See the thread rules above.
CheckpointHeader restore_checkpoint(ExpertBackend& backend, int64_t hidden_dim,
                                    const std::string& path);

// Writes `bytes` to `path` atomically: "<path>.tmp", fsync, rename over
// `path`, fsync of the directory. On failure removes the temp file, leaves
// `path` as it was and throws hm::Error "checkpoint <path>: <reason>".
void write_file_atomically(const std::string& path, std::string_view bytes);

// A 64-bit checksum of `bytes` (FNV-style over 64-bit words, four lanes):
// any change of one aligned 8-byte word changes it. Not cryptographic.
uint64_t checksum64(std::span<const std::byte> bytes);

}  // namespace hm::moe
