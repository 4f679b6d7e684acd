// The built-in expert kinds, by name: the one list that hm-serve's
// --expert-cls, hm-bench's presets and hm::moe's expert table derive from.
// (A TorchScript module file, kind "module", is not built in: hm-serve
// chooses it with --module.) Constants and pure functions; torch-free.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace hm {

// In the order the docs list them; hm/moe/expert_layers.h says what each is.
inline constexpr std::array<std::string_view, 5> kBuiltinExpertKinds = {
    "ffn", "transformer", "det_dropout", "nop", "nop_delay"};

// True when `name` is one of kBuiltinExpertKinds.
bool is_builtin_expert_kind(std::string_view name);

// The names joined by `separator`, for help texts and error messages:
// "ffn, transformer, det_dropout, nop, nop_delay".
std::string builtin_expert_kinds_text(std::string_view separator = ", ");

}  // namespace hm
