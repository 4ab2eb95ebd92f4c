#include "site_proof_rpm.h"

#include "airlock/base/env.h"
#include "airlock/formats/rpm.h"
#include "airlock/formats/rpm_site.h"
#include "airlock/verify/gpgv.h"

namespace airlock::site_proof {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxPrimary = 1ull << 30;
const std::string kRepomd = "repodata/repomd.xml";
const std::string kRepomdAsc = "repodata/repomd.xml.asc";

}  // namespace

void rpm_wanted(const Snapshot& snap, std::set<Digest>& wanted) {
  for (const auto* path : {&kRepomd, &kRepomdAsc}) {
    if (const auto* e = snap.find(*path)) wanted.insert(e->sha256);
  }
  for (const auto& p : snap.packages) {
    if (const auto* e = snap.find(p.index)) wanted.insert(e->sha256);
  }
}

Result<std::set<Digest>> rpm_vendor_elements(const Digest& id, const Snapshot& snap,
                                             const std::map<Digest, std::string>& kept,
                                             const fs::path& keyring, const fs::path& scratch,
                                             SiteProof& proof) {
  auto object = [&](const std::string& path) -> const std::string* {
    const auto* e = snap.find(path);
    if (!e) return nullptr;
    auto it = kept.find(e->sha256);
    return it == kept.end() ? nullptr : &it->second;
  };
  const auto* repomd = object(kRepomd);
  const auto* asc = object(kRepomdAsc);
  if (!repomd || !asc) {
    return fail(Code::invalid_input, "the vendor " + kRepomd + " of " + snap.repo +
                                         " and its signature are not both in the bundles given");
  }
  const fs::path data = scratch / "repomd.xml", sig = scratch / "repomd.xml.asc";
  for (const auto& [p, bytes] : {std::pair{&data, repomd}, {&sig, asc}}) {
    if (auto s = Env::system().write_file_atomic(*p, *bytes); !s) return fail(s.error());
  }
  if (auto s = gpgv_detached(keyring, sig, data, scratch / "gpgv"); !s)
    return fail(s.error().context(snap.repo + " " + kRepomd));
  auto parsed = rpm::parse_repomd(*repomd);
  if (!parsed) return fail(parsed.error().context(snap.repo + " " + kRepomd));
  const rpm::RepomdData* primary = nullptr;
  for (const auto& d : parsed->data) {
    if (d.type == "primary") primary = &d;
  }
  if (!primary)
    return fail(Code::refused, snap.repo + " " + kRepomd + " lists no primary metadata");
  const auto* entry = snap.find(primary->location);
  if (!entry || entry->sha256 != primary->sha256) {
    return fail(Code::refused, snap.repo + " " + primary->location +
                                   " is not the primary the vendor-signed repomd.xml lists");
  }
  std::set<Digest> out;
  if (const auto* bytes = object(primary->location)) {
    auto digests = rpm::element_digests(*bytes, kMaxPrimary);
    if (!digests) return fail(digests.error().context(snap.repo + " " + primary->location));
    out = std::move(*digests);
  } else if (!snap.packages.empty()) {
    return fail(Code::invalid_input, "the vendor primary of " + snap.repo + " (" +
                                         primary->location + ") is in none of the bundles given");
  }
  proof.vendor_packages += out.size();
  proof.vendor_indices.push_back({snap.repo, primary->location, id});
  return out;
}

bool is_xml(std::string_view plain) {
  const auto first = plain.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && plain[first] == '<';
}

}  // namespace airlock::site_proof
