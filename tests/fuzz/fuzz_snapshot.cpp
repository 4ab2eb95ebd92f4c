// Fuzz target: the store's snapshot parser.
// Invariants: never crash; whatever parses is in canonical form, so it
// re-serializes to exactly the bytes it was parsed from, and every entry it
// lists can be found by its path.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "airlock/store/snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto snap = airlock::Snapshot::parse(text);
  if (!snap) return 0;
  auto canonical = snap->to_canonical_json();
  if (!canonical || *canonical != text || !airlock::valid_repo_name(snap->repo)) std::abort();
  for (const auto& e : snap->entries) {
    if (snap->find(e.path) != &e || !airlock::is_safe_relative_path(e.path)) std::abort();
  }
  for (const auto& p : snap->packages) {
    if (!snap->find(p.path) || !snap->find(p.index)) std::abort();
  }
  (void)snap->total_size();
  return 0;
}
