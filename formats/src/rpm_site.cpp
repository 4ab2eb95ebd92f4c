// Site metadata of a filtered rpm repository (rpm_site.h).
#include "airlock/formats/rpm_site.h"

#include "airlock/formats/compress.h"
#include "airlock/formats/rpm.h"
#include "xml.h"

namespace airlock::rpm {

using formats::detail::kNsCommon;
using formats::detail::kNsRepo;
using formats::detail::kNsRpm;

std::string site_primary_header(std::uint64_t packages) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"" + std::string(kNsCommon) +
         "\" xmlns:rpm=\"" + std::string(kNsRpm) + "\" packages=\"" + std::to_string(packages) +
         "\">\n";
}

std::string site_primary(const std::vector<std::string>& elements) {
  std::string out = site_primary_header(elements.size());
  for (const auto& e : elements) {
    out += e;
    out += '\n';
  }
  out += kSitePrimaryEnd;
  return out;
}

Result<std::set<Digest>> element_digests(std::string_view primary, std::uint64_t max_size) {
  std::set<Digest> out;
  PrimaryParser parser(
      [&](RpmPackage&& p) -> Status {
        out.insert(sha256(p.element));
        return {};
      },
      {.keep_elements = true});
  auto s = formats::decompress_index_to(
      primary, [&](std::string_view piece) { return parser.feed(piece); }, max_size);
  if (s) s = parser.finish();
  if (!s) return fail(s.error());
  return out;
}

Result<std::uint64_t> check_elements(std::string_view site, const std::set<Digest>& vendor) {
  std::vector<std::string> elements;
  PrimaryParser parser(
      [&](RpmPackage&& p) -> Status {
        const std::string n = std::to_string(elements.size() + 1);
        if (!vendor.contains(sha256(p.element))) {
          return fail(Code::refused, "package " + n + " (" + p.name + " " + p.evr() + " " + p.arch +
                                         ") is not byte-identical to any <package> of the "
                                         "vendor-signed primary");
        }
        elements.push_back(std::move(p.element));
        return {};
      },
      {.keep_elements = true});
  auto s = parser.feed(site);
  if (s) s = parser.finish();
  if (!s) return fail(s.error());
  // Only the elements count: anything else in the document (a comment, an
  // element dnf might read, another count) is outside the one site form.
  if (site_primary(elements) != site) {
    return fail(Code::refused, "holds more than its " + std::to_string(elements.size()) +
                                   " vendor <package> elements (the text around them is not "
                                   "the site primary's)");
  }
  return elements.size();
}

std::string site_metadata_location(const Digest& sha256, std::string_view type) {
  return "repodata/" + sha256.hex() + "-" + std::string(type) + ".xml.gz";
}

std::string site_repomd(std::string_view revision, const std::vector<SiteRepomdFile>& files,
                        const std::vector<std::string>& vendor_data) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"" +
                    std::string(kNsRepo) + "\" xmlns:rpm=\"" + std::string(kNsRpm) + "\">\n";
  out += "  <revision>" + std::string(revision) + "</revision>\n";
  for (const auto& f : files) {
    out += "  <data type=\"" + f.type + "\">\n";
    out += "    <checksum type=\"sha256\">" + f.sha256.hex() + "</checksum>\n";
    out += "    <open-checksum type=\"sha256\">" + f.open_sha256.hex() + "</open-checksum>\n";
    out += "    <location href=\"" + f.location + "\"/>\n";
    out += "    <timestamp>" + std::to_string(f.timestamp) + "</timestamp>\n";
    out += "    <size>" + std::to_string(f.size) + "</size>\n";
    out += "    <open-size>" + std::to_string(f.open_size) + "</open-size>\n";
    out += "  </data>\n";
  }
  for (const auto& d : vendor_data) out += "  " + d + "\n";
  out += "</repomd>\n";
  return out;
}

}  // namespace airlock::rpm
