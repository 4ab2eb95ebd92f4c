// OpenPGP cleartext signed messages (RFC 4880 section 7), the form of an apt
// InRelease and of a clearsigned checksum list: split, never verified here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"

namespace airlock::formats {

inline constexpr std::string_view kSignedMessageBegin = "-----BEGIN PGP SIGNED MESSAGE-----";

struct ClearSigned {
  // The values of the "Hash:" armor headers, as written ("SHA512").
  std::vector<std::string> hashes;
  // The signed text: dash-escaping ("- ") removed, lines joined by '\n'. The
  // line break before the signature belongs to the armor, not to the text
  // (RFC 4880 section 7.1), so a text ends without one unless its last line
  // is empty.
  std::string text;
  // The signature block, from its BEGIN to its END line, each line ending in
  // '\n': an ASCII-armored detached signature.
  std::string signature;
};

// Splits bytes that must be exactly one cleartext signed message:
//   -----BEGIN PGP SIGNED MESSAGE-----
//   Hash: <algorithms>            (zero or more; no other armor header)
//   <one blank line>
//   <dash-escaped text>           (every line starting with '-' escaped)
//   -----BEGIN PGP SIGNATURE-----
//   <armor headers> <blank line> <base64 lines, an optional =checksum>
//   -----END PGP SIGNATURE-----
// and nothing before or after but one final line break. CRLF line breaks
// read as LF; armor lines may carry trailing blanks. Does not check the
// signature: that is gpgv's job, over the original bytes. Anything else is
// Code::refused with one line naming the problem and its line number, e.g.
// "line 1: bytes before '-----BEGIN PGP SIGNED MESSAGE-----' (found on line 3)".
Result<ClearSigned> split_clearsigned(std::string_view bytes);

}  // namespace airlock::formats
