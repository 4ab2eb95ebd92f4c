// The site index of a filtered rpm snapshot (site_index.h): a primary of
// the vendor's <package> elements of the carried packages and a repomd.xml
// the site key signs.
#include <algorithm>
#include <set>

#include "airlock/formats/compress.h"
#include "airlock/formats/rpm.h"
#include "airlock/formats/rpm_site.h"
#include "site_index.h"

namespace airlock::repo {
namespace {

constexpr std::uint64_t kMaxRepomd = 64ull << 20;
constexpr std::uint64_t kMaxPrimary = 1ull << 30;
const std::string kRepomd = "repodata/repomd.xml";

// The vendor metadata served unchanged beside the site primary: what dnf
// reads advisories and module streams from.
bool served_unchanged(const std::string& type) { return type == "updateinfo" || type == "modules"; }

// The vendor's <package> elements, in document order, of exactly the
// packages snap carries (by location and sha256): each carried package
// must be among them.
Result<std::vector<std::string>> carried_elements(const Snapshot& snap,
                                                  const SnapshotEntry& primary,
                                                  const ObjectSource& read) {
  std::set<std::pair<std::string, Digest>> carried, found;
  for (const auto& p : snap.packages) carried.emplace(p.path, p.sha256);
  std::vector<std::string> elements;
  rpm::PrimaryParser parser(
      [&](rpm::RpmPackage&& p) -> Status {
        std::pair key{p.location, p.sha256};
        if (carried.contains(key) && found.insert(key).second)
          elements.push_back(std::move(p.element));
        return {};
      },
      {.keep_elements = true});
  // The compressed document too is read a piece at a time: never held whole.
  auto reader = read(primary.sha256, kMaxPrimary);
  if (!reader) return fail(reader.error().context(primary.path));
  auto source = [&reader] { return reader->next(); };
  auto s = formats::decompress_index_to(
      source, [&](std::string_view piece) { return parser.feed(piece); }, kMaxPrimary);
  if (s) s = parser.finish();
  if (auto whole = reader->finish(); !whole) return fail(whole.error().context(primary.path));
  if (!s) return fail(s.error().context(snap.repo + " " + primary.path));
  for (const auto& p : snap.packages) {
    if (!found.contains({p.path, p.sha256})) {
      return fail(Code::invalid_input, snap.repo + " " + primary.path + " does not list " + p.path +
                                           " with sha256 " + p.sha256.hex() +
                                           ", which the snapshot carries");
    }
  }
  return elements;
}

// The site primary.xml.gz of elements, as repomd describes it; checked to
// parse back to exactly those elements (a vendor element that leans on a
// namespace prefix its root declared otherwise would not).
Result<std::pair<rpm::SiteRepomdFile, std::string>> site_primary_file(
    const std::vector<std::string>& elements, TimePoint now) {
  const std::string text = rpm::site_primary(elements);
  std::set<Digest> own;
  for (const auto& e : elements) own.insert(sha256(e));
  auto n = rpm::check_elements(text, own);
  if (!n) return fail(n.error().context("the site primary"));
  auto gz = formats::compress_gzip(text);
  if (!gz) return fail(gz.error());
  rpm::SiteRepomdFile f;
  f.type = "primary";
  f.sha256 = sha256(*gz);
  f.size = gz->size();
  f.open_sha256 = sha256(text);
  f.open_size = text.size();
  f.location = rpm::site_metadata_location(f.sha256, "primary");
  f.timestamp = now.time_since_epoch().count();
  return std::pair{std::move(f), std::move(*gz)};
}

}  // namespace

Result<Digest> build_rpm_site_index(const Snapshot& snap, const Digest& id,
                                    const ObjectSource& read, const SiteKey& key, TimePoint now,
                                    Batch& batch) {
  const auto* repomd_entry = snap.find(kRepomd);
  if (!repomd_entry)
    return fail(Code::invalid_input, "snapshot of " + snap.repo + " has no " + kRepomd);
  auto repomd_bytes = read_whole(read, repomd_entry->sha256, kMaxRepomd);
  if (!repomd_bytes) return fail(repomd_bytes.error().context(kRepomd));
  auto repomd = rpm::parse_repomd(*repomd_bytes);
  if (!repomd) return fail(repomd.error().context(snap.repo + " " + kRepomd));
  auto listed = [&](const rpm::RepomdData& d) -> Result<const SnapshotEntry*> {
    const auto* e = snap.find(d.location);
    if (!e || e->sha256 != d.sha256) {
      return fail(Code::invalid_input, "snapshot of " + snap.repo + " does not hold " + d.location +
                                           " as " + kRepomd + " lists it");
    }
    return e;
  };
  SiteOverlay overlay(snap, id, now, batch);
  std::optional<std::pair<rpm::SiteRepomdFile, std::string>> primary;
  std::vector<std::string> vendor_data;
  for (const auto& d : repomd->data) {
    if (d.type != "primary" && !served_unchanged(d.type)) continue;
    auto entry = listed(d);
    if (!entry) return fail(entry.error());
    if (d.type != "primary") {
      overlay.add_stored(**entry);
      vendor_data.push_back(d.element);
      continue;
    }
    auto elements = carried_elements(snap, **entry, read);
    if (!elements) return fail(elements.error());
    auto file = site_primary_file(*elements, now);
    if (!file) return fail(file.error());
    primary = std::move(*file);
  }
  if (!primary) return fail(Code::invalid_input, snap.repo + " " + kRepomd + " lists no primary");
  const std::string text = rpm::site_repomd(std::to_string(now.time_since_epoch().count()),
                                            {primary->first}, vendor_data);
  if (auto check = rpm::parse_repomd(text); !check)
    return fail(check.error().context("the site " + kRepomd));
  auto signature = key.detach_sign(text);
  if (!signature) return fail(signature.error());
  if (auto s = overlay.add(primary->first.location, primary->second); !s) return fail(s.error());
  if (auto s = overlay.add(kRepomd, text); !s) return fail(s.error());
  if (auto s = overlay.add(kRepomd + ".asc", *signature); !s) return fail(s.error());
  return overlay.finish(key);
}

}  // namespace airlock::repo
