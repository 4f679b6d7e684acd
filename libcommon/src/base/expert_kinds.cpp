#include "hm/base/expert_kinds.h"

#include <algorithm>

namespace hm {

bool is_builtin_expert_kind(std::string_view name) {
  return std::find(kBuiltinExpertKinds.begin(), kBuiltinExpertKinds.end(), name) !=
         kBuiltinExpertKinds.end();
}

std::string builtin_expert_kinds_text(std::string_view separator) {
  std::string text;
  for (auto kind : kBuiltinExpertKinds) {
    if (!text.empty()) text += separator;
    text += kind;
  }
  return text;
}

}  // namespace hm
