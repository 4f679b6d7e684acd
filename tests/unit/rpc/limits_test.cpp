// The server's abuse limits (hm/rpc/server_limits.h): each refusal is a clear
// one-line RPC error naming the flag, nothing large is allocated for a
// hostile header, and the server keeps serving well-behaved clients. Also
// 10,000 connections at once, and a frame header that claims 4 GiB.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <capnp/ez-rpc.h>
#include <capnp/message.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>

#include "hm/rpc/request_tensors.h"
#include "hm/wire/expert.capnp.h"
#include "test_servers.h"

namespace hm::rpc {
namespace {

using Clock = std::chrono::steady_clock;

// Builds a tensor whose header says `shape` but which carries `data_bytes`
// bytes of zeros (a lie when they do not match).
void fill_tensor(wire::Tensor::Builder tensor, std::vector<int64_t> shape, size_t data_bytes) {
  tensor.setDtype(wire::DType::FLOAT32);
  auto dims = tensor.initShape(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) dims.set(i, shape[i]);
  tensor.initData(data_bytes);
}

std::string decode_error(const std::vector<std::vector<int64_t>>& shapes,
                         const ServerLimits& limits, size_t data_bytes = 0) {
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<wire::ExpertServer::ForwardParams>().initInputs(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) fill_tensor(list[i], shapes[i], data_bytes);
  try {
    decode_request_tensors(list.asReader(), limits, "forward inputs");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Peak resident memory of this process (VmHWM), in MiB.
long peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6)) / 1024;
  }
  return 0;
}

TEST(ServerLimits, HeaderClaimingFourGiBIsRefusedBeforeAnyAllocation) {
  long before = peak_rss_mb();
  EXPECT_EQ(decode_error({{int64_t{1} << 30, 4}}, ServerLimits{}),
            "forward inputs: tensor 0: 4294967296 elements exceed the limit of 268435456 "
            "(--max-tensor-elements)");
  EXPECT_LT(peak_rss_mb() - before, 64);
}

TEST(ServerLimits, TenTimesEachLimitIsRefusedNamingTheFlag) {
  ServerLimits limits;
  limits.max_tensors = 4;
  limits.max_elements = 1000;
  limits.max_tensor_bytes = 1 << 20;
  std::vector<std::vector<int64_t>> forty(40, std::vector<int64_t>{1});
  EXPECT_EQ(decode_error(forty, limits),
            "forward inputs: 40 tensors exceed the limit of 4 (--max-tensors)");
  EXPECT_EQ(decode_error({{100, 100}}, limits),
            "forward inputs: tensor 0: 10000 elements exceed the limit of 1000 "
            "(--max-tensor-elements)");
  limits.max_elements = int64_t{1} << 30;
  EXPECT_EQ(decode_error({{10, 1 << 18}}, limits),
            "forward inputs: tensor 0: 10485760 bytes exceed the limit of 1 MiB "
            "(--max-tensor-mb)");
  // Dimensions whose product overflows int64 are refused too.
  EXPECT_NE(decode_error({{int64_t{1} << 40, int64_t{1} << 40}}, limits)
                .find("--max-tensor-elements"),
            std::string::npos);
  // Within the limits, the data must match the header.
  EXPECT_EQ(decode_error({{2, 2}}, limits, 4),
            "forward inputs: tensor 0: tensor data is 4 bytes but float32[2, 2] needs 16");
}

TEST(ServerLimits, NonFiniteValuesAreRefusedUnlessAllowed) {
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<wire::ExpertServer::ForwardParams>().initInputs(1);
  fill_tensor(list[0], {5}, 20);
  auto data = list[0].getData();
  float values[5] = {1, 2, 3, NAN, 5};
  memcpy(data.begin(), values, sizeof(values));
  ServerLimits limits;
  try {
    decode_request_tensors(list.asReader(), limits, "forward inputs");
    FAIL() << "NaN accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "forward inputs: tensor 0 has a non-finite value (NaN) at element 3; refused "
                 "(the server runs without --allow-nonfinite)");
  }
  limits.reject_nonfinite = false;
  EXPECT_EQ(decode_request_tensors(list.asReader(), limits, "forward inputs").size(), 1u);
}

// A forward request through stock Cap'n Proto; returns the error text, or ""
// when it was answered.
std::string forward_error(capnp::EzRpcClient& client, std::vector<int64_t> shape,
                          size_t data_bytes) {
  auto request = client.getMain<wire::ExpertServer>().forwardRequest();
  request.setUid("dbl.0");
  fill_tensor(request.initInputs(1)[0], std::move(shape), data_bytes);
  try {
    request.send().wait(client.getWaitScope());
    return "";
  } catch (const kj::Exception& e) {
    return e.getDescription().cStr();
  }
}

