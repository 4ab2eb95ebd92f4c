// Fuzz target: deb822 paragraphs and Packages indices (formats/).
// Invariants: never crash; a Packages index parses only when every one of its
// paragraphs parses as a record on its own, to the same records in order.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "airlock/formats/packages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<airlock::apt::PackageRecord> one_by_one;
  bool all = true;
  auto s = airlock::apt::for_each_paragraph(text, [&](const airlock::apt::Paragraph& p) {
    auto r = airlock::apt::parse_package_record(p);
    if (r) {
      one_by_one.push_back(*r);
    } else {
      all = false;
    }
    return airlock::Status{};
  });
  auto records = airlock::apt::parse_packages(text);
  if (records) {
    if (!s || !all || records->size() != one_by_one.size()) std::abort();
    for (std::size_t i = 0; i < records->size(); ++i) {
      const auto& a = (*records)[i];
      const auto& b = one_by_one[i];
      if (a.package != b.package || a.version != b.version || a.filename != b.filename ||
          a.size != b.size || a.sha256 != b.sha256 || a.source != b.source) {
        std::abort();
      }
    }
  }
  return 0;
}
