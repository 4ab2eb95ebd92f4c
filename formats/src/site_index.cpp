#include "airlock/formats/site_index.h"

#include "airlock/verify/digest.h"
#include "fields.h"

namespace airlock::apt {
namespace {

bool blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

// The one record a stanza holds.
Result<PackageRecord> stanza_record(std::string_view stanza) {
  std::optional<Result<PackageRecord>> rec;
  auto s = for_each_paragraph(stanza, [&](const Paragraph& p) -> Status {
    rec = parse_package_record(p);
    return {};
  });
  if (!s) return fail(s.error());
  if (!rec) return fail(Code::invalid_input, "Packages: an empty stanza");
  return std::move(*rec);
}

// "Name: value\n", a multi-line value continued on lines starting with a space.
std::string field_line(std::string_view name, const std::string& value) {
  std::string out = std::string(name) + ": ";
  for (char c : value) {
    out += c;
    if (c == '\n') out += ' ';
  }
  return out + "\n";
}

}  // namespace

Status for_each_stanza(std::string_view text, const std::function<Status(std::string_view)>& fn) {
  std::size_t pos = 0, start = std::string_view::npos, end = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    const std::size_t line_end = nl == std::string_view::npos ? text.size() : nl;
    const auto line = text.substr(pos, line_end - pos);
    if (blank(line)) {
      if (start != std::string_view::npos) {
        if (auto s = fn(text.substr(start, end - start)); !s) return s;
        start = std::string_view::npos;
      }
    } else {
      if (start == std::string_view::npos) start = pos;
      end = line_end;
    }
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
  }
  if (start != std::string_view::npos) return fn(text.substr(start, end - start));
  return {};
}

Result<std::string> select_stanzas(std::string_view index,
                                   const std::function<bool(const PackageRecord&)>& keep) {
  std::string out;
  auto s = for_each_stanza(index, [&](std::string_view stanza) -> Status {
    auto rec = stanza_record(stanza);
    if (!rec) return fail(rec.error());
    if (!keep(*rec)) return {};
    if (!out.empty()) out += '\n';
    out.append(stanza);
    out += '\n';
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Result<std::set<Digest>> stanza_digests(std::string_view index) {
  std::set<Digest> out;
  auto s = for_each_stanza(index, [&](std::string_view stanza) -> Status {
    out.insert(sha256(stanza));
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Result<std::uint64_t> check_stanzas(std::string_view site_index, const std::set<Digest>& vendor) {
  std::uint64_t n = 0;
  auto s = for_each_stanza(site_index, [&](std::string_view stanza) -> Status {
    ++n;
    if (vendor.contains(sha256(stanza))) return {};
    auto rec = stanza_record(stanza);
    if (!rec) return fail(rec.error().context("stanza " + std::to_string(n)));
    return fail(Code::refused, "stanza " + std::to_string(n) + " (" + rec->package + " " +
                                   rec->version + " " + rec->architecture +
                                   ") is not byte-identical to any stanza of the vendor-signed "
                                   "index");
  });
  if (!s) return fail(s.error());
  return n;
}

std::string packages_index_dir(std::string_view path, std::string& suite) {
  if (!path.starts_with("dists/")) return {};
  const auto slash = path.rfind('/');
  const auto name = path.substr(slash + 1);
  if (name != "Packages" && !name.starts_with("Packages.")) return {};
  const auto dir = path.substr(0, slash);
  if (!dir.substr(dir.rfind('/') + 1).starts_with("binary-")) return {};
  const auto suite_end = path.find('/', 6);
  if (suite_end >= slash) return {};
  suite = std::string(path.substr(6, suite_end - 6));
  return std::string(dir);
}

std::string site_release(const Release& vendor, const std::vector<ReleaseFile>& files,
                         TimePoint date) {
  std::string out;
  for (const char* name : {"Origin", "Label", "Suite", "Version", "Codename"}) {
    if (const auto* v = detail::field(vendor.fields, name)) out += field_line(name, *v);
  }
  out += "Date: " + format_http_date(date) + "\n";
  out += "Acquire-By-Hash: yes\n";
  for (const char* name :
       {"No-Support-for-Architecture-all", "Architectures", "Components", "Description"}) {
    if (const auto* v = detail::field(vendor.fields, name)) out += field_line(name, *v);
  }
  out += "SHA256:\n";
  for (const auto& f : files) {
    out += " " + f.sha256.hex() + " " + std::to_string(f.size) + " " + f.path + "\n";
  }
  return out;
}

}  // namespace airlock::apt
