// ServerLimits: what an expert server accepts from a client. Every request is
// checked against them before anything is allocated for it; a refusal is a
// one-line RPC error and the server goes on serving everyone else.
#pragma once

#include <cstdint>

namespace hm::rpc {

struct ServerLimits {
  uint64_t max_message_bytes = uint64_t{1} << 30;  // largest request accepted
  int64_t max_elements = int64_t{1} << 28;         // per tensor
  uint32_t max_tensors = 64;                       // per request
  uint32_t max_connections = 1024;                 // beyond: accepted, then closed
};

}  // namespace hm::rpc
