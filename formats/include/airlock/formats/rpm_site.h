// Site metadata of an rpm repository mirrored with a filter: a primary.xml
// of exactly the packages the mirror carries, each <package> element byte
// for byte as the vendor-signed primary writes it, and the repomd.xml that
// lists it. Pure: text in, text out.
//
// A site primary has one form, so that a proof can rebuild it from its
// elements and compare: site_primary_header(N), then each element followed
// by a newline, then kSitePrimaryEnd. Nothing else is in it (no comment, no
// other element), so what dnf reads from it is what the elements say.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/verify/digest.h"

namespace airlock::rpm {

// The opening of a site primary as createrepo_c writes it: the XML
// declaration and <metadata> with the common and rpm namespaces and
// packages="N".
std::string site_primary_header(std::uint64_t packages);
inline constexpr std::string_view kSitePrimaryEnd = "</metadata>\n";

// The site primary of elements (each a whole <package> element).
std::string site_primary(const std::vector<std::string>& elements);

// The SHA-256 of every <package> element of a primary.xml (plain or
// compressed, decompressed a piece at a time up to max_size bytes), as
// PrimaryParser's keep_elements cuts them: what a site primary's elements
// must each be one of. The parser's refusals (invalid_input, limit).
Result<std::set<Digest>> element_digests(std::string_view primary, std::uint64_t max_size);

// Proves a (decompressed) site primary holds only vendor elements: each of
// its <package> elements is one of vendor (element_digests) and the whole
// text is in the one form above. Returns how many packages it lists.
// refused naming the first element that is not a vendor's (its position,
// name, version-release and arch), or saying the bytes around the elements
// are not the site form; invalid_input when it does not parse.
Result<std::uint64_t> check_elements(std::string_view site_primary, const std::set<Digest>& vendor);

// A metadata file the site repomd lists.
struct SiteRepomdFile {
  std::string type;      // "primary"
  std::string location;  // "repodata/<sha256>-primary.xml.gz"
  Digest sha256;         // of the file as served
  std::uint64_t size = 0;
  Digest open_sha256;  // of its decompressed bytes
  std::uint64_t open_size = 0;
  std::int64_t timestamp = 0;
};

// The repomd.xml of a site index: revision, a <data> for each of files,
// then the vendor's <data> elements (RepomdData::element) byte for byte.
std::string site_repomd(std::string_view revision, const std::vector<SiteRepomdFile>& files,
                        const std::vector<std::string>& vendor_data);

// Where createrepo_c puts a metadata file of this content and type:
// "repodata/<sha256>-<type>.xml.gz".
std::string site_metadata_location(const Digest& sha256, std::string_view type);

}  // namespace airlock::rpm
