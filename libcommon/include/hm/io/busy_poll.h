// Busy polling: a loop thread that expects an event soon (the reply to a
// request it just sent, the result of a task it just handed to a runtime
// thread, the next call of a client it just answered) polls for it for a
// bounded window instead of going to sleep (EventLoop::expect_soon), and a
// runtime thread polls as long for its next task after each batch.
//
// Why: on a virtual machine whose idle vCPUs halt, waking a sleeping thread
// costs tens of microseconds, and a small RPC call wakes a thread four times;
// the torch work of a tiny batch takes a few. A loop that is still polling
// when its event arrives is not woken at all. The price is CPU time: up to
// one window of polling after each expected event (hm-serve: each call
// arriving, each task finishing, each batch; clients: each request sent), on
// a core other work could use. It only pays while the CPUs would otherwise
// idle: when other work keeps them busy, wakes are cheap and the polling
// threads compete with that work for the CPUs (hm-bench(1) NOTES has the
// measurements, both ways).
//
// How: the loop keeps a task that reschedules itself (kj::evalLater) in kj's
// queue for the window, so kj never blocks in epoll_wait, and polls its
// descriptors between every two events (WaitScope::setBusyPollInterval(0)).
// The runtime thread yields the CPU between checks of an atomic flag: on
// two vCPUs, three polling threads that never yield starve the one with work.
//
// Off unless a tool's --busy-poll sets it, like Linux's net.core.busy_poll.
//
// What it does not replace: --busy-idle keeps the idle vCPUs themselves
// polling (PM QoS, machine-wide, needs root); busy polling is per process
// and needs nothing.
//
// Threads: set before the process starts its loops; read from any thread.
#pragma once

#include <chrono>

namespace hm::io {

// Window of polling after each expected event; zero turns polling off.
void set_busy_poll(std::chrono::microseconds window);
std::chrono::microseconds busy_poll_window();

// The most a tool accepts for --busy-poll: a window is meant to cover one
// round trip on a fast network, not to turn a loop into a spinning one.
inline constexpr std::chrono::microseconds kMaxBusyPoll{10'000};

}  // namespace hm::io
