// Helpers shared by the deb822-based parsers of this module (private).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/formats/deb822.h"

namespace airlock::apt::detail {

// s without leading blanks and without trailing blanks or '\r'.
std::string_view trim(std::string_view s);
// The words of s, split at spaces, tabs and newlines.
std::vector<std::string> words(std::string_view s);
// The value of a field, or nullptr when the paragraph has none.
const std::string* field(const Paragraph& p, std::string_view name);
// A decimal unsigned number and nothing else; invalid_input naming `what`.
Result<std::uint64_t> to_u64(std::string_view s, std::string_view what);

}  // namespace airlock::apt::detail
