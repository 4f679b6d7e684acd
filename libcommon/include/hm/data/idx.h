// IDX files: the format of MNIST and Fashion-MNIST (Debian's
// dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist).
//
// An IDX file is a 4-byte magic (two zero bytes, a type code, the number of
// dimensions), one big-endian uint32 per dimension, then the elements in C
// order, big-endian. Type codes: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C
// int32, 0x0D float32, 0x0E float64. Files may be gzipped (detected by the
// 1f 8b magic, whatever the name).
//
// The reader trusts nothing in the file: it checks the element count and byte
// size against TensorLimits before allocating, never inflates more than the
// header announces plus one byte, and refuses truncated files and trailing
// data. Every error is one hm::Error line that starts with the path.
//
// Pure functions; any thread. Torch-free.
#pragma once

#include <string>

#include "hm/tensor/host_tensor.h"
#include "hm/tensor/limits.h"

namespace hm::data {

// Reads one IDX file (plain or gzipped) into a HostTensor in host byte order,
// with the file's dtype and shape. Throws hm::Error for a missing or
// unreadable file, a bad magic ("x.gz: not an IDX file (magic 0x1f8b)"), an
// unknown type code, no dimensions, a size over `limits`, truncated data
// ("header says 784 bytes of data, got 100"), trailing data, corrupt gzip.
HostTensor read_idx(const std::string& path, const TensorLimits& limits = {});

// One split of an MNIST-style dataset.
struct Split {
  HostTensor images;    // uint8 [N, rows, cols]
  HostTensor labels;    // uint8 [N]
  int num_classes = 0;  // largest label + 1 (0 when N == 0)
};

// Loads `dir`/<name>-images-idx3-ubyte and `dir`/<name>-labels-idx1-ubyte,
// each plain or with .gz (the plain file wins when both exist); `name` is
// "train" or "t10k" for (Fashion-)MNIST. Throws hm::Error when a file is
// missing (saying what it looked for and where Debian installs the dataset),
// unreadable, not uint8 of the right rank, or when images and labels differ
// in count. Messages start with "--data DIR: " (the flag hm-moe train takes).
Split load_idx_split(const std::string& dir, const std::string& name);

}  // namespace hm::data
