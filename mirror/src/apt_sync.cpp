#include "airlock/mirror/apt_sync.h"

#include <fcntl.h>
#include <fnmatch.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "airlock/base/env.h"
#include "airlock/base/file.h"
#include "airlock/formats/compress.h"
#include "airlock/formats/packages.h"
#include "airlock/formats/release.h"
#include "airlock/formats/version.h"
#include "airlock/mirror/gpgv.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kMaxIndex = 1ull << 30;
constexpr std::size_t kPoolBatchFiles = 4096;
constexpr std::uint64_t kPoolBatchBytes = 1ull << 30;

bool is_index_of(std::string_view path, std::string_view dir, std::string_view base) {
  // dir/base, dir/base.gz, dir/base.xz ...
  if (!path.starts_with(dir)) return false;
  auto name = path.substr(dir.size());
  if (name == base) return true;
  if (!name.starts_with(base) || name.size() <= base.size() || name[base.size()] != '.') return false;
  auto ext = name.substr(base.size() + 1);
  return ext == "gz" || ext == "xz" || ext == "bz2" || ext == "lzma" || ext == "zst";
}

int variant_rank(std::string_view path) {
  if (path.ends_with(".xz")) return 1;
  if (path.ends_with(".gz")) return 2;
  if (path.ends_with(".bz2")) return 3;
  if (path.ends_with(".lzma")) return 4;
  if (path.ends_with(".zst")) return 5;
  return 0;  // uncompressed first
}

std::string parent(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

struct SuiteState {
  std::string suite;
  std::string dists;  // "dists/<suite>/"
  apt::Release release;
  std::vector<std::string> index_paths;  // relative to dists, the Packages/Release/Translation files
  bool changed = true;
};

// One metadata or pool file to fetch.
struct Want {
  std::string path;  // repository-relative path in the snapshot
  std::string url;
  std::string fallback_url;  // canonical path when url is a by-hash address
  Digest sha256;
  std::uint64_t size = 0;
  bool optional = false;  // an uncompressed index a server may not publish
};

Result<std::string> read_object(const Store& store, const Digest& id) { return store.read(id, kMaxIndex); }

}  // namespace

Result<std::optional<Snapshot>> latest_snapshot(const Store& store, std::string_view repo, Digest* id) {
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  const SnapshotInfo* best = nullptr;
  for (const auto& s : *list) {
    if (s.repo == repo) best = &s;  // the list is oldest first
  }
  if (!best) return std::optional<Snapshot>{};
  auto snap = store.get_snapshot(best->id);
  if (!snap) return fail(snap.error());
  if (id) *id = best->id;
  return std::optional<Snapshot>(std::move(*snap));
}

Result<std::vector<PackageVersion>> snapshot_packages(const Store& store, const Snapshot& snapshot) {
  // One Packages variant per directory, the cheapest to read.
  std::map<std::string, const SnapshotEntry*> chosen;
  for (const auto& e : snapshot.entries) {
    auto dir = parent(e.path);
    if (!e.path.starts_with("dists/") || dir.find("/binary-") == std::string::npos) continue;
    if (!is_index_of(e.path, dir + "/", "Packages")) continue;
    auto& slot = chosen[dir];
    if (!slot || variant_rank(e.path) < variant_rank(slot->path)) slot = &e;
  }
  std::vector<PackageVersion> out;
  for (const auto& [dir, e] : chosen) {
    auto bytes = read_object(store, e->sha256);
    if (!bytes) return fail(bytes.error());
    auto text = formats::decompress_index(*bytes);
    if (!text) return fail(text.error().context(e->path));
    auto records = apt::parse_packages(*text);
    if (!records) return fail(records.error().context(e->path));
    for (auto& r : *records) out.push_back({r.package, r.architecture, r.version});
  }
  return out;
}

