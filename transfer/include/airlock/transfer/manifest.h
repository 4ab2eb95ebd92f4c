// The bundle manifest: the signed statement of what a bundle carries.
//
// manifest.json is written once and signed as raw bytes; readers verify the
// signatures over those exact bytes before parsing them (see bundle.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/verify/digest.h"
#include "airlock/verify/ed25519.h"
#include "airlock/verify/trust.h"

namespace airlock {

inline constexpr std::string_view kBundleFormat = "airlock-bundle/1";
inline constexpr std::uint64_t kMaxManifestBytes = 1ull << 30;
inline constexpr std::uint64_t kMaxSignaturesBytes = 1ull << 20;
// Objects must fit a plain ustar header (no pax size record).
inline constexpr std::uint64_t kMaxObjectSize = (8ull << 30) - 1;

struct BundleObject {
  Digest sha256;
  std::uint64_t size = 0;
  bool operator==(const BundleObject&) const = default;
};

struct BundleSnapshot {
  Digest id;
  std::string repo;
  bool operator==(const BundleSnapshot&) const = default;
};

struct BundleVolume {
  std::string name;  // data.000, data.001, ...
  std::uint64_t size = 0;
  Digest sha256;
  bool operator==(const BundleVolume&) const = default;
};

// One package change a bundle carries, as the exporting side computed it
// from package lists: inside the signature, so a co-signer approves it.
struct PackageChangeEntry {
  std::string change;  // "added", "upgraded", "downgraded" or "removed"
  std::string name;
  std::string architecture;
  std::string old_version;  // empty when added
  std::string new_version;  // empty when removed
  std::uint64_t size = 0;   // bytes of the new version's package files (0 when removed)
  bool operator==(const PackageChangeEntry&) const = default;
};

// The changes of one repository against the previous bundle of the stream
// (against nothing for a full bundle), sorted by name and architecture.
struct RepoChanges {
  std::string repo;
  std::vector<PackageChangeEntry> packages;
  bool operator==(const RepoChanges&) const = default;
};

struct Manifest {
  std::string stream;
  std::uint64_t sequence = 0;
  std::optional<Digest> previous;  // sha256 of the previous bundle's manifest bytes
  std::string kind;                // "delta" | "full"
  TimePoint created{};
  TimePoint expires{};
  std::string producer;
  std::vector<BundleSnapshot> snapshots;
  std::vector<BundleObject> objects;  // sorted by sha256, unique
  std::uint64_t archive_size = 0;     // bytes of the uncompressed tar stream
  std::vector<BundleVolume> volumes;
  std::string log_json = "[]";       // JSON array of the producer's log records for this export
  std::vector<RepoChanges> changes;  // one per snapshot's repository, in repo order

  // Pretty-printed JSON (what reviewers read and signers sign).
  std::string to_json() const;
  // to_json().size(), counted without building the text.
  std::uint64_t json_size() const;
  // Strict: every field present with the right type and nothing else; names,
  // order, sequence/previous/kind rules and sizes checked. invalid_input
  // naming the first problem.
  static Result<Manifest> parse(std::string_view json);
  // The same verdict as parse, without keeping the objects and the changes'
  // packages: memory that does not grow with them (a writer's check of what
  // it is about to sign).
  static Status check(std::string_view json);

  std::uint64_t payload_size() const;  // sum of object sizes
  const BundleObject* find(const Digest& id) const;
};

// The directory name of a bundle: airlock-<stream>-<sequence, 6 digits>.
std::string bundle_dir_name(std::string_view stream, std::uint64_t sequence);
// Stream names: 1-64 of [a-z0-9._-], starting with a letter or digit.
bool valid_stream_name(std::string_view stream);
// Volume names: data.000 ... data.999.
std::string volume_name(std::size_t index);
// The exact size of the ustar stream that carries these objects.
std::uint64_t tar_size_for(const std::vector<BundleObject>& objects);
// Of one object: its header and its blocks; and the two zero blocks that
// end the archive.
std::uint64_t tar_entry_size(const BundleObject& object);
inline constexpr std::uint64_t kTarEndSize = 1024;

// manifest.sig.json: {"signatures": [{"keyid": hex, "sig": base64}]}.
Result<std::vector<SignatureEntry>> parse_signatures(std::string_view json);
std::string signatures_to_json(const std::vector<SignatureEntry>& signatures);

}  // namespace airlock
