#include "airlock/formats/packages.h"

#include "airlock/formats/deb822.h"
#include "fields.h"

namespace airlock::apt {

Result<PackageRecord> parse_package_record(const Paragraph& p) {
  using detail::field;
  PackageRecord rec;
  auto* name = field(p, "Package");
  if (!name) return fail(Code::invalid_input, "Packages: a record has no Package field");
  rec.package = *name;
  auto* fn = field(p, "Filename");
  auto* sz = field(p, "Size");
  auto* sha = field(p, "SHA256");
  if (!fn || !sz || !sha) {
    return fail(Code::invalid_input,
                "Packages: " + rec.package + " lacks Filename, Size or SHA256");
  }
  rec.filename = *fn;
  auto size = detail::to_u64(*sz, "Size");
  if (!size) return fail(size.error().context("Packages: " + rec.package));
  rec.size = *size;
  auto d = Digest::parse(*sha);
  if (!d) return fail(d.error().context("Packages: " + rec.package));
  rec.sha256 = *d;
  if (auto* v = field(p, "Version")) rec.version = *v;
  if (auto* a = field(p, "Architecture")) rec.architecture = *a;
  if (auto* f = field(p, "Depends")) rec.depends = *f;
  if (auto* f = field(p, "Pre-Depends")) rec.pre_depends = *f;
  if (auto* f = field(p, "Provides")) rec.provides = *f;
  // "Source: openssl" or "Source: openssl (3.0.11-1)".
  rec.source = rec.package;
  if (auto* src = field(p, "Source"); src && !src->empty())
    rec.source = src->substr(0, src->find(' '));
  return rec;
}

Result<std::vector<PackageRecord>> parse_packages(std::string_view text) {
  std::vector<PackageRecord> out;
  auto s = for_each_paragraph(text, [&](const Paragraph& p) -> Status {
    auto rec = parse_package_record(p);
    if (!rec) return fail(rec.error());
    out.push_back(std::move(*rec));
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

}  // namespace airlock::apt
