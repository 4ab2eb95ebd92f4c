// Signed plain file sets: the checksum list a vendor publishes next to its
// files (SHA256SUMS, as GNU sha256sum writes it). Pure parsing, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/verify/digest.h"

namespace airlock::formats {

struct ChecksumLine {
  std::string path;  // as written: the caller checks it is safe (no "..", not absolute)
  Digest sha256;
};

// Parses `sha256sum` output, lines in the order written: each line is 64
// hex digits (either case), a space, a space or '*' (binary mode, not
// kept), and a non-empty path, ending in LF (the last line may lack it).
// Refused, as invalid_input "SHA256SUMS: line N: expected ..., found ...":
// a CR anywhere (CRLF files included), a blank line, a line starting with
// '\' (sha256sum's escaping of a path holding a newline or backslash), any
// other shape (the BSD "SHA256 (path) = ..." form included), a path holding
// NUL, and a path listed twice. Empty text is an empty list.
Result<std::vector<ChecksumLine>> parse_sha256sums(std::string_view text);

}  // namespace airlock::formats
