// ProgressLine: one line of progress on stderr that the caller redraws, for
// the tools' long runs (hm-moe train's steps, hm-bench's bars).
//
// On a terminal, show() redraws the line in place ("\r" + text, padded to
// `width` columns when width > 0) and clear() erases it; at destruction a
// drawn line is erased, or kept with a newline (Ending::Keep). Elsewhere
// (a log file, a pipe) nothing is drawn: show() passes the text to `log` at
// most once per `log_every` (never when log_every is 0).
//
// Threads: one thread at a time (the owner's). Ownership: does not own `out`.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace hm {

// How a ProgressLine draws; see above.
struct ProgressLineOptions {
  enum class Ending { Erase, Keep };

  bool terminal = false;  // e.g. isatty(STDERR_FILENO)
  std::FILE* out = stderr;
  size_t width = 0;  // pad shown lines to this many columns (0 = no padding)
  Ending ending = Ending::Erase;
  std::chrono::milliseconds log_every{0};        // not a terminal: 0 = silent
  std::function<void(const std::string&)> log;  // default: spdlog::info
};

class ProgressLine {
 public:
  using Options = ProgressLineOptions;
  using Ending = ProgressLineOptions::Ending;

  explicit ProgressLine(Options options);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Stderr's options: terminal = isatty(STDERR_FILENO), the rest as given.
  static Options on_stderr(Options options = {});

  bool terminal() const { return options_.terminal; }

  void show(std::string_view text);

  // Erases the line once one was drawn (the next show() draws it again).
  void clear();

 private:
  Options options_;
  bool drawn_ = false;    // shown at least once
  bool visible_ = false;  // shown since the last clear()
  std::chrono::steady_clock::time_point last_log_ = std::chrono::steady_clock::now();
};

}  // namespace hm
