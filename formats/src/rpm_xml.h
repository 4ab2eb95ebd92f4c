// Pieces shared by the rpm-md document readers (private).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/verify/digest.h"
#include "xml.h"

namespace airlock::rpm {

// "expected the root element <local> in namespace ns, found <x> in namespace y".
std::string wrong_root(formats::detail::XmlName found, std::string_view ns, std::string_view local);

// Only sha256 is accepted: any other <checksum type> (or none) is refused,
// the message naming it and `who` ("data 'primary'", "package 'bash'").
Status check_sha256_type(const char* type, const std::string& who);
// A <checksum>'s text: 64 lowercase hex digits, blanks around them allowed.
Result<Digest> parse_sha256_text(std::string_view text, const std::string& who);
// <location href>: present, not empty, and without xml:base.
Result<std::string> location_href(const char** attrs, const std::string& who);

// Decimal seconds, optionally with a fraction (dropped).
std::optional<std::int64_t> parse_timestamp(std::string_view text);

}  // namespace airlock::rpm
