#include "hm/base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "hm/base/error.h"

namespace hm {

void init_logging(std::string_view program, std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    throw UsageError(fmt::format(
        "--log-level: unknown level '{}' (use trace, debug, info, warn, error, off)",
        level));
  }
  spdlog::drop(std::string(program));
  auto logger = spdlog::stderr_color_mt(std::string(program));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %^%l%$: %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace hm
