// hm/base/expert_kinds.h: the one list of built-in expert kinds, as the
// tools' help texts and checks show it.
#include "hm/base/expert_kinds.h"

#include <gtest/gtest.h>

namespace hm {
namespace {

TEST(ExpertKinds, TheBuiltInKindsInTheirDocumentedOrder) {
  EXPECT_EQ(builtin_expert_kinds_text(), "ffn, transformer, det_dropout, nop, nop_delay");
  EXPECT_EQ(builtin_expert_kinds_text(","), "ffn,transformer,det_dropout,nop,nop_delay");
  for (auto kind : kBuiltinExpertKinds) EXPECT_TRUE(is_builtin_expert_kind(kind)) << kind;
  EXPECT_FALSE(is_builtin_expert_kind("module"));  // a file, not built in
  EXPECT_FALSE(is_builtin_expert_kind("FFN"));
  EXPECT_FALSE(is_builtin_expert_kind(""));
}

}  // namespace
}  // namespace hm
