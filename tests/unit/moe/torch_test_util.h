// Helpers shared by the torch tests: waiting for task outcomes, temp dirs,
// running the Python oracle (HM_PYTHON, python3-torch 1.13), raw tensor files.
#pragma once

#include <gtest/gtest.h>
#include <torch/types.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <string>
#include <vector>

#include "hm/rpc/expert_host.h"
#include "test_paths.h"

namespace hm::test {

// A TaskDone that fulfils a future; the future throws if done runs twice
// (std::future_error), which the tests would see as a failure.
struct Outcome {
  std::shared_ptr<std::promise<TaskOutcome>> promise =
      std::make_shared<std::promise<TaskOutcome>>();
  std::future<TaskOutcome> future = promise->get_future();

  TaskDone done() {
    return [p = promise](TaskOutcome outcome) { p->set_value(std::move(outcome)); };
  }
  // Waits at most `timeout`; fails the test (and returns an error outcome)
  // when nothing arrives.
  TaskOutcome get(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    if (future.wait_for(timeout) != std::future_status::ready) {
      ADD_FAILURE() << "task did not complete in time";
      return TaskOutcome{{}, "timeout"};
    }
    return future.get();
  }
  bool ready() const {
    return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }
};

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = std::filesystem::temp_directory_path() /
            ("hm_torch_test_" + std::to_string(random()) + std::to_string(random()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Writes `script` to `dir` and runs it with HM_PYTHON and `args`; returns
// the exit status (0 on success) and prints stderr on failure.
inline int run_python(const TempDir& dir, const std::string& script, const std::string& args) {
  const auto script_path = dir.file("oracle.py");
  std::ofstream(script_path) << script;
  const std::string command =
      std::string(HM_PYTHON) + " " + script_path + " " + args + " 2>" + dir.file("oracle.err");
  const int status = std::system(command.c_str());
  if (status != 0) {
    std::ifstream err(dir.file("oracle.err"));
    std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    ADD_FAILURE() << command << " failed (" << status << "):\n" << text;
  }
  return status;
}

// Reads a file of raw little-endian float32 values (numpy's tobytes()).
inline torch::Tensor read_f32(const std::string& path, std::vector<int64_t> shape) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto out = torch::empty(shape, torch::kFloat32);
  EXPECT_EQ(bytes.size(), out.nbytes()) << path;
  std::memcpy(out.data_ptr(), bytes.data(), std::min(bytes.size(), out.nbytes()));
  return out;
}

// Max absolute difference, for messages.
inline double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace hm::test