std::vector<PackageChange> diff_packages(const std::vector<PackageVersion>& before,
                                         const std::vector<PackageVersion>& after) {
  auto newest = [](const std::vector<PackageVersion>& list) {
    std::map<std::pair<std::string, std::string>, std::string> m;
    for (const auto& p : list) {
      auto& v = m[{p.package, p.architecture}];
      if (v.empty() || apt::compare_versions(v, p.version) < 0) v = p.version;
    }
    return m;
  };
  auto a = newest(before), b = newest(after);
  std::vector<PackageChange> out;
  for (const auto& [key, version] : b) {
    auto it = a.find(key);
    if (it == a.end()) {
      out.push_back({PackageChange::added, key.first, key.second, "", version});
    } else if (int c = apt::compare_versions(it->second, version); c != 0) {
      out.push_back({c < 0 ? PackageChange::upgraded : PackageChange::downgraded, key.first, key.second,
                     it->second, version});
    }
  }
  for (const auto& [key, version] : a) {
    if (!b.contains(key)) out.push_back({PackageChange::removed, key.first, key.second, version, ""});
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    return std::tie(x.package, x.architecture) < std::tie(y.package, y.architecture);
  });
  return out;
}

namespace {

class AptSync {
 public:
  AptSync(const RepoConfig& repo, Store& store, TransferLog& log, const SyncOptions& options)
      : repo_(repo), store_(store), log_(log), opt_(options) {}

  Result<SyncReport> run();

 private:
  Status load_previous();
  Result<SuiteState> fetch_release(const std::string& suite);
  Status choose_indices(SuiteState& s);
  Result<std::vector<FetchResult>> fetch(std::vector<Want>& wants, const std::string& phase);
  Status store_files(const std::vector<Want>& wants, const std::vector<FetchResult>& results);
  Result<std::string> index_text(const std::string& path, const Digest& id);
  fs::path partial(const Digest& id) const { return opt_.workdir / "partial" / id.hex(); }
  std::string url(const std::string& path) const { return repo_.url + "/" + path; }

