#include "airlock/formats/release.h"

#include <algorithm>
#include <ctime>

#include "fields.h"

namespace airlock::apt {
namespace {

using detail::field;
using detail::trim;
using detail::words;

std::size_t hex_length(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::md5:
      return 32;
    case HashAlgorithm::sha1:
      return 40;
    case HashAlgorithm::sha256:
      return 64;
    case HashAlgorithm::sha512:
      return 128;
  }
  return 0;
}

// One hash list ("MD5Sum:", "SHA256:", ...): a line " <hash> <size> <path>"
// per file. Entries are numbered from 1 in messages, in the order written.
Status parse_hash_list(HashAlgorithm algorithm, std::string_view list,
                       std::vector<ListedFile>& out) {
  const std::string where = "Release " + std::string(hash_name(algorithm)) + " entry ";
  std::size_t entry = 0;
  std::size_t pos = 0;
  while (pos < list.size()) {
    auto nl = list.find('\n', pos);
    if (nl == std::string_view::npos) nl = list.size();
    auto line = trim(list.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty()) continue;
    const std::string at = where + std::to_string(++entry);
    auto w = words(line);
    if (w.size() != 3) {
      return fail(Code::invalid_input, at + ": expected '<hash> <size> <path>', found " +
                                           std::to_string(w.size()) + " words");
    }
    auto hash = HashValue::parse(algorithm, w[0]);
    if (!hash) return fail(hash.error().context(at));
    auto size = detail::to_u64(w[1], "size");
    if (!size) return fail(size.error().context(at));
    out.push_back({w[2], *size, std::move(*hash)});
  }
  return {};
}

Result<std::optional<TimePoint>> date_field(const Paragraph& p, std::string_view name) {
  auto* value = field(p, name);
  if (!value) return std::optional<TimePoint>{};
  auto t = parse_rfc2822(*value);
  if (!t) return fail(t.error().context("Release " + std::string(name)));
  return std::optional<TimePoint>(*t);
}

Result<Paragraph> first_paragraph(std::string_view text) {
  std::optional<Paragraph> first;
  auto s = for_each_paragraph(text, [&](const Paragraph& p) -> Status {
    if (!first) first = p;  // a Release file has one paragraph
    return {};
  });
  if (!s) return fail(s.error().context("Release"));
  if (!first) return fail(Code::invalid_input, "Release is empty");
  return std::move(*first);
}

}  // namespace

std::string_view hash_name(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::md5:
      return "MD5Sum";
    case HashAlgorithm::sha1:
      return "SHA1";
    case HashAlgorithm::sha256:
      return "SHA256";
    case HashAlgorithm::sha512:
      return "SHA512";
  }
  return "";
}

Result<HashValue> HashValue::parse(HashAlgorithm algorithm, std::string_view hex) {
  const std::size_t want = hex_length(algorithm);
  bool ok = hex.size() == want;
  for (char c : hex) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok) {
    return fail(Code::invalid_input, std::string(hash_name(algorithm)) + " '" + std::string(hex) +
                                         "' is not " + std::to_string(want) +
                                         " lowercase hex digits");
  }
  return HashValue(algorithm, std::string(hex));
}

const ReleaseFile* Release::find(std::string_view path) const {
  for (const auto& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

Result<Release> parse_release(std::string_view text) {
  Release r;
  auto fields = first_paragraph(text);
  if (!fields) return fail(fields.error());
  r.fields = std::move(*fields);
  auto date = date_field(r.fields, "Date");
  if (!date) return fail(date.error());
  r.date = *date;
  auto valid_until = date_field(r.fields, "Valid-Until");
  if (!valid_until) return fail(valid_until.error());
  r.valid_until = *valid_until;
  if (auto* c = field(r.fields, "Components")) r.components = words(*c);
  if (auto* a = field(r.fields, "Architectures")) r.architectures = words(*a);
  if (auto* h = field(r.fields, "Acquire-By-Hash")) r.acquire_by_hash = trim(*h) == "yes";
  if (!field(r.fields, "SHA256")) return fail(Code::invalid_input, "Release has no SHA256 list");
  for (auto algorithm : kHashAlgorithms) {
    auto* list = field(r.fields, hash_name(algorithm));
    if (!list) continue;
    if (auto s = parse_hash_list(algorithm, *list, r.listed); !s) return fail(s.error());
  }
  for (const auto& f : r.listed) {
    if (f.hash.algorithm() != HashAlgorithm::sha256) continue;
    r.files.push_back({f.path, Digest::parse(f.hash.hex()).value(), f.size});
  }
  return r;
}

std::map<std::string, std::string> by_hash_paths(const Release& release,
                                                 std::string_view release_dir) {
  std::string base(release_dir);
  if (!base.empty() && !base.ends_with('/')) base += '/';
  std::map<std::string, std::string> out;
  for (const auto& f : release.listed) {
    auto slash = f.path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : f.path.substr(0, slash + 1);
    out.emplace(
        base + dir + "by-hash/" + std::string(hash_name(f.hash.algorithm())) + "/" + f.hash.hex(),
        base + f.path);
  }
  return out;
}

Result<TimePoint> parse_rfc2822(std::string_view text) {
  auto bad = [&] {
    return fail(Code::invalid_input, "'" + std::string(text) + "' is not an RFC 2822 date");
  };
  std::string s(trim(text));
  std::tm tm{};
  const char* rest = strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm);
  if (!rest) rest = strptime(s.c_str(), "%d %b %Y %H:%M:%S", &tm);
  if (!rest) return bad();
  std::string_view zone = trim(rest);
  long offset = 0;
  if (zone == "UTC" || zone == "GMT" || zone == "Z" || zone == "UT") {
    offset = 0;
  } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-') &&
             std::all_of(zone.begin() + 1, zone.end(),
                         [](char c) { return c >= '0' && c <= '9'; })) {
    long hh = (zone[1] - '0') * 10 + (zone[2] - '0');
    long mm = (zone[3] - '0') * 10 + (zone[4] - '0');
    offset = (hh * 3600 + mm * 60) * (zone[0] == '+' ? 1 : -1);
  } else {
    return bad();
  }
  std::time_t t = timegm(&tm);
  return TimePoint(std::chrono::seconds(t - offset));
}

}  // namespace airlock::apt
