// NodeId: a 160-bit Kademlia id, for nodes and for keys alike.
//
// Stored big-endian in 20 bytes, so that comparing the bytes compares the
// numbers. A key's id is the SHA-1 of the key's bytes; a node's id is random.
// Distance is XOR, compared as a 160-bit number. Plain value; any thread.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

namespace hm::dht {

class NodeId {
 public:
  static constexpr size_t kBytes = 20;
  static constexpr int kBits = 160;

  constexpr NodeId() = default;  // all zeros

  // SHA-1 of `key` (raw bytes, no encoding).
  static NodeId from_key(std::string_view key);
  // From exactly 20 bytes; nullopt for any other length.
  static std::optional<NodeId> from_bytes(std::span<const uint8_t> bytes);
  // From 40 hex digits; nullopt otherwise.
  static std::optional<NodeId> from_hex(std::string_view hex);
  // Uniformly random, from OpenSSL's generator.
  static NodeId random();
  // Uniformly random from `rng` (reproducible tests).
  static NodeId random(std::mt19937_64& rng);

  const std::array<uint8_t, kBytes>& bytes() const { return bytes_; }
  std::array<uint8_t, kBytes>& mutable_bytes() { return bytes_; }
  std::string hex() const;

  // Bit `i` counted from the most significant (0..159).
  bool bit(int i) const { return (bytes_[i / 8] >> (7 - i % 8)) & 1; }
  void set_bit(int i, bool value);

  // XOR distance to `other`, as an id (compare with <).
  NodeId distance(const NodeId& other) const;
  // Number of leading bits `this` and `other` share (160 when equal).
  int common_prefix_length(const NodeId& other) const;
  // True when `a` is strictly closer to `this` than `b` is (XOR metric),
  // computed without building the distances.
  bool closer(const NodeId& a, const NodeId& b) const {
    for (size_t i = 0; i < 3; ++i) {
      uint64_t da = a.word(i) ^ word(i), db = b.word(i) ^ word(i);
      if (da != db) return da < db;
    }
    return false;
  }

  // Numeric order (the same as the bytes' lexicographic order).
  std::strong_ordering operator<=>(const NodeId& other) const {
    for (size_t i = 0; i < 3; ++i) {
      uint64_t x = word(i), y = other.word(i);
      if (x != y) return x < y ? std::strong_ordering::less : std::strong_ordering::greater;
    }
    return std::strong_ordering::equal;
  }
  bool operator==(const NodeId& other) const {
    return std::memcmp(bytes_.data(), other.bytes_.data(), kBytes) == 0;
  }

  // The id as three big-endian numbers: bytes 0-7, 8-15, 16-19 (compilers
  // turn the loop into one load and a byte swap). Comparing (word(0),
  // word(1), word(2)) compares the ids.
  uint64_t word(size_t i) const {
    uint64_t w = 0;
    const size_t n = i < 2 ? 8 : 4;
    for (size_t j = 0; j < n; ++j) w = w << 8 | bytes_[8 * i + j];
    return w;
  }

 private:
  std::array<uint8_t, kBytes> bytes_{};
};

struct NodeIdHash {
  size_t operator()(const NodeId& id) const {
    size_t h;  // SHA-1 / random bits are already uniform
    std::memcpy(&h, id.bytes().data(), sizeof h);
    return h;
  }
};

}  // namespace hm::dht
