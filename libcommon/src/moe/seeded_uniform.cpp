#include "seeded_uniform.h"

#include <algorithm>

namespace hm::moe::detail {
namespace {

constexpr int kN = at::MERSENNE_STATE_N;
constexpr int kM = at::MERSENNE_STATE_M;

uint32_t twist(uint32_t u, uint32_t v) {
  return (((u & at::UMASK) | (v & at::LMASK)) >> 1) ^ ((v & 1u) != 0 ? at::MATRIX_A : 0u);
}

// state[i] = state[i + offset] ^ twist(state[i], state[i + 1]) for i in
// [begin, end), in order. Each lane reads what the scalar loop would: lane j's
// state[i + j + 1] is not yet rewritten, and state[i + j + offset] is at
// least 227 elements away. Loaded into locals first so that gcc's -O2 cost
// model, which leaves loops of unknown count scalar, vectorizes the lanes.
void twist_range(uint32_t* state, int begin, int end, int offset) {
  constexpr int kLanes = 8;
  int i = begin;
  for (; i + kLanes <= end; i += kLanes) {
    uint32_t current[kLanes], next[kLanes], far[kLanes];
    for (int j = 0; j < kLanes; ++j) {
      current[j] = state[i + j];
      next[j] = state[i + j + 1];
      far[j] = state[i + j + offset];
    }
    for (int j = 0; j < kLanes; ++j) state[i + j] = far[j] ^ twist(current[j], next[j]);
  }
  for (; i < end; ++i) state[i] = state[i + offset] ^ twist(state[i], state[i + 1]);
}

// at::mt19937's next_state(), on the state array alone.
void next_state(uint32_t* state) {
  twist_range(state, 0, kN - kM, kM);
  twist_range(state, kN - kM, kN - 1, kM - kN);
  state[kN - 1] = state[kM - 1] ^ twist(state[kN - 1], state[0]);
}

uint32_t temper(uint32_t y) {
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= (y >> 18);
  return y;
}

}  // namespace

void fill_uniform(float* data, int64_t count, double bound, at::mt19937& gen) {
  const auto from = static_cast<float>(-bound);
  const float range = static_cast<float>(bound) - from;
  constexpr uint32_t kMask = (1u << 24) - 1;
  constexpr float kScale = 1.0f / (1u << 24);
  // The generator hands out state[next_] and counts down left_; when left_
  // would reach 0 it twists first, then hands out state[0]: left_ - 1
  // outputs are ready without a twist.
  auto pod = gen.data();
  while (count > 0) {
    if (pod.left_ <= 1) {
      next_state(pod.state_.data());
      pod.left_ = kN + 1;  // as if the call that twisted had not consumed yet
      pod.next_ = 0;
    }
    const int64_t ready = std::min<int64_t>(count, pod.left_ - 1);
    const uint32_t* source = pod.state_.data() + pod.next_;
    // Below 2^24 the int32 conversion is exact and, unlike uint32's,
    // vectorizes; fixed-count lanes because gcc's -O2 cost model leaves
    // loops of unknown count scalar.
    auto value = [&](uint32_t y) {
      return static_cast<float>(static_cast<int32_t>(temper(y) & kMask)) * kScale * range + from;
    };
    constexpr int64_t kLanes = 8;
    int64_t i = 0;
    for (; i + kLanes <= ready; i += kLanes) {
      for (int64_t lane = 0; lane < kLanes; ++lane) data[i + lane] = value(source[i + lane]);
    }
    for (; i < ready; ++i) data[i] = value(source[i]);
    data += ready;
    count -= ready;
    pod.next_ += static_cast<uint32_t>(ready);
    pod.left_ -= static_cast<int>(ready);
  }
  gen.set_data(pod);
}

}  // namespace hm::moe::detail
