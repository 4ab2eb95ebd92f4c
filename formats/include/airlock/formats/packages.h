// Debian Packages indices: one deb822 paragraph per binary package.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/formats/deb822.h"
#include "airlock/verify/digest.h"

namespace airlock::apt {

struct PackageRecord {
  std::string package;
  std::string version;
  std::string architecture;
  std::string source;    // the Source field's package name, or package when there is none
  std::string filename;  // pool path relative to the repository root, as written
  std::uint64_t size = 0;
  Digest sha256;
  // Relationship fields as written (empty when absent); parsed, when a
  // dependency closure needs them, by depends.h.
  std::string depends;
  std::string pre_depends;
  std::string provides;
};

// Parses a (decompressed) Packages index, records in the order written.
// invalid_input for a record without Package, or without Filename, Size or
// SHA256 (every pool file must be checkable against the signed index), for a
// Size that is not a number or a SHA256 that is not 64 lowercase hex digits,
// and for text that is not deb822. Filename is not checked for safety here:
// the caller decides what a path may name.
// One paragraph of a Packages index as a record, checked as parse_packages
// checks each.
Result<PackageRecord> parse_package_record(const Paragraph& paragraph);

Result<std::vector<PackageRecord>> parse_packages(std::string_view text);

}  // namespace airlock::apt
