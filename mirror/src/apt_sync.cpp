#include "airlock/mirror/apt_sync.h"

#include <fcntl.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <tuple>

#include "airlock/base/env.h"
#include "airlock/base/file.h"
#include "airlock/formats/clearsign.h"
#include "airlock/formats/compress.h"
#include "airlock/formats/packages.h"
#include "airlock/formats/release.h"
#include "airlock/verify/gpgv.h"
#include "apt_paths.h"
#include "apt_select.h"
#include "sync_core.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::uint64_t kMaxIndex = 1ull << 30;
constexpr std::uint64_t kMaxRelease = 64ull << 20;

struct SuiteState {
  std::string suite;
  std::string dists;   // "dists/<suite>/"
  std::string source;  // the URL its verified Release text came from
  apt::Release release;
  std::vector<std::string>
      index_paths;  // relative to dists, the Packages/Release/Translation files
  bool changed = true;
  std::string signed_by;  // fingerprint of the vendor key that signed its Release
};

// The index a listed file is a variant of: its path without a compression
// suffix ("main/binary-amd64/Packages.xz" -> "main/binary-amd64/Packages").
std::string index_of_variant(const std::string& path) {
  if (variant_rank(path) == 0) return path;
  return path.substr(0, path.rfind('.'));
}

// Hosts need a Packages (and, when configured, a Translation) of each
// directory; a per-architecture Release only describes its directory.
bool hosts_need(const std::string& index) { return !index.ends_with("/Release"); }

PackageVersion package_version(const apt::PackageRecord& rec) {
  return {rec.package, rec.architecture, rec.version};
}

// Sorted, each package once (one package may be listed by several indices).
void sort_packages(std::vector<PackageVersion>& list) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

class AptSync : SyncCore {
 public:
  using SyncCore::SyncCore;

  Result<SyncReport> run();

 private:
  Result<SuiteState> fetch_release(const std::string& suite);
  Result<std::string> release_text(SuiteState& s);
  Result<std::string> held_release(SuiteState& s, const SnapshotEntry& held);
  Result<std::string> detached_release(SuiteState& s);
  Result<GpgvSignature> verify_inrelease(const fs::path& file, const std::string& where);
  Status check_release(SuiteState& s, const std::string& text);
  Status check_suite(const SuiteState& s) const;
  Status choose_indices(SuiteState& s);
  Result<std::vector<Want>> metadata_wants(const std::vector<SuiteState>& suites);
  Status fetch_metadata(const std::vector<SuiteState>& suites);
  Status check_variants(const std::vector<Want>& meta) const;
  Result<IndexRecords> read_indices(const std::vector<SuiteState>& suites);
  Status select_pool(const std::vector<SuiteState>& suites);
  Status read_index(const std::string& path, const Digest& id, IndexRecords& out);
  // What the last snapshot carries, read with its release and entries.
  struct Held {
    std::size_t packages = 0;
    std::size_t pool_files = 0;
    std::uint64_t pool_bytes = 0;
  };
  Result<SyncReport> report_held(const Held& held);
  static json suite_records(const std::vector<SuiteState>& suites);

  std::optional<Snapshot> prev_;  // the last snapshot's release and entries under dists/
};

Result<SuiteState> AptSync::fetch_release(const std::string& suite) {
  SuiteState s;
  s.suite = suite;
  s.dists = "dists/" + suite + "/";
  auto text = release_text(s);
  if (!text) return fail(text.error());
  if (auto c = check_release(s, *text); !c) return fail(c.error());
  return s;
}

// The verified text of the suite's Release: a fresh InRelease, the one held
// when the upstream answers 304, or Release checked against Release.gpg.
Result<std::string> AptSync::release_text(SuiteState& s) {
  const std::string inrelease = s.dists + "InRelease";
  const SnapshotEntry* held = prev_ ? prev_->find(inrelease) : nullptr;
  const fs::path dest = opt_.workdir / "meta" / (s.suite + ".InRelease");
  auto r = fetch_head(inrelease, dest, kMaxRelease, held != nullptr);
  if (!r) return fail(r.error());
  if (r->not_modified && held) return held_release(s, *held);
  if (r->missing || r->not_modified) return detached_release(s);
  s.source = url(inrelease);
  auto text = verify_inrelease(dest, s.source);
  if (!text) return fail(text.error());
  s.signed_by = text->fingerprint;
  keep_direct(inrelease, *r, dest);
  ++report_.metadata_fetched;
  return std::move(text->text);
}

