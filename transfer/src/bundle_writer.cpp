// Writing bundles: the chosen objects through tar and zstd into volumes,
// the signed manifest beside them, and co-signatures added later.
#include <archive.h>
#include <archive_entry.h>

#include <map>
#include <memory>

#include "airlock/base/file.h"
#include "airlock/transfer/bundle.h"
#include "bundle_tar.h"
#include "zstd_stream.h"

namespace airlock {
namespace fs = std::filesystem;

namespace {

using bundle_io::archive_error;
using bundle_io::ArchiveWriter;
using bundle_io::Entry;
using bundle_io::kObjectPrefix;

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

// The chosen objects, sorted, with sizes from the store. Of each snapshot
// only its entries are kept, and only their content and size.
Result<std::vector<BundleObject>> choose_objects(const ExportRequest& req,
                                                 std::vector<BundleSnapshot>& snapshots) {
  std::vector<BundleObject> all;
  SnapshotVisitor objects_only;
  objects_only.entry = [&all](SnapshotEntry&& e) -> Status {
    all.push_back({e.sha256, e.size});
    return {};
  };
  objects_only.package = [](PackageEntry&&) -> Status { return {}; };
  for (const auto& id : req.snapshots) {
    auto snap = req.store->get_snapshot(id, objects_only);
    if (!snap) return fail(snap.error());
    snapshots.push_back({id, snap->repo});
    auto info = req.store->stat(id);
    if (!info) return fail(info.error());
    all.push_back({id, info->size});
  }
  auto by_id = [](const BundleObject& a, const BundleObject& b) { return a.sha256 < b.sha256; };
  std::stable_sort(all.begin(), all.end(), by_id);  // the first size listed counts
  auto same = [](const BundleObject& a, const BundleObject& b) { return a.sha256 == b.sha256; };
  all.erase(std::unique(all.begin(), all.end(), same), all.end());
  std::vector<BundleObject> out;
  for (const auto& o : all) {
    if (!req.full && std::binary_search(req.exclude.begin(), req.exclude.end(), o.sha256)) continue;
    if (o.size > kMaxObjectSize) {
      return fail(Code::limit,
                  "object " + o.sha256.hex() + " is larger than 8 GiB and cannot be bundled");
    }
    out.push_back(o);
  }
  return out;
}

// The tar header of an object: the same for the same object on any machine.
Entry object_entry(const std::string& name, std::uint64_t size) {
  Entry entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  archive_entry_set_mtime(entry.get(), 0, 0);
  return entry;
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
  std::uint64_t done = 0;
  for (const auto& obj : objects) {
    auto name = std::string(kObjectPrefix) + obj.sha256.hex();
    Entry entry = object_entry(name, obj.size);
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) {
      return stream_error("writing " + name);
    }
    auto reader = req.store->read_pieces(obj.sha256, obj.size);
    if (!reader) return fail(reader.error());
    for (;;) {
      auto piece = reader->next();
      if (!piece) return fail(piece.error());
      if (piece->empty()) break;
      if (archive_write_data(a.get(), piece->data(), piece->size()) !=
          static_cast<la_ssize_t>(piece->size())) {
        return stream_error("writing " + name);
      }
      done += piece->size();
      if (req.progress) req.progress(done, archive_size);
    }
    // A file that ends early fails the digest too.
    if (auto s = reader->finish(); !s) {
      return fail(Code::corrupt, "object " + obj.sha256.hex() + " in the store is corrupt (" +
                                     s.error().message + "); run scrub before exporting");
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return stream_error("finishing the tar stream");
  if (client.tar_bytes != archive_size) {
    return fail(Code::io, "the tar stream has " + std::to_string(client.tar_bytes) +
                              " bytes, expected " + std::to_string(archive_size));
  }
  return {};
}

// The request's own fields, before anything is read or written.
Status check_request(const ExportRequest& req) {
  if (req.store == nullptr) return fail(Code::invalid_input, "export needs a store");
  if (!valid_stream_name(req.stream)) {
    return fail(Code::invalid_input,
                "stream name '" + req.stream + "' must be 1-64 characters of a-z 0-9 . _ -");
  }
  if (req.keys.empty()) return fail(Code::invalid_input, "export needs at least one signing key");
  if (req.volume_size < 1) return fail(Code::invalid_input, "volume size must be at least 1 byte");
  if (req.zstd_level < 1 || req.zstd_level > 19) {
    return fail(Code::invalid_input, "zstd level must be from 1 to 19");
  }
  if (req.expires <= req.created) return fail(Code::invalid_input, "expiry must be after creation");
  return {};
}

// The manifest as far as it is known before the volumes exist: everything
// but the volume list.
Result<Manifest> plan_manifest(ExportRequest& req) {
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
  if (!req.changes.empty() && req.changes.size() != m.snapshots.size()) {
    return fail(Code::invalid_input, "the export needs one list of changes per snapshot");
  }
  for (std::size_t i = 0; i < m.snapshots.size(); ++i) {
    m.changes.push_back(req.changes.empty() ? RepoChanges{m.snapshots[i].repo, {}}
                                            : std::move(req.changes[i]));
    if (m.changes.back().repo != m.snapshots[i].repo) {
      return fail(Code::invalid_input,
                  "the changes of snapshot " + std::to_string(i) + " name another repository");
    }
  }
  return m;
}

// Writes the volumes into dir and lists them in m; returns their total size.
// On failure dir holds whatever was written: the caller removes it.
Result<std::uint64_t> write_volumes(const ExportRequest& req, Manifest& m, Env& env,
                                    const fs::path& dir) {
  bundle_io::VolumeWriter volumes(env, dir, req.volume_size);
  {
    bundle_io::ZstdWriter zstd(volumes, req.zstd_level, req.zstd_threads);
    if (auto s = write_archive(req, m.objects, zstd, m.archive_size); !s) return fail(s.error());
    if (auto s = zstd.finish(); !s) return fail(s.error());
  }
  if (auto s = volumes.finish(); !s) return fail(s.error());
  m.volumes = volumes.volumes();
  return volumes.total();
}

// Writes manifest.json and manifest.sig.json into dir and syncs it; returns
// the manifest's bytes. On failure the caller removes dir.
Result<std::string> write_signed_manifest(const ExportRequest& req, const Manifest& m, Env& env,
                                          const fs::path& dir) {
  // Round-trip through the strict parser: never sign what a reader would refuse.
  std::string raw = m.to_json();
  if (auto check = Manifest::check(raw); !check) return fail(check.error());
  auto sigs = sign_manifest(raw, req.keys);
  if (!sigs) return fail(sigs.error());
  for (const auto& [file, text] : {std::pair{"manifest.json", std::string_view(raw)},
                                   std::pair{"manifest.sig.json", std::string_view(*sigs)}}) {
    if (auto s = env.write_new_file(dir / file, text, 0644); !s) return fail(s.error());
  }
  if (auto s = env.sync_dir(dir); !s) return fail(s.error());
  return raw;
}

}  // namespace

Result<ExportResult> write_bundle(ExportRequest req) {
  if (auto s = check_request(req); !s) return fail(s.error());
  std::sort(req.exclude.begin(), req.exclude.end());
  auto m = plan_manifest(req);
  if (!m) return fail(m.error());
  // Room for the volume list, still to come: a few lines per volume.
  constexpr std::uint64_t kVolumeListRoom = 1 << 20;
  if (auto planned = m->json_size(); planned + kVolumeListRoom > req.max_manifest_bytes) {
    return fail(Code::invalid_input, "the manifest of this export would have " +
                                         std::to_string(planned) + " bytes, more than the " +
                                         std::to_string(req.max_manifest_bytes) +
                                         " a reader takes (" + std::to_string(m->objects.size()) +
                                         " objects): export fewer snapshots per bundle");
  }

  const auto final_dir = req.out_dir / bundle_dir_name(req.stream, req.sequence);
  auto partial = final_dir;
  partial += ".partial";
  Env& env = req.env ? *req.env : Env::system();
  std::error_code ec;
  if (fs::exists(final_dir, ec))
    return fail(Code::conflict, final_dir.string() + " already exists");
  // A leftover of an earlier failed export goes first.
  if (auto s = env.remove_all(partial); !s) return fail(s.error());
  if (auto s = env.make_dirs(partial); !s) return fail(s.error());
  // From here on a failure removes the partial directory: only a complete
  // bundle ever has the final name.
  auto abandon = [&](const Error& e) {
    (void)env.remove_all(partial);
    return fail(e);
  };
  auto bytes = write_volumes(req, *m, env, partial);
  if (!bytes) return abandon(bytes.error());
  auto raw = write_signed_manifest(req, *m, env, partial);
  if (!raw) return abandon(raw.error());
  if (auto s = env.rename(partial, final_dir); !s) return abandon(s.error());
  if (auto s = env.sync_dir(req.out_dir); !s) return fail(s.error());
  return ExportResult{final_dir, std::move(*m), sha256(*raw), *bytes};
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
      return fail(Code::conflict, "bundle is already signed by key " + s.keyid.hex());
    }
    out.signers.push_back(s.keyid);
  }
  // Co-signers sign what they read: the manifest must be one a reader accepts.
  if (auto m = Manifest::check(*raw); !m) return fail(m.error());
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

}  // namespace airlock
