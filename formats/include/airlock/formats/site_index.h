// Site indices: a Packages index of exactly the packages a partial mirror
// carries, each stanza byte for byte as the vendor-signed index writes it,
// and the Release that lists such indices. Pure: text in, text out.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/formats/packages.h"
#include "airlock/formats/release.h"

namespace airlock::apt {

// Calls fn with the exact bytes of each paragraph of a deb822 text, in order:
// from its first line to the end of its last line, without that line's
// newline. Blank lines (empty, or spaces and tabs only) separate paragraphs
// and belong to none. Stops at fn's first error and returns it.
Status for_each_stanza(std::string_view text, const std::function<Status(std::string_view)>& fn);

// The stanzas of a (decompressed) Packages index whose package keep()
// accepts, byte for byte and in the order written, as a Packages index of
// their own: each stanza followed by a newline, a blank line between two.
// invalid_input when a stanza does not parse as a package record.
Result<std::string> select_stanzas(std::string_view index,
                                   const std::function<bool(const PackageRecord&)>& keep);

// The SHA-256 of every stanza of a Packages index, as for_each_stanza cuts
// them: what a site index's stanzas must each be one of.
Result<std::set<Digest>> stanza_digests(std::string_view index);

// Proves every stanza of a site index is one of vendor's (stanza_digests).
// Returns how many stanzas the index has; refused naming the first stanza
// that is not byte-identical to a vendor stanza (its position, Package and
// Version), invalid_input when one does not parse.
Result<std::uint64_t> check_stanzas(std::string_view site_index, const std::set<Digest>& vendor);

// The directory of a Packages index in an apt repository,
// "dists/<suite>/<component>/binary-<arch>" for a path ending in Packages or
// Packages.<compression>, with suite set; empty for any other path.
std::string packages_index_dir(std::string_view path, std::string& suite);

// The Release of a site index: the vendor Release's descriptive fields
// (Origin, Label, Suite, Version, Codename, Architectures, Components,
// Description, No-Support-for-Architecture-all), Date set to date, no
// Valid-Until, Acquire-By-Hash, and a SHA256 list of files (paths relative
// to the Release's directory).
std::string site_release(const Release& vendor, const std::vector<ReleaseFile>& files,
                         TimePoint date);

}  // namespace airlock::apt
