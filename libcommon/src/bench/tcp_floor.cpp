#include "hm/bench/tcp_floor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "hm/base/error.h"

namespace hm::bench {
namespace {

// A socket that closes itself; `what` made it (for the error when it failed).
class Socket {
 public:
  Socket(int fd, const char* what) : fd_(fd) {
    if (fd_ < 0) fail("tcp floor: {}: {}", what, std::strerror(errno));
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { ::close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

void check(int rc, const char* what) {
  if (rc < 0) fail("tcp floor: {}: {}", what, std::strerror(errno));
}

// TCP_NODELAY (each message leaves at once, as the RPC's do) and the timeout.
void configure(const Socket& socket, double timeout_s) {
  const int one = 1;
  check(::setsockopt(socket.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), "TCP_NODELAY");
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_s);
  tv.tv_usec = static_cast<suseconds_t>((timeout_s - std::floor(timeout_s)) * 1e6);
  check(::setsockopt(socket.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), "SO_RCVTIMEO");
  check(::setsockopt(socket.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), "SO_SNDTIMEO");
}

// Reads or writes exactly `size` bytes; false at end of stream.
template <typename Io>
bool transfer(Io io, int fd, char* data, size_t size, const char* what) {
  while (size > 0) {
    const ssize_t n = io(fd, data, size);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) fail("tcp floor: {}: timed out", what);
      fail("tcp floor: {}: {}", what, std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, char* data, size_t size) {
  return transfer([](int f, char* d, size_t s) { return ::read(f, d, s); }, fd, data, size,
                  "read");
}

void write_all(int fd, char* data, size_t size) {
  transfer([](int f, char* d, size_t s) { return ::write(f, d, s); }, fd, data, size, "write");
}

}  // namespace

Summary run_tcp_round_trips(const TcpFloorRun& run) {
  require(run.message_bytes > 0, "tcp floor: a message of 0 bytes");
  Socket listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::bind(listener.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address),
        "bind 127.0.0.1:0");
  check(::listen(listener.fd(), 1), "listen");
  socklen_t length = sizeof address;
  check(::getsockname(listener.fd(), reinterpret_cast<sockaddr*>(&address), &length),
        "getsockname");

  Socket client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), "socket");
  configure(client, run.timeout_s);
  check(::connect(client.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address), "connect");
  Socket server(::accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC), "accept");
  configure(server, run.timeout_s);

  // The echo thread answers until the client closes or a call fails; what it
  // throws is rethrown here.
  std::exception_ptr echo_error;
  std::thread echo([&] {
    try {
      std::vector<char> message(run.message_bytes);
      while (read_all(server.fd(), message.data(), message.size())) {
        write_all(server.fd(), message.data(), message.size());
      }
    } catch (...) {
      echo_error = std::current_exception();
    }
  });

  std::vector<double> us;
  us.reserve(run.calls);
  std::exception_ptr client_error;
  try {
    std::vector<char> message(run.message_bytes, 'h');
    for (size_t i = 0; i < run.warmup + run.calls; ++i) {
      const auto start = std::chrono::steady_clock::now();
      write_all(client.fd(), message.data(), message.size());
      require(read_all(client.fd(), message.data(), message.size()),
              "tcp floor: the echo thread closed the connection");
      if (i >= run.warmup) {
        us.push_back(std::chrono::duration<double, std::micro>(
                         std::chrono::steady_clock::now() - start)
                         .count());
      }
    }
  } catch (...) {
    client_error = std::current_exception();
  }
  ::shutdown(client.fd(), SHUT_RDWR);  // ends the echo loop
  echo.join();
  if (client_error) std::rethrow_exception(client_error);
  if (echo_error) std::rethrow_exception(echo_error);
  return summarize(std::move(us));
}

}  // namespace hm::bench
