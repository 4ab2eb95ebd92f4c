#include "airlock/transfer/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "airlock/base/file.h"
#include "zstd_stream.h"

namespace airlock {
namespace fs = std::filesystem;

namespace {

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;
using Entry = std::unique_ptr<archive_entry, EntryFree>;

constexpr std::size_t kChunk = 1 << 20;
constexpr std::string_view kObjectPrefix = "objects/";

std::unexpected<Error> refused(std::string what) { return fail(Code::refused, std::move(what)); }

std::string archive_error(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

// State shared with libarchive's write callback.
struct WriteClient {
  bundle_io::ZstdWriter* zstd = nullptr;
  std::uint64_t tar_bytes = 0;
  std::optional<Error> error;
};

la_ssize_t write_callback(archive*, void* client, const void* buf, size_t len) {
  auto* c = static_cast<WriteClient*>(client);
  auto s = c->zstd->write(std::span(static_cast<const std::uint8_t*>(buf), len));
  if (!s) {
    c->error = s.error();
    return -1;
  }
  c->tar_bytes += len;
  return static_cast<la_ssize_t>(len);
}

Result<std::string> sign_manifest(std::string_view raw, const std::vector<const PrivateKey*>& keys,
                                  std::vector<SignatureEntry> existing = {}) {
  for (const auto* key : keys) {
    auto sig = key->sign(raw);
    if (!sig) return fail(sig.error());
    existing.push_back({key->public_key().id(), {sig->begin(), sig->end()}});
  }
  return signatures_to_json(existing);
}

// The chosen objects, sorted, with sizes from the store.
Result<std::vector<BundleObject>> choose_objects(const ExportRequest& req,
                                                 std::vector<BundleSnapshot>& snapshots) {
  std::map<Digest, std::uint64_t> chosen;
  for (const auto& id : req.snapshots) {
    auto snap = req.store->get_snapshot(id);
    if (!snap) return fail(snap.error());
    snapshots.push_back({id, snap->repo});
    auto info = req.store->stat(id);
    if (!info) return fail(info.error());
    chosen.emplace(id, info->size);
    for (const auto& e : snap->entries) chosen.emplace(e.sha256, e.size);
  }
  std::vector<BundleObject> out;
  for (const auto& [id, size] : chosen) {
    if (!req.full && req.exclude.contains(id)) continue;
    if (size > kMaxObjectSize) {
      return fail(Code::limit, "object " + id.hex() + " is larger than 8 GiB and cannot be bundled");
    }
    out.push_back({id, size});
  }
  return out;
}

// Streams every object from the store through tar and zstd into volumes.
Status write_archive(const ExportRequest& req, const std::vector<BundleObject>& objects,
                     bundle_io::ZstdWriter& zstd, std::uint64_t archive_size) {
  WriteClient client;
  client.zstd = &zstd;
  ArchiveWriter a(archive_write_new());
  if (!a || archive_write_set_format_ustar(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a.get(), 0) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK) {
    return fail(Code::io, "cannot set up the tar writer");
  }
  if (archive_write_open(a.get(), &client, nullptr, write_callback, nullptr) != ARCHIVE_OK) {
    return fail(Code::io, "cannot start the tar stream: " + archive_error(a.get()));
  }
  auto stream_error = [&](std::string what) {
    if (client.error) return fail(client.error->context(what));
    return fail(Code::io, what + ": " + archive_error(a.get()));
  };
  std::vector<std::uint8_t> buf(kChunk);
  std::uint64_t done = 0;
  for (const auto& obj : objects) {
    Entry entry(archive_entry_new());
    auto name = std::string(kObjectPrefix) + obj.sha256.hex();
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(obj.size));
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    archive_entry_set_mtime(entry.get(), 0, 0);
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) return stream_error("writing " + name);
    auto file = req.store->open_object(obj.sha256);
    if (!file) return fail(file.error());
    Hasher hasher;
    std::uint64_t copied = 0;
    auto s = read_chunks(file->fd.get(), [&](std::span<const std::uint8_t> chunk) -> Status {
      hasher.update(chunk);
      copied += chunk.size();
      if (archive_write_data(a.get(), chunk.data(), chunk.size()) != static_cast<la_ssize_t>(chunk.size())) {
        return stream_error("writing " + name);
      }
      done += chunk.size();
      if (req.progress) req.progress(done, archive_size);
      return {};
    });
    if (!s) return s;
    auto actual = hasher.finish();
    if (copied != obj.size || actual != obj.sha256) {
      return fail(Code::corrupt, "object " + obj.sha256.hex() +
                                     " in the store is corrupt: actual sha256 " + actual.hex() +
                                     "; run scrub before exporting");
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return stream_error("finishing the tar stream");
  if (client.tar_bytes != archive_size) {
    return fail(Code::io, "the tar stream has " + std::to_string(client.tar_bytes) +
                              " bytes, expected " + std::to_string(archive_size));
  }
  return {};
}

}  // namespace

Result<ExportResult> write_bundle(const ExportRequest& req) {
  if (req.store == nullptr) return fail(Code::invalid_input, "export needs a store");
  if (!valid_stream_name(req.stream)) {
    return fail(Code::invalid_input, "stream name '" + req.stream +
                                         "' must be 1-64 characters of a-z 0-9 . _ -");
  }
  if (req.keys.empty()) return fail(Code::invalid_input, "export needs at least one signing key");
  if (req.volume_size < 1) return fail(Code::invalid_input, "volume size must be at least 1 byte");
  if (req.zstd_level < 1 || req.zstd_level > 19) {
    return fail(Code::invalid_input, "zstd level must be from 1 to 19");
  }
  if (req.expires <= req.created) return fail(Code::invalid_input, "expiry must be after creation");

  Manifest m;
  m.stream = req.stream;
  m.sequence = req.sequence;
  m.kind = req.full ? "full" : "delta";
  m.previous = (req.full || req.sequence == 1) ? std::nullopt : req.previous;
  m.created = req.created;
  m.expires = req.expires;
  m.producer = req.producer;
  m.log_json = req.log_json;
  auto objects = choose_objects(req, m.snapshots);
  if (!objects) return fail(objects.error());
  m.objects = std::move(*objects);
  m.archive_size = tar_size_for(m.objects);

  const auto name = bundle_dir_name(req.stream, req.sequence);
  const auto final_dir = req.out_dir / name;
  auto partial = final_dir;
  partial += ".partial";
  Env& env = req.env ? *req.env : Env::system();
  std::error_code ec;
  if (fs::exists(final_dir, ec)) return fail(Code::refused, final_dir.string() + " already exists");
  // A leftover of an earlier failed export goes first.
  if (auto s = env.remove_all(partial); !s) return fail(s.error());
  if (auto s = env.make_dirs(partial); !s) return fail(s.error());
  auto cleanup = [&] { (void)env.remove_all(partial); };

  bundle_io::VolumeWriter volumes(env, partial, req.volume_size);
  {
    bundle_io::ZstdWriter zstd(volumes, req.zstd_level, req.zstd_threads);
    if (auto s = write_archive(req, m.objects, zstd, m.archive_size); !s) {
      cleanup();
      return fail(s.error());
    }
    if (auto s = zstd.finish(); !s) {
      cleanup();
      return fail(s.error());
    }
  }
  if (auto s = volumes.finish(); !s) {
    cleanup();
    return fail(s.error());
  }
  m.volumes = volumes.volumes();

  // Round-trip through the strict parser: never sign what a reader would refuse.
  const std::string raw = m.to_json();
  if (auto check = Manifest::parse(raw); !check) {
    cleanup();
    return fail(check.error());
  }
  auto sigs = sign_manifest(raw, req.keys);
  if (!sigs) {
    cleanup();
    return fail(sigs.error());
  }
  for (const auto& [file, text] : {std::pair{"manifest.json", std::string_view(raw)},
                                   std::pair{"manifest.sig.json", std::string_view(*sigs)}}) {
    if (auto s = env.write_new_file(partial / file, text, 0644); !s) {
      cleanup();
      return fail(s.error());
    }
  }
  if (auto s = env.sync_dir(partial); !s) {
    cleanup();
    return fail(s.error());
  }
  if (auto s = env.rename(partial, final_dir); !s) {
    cleanup();
    return fail(s.error());
  }
  if (auto s = env.sync_dir(req.out_dir); !s) return fail(s.error());
  return ExportResult{final_dir, std::move(m), sha256(raw), volumes.total()};
}

Result<Cosignature> cosign_manifest(const fs::path& bundle_dir, const PrivateKey& key) {
  auto raw = read_file(bundle_dir / "manifest.json", kMaxManifestBytes);
  if (!raw) return fail(raw.error());
  auto sig_text = read_file(bundle_dir / "manifest.sig.json", kMaxSignaturesBytes);
  if (!sig_text) return fail(sig_text.error());
  auto existing = parse_signatures(*sig_text);
  if (!existing) return fail(existing.error());
  Cosignature out;
  for (const auto& s : *existing) {
    if (s.keyid == key.public_key().id()) {
      return fail(Code::refused, "bundle is already signed by key " + s.keyid.hex());
    }
    out.signers.push_back(s.keyid);
  }
  // Co-signers sign what they read: the manifest must be one a reader accepts.
  if (auto m = Manifest::parse(*raw); !m) return fail(m.error());
  std::vector<const PrivateKey*> keys{&key};
  auto sigs = sign_manifest(*raw, keys, std::move(*existing));
  if (!sigs) return fail(sigs.error());
  out.signatures_json = std::move(*sigs);
  out.manifest_sha256 = sha256(*raw);
  return out;
}

Status cosign_bundle(const fs::path& bundle_dir, const PrivateKey& key, Env& env) {
  auto c = cosign_manifest(bundle_dir, key);
  if (!c) return fail(c.error());
  return env.write_file_atomic(bundle_dir / "manifest.sig.json", c->signatures_json, 0644);
}

// ---------------------------------------------------------------------------
// Reading

Result<VerifiedManifest> read_manifest(const fs::path& bundle_dir, const TrustPolicy& trust,
                                       TimePoint now) {
  auto raw = read_file(bundle_dir / "manifest.json", kMaxManifestBytes);
  if (!raw) {
    if (raw.error().code == Code::limit) {
      return refused("manifest.json is larger than the 64 MiB limit");
    }
    return fail(raw.error());
  }
  auto sig_text = read_file(bundle_dir / "manifest.sig.json", kMaxSignaturesBytes);
  if (!sig_text) {
    if (sig_text.error().code == Code::limit) return refused("manifest.sig.json is larger than 1 MiB");
    if (sig_text.error().code == Code::not_found) return refused("bundle has no manifest.sig.json");
    return fail(sig_text.error());
  }
  auto sigs = parse_signatures(*sig_text);
  if (!sigs) return refused("manifest.sig.json: " + sigs.error().message);
  // Signatures are checked over the raw bytes before they are parsed.
  auto check = trust.check(*raw, *sigs, now);
  if (!check) return fail(check.error());
  if (!check->met()) return refused("bundle signatures: " + check->summary());
  auto m = Manifest::parse(*raw);
  if (!m) return refused(m.error().message);
  if (now > m->expires) {
    return refused("bundle " + bundle_dir_name(m->stream, m->sequence) + " expired at " +
                   format_time(m->expires) + " (now " + format_time(now) + ")");
  }
  const Digest id = sha256(*raw);
  return VerifiedManifest{std::move(*m), std::move(*raw), id, std::move(*check)};
}

std::vector<VolumeLocation> locate_volumes(const Manifest& manifest,
                                           std::span<const fs::path> dirs) {
  std::vector<VolumeLocation> out;
  for (const auto& v : manifest.volumes) {
    VolumeLocation loc{v, std::nullopt};
    for (const auto& d : dirs) {
      std::error_code ec;
      if (fs::is_regular_file(d / v.name, ec)) {
        loc.path = d / v.name;
        break;
      }
    }
    out.push_back(std::move(loc));
  }
  return out;
}

namespace {

bool is_volume_name(std::string_view name) {
  return name.size() == 8 && name.starts_with("data.") &&
         std::all_of(name.begin() + 5, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Status check_no_extra_volumes(const Manifest& manifest, std::span<const fs::path> dirs) {
  for (const auto& d : dirs) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(d, ec)) {
      auto name = entry.path().filename().string();
      if (!is_volume_name(name)) continue;
      bool listed = std::any_of(manifest.volumes.begin(), manifest.volumes.end(),
                                [&](const BundleVolume& v) { return v.name == name; });
      if (!listed) {
        return refused("unexpected volume " + name + " in " + d.string() +
                       ": it is not listed in the signed manifest");
      }
    }
  }
  return {};
}

namespace {

Status check_volume(const VolumeLocation& loc, const ProgressFn& progress, std::uint64_t& done,
                    std::uint64_t total) {
  auto fd = open_file(*loc.path, O_RDONLY);
  if (!fd) return fail(fd.error());
  ::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  Hasher h;
  std::uint64_t size = 0;
  auto s = read_chunks(fd->get(), [&](std::span<const std::uint8_t> chunk) -> Status {
    h.update(chunk);
    size += chunk.size();
    done += chunk.size();
    if (progress) progress(done, total);
    return {};
  });
  if (!s) return fail(s.error().context(loc.path->string()));
  if (size != loc.volume.size) {
    return refused("volume " + loc.volume.name + " has " + std::to_string(size) +
                   " bytes, the manifest says " + std::to_string(loc.volume.size));
  }
  auto actual = h.finish();
  if (actual != loc.volume.sha256) {
    return refused("volume " + loc.volume.name + " is corrupt: expected sha256 " +
                   loc.volume.sha256.hex() + ", actual " + actual.hex());
  }
  return {};
}

Status check_sizes(const std::vector<VolumeLocation>& locs) {
  for (const auto& loc : locs) {
    if (!loc.path) continue;
    std::error_code ec;
    auto size = fs::file_size(*loc.path, ec);
    if (ec) return fail(Code::io, loc.path->string() + ": " + ec.message());
    if (size != loc.volume.size) {
      return refused("volume " + loc.volume.name + " has " + std::to_string(size) +
                     " bytes, the manifest says " + std::to_string(loc.volume.size) +
                     (size < loc.volume.size ? " (truncated)" : ""));
    }
  }
  return {};
}

}  // namespace

Status check_volumes(const Manifest& manifest, std::span<const fs::path> dirs,
                     const ProgressFn& progress) {
  if (auto s = check_no_extra_volumes(manifest, dirs); !s) return s;
  auto locs = locate_volumes(manifest, dirs);
  for (const auto& loc : locs) {
    if (!loc.path) {
      std::string where;
      for (const auto& d : dirs) where += (where.empty() ? "" : ", ") + d.string();
      return refused("volume " + loc.volume.name + " is missing (looked in " + where + ")");
    }
  }
  if (auto s = check_sizes(locs); !s) return s;
  std::uint64_t total = 0, done = 0;
  for (const auto& v : manifest.volumes) total += v.size;
  for (const auto& loc : locs) {
    if (auto s = check_volume(loc, progress, done, total); !s) return s;
  }
  return {};
}

Result<std::vector<std::string>> check_present_volumes(const Manifest& manifest,
                                                       std::span<const fs::path> dirs) {
  if (auto s = check_no_extra_volumes(manifest, dirs); !s) return fail(s.error());
  auto locs = locate_volumes(manifest, dirs);
  if (auto s = check_sizes(locs); !s) return fail(s.error());
  std::vector<std::string> missing;
  std::uint64_t done = 0;
  for (const auto& loc : locs) {
    if (!loc.path) {
      missing.push_back(loc.volume.name);
      continue;
    }
    if (auto s = check_volume(loc, {}, done, 0); !s) return fail(s.error());
  }
  return missing;
}

namespace {

std::string entry_kind(archive_entry* e) {
  if (archive_entry_hardlink(e) != nullptr) return "a hard link";
  if (archive_entry_symlink(e) != nullptr) return "a symbolic link";
  switch (archive_entry_filetype(e)) {
    case AE_IFREG: return "a regular file";
    case AE_IFLNK: return "a symbolic link";
    case AE_IFDIR: return "a directory";
    case AE_IFCHR: return "a character device";
    case AE_IFBLK: return "a block device";
    case AE_IFIFO: return "a FIFO";
    case AE_IFSOCK: return "a socket";
    default: return "an entry of unknown type";
  }
}

std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 200)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

// The checks every entry of an untrusted archive passes, and the streaming
// of its bytes into sink.
Status read_entries(archive* a, const Manifest& manifest, BundleSink& sink,
                    const std::function<Status()>& after_block) {
  std::vector<std::uint8_t> buf(kChunk);
  std::optional<Digest> last;
  std::size_t seen = 0;
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) return refused("bundle archive is malformed: " + archive_error(a));
    const char* raw_name = archive_entry_pathname(e);
    std::string name = raw_name ? raw_name : "";
    auto kind = entry_kind(e);
    if (kind != "a regular file") {
      return refused("bundle entry '" + printable(name) + "' is " + kind +
                     "; only regular files named objects/<sha256> are allowed");
    }
    std::optional<Digest> id;
    if (name.size() == kObjectPrefix.size() + 64 && name.starts_with(kObjectPrefix)) {
      auto d = Digest::parse(std::string_view(name).substr(kObjectPrefix.size()));
      if (d) id = *d;
    }
    if (!id) {
      return refused("bundle entry '" + printable(name) + "' is not named objects/<sha256>");
    }
    if (last && !(*last < *id)) {
      return refused(*last == *id ? "bundle entry " + name + " appears twice"
                                  : "bundle entry " + name + " is out of order");
    }
    last = id;
    const BundleObject* obj = manifest.find(*id);
    if (obj == nullptr) return refused("bundle entry " + name + " is not listed in the signed manifest");
    if (!archive_entry_size_is_set(e) ||
        static_cast<std::uint64_t>(archive_entry_size(e)) != obj->size) {
      return refused("bundle entry " + name + " has " + std::to_string(archive_entry_size(e)) +
                     " bytes, the manifest says " + std::to_string(obj->size));
    }
    if (auto s = sink.begin(*obj); !s) return s;
    const bool hash_here = !sink.verifies_content();
    Hasher h;
    std::uint64_t count = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      if (n < 0) return refused("bundle entry " + name + " cannot be read: " + archive_error(a));
      if (n == 0) break;
      count += static_cast<std::uint64_t>(n);
      if (count > obj->size) {
        return refused("bundle entry " + name + " is larger than the declared " +
                       std::to_string(obj->size) + " bytes");
      }
      auto chunk = std::span(buf.data(), static_cast<std::size_t>(n));
      if (hash_here) h.update(chunk);
      if (auto s = sink.write(chunk); !s) return s;
      if (after_block) {
        if (auto s = after_block(); !s) return s;
      }
    }
    if (count != obj->size) {
      return refused("bundle entry " + name + " has " + std::to_string(count) +
                     " bytes, the manifest says " + std::to_string(obj->size));
    }
    if (hash_here) {
      auto actual = h.finish();
      if (actual != *id) {
        return refused("bundle entry " + name + " is corrupt: its bytes hash to " + actual.hex());
      }
    }
    if (auto s = sink.end(); !s) return s;
    ++seen;
  }
  if (seen != manifest.objects.size()) {
    for (const auto& o : manifest.objects) {
      if (!last || last < o.sha256) {
        return refused("bundle is missing object " + o.sha256.hex() + " listed in the manifest");
      }
    }
    return refused("bundle is missing objects listed in the manifest");
  }
  return {};
}

