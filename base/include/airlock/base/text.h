// Text from untrusted sources made safe for the places airlock writes it: the
// transfer log (valid UTF-8), a terminal (no control characters) and a CSV
// cell (no formula). Each function is total: any bytes in, safe text out.
#pragma once

#include <string>
#include <string_view>

namespace airlock {

// True when text is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// Valid UTF-8 stays as it is; every byte that is not part of a well-formed
// sequence becomes the four characters \xNN (lowercase hex). A backslash is
// kept as it is, so the result is readable, not reversible.
std::string escape_invalid_utf8(std::string_view text);

// For a terminal: escape_invalid_utf8, then every control character (C0, DEL,
// C1) and every Unicode bidirectional control (U+200E, U+200F, U+202A-U+202E,
// U+2066-U+2069) written as \xNN or \u{NNNN}, so that nothing printed can move
// the cursor, ring the bell, recolour or reorder the text around it.
std::string escape_for_terminal(std::string_view text);

// One CSV field (RFC 4180) that a spreadsheet will not run as a formula: the
// text escaped as for a terminal; a cell starting with =, +, -, @ gets a
// leading apostrophe; quoted (with doubled quotes) when it holds a comma or a
// quote.
std::string csv_cell(std::string_view text);

}  // namespace airlock
