#include "airlock/mirror/files_sync.h"

#include <algorithm>
#include <set>

#include "airlock/base/file.h"
#include "airlock/formats/checksum_list.h"
#include "airlock/formats/clearsign.h"
#include "airlock/mirror/packages.h"
#include "sync_core.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kMaxList = 64ull << 20;
constexpr std::uint64_t kMaxSignature = 1ull << 20;
constexpr const char* kSignatureKey = "list/signature";

class FilesSync : SyncCore {
 public:
  using SyncCore::SyncCore;

  Result<SyncReport> run();

 private:
  Result<std::string> list_text();
  Result<std::string> held_list(const SnapshotEntry& held);
  Result<std::string> verified_text(const fs::path& list, const fs::path& sig, bool detached,
                                    const std::string& where);
  Status choose_files(const std::vector<formats::ChecksumLine>& lines);
  Status fetch_files();

  std::optional<Snapshot> prev_;  // the last snapshot's release information and signed files
  bool changed_ = true;
  std::string signed_by_;
  std::vector<Want> wants_;  // listed files the store lacks
};

// The verified text of SHA256SUMS as the upstream serves it now (the one
// held when it answers 304).
Result<std::string> FilesSync::list_text() {
  const SnapshotEntry* held = prev_ ? prev_->find(kChecksumList) : nullptr;
  const fs::path dest = opt_.workdir / "meta" / kChecksumList;
  auto r = fetch_head(kChecksumList, dest, kMaxList, held != nullptr);
  if (!r) return fail(r.error());
  if (r->not_modified && held) return held_list(*held);
  if (r->missing || r->not_modified)
    return fail(Code::refused, repo_.name + ": " + url(kChecksumList) + " is missing (HTTP " +
                                   std::to_string(r->http_status) + ")");
  changed_ = !held || held->sha256 != r->sha256;
  keep_direct(kChecksumList, *r, dest);
  ++report_.metadata_fetched;
  auto bytes = read_file(dest, kMaxList);
  if (!bytes) return fail(bytes.error());
  if (bytes->starts_with(formats::kSignedMessageBegin))
    return verified_text(dest, {}, false, url(kChecksumList));
  const fs::path sig_dest = opt_.workdir / "meta" / kChecksumListSignature;
  auto s = fetch_signature(kChecksumListSignature, sig_dest);
  if (!s) return fail(s.error());
  const bool present = s->has_value();
  if (present) {
    keep_direct(kChecksumListSignature, **s, sig_dest);
    ++report_.metadata_fetched;
  }
  if (!present && repo_.check_signature) {
    return fail(Code::refused, repo_.name + ": " + url(kChecksumList) +
                                   " is not signed (neither clearsigned nor with " +
                                   kChecksumListSignature +
                                   "); set check_signature = false to accept an unsigned list");
  }
  return verified_text(dest, sig_dest, true, url(kChecksumList));
}

// The upstream answered 304: the last snapshot's list (and signature),
// verified again.
Result<std::string> FilesSync::held_list(const SnapshotEntry& held) {
  changed_ = false;
  auto copy = opt_.workdir / "meta" / "SHA256SUMS.held";
  auto bytes = restore_held(held, copy, kMaxList);
  if (!bytes) return fail(bytes.error());
  const std::string where = url(held.path) + " (held from the last snapshot)";
  if (bytes->starts_with(formats::kSignedMessageBegin))
    return verified_text(copy, {}, false, where);
  const auto* sig = prev_->find(kChecksumListSignature);
  auto sig_copy = opt_.workdir / "meta" / "SHA256SUMS.gpg.held";
  if (sig) {
    if (auto b = restore_held(*sig, sig_copy, kMaxSignature); !b) return fail(b.error());
  } else if (repo_.check_signature) {
    return fail(Code::refused, repo_.name + ": " + where + " is not signed");
  }
  return verified_text(copy, sig_copy, true, where);
}

// The list's text as its signature vouches for it: gpgv's signed text of a
// clearsigned list, the whole file with a detached signature.
Result<std::string> FilesSync::verified_text(const fs::path& list, const fs::path& sig,
                                             bool detached, const std::string& where) {
  if (!repo_.check_signature) {
    release_info_[kSignatureKey] = "not checked (check_signature = false)";
    if (!detached) {
      auto bytes = read_file(list, kMaxList);
      if (!bytes) return fail(bytes.error());
      auto message = formats::split_clearsigned(*bytes);
      if (!message) return fail(message.error().context(repo_.name + " " + where));
      return std::move(message->text);
    }
    return read_file(list, kMaxList);
  }
  if (!detached) {
    auto v = verify_clearsigned(repo_, list, where, scratch(), kMaxList);
    if (!v) return fail(v.error());
    signed_by_ = v->fingerprint;
    release_info_[kSignatureKey] = "signed by " + signed_by_;
    return std::move(v->text);
  }
  auto v = gpgv_check_detached(repo_.keyring, sig, list, scratch());
  if (!v) return fail(v.error().context(repo_.name + " " + where));
  signed_by_ = v->fingerprint;
  release_info_[kSignatureKey] = "signed by " + signed_by_;
  return read_file(list, kMaxList);
}