struct ReadClient {
  bundle_io::DecompressAhead* ahead = nullptr;
  std::optional<Error> error;
};

la_ssize_t read_callback(archive* a, void* client, const void** out) {
  auto* c = static_cast<ReadClient*>(client);
  auto chunk = c->ahead->next();
  if (!chunk) {
    c->error = chunk.error();
    archive_set_error(a, EIO, "%s", chunk.error().message.c_str());
    return -1;
  }
  *out = chunk->data();
  return static_cast<la_ssize_t>(chunk->size());
}

ArchiveReader tar_only_reader() {
  // Only the tar format: no other format, no filter, nothing written to disk.
  ArchiveReader a(archive_read_new());
  if (a) archive_read_support_format_tar(a.get());
  return a;
}

}  // namespace

Status extract_bundle(const Manifest& manifest, std::span<const fs::path> dirs, BundleSink& sink,
                      const ProgressFn& progress) {
  std::vector<fs::path> paths;
  for (const auto& loc : locate_volumes(manifest, dirs)) {
    if (!loc.path) return refused("volume " + loc.volume.name + " is missing");
    paths.push_back(*loc.path);
  }
  bundle_io::ZstdReader zstd(paths, manifest.archive_size);
  bundle_io::DecompressAhead ahead(zstd, kChunk, 4);
  ReadClient client;
  client.ahead = &ahead;
  auto bound = [&]() -> Status {
    if (ahead.delivered() > manifest.archive_size) {
      return fail(Code::limit, "bundle decompresses to more than the declared " +
                                   std::to_string(manifest.archive_size) + " bytes");
    }
    if (progress) progress(ahead.delivered(), manifest.archive_size);
    return {};
  };
  {
    ArchiveReader a = tar_only_reader();
    if (!a) return fail(Code::io, "cannot set up the tar reader");
    if (archive_read_open(a.get(), &client, nullptr, read_callback, nullptr) != ARCHIVE_OK) {
      if (client.error) return fail(*client.error);
      return refused("bundle archive is malformed: " + archive_error(a.get()));
    }
    auto s = read_entries(a.get(), manifest, sink, bound);
    if (!s) {
      if (auto b = bound(); !b) return b;  // a bomb shows up as a malformed archive first
      if (client.error) return fail(*client.error);
      return s;
    }
  }
  // Past the tar's end there must be nothing but the end of the stream.
  for (;;) {
    auto chunk = ahead.next();
    if (!chunk) return fail(chunk.error());
    if (chunk->empty()) break;
    if (auto b = bound(); !b) return b;
  }
  if (ahead.delivered() != manifest.archive_size) {
    return refused("bundle decompresses to " + std::to_string(ahead.delivered()) +
                   " bytes, the manifest says " + std::to_string(manifest.archive_size));
  }
  return {};
}

