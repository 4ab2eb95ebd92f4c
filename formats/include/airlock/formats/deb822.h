// deb822 control paragraphs, the syntax under Debian's Release files and
// Packages indices: "Field: value" lines, continuation lines that start with
// a space or tab, paragraphs separated by blank lines.
#pragma once

#include <functional>
#include <map>
#include <optional>
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

// for_each_paragraph over text that arrives a piece at a time (a large index
// as it is decompressed), holding only the text since the last blank line:
// the same paragraphs and the same errors, with the same line numbers, as
// for_each_paragraph over all the pieces joined. After an error, the stream
// takes nothing more and answers that error again.
class ParagraphStream {
 public:
  explicit ParagraphStream(std::function<Status(const Paragraph&)> fn) : fn_(std::move(fn)) {}
  Status feed(std::string_view piece);
  // The paragraph the text ends with, if it does not end with a blank line.
  Status finish();

 private:
  std::function<Status(const Paragraph&)> fn_;
  std::string pending_;    // the text since the last blank line cut off
  std::size_t lines_ = 0;  // lines before pending_
  std::optional<Error> error_;
};

}  // namespace airlock::apt
