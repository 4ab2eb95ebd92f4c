#include "rpm_xml.h"

#include <limits>

namespace airlock::rpm {

using formats::detail::quote;
using formats::detail::trim_blanks;
using formats::detail::XmlStream;

namespace {

constexpr std::string_view kNsXml = "http://www.w3.org/XML/1998/namespace";

std::string describe(std::string_view ns) {
  return ns.empty() ? "no namespace" : "namespace " + quote(ns);
}

}  // namespace

std::string wrong_root(formats::detail::XmlName found, std::string_view ns,
                       std::string_view local) {
  return "expected the root element <" + std::string(local) + "> in " + describe(ns) + ", found <" +
         found.qualified() + "> in " + describe(found.ns);
}

Status check_sha256_type(const char* type, const Who& who) {
  if (type && std::string_view(type) == "sha256") return {};
  return fail(Code::invalid_input, who() + ": expected <checksum type=\"sha256\">, found " +
                                       (type ? "type " + quote(type) : "no type"));
}

Result<Digest> parse_sha256_text(std::string_view text, const Who& who) {
  auto d = Digest::parse(trim_blanks(text));
  if (!d) {
    return fail(Code::invalid_input,
                who() + ": expected 64 lowercase hex digits in <checksum>, found " + quote(text));
  }
  return *d;
}

Result<std::string> location_href(const char** attrs, const Who& who) {
  if (const char* base = XmlStream::attr(attrs, kNsXml, "base")) {
    return fail(Code::invalid_input,
                who() + ": expected <location> without xml:base, found xml:base=" + quote(base));
  }
  const char* href = XmlStream::attr(attrs, "href");
  if (!href || !*href) {
    return fail(Code::invalid_input, who() + ": expected <location href=\"...\">, found none");
  }
  return std::string(href);
}

std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  text = trim_blanks(text);
  auto dot = text.find('.');
  if (dot != std::string_view::npos) {
    auto fraction = text.substr(dot + 1);
    if (fraction.empty() || !formats::detail::to_u64(fraction)) return std::nullopt;
    text = text.substr(0, dot);
  }
  auto n = formats::detail::to_u64(text);
  if (!n || *n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return std::nullopt;
  return static_cast<std::int64_t>(*n);
}

}  // namespace airlock::rpm
