// Test doubles for the RPC tests: a torch-free ExpertHost that doubles its
// input on a worker thread, and an ExpertRpcServer running on its own thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "hm/base/error.h"
#include "hm/io/event_loop.h"
#include "hm/rpc/expert_server.h"

namespace hm::rpc {

inline HostTensor filled(std::vector<int64_t> shape, float value) {
  auto tensor = HostTensor::zeros(DType::Float32, std::move(shape));
  auto* data = reinterpret_cast<float*>(tensor.mutable_data());
  for (int64_t i = 0; i < tensor.numel(); ++i) data[i] = value + static_cast<float>(i);
  return tensor;
}

// Doubles every input on its own thread, like a runtime would. Like the
// runtime's task pools, it drops a task whose deadline passed before the
// worker took it, answering CallDeadline::exceeded_message().
class DoublingHost : public ExpertHost {
 public:
  // Every answer comes `delay` after its task is taken from the queue; the
  // experts take float32[rows, width], rows up to max_batch_size.
  explicit DoublingHost(std::chrono::milliseconds delay = {}, int64_t width = 4,
                        uint32_t max_batch_size = 8)
      : delay_(delay), width_(width), max_batch_size_(max_batch_size),
        worker_([this] { work(); }) {}
  ~DoublingHost() override { stop(); }

  std::vector<std::string> uids() const override { return {"dbl.0", "dbl.1"}; }

  std::optional<ExpertDescription> describe(std::string_view uid) const override {
    if (uid != "dbl.0" && uid != "dbl.1") return std::nullopt;
    ExpertDescription d;
    d.uid = std::string(uid);
    d.expert_cls = "doubling";
    d.inputs = {TensorSpec{DType::Float32, {-1, width_}}};
    d.outputs = {TensorSpec{DType::Float32, {-1, width_}}};
    d.steps = steps_;
    d.max_batch_size = max_batch_size_;
    return d;
  }

  void submit_forward(std::string_view uid, std::vector<HostTensor> inputs, TaskDone done,
                      CallDeadline deadline = {}) override {
    enqueue(uid, std::move(inputs), 1, std::move(done), deadline);
  }

  void submit_backward(std::string_view uid, std::vector<HostTensor> inputs, TaskDone done,
                       CallDeadline deadline = {}) override {
    enqueue(uid, std::move(inputs), 2, std::move(done), deadline);
    ++steps_;
  }

  // Tasks doubled so far, and dropped past their deadline.
  uint64_t computed() const { return computed_; }
  uint64_t dropped() const { return dropped_; }
  // The sum of every input element doubled so far (read it after stop()).
  double input_sum() const { return input_sum_; }
  // The deadline of the latest task submitted.
  CallDeadline last_deadline() const {
    std::lock_guard lock(mutex_);
    return last_deadline_;
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
  }

 private:
  struct Queued {
    HostTensor tensor;
    TaskDone done;
    CallDeadline deadline;
  };

  void enqueue(std::string_view uid, std::vector<HostTensor> tensors, size_t count,
               TaskDone done, CallDeadline deadline) {
    auto d = describe(uid);
    require(d.has_value(), "unknown expert '{}'", uid);
    std::vector<TensorSpec> specs(count, d->inputs[0]);
    int64_t rows = check_tensors(specs, tensors, count == 1 ? "forward inputs" : "backward inputs");
    require(rows <= d->max_batch_size, "batch of {} rows exceeds --max-batch-size {}", rows,
            d->max_batch_size);
    std::lock_guard lock(mutex_);
    require(!stopping_, "server shutting down");
    // Keep only the tensor to double: the last one (input or gradient).
    queue_.push_back({tensors.back(), std::move(done), deadline});
    last_deadline_ = deadline;
    wake_.notify_one();
  }

  void work() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto [tensor, done, deadline] = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      if (deadline.passed(CallDeadline::Clock::now())) {
        tensor = {};
        ++dropped_;
        done(TaskOutcome{{}, deadline.exceeded_message()});
        lock.lock();
        continue;
      }
      if (delay_.count()) std::this_thread::sleep_for(delay_);
      ++computed_;
      auto out = HostTensor::zeros(tensor.dtype, tensor.shape);
      auto in = tensor.as<float>();
      auto* data = reinterpret_cast<float*>(out.mutable_data());
      bool poisoned = false;
      for (size_t i = 0; i < in.size(); ++i) {
        input_sum_ += in[i];
        data[i] = 2 * in[i];
        poisoned |= in[i] == -13.0f;
      }
      tensor = {};  // drop the view before answering, as the runtime does
      if (poisoned) {
        done(TaskOutcome{{}, "expert dbl forward failed: unlucky number 13"});
      } else {
        done(TaskOutcome{{out}, ""});
      }
      lock.lock();
    }
  }

  double input_sum_ = 0;  // the worker's
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  CallDeadline last_deadline_;  // guarded by mutex_
  std::atomic<uint64_t> computed_ = 0, dropped_ = 0;
  bool stopping_ = false;
  std::atomic<uint64_t> steps_ = 0;
  std::chrono::milliseconds delay_;
  int64_t width_;
  uint32_t max_batch_size_;
  std::thread worker_;
};

// A server on its own thread, as hm-serve runs it.
class ServerThread {
 public:
  explicit ServerThread(ExpertHost& host, ServerLimits limits = {}, uint16_t port = 0) {
    std::promise<HostPort> ready;
    auto bound = ready.get_future();
    thread_ = std::thread([&, limits, port] {
      io::EventLoop loop;
      loop_ = &loop;
      ExpertRpcServer server(loop, host, limits);
      server_ = &server;
      ready.set_value(server.listen({"127.0.0.1", port}));
      loop.run();
    });
    address_ = bound.get();
  }
  ~ServerThread() {
    loop_->stop();
    thread_.join();
  }
  const HostPort& address() const { return address_; }
  size_t connection_count() {
    std::promise<size_t> count;
    loop_->post([&] { count.set_value(server_->connection_count()); });
    return count.get_future().get();
  }
  void stop_accepting() {
    std::promise<void> done;
    loop_->post([&] {
      server_->stop_accepting();
      done.set_value();
    });
    done.get_future().get();
  }

 private:
  HostPort address_;
  io::EventLoop* loop_ = nullptr;
  ExpertRpcServer* server_ = nullptr;
  std::thread thread_;
};

}  // namespace hm::rpc