TEST(ServerLimits, ServerRefusesAHugeHeaderAndServesTheNextCall) {
  DoublingHost host;
  ServerThread server(host);
  capnp::EzRpcClient client(server.address().host, server.address().port);
  long before = peak_rss_mb();
  EXPECT_NE(forward_error(client, {int64_t{1} << 30, 4}, 0).find("--max-tensor-elements"),
            std::string::npos);
  EXPECT_LT(peak_rss_mb() - before, 64);
  EXPECT_EQ(forward_error(client, {1, 4}, 16), "");
}

TEST(ServerLimits, CallsBeyondMaxInFlightOnOneConnectionAreRefused) {
  DoublingHost host(std::chrono::milliseconds(100));
  ServerLimits limits;
  limits.max_in_flight = 2;
  ServerThread server(host, limits);
  capnp::EzRpcClient client(server.address().host, server.address().port);
  auto expert = client.getMain<wire::ExpertServer>();
  std::vector<kj::Promise<std::string>> calls;
  for (int i = 0; i < 5; ++i) {
    auto request = expert.forwardRequest();
    request.setUid("dbl.0");
    fill_tensor(request.initInputs(1)[0], {1, 4}, 16);
    calls.push_back(request.send().then(
        [](auto) { return std::string(); },
        [](kj::Exception&& e) { return std::string(e.getDescription().cStr()); }));
  }
  int refused = 0;
  for (auto& call : calls) {
    auto error = call.wait(client.getWaitScope());
    if (error.empty()) continue;
    ++refused;
    EXPECT_NE(error.find("too many calls in flight on this connection (limit 2, --max-in-flight)"),
              std::string::npos)
        << error;
  }
  EXPECT_EQ(refused, 3);
  EXPECT_EQ(forward_error(client, {1, 4}, 16), "");  // the slots came back
}

// A connected TCP socket to `address` (blocking), or -1.
int tcp_connect(const HostPort& address, bool nonblocking = false) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(address.port);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(ServerLimits, FrameHeaderClaimingFourGiBClosesOnlyThatConnection) {
  DoublingHost host;
  ServerThread server(host);
  long before = peak_rss_mb();
  int fd = tcp_connect(server.address());
  ASSERT_GE(fd, 0);
  // One segment of 2^29 words (4 GiB), then a few bytes of it.
  const unsigned char header[16] = {0, 0, 0, 0, 0, 0, 0, 0x20, 1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_EQ(write(fd, header, sizeof(header)), static_cast<ssize_t>(sizeof(header)));
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char buffer[4096];
  std::string answer;
  ssize_t n;
  do {
    n = read(fd, buffer, sizeof(buffer));  // an Abort message, then EOF
    if (n > 0) answer.append(buffer, n);
  } while (n > 0 && answer.size() < 65536);
  EXPECT_EQ(n, 0) << "the server did not close the connection";
  EXPECT_NE(answer.find("a message of 4294967304 bytes exceeds the limit of 1024 MiB "
                        "(--max-message-mb)"),
            std::string::npos)
      << answer;
  close(fd);
  EXPECT_LT(peak_rss_mb() - before, 64);
  capnp::EzRpcClient client(server.address().host, server.address().port);
  EXPECT_EQ(forward_error(client, {1, 4}, 16), "");
}

// Raises this process's open-file limit to its hard limit; returns it.
rlim_t raise_open_files() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

TEST(ServerLimits, TenThousandSilentConnectionsLeaveRoomForAWellBehavedClient) {
  constexpr int kConnections = 10000;
  // Both ends live in this process: the test's sockets and the server's.
  rlim_t needed = kConnections + ServerLimits{}.max_connections + 100;
  if (raise_open_files() < needed) {
    GTEST_SKIP() << "needs an open-file hard limit of " << needed << " (ulimit -Hn)";
  }
  DoublingHost host;
  ServerThread server(host);
  std::vector<int> sockets;
  sockets.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) {
    int fd = tcp_connect(server.address(), /*nonblocking=*/true);
    ASSERT_GE(fd, 0) << "connection " << i << ": " << strerror(errno);
    sockets.push_back(fd);
  }
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (server.connection_count() < ServerLimits{}.max_connections && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server.connection_count(), ServerLimits{}.max_connections);

  auto start = Clock::now();
  {
    capnp::EzRpcClient client(server.address().host, server.address().port);
    EXPECT_EQ(forward_error(client, {1, 4}, 16), "");
  }
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(5));

  for (int fd : sockets) close(fd);
  deadline = Clock::now() + std::chrono::seconds(20);
  while (server.connection_count() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(server.connection_count(), 0u);
}

}  // namespace
}  // namespace hm::rpc
