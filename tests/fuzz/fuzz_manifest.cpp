// Fuzz target: the bundle manifest and signatures parsers.
// Invariants: never crash; whatever parses re-serializes to a document that
// parses to the same manifest (the writer never produces what the reader
// refuses, and nothing accepted is lost in a round trip).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "airlock/transfer/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)airlock::parse_signatures(text);
  auto m = airlock::Manifest::parse(text);
  if (!m) return 0;
  auto again = airlock::Manifest::parse(m->to_json());
  if (!again || again->to_json() != m->to_json() || again->objects != m->objects ||
      again->volumes != m->volumes || again->archive_size != m->archive_size) {
    std::abort();
  }
  return 0;
}
