// Text from untrusted sources made safe for the places airlock writes it: the
// transfer log (valid UTF-8), a terminal (no control characters) and a CSV
// cell (no formula). Each function is total: any bytes in, safe text out.
#pragma once

#include <cstddef>
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
// C1), every Unicode bidirectional control (U+061C, U+200E, U+200F,
// U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators
// (U+2028, U+2029) written as \xNN or \u{NNNN}, so that nothing printed can
// move the cursor, ring the bell, recolour, break or reorder the text around it.
std::string escape_for_terminal(std::string_view text);

// One CSV field (RFC 4180) that a spreadsheet will not run as a formula: the
// text escaped as for a terminal; a cell whose text starts with =, +, -, @,
// a tab or a carriage return gets a leading apostrophe; quoted (with doubled
// quotes) when it holds a comma or a quote. Never holds a line break.
std::string csv_cell(std::string_view text);

// Percent-decodes text once, leniently, for showing what a client asked
// for: every %XX (two hex digits, either case) becomes that byte; anything
// else, a % without two hex digits after it included, is kept as it is. The
// result may hold any byte: escape it for where it goes.
std::string percent_decode(std::string_view text);

// Levenshtein distance: the fewest single-character insertions, deletions
// and substitutions that turn a into b. For "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace airlock
