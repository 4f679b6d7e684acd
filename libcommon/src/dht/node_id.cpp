#include "hm/dht/node_id.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "hm/base/error.h"

namespace hm::dht {

NodeId NodeId::from_key(std::string_view key) {
  NodeId id;
  unsigned int size = 0;
  int ok = EVP_Digest(key.data(), key.size(), id.bytes_.data(), &size, EVP_sha1(), nullptr);
  require(ok == 1 && size == kBytes, "SHA-1 failed in OpenSSL (EVP_Digest)");
  return id;
}

std::optional<NodeId> NodeId::from_bytes(std::span<const uint8_t> bytes) {
  if (bytes.size() != kBytes) return std::nullopt;
  NodeId id;
  std::memcpy(id.bytes_.data(), bytes.data(), kBytes);
  return id;
}

std::optional<NodeId> NodeId::from_hex(std::string_view hex) {
  if (hex.size() != 2 * kBytes) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  NodeId id;
  for (size_t i = 0; i < kBytes; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes_[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

NodeId NodeId::random() {
  NodeId id;
  require(RAND_bytes(id.bytes_.data(), kBytes) == 1, "OpenSSL's RAND_bytes failed");
  return id;
}

NodeId NodeId::random(std::mt19937_64& rng) {
  NodeId id;
  for (size_t i = 0; i < kBytes; i += 4) {
    uint32_t word = static_cast<uint32_t>(rng());
    std::memcpy(id.bytes_.data() + i, &word, 4);
  }
  return id;
}

std::string NodeId::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text(2 * kBytes, '0');
  for (size_t i = 0; i < kBytes; ++i) {
    text[2 * i] = kDigits[bytes_[i] >> 4];
    text[2 * i + 1] = kDigits[bytes_[i] & 15];
  }
  return text;
}

void NodeId::set_bit(int i, bool value) {
  uint8_t mask = static_cast<uint8_t>(1u << (7 - i % 8));
  if (value) {
    bytes_[i / 8] |= mask;
  } else {
    bytes_[i / 8] &= static_cast<uint8_t>(~mask);
  }
}

NodeId NodeId::distance(const NodeId& other) const {
  NodeId d;
  for (size_t i = 0; i < kBytes; ++i) d.bytes_[i] = bytes_[i] ^ other.bytes_[i];
  return d;
}

int NodeId::common_prefix_length(const NodeId& other) const {
  for (size_t i = 0; i < kBytes; ++i) {
    uint8_t x = bytes_[i] ^ other.bytes_[i];
    if (x != 0) return static_cast<int>(i * 8) + __builtin_clz(x) - 24;
  }
  return kBits;
}

}  // namespace hm::dht
