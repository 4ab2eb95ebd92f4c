// Fuzz target: the trust policy parser (trust.json).
// Invariants: never crash; whatever parses re-serializes to a document that
// parses to the same policy, finds each of its keys, and checking signatures
// against it is an answer, never an error.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "airlock/verify/trust.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto policy = airlock::TrustPolicy::parse(text);
  if (!policy) return 0;
  auto again = airlock::TrustPolicy::parse(policy->to_json());
  if (!again || again->to_json() != policy->to_json() || again->threshold != policy->threshold ||
      again->keys.size() != policy->keys.size()) {
    std::abort();
  }
  std::vector<airlock::SignatureEntry> signatures;
  for (const auto& k : policy->keys) {
    if (policy->find(k.key.id()) == nullptr) std::abort();
    (void)k.valid_at(airlock::TimePoint{});
    signatures.push_back({k.key.id(), std::vector<std::uint8_t>(64, 0)});
  }
  auto check = policy->check(text, signatures, airlock::TimePoint{});
  if (!check) std::abort();
  (void)check->summary();
  return 0;
}
