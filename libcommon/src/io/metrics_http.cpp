#include "hm/io/metrics_http.h"

#include <pthread.h>
#include <signal.h>
#include <uv.h>

#include <algorithm>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

#include "hm/base/error.h"
#include "hm/io/udp_socket.h"

namespace hm::io {
namespace {

constexpr int kBacklog = 128;
constexpr uint64_t kLingerMs = 1000;  // reading (and dropping) after the response, before closing
constexpr size_t kReadBufferSize = 16384;

// ---- requests and responses (no I/O) ------------------------------------------

struct RequestLine {
  std::string_view method;
  std::string_view path;  // without query or fragment
};

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "METHOD SP TARGET SP HTTP/1.x"; nullopt when malformed.
std::optional<RequestLine> parse_request_line(std::string_view line) {
  size_t first = line.find(' ');
  if (first == std::string_view::npos) return std::nullopt;
  size_t second = line.find(' ', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  std::string_view method = line.substr(0, first);
  std::string_view target = line.substr(first + 1, second - first - 1);
  std::string_view version = line.substr(second + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_token_char)) {
    return std::nullopt;
  }
  if (target.empty() || !std::all_of(target.begin(), target.end(),
                                     [](char c) { return c > 0x20 && c < 0x7f; })) {
    return std::nullopt;
  }
  if (version.size() != 8 || !version.starts_with("HTTP/1.") || version[7] < '0' ||
      version[7] > '9') {
    return std::nullopt;
  }
  // The absolute form (http://host/path) names the same resource as /path.
  for (std::string_view scheme : {"http://", "https://"}) {
    if (target.starts_with(scheme)) {
      size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  }
  if (!target.starts_with('/')) return std::nullopt;
  return RequestLine{method, target.substr(0, target.find_first_of("?#"))};
}

std::string http_response(int status, std::string_view reason, std::string_view content_type,
                          std::string_view extra_headers, std::string_view body,
                          bool head_only) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
      status, reason, content_type, body.size(), extra_headers);
  if (!head_only) out += body;
  return out;
}

std::string error_response(int status, std::string_view reason, std::string_view extra = "",
                           bool head_only = false) {
  return http_response(status, reason, "text/plain; charset=utf-8", extra,
                       fmt::format("{} {}\n", status, reason), head_only);
}

// The whole response to a request whose head (request line and headers) is
// `head`.
std::string answer(std::string_view head, metrics::Registry& registry) {
  auto line = parse_request_line(head.substr(0, head.find("\r\n")));
  if (!line) return error_response(400, "Bad Request");
  bool head_only = line->method == "HEAD";
  if (line->method != "GET" && !head_only) {
    return error_response(405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
  }
  if (line->path == "/metrics") {
    std::string body;
    try {
      body = registry.render();
    } catch (const std::exception& e) {
      spdlog::warn("metrics: cannot render the registry: {}", e.what());
      return error_response(500, "Internal Server Error", "", head_only);
    }
    return http_response(200, "OK", "text/plain; version=0.0.4; charset=utf-8", "", body,
                         head_only);
  }
  if (line->path == "/") {
    return http_response(200, "OK", "text/plain; charset=utf-8", "",
                         "hm: Prometheus metrics at /metrics\n", head_only);
  }
  return error_response(404, "Not Found", "", head_only);
}

// ---- the loop -------------------------------------------------------------------

struct HttpLoop;

enum class State { kReading, kWriting, kLingering };

// One accepted connection. Freed when both its handles are closed.
struct Connection {
  HttpLoop* server = nullptr;
  uv_tcp_t tcp{};
  uv_timer_t timer{};  // the request deadline, then the linger
  uv_write_t write{};
  uv_shutdown_t shutdown{};
  State state = State::kReading;
  bool closing = false;
  bool peer_done = false;  // read EOF
  int open_handles = 0;
  std::string request;   // bytes of the head read so far (capped)
  std::string response;  // being written
  std::list<Connection*>::iterator position;
};

struct HttpLoop {
  HttpLoop(metrics::Registry& r, MetricsHttpServer::Limits l) : registry(r), limits(l) {}

  metrics::Registry& registry;
  MetricsHttpServer::Limits limits;
  uv_loop_t loop{};
  uv_tcp_t listener{};
  uv_async_t stop{};
  std::list<Connection*> connections;  // oldest first
  char read_buffer[kReadBufferSize];   // for every connection: one read at a time
};

void on_handle_closed(uv_handle_t* handle) {
  auto* c = static_cast<Connection*>(handle->data);
  if (--c->open_handles == 0) delete c;
}

void close_connection(Connection* c) {
  if (c->closing) return;
  c->closing = true;
  c->server->connections.erase(c->position);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), on_handle_closed);
}

