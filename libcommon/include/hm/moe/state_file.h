// State files: LibTorch values in a checked frame, the way expert
// checkpoints (checkpoint.h) and hm-moe train's --save files are written.
//
// Layout (little-endian):
//   magic                 8 bytes, one per kind of file ("HMCKPT02", ...)
//   payload size          uint64
//   payload checksum      uint64 (checksum64, checkpoint.h)
//   payload               what torch::pickle_save writes for one root value
// The root holds only strings, ints, None, tuples and tensors. Reading, the
// frame is checked first (a file cut short, padded or changed is corrupt),
// then every size the archive declares (hm/data/torch_archive.h,
// PickleGlobals::kTensorsOnly), and only then does LibTorch unpickle it:
// it never resolves a class, parses a type or compiles code.
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>

#include "hm/moe/checkpoint.h"

namespace hm::moe {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// One kind of state file: its magic, and the tuple its root is, which
// starts with (tag, format).
struct StateKind {
  std::string_view magic;  // 8 bytes: "HMCKPT02"
  std::string_view name;   // for errors: "hm checkpoint"
  std::string_view tag;    // the root's first field
  int64_t format;          // its second
  size_t fields;           // the root's size
};

// The whole file: frame and payload, for a root of state_root().
std::string frame_state(const StateKind& kind, const c10::IValue& root);

// The file at `path`, read whole. Throws CorruptCheckpoint "<path>: cannot
// open: <reason>".
std::string read_state_bytes(const std::string& path);

// The fields of the root of `file` (the bytes of the file at `path`), a
// state file of `kind`. Throws CorruptCheckpoint "<path>: ..." naming the
// problem: "not an <name> (12 bytes, no HMCKPT02 header)", "truncated:
// header says ...", "checksum mismatch ...", "unreadable archive: ...", "not
// an <name> archive", "<name> format 3 (this hm reads 2)".
std::vector<c10::IValue> parse_state(const std::string& path, const std::string& file,
                                     const StateKind& kind);

// The root tuple of `kind` that `fields` (after the tag and format) make.
c10::IValue state_root(const StateKind& kind, std::vector<c10::IValue> fields);

// Runs `read`, turning what torch throws while it takes a parsed root apart
// (c10::Error for a value of the wrong type, other std::exceptions) into
// CorruptCheckpoint "<path>: <what>: ..."; hm's own errors pass through.
template <typename Read>
void read_state(const std::string& path, std::string_view what, Read&& read) {
  try {
    read();
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& error) {
    throw CorruptCheckpoint(fmt::format("{}: {}: {}", path, what, error.what_without_backtrace()));
  } catch (const std::exception& error) {
    throw CorruptCheckpoint(fmt::format("{}: {}: {}", path, what, error.what()));
  }
}

// ("name", ...) and (tensor, ...) of `named`, for a root.
c10::IValue names_of(const NamedTensors& named);
c10::IValue tensors_of(const NamedTensors& named);

// The saved tensors of `what` ("parameter", "buffer"): the tuples `names`
// and `tensors` of a parsed root, checked against `current`, the module's
// own: same count, names, shapes and dtypes, each inside its storage.
// Throws CorruptCheckpoint for a malformed pair, hm::Error "<path>: ..."
// naming the difference (`whose` says what `current` belongs to: "this ffn
// expert", "this model").
std::vector<torch::Tensor> read_named_tensors(const std::string& path, const std::string& what,
                                              const c10::IValue& names,
                                              const c10::IValue& tensors,
                                              const NamedTensors& current,
                                              std::string_view whose);

}  // namespace hm::moe
