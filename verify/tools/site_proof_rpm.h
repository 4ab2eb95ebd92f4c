// The rpm half of the site proof (site_proof.h): the vendor primary of a
// filtered rpm snapshot, its repomd.xml checked with gpgv against the vendor
// keyring, and a site primary checked element by element against it.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/store/snapshot.h"
#include "site_proof.h"

namespace airlock::site_proof {

// Adds to wanted the objects of snap the proof reads: repodata/repomd.xml,
// its signature and the primary its packages were read from.
void rpm_wanted(const Snapshot& snap, std::set<Digest>& wanted);

// The digests of every <package> element of snap's vendor primary, once
// repomd.xml's detached signature checked out against keyring and the
// primary is the file it lists (added to proof's vendor indices and
// count). refused naming what does not check out; invalid_input when a
// file is in none of the bundles.
Result<std::set<Digest>> rpm_vendor_elements(const Digest& id, const Snapshot& snap,
                                             const std::map<Digest, std::string>& kept,
                                             const std::filesystem::path& keyring,
                                             const std::filesystem::path& scratch,
                                             SiteProof& proof);

// Whether a decompressed site index is XML (an rpm primary), not deb822.
bool is_xml(std::string_view plain);

}  // namespace airlock::site_proof
