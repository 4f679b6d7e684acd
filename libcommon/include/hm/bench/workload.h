// What hm-bench's throughput clients send, made the same way for the
// networked run and for the local one (--vs-local), so both do the same work.
//
// A client's batches all carry one input set drawn once from a generator
// seeded with (seed, client) (hivemind draws fresh randn every batch; drawing
// once keeps the random generator out of the measurement), and each batch
// goes to an expert picked by a second seeded generator. Backward sends the
// gradient that out.sum().backward() produces: ones shaped like each output.
// Pure functions of their arguments; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hm/tensor/host_tensor.h"

namespace hm::bench {

// Expert index (0 .. experts-1) of each of a client's `batches` batches.
std::vector<size_t> expert_schedule(uint64_t seed, size_t client, size_t batches, size_t experts);

// One batch of inputs for `expert_cls` (ffn, transformer, det_dropout, nop,
// nop_delay) with `batch` rows: the first input ~ N(0, 1), other float
// inputs ones (det_dropout's mask keeps every unit), bool inputs false (no
// padding).
std::vector<HostTensor> client_inputs(const std::string& expert_cls, int64_t hidden_dim,
                                      size_t batch, uint64_t seed, size_t client);

// Ones shaped like each output of `expert_cls` for `batch` rows.
std::vector<HostTensor> output_grads(const std::string& expert_cls, int64_t hidden_dim,
                                     size_t batch);

}  // namespace hm::bench
