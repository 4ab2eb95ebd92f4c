#include "airlock/mirror/deb822.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>
#include <functional>

namespace airlock::apt {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
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
    return fail(Code::invalid_input, std::string(what) + " '" + std::string(s) + "' is not a number");
  }
  return v;
}

}  // namespace

Status for_each_paragraph(std::string_view text, const std::function<Status(const Paragraph&)>& fn) {
  Paragraph current;
  std::string last;
  std::size_t line_no = 0;
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
        return fail(Code::invalid_input, "line " + std::to_string(line_no) + ": continuation without a field");
      }
      auto& v = current[last];
      if (!v.empty()) v += '\n';
      v += trim(line);
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(Code::invalid_input, "line " + std::to_string(line_no) + ": expected 'Field: value'");
    }
    last = std::string(line.substr(0, colon));
    current[last] = std::string(trim(line.substr(colon + 1)));
    if (nl == text.size()) break;
  }
  if (!current.empty()) return fn(current);
  return {};
}

const ReleaseFile* Release::find(std::string_view path) const {
  for (const auto& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

Result<Release> parse_release(std::string_view text) {
  Release r;
  bool first = true;
  auto s = for_each_paragraph(text, [&](const Paragraph& p) -> Status {
    if (!first) return {};  // a Release file has one paragraph
    first = false;
    r.fields = p;
    return {};
  });
  if (!s) return fail(s.error().context("Release"));
  if (first) return fail(Code::invalid_input, "Release is empty");
  if (auto* d = field(r.fields, "Date")) {
    auto t = parse_rfc2822(*d);
    if (!t) return fail(t.error().context("Release Date"));
    r.date = *t;
  }
  if (auto* v = field(r.fields, "Valid-Until")) {
    auto t = parse_rfc2822(*v);
    if (!t) return fail(t.error().context("Release Valid-Until"));
    r.valid_until = *t;
  }
  if (auto* c = field(r.fields, "Components")) r.components = words(*c);
  if (auto* a = field(r.fields, "Architectures")) r.architectures = words(*a);
  if (auto* h = field(r.fields, "Acquire-By-Hash")) r.acquire_by_hash = trim(*h) == "yes";
  auto* sums = field(r.fields, "SHA256");
  if (!sums) return fail(Code::invalid_input, "Release has no SHA256 list");
  std::size_t pos = 0;
  std::string_view list = *sums;
  while (pos < list.size()) {
    auto nl = list.find('\n', pos);
    if (nl == std::string_view::npos) nl = list.size();
    auto line = trim(list.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty()) continue;
    auto w = words(line);
    if (w.size() != 3) return fail(Code::invalid_input, "Release SHA256 line '" + std::string(line) + "' is malformed");
    auto d = Digest::parse(w[0]);
    if (!d) return fail(d.error().context("Release SHA256"));
    auto size = to_u64(w[1], "size");
    if (!size) return fail(size.error());
    r.files.push_back({w[2], *d, *size});
  }
  return r;
}

Result<std::vector<PackageRecord>> parse_packages(std::string_view text) {
  std::vector<PackageRecord> out;
  auto s = for_each_paragraph(text, [&](const Paragraph& p) -> Status {
    PackageRecord rec;
    auto* name = field(p, "Package");
    if (!name) return fail(Code::invalid_input, "Packages: a record has no Package field");
    rec.package = *name;
    auto* fn = field(p, "Filename");
    auto* sz = field(p, "Size");
    auto* sha = field(p, "SHA256");
    if (!fn || !sz || !sha) {
      return fail(Code::invalid_input, "Packages: " + rec.package + " lacks Filename, Size or SHA256");
    }
    rec.filename = *fn;
    auto size = to_u64(*sz, "Size");
    if (!size) return fail(size.error().context("Packages: " + rec.package));
    rec.size = *size;
    auto d = Digest::parse(*sha);
    if (!d) return fail(d.error().context("Packages: " + rec.package));
    rec.sha256 = *d;
    if (auto* v = field(p, "Version")) rec.version = *v;
    if (auto* a = field(p, "Architecture")) rec.architecture = *a;
    out.push_back(std::move(rec));
    return {};
  });
  if (!s) return fail(s.error());
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
  } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-')) {
    int hh = 0, mm = 0;
    if (std::from_chars(zone.data() + 1, zone.data() + 3, hh).ec != std::errc() ||
        std::from_chars(zone.data() + 3, zone.data() + 5, mm).ec != std::errc()) {
      return bad();
    }
    offset = (hh * 3600L + mm * 60L) * (zone[0] == '+' ? 1 : -1);
  } else {
    return bad();
  }
  std::time_t t = timegm(&tm);
  return TimePoint(std::chrono::seconds(t - offset));
}

namespace {

// dpkg's ordering of a single character in the non-digit parts: '~' sorts
// before everything, even the end; letters before non-letters.
int order(char c) {
  if (c >= '0' && c <= '9') return 0;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

int verrevcmp(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !(a[i] >= '0' && a[i] <= '9')) ||
           (j < b.size() && !(b[j] >= '0' && b[j] <= '9'))) {
      int ac = i < a.size() ? order(a[i]) : 0;
      int bc = j < b.size() ? order(b[j]) : 0;
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && a[i] >= '0' && a[i] <= '9' && j < b.size() && b[j] >= '0' && b[j] <= '9') {
      if (!first_diff) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && a[i] >= '0' && a[i] <= '9') return 1;
    if (j < b.size() && b[j] >= '0' && b[j] <= '9') return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

struct Version {
  std::uint64_t epoch = 0;
  std::string_view upstream, revision;
};

Version split(std::string_view v) {
  Version out;
  auto colon = v.find(':');
  if (colon != std::string_view::npos) {
    std::from_chars(v.data(), v.data() + colon, out.epoch);
    v.remove_prefix(colon + 1);
  }
  auto dash = v.rfind('-');
  if (dash != std::string_view::npos) {
    out.upstream = v.substr(0, dash);
    out.revision = v.substr(dash + 1);
  } else {
    out.upstream = v;
  }
  return out;
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto va = split(a), vb = split(b);
  if (va.epoch != vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  int r = verrevcmp(va.upstream, vb.upstream);
  if (r) return r < 0 ? -1 : 1;
  r = verrevcmp(va.revision, vb.revision);
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

}  // namespace airlock::apt
