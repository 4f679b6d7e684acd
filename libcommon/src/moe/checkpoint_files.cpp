#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "hm/base/expert_uid.h"
#include "hm/base/log.h"
#include "hm/moe/checkpoint.h"

// Checkpoint files as files: names, listing, atomic writes, checksums (the
// format itself is in checkpoint.cpp).
namespace hm::moe {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".pt";
constexpr std::string_view kTempSuffix = ".pt.tmp";

bool plain_file_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is never written, so never read
}

}  // namespace

uint64_t checksum64(std::span<const std::byte> bytes) {
  constexpr uint64_t kPrime = 0x100000001b3ull;
  uint64_t lanes[4] = {0xcbf29ce484222325ull, 0x84222325cbf29ce4ull, 0x9e3779b97f4a7c15ull,
                       0xbf58476d1ce4e5b9ull};
  const std::byte* data = bytes.data();
  const size_t n = bytes.size();
  size_t i = 0;
  auto mix = [&](uint64_t& lane, const std::byte* at) {
    uint64_t word;
    std::memcpy(&word, at, 8);
    lane = (lane ^ word) * kPrime;
    lane ^= lane >> 29;
  };
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k) mix(lanes[k], data + i + 8 * k);
  }
  uint64_t hash = n;
  for (uint64_t lane : lanes) hash = ((hash ^ lane) * kPrime) ^ (hash >> 31);
  for (; i < n; ++i) hash = (hash ^ static_cast<uint64_t>(data[i])) * kPrime;
  return hash ^ (hash >> 33);
}

std::string checkpoint_file_name(std::string_view uid) {
  std::string out;
  for (char c : uid) {
    if (plain_file_char(c)) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out += kSuffix;
}

std::optional<std::string> uid_of_checkpoint_file(std::string_view name) {
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return std::nullopt;
  name.remove_suffix(kSuffix.size());
  std::string uid;
  for (size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '%') {
      if (!plain_file_char(name[i])) return std::nullopt;
      uid += name[i];
      continue;
    }
    if (i + 2 >= name.size()) return std::nullopt;
    const int high = hex_value(name[i + 1]), low = hex_value(name[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    uid += static_cast<char>(high * 16 + low);
    i += 2;
  }
  if (!is_valid_uid(uid) || checkpoint_file_name(uid) != std::string(name) + ".pt") {
    return std::nullopt;
  }
  return uid;
}

std::map<std::string, std::string> list_checkpoints(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  require(!error, "--checkpoint-dir {}: cannot create it: {}", dir, error.message());
  std::map<std::string, std::string> found;
  fs::directory_iterator it(dir, error);
  require(!error, "--checkpoint-dir {}: cannot list it: {}", dir, error.message());
  for (; it != fs::directory_iterator(); it.increment(error)) {
    const auto name = it->path().filename().string();
    if (name.ends_with(kTempSuffix)) {
      spdlog::warn("removing {}: a checkpoint save that never finished", it->path().string());
      fs::remove(it->path(), error);
      continue;
    }
    if (!name.ends_with(kSuffix)) continue;
    if (auto uid = uid_of_checkpoint_file(name)) {
      found.emplace(std::move(*uid), it->path().string());
    } else {
      spdlog::warn("ignoring {}: not named after an expert uid", it->path().string());
    }
  }
  require(!error, "--checkpoint-dir {}: cannot list it: {}", dir, error.message());
  return found;
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  const std::string temp = path + ".tmp";
  auto failed = [&](const char* step) {
    const int saved = errno;
    ::unlink(temp.c_str());
    fail("checkpoint {}: {} failed: {}", path, step, std::strerror(saved));
  };
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) failed("open");
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      failed("write");
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    failed("fsync");
  }
  if (::close(fd) != 0) failed("close");
  if (::rename(temp.c_str(), path.c_str()) != 0) failed("rename");
  // The rename is durable once the directory is synced.
  const auto dir = fs::path(path).parent_path();
  const int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace hm::moe
