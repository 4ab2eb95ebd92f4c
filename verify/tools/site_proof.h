// The proof that a site index says only what the vendor signed: every
// bundle checked as `airlock-verify bundle` checks it, the vendor Release of
// each filtered apt snapshot checked with gpgv against the vendor keyring,
// each vendor index against that Release, and every stanza of a site
// Packages index byte-identical to a stanza of those indices. The same for
// rpm: each filtered rpm snapshot's repomd.xml checked with gpgv (its
// repomd.xml.asc), its primary against repomd.xml, and every <package>
// element of a site primary.xml byte-identical to one of that primary's,
// the site primary holding nothing else.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/verify/trust.h"

namespace airlock {

struct SiteProofRequest {
  // Packages or primary.xml files (plain, .gz, .xz, ...), told apart by content.
  std::vector<std::filesystem::path> site_indices;
  std::vector<std::filesystem::path> bundles;  // that carried the snapshots and indices
  TrustPolicy trust;
  TimePoint now{};
  std::filesystem::path vendor_keyring;
};

struct SiteProof {
  struct VendorIndex {
    std::string repo, path;  // the snapshot's repository and the index's (or primary's) path
    Digest snapshot;
  };
  struct SiteFile {
    std::filesystem::path path;
    std::uint64_t stanzas = 0;  // stanzas, or <package> elements when rpm
    bool rpm = false;           // a primary.xml
  };
  std::vector<std::string> bundles;  // airlock-<stream>-<seq> of each bundle checked
  std::vector<VendorIndex> vendor_indices;
  std::uint64_t vendor_stanzas = 0;
  std::uint64_t vendor_packages = 0;  // <package> elements of vendor primaries
  std::vector<SiteFile> site_files;
};

// refused at the first bundle, signature, hash or stanza that does not check
// out, naming it; invalid_input when no bundle carries a filtered snapshot or
// an index a snapshot names.
Result<SiteProof> prove_site_index(const SiteProofRequest& request);

}  // namespace airlock
