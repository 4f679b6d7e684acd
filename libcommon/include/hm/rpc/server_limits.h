// ServerLimits: what an expert server accepts from a client. Every request is
// checked against them before anything is allocated for it; a refusal is a
// one-line RPC error naming the limit and the hm-serve flag that sets it, and
// the server goes on serving everyone else. The defaults are the flags'
// defaults (man hm-serve, LIMITS).
#pragma once

#include <cstdint>

namespace hm::rpc {

struct ServerLimits {
  // Largest Cap'n Proto message read from a connection (--max-message-mb).
  // A larger frame header closes that connection before anything is
  // allocated for the frame.
  uint64_t max_message_bytes = uint64_t{1} << 30;
  int64_t max_elements = int64_t{1} << 28;         // per tensor (--max-tensor-elements)
  uint64_t max_tensor_bytes = uint64_t{1} << 30;   // per tensor, decoded (--max-tensor-mb)
  uint32_t max_tensors = 64;                       // per request (--max-tensors)
  // Connections open at once (--max-connections). Beyond it, a new
  // connection replaces the longest-idle one without a call in flight, or
  // is closed at once when every connection has one.
  uint32_t max_connections = 1024;
  // Forward/backward calls one connection may have in flight (--max-in-flight);
  // calls beyond it are refused.
  uint32_t max_in_flight = 1024;
  // Refuse forward inputs and backward inputs/grad_outputs holding NaN or
  // Inf (on unless hm-serve --allow-nonfinite).
  bool reject_nonfinite = true;
};

}  // namespace hm::rpc
