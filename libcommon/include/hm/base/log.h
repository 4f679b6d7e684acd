// Logging: spdlog's default logger, writing to stderr (stdout is for data).
// Use spdlog::info/warn/error/debug directly; call init_logging once in main.
#pragma once

#include <string_view>

#include <spdlog/spdlog.h>

namespace hm {

// Levels: trace, debug, info, warn, error, off. Throws hm::UsageError for
// anything else. `program` prefixes every line ("hm-serve: ...").
void init_logging(std::string_view program, std::string_view level = "info");

}  // namespace hm
