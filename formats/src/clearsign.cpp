#include "airlock/formats/clearsign.h"

#include <algorithm>

namespace airlock::formats {
namespace {

constexpr std::string_view kSignatureBegin = "-----BEGIN PGP SIGNATURE-----";
constexpr std::string_view kSignatureEnd = "-----END PGP SIGNATURE-----";

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::unexpected<Error> refuse(std::size_t line, const std::string& what) {
  return fail(Code::refused, "line " + std::to_string(line) + ": " + what);
}

// The message's lines without their line breaks ('\n' or "\r\n"); one final
// line break ends the last line rather than starting an empty one.
struct Lines {
  explicit Lines(std::string_view bytes) {
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      auto nl = bytes.find('\n', pos);
      if (nl == std::string_view::npos) nl = bytes.size();
      auto line = bytes.substr(pos, nl - pos);
      if (line.ends_with('\r')) line.remove_suffix(1);
      all.push_back(line);
      pos = nl + 1;
    }
  }
  std::vector<std::string_view> all;
  std::size_t i = 0;  // the next line to read; its number is i + 1

  bool done() const { return i >= all.size(); }
  std::string_view peek() const { return all[i]; }
  // Armor lines may carry trailing blanks (RFC 4880 section 6.2).
  bool at(std::string_view marker) const {
    if (done()) return false;
    auto line = all[i];
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    return line == marker;
  }
  std::unexpected<Error> ends_without(std::string_view marker) const {
    return fail(Code::refused, "after line " + std::to_string(all.size()) +
                                   ": the input ends without " + quoted(marker));
  }
};

bool blank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t'; });
}

bool base64_line(std::string_view line) {
  return !line.empty() && std::all_of(line.begin(), line.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/' || c == '=';
  });
}

// The BEGIN line, then "Hash:" armor headers up to and including the blank line.
Status read_header(Lines& in, ClearSigned& out) {
  if (!in.at(kSignedMessageBegin)) {
    for (std::size_t k = 1; k < in.all.size(); ++k) {
      in.i = k;
      if (in.at(kSignedMessageBegin)) {
        return refuse(1, "bytes before " + quoted(kSignedMessageBegin) + " (found on line " +
                             std::to_string(k + 1) + ")");
      }
    }
    return refuse(1, "not a clearsigned message: no " + quoted(kSignedMessageBegin) + " line");
  }
  for (++in.i; !in.done() && !blank(in.peek()); ++in.i) {
    auto line = in.peek();
    if (!line.starts_with("Hash: ") || blank(line.substr(6))) {
      return refuse(in.i + 1, "expected a 'Hash: ' armor header or a blank line");
    }
    out.hashes.emplace_back(line.substr(6));
  }
  if (in.done()) return in.ends_without(kSignatureBegin);
  ++in.i;
  return {};
}

// The dash-escaped text, up to the signature's BEGIN line.
Status read_text(Lines& in, ClearSigned& out) {
  bool first = true;
  for (; !in.done() && !in.at(kSignatureBegin); ++in.i) {
    auto line = in.peek();
    if (line.starts_with("- ")) {
      line.remove_prefix(2);
    } else if (line.starts_with('-')) {
      return refuse(in.i + 1, "a text line starting with '-' is not dash-escaped ('- ')");
    }
    if (!first) out.text += '\n';
    out.text += line;
    first = false;
  }
  if (in.done()) return in.ends_without(kSignatureBegin);
  return {};
}

// The signature block: BEGIN, armor headers, a blank line, base64, END.
Status read_signature(Lines& in, ClearSigned& out) {
  const std::size_t begin = in.i;
  for (++in.i; !in.done() && !blank(in.peek()); ++in.i) {
    if (in.peek().find(": ") == std::string_view::npos) {
      return refuse(in.i + 1, "expected an armor header or a blank line in the signature");
    }
  }
  if (in.done()) return in.ends_without(kSignatureEnd);
  std::size_t body = 0;
  for (++in.i; !in.done() && !in.at(kSignatureEnd); ++in.i, ++body) {
    if (!base64_line(in.peek()))
      return refuse(in.i + 1, "expected base64 or " + quoted(kSignatureEnd));
  }
  if (in.done()) return in.ends_without(kSignatureEnd);
  if (body == 0) return refuse(in.i + 1, "the signature is empty");
  for (std::size_t k = begin; k <= in.i; ++k) {
    out.signature += in.all[k];
    out.signature += '\n';
  }
  ++in.i;
  return {};
}

}  // namespace

Result<ClearSigned> split_clearsigned(std::string_view bytes) {
  Lines in(bytes);
  ClearSigned out;
  if (auto s = read_header(in, out); !s) return fail(s.error());
  if (auto s = read_text(in, out); !s) return fail(s.error());
  if (auto s = read_signature(in, out); !s) return fail(s.error());
  if (in.at(kSignedMessageBegin)) {
    return refuse(in.i + 1, "a second signed message after " + quoted(kSignatureEnd) +
                                " (only one is allowed)");
  }
  if (!in.done()) return refuse(in.i + 1, "bytes after " + quoted(kSignatureEnd));
  return out;
}

}  // namespace airlock::formats
