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
  none @0;      # data = the raw elements, little-endian, C order
  float16 @1;   # a float32 tensor sent as float16 (clamped to +-65504)
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
  # The elements. With compression `none`, exactly
  # (element count) x (size of dtype) bytes.
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
