#include "sync_core.h"

#include <fcntl.h>

#include <algorithm>
#include <tuple>

#include "airlock/base/env.h"
#include "airlock/base/file.h"
#include "airlock/formats/clearsign.h"
#include "airlock/mirror/packages.h"
#include "apt_select.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::size_t kPoolBatchFiles = 4096;
constexpr std::uint64_t kPoolBatchBytes = 1ull << 30;
// A file whose size nothing signed states (a checksum list's): DVD images
// are the largest such files vendors publish.
constexpr std::uint64_t kMaxUnsized = 64ull << 30;

// The number of the first line (from 1) on which a and b differ.
std::size_t first_difference(std::string_view a, std::string_view b) {
  auto at = std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin();
  return static_cast<std::size_t>(std::count(a.begin(), a.begin() + at, '\n')) + 1;
}

}  // namespace

// A clearsigned file must be exactly one clearsigned message with a good
// signature: bytes before or after it would be carried to hosts unverified
// (and apt refuses them there). Returns gpgv's signed text: the only text
// the Release is read from.
Result<GpgvSignature> verify_clearsigned(const RepoConfig& repo, const fs::path& file,
                                         const std::string& where, const fs::path& scratch,
                                         std::uint64_t max_size) {
  auto bytes = read_file(file, max_size);
  if (!bytes) return fail(bytes.error());
  auto message = formats::split_clearsigned(*bytes);
  if (!message) {
    return fail(Code::refused,
                repo.name + ": " + where +
                    " is not exactly one clearsigned message: " + message.error().message);
  }
  auto text = gpgv_check_clearsigned(repo.keyring, file, scratch);
  if (!text) return fail(text.error().context(repo.name + " " + where));
  // The isolated side reads the message's text (its by-hash map, the site
  // index): it must be exactly what gpgv verified, which gpgv writes with a
  // final line break.
  if (text->text != message->text && text->text != message->text + "\n") {
    return fail(Code::refused, repo.name + ": " + where + " has a message text that differs from " +
                                   "the text gpgv verified, from line " +
                                   std::to_string(first_difference(message->text, text->text)) +
                                   " of the text on");
  }
  return text;
}

// How downloads for repo run: jobs in parallel, cut off when too slow.
FetchOptions fetch_options(const RepoConfig& repo, int jobs) {
  FetchOptions fo;
  fo.jobs = jobs;
  fo.min_rate = repo.min_rate;
  fo.stall_timeout = std::chrono::seconds(repo.stall_timeout);
  return fo;
}

// The fetcher's single result, or an error when it broke its contract.
Result<FetchResult> fetch_one(Fetcher& fetcher, const FetchJob& job, const FetchOptions& fo) {
  auto results = fetcher.fetch({job}, fo);
  if (results.size() != 1)
    return fail(Code::io, "the fetcher answered " + job.url + " with no result");
  if (results[0].error) return fail(*results[0].error);
  return results[0];
}

