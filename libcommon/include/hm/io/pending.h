// Pending<T>: the settling end of a kj::Promise<T>, for code that completes
// through callbacks (libuv handles, the DHT's request machinery) but hands
// its callers promises.
//
// It is copyable, so it fits in a std::function. The first fulfill() or
// reject() settles the promise; later ones do nothing. When the last copy is
// destroyed unsettled (the object that ran the operation went away), the
// promise is rejected with the `abandoned` message given to make(), so a
// caller never waits for a callback that will not come.
//
// Threads: the kj event loop's thread only (make, settle and destroy there).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <kj/async.h>
#include <kj/exception.h>

namespace hm::io {

// A FAILED kj::Exception whose description is `message` alone.
inline kj::Exception failure(std::string_view message) {
  return kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__,
                       kj::heapString(message.data(), message.size()));
}

template <typename T>
class Pending {
 public:
  struct Made;
  // A promise and its settling end.
  static Made make(std::string abandoned);

  template <typename... Value>
  void fulfill(Value&&... value) const {
    if (state_->fulfiller->isWaiting()) state_->fulfiller->fulfill(std::forward<Value>(value)...);
  }

  void reject(std::string_view message) const {
    if (state_->fulfiller->isWaiting()) state_->fulfiller->reject(failure(message));
  }

 private:
  struct State {
    State(kj::Own<kj::PromiseFulfiller<T>> f, std::string why)
        : fulfiller(kj::mv(f)), abandoned(std::move(why)) {}
    ~State() {
      if (fulfiller->isWaiting()) fulfiller->reject(failure(abandoned));
    }
    kj::Own<kj::PromiseFulfiller<T>> fulfiller;
    std::string abandoned;
  };

  explicit Pending(std::shared_ptr<State> state) : state_(std::move(state)) {}

  std::shared_ptr<State> state_;
};

template <typename T>
struct Pending<T>::Made {
  kj::Promise<T> promise;
  Pending<T> pending;
};

template <typename T>
typename Pending<T>::Made Pending<T>::make(std::string abandoned) {
  auto paf = kj::newPromiseAndFulfiller<T>();
  Pending pending(std::make_shared<State>(kj::mv(paf.fulfiller), std::move(abandoned)));
  return Made{kj::mv(paf.promise), std::move(pending)};
}

}  // namespace hm::io
