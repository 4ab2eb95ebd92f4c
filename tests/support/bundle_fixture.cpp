#include "bundle_fixture.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <zstd.h>

#include <random>
#include <vector>

#include "airlock/base/file.h"
#include "airlock/verify/digest.h"
#include "test_support.h"

namespace airlock::testing {
namespace fs = std::filesystem;

std::string add_package_list(Batch& batch, Snapshot& snapshot) {
  std::erase_if(snapshot.entries, [](const SnapshotEntry& e) { return e.path == kSampleIndex; });
  snapshot.packages.clear();
  std::string index;
  for (const auto& e : snapshot.entries) {
    if (!e.path.starts_with("pool/main/") || !e.path.ends_with(".deb")) continue;
    const std::string stem = e.path.substr(10, e.path.size() - 14);
    const auto underscore = stem.find('_');
    PackageEntry p{stem.substr(0, underscore),
                   underscore == std::string::npos ? "1.0-1" : stem.substr(underscore + 1),
                   "amd64",
                   stem.substr(0, underscore),
                   e.size,
                   e.sha256,
                   e.path,
                   kSampleIndex};
    index += "Package: " + p.name + "\nVersion: " + p.version +
             "\nArchitecture: amd64\nFilename: " + p.path + "\nSize: " + std::to_string(p.size) +
             "\nSHA256: " + p.sha256.hex() + "\n\n";
    snapshot.packages.push_back(std::move(p));
  }
  snapshot.entries.push_back({kSampleIndex, batch.put_bytes(index).value(), index.size()});
  return index;
}

std::pair<Digest, Digest> put_snapshots_sharing_prefix(Store& store, std::size_t digits,
                                                       const std::string& repo) {
  Snapshot snap{repo, "apt", "@", TimePoint{}, {}, {}, {}, false};
  const auto canonical = snap.to_canonical_json().value();
  const auto at = canonical.find("\"@\"") + 1;
  std::map<std::string, int> seen;
  for (int i = 0;; ++i) {
    auto text = canonical;
    text.replace(at, 1, std::to_string(i));
    auto [it, fresh] = seen.emplace(sha256(text).hex().substr(0, digits), i);
    if (fresh) continue;
    snap.upstream = std::to_string(it->second);
    const Digest first = store.put_snapshot(snap).value();
    snap.upstream = std::to_string(i);
    return {first, store.put_snapshot(snap).value()};
  }
}

SampleRepo make_sample_repo(const fs::path& dir, int count, std::size_t max_size,
                            std::uint32_t seed, const std::string& repo, bool packages) {
  SampleRepo out;
  out.store = Store::open(dir).value();
  std::mt19937 rng(seed);
  Snapshot snap;
  snap.repo = repo;
  snap.kind = "apt";
  snap.upstream = "http://127.0.0.1/" + repo;
  snap.synced_at = TimePoint(std::chrono::seconds(1'800'000'000));
  auto batch = out.store->begin_batch().value();
  for (int i = 0; i < count; ++i) {
    std::size_t size = i == 0 ? 0 : 1 + rng() % max_size;
    // Half compressible text, half random bytes, like a mirror's mix.
    std::string data =
        i % 2 ? random_bytes(size, seed + i) : std::string(size, static_cast<char>('a' + i % 26));
    auto id = batch.put_bytes(data).value();
    auto path = "pool/main/p" + std::to_string(i) + ".deb";
    snap.entries.push_back({path, id, data.size()});
    out.contents[path] = std::move(data);
  }
  if (packages) out.contents[kSampleIndex] = add_package_list(batch, snap);
  out.snapshot = batch.add_snapshot(snap).value();
  if (!batch.commit()) std::abort();
  return out;
}

std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  archive* a = archive_write_new();
  archive_write_set_format_ustar(a);
  archive_write_set_bytes_per_block(a, 0);
  archive_write_open(
      a, &out, nullptr,
      [](archive*, void* client, const void* buf, size_t len) -> la_ssize_t {
        static_cast<std::string*>(client)->append(static_cast<const char*>(buf), len);
        return static_cast<la_ssize_t>(len);
      },
      nullptr);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_perm(entry, 0644);
    switch (e.type) {
      case TarEntry::file:
        archive_entry_set_filetype(entry, AE_IFREG);
        break;
      case TarEntry::symlink:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, e.link.c_str());
        break;
      case TarEntry::hardlink:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_hardlink(entry, e.link.c_str());
        break;
      case TarEntry::directory:
        archive_entry_set_filetype(entry, AE_IFDIR);
        break;
      case TarEntry::chardev:
        archive_entry_set_filetype(entry, AE_IFCHR);
        archive_entry_set_rdev(entry, makedev(1, 3));
        break;
      case TarEntry::fifo:
        archive_entry_set_filetype(entry, AE_IFIFO);
        break;
    }
    bool has_data = e.type == TarEntry::file;
    archive_entry_set_size(
        entry,
        has_data ? (e.declared_size >= 0 ? e.declared_size : static_cast<long long>(e.data.size()))
                 : 0);
    archive_write_header(a, entry);
    if (has_data && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

std::string zstd_compress(const std::string& bytes, int window_log) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 3);
  if (window_log > 0) {
    ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
    ZSTD_CCtx_setParameter(c, ZSTD_c_enableLongDistanceMatching, 1);
  }
  // Streaming, so the frame does not record the content size and keeps the
  // window it was given.
  std::string out;
  std::vector<char> buf(ZSTD_CStreamOutSize());
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  for (ZSTD_EndDirective mode : {ZSTD_e_continue, ZSTD_e_end}) {
    for (;;) {
      ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
      std::size_t left = ZSTD_compressStream2(c, &ob, &in, mode);
      if (ZSTD_isError(left)) std::abort();
      out.append(buf.data(), ob.pos);
      if (mode == ZSTD_e_continue ? in.pos == in.size : left == 0) break;
    }
  }
  ZSTD_freeCCtx(c);
  return out;
}

fs::path write_crafted_bundle(const fs::path& out_dir, const std::vector<BundleObject>& objects,
                              const std::string& volume, const std::vector<const PrivateKey*>& keys,
                              TimePoint created) {
  Manifest m;
  m.stream = "crafted";
  m.sequence = 1;
  m.kind = "full";
  m.created = created;
  m.expires = created + std::chrono::hours(24 * 30);
  m.producer = "test";
  m.objects = objects;
  std::sort(m.objects.begin(), m.objects.end(),
            [](const BundleObject& a, const BundleObject& b) { return a.sha256 < b.sha256; });
  m.archive_size = tar_size_for(m.objects);
  m.volumes = {{"data.000", volume.size(), sha256(volume)}};
  auto dir = out_dir / bundle_dir_name(m.stream, m.sequence);
  fs::create_directories(dir);
  write_text(dir / "data.000", volume);
  auto raw = m.to_json();
  write_text(dir / "manifest.json", raw);
  std::vector<SignatureEntry> sigs;
  for (const auto* k : keys) {
    auto sig = k->sign(raw).value();
    sigs.push_back({k->public_key().id(), {sig.begin(), sig.end()}});
  }
  write_text(dir / "manifest.sig.json", signatures_to_json(sigs));
  return dir;
}

}  // namespace airlock::testing
