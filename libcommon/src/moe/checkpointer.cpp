#include "hm/moe/checkpointer.h"

#include <cstdio>
#include <future>

#include "hm/base/error.h"
#include "hm/base/log.h"
#include "hm/moe/checkpoint.h"
#include "hm/moe/expert_backend.h"
#include "hm/moe/runtime.h"

namespace hm::moe {

Checkpointer::Checkpointer(std::vector<Target> targets, std::chrono::milliseconds every,
                           int64_t hidden_dim, Runtime& runtime)
    : targets_(std::move(targets)), every_(every), hidden_dim_(hidden_dim), runtime_(runtime) {}

Checkpointer::~Checkpointer() { stop(); }

void Checkpointer::start() {
  if (every_.count() <= 0 || thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Checkpointer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

uint64_t Checkpointer::rounds() const {
  std::lock_guard lock(mutex_);
  return rounds_;
}

void Checkpointer::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (wakeup_.wait_for(lock, every_, [this] { return stopping_; })) return;
    }
    const auto started = std::chrono::steady_clock::now();
    if (!periodic_round()) return;
    std::lock_guard lock(mutex_);
    ++rounds_;
    spdlog::debug("checkpoint round {}: {} expert(s) in {} ms", rounds_, targets_.size(),
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count());
  }
}

bool Checkpointer::periodic_round() {
  for (auto& target : targets_) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return false;
    }
    using Snapshot = std::shared_ptr<const CheckpointSnapshot>;
    auto promise = std::make_shared<std::promise<Snapshot>>();
    auto future = promise->get_future();
    auto* backend = target.backend;
    const int64_t hidden_dim = hidden_dim_;
    auto paused = std::make_shared<std::chrono::steady_clock::duration>();
    const bool posted = runtime_.post([promise, backend, hidden_dim, paused] {
      const auto start = std::chrono::steady_clock::now();
      try {
        auto snapshot = take_snapshot(*backend, hidden_dim);
        *paused = std::chrono::steady_clock::now() - start;
        promise->set_value(std::move(snapshot));
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    if (!posted) return false;
    try {
      const auto snapshot = future.get();
      const auto start = std::chrono::steady_clock::now();
      const auto bytes = serialize_checkpoint(*snapshot);
      write(target, bytes);
      using Ms = std::chrono::duration<double, std::milli>;
      spdlog::debug(
          "checkpoint {}: {} bytes; runtime paused {:.1f} ms, serialized and written in "
          "{:.1f} ms",
          target.path, bytes.size(), Ms(*paused).count(),
          Ms(std::chrono::steady_clock::now() - start).count());
    } catch (const std::future_error&) {
      return false;  // the runtime stopped before it ran the snapshot
    } catch (const std::exception& error) {
      spdlog::error("{}", failure(target, error));
    }
  }
  return true;
}

std::string Checkpointer::failure(const Target& target, const std::exception& error) {
  // write_file_atomically's errors name the file already.
  if (dynamic_cast<const Error*>(&error) != nullptr) return error.what();
  return fmt::format("checkpoint {}: {}", target.path, error.what());
}

void Checkpointer::write(Target& target, const std::string& bytes) {
  if (target.keep_corrupt) {
    const auto kept = target.path + ".corrupt";
    if (std::rename(target.path.c_str(), kept.c_str()) == 0) {
      spdlog::warn("kept the corrupt checkpoint {} as {}", target.path, kept);
    }
    target.keep_corrupt = false;
  }
  write_file_atomically(target.path, bytes);
}

void Checkpointer::save_all() {
  std::string first_error;
  for (auto& target : targets_) {
    try {
      write(target, serialize_checkpoint(*target.backend, hidden_dim_));
    } catch (const std::exception& error) {
      const auto message = failure(target, error);
      spdlog::error("{}", message);
      if (first_error.empty()) first_error = message;
    }
  }
  if (!first_error.empty()) throw Error(first_error);
}

}  // namespace hm::moe
