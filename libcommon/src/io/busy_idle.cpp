#include "hm/io/busy_idle.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "hm/base/error.h"

namespace hm::io {
namespace {
constexpr const char* kDevice = "/dev/cpu_dma_latency";
}  // namespace

BusyIdle::BusyIdle() {
  fd_ = ::open(kDevice, O_WRONLY | O_CLOEXEC);
  if (fd_ < 0) {
    fail("--busy-idle: cannot open {}: {} (it needs root)", kDevice, std::strerror(errno));
  }
  const int32_t microseconds = 0;
  if (::write(fd_, &microseconds, sizeof(microseconds)) != sizeof(microseconds)) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    fail("--busy-idle: cannot write to {}: {}", kDevice, std::strerror(error));
  }
}

BusyIdle::~BusyIdle() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace hm::io