// Unchanged upstream: this suite's files come from the previous snapshot
// (only its InRelease when the selection changed), and its InRelease is
// verified again.
Result<std::string> AptSync::held_release(SuiteState& s, const SnapshotEntry& held) {
  s.changed = false;
  auto copy = opt_.workdir / "meta" / (s.suite + ".InRelease.held");
  if (auto bytes = restore_held(held, copy, kMaxRelease); !bytes) return fail(bytes.error());
  s.source = url(held.path) + " (held from the last snapshot)";
  auto text = verify_inrelease(copy, s.source);
  if (!text) return fail(text.error());
  s.signed_by = text->fingerprint;
  // A changed selection chooses its indices again (metadata_wants).
  for (const auto& e : prev_->entries) {
    if (e.path.starts_with(s.dists) && !report_.selection_changed) entries_[e.path] = e;
  }
  return std::move(text->text);
}

// No InRelease: Release with a detached Release.gpg.
Result<std::string> AptSync::detached_release(SuiteState& s) {
  FetchJob rel{url(s.dists + "Release"),
               opt_.workdir / "meta" / (s.suite + ".Release"),
               {},
               {},
               kMaxRelease,
               {},
               {}};
  FetchJob sig{url(s.dists + "Release.gpg"),
               opt_.workdir / "meta" / (s.suite + ".Release.gpg"),
               {},
               {},
               1ull << 20,
               {},
               {}};
  std::error_code ec;
  fs::remove(rel.dest, ec);
  fs::remove(sig.dest, ec);
  auto two = opt_.fetcher->fetch({rel, sig}, fetch_options(repo_, 1));
  if (two.size() != 2) return fail(Code::io, "the fetcher answered " + rel.url + " with no result");
  for (const auto& r : two) {
    if (r.error) return fail(*r.error);
    if (r.missing)
      return fail(Code::refused,
                  repo_.name + ": " + s.dists + " has neither InRelease nor a signed Release");
  }
  auto v = gpgv_check_detached(repo_.keyring, sig.dest, rel.dest, scratch());
  if (!v) return fail(v.error().context(repo_.name + " " + s.dists + "Release"));
  s.signed_by = v->fingerprint;
  s.source = rel.url;
  auto text = read_file(rel.dest, kMaxRelease);
  if (!text) return fail(text.error());
  keep_direct(s.dists + "Release", two[0], rel.dest);
  keep_direct(s.dists + "Release.gpg", two[1], sig.dest);
  report_.metadata_fetched += 2;
  return text;
}

// An InRelease must be exactly one clearsigned message with a good
// signature (verify_clearsigned).
Result<GpgvSignature> AptSync::verify_inrelease(const fs::path& file, const std::string& where) {
  return verify_clearsigned(repo_, file, where, scratch(), kMaxRelease);
}

// The Release must be the configured suite's: a validly signed Release of
// another suite (sid served as bookworm) would replace one with the other.
Status AptSync::check_suite(const SuiteState& s) const {
  const auto& f = s.release.fields;
  auto suite = f.find("Suite");
  auto codename = f.find("Codename");
  if ((suite != f.end() && suite->second == s.suite) ||
      (codename != f.end() && codename->second == s.suite)) {
    return {};
  }
  auto shown = [&](const apt::Paragraph::const_iterator& it) {
    return it == f.end() ? std::string("none") : "'" + it->second + "'";
  };
  return fail(Code::refused, repo_.name + ": " + s.source + " is for another suite: expected '" +
                                 s.suite + "' (Suite or Codename), actual Suite " + shown(suite) +
                                 ", Codename " + shown(codename));
}

