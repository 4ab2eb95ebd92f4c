// Fuzz target: streaming primary.xml (formats/).
// Invariants: never crash; fed whole or in pieces of any sizes, read in
// order or in parts on two threads, the parse gives the same packages, the
// same element bytes and the same one-line error; every kept element is
// bytes of the document, starting "<" and ending ">".
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/formats/rpm.h"

namespace {

struct Outcome {
  std::string error;  // "" when it parsed
  std::vector<airlock::rpm::RpmPackage> packages;
};

// Feeds text in pieces of 1 + (seed + i) % 13 bytes, or whole when seed
// is 0; in order when part_bytes is 0, else in parts of that many bytes.
Outcome parse(std::string_view text, unsigned seed, std::size_t part_bytes) {
  Outcome out;
  airlock::rpm::PrimaryParser parser(
      [&](airlock::rpm::RpmPackage&& p) {
        out.packages.push_back(std::move(p));
        return airlock::Status{};
      },
      {.keep_elements = true,
       .max_packages = 1000,
       .threads = part_bytes == 0 ? 1u : 2u,
       .part_bytes = part_bytes});
  airlock::Status s;
  for (unsigned i = 0; s && !text.empty(); ++i) {
    const std::size_t n = seed == 0 ? text.size() : 1 + (seed + i) % 13;
    s = parser.feed(text.substr(0, n));
    text.remove_prefix(std::min(n, text.size()));
  }
  if (s) s = parser.finish();
  if (!s) out.error = s.error().message;
  if (parser.packages() != out.packages.size()) std::abort();
  return out;
}

bool same(const airlock::rpm::RpmPackage& a, const airlock::rpm::RpmPackage& b) {
  return a.name == b.name && a.arch == b.arch && a.evr() == b.evr() && a.sha256 == b.sha256 &&
         a.location == b.location && a.size == b.size && a.files == b.files &&
         a.element == b.element && a.provides.size() == b.provides.size() &&
         a.requirements.size() == b.requirements.size() && a.sourcerpm == b.sourcerpm;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const Outcome whole = parse(text, 0, 0);
  const unsigned seed = size == 0 ? 1 : 1 + data[0];
  const Outcome pieces = parse(text, seed, 0);
  const Outcome parts = parse(text, seed, 10 + seed % 200);
  for (const Outcome* other : {&pieces, &parts}) {
    if (whole.error != other->error || whole.packages.size() != other->packages.size()) {
      std::abort();
    }
  }
  if (whole.error.find('\n') != std::string::npos) std::abort();
  for (std::size_t i = 0; i < whole.packages.size(); ++i) {
    const auto& p = whole.packages[i];
    if (!same(p, pieces.packages[i]) || !same(p, parts.packages[i])) std::abort();
    if (p.element.size() < 2 || p.element.front() != '<' || p.element.back() != '>' ||
        text.find(p.element) == std::string_view::npos) {
      std::abort();
    }
  }
  return 0;
}
