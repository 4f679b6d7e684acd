// --compression KIND and --compression-min-bytes N: the flags of every tool
// that sends tensors (hm-serve for its responses; hm-call, hm-moe and
// hm-bench for their requests). KIND is one of compression_kinds()'s names
// (hm/tensor/compression.h); a receiver decodes whatever kind a tensor
// names, so the two ends need not agree. Header-only (CLI11), for the
// tools' main.cpp and their command modules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "hm/tensor/compression.h"

namespace hm::cli {

// Tensors under this many bytes go raw by default: below it, the 1 KiB
// tables of the 8-bit kinds outweigh what they save.
inline constexpr size_t kDefaultCompressionMinBytes = 4096;

inline std::vector<std::string> compression_kind_names() {
  std::vector<std::string> names;
  for (auto kind : compression_kinds()) names.emplace_back(compression_name(kind));
  return names;
}

// `what` says which tensors the flag compresses ("the outputs and input
// gradients it sends", "request tensors").
inline void add_compression_flags(CLI::App& app, CompressionPolicy& policy, std::string_view what) {
  policy.min_bytes = kDefaultCompressionMinBytes;
  auto names = compression_kind_names();
  std::string choices;
  for (size_t i = 0; i < names.size(); ++i) choices += (i ? ", " : "") + names[i];
  app.add_option_function<std::string>(
         "--compression",
         [&policy](const std::string& name) { policy.kind = compression_from_name(name); },
         "Compress " + std::string(what) + " as KIND: " + choices +
             " (default none). Only floating-point tensors are compressed; 8-bit kinds send "
             "a quarter of float32's bytes")
      ->type_name("KIND")
      ->check(CLI::IsMember(names));
  app.add_option("--compression-min-bytes", policy.min_bytes,
                 "With --compression: send tensors smaller than this many bytes raw")
      ->type_name("N")
      ->capture_default_str();
}

}  // namespace hm::cli
