#include "airlock/mirror/rpm_sync.h"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>

#include "airlock/base/file.h"
#include "airlock/formats/compress.h"
#include "airlock/formats/rpm.h"
#include "airlock/formats/rpm_closure.h"
#include "airlock/mirror/packages.h"
#include "airlock/verify/gpgv.h"
#include "sync_core.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kMaxRepomd = 16ull << 20;
constexpr std::uint64_t kMaxSignature = 1ull << 20;
constexpr std::uint64_t kMaxPrimary = 2ull << 30;  // decompressed
// The largest metadata file fetched: a whole distribution's filelists is a
// few hundred MiB; more is refused before a byte of it is fetched.
constexpr std::uint64_t kMaxMetadata = 512ull << 20;
const std::string kRepomd = "repodata/repomd.xml";
const std::string kRepomdAsc = "repodata/repomd.xml.asc";

// The snapshot's release keys of what repomd.xml said.
constexpr const char* kRevisionKey = "repomd/revision";
constexpr const char* kTimestampKey = "repomd/timestamp";
constexpr const char* kSignatureKey = "repomd/signature";

// The name of a source package from its file name
// ("bash-5.1.8-6.el9.src.rpm" -> "bash"); empty when it is not one.
std::string source_name(std::string_view srpm) {
  for (std::string_view ext : {".src.rpm", ".nosrc.rpm"}) {
    if (srpm.ends_with(ext)) {
      srpm.remove_suffix(ext.size());
      for (int dash = 0; dash < 2; ++dash) {
        auto at = srpm.rfind('-');
        if (at == std::string_view::npos || at == 0) return {};
        srpm = srpm.substr(0, at);
      }
      return std::string(srpm);
    }
  }
  return {};
}

// Metadata that does not parse was not what the vendor's signature
// vouched for: a refusal (or a limit), never a usage error.
Error refusal(const Error& e, const std::string& where) {
  Error out = e.code == Code::invalid_input ? Error{Code::refused, e.message} : e;
  return out.context(where);
}

