// Expert uids, prefixes and patterns (from users and from DHT records):
// validation, split_uid, ExpertPattern::parse and its enumeration, with the
// enumeration bounded, and consistency checks between them.
#include <algorithm>
#include <string_view>

#include "fuzz_support.h"
#include "hm/base/error.h"
#include "hm/base/expert_uid.h"

namespace {

void check_pattern(const hm::ExpertPattern& pattern, uint64_t seed) {
  const uint64_t capacity = pattern.capacity();
  HM_FUZZ_CHECK(capacity > 0);
  try {
    const auto uids = pattern.all(256);
    HM_FUZZ_CHECK(uids.size() == capacity);
    for (size_t i = 0; i < uids.size(); ++i) {
      HM_FUZZ_CHECK(hm::is_valid_uid(uids[i]));
      HM_FUZZ_CHECK(pattern.uid_at(i) == uids[i]);
    }
  } catch (const hm::Error&) {
    HM_FUZZ_CHECK(capacity > 256);  // the only documented refusal
  }
  const auto last = pattern.uid_at(capacity - 1);
  HM_FUZZ_CHECK(hm::is_valid_uid(last));
  const auto drawn = pattern.sample(static_cast<size_t>(std::min<uint64_t>(capacity, 16)), seed);
  for (const auto& uid : drawn) HM_FUZZ_CHECK(hm::is_valid_uid(uid));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool uid = hm::is_valid_uid(text);
  const bool prefix = hm::is_valid_prefix(text);
  HM_FUZZ_CHECK(!(uid && prefix));  // a uid never ends in '.', a prefix always does
  try {
    const auto [head, coordinate] = hm::split_uid(text);
    HM_FUZZ_CHECK(hm::is_valid_prefix(head) && coordinate >= 0);
  } catch (const hm::Error&) {
    HM_FUZZ_CHECK(!uid || text.size() > 20);  // a valid uid splits unless its number overflows
  }
  try {
    check_pattern(hm::ExpertPattern::parse(text), size);
  } catch (const hm::Error&) {
  }
  return 0;
}
