// Checkpointer: saves every expert of a server to its checkpoint directory,
// every `every` on its own thread, and once more at shutdown.
//
// A periodic round goes expert by expert: it posts a task to the Runtime
// that copies the expert's state (take_snapshot runs on the runtime thread
// between two batches, so weights and optimizer state are never half-updated
// and no lock is held: a few memcpys, about 100 MB for an ffn of hidden dim
// 1024 with Adam; hm-serve(1) NOTES says how long), then serializes the
// copy and writes it with write_file_atomically on the checkpointer's thread (serializing and fsync
// never block the runtime or the event loop). A failed save is logged and
// retried next round.
//
// Thread rules: start(), stop() and save_all() from one controlling thread;
// save_all() only once the runtime has stopped (it serializes on the calling
// thread). Ownership: borrows the backends and the runtime, which must
// outlive it (or at least stop()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace hm::moe {

class ExpertBackend;
class Runtime;

class Checkpointer {
 public:
  struct Target {
    ExpertBackend* backend = nullptr;
    std::string path;           // DIR/<uid>.pt
    bool keep_corrupt = false;  // the file there is corrupt: keep it as <path>.corrupt
  };

  // `every` zero: no thread, only save_all().
  Checkpointer(std::vector<Target> targets, std::chrono::milliseconds every, int64_t hidden_dim,
               Runtime& runtime);
  ~Checkpointer();  // stop()
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void start();
  // Ends the thread after the file it is writing, if any. Idempotent.
  void stop();

  // Saves every expert now, serializing on the calling thread. Tries them
  // all, then throws the first failure as hm::Error.
  void save_all();

  // Periodic rounds completed (every expert attempted), for tests and logs.
  uint64_t rounds() const;

 private:
  void loop();
  // One round through the runtime; false when the runtime refused (stopping).
  bool periodic_round();
  // Writes one target's bytes (keeping a corrupt predecessor aside first).
  void write(Target& target, const std::string& bytes);
  static std::string failure(const Target& target, const std::exception& error);

  std::vector<Target> targets_;  // the checkpoint thread's, then save_all()'s
  const std::chrono::milliseconds every_;
  const int64_t hidden_dim_;
  Runtime& runtime_;

  mutable std::mutex mutex_;
  std::condition_variable wakeup_;
  bool stopping_ = false;  // guarded by mutex_
  uint64_t rounds_ = 0;    // guarded by mutex_
  std::thread thread_;
};

}  // namespace hm::moe