std::optional<std::int64_t> whole_number(std::string_view s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

class RpmSync : SyncCore {
 public:
  using SyncCore::SyncCore;

  Result<SyncReport> run();

 private:
  Result<std::string> repomd_bytes();
  Result<std::string> held_repomd(const SnapshotEntry& held);
  Status verify_signature(const fs::path& xml, const fs::path& asc, bool present,
                          const std::string& where);
  Status check_repomd(const rpm::Repomd& repomd);
  Status fetch_metadata();
  Status store_metadata();
  Status read_primary();
  Status select(std::vector<rpm::RpmPackage>& all);
  PackageEntry package_entry(const rpm::RpmPackage& p) const;

  std::optional<Snapshot> prev_;  // the last snapshot's release information, no entries
  rpm::Repomd repomd_;
  std::string primary_;  // primary's location
  bool changed_ = true;  // repomd.xml differs from the last snapshot's
  std::string signed_by_;
  std::vector<Want> meta_;  // metadata fetched now, and what the fetcher said of each
  std::vector<FetchResult> meta_results_;
};

// repomd.xml as the upstream serves it now (a conditional request: the one
// held when it answers 304), its signature checked.
Result<std::string> RpmSync::repomd_bytes() {
  const SnapshotEntry* held = prev_ ? prev_->find(kRepomd) : nullptr;
  const fs::path dest = opt_.workdir / "meta" / "repomd.xml";
  auto r = fetch_head(kRepomd, dest, kMaxRepomd, held != nullptr);
  if (!r) return fail(r.error());
  if (r->not_modified && held) return held_repomd(*held);
  if (r->missing || r->not_modified)
    return fail(Code::refused, repo_.name + ": " + url(kRepomd) + " is missing (HTTP " +
                                   std::to_string(r->http_status) + ")");
  const fs::path sig_dest = opt_.workdir / "meta" / "repomd.xml.asc";
  auto s = fetch_signature(kRepomdAsc, sig_dest);
  if (!s) return fail(s.error());
  const bool signed_ = s->has_value();
  if (auto v = verify_signature(dest, sig_dest, signed_, url(kRepomd)); !v) return fail(v.error());
  keep_direct(kRepomd, *r, dest);
  ++report_.metadata_fetched;
  if (signed_) {
    keep_direct(kRepomdAsc, **s, sig_dest);
    ++report_.metadata_fetched;
  }
  changed_ = !held || held->sha256 != r->sha256;
  return read_file(dest, kMaxRepomd);
}

// The upstream answered 304: the last snapshot's repomd.xml (and its
// signature), verified again.
Result<std::string> RpmSync::held_repomd(const SnapshotEntry& held) {
  changed_ = false;
  auto copy = opt_.workdir / "meta" / "repomd.xml.held";
  auto asc_copy = opt_.workdir / "meta" / "repomd.xml.asc.held";
  auto bytes = restore_held(held, copy, kMaxRepomd);
  if (!bytes) return fail(bytes.error());
  const auto* asc = prev_->find(kRepomdAsc);
  if (asc) {
    if (auto sig = restore_held(*asc, asc_copy, kMaxSignature); !sig) return fail(sig.error());
  }
  auto v = verify_signature(copy, asc_copy, asc != nullptr,
                            url(held.path) + " (held from the last snapshot)");
  if (!v) return fail(v.error());
  return bytes;
}

Status RpmSync::verify_signature(const fs::path& xml, const fs::path& asc, bool present,
                                 const std::string& where) {
  if (!repo_.check_signature) {
    release_info_[kSignatureKey] = "not checked (check_signature = false)";
    return {};
  }
  if (!present) {
    return fail(Code::refused, repo_.name + ": " + where +
                                   " is not signed (no repomd.xml.asc); set check_signature = "
                                   "false to accept unsigned metadata");
  }
  auto v = gpgv_check_detached(repo_.keyring, asc, xml, scratch());
  if (!v) return fail(v.error().context(repo_.name + " " + where));
  signed_by_ = v->fingerprint;
  release_info_[kSignatureKey] = "signed by " + signed_by_;
  return {};
}

// Rollback protection: the repository may not go back in time.
Status RpmSync::check_repomd(const rpm::Repomd& repomd) {
  release_info_[kTimestampKey] = std::to_string(repomd.timestamp);
  if (!repomd.revision.empty()) release_info_[kRevisionKey] = repomd.revision;
  if (!prev_) return {};
  auto older = [&](const char* key, const std::string& now, const char* what) -> Status {
    auto it = prev_->release.find(key);
    if (it == prev_->release.end()) return {};
    auto before = whole_number(it->second), after = whole_number(now);
    if (!before || !after || *after >= *before) return {};
    return fail(Code::refused, repo_.name + ": " + url(kRepomd) + " has " + what + " " + now +
                                   ", older than the last snapshot's " + it->second +
                                   " (the upstream went back in time)");
  };
  if (auto s = older(kRevisionKey, repomd.revision, "revision"); !s) return s;
  return older(kTimestampKey, std::to_string(repomd.timestamp), "timestamp");
}

// Every file repomd.xml lists, checked against its checksum there.
Status RpmSync::fetch_metadata() {
  std::vector<Want> wants;
  for (const auto& d : repomd_.data) {
    if (!is_safe_relative_path(d.location)) {
      return fail(Code::refused, repo_.name + ": " + url(kRepomd) + " names an unsafe location '" +
                                     d.location + "' for " + d.type);
    }
    if (d.size > kMaxMetadata) {
      return fail(Code::limit, repo_.name + ": " + url(kRepomd) + " lists " + d.type + " of " +
                                   std::to_string(d.size) + " bytes, more than the " +
                                   std::to_string(kMaxMetadata) + " a metadata file may have");
    }
    if (d.type == "primary") primary_ = d.location;
    entries_[d.location] = SnapshotEntry{d.location, d.sha256, d.size};
    auto have = store_.contains(d.sha256);
    if (!have) return fail(have.error());
    // One download of a content that two locations list.
    bool wanted = std::any_of(wants.begin(), wants.end(),
                              [&](const Want& w) { return w.sha256 == d.sha256; });
    if (!*have && !wanted) wants.push_back({d.location, "", "", d.sha256, d.size, d.type});
  }
  if (primary_.empty())
    return fail(Code::refused, repo_.name + ": " + url(kRepomd) + " lists no primary metadata");
  auto results = fetch(wants, "metadata");
  if (!results) return fail(results.error());
  for (std::size_t i = 0; i < wants.size(); ++i) {
    const auto& r = (*results)[i];
    if (r.error) return fail(r.error->context(repo_.name));
    if (r.missing) {
      return fail(Code::refused,
                  repo_.name + ": " + address(wants[i]) + " is listed in repomd.xml but missing");
    }
    report_.metadata_fetched++;
    report_.bytes_fetched += r.size;
    dry_files_[wants[i].sha256] = partial(wants[i].sha256);
  }
  meta_ = std::move(wants);
  meta_results_ = std::move(*results);
  return {};
}

// The metadata is stored once primary has been read: metadata that does
// not parse leaves nothing behind.
Status RpmSync::store_metadata() {
  if (opt_.dry_run) return {};
  if (auto s = store_files(meta_, meta_results_); !s) return s;
  return store_direct();
}

PackageEntry RpmSync::package_entry(const rpm::RpmPackage& p) const {
  auto source = source_name(p.sourcerpm);
  return PackageEntry{p.name, p.evr(),  p.arch,     source.empty() ? p.name : source,
                      p.size, p.sha256, p.location, primary_};
}

// The packages primary lists, read as it is decompressed: its text is
// never held whole. Without a filter only their package entries are kept.
Status RpmSync::read_primary() {
  const auto& entry = entries_.at(primary_);
  auto it = dry_files_.find(entry.sha256);
  auto reader = it != dry_files_.end() ? ObjectReader::open(it->second, entry.sha256, entry.size)
                                       : store_.read_pieces(entry.sha256, entry.size);
  if (!reader) return fail(reader.error());
  const bool filtered = !repo_.packages.empty();
  std::vector<rpm::RpmPackage> all;
  rpm::PrimaryParser parser([&](rpm::RpmPackage&& p) -> Status {
    if (filtered) {
      all.push_back(std::move(p));
    } else {
      packages_.push_back(package_entry(p));
    }
    return {};
  });
  auto source = [&reader] { return reader->next(); };
  auto s = formats::decompress_index_to(
      source, [&](std::string_view piece) { return parser.feed(piece); }, kMaxPrimary);
  if (s) s = parser.finish();
  if (auto whole = reader->finish(); !whole) return fail(whole.error().context(primary_));
  if (!s) return fail(refusal(s.error(), repo_.name + " " + primary_));
  report_.filtered = filtered;
  if (filtered) {
    if (auto c = select(all); !c) return c;
  }
  report_.packages = packages_.size();
  if (!filtered) report_.packages_selected = report_.packages;
  return carry_packages();
}

// The packages the globs match and, with with_dependencies, what they
// require (formats/rpm.h's closure).
Status RpmSync::select(std::vector<rpm::RpmPackage>& all) {
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < all.size(); ++i) {
    bool match = std::any_of(repo_.packages.begin(), repo_.packages.end(), [&](const auto& g) {
      return ::fnmatch(g.c_str(), all[i].name.c_str(), 0) == 0;
    });
    if (match) roots.push_back(i);
  }
  report_.packages_selected = roots.size();
  std::vector<std::size_t> carried = roots;
  if (repo_.with_dependencies) {
    auto closure = rpm::dependency_closure(all, roots);
    if (!closure) return fail(closure.error().context(repo_.name + " " + primary_));
    for (std::size_t i : closure->added) {
      carried.push_back(i);
      report_.added.push_back({all[i].name, all[i].arch, all[i].evr()});
    }
    for (const auto& u : closure->unsatisfied) {
      report_.unsatisfied.push_back(
          apt::UnsatisfiedDependency{u.package, u.evr, u.arch, u.arch, "Requires", u.requirement});
    }
  }
  std::sort(report_.added.begin(), report_.added.end());
  std::sort(carried.begin(), carried.end());
  for (std::size_t i : carried) packages_.push_back(package_entry(all[i]));
  return {};
}