  const RepoConfig& repo_;
  Store& store_;
  TransferLog& log_;
  const SyncOptions& opt_;
  std::optional<Snapshot> prev_;
  std::map<std::string, SnapshotEntry> entries_;  // the new snapshot
  std::map<std::string, std::string> release_info_;
  std::vector<std::pair<std::string, std::string>> validators_;  // meta key -> json
  std::map<Digest, fs::path> dry_files_;  // verified files by content, before they are stored
  struct Direct {
    std::string path;
    Digest sha256;
    std::uint64_t size;
    fs::path file;
  };
  std::vector<Direct> direct_;  // InRelease, Release, Release.gpg as fetched
  SyncReport report_;
};

Status AptSync::load_previous() {
  auto prev = latest_snapshot(store_, repo_.name);
  if (!prev) return fail(prev.error());
  prev_ = std::move(*prev);
  return {};
}

Result<SuiteState> AptSync::fetch_release(const std::string& suite) {
  SuiteState s;
  s.suite = suite;
  s.dists = "dists/" + suite + "/";
  const std::string inrelease = s.dists + "InRelease";
  const std::string meta_key = "fetch/" + repo_.name + "/" + inrelease;
  const SnapshotEntry* held = prev_ ? prev_->find(inrelease) : nullptr;

  FetchJob job;
  job.url = url(inrelease);
  job.dest = opt_.workdir / "meta" / (suite + ".InRelease");
  job.max_size = 64ull << 20;
  std::error_code ec;
  fs::remove(job.dest, ec);
  if (held) {
    if (auto v = store_.get_meta(meta_key)) {
      json j = json::parse(*v, nullptr, false);
      if (j.is_object()) {
        job.if_none_match = j.value("etag", "");
        job.if_modified_since = j.value("last_modified", "");
      }
    }
  }
  FetchOptions fo;
  fo.jobs = 1;
  auto results = opt_.fetcher->fetch({job}, fo);
  auto& r = results[0];
  if (r.error) return fail(*r.error);

  std::string release_text;
  auto scratch = opt_.workdir / "gpg";
  if (r.not_modified && held) {
    // Unchanged upstream: this suite's files come from the previous snapshot.
    s.changed = false;
    auto bytes = store_.read(held->sha256, 64ull << 20);
    if (!bytes) return fail(bytes.error());
    auto copy = opt_.workdir / "meta" / (suite + ".InRelease.held");
    if (auto w = Env::system().write_file_atomic(copy, *bytes); !w) return fail(w.error());
    auto text = gpgv_clearsigned(repo_.keyring, copy, scratch);
    if (!text) return fail(text.error().context(repo_.name + " " + inrelease));
    release_text = std::move(*text);
    for (const auto& e : prev_->entries) {
      if (e.path.starts_with(s.dists)) entries_[e.path] = e;
    }
  } else if (r.missing || r.not_modified) {
    // No InRelease: Release with a detached Release.gpg.
    FetchJob rel{url(s.dists + "Release"), opt_.workdir / "meta" / (suite + ".Release"), {}, {}, 64ull << 20, {}, {}};
    FetchJob sig{url(s.dists + "Release.gpg"), opt_.workdir / "meta" / (suite + ".Release.gpg"), {}, {}, 1ull << 20, {}, {}};
    fs::remove(rel.dest, ec);
    fs::remove(sig.dest, ec);
    auto two = opt_.fetcher->fetch({rel, sig}, fo);
    for (std::size_t i = 0; i < 2; ++i) {
      if (two[i].error) return fail(*two[i].error);
      if (two[i].missing) {
        return fail(Code::refused, repo_.name + ": " + s.dists + " has neither InRelease nor a signed Release");
      }
    }
    if (auto v = gpgv_detached(repo_.keyring, sig.dest, rel.dest, scratch); !v) {
      return fail(v.error().context(repo_.name + " " + s.dists + "Release"));
    }
    auto text = read_file(rel.dest, 64ull << 20);
    if (!text) return fail(text.error());
    release_text = *text;
    for (auto [path, res, dest] : {std::tuple{s.dists + "Release", &two[0], rel.dest},
                                   std::tuple{s.dists + "Release.gpg", &two[1], sig.dest}}) {
      dry_files_[res->sha256] = dest;
      entries_[path] = SnapshotEntry{path, res->sha256, res->size};
      direct_.push_back({path, res->sha256, res->size, dest});
    }
    report_.metadata_fetched += 2;
  } else {
    auto text = gpgv_clearsigned(repo_.keyring, job.dest, scratch);
    if (!text) return fail(text.error().context(repo_.name + " " + inrelease));
    release_text = std::move(*text);
    dry_files_[r.sha256] = job.dest;
    entries_[inrelease] = SnapshotEntry{inrelease, r.sha256, r.size};
    direct_.push_back({inrelease, r.sha256, r.size, job.dest});
    ++report_.metadata_fetched;
    json v{{"etag", r.etag}, {"last_modified", r.last_modified}};
    validators_.emplace_back(meta_key, v.dump());
  }

  auto release = apt::parse_release(release_text);
  if (!release) return fail(release.error().context(repo_.name + " " + s.dists));
  s.release = std::move(*release);
  if (repo_.check_valid_until && s.release.valid_until && opt_.now > *s.release.valid_until) {
    return fail(Code::refused, repo_.name + ": " + s.dists + " expired at " +
                                   format_time(*s.release.valid_until) +
                                   " (Valid-Until); set check_valid_until = false to accept it");
  }
  if (prev_ && s.release.date) {
    auto it = prev_->release.find(suite + "/Date");
    if (it != prev_->release.end()) {
      auto before = apt::parse_rfc2822(it->second);
      if (before && *s.release.date < *before) {
        return fail(Code::refused, repo_.name + ": " + s.dists + " is dated " +
                                       s.release.fields.find("Date")->second +
                                       ", older than the last snapshot's " + it->second +
                                       " (the upstream went back in time)");
      }
    }
  }
  for (const char* f : {"Date", "Valid-Until", "Origin", "Label", "Suite", "Codename"}) {
    auto it = s.release.fields.find(f);
    if (it != s.release.fields.end()) release_info_[suite + "/" + f] = it->second;
  }
  return s;
}

Status AptSync::choose_indices(SuiteState& s) {
  const auto& rel = s.release;
  for (const auto& comp : repo_.components) {
    // Debian security lists "updates/main" but serves it under "main/".
    std::vector<std::string> prefixes{comp + "/", "updates/" + comp + "/"};
    std::string prefix;
    for (const auto& p : prefixes) {
      bool listed = std::any_of(rel.files.begin(), rel.files.end(),
                                [&](const apt::ReleaseFile& f) { return f.path.starts_with(p); });
      if (listed) {
        prefix = p;
        break;
      }
    }
    if (prefix.empty()) {
      return fail(Code::refused, repo_.name + ": " + s.dists + " lists nothing for component '" + comp + "'");
    }
    for (const auto& arch : repo_.architectures) {
      std::string dir = prefix + "binary-" + arch + "/";
      bool any = false;
      for (const auto& f : rel.files) {
        if (is_index_of(f.path, dir, "Packages") || f.path == dir + "Release") {
          s.index_paths.push_back(f.path);
          any = any || f.path != dir + "Release";
        }
      }
      if (!any) {
        return fail(Code::refused, repo_.name + ": " + s.dists + " lists no Packages for " + comp + "/" + arch);
      }
    }
    if (repo_.translations) {
      for (const auto& f : rel.files) {
        if (is_index_of(f.path, prefix + "i18n/", "Translation-en")) s.index_paths.push_back(f.path);
      }
    }
  }
  return {};
}

Result<std::vector<FetchResult>> AptSync::fetch(std::vector<Want>& wants, const std::string& phase) {
  if (auto s = make_dirs(opt_.workdir / "partial"); !s) return fail(s.error());
  std::vector<FetchJob> jobs;
  for (const auto& w : wants) {
    jobs.push_back({w.url, partial(w.sha256), w.sha256, w.size, w.size, {}, {}});
  }
  FetchOptions fo;
  fo.jobs = opt_.jobs;
  if (opt_.progress) fo.progress = [&](const FetchProgress& p) { opt_.progress(phase, p); };
  auto results = opt_.fetcher->fetch(jobs, fo);
  // A by-hash address the server lacks: try the canonical path once.
  std::vector<std::size_t> retry;
  for (std::size_t i = 0; i < wants.size(); ++i) {
    if (results[i].missing && !wants[i].fallback_url.empty()) retry.push_back(i);
  }
  if (!retry.empty()) {
    std::vector<FetchJob> again;
    for (auto i : retry) {
      again.push_back({wants[i].fallback_url, partial(wants[i].sha256), wants[i].sha256, wants[i].size,
                       wants[i].size, {}, {}});
    }
    auto more = opt_.fetcher->fetch(again, fo);
    for (std::size_t k = 0; k < retry.size(); ++k) results[retry[k]] = more[k];
  }
  return results;
}

Status AptSync::store_files(const std::vector<Want>& wants, const std::vector<FetchResult>& results) {
  // Verified downloads move into the store; a commit every so many files or
  // bytes keeps the work of an interrupted sync.
  std::optional<Batch> batch;
  std::size_t files = 0;
  std::uint64_t bytes = 0;
  auto commit = [&]() -> Status {
    if (!batch) return {};
    if (auto s = batch->commit(); !s) return s;
    batch.reset();
    files = 0;
    bytes = 0;
    return {};
  };
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
      if (auto s = commit(); !s) return s;
    }
  }
  return commit();
}