// Every listed file: an entry and a package of the snapshot, and a want
// when the store lacks it.
Status FilesSync::choose_files(const std::vector<formats::ChecksumLine>& lines) {
  std::set<std::string> seen;
  std::set<Digest> wanted;
  for (const auto& line : lines) {
    std::string path = line.path.starts_with("./") ? line.path.substr(2) : line.path;
    if (!is_safe_relative_path(path) || path == kChecksumList || path == kChecksumListSignature) {
      return fail(Code::refused,
                  repo_.name + ": " + kChecksumList + " names an unsafe path '" + path + "'");
    }
    if (!seen.insert(path).second)
      return fail(Code::refused, repo_.name + ": " + kChecksumList + " lists '" + path + "' twice");
    auto info = store_.stat(line.sha256);
    if (!info && info.error().code != Code::not_found) return fail(info.error());
    std::uint64_t size = info ? info->size : 0;
    // One download of a content that two paths list.
    if (!info && wanted.insert(line.sha256).second)
      wants_.push_back({path, "", "", line.sha256, 0, "", false});
    pool_.push_back({path, line.sha256, size});
  }
  return {};
}

// The files the store lacks, each checked against the list as it arrives.
Status FilesSync::fetch_files() {
  auto results = fetch(wants_, "files");
  if (!results) return fail(results.error());
  std::size_t failed = 0;
  std::optional<Error> first;
  for (std::size_t i = 0; i < wants_.size(); ++i) {
    const auto& r = (*results)[i];
    if (r.error || r.missing) {
      ++failed;
      if (!first)
        first = r.error ? *r.error
                        : Error{Code::refused, address(wants_[i]) + " is listed in " +
                                                   kChecksumList + " but missing"};
      continue;
    }
    report_.pool_fetched++;
    report_.bytes_fetched += r.size;
    for (auto& e : pool_) {
      if (e.sha256 == wants_[i].sha256) e.size = r.size;
    }
  }
  if (failed > 0) {
    return fail(first->code, repo_.name + ": " + std::to_string(failed) + " of " +
                                 std::to_string(wants_.size()) + " files failed (" +
                                 first->message + "); no snapshot was recorded");
  }
  if (opt_.dry_run) return {};
  if (auto s = store_files(wants_, *results); !s) return s;
  return store_direct();
}

Result<SyncReport> FilesSync::run() {
  report_.repo = repo_.name;
  report_.dry_run = opt_.dry_run;
  auto prev = last_snapshot({kChecksumList, kChecksumListSignature});
  if (!prev) return fail(prev.error());
  prev_ = std::move(*prev);
  if (auto s = env_.make_dirs(opt_.workdir / "meta"); !s) return fail(s.error());
  auto text = list_text();
  if (!text) return fail(text.error());
  auto lines = formats::parse_sha256sums(*text);
  if (!lines) {
    // A signed list that does not parse is refused, not a usage error.
    Error e = lines.error().code == Code::invalid_input
                  ? Error{Code::refused, lines.error().message}
                  : lines.error();
    return fail(e.context(repo_.name + " " + url(kChecksumList)));
  }
  origin_["list"] = {{"signed_by", signed_by_.empty() ? json(nullptr) : json(signed_by_)}};
  report_.unchanged = !changed_;
  if (auto s = choose_files(*lines); !s) return fail(s.error());
  for (const auto& e : pool_) {
    packages_.push_back(PackageEntry{e.path, e.sha256.hex().substr(0, 16), "file", e.path, 0,
                                     e.sha256, e.path, kChecksumList});
  }
  report_.packages = report_.packages_selected = packages_.size();
  report_.pool_files = pool_.size();
  if (report_.unchanged || opt_.dry_run) {
    std::vector<PoolFile> missing;
    if (!report_.unchanged) {
      for (const auto& w : wants_) missing.push_back({&w.path, w.sha256, 0});
    }
    if (opt_.dry_run) return dry_report(missing);
    return record_unchanged();
  }
  if (auto s = fetch_files(); !s) return fail(s.error());
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    packages_[i].size = pool_[i].size;
    report_.pool_bytes += pool_[i].size;
  }
  std::sort(pool_.begin(), pool_.end(),
            [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.path < b.path; });
  return record_snapshot("files");
}

}  // namespace

Result<SyncReport> sync_files(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options) {
  if (!options.fetcher) return fail(Code::invalid_input, "sync needs a fetcher");
  FilesSync sync(repo, ledger, options);
  return sync.run();
}

}  // namespace airlock::mirror
