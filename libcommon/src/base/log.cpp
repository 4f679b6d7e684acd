#include "hm/base/log.h"

#include <chrono>
#include <cstdint>
#include <ctime>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "hm/base/error.h"

namespace hm {
namespace {

LogFormat chosen_format = LogFormat::text;

// The fields of the log_fields call running on this thread: the logger is
// synchronous, so its formatter runs inside that call, on the same thread.
thread_local const std::initializer_list<LogField>* current_fields = nullptr;

// "2026-12-07T20:48:49.123Z"
void append_utc_time(spdlog::log_clock::time_point when, spdlog::memory_buf_t& out) {
  const auto since_epoch = when.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  std::time_t t = seconds.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                 utc.tm_sec, millis);
}

// The length of the valid UTF-8 sequence that starts `text` (its first byte
// is >= 0x80), or 0: overlong forms, surrogates and code points past
// U+10FFFF are not valid.
size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  size_t length = 0;
  uint32_t code = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2, code = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3, code = lead & 0x0f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4, code = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3f);
  }
  const bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
  const bool surrogate = code >= 0xd800 && code <= 0xdfff;
  if (overlong || surrogate || code > 0x10ffff) return 0;
  return length;
}

void append_member(std::string_view key, std::string_view value, spdlog::memory_buf_t& out) {
  fmt::format_to(std::back_inserter(out), ",{}:{}", json_quote(key), json_quote(value));
}

class JsonFormatter final : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string binary) : binary_(std::move(binary)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& out) override {
    out.append(std::string_view("{\"time\":\""));
    append_utc_time(msg.time, out);
    out.push_back('"');
    const auto level = spdlog::level::to_string_view(msg.level);
    append_member("level", std::string_view(level.data(), level.size()), out);
    append_member("binary", binary_, out);
    append_member("message", std::string_view(msg.payload.data(), msg.payload.size()), out);
    if (current_fields != nullptr) {
      for (const auto& field : *current_fields) {
        if (!field.value.empty()) append_member(field.key, field.value, out);
      }
    }
    out.append(std::string_view("}\n"));
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(binary_);
  }

 private:
  std::string binary_;
};

}  // namespace

LogFormat parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  throw UsageError(fmt::format("--log-format: unknown format '{}' (use text or json)", text));
}

void init_logging(std::string_view program, std::string_view level, LogFormat format) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    throw UsageError(fmt::format(
        "--log-level: unknown level '{}' (use trace, debug, info, warn, error, off)",
        level));
  }
  spdlog::drop(std::string(program));
  auto logger = spdlog::stderr_color_mt(std::string(program));
  if (format == LogFormat::json) {
    logger->set_formatter(std::make_unique<JsonFormatter>(std::string(program)));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n %^%l%$: %v");
  }
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
  chosen_format = format;
}

LogFormat log_format() { return chosen_format; }

void log_fields(spdlog::level::level_enum level, std::initializer_list<LogField> fields,
                std::string_view message) {
  const auto* outer = current_fields;
  current_fields = &fields;
  try {
    spdlog::default_logger_raw()->log(level, "{}", message);
  } catch (...) {
    current_fields = outer;
    throw;
  }
  current_fields = outer;
}

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {  // a UTF-8 sequence, copied whole; a broken one becomes U+FFFD
      const size_t length = utf8_sequence_length(text.substr(i));
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

}  // namespace hm
