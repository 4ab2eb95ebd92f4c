#include "site_proof.h"

#include <map>
#include <set>

#include "airlock/base/file.h"
#include "airlock/formats/clearsign.h"
#include "airlock/formats/compress.h"
#include "airlock/formats/release.h"
#include "airlock/formats/rpm_site.h"
#include "airlock/formats/site_index.h"
#include "airlock/store/snapshot.h"
#include "airlock/transfer/bundle.h"
#include "airlock/verify/gpgv.h"
#include "site_proof_rpm.h"

namespace airlock {
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxIndex = 1ull << 30;

// Keeps the objects asked for, in memory, as the bundle reader checks them.
class KeepSink : public BundleSink {
 public:
  KeepSink(const std::set<Digest>& wanted, std::map<Digest, std::string>& kept)
      : wanted_(wanted), kept_(kept) {}
  Status begin(const BundleObject& object) override {
    current_.reset();
    buffer_.clear();
    if (wanted_.contains(object.sha256)) current_ = object.sha256;
    return {};
  }
  Status write(std::span<const std::uint8_t> bytes) override {
    if (current_) buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return {};
  }
  Status end() override {
    if (current_) kept_[*current_] = std::move(buffer_);
    return {};
  }

 private:
  const std::set<Digest>& wanted_;
  std::map<Digest, std::string>& kept_;
  std::optional<Digest> current_;
  std::string buffer_;
};

struct Checked {
  fs::path dir;
  Manifest manifest;
  std::set<Digest> objects;
};

// The Release text of suite in snap, its signature checked against keyring.
Result<apt::Release> vendor_release(const Snapshot& snap, const std::string& suite,
                                    const std::map<Digest, std::string>& kept,
                                    const fs::path& keyring, const fs::path& scratch) {
  const std::string base = "dists/" + suite + "/";
  auto object = [&](const std::string& path) -> const std::string* {
    const auto* e = snap.find(path);
    if (!e) return nullptr;
    auto it = kept.find(e->sha256);
    return it == kept.end() ? nullptr : &it->second;
  };
  auto write = [&](const std::string& name, const std::string& bytes) -> Result<fs::path> {
    const auto p = scratch / name;
    if (auto s = Env::system().write_file_atomic(p, bytes); !s) return fail(s.error());
    return p;
  };
  std::string text;
  if (const auto* in = object(base + "InRelease")) {
    auto file = write("InRelease", *in);
    if (!file) return fail(file.error());
    auto signed_text = gpgv_clearsigned(keyring, *file, scratch / "gpgv");
    if (!signed_text)
      return fail(signed_text.error().context(snap.repo + " " + base + "InRelease"));
    text = std::move(*signed_text);
  } else if (const auto* rel = object(base + "Release"); rel && object(base + "Release.gpg")) {
    auto data = write("Release", *rel);
    auto sig = write("Release.gpg", *object(base + "Release.gpg"));
    if (!data || !sig) return fail(Code::io, "cannot write to " + scratch.string());
    if (auto s = gpgv_detached(keyring, *sig, *data, scratch / "gpgv"); !s)
      return fail(s.error().context(snap.repo + " " + base + "Release"));
    text = *rel;
  } else {
    return fail(Code::invalid_input, "the vendor Release of " + snap.repo + " " + suite +
                                         " is in none of the bundles given");
  }
  auto release = apt::parse_release(text);
  if (!release) return fail(release.error().context(snap.repo + " " + base + "Release"));
  return release;
}

Status extract(const std::vector<Checked>& bundles, const std::set<Digest>& wanted,
               std::map<Digest, std::string>& kept) {
  for (const auto& b : bundles) {
    bool needed = false;
    for (const auto& id : wanted) needed |= b.objects.contains(id) && !kept.contains(id);
    if (!needed) continue;
    KeepSink sink(wanted, kept);
    std::vector<fs::path> dirs{b.dir};
    if (auto s = extract_bundle(b.manifest, dirs, sink); !s)
      return fail(s.error().context(b.dir.string()));
  }
  return {};
}

// The digests of every stanza of snap's vendor Packages indices (one
// verified variant of each), each checked against its vendor-signed Release.
Status apt_vendor_stanzas(const Digest& id, const Snapshot& snap,
                          const std::map<Digest, std::string>& kept, const fs::path& keyring,
                          const fs::path& scratch, SiteProof& proof, std::set<Digest>& vendor) {
  // One verified variant of each index the bundles hold.
  std::map<std::string, const SnapshotEntry*> dirs;
  std::map<std::string, std::string> suite_of;
  for (const auto& e : snap.entries) {
    std::string suite;
    auto dir = apt::packages_index_dir(e.path, suite);
    if (dir.empty() || dirs.contains(dir) || !kept.contains(e.sha256)) continue;
    dirs[dir] = &e;
    suite_of[dir] = suite;
  }
  std::map<std::string, apt::Release> releases;
  for (const auto& [dir, e] : dirs) {
    const std::string& suite = suite_of[dir];
    if (!releases.contains(suite)) {
      auto r = vendor_release(snap, suite, kept, keyring, scratch);
      if (!r) return fail(r.error());
      releases.emplace(suite, std::move(*r));
    }
    const std::string rel = e->path.substr(("dists/" + suite + "/").size());
    const auto* listed = releases.at(suite).find(rel);
    if (!listed || listed->sha256 != e->sha256) {
      return fail(Code::refused,
                  snap.repo + " " + e->path + " is not the file the vendor-signed Release lists");
    }
    auto plain = formats::decompress_index(kept.at(e->sha256), kMaxIndex);
    if (!plain) return fail(plain.error().context(e->path));
    auto digests = apt::stanza_digests(*plain);
    if (!digests) return fail(digests.error().context(e->path));
    proof.vendor_stanzas += digests->size();
    vendor.merge(*digests);
    proof.vendor_indices.push_back({snap.repo, e->path, id});
  }
  return {};
}

// The filtered apt and rpm snapshots among ids (kept holds them), and the
// vendor files of theirs the proof reads.
Status filtered_snapshots(const std::set<Digest>& ids, const std::map<Digest, std::string>& kept,
                          std::vector<std::pair<Digest, Snapshot>>& snaps,
                          std::set<Digest>& wanted) {
  for (const auto& id : ids) {
    auto it = kept.find(id);
    if (it == kept.end()) continue;
    auto snap = Snapshot::parse(it->second);
    if (!snap) {
      // The snapshot came in a signed bundle: malformed or unsafe is a refusal.
      return fail(Code::refused, snap.error().context("snapshot " + id.hex()).message);
    }
    if (!snap->filtered || (snap->kind != "apt" && snap->kind != "rpm")) continue;
    if (snap->kind == "rpm") site_proof::rpm_wanted(*snap, wanted);
    for (const auto& e : snap->entries) {
      std::string suite;
      if (e.path.starts_with("dists/") &&
          (e.path.ends_with("/InRelease") || e.path.ends_with("/Release") ||
           e.path.ends_with("/Release.gpg") || !apt::packages_index_dir(e.path, suite).empty())) {
        wanted.insert(e.sha256);
      }
    }
    snaps.emplace_back(id, std::move(*snap));
  }
  return {};
}

}  // namespace

