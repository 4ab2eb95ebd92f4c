#include "site_index.h"

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "airlock/formats/clearsign.h"
#include "airlock/formats/compress.h"
#include "airlock/formats/release.h"
#include "airlock/formats/site_index.h"

namespace airlock::repo {
namespace {

constexpr std::uint64_t kMaxIndex = 1ull << 30;
constexpr std::uint64_t kMaxRelease = 64ull << 20;

// A Packages index of the snapshot: "dists/<suite>/<component>/binary-<arch>"
// and the variants the snapshot holds (Packages, Packages.xz, ...).
struct IndexDir {
  std::string suite;
  std::vector<const SnapshotEntry*> variants;
};

// The vendor Release of a suite, from its InRelease or Release.
Result<apt::Release> vendor_release(const Snapshot& snap, const std::string& suite,
                                    const ObjectSource& read) {
  for (const char* name : {"InRelease", "Release"}) {
    const auto* e = snap.find("dists/" + suite + "/" + name);
    if (!e) continue;
    auto bytes = read_whole(read, e->sha256, kMaxRelease);
    if (!bytes) return fail(bytes.error());
    std::string text = std::move(*bytes);
    if (text.starts_with(formats::kSignedMessageBegin)) {
      auto message = formats::split_clearsigned(text);
      if (!message) return fail(message.error().context(e->path));
      text = std::move(message->text);
    }
    auto release = apt::parse_release(text);
    if (!release) return fail(release.error().context(e->path));
    return release;
  }
  return fail(Code::invalid_input, "snapshot of " + snap.repo + " has no Release for " + suite);
}

}  // namespace

std::string site_index_ref(const Digest& snapshot) { return "site-index/" + snapshot.hex(); }

Result<std::string> read_whole(const ObjectSource& source, const Digest& id,
                               std::uint64_t max_size) {
  auto reader = source(id, max_size);
  if (!reader) return fail(reader.error());
  std::string out;
  out.reserve(reader->size());
  for (;;) {
    auto piece = reader->next();
    if (!piece) return fail(piece.error());
    if (piece->empty()) break;
    out.append(*piece);
  }
  if (auto s = reader->finish(); !s) return fail(s.error());
  return out;
}

std::string_view site_index_root(std::string_view kind) {
  if (kind == "apt") return "dists/";
  if (kind == "rpm") return "repodata/";
  return {};
}

bool needs_site_index(const Snapshot& snapshot) {
  return snapshot.filtered && !site_index_root(snapshot.kind).empty();
}

Result<Digest> build_site_index(const Snapshot& snap, const Digest& id, const ObjectSource& read,
                                const SiteKey& key, TimePoint now, Batch& batch) {
  if (snap.kind == "rpm") return build_rpm_site_index(snap, id, read, key, now, batch);
  if (snap.kind == "apt") return build_apt_site_index(snap, id, read, key, now, batch);
  return fail(Code::invalid_input, "a snapshot of kind '" + snap.kind + "' has no site index");
}

SiteOverlay::SiteOverlay(const Snapshot& snap, const Digest& id, TimePoint now, Batch& batch)
    : id_(id), batch_(batch) {
  overlay_.repo = snap.repo;
  overlay_.kind = snap.kind;
  overlay_.upstream = "site index of snapshot " + id.hex();
  overlay_.synced_at = now;
}

Status SiteOverlay::add(const std::string& path, std::string_view bytes) {
  auto d = batch_.put_bytes(bytes);
  if (!d) return fail(d.error());
  overlay_.entries.push_back({path, *d, bytes.size()});
  return {};
}

void SiteOverlay::add_stored(const SnapshotEntry& entry) { overlay_.entries.push_back(entry); }

Result<Digest> SiteOverlay::finish(const SiteKey& key) {
  auto json = overlay_.to_canonical_json();
  if (!json) return fail(json.error());
  auto overlay_id = batch_.put_bytes(*json);
  if (!overlay_id) return fail(overlay_id.error());
  nlohmann::json note{{"site_key", key.fingerprint()}, {"snapshot", id_.hex()}};
  batch_.set_ref(site_index_ref(id_), *overlay_id, note.dump());
  return *overlay_id;
}

Result<Digest> build_apt_site_index(const Snapshot& snap, const Digest& id,
                                    const ObjectSource& read, const SiteKey& key, TimePoint now,
                                    Batch& batch) {
  std::map<std::string, IndexDir> dirs;
  for (const auto& e : snap.entries) {
    std::string suite;
    auto dir = apt::packages_index_dir(e.path, suite);
    if (dir.empty()) continue;
    auto& d = dirs[dir];
    d.suite = suite;
    d.variants.push_back(&e);
  }
  // The variant each carried package was read from, and what is carried.
  std::set<std::string> used;
  std::set<std::pair<std::string, Digest>> carried;
  for (const auto& p : snap.packages) {
    used.insert(p.index);
    carried.emplace(p.path, p.sha256);
  }
  std::map<std::string, std::vector<apt::ReleaseFile>> suites;
  SiteOverlay overlay(snap, id, now, batch);
  for (const auto& [dir, d] : dirs) {
    // The variant the packages were read from; any verified variant of an
    // index that only lists packages read from another (arch all).
    const SnapshotEntry* from = d.variants.front();
    for (const auto* v : d.variants) {
      if (used.contains(v->path)) from = v;
    }
    std::string text;
    {
      auto bytes = read_whole(read, from->sha256, kMaxIndex);
      if (!bytes) return fail(bytes.error().context(from->path));
      auto plain = formats::decompress_index(*bytes, kMaxIndex);
      if (!plain) return fail(plain.error().context(from->path));
      auto site = apt::select_stanzas(*plain, [&](const apt::PackageRecord& r) {
        return carried.contains({r.filename, r.sha256});
      });
      if (!site) return fail(site.error().context(from->path));
      text = std::move(*site);
    }
    const std::string path = dir + "/Packages";
    if (auto s = overlay.add(path, text); !s) return fail(s.error());
    const std::string prefix = "dists/" + d.suite + "/";
    suites[d.suite].push_back({path.substr(prefix.size()), sha256(text), text.size()});
  }
  for (auto& [suite, files] : suites) {
    auto vendor = vendor_release(snap, suite, read);
    if (!vendor) return fail(vendor.error());
    const std::string release = apt::site_release(*vendor, files, now);
    auto inrelease = key.clearsign(release);
    if (!inrelease) return fail(inrelease.error());
    auto detached = key.detach_sign(release);
    if (!detached) return fail(detached.error());
    const std::string base = "dists/" + suite + "/";
    for (const auto& [name, bytes] : {std::pair{"Release", &release},
                                      {"InRelease", &*inrelease},
                                      {"Release.gpg", &*detached}}) {
      if (auto s = overlay.add(base + name, *bytes); !s) return fail(s.error());
    }
  }
  return overlay.finish(key);
}

}  // namespace airlock::repo
