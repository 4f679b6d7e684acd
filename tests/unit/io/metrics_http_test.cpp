#include "hm/io/metrics_http.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hm/base/error.h"

namespace hm::io {
namespace {

// A client socket, closed when destroyed; every read and write gives up
// after 5 s.
class Client {
 public:
  explicit Client(const HostPort& server) {
    bool v6 = server.host.find(':') != std::string::npos;
    fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    int rc = -1;
    if (v6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(server.port);
      ::inet_pton(AF_INET6, server.host.c_str(), &a.sin6_addr);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(server.port);
      ::inet_pton(AF_INET, server.host.c_str(), &a.sin_addr);
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    EXPECT_EQ(rc, 0) << "connect to " << server.to_string();
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  int fd() const { return fd_; }

  // Sends all of `data` (or as much as the server takes before closing).
  void send(std::string_view data) {
    for (int tries = 0; !data.empty() && tries < 1000; ++tries) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }

  // Everything until the server closes (or 5 s without a byte, or 16 MiB).
  std::string read_all() {
    std::string out;
    char buffer[65536];
    for (int reads = 0; reads < 4096 && out.size() < (16u << 20); ++reads) {
      ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      out.append(buffer, static_cast<size_t>(n));
    }
    return out;
  }

  // True when the server closed the connection within `ms`.
  bool closed_within(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms) != 1) return false;
    char byte;
    return ::recv(fd_, &byte, 1, MSG_DONTWAIT) == 0;
  }

