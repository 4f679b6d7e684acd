#include "hm/base/progress_line.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

namespace hm {

ProgressLine::ProgressLine(Options options) : options_(std::move(options)) {
  if (!options_.log) options_.log = [](const std::string& line) { spdlog::info("{}", line); };
}

ProgressLine::~ProgressLine() {
  if (!options_.terminal) return;
  if (options_.ending == Ending::Keep) {
    if (drawn_) std::fputc('\n', options_.out);
  } else if (visible_) {
    clear();
  }
}

ProgressLine::Options ProgressLine::on_stderr(Options options) {
  options.terminal = isatty(STDERR_FILENO);
  options.out = stderr;
  return options;
}

void ProgressLine::show(std::string_view text) {
  if (options_.terminal) {
    std::fprintf(options_.out, "\r%-*.*s", static_cast<int>(options_.width),
                 static_cast<int>(text.size()), text.data());
    std::fflush(options_.out);
    drawn_ = visible_ = true;
  } else if (options_.log_every.count() > 0 &&
             std::chrono::steady_clock::now() - last_log_ > options_.log_every) {
    last_log_ = std::chrono::steady_clock::now();
    options_.log(std::string(text));
  }
}

void ProgressLine::clear() {
  if (!options_.terminal || !drawn_) return;
  visible_ = false;
  if (options_.width > 0) {
    std::fprintf(options_.out, "\r%*s\r", static_cast<int>(options_.width), "");
  } else {
    std::fputs("\r\033[K", options_.out);
  }
  std::fflush(options_.out);
}

}  // namespace hm
