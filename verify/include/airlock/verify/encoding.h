// Text encodings used by signed files: standard base64 (RFC 4648, padded).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"

namespace airlock {

std::string base64_encode(std::span<const std::uint8_t> bytes);
// Strict: padded standard alphabet, no whitespace; anything else is invalid_input.
Result<std::vector<std::uint8_t>> base64_decode(std::string_view text);

}  // namespace airlock
