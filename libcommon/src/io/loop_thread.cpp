#include "hm/io/loop_thread.h"

namespace hm::io {

LoopThread::LoopThread() {
  std::promise<EventLoop*> ready;
  auto started = ready.get_future();
  thread_ = std::thread([&ready] {
    EventLoop loop;
    ready.set_value(&loop);
    loop.run();
  });
  loop_ = started.get();
}

LoopThread::~LoopThread() {
  loop_->stop();
  thread_.join();
}

}  // namespace hm::io
