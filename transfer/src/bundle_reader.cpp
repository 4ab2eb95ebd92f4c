// Reading bundles: the signed manifest first, then the volumes' sizes and
// hashes, then every tar entry of the decompressed stream, all before any
// byte of it is trusted.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "airlock/base/file.h"
#include "airlock/transfer/bundle.h"
#include "bundle_tar.h"
#include "zstd_stream.h"

namespace airlock {
namespace fs = std::filesystem;

namespace {

using bundle_io::archive_error;
using bundle_io::ArchiveReader;
using bundle_io::kObjectPrefix;

// Decompressed bytes handed to libarchive per step.
constexpr std::size_t kChunk = 1 << 20;

std::unexpected<Error> refused(std::string what) { return fail(Code::refused, std::move(what)); }

}  // namespace

Result<VerifiedManifest> read_manifest(const fs::path& bundle_dir, const TrustPolicy& trust,
                                       TimePoint now) {
  auto raw = read_file(bundle_dir / "manifest.json", kMaxManifestBytes);
  if (!raw) {
    if (raw.error().code == Code::limit) {
      return refused("manifest.json is larger than the 1 GiB limit");
    }
    if (raw.error().code == Code::invalid_input) return refused(raw.error().message);
    return fail(raw.error());
  }
  auto sig_text = read_file(bundle_dir / "manifest.sig.json", kMaxSignaturesBytes);
  if (!sig_text) {
    if (sig_text.error().code == Code::limit) {
      return refused("manifest.sig.json is larger than 1 MiB");
    }
    if (sig_text.error().code == Code::not_found) return refused("bundle has no manifest.sig.json");
    if (sig_text.error().code == Code::invalid_input) return refused(sig_text.error().message);
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
  const auto name = bundle_dir_name(m->stream, m->sequence);
  if (now > m->expires) {
    return refused("bundle " + name + " expired at " + format_time(m->expires) + " (now " +
                   format_time(now) + ")");
  }
  if (m->created > now + kCreatedSkew) {
    return refused("bundle " + name + " was created at " + format_time(m->created) +
                   ", in the future (now " + format_time(now) +
                   ", 5 minutes of clock skew allowed)");
  }
  const auto max_validity = std::chrono::hours(24) * trust.max_validity_days;
  if (m->expires - m->created > max_validity) {
    return refused("bundle " + name + " is valid from " + format_time(m->created) + " to " +
                   format_time(m->expires) + ", longer than the trust policy's maximum of " +
                   std::to_string(trust.max_validity_days) + " days");
  }
  const Digest id = sha256(*raw);
  return VerifiedManifest{std::move(*m), id, std::move(*check)};
}

std::vector<VolumeLocation> locate_volumes(const Manifest& manifest,
                                           std::span<const fs::path> dirs) {
  std::vector<VolumeLocation> out;
  for (const auto& v : manifest.volumes) {
    VolumeLocation loc{v, std::nullopt};
    for (const auto& d : dirs) {
      std::error_code ec;
      // Whatever is there is taken (a FIFO too): opening it refuses it by name.
      if (fs::exists(d / v.name, ec)) {
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

// A volume open for reading: hashed and decompressed through this one
// descriptor, so the bytes decompressed are the bytes that were hashed even
// when the name is replaced in between.
struct OpenVolume {
  BundleVolume volume;
  fs::path path;
  UniqueFd fd;
};

std::string missing_message(const BundleVolume& v, std::span<const fs::path> dirs) {
  std::string where;
  for (const auto& d : dirs) where += (where.empty() ? "" : ", ") + d.string();
  return "volume " + v.name + " is missing (looked in " + where + ")";
}

// Opens a located volume without blocking and checks it is a regular file of
// the declared size, before any byte of it is read.
Result<OpenVolume> open_volume(const VolumeLocation& loc) {
  auto fd = open_regular_file(*loc.path);
  if (!fd) {
    if (fd.error().code == Code::invalid_input) return refused("volume " + fd.error().message);
    return fail(fd.error());
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(loc.path->string());
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size != loc.volume.size) {
    return refused("volume " + loc.volume.name + " has " + std::to_string(size) +
                   " bytes, the manifest says " + std::to_string(loc.volume.size) +
                   (size < loc.volume.size ? " (truncated)" : ""));
  }
  return OpenVolume{loc.volume, *loc.path, std::move(*fd)};
}

// Opens every located volume (all sizes checked before any is hashed);
// refused naming the first missing one unless skip_missing.
Result<std::vector<OpenVolume>> open_volumes(const Manifest& manifest,
                                             std::span<const fs::path> dirs, bool skip_missing,
                                             std::vector<std::string>* missing = nullptr) {
  std::vector<OpenVolume> out;
  for (const auto& loc : locate_volumes(manifest, dirs)) {
    if (!loc.path) {
      if (!skip_missing) return refused(missing_message(loc.volume, dirs));
      if (missing) missing->push_back(loc.volume.name);
      continue;
    }
    auto v = open_volume(loc);
    if (!v) return fail(v.error());
    out.push_back(std::move(*v));
  }
  return out;
}

// Hashes an open volume from its first byte against the manifest.
Status hash_volume(const OpenVolume& v, const ProgressFn& progress, std::uint64_t& done,
                   std::uint64_t total) {
  // A fresh descriptor: reading starts at the first byte.
  ::posix_fadvise(v.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  Hasher h;
  std::uint64_t size = 0;
  auto s = read_chunks(v.fd.get(), [&](std::span<const std::uint8_t> chunk) -> Status {
    h.update(chunk);
    size += chunk.size();
    done += chunk.size();
    if (progress) progress(done, total);
    return {};
  });
  if (!s) return fail(s.error().context(v.path.string()));
  if (size != v.volume.size) {
    return refused("volume " + v.volume.name + " has " + std::to_string(size) +
                   " bytes, the manifest says " + std::to_string(v.volume.size));
  }
  auto actual = h.finish();
  if (actual != v.volume.sha256) {
    return refused("volume " + v.volume.name + " is corrupt: expected sha256 " +
                   v.volume.sha256.hex() + ", actual " + actual.hex());
  }
  return {};
}

Status hash_volumes(const Manifest& manifest, const std::vector<OpenVolume>& volumes,
                    const ProgressFn& progress) {
  std::uint64_t total = 0, done = 0;
  for (const auto& v : manifest.volumes) total += v.size;
  for (const auto& v : volumes) {
    if (auto s = hash_volume(v, progress, done, total); !s) return s;
  }
  return {};
}

}  // namespace

Status check_volumes(const Manifest& manifest, std::span<const fs::path> dirs,
                     const ProgressFn& progress) {
  if (auto s = check_no_extra_volumes(manifest, dirs); !s) return s;
  auto volumes = open_volumes(manifest, dirs, false);
  if (!volumes) return fail(volumes.error());
  return hash_volumes(manifest, *volumes, progress);
}

Result<std::vector<std::string>> check_present_volumes(const Manifest& manifest,
                                                       std::span<const fs::path> dirs) {
  if (auto s = check_no_extra_volumes(manifest, dirs); !s) return fail(s.error());
  std::vector<std::string> missing;
  auto volumes = open_volumes(manifest, dirs, true, &missing);
  if (!volumes) return fail(volumes.error());
  std::uint64_t done = 0;
  for (const auto& v : *volumes) {
    if (auto s = hash_volume(v, {}, done, 0); !s) return fail(s.error());
  }
  return missing;
}

namespace {

std::string entry_kind(archive_entry* e) {
  if (archive_entry_hardlink(e) != nullptr) return "a hard link";
  if (archive_entry_symlink(e) != nullptr) return "a symbolic link";
  switch (archive_entry_filetype(e)) {
    case AE_IFREG:
      return "a regular file";
    case AE_IFLNK:
      return "a symbolic link";
    case AE_IFDIR:
      return "a directory";
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a FIFO";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "an entry of unknown type";
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

// The header checks of one entry of an untrusted archive: a regular file
// named objects/<sha256>, after `last` (which it becomes), listed in the
// manifest with the size its header declares. Returns the listed object.
Result<const BundleObject*> check_entry(archive_entry* e, const Manifest& manifest,
                                        std::optional<Digest>& last) {
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
  if (obj == nullptr) {
    return refused("bundle entry " + name + " is not listed in the signed manifest");
  }
  if (!archive_entry_size_is_set(e) ||
      static_cast<std::uint64_t>(archive_entry_size(e)) != obj->size) {
    return refused("bundle entry " + name + " has " + std::to_string(archive_entry_size(e)) +
                   " bytes, the manifest says " + std::to_string(obj->size));
  }
  return obj;
}

// Streams the data of the entry just checked into sink: exactly obj.size
// bytes, hashing to obj.sha256 (checked here unless the sink checks it).
// after_block runs after every block and may stop the copy.
Status copy_entry(archive* a, const BundleObject& obj, BundleSink& sink,
                  std::span<std::uint8_t> buf, const std::function<Status()>& after_block) {
  // check_entry parsed the name strictly, so it is exactly this.
  const std::string name = std::string(kObjectPrefix) + obj.sha256.hex();
  if (auto s = sink.begin(obj); !s) return s;
  const bool hash_here = !sink.verifies_content();
  Hasher h;
  std::uint64_t count = 0;
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n < 0) return refused("bundle entry " + name + " cannot be read: " + archive_error(a));
    if (n == 0) break;
    count += static_cast<std::uint64_t>(n);
    if (count > obj.size) {
      return refused("bundle entry " + name + " is larger than the declared " +
                     std::to_string(obj.size) + " bytes");
    }
    auto chunk = buf.first(static_cast<std::size_t>(n));
    if (hash_here) h.update(chunk);
    if (auto s = sink.write(chunk); !s) return s;
    if (after_block) {
      if (auto s = after_block(); !s) return s;
    }
  }
  if (count != obj.size) {
    return refused("bundle entry " + name + " has " + std::to_string(count) +
                   " bytes, the manifest says " + std::to_string(obj.size));
  }
  if (hash_here) {
    auto actual = h.finish();
    if (actual != obj.sha256) {
      return refused("bundle entry " + name + " is corrupt: its bytes hash to " + actual.hex());
    }
  }
  return sink.end();
}

// At the end of the archive: seen entries passed the checks, in order and
// once each, so fewer than listed means some listed object is absent.
Status check_none_missing(const Manifest& manifest, std::size_t seen,
                          const std::optional<Digest>& last) {
  if (seen == manifest.objects.size()) return {};
  for (const auto& o : manifest.objects) {
    if (!last || last < o.sha256) {
      return refused("bundle is missing object " + o.sha256.hex() + " listed in the manifest");
    }
  }
  return refused("bundle is missing objects listed in the manifest");
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
    auto obj = check_entry(e, manifest, last);
    if (!obj) return fail(obj.error());
    if (auto s = copy_entry(a, **obj, sink, buf, after_block); !s) return s;
    ++seen;
  }
  return check_none_missing(manifest, seen, last);
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
                      const ProgressFn& progress, const ProgressFn& volumes_progress) {
  if (auto s = check_no_extra_volumes(manifest, dirs); !s) return s;
  auto volumes = open_volumes(manifest, dirs, false);
  if (!volumes) return fail(volumes.error());
  // Step 3 over the descriptors step 4 then reads: nothing reaches the
  // decoder that was not hashed.
  if (auto s = hash_volumes(manifest, *volumes, volumes_progress); !s) return s;
  std::vector<bundle_io::ZstdReader::Input> inputs;
  for (const auto& v : *volumes) inputs.push_back({v.fd.get(), v.volume.size, v.volume.name});
  bundle_io::ZstdReader zstd(std::move(inputs), manifest.archive_size);
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