// A string member of a JSON object, or "" when absent or not a string.
std::string text_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<FetchResult> SyncCore::fetch_head(const std::string& path, const fs::path& dest,
                                         std::uint64_t max_size, bool held) {
  const std::string meta_key = "fetch/" + repo_.name + "/" + path;
  FetchJob job;
  job.url = url(path);
  job.dest = dest;
  job.max_size = max_size;
  std::error_code ec;
  fs::remove(job.dest, ec);
  auto validators = held ? store_.get_meta(meta_key) : Result<std::string>();
  if (validators && !validators->empty()) {
    json j = json::parse(*validators, nullptr, false);
    job.if_none_match = text_field(j, "etag");
    job.if_modified_since = text_field(j, "last_modified");
  }
  auto r = fetch_one(*opt_.fetcher, job, fetch_options(repo_, 1));
  if (!r) return fail(r.error());
  if (!r->missing && !r->not_modified) {
    json v{{"etag", r->etag}, {"last_modified", r->last_modified}};
    validators_.emplace_back(meta_key, v.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  return r;
}

Result<std::optional<FetchResult>> SyncCore::fetch_signature(const std::string& path,
                                                             const fs::path& dest) {
  constexpr std::uint64_t kMaxSignature = 1ull << 20;
  FetchJob job;
  job.url = url(path);
  job.dest = dest;
  job.max_size = kMaxSignature;
  std::error_code ec;
  fs::remove(dest, ec);
  auto r = fetch_one(*opt_.fetcher, job, fetch_options(repo_, 1));
  if (!r) return fail(r.error());
  if (r->missing || r->not_modified) return std::optional<FetchResult>();
  return std::optional<FetchResult>(std::move(*r));
}

Result<std::optional<Snapshot>> SyncCore::last_snapshot(const std::vector<std::string>& paths) {
  SnapshotVisitor only;
  std::vector<SnapshotEntry> kept;
  only.entry = [&](SnapshotEntry&& e) -> Status {
    if (std::find(paths.begin(), paths.end(), e.path) != paths.end()) kept.push_back(std::move(e));
    return {};
  };
  only.package = [](PackageEntry&&) -> Status { return {}; };
  auto last = latest_snapshot(store_, repo_.name, &prev_id_, only);
  if (!last) return fail(last.error());
  if (*last) (*last)->entries = std::move(kept);
  return last;
}

Result<std::string> SyncCore::restore_held(const SnapshotEntry& held, const fs::path& dest,
                                           std::uint64_t max_size) {
  auto bytes = store_.read(held.sha256, max_size);
  if (!bytes) return fail(bytes.error());
  if (auto w = env_.write_file_atomic(dest, *bytes); !w) return fail(w.error());
  entries_[held.path] = held;
  return bytes;
}

void SyncCore::check_selection(const std::optional<Snapshot>& last) {
  const std::string selection = selection_digest(repo_).hex();
  release_info_[kSelectionKey] = selection;
  if (!last) return;
  auto held = last->release.find(kSelectionKey);
  report_.selection_changed = held == last->release.end() || held->second != selection;
}

void SyncCore::keep_direct(const std::string& path, const FetchResult& r, const fs::path& file) {
  dry_files_[r.sha256] = file;
  entries_[path] = SnapshotEntry{path, r.sha256, r.size};
  direct_.push_back({path, r.sha256, r.size, file});
}

// Fetches wants; progress is told as the part of a larger fetch that
// follows before (files and bytes done and the whole's totals), when given.
Result<std::vector<FetchResult>> SyncCore::fetch(std::span<const Want> wants,
                                                 const std::string& phase,
                                                 const FetchProgress& before) {
  if (auto s = env_.make_dirs(opt_.workdir / "partial"); !s) return fail(s.error());
  std::vector<FetchJob> jobs;
  for (const auto& w : wants) {
    jobs.push_back({address(w),
                    partial(w.sha256),
                    w.sha256,
                    w.sized ? std::optional(w.size) : std::nullopt,
                    w.sized ? w.size : kMaxUnsized,
                    {},
                    {}});
  }
  FetchOptions fo = fetch_options(repo_, opt_.jobs);
  if (opt_.progress) {
    fo.progress = [&](const FetchProgress& p) {
      if (before.files_total == 0) return opt_.progress(phase, p);
      opt_.progress(phase, {before.files_done + p.files_done, before.files_total,
                            before.bytes_done + p.bytes_done, before.bytes_total});
    };
  }
  auto results = opt_.fetcher->fetch(jobs, fo);
  if (results.size() != jobs.size())
    return fail(Code::io, "the fetcher lost results of the " + phase + " files");
  // A by-hash address the server lacks: try the canonical path once.
  std::vector<std::size_t> retry;
  std::vector<FetchJob> again;
  for (std::size_t i = 0; i < wants.size(); ++i) {
    if (!results[i].missing || wants[i].fallback_url.empty()) continue;
    retry.push_back(i);
    again.push_back({wants[i].fallback_url,
                     partial(wants[i].sha256),
                     wants[i].sha256,
                     wants[i].size,
                     wants[i].size,
                     {},
                     {}});
  }
  if (retry.empty()) return results;
  auto more = opt_.fetcher->fetch(again, fo);
  if (more.size() != again.size())
    return fail(Code::io, "the fetcher lost results of the " + phase + " files");
  for (std::size_t k = 0; k < retry.size(); ++k) results[retry[k]] = more[k];
  return results;
}

Status SyncCore::store_files(std::span<const Want> wants, const std::vector<FetchResult>& results) {
  // Verified downloads move into the store; a commit every so many files or
  // bytes keeps the work of an interrupted sync. Objects only: what records
  // the sync is its snapshot.
  std::optional<Batch> batch;
  std::size_t files = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < wants.size(); ++i) {
    const auto& r = results[i];
    if (r.error || r.missing || r.not_modified) continue;
    if (!batch) {
      auto b = store_.begin_batch();
      if (!b) return fail(b.error());
      batch.emplace(std::move(*b));
    }
    // The fetcher hashed these bytes as they arrived and checked them
    // against the signed index.
    auto id = batch->adopt_file(partial(wants[i].sha256), r.sha256, r.size);
    if (!id) return fail(id.error().context(wants[i].path));
    bytes += r.size;
    if (++files >= kPoolBatchFiles || bytes >= kPoolBatchBytes) {
      if (auto s = batch->commit(); !s) return s;
      batch.reset();
      files = 0;
      bytes = 0;
    }
  }
  return batch ? batch->commit() : Status{};
}

// The signed release files themselves.
Status SyncCore::store_direct() {
  auto batch = store_.begin_batch();
  if (!batch) return fail(batch.error());
  for (const auto& d : direct_) {
    auto fd = open_file(d.file, O_RDONLY);
    if (!fd) return fail(fd.error());
    if (auto id = batch->put_fd(fd->get(), d.sha256, d.size); !id)
      return fail(id.error().context(d.path));
  }
  return batch->commit();
}

// What of the pool the store lacks, each file once, in path order.
Result<std::vector<PoolFile>> SyncCore::pool_wants() {
  std::vector<PoolFile> wants;
  for (const auto& e : pool_) {
    report_.pool_files++;
    report_.pool_bytes += e.size;
    auto have = store_.contains(e.sha256);
    if (!have) return fail(have.error());
    if (!*have) wants.push_back({&e.path, e.sha256, e.size});
  }
  // One download of a file that several paths carry.
  auto by_content = [](const PoolFile& a, const PoolFile& b) {
    return std::tie(a.sha256, *a.path) < std::tie(b.sha256, *b.path);
  };
  std::sort(wants.begin(), wants.end(), by_content);
  auto same = [](const PoolFile& a, const PoolFile& b) { return a.sha256 == b.sha256; };
  wants.erase(std::unique(wants.begin(), wants.end(), same), wants.end());
  std::sort(wants.begin(), wants.end(),
            [](const PoolFile& a, const PoolFile& b) { return *a.path < *b.path; });
  return wants;
}

// The pool a slice at a time, so that the wants, jobs and results of only
// one slice are held (a job costs about a kilobyte).
Status SyncCore::fetch_pool(const std::vector<PoolFile>& pool) {
  std::optional<Error> first;
  std::size_t failed = 0;
  FetchProgress before{0, pool.size(), 0, 0};
  for (const auto& f : pool) before.bytes_total += f.size;
  std::vector<Want> slice;
  for (std::size_t from = 0; from < pool.size(); from += kPoolBatchFiles) {
    slice.clear();
    for (std::size_t i = from; i < std::min(from + kPoolBatchFiles, pool.size()); ++i)
      slice.push_back({*pool[i].path, "", "", pool[i].sha256, pool[i].size, ""});
    auto results = fetch(slice, "pool", before);
    if (!results) return fail(results.error());
    if (auto s = store_files(slice, *results); !s) return s;
    for (std::size_t i = 0; i < slice.size(); ++i) {
      const auto& r = (*results)[i];
      before.files_done++;
      before.bytes_done += slice[i].size;
      if (r.error || r.missing) {
        ++failed;
        if (!first)
          first = r.error ? *r.error
                          : Error{Code::refused,
                                  address(slice[i]) + " is listed in the index but missing"};
        continue;
      }
      report_.pool_fetched++;
      report_.bytes_fetched += r.size;
    }
  }
  if (failed == 0) return {};
  return fail(first->code,
              repo_.name + ": " + std::to_string(failed) + " of " + std::to_string(pool.size()) +
                  " pool files failed (" + first->message + "); " +
                  std::to_string(pool.size() - failed) +
                  " were stored and no snapshot was recorded: run sync again to resume");
}

// What the snapshot carries, what the filter selected and what its
// closure added, for a `sync` record.
void SyncCore::add_counts(json& record) const {
  record["packages"] = report_.packages;
  if (!report_.filtered) return;
  record["packages_selected"] = report_.packages_selected;
  record["packages_added"] = report_.added.size();
  record["unsatisfied"] = report_.unsatisfied.size();
}

Result<SyncReport> SyncCore::finish(const std::string& kind) {
  auto wants = pool_wants();
  if (!wants) return fail(wants.error());
  // Unchanged: nothing is fetched and no snapshot recorded, dry run or not.
  if (report_.unchanged) wants->clear();
  if (opt_.dry_run) return dry_report(*wants);
  if (report_.unchanged) return record_unchanged();
  if (auto s = fetch_pool(*wants); !s) return fail(s.error());
  return record_snapshot(kind);
}

// What the sync that follows would fetch and whether it would record a
// snapshot: wants is what it would fetch.
Result<SyncReport> SyncCore::dry_report(const std::vector<PoolFile>& wants) {
  report_.pool_missing = wants.size();
  for (const auto& w : wants) report_.bytes_missing += w.size;
  if (report_.unchanged) report_.snapshot = prev_id_;
  return report_;
}

Result<SyncReport> SyncCore::record_unchanged() {
  report_.snapshot = prev_id_;
  json rec{{"repo", repo_.name},
           {"upstream", repo_.url},
           {"snapshot", prev_id_.hex()},
           {"unchanged", true},
           {"operator", opt_.operator_name}};
  rec.update(origin_);
  add_counts(rec);
  if (auto s = ledger_.record({{"sync", std::move(rec)}}); !s) return fail(s.error());
  return report_;
}

// The snapshot and the fetch validators, committed with the `sync` record.
Result<SyncReport> SyncCore::record_snapshot(const std::string& kind) {
  Snapshot snap;
  snap.repo = repo_.name;
  snap.kind = kind;
  snap.upstream = repo_.url;
  snap.synced_at = opt_.now;
  snap.release = release_info_;
  snap.filtered = !repo_.packages.empty();
  snap.packages = std::move(packages_);
  // The pool, and the metadata where no pool file has its path (a pool
  // file at a metadata path has the same bytes: carry_packages).
  snap.entries = std::move(pool_);
  const std::size_t pool_files = snap.entries.size();
  for (auto& [path, e] : entries_) {
    auto it = std::lower_bound(
        snap.entries.begin(), snap.entries.begin() + static_cast<std::ptrdiff_t>(pool_files), path,
        [](const SnapshotEntry& a, const std::string& p) { return a.path < p; });
    if (it == snap.entries.begin() + static_cast<std::ptrdiff_t>(pool_files) || it->path != path)
      snap.entries.push_back(std::move(e));
  }
  entries_.clear();
  std::sort(snap.entries.begin(), snap.entries.end(),
            [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.path < b.path; });
  auto change = ledger_.begin();
  if (!change) return fail(change.error());
  auto batch = change->batch();
  if (!batch) return fail(batch.error());
  auto id = (*batch)->add_snapshot(snap);
  if (!id) return fail(id.error());
  for (const auto& [key, value] : validators_) (*batch)->set_meta(key, value);
  json rec{{"repo", repo_.name},
           {"upstream", repo_.url},
           {"snapshot", id->hex()},
           {"files", snap.entries.size()},
           {"bytes", snap.total_size()},
           {"fetched_files", report_.metadata_fetched + report_.pool_fetched},
           {"fetched_bytes", report_.bytes_fetched},
           {"operator", opt_.operator_name}};
  rec.update(origin_);
  if (report_.selection_changed) rec["selection_changed"] = true;
  add_counts(rec);
  if (auto s = change->commit({{"sync", std::move(rec)}}); !s) return fail(s.error());
  report_.snapshot = *id;
  return report_;
}

// Each package's file, once.
Status SyncCore::carry_packages() {
  // Room for the metadata too: record_snapshot adds it without growing.
  pool_.reserve(packages_.size() + entries_.size());
  for (const auto& p : packages_) {
    if (!is_safe_relative_path(p.path)) {
      return fail(Code::refused,
                  repo_.name + ": " + p.index + " names an unsafe pool path '" + p.path + "'");
    }
    // A package where the signed metadata has other bytes would take its place.
    if (auto meta = entries_.find(p.path);
        meta != entries_.end() && meta->second.sha256 != p.sha256) {
      return fail(Code::refused, repo_.name + ": " + p.index + " names a package at " + p.path +
                                     ", where the signed metadata has a file of other bytes "
                                     "(sha256 " +
                                     meta->second.sha256.hex() + ", the package's " +
                                     p.sha256.hex() + ")");
    }
    pool_.push_back({p.path, p.sha256, p.size});
  }
  // Each file once, however many indices list it; never two contents.
  std::sort(pool_.begin(), pool_.end(), [](const SnapshotEntry& a, const SnapshotEntry& b) {
    return std::tie(a.path, a.sha256) < std::tie(b.path, b.sha256);
  });
  for (std::size_t i = 1; i < pool_.size(); ++i) {
    if (pool_[i].path == pool_[i - 1].path && pool_[i].sha256 != pool_[i - 1].sha256) {
      return fail(Code::refused, repo_.name + ": the indices list " + pool_[i].path +
                                     " with two contents (sha256 " + pool_[i - 1].sha256.hex() +
                                     " and " + pool_[i].sha256.hex() + ")");
    }
  }
  auto same_path = [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.path == b.path; };
  pool_.erase(std::unique(pool_.begin(), pool_.end(), same_path), pool_.end());
  return {};
}

}  // namespace airlock::mirror
