#include "airlock/formats/deb822.h"

#include <algorithm>
#include <charconv>

#include "fields.h"

namespace airlock::apt {
namespace detail {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
    std::size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\n') ++i;
    if (i > start) out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

const std::string* field(const Paragraph& p, std::string_view name) {
  auto it = p.find(name);
  return it == p.end() ? nullptr : &it->second;
}

Result<std::uint64_t> to_u64(std::string_view s, std::string_view what) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    return fail(Code::invalid_input,
                std::string(what) + " '" + std::string(s) + "' is not a number");
  }
  return v;
}

}  // namespace detail

namespace {

// for_each_paragraph of text whose first line is line first_line + 1.
Status paragraphs_from(std::string_view text, std::size_t first_line,
                       const std::function<Status(const Paragraph&)>& fn) {
  using detail::trim;
  Paragraph current;
  std::string last;
  std::size_t line_no = first_line;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    auto line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) {
      if (!current.empty()) {
        if (auto s = fn(current); !s) return s;
        current.clear();
        last.clear();
      }
      if (nl == text.size()) break;
      continue;
    }
    if (line.front() == '#') continue;
    if (line.front() == ' ' || line.front() == '\t') {
      if (last.empty()) {
        return fail(Code::invalid_input,
                    "line " + std::to_string(line_no) + ": continuation without a field");
      }
      auto& v = current[last];
      if (!v.empty()) v += '\n';
      v += trim(line);
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(Code::invalid_input,
                  "line " + std::to_string(line_no) + ": expected 'Field: value'");
    }
    last = std::string(line.substr(0, colon));
    current[last] = std::string(trim(line.substr(colon + 1)));
    if (nl == text.size()) break;
  }
  if (!current.empty()) return fn(current);
  return {};
}

}  // namespace

Status for_each_paragraph(std::string_view text,
                          const std::function<Status(const Paragraph&)>& fn) {
  return paragraphs_from(text, 0, fn);
}

Status ParagraphStream::feed(std::string_view piece) {
  if (error_) return fail(*error_);
  // Only the new piece (and the two bytes before it, where a blank line may
  // begin) is searched: text without blank lines is not scanned again and
  // again as it grows.
  const std::size_t from = pending_.size() < 2 ? 0 : pending_.size() - 2;
  pending_.append(piece);
  std::string_view fresh = std::string_view(pending_).substr(from);
  // Cut after the last blank line ("\n\n", or "\n\r\n" in CRLF text): no
  // paragraph spans it, so the text before it parses alone.
  auto lf = fresh.rfind("\n\n");
  auto crlf = fresh.rfind("\n\r\n");
  std::size_t cut = 0;
  if (lf != std::string_view::npos) cut = from + lf + 2;
  if (crlf != std::string_view::npos) cut = std::max(cut, from + crlf + 3);
  if (cut == 0) return {};
  std::string_view done(pending_.data(), cut);
  if (auto s = paragraphs_from(done, lines_, fn_); !s) {
    error_ = s.error();
    return s;
  }
  lines_ += static_cast<std::size_t>(std::count(done.begin(), done.end(), '\n'));
  pending_.erase(0, cut);
  return {};
}

Status ParagraphStream::finish() {
  if (error_) return fail(*error_);
  auto s = paragraphs_from(pending_, lines_, fn_);
  if (!s) error_ = s.error();
  pending_.clear();
  return s;
}

}  // namespace airlock::apt
