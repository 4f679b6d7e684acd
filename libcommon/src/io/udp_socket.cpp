#include "hm/io/udp_socket.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "hm/base/error.h"
#include "hm/io/uv_timer.h"

namespace hm::io {

// ---- Endpoint ---------------------------------------------------------------

Endpoint Endpoint::from_sockaddr(const sockaddr* address) {
  Endpoint e;
  if (address == nullptr) return e;
  if (address->sa_family == AF_INET) {
    std::memcpy(&e.address_.v4, address, sizeof(sockaddr_in));
  } else if (address->sa_family == AF_INET6) {
    std::memcpy(&e.address_.v6, address, sizeof(sockaddr_in6));
    e.address_.v6.sin6_flowinfo = 0;
    if (IN6_IS_ADDR_V4MAPPED(&e.address_.v6.sin6_addr)) {  // a dual-stack socket's IPv4 peer
      return from_ip_bytes(std::span<const uint8_t>(e.address_.v6.sin6_addr.s6_addr + 12, 4),
                           e.port());
    }
  }
  return e;
}

Endpoint Endpoint::from_ip_bytes(std::span<const uint8_t> ip, uint16_t port) {
  Endpoint e;
  if (ip.size() == 4) {
    e.address_.v4.sin_family = AF_INET;
    e.address_.v4.sin_port = htons(port);
    std::memcpy(&e.address_.v4.sin_addr, ip.data(), 4);
  } else if (ip.size() == 16) {
    e.address_.v6.sin6_family = AF_INET6;
    e.address_.v6.sin6_port = htons(port);
    std::memcpy(&e.address_.v6.sin6_addr, ip.data(), 16);
  }
  return e;
}

Endpoint Endpoint::resolve(const HostPort& address, std::string_view what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(address.host.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    fail("{}: cannot resolve host '{}': {}", what, address.host, gai_strerror(rc));
  }
  // Prefer IPv4: "localhost" often lists ::1 first, while servers listen on 127.0.0.1.
  const addrinfo* chosen = found;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      chosen = a;
      break;
    }
  }
  Endpoint e = from_sockaddr(chosen->ai_addr).with_port(address.port);
  ::freeaddrinfo(found);
  require(e.valid(), "{}: host '{}' has no IPv4 or IPv6 address", what, address.host);
  return e;
}

Endpoint Endpoint::parse(std::string_view text, std::string_view what) {
  return resolve(parse_host_port(text, what), what);
}

uint16_t Endpoint::port() const {
  if (family() == AF_INET) return ntohs(address_.v4.sin_port);
  if (family() == AF_INET6) return ntohs(address_.v6.sin6_port);
  return 0;
}

Endpoint Endpoint::with_port(uint16_t port) const {
  Endpoint e = *this;
  if (family() == AF_INET) e.address_.v4.sin_port = htons(port);
  if (family() == AF_INET6) e.address_.v6.sin6_port = htons(port);
  return e;
}

std::span<const uint8_t> Endpoint::ip_bytes() const {
  if (family() == AF_INET) {
    return {reinterpret_cast<const uint8_t*>(&address_.v4.sin_addr), 4};
  }
  if (family() == AF_INET6) {
    return {reinterpret_cast<const uint8_t*>(&address_.v6.sin6_addr), 16};
  }
  return {};
}

bool Endpoint::is_loopback() const {
  if (family() == AF_INET) return ip_bytes()[0] == 127;
  if (family() == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&address_.v6.sin6_addr);
  return false;
}

bool Endpoint::is_any() const {
  if (family() == AF_INET) return address_.v4.sin_addr.s_addr == INADDR_ANY;
  if (family() == AF_INET6) return IN6_IS_ADDR_UNSPECIFIED(&address_.v6.sin6_addr);
  return false;
}

std::string Endpoint::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &address_.v4.sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, port());
  }
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &address_.v6.sin6_addr, text, sizeof text);
    return fmt::format("[{}]:{}", text, port());
  }
  return "?";
}

bool Endpoint::operator==(const Endpoint& other) const {
  if (family() != other.family()) return false;
  if (!valid()) return true;
  auto a = ip_bytes(), b = other.ip_bytes();
  return port() == other.port() && std::memcmp(a.data(), b.data(), a.size()) == 0 &&
         (family() != AF_INET6 || address_.v6.sin6_scope_id == other.address_.v6.sin6_scope_id);
}

size_t Endpoint::hash() const {
  uint64_t h = 1469598103934665603ull ^ static_cast<uint64_t>(family());
  for (uint8_t byte : ip_bytes()) h = (h ^ byte) * 1099511628211ull;
  h = (h ^ port()) * 1099511628211ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

// ---- UdpSocket --------------------------------------------------------------

namespace {

// One receive buffer per thread, shared by every socket of that thread's
// loop: libuv calls alloc, recvmsg and the receive callback back to back.
std::byte* receive_buffer() {
  static thread_local std::unique_ptr<uint64_t[]> buffer;
  if (!buffer) buffer.reset(new uint64_t[(UdpSocket::kMaxDatagram + 1 + 7) / 8]);
  return reinterpret_cast<std::byte*>(buffer.get());
}

constexpr size_t kReceiveBufferSize = (UdpSocket::kMaxDatagram + 1 + 7) / 8 * 8;

}  // namespace

struct UdpSocket::Impl {
  uv_udp_t handle{};
  int family = AF_UNSPEC;  // of the bound address
  ReceiveFn on_datagram;
  Counters counters;
  size_t queued_bytes = 0;
  size_t queue_limit = 1 << 20;
};

namespace {

struct QueuedSend {
  uv_udp_send_t request{};
  size_t* queued_bytes = nullptr;  // the socket's; valid until this request's callback ran
  std::vector<std::byte> data;
};

}  // namespace

UdpSocket::UdpSocket(uv_loop_t* loop) : impl_(new Impl) {
  int rc = uv_udp_init(loop, &impl_->handle);
  if (rc != 0) {
    delete impl_;
    fail("cannot create a UDP socket: {}", uv_strerror(rc));
  }
  impl_->handle.data = impl_;
}

UdpSocket::~UdpSocket() {
  uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&impl_->handle);
  if (uv_is_closing(handle)) return;  // closed behind our back (loop teardown)
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<Impl*>(h->data); });
}

