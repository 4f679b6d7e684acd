#include "hm/base/progress_line.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace hm {
namespace {

// A FILE* whose bytes the test reads back.
class Sink {
 public:
  Sink() : file_(open_memstream(&data_, &size_)) {}
  ~Sink() {
    std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

TEST(ProgressLine, OnATerminalRedrawsInPlaceAndErasesAtTheEnd) {
  Sink sink;
  {
    ProgressLine line({.terminal = true, .out = sink.file()});
    line.show("step 1");
    line.show("step 2");
    EXPECT_EQ(sink.text(), "\rstep 1\rstep 2");
  }
  EXPECT_EQ(sink.text(), "\rstep 1\rstep 2\r\033[K");
}

TEST(ProgressLine, PadsToItsWidthAndKeepsTheLastLine) {
  Sink sink;
  {
    ProgressLine line({.terminal = true, .out = sink.file(), .width = 6,
                       .ending = ProgressLine::Ending::Keep});
    line.show("ab");
    line.clear();
    EXPECT_EQ(sink.text(), "\rab    \r      \r");
    line.show("abcdefgh");  // longer than the width: not cut
  }
  EXPECT_EQ(sink.text(), "\rab    \r      \r\rabcdefgh\n");
}

TEST(ProgressLine, ErasesNothingItDidNotDraw) {
  Sink sink;
  {
    ProgressLine line({.terminal = true, .out = sink.file()});
    line.clear();
  }
  EXPECT_EQ(sink.text(), "");
  {
    ProgressLine line({.terminal = true, .out = sink.file()});
    line.show("x");
    line.clear();  // already erased: the destructor adds nothing
  }
  EXPECT_EQ(sink.text(), "\rx\r\033[K");
}

TEST(ProgressLine, ElsewhereDrawsNothingAndLogsAtMostOncePerPeriod) {
  Sink sink;
  std::vector<std::string> logged;
  {
    ProgressLine silent({.terminal = false, .out = sink.file(),
                         .log = [&](const std::string& l) { logged.push_back(l); }});
    silent.show("never logged");
    silent.clear();
  }
  EXPECT_TRUE(logged.empty());
  {
    ProgressLine line({.terminal = false, .out = sink.file(),
                       .ending = ProgressLine::Ending::Keep,
                       .log_every = std::chrono::milliseconds(20),
                       .log = [&](const std::string& l) { logged.push_back(l); }});
    line.show("too early");  // within the first period
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    line.show("step 5");
    line.show("step 6");  // within the next period
    line.clear();
  }
  EXPECT_EQ(sink.text(), "");
  EXPECT_EQ(logged, std::vector<std::string>{"step 5"});
}

TEST(ProgressLine, OnStderrAsksWhetherStderrIsATerminal) {
  auto options = ProgressLine::on_stderr({.width = 78});
  EXPECT_EQ(options.out, stderr);
  EXPECT_EQ(options.width, 78u);
  EXPECT_EQ(options.terminal, isatty(STDERR_FILENO) != 0);
}

}  // namespace
}  // namespace hm
