// Debian Release files (the body of an InRelease, or a Release signed by a
// detached Release.gpg): their fields, every hash list they carry, and the
// by-hash addresses those lists imply.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/formats/deb822.h"
#include "airlock/verify/digest.h"

namespace airlock::apt {

// The hash lists a Release may carry, weakest first.
enum class HashAlgorithm { md5, sha1, sha256, sha512 };
inline constexpr std::array<HashAlgorithm, 4> kHashAlgorithms{
    HashAlgorithm::md5, HashAlgorithm::sha1, HashAlgorithm::sha256, HashAlgorithm::sha512};

// "MD5Sum", "SHA1", "SHA256", "SHA512": both the Release field that holds the
// list and the directory of its by-hash addresses ("by-hash/SHA512/<hex>").
std::string_view hash_name(HashAlgorithm algorithm);

// A hash in one of those algorithms, as Release lists and by-hash addresses
// write it. parse() accepts exactly the algorithm's length (32, 40, 64 or 128)
// of [0-9a-f]; anything else is invalid_input.
class HashValue {
 public:
  static Result<HashValue> parse(HashAlgorithm algorithm, std::string_view hex);
  HashAlgorithm algorithm() const { return algorithm_; }
  const std::string& hex() const { return hex_; }
  bool operator==(const HashValue&) const = default;

 private:
  HashValue(HashAlgorithm algorithm, std::string hex)
      : algorithm_(algorithm), hex_(std::move(hex)) {}
  HashAlgorithm algorithm_;
  std::string hex_;
};

// One line of a hash list: a file relative to the Release's directory.
struct ListedFile {
  std::string path;
  std::uint64_t size = 0;
  HashValue hash;
};

// A SHA256 line with its digest typed: what downloads are checked against.
struct ReleaseFile {
  std::string path;  // relative to dists/<suite>/
  Digest sha256;
  std::uint64_t size = 0;
};

struct Release {
  Paragraph fields;
  std::optional<TimePoint> date;
  std::optional<TimePoint> valid_until;
  std::vector<std::string> components;
  std::vector<std::string> architectures;
  bool acquire_by_hash = false;
  std::vector<ReleaseFile> files;  // the SHA256 list
  // Every line of every hash list present, MD5Sum first, SHA512 last, each
  // list in the order written.
  std::vector<ListedFile> listed;
  const ReleaseFile* find(std::string_view path) const;
};

// Parses the text of a Release, or the signed text of an InRelease (see
// clearsign.h; the signature is not checked here). Only the first paragraph
// counts. invalid_input, naming the field and the entry, when a field does
// not parse: a Date or Valid-Until that is not an RFC 2822 date, a hash-list
// line that is not "<hash> <size> <path>" with a hash of the list's
// algorithm, or no SHA256 list at all.
Result<Release> parse_release(std::string_view text);

// The by-hash addresses of a Release found at release_dir (a repository path
// such as "dists/bookworm/"; a missing trailing '/' is added): for each line
// of each hash list, "<release_dir><dir>/by-hash/<ALGO>/<hex>" -> the file's
// repository path "<release_dir><path>", where <dir> is the directory of the
// listed path (none for a file directly under release_dir). When two lines
// give one address (identical files in one directory) the first is kept.
std::map<std::string, std::string> by_hash_paths(const Release& release,
                                                 std::string_view release_dir);

// RFC 2822 dates as apt writes them: "Sat, 21 Nov 2026 08:00:00 UTC" (also
// GMT, UT, Z, or a numeric offset such as +0000). invalid_input otherwise.
Result<TimePoint> parse_rfc2822(std::string_view text);

}  // namespace airlock::apt