 private:
  int fd_ = -1;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  std::string raw;
};

Response parse(std::string raw) {
  Response r;
  r.raw = raw;
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || !raw.starts_with("HTTP/1.1 ")) return r;
  r.status = std::stoi(raw.substr(9, 3));
  size_t line = raw.find("\r\n") + 2;
  while (line < end) {
    size_t next = raw.find("\r\n", line);
    std::string header = raw.substr(line, next - line);
    size_t colon = header.find(": ");
    if (colon != std::string::npos) r.headers[header.substr(0, colon)] = header.substr(colon + 2);
    line = next + 2;
  }
  r.body = raw.substr(end + 4);
  return r;
}

Response exchange(const HostPort& server, std::string_view request) {
  Client client(server);
  client.send(request);
  return parse(client.read_all());
}

HostPort loopback() { return HostPort{"127.0.0.1", 0}; }

metrics::Registry& sample_registry() {
  static metrics::Registry registry;
  static bool filled = [] {
    registry.counter("hm_test_calls_total", "Calls.", {"method"}).with({"forward"}).inc(3);
    registry.histogram("hm_test_seconds", "Seconds.", {}, {0.5, 1}).only().observe(0.7);
    return true;
  }();
  (void)filled;
  return registry;
}

TEST(MetricsHttp, GetMetricsServesTheRegistry) {
  MetricsHttpServer server(sample_registry(), loopback());
  EXPECT_EQ(server.address().host, "127.0.0.1");
  EXPECT_NE(server.address().port, 0);
  Response r = exchange(server.address(),
                        "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.headers["Connection"], "close");
  EXPECT_EQ(r.headers["Content-Length"], std::to_string(r.body.size()));
  EXPECT_EQ(r.body, sample_registry().render());
  EXPECT_NE(r.body.find("hm_test_calls_total{method=\"forward\"} 3\n"), std::string::npos);

  Response query = exchange(server.address(), "GET /metrics?name[]=x HTTP/1.0\r\n\r\n");
  EXPECT_EQ(query.status, 200);
  EXPECT_EQ(query.body, r.body);
  Response absolute = exchange(server.address(), "GET http://h:1/metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(absolute.status, 200);
}

TEST(MetricsHttp, HeadSendsHeadersOnly) {
  MetricsHttpServer server(sample_registry(), loopback());
  Response r = exchange(server.address(), "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.headers["Content-Length"], std::to_string(sample_registry().render().size()));
  EXPECT_EQ(r.body, "");
}

TEST(MetricsHttp, RootPointsAtMetricsOtherPathsAreNotFound) {
  MetricsHttpServer server(sample_registry(), loopback());
  Response root = exchange(server.address(), "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(root.status, 200);
  EXPECT_NE(root.body.find("/metrics"), std::string::npos);
  EXPECT_EQ(exchange(server.address(), "GET /nope HTTP/1.1\r\n\r\n").status, 404);
  EXPECT_EQ(exchange(server.address(), "GET /metrics/x HTTP/1.1\r\n\r\n").status, 404);
}

TEST(MetricsHttp, OtherMethodsAreNotAllowed) {
  MetricsHttpServer server(sample_registry(), loopback());
  Response r = exchange(server.address(),
                        "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(r.status, 405) << r.raw;
  EXPECT_EQ(r.headers["Allow"], "GET, HEAD");
}

TEST(MetricsHttp, MalformedRequestsGet400) {
  MetricsHttpServer server(sample_registry(), loopback());
  for (std::string_view request :
       {std::string_view("garbage\r\n\r\n"), std::string_view("GET /metrics\r\n\r\n"),
        std::string_view("GET  /metrics HTTP/1.1\r\n\r\n"),
        std::string_view("GET /metrics HTTP/2.0\r\n\r\n"),
        std::string_view("GET metrics HTTP/1.1\r\n\r\n"),
        std::string_view("G\x01T /metrics HTTP/1.1\r\n\r\n"),
        std::string_view("\r\n\r\n"),
        std::string_view("GET /metrics HTTP/1.1 extra\r\nHost: x\r\n")}) {
    Response r = exchange(server.address(), request);
    EXPECT_EQ(r.status, 400) << "request: " << request << "\nresponse: " << r.raw;
  }
  // A line with a NUL byte.
  EXPECT_EQ(exchange(server.address(), std::string("GET /me\0trics HTTP/1.1\r\n\r\n", 26)).status,
            400);
}

TEST(MetricsHttp, OversizedHeadersGet431) {
  MetricsHttpServer server(sample_registry(), loopback());
  std::string request = "GET /metrics HTTP/1.1\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  Response r = exchange(server.address(), request);
  EXPECT_EQ(r.status, 431) << r.raw.substr(0, 200);
  // Headers that never end are cut off the same way.
  Client endless(server.address());
  endless.send("GET /metrics HTTP/1.1\r\n");
  for (int i = 0; i < 100; ++i) endless.send("X-Pad: " + std::string(100, 'b') + "\r\n");
  EXPECT_EQ(parse(endless.read_all()).status, 431);
  // Exactly at the limit is fine, one byte more is not.
  std::string fits = "GET /metrics HTTP/1.1\r\nX: ";
  fits += std::string(8192 - fits.size() - 4, 'c') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 8192u);
  EXPECT_EQ(exchange(server.address(), fits).status, 200);
  EXPECT_EQ(exchange(server.address(), "GET /metrics HTTP/1.1\r\nX: c" + fits.substr(26)).status,
            431);
}

TEST(MetricsHttp, RequestSentByteByByteAndHalfClosedIsServed) {
  MetricsHttpServer server(sample_registry(), loopback());
  Client client(server.address());
  for (char c : std::string_view("GET /metrics HTTP/1.1\r\n\r\n")) client.send(std::string(1, c));
  ::shutdown(client.fd(), SHUT_WR);
  EXPECT_EQ(parse(client.read_all()).status, 200);
}

TEST(MetricsHttp, SilentConnectionIsClosedAfterTheTimeout) {
  MetricsHttpServer::Limits limits;
  limits.request_timeout_ms = 200;
  MetricsHttpServer server(sample_registry(), loopback(), limits);
  Client silent(server.address());
  Client partial(server.address());
  partial.send("GET /metr");
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.closed_within(3000));
  EXPECT_TRUE(partial.closed_within(3000));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(100));
}

TEST(MetricsHttp, IdleConnectionsPastTheLimitDoNotBlockAScrape) {
  MetricsHttpServer server(sample_registry(), loopback());
  std::vector<std::unique_ptr<Client>> idle;
  for (int i = 0; i < 70; ++i) idle.push_back(std::make_unique<Client>(server.address()));
  Response r = exchange(server.address(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  // 71 connections for 64 places: the 7 oldest idle ones were closed.
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(idle[i]->closed_within(2000)) << "connection " << i;
  for (int i = 7; i < 70; ++i) EXPECT_FALSE(idle[i]->closed_within(0)) << "connection " << i;
}

TEST(MetricsHttp, CollectorsRunOnTheServerThread) {
  metrics::Registry registry;
  auto& gauge = registry.gauge("hm_g", "G.").only();
  std::atomic<bool> on_test_thread = true;
  auto test_thread = std::this_thread::get_id();
  metrics::CollectorHandle collector(registry, [&] {
    on_test_thread = std::this_thread::get_id() == test_thread;
    gauge.set(42);
  });
  MetricsHttpServer server(registry, loopback());
  Response r = exchange(server.address(), "GET /metrics HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.body, "# HELP hm_g G.\n# TYPE hm_g gauge\nhm_g 42\n");
  EXPECT_FALSE(on_test_thread);
}

TEST(MetricsHttp, ServesIPv6) {
  std::optional<MetricsHttpServer> server;
  try {
    server.emplace(sample_registry(), HostPort{"::1", 0});
  } catch (const Error& e) {
    GTEST_SKIP() << "no IPv6 loopback: " << e.what();
  }
  EXPECT_EQ(server->address().host, "::1");
  EXPECT_EQ(exchange(server->address(), "GET /metrics HTTP/1.1\r\n\r\n").status, 200);
}

TEST(MetricsHttp, BindFailureNamesTheAddress) {
  int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(taken, 1), 0);
  socklen_t length = sizeof a;
  ::getsockname(taken, reinterpret_cast<sockaddr*>(&a), &length);
  uint16_t port = ntohs(a.sin_port);
  try {
    MetricsHttpServer server(sample_registry(), HostPort{"127.0.0.1", port});
    ADD_FAILURE() << "bound a port already in use";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "--metrics 127.0.0.1:" + std::to_string(port) +
                  ": cannot listen: address already in use");
  }
  ::close(taken);
  try {
    MetricsHttpServer server(sample_registry(), HostPort{"no-such-host.invalid", 9});
    ADD_FAILURE() << "resolved no-such-host.invalid";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--metrics no-such-host.invalid:9"), std::string::npos)
        << e.what();
  }
}

TEST(MetricsHttp, DestructorClosesOpenConnections) {
  auto server = std::make_unique<MetricsHttpServer>(sample_registry(), loopback());
  Client idle(server->address());
  Client partial(server->address());
  partial.send("GET /metrics HTTP/1.1\r\n");
  // Make sure both are accepted before stopping.
  EXPECT_EQ(exchange(server->address(), "GET / HTTP/1.1\r\n\r\n").status, 200);
  server.reset();
  EXPECT_TRUE(idle.closed_within(2000));
  EXPECT_TRUE(partial.closed_within(2000));
}

}  // namespace
}  // namespace hm::io
