// UDP on a libuv loop: Endpoint (a numeric socket address) and UdpSocket
// (RAII over uv_udp_t).
//
// UdpSocket receives every datagram into one buffer shared by all sockets of
// the thread (libuv reads one datagram at a time on the loop thread), so a
// socket costs no receive memory of its own and receiving allocates nothing.
// Sending tries the kernel first (uv_udp_try_send, no copy, no allocation);
// only when the kernel queue is full is the datagram copied and queued, up to
// a bound, and dropped past it (UDP is lossy anyway: callers retry).
//
// Threads: everything on the loop thread. The receive callback runs there.
// Lifetime: the destructor closes the handle; its memory is released only in
// libuv's close callback, so destroying a socket inside its own receive
// callback is safe. The loop must run once more after destruction for that
// memory to be freed (hm::io::EventLoop's destructor does it).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "hm/base/address.h"

namespace hm::io {

// An IPv4 or IPv6 address with a port, numeric (names are resolved when
// made). Plain value, 28 bytes, hashable; any thread.
class Endpoint {
 public:
  Endpoint() = default;  // unspecified: valid() is false

  // From a socket address; an unsupported family gives an invalid Endpoint.
  static Endpoint from_sockaddr(const sockaddr* address);
  // From raw network-order IP bytes (4 for IPv4, 16 for IPv6); an invalid
  // Endpoint for any other length.
  static Endpoint from_ip_bytes(std::span<const uint8_t> ip, uint16_t port);
  // Resolves a host (numeric, or a name through getaddrinfo, first result).
  // Throws hm::Error naming `what` and the host when it cannot be resolved.
  static Endpoint resolve(const HostPort& address, std::string_view what);
  // parse_host_port + resolve: "127.0.0.1:7000", "[::1]:7000",
  // "localhost:7000". Throws hm::UsageError for a malformed text.
  static Endpoint parse(std::string_view text, std::string_view what);

  bool valid() const { return address_.sa.sa_family == AF_INET || address_.sa.sa_family == AF_INET6; }
  int family() const { return address_.sa.sa_family; }
  uint16_t port() const;
  Endpoint with_port(uint16_t port) const;
  // Network-order IP bytes: 4 or 16 of them (empty when invalid).
  std::span<const uint8_t> ip_bytes() const;
  bool is_loopback() const;
  bool is_any() const;  // 0.0.0.0 or ::
  const sockaddr* sockaddr_ptr() const { return &address_.sa; }

  // "1.2.3.4:5" or "[::1]:5"; "?" when invalid.
  std::string to_string() const;

  bool operator==(const Endpoint& other) const;
  size_t hash() const;

 private:
  union {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } address_{};
};

struct EndpointHash {
  size_t operator()(const Endpoint& e) const { return e.hash(); }
};

class UdpSocket {
 public:
  // Largest datagram a socket receives whole; longer ones arrive with
  // `truncated` set. Also the largest one send() accepts.
  static constexpr size_t kMaxDatagram = 65507;

  // `data` is valid only during the call; it is 8-byte aligned.
  using ReceiveFn =
      std::function<void(std::span<const std::byte> data, const Endpoint& from, bool truncated)>;

  struct Counters {
    uint64_t sent = 0;            // datagrams handed to the kernel or queued
    uint64_t queued = 0;          // of those, copied and queued (kernel queue was full)
    uint64_t send_dropped = 0;    // refused: queue over its bound, or a send error
    uint64_t receive_errors = 0;  // errors reported by the kernel on receive
  };

  // Makes the handle (not bound yet). Throws hm::Error when libuv refuses.
  explicit UdpSocket(uv_loop_t* loop);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // Binds; port 0 picks a free port. Throws hm::Error naming the address.
  void bind(const Endpoint& address);
  // The bound address (with the real port after binding to port 0).
  Endpoint local_endpoint() const;

  // Starts or stops delivering datagrams to `on_datagram`.
  void start(ReceiveFn on_datagram);
  void stop();

  // Sends one datagram made of `parts` (gathered, not copied when the kernel
  // takes it at once). Returns false when it was dropped (counted).
  bool send(const Endpoint& to, std::span<const std::span<const std::byte>> parts);
  bool send(const Endpoint& to, std::span<const std::byte> data) {
    std::span<const std::byte> parts[1] = {data};
    return send(to, parts);
  }

  // Asks the kernel for a receive buffer of `bytes` (it may grant less:
  // Linux caps it at net.core.rmem_max). Call after bind().
  void set_receive_buffer(size_t bytes);

  // Bytes waiting in the copy queue beyond which send() drops.
  void set_queue_limit(size_t bytes);
  const Counters& counters() const;

 private:
  struct Impl;
  Impl* impl_;  // freed in the close callback
};

}  // namespace hm::io
