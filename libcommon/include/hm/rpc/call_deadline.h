// CallDeadline: the moment the client of one forward/backward call gives up,
// as a point on this process's steady clock.
//
// On the wire it travels as a relative budget (schemas/expert.capnp,
// `timeoutMs`: milliseconds the client will still wait when it sends, 0 = no
// deadline), because the client's and the server's clocks need not agree.
// The client turns its deadline into that budget as it sends (wire_budget,
// rounded up, so that the server never gives up first); the server turns the
// budget back into a deadline on its own clock when the request arrives
// (after_budget), and drops a task whose deadline passed before its batch
// started (hm::moe::TaskPool). The default value is "no deadline": nothing
// is ever dropped for it, and no clock is read for it.
//
// A plain value; any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <fmt/format.h>

namespace hm {

struct CallDeadline {
  using Clock = std::chrono::steady_clock;

  Clock::time_point at = Clock::time_point::max();  // max() = no deadline
  // The budget it was made from, in ms (the request's timeoutMs on a
  // server, the timeout on a client), for messages only.
  uint32_t budget_ms = 0;

  bool none() const { return at == Clock::time_point::max(); }
  // True when the deadline has passed at `now` (never without a deadline).
  bool passed(Clock::time_point now) const { return now >= at; }

  // The client's deadline `timeout` from now.
  static CallDeadline in(std::chrono::nanoseconds timeout) {
    const auto now = Clock::now();
    CallDeadline deadline{now + timeout, 0};
    deadline.budget_ms = deadline.wire_budget(now);
    return deadline;
  }

  // The deadline of a client whose timeout is `seconds` (a flag's value):
  // none for 0 or less.
  static CallDeadline in_seconds(double seconds) {
    if (!(seconds > 0)) return {};
    return in(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(seconds)));
  }

  // The server's deadline for a request that arrived at `arrival` with the
  // wire budget `ms`; 0 = no deadline.
  static CallDeadline after_budget(uint32_t ms, Clock::time_point arrival) {
    if (ms == 0) return {};
    return {arrival + std::chrono::milliseconds(ms), ms};
  }

  // The wire budget at `now`: the milliseconds left, rounded up, clamped to
  // [1, 2^32-1]; 0 without a deadline. A deadline already passed gives 1
  // (the caller is expected to check passed() first).
  uint32_t wire_budget(Clock::time_point now) const {
    if (none()) return 0;
    if (now >= at) return 1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(at - now).count();
    constexpr auto kMax = std::numeric_limits<uint32_t>::max();
    return left >= static_cast<int64_t>(kMax) ? kMax : static_cast<uint32_t>(left);
  }

  // The error a dropped call is answered with.
  std::string exceeded_message() const {
    return fmt::format("deadline exceeded: the client gave up after {} ms; dropped before "
                       "computing", budget_ms);
  }
};

}  // namespace hm
