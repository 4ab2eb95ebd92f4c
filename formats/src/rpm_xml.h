// Pieces shared by the rpm-md document readers (private).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/verify/digest.h"
#include "xml.h"

namespace airlock::rpm {

// "expected the root element <local> in namespace ns, found <x> in namespace y".
std::string wrong_root(formats::detail::XmlName found, std::string_view ns, std::string_view local);

// Who a refusal is about ("data 'primary'", "package 'bash'"): worded only
// when there is a refusal, since the checks run for every package.
using Who = std::function<std::string()>;

// Only sha256 is accepted: any other <checksum type> (or none) is refused,
// the message naming it and who.
Status check_sha256_type(const char* type, const Who& who);
// A <checksum>'s text: 64 lowercase hex digits, blanks around them allowed.
Result<Digest> parse_sha256_text(std::string_view text, const Who& who);
// <location href>: present, not empty, and without xml:base.
Result<std::string> location_href(const char** attrs, const Who& who);

// Decimal seconds, optionally with a fraction (dropped).
std::optional<std::int64_t> parse_timestamp(std::string_view text);

}  // namespace airlock::rpm
