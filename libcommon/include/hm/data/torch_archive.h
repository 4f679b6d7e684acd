// A check of a LibTorch archive (the zip that torch::save and
// torch::serialize::OutputArchive write: <root>/data.pkl, <root>/data/<key>
// tensor storages, <root>/code/..., <root>/constants.pkl) before LibTorch
// reads it. LibTorch 1.13 trusts the sizes an archive declares:
//   - its unpickler zero-fills the length a string opcode declares before it
//     finds the bytes missing (4 GiB for a 32-bit length), and fills the
//     memo up to any id a put opcode names (64 GiB for id 2^32-1);
//   - a storage reference says how many elements a tensor's storage holds,
//     and LibTorch believes it over the record it reads the bytes from, so a
//     short record means reads past its end later;
//   - a record is allocated at the size its central-directory entry
//     declares, whatever it stores.
// check_torch_archive walks the zip (see zip_records.h for its rules) and
// runs every pickle record (*.pkl, *.debug_pkl; inflated first when
// deflated, to exactly its declared size) through a model of
// LibTorch's unpickler that bounds each of these by the archive's own bytes:
// every declared length fits in what is left of its record, memo ids grow
// one at a time, every storage reference names a record at least as long as
// the storage it declares, pickles use only the opcodes LibTorch reads and
// never pop below their innermost mark. The legacy format (a model.json
// record, which LibTorch would hand to another reader) is refused. What
// passes costs LibTorch at most a few times the archive's size to read.
//
// What it does not check: tensor views (sizes, strides and offsets inside
// their storage) — check those on the loaded tensors (the checkpoint reader
// does) — and the TorchScript code records, which LibTorch's compiler
// parses (and which crash it when crafted: read only archives of
// kTensorsOnly from outside).
//
// Pure functions; any thread. Torch-free.
#pragma once

#include <cstddef>
#include <span>

namespace hm::data {

// What the pickles of an archive may name with GLOBAL.
enum class PickleGlobals {
  // Anything: TorchScript modules name their classes, which LibTorch then
  // compiles from the archive's code records.
  kAny,
  // Only what plain tensors need (torch._utils._rebuild_tensor_v2,
  // torch.<Type>Storage, collections.OrderedDict): LibTorch then never
  // resolves a class, parses a type or compiles code. For archives of
  // tensors, strings, ints and tuples (torch::pickle_save).
  kTensorsOnly,
};

// Throws hm::Error "<what is wrong>" (e.g. "pickle archive/data.pkl, offset
// 81: string of 4294967295 bytes, 12 bytes left") when `archive` breaks a
// rule above or names a global `globals` does not allow.
void check_torch_archive(std::span<const std::byte> archive,
                         PickleGlobals globals = PickleGlobals::kAny);

}  // namespace hm::data
