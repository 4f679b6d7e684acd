// Call deadlines on the wire: CallDeadline's budget arithmetic, the client
// sending what is left of its timeout as `timeoutMs`, the server turning it
// into a deadline on its own clock, and a late call answered with the named
// error instead of being computed (DoublingHost drops like the task pools).
#include <gtest/gtest.h>

#include <regex>

#include "hm/rpc/blocking.h"
#include "hm/rpc/call_deadline.h"
#include "hm/rpc/client_pool.h"
#include "hm/rpc/expert_client.h"
#include "hm/rpc/parallel_calls.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

using namespace std::chrono_literals;
using Clock = CallDeadline::Clock;

const std::regex kDropped(
    "deadline exceeded: the client gave up after [0-9]+ ms; dropped before computing");

TEST(CallDeadline, NoDeadlineSendsZeroAndNeverPasses) {
  const CallDeadline none;
  EXPECT_TRUE(none.none());
  EXPECT_EQ(none.wire_budget(Clock::now()), 0u);
  EXPECT_FALSE(none.passed(Clock::now() + 24h * 365 * 100));
  EXPECT_TRUE(CallDeadline::after_budget(0, Clock::now()).none());
}

TEST(CallDeadline, TheBudgetIsRoundedUpAndClamped) {
  const auto now = Clock::now();
  EXPECT_EQ((CallDeadline{now + 120ms}).wire_budget(now), 120u);
  EXPECT_EQ((CallDeadline{now + 119'001us}).wire_budget(now), 120u);
  EXPECT_EQ((CallDeadline{now + 1us}).wire_budget(now), 1u);
  EXPECT_EQ((CallDeadline{now - 5ms}).wire_budget(now), 1u);
  EXPECT_EQ((CallDeadline{now + 24h * 60}).wire_budget(now), 0xffffffffu);
}

TEST(CallDeadline, TheServerCountsTheBudgetFromArrival) {
  const auto arrival = Clock::now();
  const auto deadline = CallDeadline::after_budget(120, arrival);
  EXPECT_EQ(deadline.at, arrival + 120ms);
  EXPECT_FALSE(deadline.passed(arrival + 119ms));
  EXPECT_TRUE(deadline.passed(arrival + 120ms));
  EXPECT_EQ(deadline.exceeded_message(),
            "deadline exceeded: the client gave up after 120 ms; dropped before computing");
}

class Deadlines : public ::testing::Test {
 protected:
  // Every task takes 300 ms once the worker has taken it.
  DoublingHost host{300ms};
  ServerThread server{host};
  io::EventLoop loop;

  kj::Own<ExpertClient> connect() {
    return wait_for(loop, ExpertClient::connect(loop, server.address()), 5, "connect");
  }
  static std::string error_of(kj::Promise<std::vector<HostTensor>>& promise,
                              io::EventLoop& loop) {
    try {
      wait_for(loop, kj::mv(promise), 10, "call");
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(Deadlines, TheClientSendsWhatIsLeftOfItsTimeout) {
  auto client = connect();
  std::vector<HostTensor> inputs{filled({2, 4}, 1.0f)};
  wait_for(loop, client->forward("dbl.0", inputs, CallDeadline::in(2s)), 10, "forward");
  const auto got = host.last_deadline();
  EXPECT_LE(got.budget_ms, 2000u);
  EXPECT_GT(got.budget_ms, 1500u);
  wait_for(loop, client->forward("dbl.0", inputs), 10, "forward");
  EXPECT_TRUE(host.last_deadline().none()) << "no timeout, no deadline";
  EXPECT_EQ(host.computed(), 2u);
}

TEST_F(Deadlines, ALateCallIsAnsweredWithTheNamedErrorAndNotComputed) {
  auto client = connect();
  std::vector<HostTensor> inputs{filled({2, 4}, 1.0f)};
  // The first call (no deadline) holds the worker for 300 ms; the second
  // gives up after 100 ms, so it is still queued when its deadline passes.
  auto slow = client->forward("dbl.0", inputs);
  auto late = client->forward("dbl.1", inputs, CallDeadline::in(100ms));
  auto late_backward =
      client->backward("dbl.1", inputs, inputs, CallDeadline::in(100ms));
  auto patient = client->forward("dbl.1", inputs, CallDeadline::in(20s));
  const auto late_error = error_of(late, loop);
  EXPECT_TRUE(std::regex_match(late_error, kDropped)) << late_error;
  const auto backward_error = error_of(late_backward, loop);
  EXPECT_TRUE(std::regex_match(backward_error, kDropped)) << backward_error;
  EXPECT_EQ(wait_for(loop, kj::mv(slow), 10, "slow").size(), 1u);
  EXPECT_EQ(wait_for(loop, kj::mv(patient), 10, "patient").size(), 1u);
  EXPECT_EQ(host.computed(), 2u);
  EXPECT_EQ(host.dropped(), 2u);
}

TEST_F(Deadlines, ACallPastItsDeadlineIsNotSent) {
  auto client = connect();
  std::vector<HostTensor> inputs{filled({2, 4}, 1.0f)};
  auto call = client->forward("dbl.0", inputs, CallDeadline{Clock::now() - 1ms});
  EXPECT_EQ(error_of(call, loop),
            "deadline exceeded: the budget ran out before the request was sent");
  EXPECT_EQ(host.computed() + host.dropped(), 0u);
}

TEST_F(Deadlines, ParallelCallsSendTheirTimeoutAndNothingWithout) {
  ClientPool pool(loop);
  auto call = [&](ParallelCallRules rules) {
    std::vector<ExpertCall> calls{{server.address(), "dbl.0", {filled({1, 4}, 1.0f)}, {}, {0}}};
    auto results =
        wait_for(loop, call_in_parallel(loop, pool, std::move(calls), 1, rules), 10, "calls");
    ASSERT_EQ(results.size(), 1u);
    EXPECT_TRUE(results[0].outputs.has_value()) << results[0].error;
  };
  call(ParallelCallRules{.k_min = 1, .timeout_s = 5});
  EXPECT_LE(host.last_deadline().budget_ms, 5000u);
  EXPECT_GT(host.last_deadline().budget_ms, 4000u);
  call(ParallelCallRules{.k_min = 1});
  EXPECT_TRUE(host.last_deadline().none());
}

}  // namespace
}  // namespace hm::rpc
