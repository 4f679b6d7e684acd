// task_handoff: the promise an RPC call waits on (loop thread) and the
// TaskDone that a runtime thread calls with the outcome.
//
// kj's cross-thread fulfiller orders the two threads inside libkj-async, with
// a raw futex that ThreadSanitizer cannot see, so every read of the outcome's
// tensors on the loop thread looked like a race with their writes on the
// runtime thread. A mutex taken around the fulfill and again before the
// outcome is used makes that happens-before visible (uncontended, once per
// call). Private to the rpc module.
#pragma once

#include <memory>
#include <mutex>
#include <utility>

#include <kj/async.h>

#include "hm/rpc/expert_host.h"

namespace hm::rpc {

inline std::pair<kj::Promise<TaskOutcome>, TaskDone> task_handoff() {
  struct Handoff {
    std::mutex mutex;
    kj::Own<kj::CrossThreadPromiseFulfiller<TaskOutcome>> fulfiller;
  };
  auto paf = kj::newPromiseAndCrossThreadFulfiller<TaskOutcome>();
  auto handoff = std::make_shared<Handoff>();
  handoff->fulfiller = kj::mv(paf.fulfiller);
  TaskDone done = [handoff](TaskOutcome outcome) {
    std::lock_guard lock(handoff->mutex);
    handoff->fulfiller->fulfill(kj::mv(outcome));
  };
  auto promise = paf.promise.then([handoff](TaskOutcome outcome) {
    std::lock_guard lock(handoff->mutex);  // after the runtime thread's fulfill
    return outcome;
  });
  return {kj::mv(promise), std::move(done)};
}

}  // namespace hm::rpc
