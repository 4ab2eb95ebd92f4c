// deb822 control paragraphs, the syntax under Debian's Release files and
// Packages indices: "Field: value" lines, continuation lines that start with
// a space or tab, paragraphs separated by blank lines.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "airlock/base/error.h"

namespace airlock::apt {

// One paragraph: field name (case as written) -> value (continuation lines
// joined with '\n', leading space of each removed).
using Paragraph = std::map<std::string, std::string, std::less<>>;

// Calls fn for each paragraph of text, in order; stops at fn's first error
// and returns it. Lines starting with '#' are comments. A line that is
// neither a field, a continuation nor blank is invalid_input:
// "line N: expected 'Field: value'" or "line N: continuation without a field".
// Pure: text is only read, nothing is kept after the call.
Status for_each_paragraph(std::string_view text, const std::function<Status(const Paragraph&)>& fn);

}  // namespace airlock::apt
