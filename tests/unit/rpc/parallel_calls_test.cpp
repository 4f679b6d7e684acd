#include "hm/rpc/parallel_calls.h"

#include <gtest/gtest.h>

#include <chrono>

#include "hm/rpc/blocking.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

using namespace std::chrono_literals;

class ParallelCalls : public ::testing::Test {
 protected:
  DoublingHost fast_host;
  DoublingHost slow_host{400ms};
  ServerThread fast{fast_host};
  ServerThread slow{slow_host};
  io::EventLoop loop;
  ClientPool pool{loop};

  // One call on `server` for the given samples; row r holds sample id.
  ExpertCall call(const HostPort& server, std::vector<int64_t> samples) {
    auto rows = static_cast<int64_t>(samples.size());
    auto x = HostTensor::zeros(DType::Float32, {rows, 4});
    auto* data = reinterpret_cast<float*>(x.mutable_data());
    for (int64_t r = 0; r < rows; ++r) data[r * 4] = static_cast<float>(samples[r]);
    return ExpertCall{server, "dbl.0", {x}, {x}, std::move(samples)};
  }

  std::vector<CallResult> run(std::vector<ExpertCall> calls, size_t samples,
                              ParallelCallRules rules, double* elapsed_s = nullptr) {
    auto start = std::chrono::steady_clock::now();
    auto results = wait_for(loop, call_in_parallel(loop, pool, std::move(calls), samples, rules),
                            20, "parallel calls");
    if (elapsed_s) {
      *elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return results;
  }
};

TEST_F(ParallelCalls, AllAnswersArriveInCallOrder) {
  auto results = run({call(fast.address(), {0, 1}), call(fast.address(), {2}),
                      call(slow.address(), {1, 2})},
                     3, ParallelCallRules{.k_min = 1});
  ASSERT_EQ(results.size(), 3u);
  for (const auto& r : results) ASSERT_TRUE(r.outputs.has_value()) << r.error;
  EXPECT_EQ((*results[1].outputs)[0].as<float>()[0], 4.0f);  // sample 2, doubled
  EXPECT_EQ((*results[2].outputs)[0].shape, (std::vector<int64_t>{2, 4}));
}

TEST_F(ParallelCalls, StragglersAreCancelledAfterKMinAndGracePeriod) {
  double elapsed = 0;
  auto results = run({call(fast.address(), {0, 1}), call(slow.address(), {0, 1})}, 2,
                     ParallelCallRules{.k_min = 1, .timeout_s = 10, .timeout_after_k_min_s = 0.05},
                     &elapsed);
  EXPECT_TRUE(results[0].outputs.has_value());
  EXPECT_FALSE(results[1].outputs.has_value());
  EXPECT_NE(results[1].error.find("cancelled"), std::string::npos) << results[1].error;
  EXPECT_LT(elapsed, 0.35);  // did not wait for the 400 ms straggler
}

TEST_F(ParallelCalls, KMinCountsPerSample) {
  // Sample 1 only has the slow expert: k_min is not met until it answers.
  auto results = run({call(fast.address(), {0}), call(slow.address(), {1})}, 2,
                     ParallelCallRules{.k_min = 1, .timeout_s = 10, .timeout_after_k_min_s = 0});
  EXPECT_TRUE(results[0].outputs.has_value());
  EXPECT_TRUE(results[1].outputs.has_value()) << results[1].error;
}

TEST_F(ParallelCalls, TotalTimeoutBoundsEverything) {
  double elapsed = 0;
  auto results = run({call(slow.address(), {0})}, 1,
                     ParallelCallRules{.k_min = 1, .timeout_s = 0.1}, &elapsed);
  EXPECT_FALSE(results[0].outputs.has_value());
  EXPECT_LT(elapsed, 0.35);
}

TEST_F(ParallelCalls, DeadServerIsAFailedCallNotAnError) {
  auto results = run({call({"127.0.0.1", 1}, {0}), call(fast.address(), {0})}, 1,
                     ParallelCallRules{.k_min = 1, .timeout_s = 5});
  EXPECT_FALSE(results[0].outputs.has_value());
  EXPECT_NE(results[0].error.find("cannot connect to 127.0.0.1:1"), std::string::npos)
      << results[0].error;
  EXPECT_TRUE(results[1].outputs.has_value());
}

TEST_F(ParallelCalls, BackwardSendsInputsAndGradients) {
  auto results = run({call(fast.address(), {3})}, 4,
                     ParallelCallRules{.k_min = 1, .timeout_s = 5, .backward = true});
  ASSERT_TRUE(results[0].outputs.has_value()) << results[0].error;
  // The doubling host doubles the last tensor it gets: the gradient.
  EXPECT_EQ((*results[0].outputs)[0].as<float>()[0], 6.0f);
}

TEST_F(ParallelCalls, InjectedFailuresDropCallsWithoutSendingThem) {
  auto results = run({call(fast.address(), {0}), call(fast.address(), {1})}, 2,
                     ParallelCallRules{.k_min = 1, .timeout_s = 5, .drop_probability = 1.0});
  for (const auto& r : results) {
    EXPECT_FALSE(r.outputs.has_value());
    EXPECT_NE(r.error.find("dropped on purpose"), std::string::npos) << r.error;
  }
  auto kept = run({call(fast.address(), {0})}, 1,
                  ParallelCallRules{.k_min = 1, .timeout_s = 5, .drop_probability = 0.0,
                                    .mean_latency_ms = 1});
  EXPECT_TRUE(kept[0].outputs.has_value()) << kept[0].error;
}

TEST_F(ParallelCalls, NoCallsResolvesAtOnce) {
  auto results = run({}, 4, ParallelCallRules{.k_min = 1, .timeout_s = 5});
  EXPECT_TRUE(results.empty());
}

}  // namespace
}  // namespace hm::rpc
