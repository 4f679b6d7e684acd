# Tensors on the wire and in pipes.
#
# A Tensor is a dense, C-ordered (row-major), little-endian array. It is the
# unit of every expert request and response, and the record of hm's
# `--format capnp` pipe format (a stream of framed Tensor messages, one after
# another, as written by capnp::writeMessage; `capnp convert packed:text` or
# `binary:text` decodes it).
@0x8470b96ef88c7c4e;

$import "/capnp/c++.capnp".namespace("hm::wire");

enum DType {
  # Element type. Sizes in bytes in brackets.
  float32 @0;   # [4] IEEE-754 binary32
  float16 @1;   # [2] IEEE-754 binary16
  bfloat16 @2;  # [2] the upper 16 bits of a binary32 (brain float)
  float64 @3;   # [8] IEEE-754 binary64
  int64 @4;     # [8] two's complement
  int32 @5;     # [4]
  int16 @6;     # [2]
  int8 @7;      # [1]
  uint8 @8;     # [1]
  bool @9;      # [1] 0 = false, 1 = true; other bytes are refused
}

enum Compression {
  # How `Tensor.data` encodes the values. The decoded tensor always has
  # `Tensor.dtype` and `Tensor.shape`.
  #
  # The lossy kinds (meanstd16 and the 8-bit ones) are hivemind's
  # MEANSTD_16BIT, UNIFORM_8BIT, QUANTILE_8BIT and BLOCKWISE_8BIT, byte for
  # byte: a `data` that one writes the other decodes. Below, everything is
  # little-endian and C order; n = the element count (the product of
  # `shape`); f32 = IEEE-754 binary32, f16 = binary16, i64 = two's complement
  # 64-bit, u8 = one unsigned byte. They apply to the floating dtypes
  # (float32, float16, bfloat16, float64): the values are encoded through
  # float32, and decoded to float32 and then converted to `dtype`. They
  # cannot carry NaN or infinity: a sender sends such a tensor uncompressed,
  # and a receiver refuses NaN or infinity in the statistics, codebooks and
  # scales below. Codebooks hold at most 256 entries.

  none @0;
  # data = the raw elements: n x (size of dtype) bytes.

  float16 @1;
  # A float32 tensor only. data = f16[n]: each value clamped to +-65504
  # (so infinities become +-65504), then rounded to nearest-even; NaN stays
  # NaN. Decoded: the f16 value as float32.

  meanstd16 @2;
  # Mean and standard deviation per row (the last axis), then float16.
  # rows = the product of every dimension but the last (1 for a scalar,
  # which counts as shape [1]). data, 2n + 8 rows bytes:
  #   f16 values[n]   (x - mean[r]) / std[r] for each x of row r, clamped
  #                   to +-65504, rounded to nearest-even
  #   f32 mean[rows]  the mean of the row
  #   f32 std[rows]   sqrt(the mean of (x - mean[r])^2 over the row), at
  #                   least 1.1920929e-07 (FLT_EPSILON); an empty row (last
  #                   dimension 0) has mean 0 and std FLT_EPSILON
  # Decoded: value x std[r] + mean[r], computed in float32 (a multiply, then
  # an add).

  uniform8 @3;
  # One byte per value, uniform steps of 6 standard deviations / 256 around
  # the mean. data, 8 + 4L + n bytes:
  #   i64 L               codebook length, 256 (a receiver takes 1..256)
  #   f32 codebook[L]
  #   u8  codes[n]        each < L
  # Decoded: codebook[code]. Encoded: m = the mean of x; c = x - m;
  # s = |c| / sqrt(n - 1) (the unbiased standard deviation); scale =
  # 6 s / 256; code = clamp(round-half-even(c / scale) + 128, 0, 255) (as
  # torch.quantize_per_tensor computes it: c times 1/scale in float32);
  # codebook[k] = the mean of the original values x whose code is k, 0 for
  # a code no value has. When every value is the same (scale 0) or n is 1,
  # every code is 128 and codebook[128] is that value.

  quantile8 @4;
  # One byte per value, buckets of equal population. data: exactly as
  # uniform8 (i64 L, f32 codebook[L], u8 codes[n]), decoded the same way.
  # Encoded: borders = the 255 inner quantiles of 257 evenly spaced ones
  # (q = 1/256 ... 255/256, linear interpolation as numpy.quantile; hivemind
  # and hm estimate them, hivemind by quantile-of-quantiles over chunks of
  # 10^5 values, hm from a sample of 65536 values); code = the number of
  # borders strictly below x (torch.bucketize, right=False), at most 255;
  # codebook[k] = the mean of the values whose code is k, 0 for none.

  blockwise8 @5;
  # bitsandbytes' quantize_blockwise: blocks of 4096 values (the last one
  # shorter), each scaled by its largest magnitude, then the nearest entry of
  # a 256-entry code. A = ceil(n / 4096). data, 16 + 4A + 4C + n bytes:
  #   i64 A               absmax count, ceil(n / 4096)
  #   i64 C               code length, 256 (a receiver takes 1..256)
  #   f32 absmax[A]       the largest |x| of each block
  #   f32 code[C]         ascending values in [-1, 1]
  #   u8  codes[n]        each < C
  # Decoded: code[codes[i]] x absmax[i / 4096] (float32). Encoded: codes[i]
  # = the index of the code entry nearest to x / absmax[block] (on a
  # midpoint, the lower); a block of zeros takes the index of 0.0. The code
  # is bitsandbytes' create_dynamic_map(signed=True) (7 exponent bits) as
  # torch computes it in float32: for i = 0..6, b = linspace(0.1, 1, 2^i + 1),
  # means = (b[:-1] + b[1:]) / 2, entries 10^(i-6) x means and their
  # negatives; then 0 and 1.0; sorted. A receiver uses the code it is sent.
}

struct Tensor {
  dtype @0 :DType;
  # Element type of the decoded tensor.

  shape @1 :List(Int64);
  # Size of every dimension, outermost first; an empty list is a scalar.
  # Every entry is >= 0. The product of the entries is the element count.

  compression @2 :Compression = none;
  # Encoding of `data`.

  data @3 :Data;
  # The elements, encoded as `compression` says. With compression `none`,
  # exactly (element count) x (size of dtype) bytes.
}

struct TensorSchema {
  # What an expert expects or returns in one tensor position.

  dtype @0 :DType;
  # Element type.

  shape @1 :List(Int64);
  # Shape with -1 for the batch dimension (always the first) and for any
  # other dimension the expert accepts at any size.

  compression @2 :Compression = none;
  # The compression the expert uses for this tensor in its responses, and
  # prefers for requests.
}
