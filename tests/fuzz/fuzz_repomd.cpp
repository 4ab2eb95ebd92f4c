// Fuzz target: repomd.xml (formats/).
// Invariants: never crash; a parsed repomd has data with a type and a
// location, no type or location twice, and a timestamp that is the
// greatest of its data's; parsing is deterministic.
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "airlock/formats/rpm.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto repomd = airlock::rpm::parse_repomd(text);
  auto again = airlock::rpm::parse_repomd(text);
  if (repomd.has_value() != again.has_value()) std::abort();
  if (!repomd) {
    if (repomd.error().message != again.error().message) std::abort();
    if (repomd.error().message.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  std::set<std::string> types, locations;
  std::int64_t newest = 0;
  for (const auto& d : repomd->data) {
    if (d.type.empty() || d.location.empty()) std::abort();
    if (!types.insert(d.type).second || !locations.insert(d.location).second) std::abort();
    newest = std::max(newest, d.timestamp);
  }
  if (newest != repomd->timestamp) std::abort();
  return 0;
}