Result<SyncReport> RpmSync::run() {
  report_.repo = repo_.name;
  report_.dry_run = opt_.dry_run;
  auto prev = last_snapshot({kRepomd, kRepomdAsc});
  if (!prev) return fail(prev.error());
  prev_ = std::move(*prev);
  check_selection(prev_);
  if (auto s = env_.make_dirs(opt_.workdir / "meta"); !s) return fail(s.error());
  auto bytes = repomd_bytes();
  if (!bytes) return fail(bytes.error());
  auto repomd = rpm::parse_repomd(*bytes);
  if (!repomd) return fail(refusal(repomd.error(), repo_.name + " " + url(kRepomd)));
  repomd_ = std::move(*repomd);
  if (auto s = check_repomd(repomd_); !s) return fail(s.error());
  origin_["repomd"] = {{"revision", repomd_.revision},
                       {"timestamp", repomd_.timestamp},
                       {"signed_by", signed_by_.empty() ? json(nullptr) : json(signed_by_)}};
  report_.unchanged = !changed_ && !report_.selection_changed;
  if (auto s = fetch_metadata(); !s) return fail(s.error());
  if (auto s = read_primary(); !s) return fail(s.error());
  if (auto s = store_metadata(); !s) return fail(s.error());
  return finish("rpm");
}

}  // namespace

Result<SyncReport> sync_rpm(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options) {
  if (!options.fetcher) return fail(Code::invalid_input, "sync needs a fetcher");
  RpmSync sync(repo, ledger, options);
  return sync.run();
}

}  // namespace airlock::mirror