Status AptSync::check_release(SuiteState& s, const std::string& text) {
  auto release = apt::parse_release(text);
  if (!release) return fail(release.error().context(repo_.name + " " + s.dists));
  s.release = std::move(*release);
  if (auto c = check_suite(s); !c) return c;
  if (repo_.check_valid_until && s.release.valid_until && opt_.now > *s.release.valid_until) {
    return fail(Code::refused, repo_.name + ": " + s.dists + " expired at " +
                                   format_time(*s.release.valid_until) +
                                   " (Valid-Until); set check_valid_until = false to accept it");
  }
  if (prev_ && s.release.date) {
    auto it = prev_->release.find(s.suite + "/Date");
    auto now_date = s.release.fields.find("Date");
    if (it != prev_->release.end() && now_date != s.release.fields.end()) {
      auto before = apt::parse_rfc2822(it->second);
      if (before && *s.release.date < *before) {
        return fail(Code::refused, repo_.name + ": " + s.dists + " is dated " + now_date->second +
                                       ", older than the last snapshot's " + it->second +
                                       " (the upstream went back in time)");
      }
    }
  }
  for (const char* f : {"Date", "Valid-Until", "Origin", "Label", "Suite", "Codename"}) {
    auto it = s.release.fields.find(f);
    if (it != s.release.fields.end()) release_info_[s.suite + "/" + f] = it->second;
  }
  return {};
}

Status AptSync::choose_indices(SuiteState& s) {
  const auto& rel = s.release;
  for (const auto& comp : repo_.components) {
    // Debian security lists "updates/main" but serves it under "main/".
    std::string prefix;
    for (const auto& p : {comp + "/", "updates/" + comp + "/"}) {
      bool listed = std::any_of(rel.files.begin(), rel.files.end(),
                                [&](const apt::ReleaseFile& f) { return f.path.starts_with(p); });
      if (listed) {
        prefix = p;
        break;
      }
    }
    if (prefix.empty()) {
      return fail(Code::refused,
                  repo_.name + ": " + s.dists + " lists nothing for component '" + comp + "'");
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
        return fail(Code::refused,
                    repo_.name + ": " + s.dists + " lists no Packages for " + comp + "/" + arch);
      }
    }
    if (repo_.translations) {
      for (const auto& f : rel.files) {
        if (is_index_of(f.path, prefix + "i18n/", "Translation-en"))
          s.index_paths.push_back(f.path);
      }
    }
  }
  return {};
}

// The records of the Packages index at path (content id) into out, parsed
// as it is decompressed: its text is never held whole.
Status AptSync::read_index(const std::string& path, const Digest& id, IndexRecords& out) {
  auto it = dry_files_.find(id);
  auto reader = opt_.dry_run && it != dry_files_.end()
                    ? ObjectReader::open(it->second, id, kMaxIndex)
                    : store_.read_pieces(id, kMaxIndex);
  if (!reader) return fail(reader.error());
  // Where an error came from: the text (deb822 or a record: named by
  // repository and path), a refusal of add (which names them itself), or
  // the decompression (named by path). Bytes that are not the index's
  // are reported as such, whatever their parse said.
  enum class From { decompression, text, add } from = From::decompression;
  apt::ParagraphStream paragraphs([&](const apt::Paragraph& p) -> Status {
    auto rec = apt::parse_package_record(p);
    if (!rec) return fail(rec.error());
    auto added = out.add(repo_.name, path, std::move(*rec));
    if (!added) from = From::add;
    return added;
  });
  auto source = [&reader] { return reader->next(); };
  auto s = formats::decompress_index_to(source, [&](std::string_view piece) -> Status {
    auto fed = paragraphs.feed(piece);
    if (!fed && from != From::add) from = From::text;
    return fed;
  });
  if (s) {
    s = paragraphs.finish();
    if (!s && from != From::add) from = From::text;
  }
  if (auto whole = reader->finish(); !whole) return fail(whole.error().context(path));
  if (s) return {};
  if (from == From::add) return s;
  if (from == From::text) return fail(s.error().context(repo_.name + " " + path));
  return fail(s.error().context(path));
}

