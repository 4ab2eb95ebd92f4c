// Debian control-file parsing (deb822): Release files and Packages indices,
// plus dpkg's version ordering.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/verify/digest.h"
#include "airlock/base/error.h"
#include "airlock/base/time.h"

namespace airlock::apt {

// One paragraph: field name (case as written) -> value (continuation lines
// joined with '\n', leading space of each removed).
using Paragraph = std::map<std::string, std::string, std::less<>>;

// Calls fn for each paragraph; stops at fn's first error. invalid_input for a
// line that is neither a field, a continuation nor blank.
Status for_each_paragraph(std::string_view text,
                          const std::function<Status(const Paragraph&)>& fn);

struct ReleaseFile {
  std::string path;  // relative to dists/<suite>/
  Digest sha256;
  std::uint64_t size = 0;
};

struct Release {
  Paragraph fields;
  std::optional<TimePoint> date;
  std::optional<TimePoint> valid_until;
  std::vector<std::string> components;
  std::vector<std::string> architectures;
  bool acquire_by_hash = false;
  std::vector<ReleaseFile> files;  // from the SHA256 field
  const ReleaseFile* find(std::string_view path) const;
};

// Parses the (verified) text of a Release / InRelease body.
Result<Release> parse_release(std::string_view text);

struct PackageRecord {
  std::string package;
  std::string version;
  std::string architecture;
  std::string filename;  // pool path relative to the repository root
  std::uint64_t size = 0;
  Digest sha256;
};

// Parses a Packages index. Records without Filename/Size/SHA256 are refused:
// every pool file must be checkable against the signed index.
Result<std::vector<PackageRecord>> parse_packages(std::string_view text);

// RFC 2822 dates as apt writes them: "Sat, 21 Nov 2026 08:00:00 UTC" (also
// GMT, Z, or a numeric offset such as +0000).
Result<TimePoint> parse_rfc2822(std::string_view text);

// dpkg's version comparison: <0, 0, >0 as a is older, equal, newer than b.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace airlock::apt