Status check_tar_entries(const Manifest& manifest, std::span<const std::uint8_t> tar,
                         BundleSink& sink) {
  ArchiveReader a = tar_only_reader();
  if (!a) return fail(Code::io, "cannot set up the tar reader");
  if (archive_read_open_memory(a.get(), tar.data(), tar.size()) != ARCHIVE_OK) {
    return refused("bundle archive is malformed: " + archive_error(a.get()));
  }
  return read_entries(a.get(), manifest, sink, {});
}

Status BatchSink::begin(const BundleObject& object) {
  expected_ = object.sha256;
  auto sink = batch_.begin_object(object.sha256, object.size);
  if (!sink) return fail(sink.error());
  current_.emplace(std::move(*sink));
  return {};
}

Status BatchSink::write(std::span<const std::uint8_t> bytes) { return current_->write(bytes); }

Status BatchSink::end() {
  auto id = batch_.finish_object(std::move(*current_));
  current_.reset();
  if (!id) {
    // The store's message ends with the actual digest.
    const auto& msg = id.error().message;
    if (id.error().code == Code::corrupt && msg.size() >= 64) {
      return refused("bundle entry objects/" + expected_.hex() + " is corrupt: its bytes hash to " +
                     msg.substr(msg.size() - 64));
    }
    return fail(id.error());
  }
  return {};
}

}  // namespace airlock