// Every index of a changed suite (every suite, when the selection changed)
// that the store lacks, as the signed Release lists it.
Result<std::vector<Want>> AptSync::metadata_wants(const std::vector<SuiteState>& suites) {
  std::vector<Want> meta;
  for (const auto& s : suites) {
    if (!s.changed && !report_.selection_changed) continue;
    for (const auto& p : s.index_paths) {
      const auto* f = s.release.find(p);
      if (!f)
        return fail(Code::refused, repo_.name + ": " + s.dists + "Release does not list " + p);
      std::string path = s.dists + p;
      entries_[path] = SnapshotEntry{path, f->sha256, f->size};
      auto have = store_.contains(f->sha256);
      if (!have) return fail(have.error());
      if (*have) continue;
      Want w{path, url(path), "", f->sha256, f->size, index_of_variant(path)};
      if (s.release.acquire_by_hash) {
        w.fallback_url = w.url;
        w.url = url(s.dists + parent(p) + "/by-hash/SHA256/" + f->sha256.hex());
      }
      meta.push_back(std::move(w));
    }
  }
  return meta;
}

Status AptSync::fetch_metadata(const std::vector<SuiteState>& suites) {
  auto meta = metadata_wants(suites);
  if (!meta) return fail(meta.error());
  auto results = fetch(*meta, "metadata");
  if (!results) return fail(results.error());
  for (std::size_t i = 0; i < meta->size(); ++i) {
    const auto& w = (*meta)[i];
    const auto& r = (*results)[i];
    if (r.missing) {
      entries_.erase(w.path);  // listed, not served: carried only if fetched
      report_.skipped.push_back(w.path);
      continue;
    }
    if (r.error) return fail(*r.error);
    report_.metadata_fetched++;
    report_.bytes_fetched += r.size;
    dry_files_[w.sha256] = partial(w.sha256);
  }
  if (auto s = check_variants(*meta); !s) return s;
  if (opt_.dry_run) return {};
  if (auto s = store_files(*meta, *results); !s) return s;
  return store_direct();
}

// Each index hosts need keeps at least one verified variant (fetched now or
// already stored); refused naming the index and the variants tried otherwise.
Status AptSync::check_variants(const std::vector<Want>& meta) const {
  std::map<std::string, std::vector<std::string>> tried;  // needed index -> variants missing
  for (const auto& w : meta) {
    if (hosts_need(w.index) && !entries_.contains(w.path)) {
      tried[w.index].push_back(w.path.substr(w.path.rfind('/') + 1));
    }
  }
  for (const auto& [index, variants] : tried) {
    bool kept = false;
    for (auto it = entries_.lower_bound(index);
         !kept && it != entries_.end() && it->first.starts_with(index); ++it) {
      kept = index_of_variant(it->first) == index;
    }
    if (kept) continue;
    std::string names;
    for (const auto& v : variants) names += (names.empty() ? "" : ", ") + v;
    return fail(Code::refused, repo_.name + ": " + url(index) +
                                   " is listed in the Release, but the upstream serves no "
                                   "variant of it (expected at least one; missing: " +
                                   names + ")");
  }
  return {};
}

// The records of every Packages index (one variant per directory).
Result<IndexRecords> AptSync::read_indices(const std::vector<SuiteState>& suites) {
  IndexRecords out(report_.filtered ? IndexRecords::Keep::records : IndexRecords::Keep::packages);
  for (const auto& s : suites) {
    std::map<std::string, std::string> chosen;  // dir -> path
    for (const auto& p : s.index_paths) {
      std::string path = s.dists + p;
      if (!entries_.contains(path) || !is_index_of(path, parent(path) + "/", "Packages")) continue;
      auto& slot = chosen[parent(path)];
      if (slot.empty() || variant_rank(path) < variant_rank(slot)) slot = path;
    }
    for (const auto& [dir, path] : chosen) {
      if (auto r = read_index(path, entries_[path].sha256, out); !r) return fail(r.error());
    }
  }
  return out;
}

// The pool files of the selected packages and their dependencies, into
// pool_.
Status AptSync::select_pool(const std::vector<SuiteState>& suites) {
  report_.filtered = !repo_.packages.empty();
  auto indices = read_indices(suites);
  if (!indices) return fail(indices.error());
  if (!report_.filtered) {
    packages_ = indices->take_packages();
  } else {
    const auto& records = indices->records();
    auto selection = select_packages(repo_, records);
    if (!selection) return fail(selection.error().context(repo_.name));
    report_.packages_selected = selection->selected;
    report_.unsatisfied = std::move(selection->unsatisfied);
    for (std::size_t i : selection->added) report_.added.push_back(package_version(records[i]));
    sort_packages(report_.added);
    packages_.reserve(selection->carried.size());
    for (std::size_t i : selection->carried) {
      const auto& r = records[i];
      packages_.push_back(PackageEntry{r.package, r.version, r.architecture, r.source, r.size,
                                       r.sha256, r.filename, indices->index_of(i)});
    }
  }
  report_.packages = packages_.size();
  if (!report_.filtered) report_.packages_selected = report_.packages;
  return carry_packages();
}

