// Logging: spdlog's default logger, writing to stderr (stdout is for data).
// Use spdlog::info/warn/error/debug directly, or hm::log_with to attach
// fields; call init_logging once in main.
//
// Two formats (--log-format):
//   text  "2026-12-07T20:48:49.123 hm-serve warn: refused a connection: ..."
//   json  one object per line: {"time":"2026-12-07T20:48:49.123Z",
//         "level":"warn","binary":"hm-serve","message":"refused ...",
//         "limit":"max-connections"} (time in UTC), plus the fields the
//         message carries (uid, peer, limit) as strings.
// Text lines show only the message: it already names what its fields hold.
//
// Threads: any thread may log; init_logging before the others start.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace hm {

enum class LogFormat { text, json };

// "text" or "json"; throws hm::UsageError naming --log-format otherwise.
LogFormat parse_log_format(std::string_view text);

// Levels: trace, debug, info, warn, error, off. Throws hm::UsageError for
// anything else. `program` names the binary on every line.
void init_logging(std::string_view program, std::string_view level = "info",
                  LogFormat format = LogFormat::text);

// The format init_logging chose (text before it is called).
LogFormat log_format();

// One field of a log line: {"uid", "ffn.0.1"}. An empty value is left out.
struct LogField {
  std::string_view key;
  std::string_view value;
};

// Logs `message` with `fields` (kept only by the JSON format).
void log_fields(spdlog::level::level_enum level, std::initializer_list<LogField> fields,
                std::string_view message);

// Formats and logs, with fields; formats only when the level is on:
//   log_with(spdlog::level::warn, {{"uid", uid}}, "expert {} failed: {}", uid, why);
template <typename... Args>
void log_with(spdlog::level::level_enum level, std::initializer_list<LogField> fields,
              fmt::format_string<Args...> format, Args&&... args) {
  if (!spdlog::default_logger_raw()->should_log(level)) return;
  log_fields(level, fields, fmt::format(format, std::forward<Args>(args)...));
}

// `text` as a JSON string literal, quotes included ("a\"b\n" -> "\"a\\\"b\\n\"").
std::string json_quote(std::string_view text);

}  // namespace hm
