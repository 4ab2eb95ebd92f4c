#include "airlock/formats/checksum_list.h"

#include <map>

#include "xml.h"

namespace airlock::formats {
namespace {

constexpr std::size_t kHex = 64;

std::unexpected<Error> refuse(std::size_t line, const std::string& what) {
  return fail(Code::invalid_input, "SHA256SUMS: line " + std::to_string(line) + ": " + what);
}

char lower(char c) { return c >= 'A' && c <= 'F' ? static_cast<char>(c - 'A' + 'a') : c; }

Result<ChecksumLine> parse_line(std::string_view line, std::size_t number) {
  if (line.empty()) return refuse(number, "expected '<sha256>  <path>', found a blank line");
  if (line.find('\r') != std::string_view::npos) {
    return refuse(number, "expected lines ending in LF alone, found a carriage return");
  }
  if (line.front() == '\\') {
    return refuse(number,
                  "expected a plain line, found a backslash-escaped one (a path with a newline "
                  "or a backslash)");
  }
  if (line.size() < kHex + 3 || line[kHex] != ' ' ||
      (line[kHex + 1] != ' ' && line[kHex + 1] != '*')) {
    return refuse(number, "expected '<sha256>  <path>', found " + detail::quote(line));
  }
  std::string hex(line.substr(0, kHex));
  for (char& c : hex) c = lower(c);
  auto digest = Digest::parse(hex);
  if (!digest) {
    return refuse(number, "expected 64 hex digits, found " + detail::quote(line.substr(0, kHex)));
  }
  const std::string_view path = line.substr(kHex + 2);
  if (path.find('\0') != std::string_view::npos) {
    return refuse(number, "expected a path without NUL, found one");
  }
  return ChecksumLine{std::string(path), *digest};
}

}  // namespace

Result<std::vector<ChecksumLine>> parse_sha256sums(std::string_view text) {
  std::vector<ChecksumLine> out;
  std::map<std::string_view, std::size_t> first_line;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    const auto lf = text.find('\n');
    const std::string_view line = text.substr(0, lf);
    text.remove_prefix(lf == std::string_view::npos ? text.size() : lf + 1);
    auto parsed = parse_line(line, number);
    if (!parsed) return fail(parsed.error());
    // Keys view `line`, which lives as long as text does.
    const std::string_view path = line.substr(kHex + 2);
    if (auto [it, inserted] = first_line.emplace(path, number); !inserted) {
      return refuse(number, "expected each path once, found " + detail::quote(path) +
                                " again (first on line " + std::to_string(it->second) + ")");
    }
    out.push_back(std::move(*parsed));
  }
  return out;
}

}  // namespace airlock::formats
