// RHEL-family (rpm-md) repository metadata: repomd.xml, primary.xml and
// updateinfo.xml as createrepo_c writes them, and rpm's version order. Pure
// parsing over libexpat: bytes in, values out, no I/O.
//
// Hostile input rules shared by every parser here: a document type
// declaration is refused before anything in it is read ("... a document
// type declaration is not allowed"), so no entity is ever declared or
// expanded; an attribute value or a collected text is at most 64 KiB, one
// tag, text run or comment at most 1 MiB, nesting at most 256 deep, and
// the per-package and per-advisory counts below are bounded: past any of
// them the error is Code::limit. Other refusals are invalid_input. Every
// message is one line: "<document>: line N: expected ..., found ...".
// Elements a parser does not know are ignored with everything inside them
// (vendors add their own); known elements must be in their namespace.
// Values quoted from the document are kept as written: callers escape them
// where they print them and check paths before they use them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/verify/digest.h"

namespace airlock::rpm {

// ---------------------------------------------------------------- repomd.xml

struct RepomdData {
  std::string type;        // "primary", "filelists", "other", "updateinfo", "modules", "group", ...
  std::string location;    // <location href>, as written (the caller checks it is safe)
  Digest sha256;           // <checksum type="sha256">
  std::uint64_t size = 0;  // <size>, 0 when absent
  std::int64_t timestamp = 0;  // <timestamp>, 0 when absent
  std::string element;         // the exact bytes of the <data ...>...</data> element
};

struct Repomd {
  std::string revision;          // <revision> without surrounding blanks, "" when absent
  std::int64_t timestamp = 0;    // the greatest <timestamp> of its data, 0 when none
  std::vector<RepomdData> data;  // in document order
};

// Parses a whole repomd.xml (namespace http://linux.duke.edu/metadata/repo)
// held in memory; the caller bounds its size. Each <data> needs a type, a
// <checksum> of type sha256 (any other type is refused, naming it and the
// data's type) and a <location href> without xml:base; two <data> with the
// same type or the same location are refused, as is a <size> or
// <timestamp> that is not a decimal number (a timestamp may carry a
// fraction, which is dropped, as old createrepo wrote).
Result<Repomd> parse_repomd(std::string_view xml);

// --------------------------------------------------------------- primary.xml

// One <rpm:entry> of <rpm:provides> or <rpm:requires>.
struct Relation {
  std::string name;
  std::string flags;  // "", "EQ", "LT", "LE", "GT" or "GE" (anything else is refused)
  std::string epoch, version, release;  // as written, "" when absent
  bool pre = false;                     // pre="1": needed by the package's scriptlets
};

struct RpmPackage {
  std::string name, arch, epoch, version, release;  // epoch "0" when absent
  Digest sha256;                                    // <checksum type="sha256">
  std::string location;                             // <location href> as written
  std::uint64_t size = 0;                           // <size package="">
  std::string sourcerpm;                            // <rpm:sourcerpm>, "" when absent
  // <rpm:provides> and <rpm:requires> in document order. (`requires` is a
  // C++20 keyword, hence the name.)
  std::vector<Relation> provides, requirements;
  std::vector<std::string> files;  // <file> entries of primary (only those primary lists)
  // The exact bytes of the <package ...>...</package> element as they are
  // in the document, only when the parser was asked to keep them.
  std::string element;

  // "version-release", or "epoch:version-release" when epoch is not "0".
  std::string evr() const;
};

// Bounds of one package, past which the parser gives Code::limit.
inline constexpr std::size_t kMaxRelations = 65536;  // each of provides, requires
inline constexpr std::size_t kMaxFiles = 65536;
inline constexpr std::uint64_t kMaxPackageElement = 16u << 20;  // bytes of one <package>

// Streaming primary.xml parser: the document is fed a piece at a time,
// never held whole (only, with keep_elements, the current <package>). The
// root must be <metadata> in http://linux.duke.edu/metadata/common, with
// rpm: elements in http://linux.duke.edu/metadata/rpm. A package needs
// <name>, <arch>, <version ver rel> (epoch "0" when absent), a <checksum>
// of type sha256 (another type is refused, naming it), <size package> and
// <location href> without xml:base (refused: the package would live
// elsewhere); each of them at most once. Not thread-safe; one per document.
//
// A UTF-8 document is cut into parts of about part_bytes, each right after
// a </package>, and the parts are parsed on up to `threads` threads; the
// packages still reach on_package in document order on the caller's
// thread, and what is read (packages, kept bytes, the first error and its
// message) is what reading the document in order gives.
struct PrimaryOptions {
  bool keep_elements = false;              // fill RpmPackage::element
  std::uint64_t max_packages = 2'000'000;  // more is Code::limit
  std::size_t threads = 0;                 // 0: the machine's cores, at most 4; 1: in feed()
  std::size_t part_bytes = 1 << 20;        // of the document, per part
};

class PrimaryParser {
 public:
  // Outside the class so that it can be a defaulted argument here.
  using Options = PrimaryOptions;