// Per suite, the vendor's Release Date and the fingerprint of the key that
// signed it (as gpgv reported), for a `sync` record: where the chain of
// custody starts.
json AptSync::suite_records(const std::vector<SuiteState>& suites) {
  json out = json::array();
  for (const auto& s : suites) {
    auto date = s.release.fields.find("Date");
    out.push_back({{"suite", s.suite},
                   {"date", date != s.release.fields.end() ? json(date->second) : json(nullptr)},
                   {"signed_by", s.signed_by}});
  }
  return out;
}

// An unchanged, unfiltered repository: what the last snapshot carries.
Result<SyncReport> AptSync::report_held(const Held& held) {
  report_.packages = report_.packages_selected = held.packages;
  report_.pool_files = held.pool_files;
  report_.pool_bytes = held.pool_bytes;
  if (opt_.dry_run) return dry_report({});
  return record_unchanged();
}

Result<SyncReport> AptSync::run() {
  report_.repo = repo_.name;
  report_.dry_run = opt_.dry_run;
  // Of the last snapshot, a sync keeps its release information, its files
  // under dists/ (those an unchanged suite keeps) and counts of its packages
  // and their files, never its pool or package list whole: without a filter,
  // an unchanged upstream is reported from those counts, reading no index.
  const bool unfiltered = repo_.packages.empty();
  std::vector<SnapshotEntry> dists;
  Held held;
  SnapshotVisitor metadata_only;
  // Pool files are the packages' files: a hash of each path and its size
  // (an old-style repository keeps some under dists/ too).
  std::vector<std::pair<std::uint64_t, std::uint64_t>> package_files;
  metadata_only.entry = [&](SnapshotEntry&& e) -> Status {
    if (e.path.starts_with("dists/")) dists.push_back(std::move(e));
    return {};
  };
  metadata_only.package = [&](PackageEntry&& p) -> Status {
    held.packages++;
    if (unfiltered) package_files.emplace_back(std::hash<std::string>{}(p.path), p.size);
    return {};
  };
  auto prev = latest_snapshot(store_, repo_.name, &prev_id_, metadata_only);
  if (!prev) return fail(prev.error());
  std::sort(package_files.begin(), package_files.end());
  for (std::size_t i = 0; i < package_files.size(); ++i) {
    if (i > 0 && package_files[i].first == package_files[i - 1].first) continue;
    held.pool_files++;
    held.pool_bytes += package_files[i].second;
  }
  package_files = {};
  prev_ = std::move(*prev);
  if (prev_) prev_->entries = std::move(dists);
  check_selection(prev_);
  if (auto s = env_.make_dirs(opt_.workdir / "meta"); !s) return fail(s.error());
  std::vector<SuiteState> suites;
  for (const auto& suite : repo_.suites) {
    auto s = fetch_release(suite);
    if (!s) return fail(s.error());
    if (auto c = choose_indices(*s); !c) return fail(c.error());
    suites.push_back(std::move(*s));
  }
  origin_["suites"] = suite_records(suites);
  report_.unchanged =
      !report_.selection_changed &&
      std::none_of(suites.begin(), suites.end(), [](const SuiteState& s) { return s.changed; });
  if (report_.unchanged && unfiltered) return report_held(held);
  if (auto s = fetch_metadata(suites); !s) return fail(s.error());
  if (auto s = select_pool(suites); !s) return fail(s.error());
  return finish("apt");
}

}  // namespace

Result<SyncReport> sync_apt(const RepoConfig& repo, Ledger& ledger, const SyncOptions& options) {
  if (!options.fetcher) return fail(Code::invalid_input, "sync needs a fetcher");
  AptSync sync(repo, ledger, options);
  return sync.run();
}

}  // namespace airlock::mirror
