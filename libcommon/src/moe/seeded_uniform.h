// fill_uniform: what torch's Tensor::uniform_(-bound, bound) draws for
// float32 on the CPU from an at::mt19937 (one 32-bit output per element,
// its low 24 bits scaled into the range), element for element and leaving
// the generator where torch would, but in blocks: the outputs between two
// twists of the state are tempered and scaled in one loop the compiler
// vectorizes, instead of one generator call per element. Building 16 ffn
// experts (hidden 1024: 134M weights) spent most of its time here.
//
// Values may differ from torch's own kernel in the last bit where torch fuses
// the multiply-add; they never differ from the per-element loop this replaced
// (same operations, same order). Private to the moe module.
#pragma once

#include <ATen/core/MT19937RNGEngine.h>

#include <cstdint>

namespace hm::moe::detail {

void fill_uniform(float* data, int64_t count, double bound, at::mt19937& gen);

}  // namespace hm::moe::detail
