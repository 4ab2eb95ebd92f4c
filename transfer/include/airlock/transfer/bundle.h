// Signed, content-addressed bundles on removable media.
//
//   airlock-<stream>-<seq>/manifest.json, manifest.sig.json, data.000 ... data.NNN
//
// The volumes are consecutive byte ranges of one zstd-compressed ustar stream
// holding exactly the manifest's objects as regular files objects/<sha256>,
// sorted, mode 0644, uid/gid 0, mtime 0: the same inputs give the same bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/store/store.h"
#include "airlock/transfer/manifest.h"
#include "airlock/verify/trust.h"

namespace airlock {

// Progress of long work: bytes done of bytes total (total 0 when unknown).
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

inline constexpr std::uint64_t kDefaultVolumeSize = 4ull << 30;

struct ExportRequest {
  const Store* store = nullptr;
  std::vector<Digest> snapshots;  // snapshot ids to carry
  // Objects the receiver already holds (empty: carry all), in any order:
  // 32 bytes each where a set took 72.
  std::vector<Digest> exclude;
  std::string stream;
  std::uint64_t sequence = 1;
  std::optional<Digest> previous;
  bool full = false;
  TimePoint created{};
  TimePoint expires{};
  std::string producer;
  std::string log_json = "[]";  // producer's log records to carry, a JSON array
  // The package changes per snapshot, in the order of snapshots (one each):
  // what a co-signer approves. Empty: none for every snapshot.
  std::vector<RepoChanges> changes;
  std::uint64_t volume_size = kDefaultVolumeSize;
  int zstd_level = 3;                   // 1..19
  int zstd_threads = 0;                 // 0: one per core
  std::vector<const PrivateKey*> keys;  // at least one
  std::filesystem::path out_dir;        // the media root; the bundle goes in a new directory below
  ProgressFn progress;
  Env* env = nullptr;  // Env::system() when null
  // The largest manifest the export writes: what readers take. An export
  // that would write a larger one is refused before anything is written.
  std::uint64_t max_manifest_bytes = kMaxManifestBytes;
};

struct ExportResult {
  std::filesystem::path dir;
  Manifest manifest;
  Digest manifest_sha256;
  std::uint64_t bytes = 0;  // total volume bytes
};

// Writes the bundle into <out_dir>/<name>.partial, fsyncs everything and
// renames it into place. Every object is re-hashed as it is read from the
// store. On failure nothing that looks like a complete bundle is left.
// The request's changes move into the manifest (pass an rvalue to keep a
// large list from being copied).
Result<ExportResult> write_bundle(ExportRequest request);

// A co-signature computed but not yet written: what manifest.sig.json is to
// hold with the new signature added.
struct Cosignature {
  std::string signatures_json;  // the new manifest.sig.json contents
  Digest manifest_sha256;       // of the manifest.json bytes signed
  std::vector<KeyId> signers;   // key ids that had signed before
};
// Reads the bundle's manifest.json and manifest.sig.json and computes the
// signatures with key's added. Writes nothing. conflict when key already
// signed; the manifest must be one a reader accepts (its errors otherwise).
Result<Cosignature> cosign_manifest(const std::filesystem::path& bundle_dir, const PrivateKey& key);

// cosign_manifest, then replaces manifest.sig.json atomically with the result;
// nothing else changes.
Status cosign_bundle(const std::filesystem::path& bundle_dir, const PrivateKey& key,
                     Env& env = Env::system());

// --- Reading --------------------------------------------------------------

struct VerifiedManifest {
  Manifest manifest;
  // Of the exact signed bytes (not kept: as large as the manifest): the
  // bundle's identity, the next bundle's "previous".
  Digest sha256;
  TrustCheck trust;
};

// How far in the future a bundle's created time may be: clocks on the two
// sides of an air gap are set by hand.
inline constexpr auto kCreatedSkew = std::chrono::minutes(5);

// Import steps 1-2: reads manifest.json (capped at 1 GiB) and
// manifest.sig.json, checks the signature threshold over the raw bytes before
// parsing anything, then parses and checks format, expiry, a created time no
// later than now + kCreatedSkew and a validity (expires - created) no longer
// than trust.max_validity_days. refused / invalid_input / limit with one line
// on failure.
Result<VerifiedManifest> read_manifest(const std::filesystem::path& bundle_dir,
                                       const TrustPolicy& trust, TimePoint now);

// Finds each volume in the first of dirs that has it.
struct VolumeLocation {
  BundleVolume volume;
  std::optional<std::filesystem::path> path;  // empty when no dir has it
};
std::vector<VolumeLocation> locate_volumes(const Manifest& manifest,
                                           std::span<const std::filesystem::path> dirs);

// Import step 3 alone (extract_bundle does it too): every volume present, a
// regular file with the declared size and SHA-256, and no data.NNN file in
// dirs that the manifest does not list. refused naming the first bad volume.
Status check_volumes(const Manifest& manifest, std::span<const std::filesystem::path> dirs,
                     const ProgressFn& progress = {});

// refused when any of dirs holds a data.NNN file the manifest does not list.
Status check_no_extra_volumes(const Manifest& manifest,
                              std::span<const std::filesystem::path> dirs);

// Checks only the volumes present in dirs (one disc at a time); returns the
// names of those still missing.
Result<std::vector<std::string>> check_present_volumes(const Manifest& manifest,
                                                       std::span<const std::filesystem::path> dirs);

// Receives the objects of a bundle as they stream out of it.
class BundleSink {
 public:
  virtual ~BundleSink() = default;
  virtual Status begin(const BundleObject& object) = 0;
  virtual Status write(std::span<const std::uint8_t> bytes) = 0;
  // Called after the reader has checked the bytes hash to object.sha256 —
  // or, when verifies_content(), the sink checks that itself in end() and
  // refuses a mismatch, so the bytes are hashed once.
  virtual Status end() = 0;
  virtual bool verifies_content() const { return false; }
};

// Import steps 3 and 4 over one descriptor per volume: opens every volume
// once (without blocking; anything but a regular file of the declared size
// is refused), hashes each against the manifest (volumes_progress), then
// decompresses exactly the bytes hashed through the same descriptors (zstd
// with a bounded window, never more than the declared archive size), so a
// volume renamed or replaced after it was hashed never reaches the decoder.
// Checks every tar entry: a regular file named objects/<sha256> listed in the
// manifest with its declared size, in order, once; nothing unlisted, nothing
// missing; each object's bytes hash to its name. Streams each object into
// sink (progress). Writes nothing itself.
Status extract_bundle(const Manifest& manifest, std::span<const std::filesystem::path> dirs,
                      BundleSink& sink, const ProgressFn& progress = {},
                      const ProgressFn& volumes_progress = {});

// The entry checks of extract_bundle over an uncompressed tar stream given
// as bytes (for fuzzing and tests).
Status check_tar_entries(const Manifest& manifest, std::span<const std::uint8_t> tar,
                         BundleSink& sink);

// A sink that keeps nothing (airlock-verify).
class DiscardSink : public BundleSink {
 public:
  Status begin(const BundleObject&) override { return {}; }
  Status write(std::span<const std::uint8_t>) override { return {}; }
  Status end() override { return {}; }
};

// A sink that puts every object into a store batch (import).
class BatchSink : public BundleSink {
 public:
  explicit BatchSink(Batch& batch) : batch_(batch) {}
  Status begin(const BundleObject& object) override;
  Status write(std::span<const std::uint8_t> bytes) override;
  Status end() override;
  bool verifies_content() const override { return true; }  // the store hashes every object

 private:
  Batch& batch_;
  std::optional<ObjectSink> current_;
  Digest expected_;
};

}  // namespace airlock