Result<SiteProof> prove_site_index(const SiteProofRequest& req) {
  SiteProof proof;
  // Every bundle: signatures against trust, then every volume; objects are
  // checked as they stream out below.
  std::vector<Checked> bundles;
  std::set<Digest> snapshot_ids;
  for (const auto& dir : req.bundles) {
    auto vm = read_manifest(dir, req.trust, req.now);
    if (!vm) return fail(vm.error().context(dir.string()));
    std::vector<fs::path> dirs{dir};
    if (auto s = check_volumes(vm->manifest, dirs, {}); !s)
      return fail(s.error().context(dir.string()));
    Checked c{dir, vm->manifest, {}};
    for (const auto& o : vm->manifest.objects) c.objects.insert(o.sha256);
    for (const auto& s : vm->manifest.snapshots) snapshot_ids.insert(s.id);
    proof.bundles.push_back(bundle_dir_name(vm->manifest.stream, vm->manifest.sequence));
    bundles.push_back(std::move(c));
  }
  std::map<Digest, std::string> kept;
  // Every object of every bundle is checked on this pass.
  for (const auto& b : bundles) {
    KeepSink sink(snapshot_ids, kept);
    std::vector<fs::path> dirs{b.dir};
    if (auto s = extract_bundle(b.manifest, dirs, sink); !s)
      return fail(s.error().context(b.dir.string()));
  }
  std::vector<std::pair<Digest, Snapshot>> snaps;
  std::set<Digest> wanted;
  if (auto s = filtered_snapshots(snapshot_ids, kept, snaps, wanted); !s) return fail(s.error());
  if (snaps.empty()) {
    return fail(Code::invalid_input,
                "none of the bundles given carries a snapshot of a repository mirrored with a "
                "filter");
  }
  if (auto s = extract(bundles, wanted, kept); !s) return fail(s.error());

  auto scratch = ScratchDir::make(fs::temp_directory_path(), "airlock-verify-");
  if (!scratch) return fail(scratch.error());
  std::set<Digest> vendor, vendor_rpm;
  for (const auto& [id, snap] : snaps) {
    if (snap.kind == "rpm") {
      auto elements = site_proof::rpm_vendor_elements(id, snap, kept, req.vendor_keyring,
                                                      scratch->path(), proof);
      if (!elements) return fail(elements.error());
      vendor_rpm.merge(*elements);
      continue;
    }
    if (auto s =
            apt_vendor_stanzas(id, snap, kept, req.vendor_keyring, scratch->path(), proof, vendor);
        !s)
      return fail(s.error());
  }
  for (const auto& file : req.site_indices) {
    auto bytes = read_file(file, kMaxIndex);
    if (!bytes) return fail(bytes.error());
    auto plain = formats::decompress_index(*bytes, kMaxIndex);
    if (!plain) return fail(plain.error().context(file.string()));
    const bool rpm = site_proof::is_xml(*plain);
    auto n = rpm ? rpm::check_elements(*plain, vendor_rpm) : apt::check_stanzas(*plain, vendor);
    if (!n) return fail(n.error().context(file.string()));
    proof.site_files.push_back({file, *n, rpm});
  }
  return proof;
}

}  // namespace airlock
