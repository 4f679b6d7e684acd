#include "hm/bench/client_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>

#include "hm/base/error.h"
#include "hm/base/log.h"

extern char** environ;

namespace hm::bench {
namespace {

struct Child {
  pid_t pid = -1;
  int in = -1;   // its stdin (we write)
  int out = -1;  // its stdout (we read)
  std::string buffer;
  bool ready = false;
  bool eof = false;
  std::optional<ClientResult> result;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

Child spawn_child(const std::vector<std::string>& argv) {
  int to_child[2], from_child[2];
  require(::pipe2(to_child, O_CLOEXEC) == 0 && ::pipe2(from_child, O_CLOEXEC) == 0,
          "cannot make a pipe for a client process: {}", std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Child child;
  int rc = posix_spawn(&child.pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (rc != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    fail("cannot start client process {}: {}", argv[0], std::strerror(rc));
  }
  child.in = to_child[1];
  child.out = from_child[0];
  return child;
}

void kill_all(std::vector<Child>& children) {
  for (auto& c : children) {
    if (c.pid > 0) ::kill(c.pid, SIGKILL);
  }
  for (auto& c : children) {
    if (c.pid > 0) ::waitpid(c.pid, nullptr, 0);
    c.pid = -1;
    close_fd(c.in);
    close_fd(c.out);
  }
}

// Handles the complete lines in `child.buffer`.
void take_lines(Child& child, size_t index, const std::function<void()>& tick) {
  size_t pos;
  while ((pos = child.buffer.find('\n')) != std::string::npos) {
    std::string line = child.buffer.substr(0, pos);
    child.buffer.erase(0, pos + 1);
    if (line == "ready") {
      child.ready = true;
    } else if (line == "tick") {
      if (tick) tick();
    } else if (line.rfind("result ", 0) == 0) {
      child.result = decode_client_result(line.substr(7));
    } else {
      fail("client process {} said '{}'", index, line.substr(0, 80));
    }
  }
}

void pump(std::vector<Child>& children, const std::function<void()>& tick) {
  std::vector<pollfd> fds;
  std::vector<size_t> owners;
  for (size_t i = 0; i < children.size(); ++i) {
    if (children[i].eof) continue;
    fds.push_back({children[i].out, POLLIN, 0});
    owners.push_back(i);
  }
  if (fds.empty()) return;
  int n = ::poll(fds.data(), fds.size(), -1);
  if (n < 0 && errno == EINTR) return;
  require(n >= 0, "poll on client processes: {}", std::strerror(errno));
  char buffer[65536];
  for (size_t k = 0; k < fds.size(); ++k) {
    if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    auto& child = children[owners[k]];
    ssize_t got = ::read(child.out, buffer, sizeof(buffer));
    if (got > 0) {
      child.buffer.append(buffer, static_cast<size_t>(got));
      take_lines(child, owners[k], tick);
    } else if (got == 0 || errno != EINTR) {
      child.eof = true;
    }
  }
}

int wait_status(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

std::vector<ClientResult> run_client_processes(const std::vector<std::string>& argv,
                                               const std::vector<ClientSpec>& specs,
                                               const std::function<void()>& tick) {
  require(!argv.empty(), "no program to run client processes with");
  ::signal(SIGPIPE, SIG_IGN);
  std::vector<Child> children;
  children.reserve(specs.size());
  try {
    for (const auto& spec : specs) {
      auto args = argv;
      args.push_back("--spec");
      args.push_back(encode(spec));
      children.push_back(spawn_child(args));
    }
    auto all = [&](auto pred) {
      for (auto& c : children) {
        if (!pred(c)) return false;
      }
      return true;
    };
    while (!all([](const Child& c) { return c.ready || c.eof; })) pump(children, tick);
    for (size_t i = 0; i < children.size(); ++i) {
      require(children[i].ready, "client process {} exited before it was ready", i);
    }
    for (auto& c : children) {
      require(::write(c.in, "go\n", 3) == 3, "cannot start a client process: {}",
              std::strerror(errno));
      close_fd(c.in);
    }
    while (!all([](const Child& c) { return c.eof; })) pump(children, tick);
    std::vector<ClientResult> results;
    for (size_t i = 0; i < children.size(); ++i) {
      auto& c = children[i];
      int code = wait_status(c.pid);
      c.pid = -1;
      close_fd(c.out);
      require(code == 0, "client process {} exited with status {}", i, code);
      require(c.result.has_value(), "client process {} exited without a result", i);
      results.push_back(std::move(*c.result));
    }
    return results;
  } catch (...) {
    kill_all(children);
    throw;
  }
}

int client_process_main(const std::string& spec_text) {
  auto spec = decode_client_spec(spec_text);
  ClientHooks hooks;
  hooks.ready = [] {
    std::fputs("ready\n", stdout);
    std::fflush(stdout);
    std::string line;
    if (!std::getline(std::cin, line)) fail("the parent went away before the start");
  };
  hooks.batch_done = [] {
    std::fputs("tick\n", stdout);
    std::fflush(stdout);
  };
  auto result = run_client(spec, hooks);
  std::printf("result %s\n", encode(result).c_str());
  std::fflush(stdout);
  return 0;
}

std::string self_executable() {
  char path[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "/proc/self/exe";
  return std::string(path, static_cast<size_t>(n));
}

}  // namespace hm::bench