void on_timer(uv_timer_t* timer) {
  auto* c = static_cast<Connection*>(timer->data);
  if (c->state == State::kReading) {
    spdlog::debug("metrics: closing a connection that sent no full request within {} ms",
                  c->server->limits.request_timeout_ms);
  }
  close_connection(c);
}

void on_shutdown(uv_shutdown_t* request, int status) {
  auto* c = static_cast<Connection*>(request->data);
  if (status < 0 && !c->closing) close_connection(c);
}

void on_written(uv_write_t* request, int status) {
  auto* c = static_cast<Connection*>(request->data);
  if (c->closing) return;  // cancelled by close_connection
  if (status < 0 || c->peer_done) {
    close_connection(c);
    return;
  }
  // Closing with unread bytes would reset the connection and could destroy
  // the response before the client reads it: send FIN, drain, then close.
  c->state = State::kLingering;
  c->response = std::string();
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, reinterpret_cast<uv_stream_t*>(&c->tcp), on_shutdown) != 0) {
    close_connection(c);
    return;
  }
  uv_timer_start(&c->timer, on_timer, kLingerMs, 0);
}

void respond(Connection* c, std::string response) {
  c->state = State::kWriting;
  c->request = std::string();
  uv_timer_stop(&c->timer);
  c->response = std::move(response);
  uv_buf_t buf = uv_buf_init(c->response.data(), static_cast<unsigned>(c->response.size()));
  c->write.data = c;
  if (uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, on_written) != 0) {
    close_connection(c);
  }
}

// Looks at the head read so far: answers once it is complete, too long, or
// its request line is already malformed.
void examine(Connection* c, size_t old_size) {
  const size_t limit = c->server->limits.max_header_bytes;
  size_t end = c->request.find("\r\n\r\n", old_size >= 3 ? old_size - 3 : 0);
  if ((end == std::string::npos && c->request.size() >= limit) ||
      (end != std::string::npos && end + 4 > limit)) {
    spdlog::debug("metrics: refusing a request whose headers exceed {} bytes", limit);
    respond(c, error_response(431, "Request Header Fields Too Large"));
    return;
  }
  if (end != std::string::npos) {
    respond(c, answer(std::string_view(c->request).substr(0, end + 2), c->server->registry));
    return;
  }
  size_t line_end = c->request.find("\r\n");
  if (line_end != std::string::npos &&
      !parse_request_line(std::string_view(c->request).substr(0, line_end))) {
    respond(c, error_response(400, "Bad Request"));
  }
}

void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(handle->data);
  *buf = uv_buf_init(c->server->read_buffer, kReadBufferSize);
}

void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(stream->data);
  if (c->closing) return;
  if (nread == UV_EOF) {
    c->peer_done = true;
    if (c->state != State::kWriting) close_connection(c);  // else on_written closes
    return;
  }
  if (nread < 0) {
    close_connection(c);
    return;
  }
  if (c->state != State::kReading || nread == 0) return;  // after the head: dropped
  size_t old_size = c->request.size();
  size_t room = c->server->limits.max_header_bytes + 4 - old_size;
  c->request.append(buf->base, std::min(static_cast<size_t>(nread), room));
  try {
    examine(c, old_size);
  } catch (const std::exception& e) {  // out of memory
    spdlog::warn("metrics: cannot answer a request: {}", e.what());
    close_connection(c);
  }
}

// At the connection limit: the oldest connection already answered, else the
// oldest one that has not sent a full request.
Connection* pick_victim(HttpLoop* server) {
  for (State state : {State::kLingering, State::kReading}) {
    for (Connection* c : server->connections) {
      if (c->state == state) return c;
    }
  }
  return nullptr;
}

