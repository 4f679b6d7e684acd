// --busy-poll USEC: the flag of every tool whose network thread waits for
// replies (hm-serve, hm-moe, hm-bench); see hm/io/busy_poll.h for what it
// does and what it costs. Header-only (CLI11), for the tools' main.cpp.
#pragma once

#include <chrono>

#include <CLI/CLI.hpp>

#include "hm/io/busy_poll.h"

namespace hm::cli {

inline CLI::Option* add_busy_poll_flag(CLI::App& app, unsigned& microseconds) {
  return app
      .add_option("--busy-poll", microseconds,
                  "Poll for an expected reply or task result for up to USEC microseconds "
                  "instead of sleeping: fewer thread wake-ups per call where CPUs would "
                  "idle, more CPU time, slower where other work keeps them busy "
                  "(0 = off, the default)")
      ->type_name("USEC")
      ->check(CLI::Range(0u, static_cast<unsigned>(io::kMaxBusyPoll.count())));
}

inline void apply_busy_poll(unsigned microseconds) {
  io::set_busy_poll(std::chrono::microseconds(microseconds));
}

}  // namespace hm::cli
