// Builds stores, snapshots and bundles for tests, including hostile bundles
// whose tar stream is crafted entry by entry.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "airlock/store/store.h"
#include "airlock/transfer/bundle.h"
#include "airlock/verify/ed25519.h"
#include "airlock/verify/trust.h"

namespace airlock::testing {

// A store holding one snapshot of `count` objects with sizes spread from a
// few bytes to about max_size.
struct SampleRepo {
  std::unique_ptr<Store> store;
  Digest snapshot;
  std::map<std::string, std::string> contents;  // path -> object bytes
};
// With packages, the snapshot also carries a package list (see
// add_package_list) and the index it comes from.
SampleRepo make_sample_repo(const std::filesystem::path& dir, int count, std::size_t max_size,
                            std::uint32_t seed, const std::string& repo = "debian",
                            bool packages = false);

// Where add_package_list puts the index.
inline constexpr const char* kSampleIndex = "dists/sample/main/binary-amd64/Packages";

// Gives snapshot a package list consistent with its entries: one amd64
// package per .deb entry, "pool/main/<name>[_<version>].deb" (version 1.0-1
// when the name has none), listed in an index entry kSampleIndex that is
// stored through batch and replaces any earlier one. Returns the index text.
std::string add_package_list(Batch& batch, Snapshot& snapshot);

// Puts two empty snapshots of repo into store whose ids share their first
// `digits` hex digits (found by trying upstreams: about 16^(digits/2) tries,
// so keep digits small), and returns their ids.
std::pair<Digest, Digest> put_snapshots_sharing_prefix(Store& store, std::size_t digits,
                                                       const std::string& repo = "debian");

// One entry of a crafted tar stream.
struct TarEntry {
  enum Type { file, symlink, hardlink, directory, chardev, fifo };
  TarEntry(std::string name_, std::string data_, Type type_ = file, std::string link_ = {})
      : name(std::move(name_)), data(std::move(data_)), type(type_), link(std::move(link_)) {}
  std::string name;
  std::string data;
  Type type;
  std::string link;              // target of a symlink or hard link
  long long declared_size = -1;  // size in the header; -1: data.size()
};

// Writes raw tar bytes with libarchive (ustar), allowing any entry.
std::string make_tar(const std::vector<TarEntry>& entries);
// zstd-compresses bytes (single frame, level 3; window_log 0: default).
std::string zstd_compress(const std::string& bytes, int window_log = 0);

// Writes a signed bundle directory whose data.000 is `volume` and whose
// manifest lists `objects`, signed by keys. Returns the bundle directory.
std::filesystem::path write_crafted_bundle(const std::filesystem::path& out_dir,
                                           const std::vector<BundleObject>& objects,
                                           const std::string& volume,
                                           const std::vector<const PrivateKey*>& keys,
                                           TimePoint created);

}  // namespace airlock::testing