void on_connection(uv_stream_t* listener, int status) {
  auto* server = static_cast<HttpLoop*>(listener->data);
  if (status < 0) {
    spdlog::debug("metrics: accept failed: {}", uv_strerror(status));
    return;
  }
  auto* c = new Connection;
  c->server = server;
  if (uv_tcp_init(&server->loop, &c->tcp) != 0) {  // not for AF_UNSPEC on Unix
    delete c;
    return;
  }
  uv_timer_init(&server->loop, &c->timer);  // cannot fail
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  c->position = server->connections.insert(server->connections.end(), c);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    close_connection(c);
    return;
  }
  if (server->connections.size() > server->limits.max_connections) {
    Connection* victim = pick_victim(server);  // `c` itself when every other one is writing
    spdlog::debug("metrics: at the limit of {} connections: closing {}",
                  server->limits.max_connections,
                  victim == c ? "the new one" : "the oldest idle one");
    close_connection(victim);
    if (victim == c) return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->timer, on_timer, server->limits.request_timeout_ms, 0);
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read) != 0) {
    close_connection(c);
  }
}

void on_stop(uv_async_t* async) {
  auto* server = static_cast<HttpLoop*>(async->data);
  uv_close(reinterpret_cast<uv_handle_t*>(&server->listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&server->stop), nullptr);
  while (!server->connections.empty()) close_connection(server->connections.front());
}

HostPort local_address(const uv_tcp_t* tcp) {
  sockaddr_storage storage{};
  int length = sizeof storage;
  if (uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return {};
  char text[64] = {};
  HostPort result;
  if (storage.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    uv_ip6_name(v6, text, sizeof text);
    result.port = ntohs(v6->sin6_port);
  } else {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
    uv_ip4_name(v4, text, sizeof text);
    result.port = ntohs(v4->sin_port);
  }
  result.host = text;
  return result;
}

}  // namespace

struct MetricsHttpServer::Impl {
  Impl(metrics::Registry& registry, Limits limits) : server(registry, limits) {}

  HttpLoop server;
  HostPort bound;
  std::thread thread;
};

MetricsHttpServer::MetricsHttpServer(metrics::Registry& registry, const HostPort& address)
    : MetricsHttpServer(registry, address, Limits{}) {}

MetricsHttpServer::MetricsHttpServer(metrics::Registry& registry, const HostPort& address,
                                     Limits limits)
    : impl_(std::make_unique<Impl>(registry, limits)) {
  const std::string what = fmt::format("--metrics {}", address.to_string());
  Endpoint endpoint = Endpoint::resolve(address, what);
  HttpLoop& s = impl_->server;
  int rc = uv_loop_init(&s.loop);
  if (rc != 0) fail("{}: cannot start a loop: {}", what, uv_strerror(rc));
  rc = uv_async_init(&s.loop, &s.stop, on_stop);  // fails only out of file descriptors
  if (rc != 0) {
    uv_loop_close(&s.loop);
    fail("{}: cannot start a loop: {}", what, uv_strerror(rc));
  }
  s.stop.data = &s;
  uv_tcp_init(&s.loop, &s.listener);  // cannot fail for AF_UNSPEC
  s.listener.data = &s;
  rc = uv_tcp_bind(&s.listener, endpoint.sockaddr_ptr(), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s.listener), kBacklog, on_connection);
  }
  if (rc == 0) {
    impl_->bound = local_address(&s.listener);
    try {
      impl_->thread = std::thread([&s] {
        sigset_t pipe;  // a write to a closed socket returns EPIPE instead of killing us
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        uv_run(&s.loop, UV_RUN_DEFAULT);
      });
      return;
    } catch (const std::system_error&) {
      rc = UV_EAGAIN;
    }
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&s.listener), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&s.stop), nullptr);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  uv_loop_close(&s.loop);
  fail("{}: cannot listen: {}", what, uv_strerror(rc));
}

MetricsHttpServer::~MetricsHttpServer() {
  uv_async_send(&impl_->server.stop);
  impl_->thread.join();
  int rc = uv_loop_close(&impl_->server.loop);
  if (rc != 0) spdlog::warn("metrics: the HTTP loop did not close: {}", uv_strerror(rc));
}

HostPort MetricsHttpServer::address() const { return impl_->bound; }

}  // namespace hm::io