void UdpSocket::bind(const Endpoint& address) {
  require(address.valid(), "cannot bind a UDP socket to an invalid address");
  int rc = uv_udp_bind(&impl_->handle, address.sockaddr_ptr(), 0);
  if (rc != 0) fail("cannot listen on UDP {}: {}", address.to_string(), uv_strerror(rc));
  impl_->family = address.family();
}

Endpoint UdpSocket::local_endpoint() const {
  sockaddr_storage storage{};
  int length = sizeof storage;
  if (uv_udp_getsockname(&impl_->handle, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
    return {};
  }
  return Endpoint::from_sockaddr(reinterpret_cast<sockaddr*>(&storage));
}

void UdpSocket::start(ReceiveFn on_datagram) {
  impl_->on_datagram = std::move(on_datagram);
  auto alloc = [](uv_handle_t*, size_t, uv_buf_t* buf) {
    *buf = uv_buf_init(reinterpret_cast<char*>(receive_buffer()), kReceiveBufferSize);
  };
  auto receive = [](uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* from,
                    unsigned flags) {
    Impl* impl = static_cast<Impl*>(h->data);
    if (nread < 0) {
      ++impl->counters.receive_errors;
      return;
    }
    if (from == nullptr) return;  // nothing more to read
    size_t size = static_cast<size_t>(nread);
    bool truncated = (flags & UV_UDP_PARTIAL) != 0 || size > kMaxDatagram;
    if (size > kMaxDatagram) size = kMaxDatagram;
    impl->on_datagram(std::span<const std::byte>(reinterpret_cast<std::byte*>(buf->base), size),
                      Endpoint::from_sockaddr(from), truncated);
  };
  int rc = uv_udp_recv_start(&impl_->handle, alloc, receive);
  if (rc != 0) fail("cannot receive on UDP {}: {}", local_endpoint().to_string(), uv_strerror(rc));
  notify_handle_started(impl_->handle.loop);
}

void UdpSocket::stop() { uv_udp_recv_stop(&impl_->handle); }

bool UdpSocket::send(const Endpoint& to, std::span<const std::span<const std::byte>> parts) {
  constexpr size_t kMaxParts = 8;
  Counters& counters = impl_->counters;
  size_t total = 0;
  for (auto part : parts) total += part.size();
  if (parts.size() > kMaxParts || total > kMaxDatagram || !to.valid()) {
    ++counters.send_dropped;
    return false;
  }
  // An IPv6 socket reaches IPv4 peers at their v4-mapped address.
  Endpoint mapped;
  const Endpoint* target = &to;
  if (impl_->family == AF_INET6 && to.family() == AF_INET) {
    uint8_t ip[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(ip + 12, to.ip_bytes().data(), 4);
    mapped = Endpoint::from_ip_bytes(ip, to.port());
    target = &mapped;
  }
  uv_buf_t bufs[kMaxParts];
  for (size_t i = 0; i < parts.size(); ++i) {
    bufs[i] = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(parts[i].data())),
                          static_cast<unsigned>(parts[i].size()));
  }
  int rc = uv_udp_try_send(&impl_->handle, bufs, static_cast<unsigned>(parts.size()),
                           target->sockaddr_ptr());
  if (rc >= 0) {
    ++counters.sent;
    return true;
  }
  if (rc != UV_EAGAIN || impl_->queued_bytes + total > impl_->queue_limit) {
    ++counters.send_dropped;
    return false;
  }
  auto* queued = new QueuedSend;
  queued->queued_bytes = &impl_->queued_bytes;
  queued->data.reserve(total);
  for (auto part : parts) queued->data.insert(queued->data.end(), part.begin(), part.end());
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(queued->data.data()),
                             static_cast<unsigned>(total));
  queued->request.data = queued;
  rc = uv_udp_send(&queued->request, &impl_->handle, &buf, 1, target->sockaddr_ptr(),
                   [](uv_udp_send_t* request, int) {
                     auto* q = static_cast<QueuedSend*>(request->data);
                     *q->queued_bytes -= q->data.size();
                     delete q;
                   });
  if (rc != 0) {
    delete queued;
    ++counters.send_dropped;
    return false;
  }
  impl_->queued_bytes += total;
  ++counters.sent;
  ++counters.queued;
  notify_handle_started(impl_->handle.loop);
  return true;
}

void UdpSocket::set_receive_buffer(size_t bytes) {
  int value = static_cast<int>(std::min<size_t>(bytes, 1 << 30));
  uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(&impl_->handle), &value);
}

void UdpSocket::set_queue_limit(size_t bytes) { impl_->queue_limit = bytes; }

const UdpSocket::Counters& UdpSocket::counters() const { return impl_->counters; }

}  // namespace hm::io
