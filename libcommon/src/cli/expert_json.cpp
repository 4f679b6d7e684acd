#include "hm/cli/expert_json.h"

#include <fmt/format.h>

#include "hm/tensor/compression.h"

namespace hm::cli {
namespace {

nlohmann::json specs_to_json(const std::vector<TensorSpec>& specs) {
  auto list = nlohmann::json::array();
  for (const auto& spec : specs) {
    list.push_back({{"dtype", std::string(dtype_name(spec.dtype))}, {"shape", spec.shape}});
  }
  return list;
}

std::string specs_to_text(const std::vector<TensorSpec>& specs) {
  std::string text;
  for (const auto& spec : specs) text += (text.empty() ? "" : " ") + describe(spec);
  return text;
}

}  // namespace

nlohmann::json to_json(const ExpertDescription& d) {
  return {{"uid", d.uid},
          {"expert_cls", d.expert_cls},
          {"inputs", specs_to_json(d.inputs)},
          {"outputs", specs_to_json(d.outputs)},
          {"steps", d.steps},
          {"examples_processed", d.examples_processed},
          {"max_batch_size", d.max_batch_size},
          {"compression", std::string(compression_name(d.compression))}};
}

std::string to_text(const ExpertDescription& d) {
  return fmt::format(
      "uid        {}\nkind       {}\ninputs     {}\noutputs    {}\nsteps      {}\n"
      "examples   {}\nmax batch  {}\ncompresses {}\n",
      d.uid, d.expert_cls, specs_to_text(d.inputs), specs_to_text(d.outputs), d.steps,
      d.examples_processed, d.max_batch_size, compression_name(d.compression));
}

}  // namespace hm::cli