  // on_package gets each package, in document order, on the thread that
  // calls feed() and finish() (when its part is parsed, so possibly later
  // than its </package> is fed); its first error stops the parse and is
  // returned from feed() or finish().
  explicit PrimaryParser(std::function<Status(RpmPackage&&)> on_package, Options options = {});
  ~PrimaryParser();
  PrimaryParser(PrimaryParser&&) noexcept;
  PrimaryParser& operator=(PrimaryParser&&) noexcept;

  // The first error (parse, limit, or on_package's) is returned and every
  // later call returns it again.
  Status feed(std::string_view piece);
  // End of document: invalid_input when it is incomplete; the root was
  // checked when it started. Does not compare packages() with
  // declared_packages(): that is the caller's call.
  Status finish();
  std::uint64_t declared_packages() const;  // <metadata packages="N">, 0 before it is seen
  std::uint64_t packages() const;           // how many on_package got

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ------------------------------------------------------------ updateinfo.xml

// pkglist/collection/package of an advisory: a package that fixes it.
struct AdvisoryPackage {
  std::string name, arch, epoch, version, release;  // epoch "0" when absent
  std::string filename;                             // <filename>, "" when absent
};

struct Advisory {
  std::string id;        // <id>, never empty
  std::string type;      // <update type="">: "security", "bugfix", "enhancement", ...
  std::string severity;  // <severity>, "" when absent
  std::string title;     // <title>
  std::string issued;    // <issued date=""> as written
  std::vector<std::string> references;    // <reference id="">s (CVE-2024-1234, ...), in order
  std::vector<AdvisoryPackage> packages;  // in order, across collections
};

// Bounds of one advisory, past which the parser gives Code::limit.
inline constexpr std::size_t kMaxAdvisoryReferences = 65536;
inline constexpr std::size_t kMaxAdvisoryPackages = 65536;

struct UpdateinfoOptions {
  std::uint64_t max_advisories = 1'000'000;  // more is Code::limit
};

// Streaming updateinfo.xml parser, shaped as PrimaryParser. The root must
// be <updates> (no namespace, as createrepo_c and modifyrepo_c write it);
// each <update> needs a non-empty <id> (at most one); a package needs name,
// version and release attributes. References without an id (links only)
// are not listed. Text is as written, blanks included.
class UpdateinfoParser {
 public:
  using Options = UpdateinfoOptions;

  explicit UpdateinfoParser(std::function<Status(Advisory&&)> on_advisory, Options options = {});
  ~UpdateinfoParser();
  UpdateinfoParser(UpdateinfoParser&&) noexcept;
  UpdateinfoParser& operator=(UpdateinfoParser&&) noexcept;

  // As PrimaryParser's: the first error sticks.
  Status feed(std::string_view piece);
  Status finish();
  std::uint64_t advisories() const;  // how many on_advisory got

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ------------------------------------------------------------ rpm versions

// rpm's version order (rpmvercmp): alphanumeric segments, numbers compared
// as numbers without leading zeros, numbers newer than letters, '~' older
// than anything (even the end), '^' newer than the end but older than any
// further segment. Returns <0, 0 or >0.
int compare_versions(std::string_view a, std::string_view b);

// Epochs compared as numbers (empty is 0), then versions, then releases,
// each with compare_versions. Returns <0, 0 or >0.
int compare_evr(std::string_view epoch_a, std::string_view version_a, std::string_view release_a,
                std::string_view epoch_b, std::string_view version_b, std::string_view release_b);

// compare_evr of two "[epoch:]version-release" texts (RpmPackage::evr()):
// the epoch is what comes before a ':', the release what follows the last '-'.
int compare_evr(std::string_view a, std::string_view b);

}  // namespace airlock::rpm