Result<std::string> AptSync::index_text(const std::string& path, const Digest& id) {
  std::string bytes;
  if (auto it = dry_files_.find(id); opt_.dry_run && it != dry_files_.end()) {
    auto b = read_file(it->second, kMaxIndex);
    if (!b) return fail(b.error());
    bytes = std::move(*b);
  } else {
    auto b = read_object(store_, id);
    if (!b) return fail(b.error());
    bytes = std::move(*b);
  }
  auto text = formats::decompress_index(bytes);
  if (!text) return fail(text.error().context(path));
  return text;
}

Result<SyncReport> AptSync::run() {
  report_.repo = repo_.name;
  if (auto s = load_previous(); !s) return fail(s.error());
  if (auto s = make_dirs(opt_.workdir / "meta"); !s) return fail(s.error());

  std::vector<SuiteState> suites;
  for (const auto& suite : repo_.suites) {
    auto s = fetch_release(suite);
    if (!s) return fail(s.error());
    if (auto c = choose_indices(*s); !c) return fail(c.error());
    suites.push_back(std::move(*s));
  }
  bool changed = std::any_of(suites.begin(), suites.end(), [](const SuiteState& s) { return s.changed; });

  // Metadata: every index of a changed suite, checked against the signed Release.
  std::vector<Want> meta;
  for (const auto& s : suites) {
    if (!s.changed) continue;
    for (const auto& p : s.index_paths) {
      const auto* f = s.release.find(p);
      std::string path = s.dists + p;
      entries_[path] = SnapshotEntry{path, f->sha256, f->size};
      auto have = store_.contains(f->sha256);
      if (!have) return fail(have.error());
      if (*have) continue;
      Want w{path, url(path), "", f->sha256, f->size, variant_rank(p) == 0 && !p.ends_with("/Release")};
      if (s.release.acquire_by_hash) {
        w.fallback_url = w.url;
        w.url = url(s.dists + parent(p) + "/by-hash/SHA256/" + f->sha256.hex());
      }
      meta.push_back(std::move(w));
    }
  }
  auto meta_results = fetch(meta, "metadata");
  if (!meta_results) return fail(meta_results.error());
  for (std::size_t i = 0; i < meta.size(); ++i) {
    auto& r = (*meta_results)[i];
    if (r.missing && meta[i].optional) {
      entries_.erase(meta[i].path);  // listed, but only compressed variants are published
      continue;
    }
    if (r.missing) return fail(Code::refused, repo_.name + ": " + meta[i].url + " is listed in the Release but missing");
    if (r.error) return fail(*r.error);
    report_.metadata_fetched++;
    report_.bytes_fetched += r.size;
    dry_files_[meta[i].sha256] = partial(meta[i].sha256);
  }
  if (!opt_.dry_run) {
    if (auto s = store_files(meta, *meta_results); !s) return fail(s.error());
    // The signed release files themselves.
    auto batch = store_.begin_batch();
    if (!batch) return fail(batch.error());
    for (const auto& d : direct_) {
      auto fd = open_file(d.file, O_RDONLY);
      if (!fd) return fail(fd.error());
      if (auto id = batch->put_fd(fd->get(), d.sha256, d.size); !id) return fail(id.error().context(d.path));
    }
    if (auto s = batch->commit(); !s) return fail(s.error());
  }

  // Pool files selected from every Packages index (one variant per directory).
  std::map<std::string, SnapshotEntry> pool;
  for (const auto& s : suites) {
    std::map<std::string, std::string> chosen;  // dir -> path
    for (const auto& p : s.index_paths) {
      std::string path = s.dists + p;
      if (!entries_.contains(path) || !is_index_of(path, parent(path) + "/", "Packages")) continue;
      auto& slot = chosen[parent(path)];
      if (slot.empty() || variant_rank(path) < variant_rank(slot)) slot = path;
    }
    for (const auto& [dir, path] : chosen) {
      auto text = index_text(path, entries_[path].sha256);
      if (!text) return fail(text.error());
      auto records = apt::parse_packages(*text);
      if (!records) return fail(records.error().context(repo_.name + " " + path));
      for (const auto& rec : *records) {
        if (!repo_.packages.empty()) {
          bool match = std::any_of(repo_.packages.begin(), repo_.packages.end(), [&](const std::string& g) {
            return ::fnmatch(g.c_str(), rec.package.c_str(), 0) == 0;
          });
          if (!match) continue;
        }
        if (!is_safe_relative_path(rec.filename)) {
          return fail(Code::refused, repo_.name + ": " + path + " names an unsafe pool path '" + rec.filename + "'");
        }
        auto [it, inserted] = pool.emplace(rec.filename, SnapshotEntry{rec.filename, rec.sha256, rec.size});
        if (!inserted && it->second.sha256 != rec.sha256) {
          return fail(Code::refused, repo_.name + ": two indices disagree about " + rec.filename);
        }
      }
    }
  }
  std::vector<Want> wants;
  std::set<Digest> seen;
  for (const auto& [path, e] : pool) {
    entries_[path] = e;
    report_.pool_files++;
    report_.pool_bytes += e.size;
    auto have = store_.contains(e.sha256);
    if (!have) return fail(have.error());
    if (*have || !seen.insert(e.sha256).second) continue;
    wants.push_back({path, url(path), "", e.sha256, e.size, false});
  }
  if (opt_.dry_run) {
    report_.pool_missing = wants.size();
    for (const auto& w : wants) report_.bytes_missing += w.size;
    report_.unchanged = !changed;
    return report_;
  }
  if (!changed) {
    // Nothing new upstream: keep the current snapshot.
    Digest id;
    auto cur = latest_snapshot(store_, repo_.name, &id);
    if (!cur) return fail(cur.error());
    report_.unchanged = true;
    report_.snapshot = id;
    json rec{{"repo", repo_.name}, {"upstream", repo_.url}, {"snapshot", id.hex()}, {"unchanged", true}};
    if (auto n = log_.append("sync", rec.dump()); !n) return fail(n.error());
    if (auto s = log_.sync(); !s) return fail(s.error());
    return report_;
  }
  auto pool_results = fetch(wants, "pool");
  if (!pool_results) return fail(pool_results.error());
  if (auto s = store_files(wants, *pool_results); !s) return fail(s.error());
  std::optional<Error> first;
  std::size_t failed = 0;
  for (std::size_t i = 0; i < wants.size(); ++i) {
    auto& r = (*pool_results)[i];
    if (r.error || r.missing) {
      ++failed;
      if (!first) first = r.error ? *r.error : Error{Code::refused, wants[i].url + " is listed in the index but missing"};
      continue;
    }
    report_.pool_fetched++;
    report_.bytes_fetched += r.size;
  }
  if (failed > 0) {
    return fail(first->code, repo_.name + ": " + std::to_string(failed) + " of " + std::to_string(wants.size()) +
                                 " pool files failed (" + first->message + "); " +
                                 std::to_string(wants.size() - failed) +
                                 " were stored and no snapshot was recorded: run sync again to resume");
  }

  Snapshot snap;
  snap.repo = repo_.name;
  snap.kind = "apt";
  snap.upstream = repo_.url;
  snap.synced_at = opt_.now;
  snap.release = release_info_;
  for (auto& [path, e] : entries_) snap.entries.push_back(e);
  auto batch = store_.begin_batch();
  if (!batch) return fail(batch.error());
  auto id = batch->add_snapshot(snap);
  if (!id) return fail(id.error());
  for (const auto& [key, value] : validators_) batch->set_meta(key, value);
  if (auto s = batch->commit(); !s) return fail(s.error());
  report_.snapshot = *id;
  json rec{{"repo", repo_.name},
           {"upstream", repo_.url},
           {"snapshot", id->hex()},
           {"files", snap.entries.size()},
           {"bytes", snap.total_size()},
           {"fetched_files", report_.metadata_fetched + report_.pool_fetched},
           {"fetched_bytes", report_.bytes_fetched}};
  if (auto n = log_.append("sync", rec.dump()); !n) return fail(n.error());
  if (auto s = log_.sync(); !s) return fail(s.error());
  return report_;
}

}  // namespace

Result<SyncReport> sync_apt(const RepoConfig& repo, Store& store, TransferLog& log, const SyncOptions& options) {
  if (!options.fetcher) return fail(Code::invalid_input, "sync needs a fetcher");
  AptSync sync(repo, store, log, options);
  return sync.run();
}

}  // namespace airlock::mirror
