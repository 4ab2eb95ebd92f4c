// The compliance report's data: one pass over the transfer log collecting
// imports, refusals, channel changes and per-host and per-file pull counts,
// then the package diffs and the packages the pulled files are, read from
// the store's snapshots.
#include "airlock/repo/report.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <tuple>

#include "airlock/base/json.h"
#include "airlock/transfer/changes.h"
#include "airlock/transfer/log_command.h"
#include "snapshot_cache.h"

namespace airlock::repo {
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

using ChannelKey = std::pair<std::string, std::string>;  // channel, repository

// A channel's index as hosts fetch it: /<channel>/<repo>/dists/<suite>/InRelease
// (or Release); the channel and repository it belongs to.
std::optional<ChannelKey> index_of(std::string_view path) {
  if (!path.starts_with('/')) return std::nullopt;
  std::vector<std::string_view> parts;
  path.remove_prefix(1);
  while (parts.size() < 6) {
    auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  if (parts.size() != 5 || parts[2] != "dists" || parts[0].empty() || parts[1].empty())
    return std::nullopt;
  if (parts[4] != "InRelease" && parts[4] != "Release") return std::nullopt;
  return ChannelKey{std::string(parts[0]), std::string(parts[1])};
}

// A field as the report keeps it: the log's value, or null when absent.
ojson field(const json& r, const char* key) {
  auto it = r.find(key);
  if (it == r.end()) return nullptr;
  return ojson::parse(it->dump());
}

ojson pick(const json& r, std::initializer_list<const char*> keys) {
  ojson out = ojson::object();
  for (const char* k : keys) out[k] = field(r, k);
  return out;
}

std::optional<Digest> digest_field(const json& r, const char* key) {
  auto it = r.find(key);
  if (it == r.end() || !it->is_string()) return std::nullopt;
  auto d = Digest::parse(it->get<std::string>());
  if (!d) return std::nullopt;
  return *d;
}

// The requests of one host answered with an error, by path and status.
struct Failure {
  std::uint64_t count = 0;
  std::string last;
};
// The distinct failed requests kept per host; more are only counted.
constexpr std::size_t kMaxFailuresPerHost = 50;

struct HostStats {
  std::string first_seen, last_seen;                  // over everything up to the period's end
  std::uint64_t requests = 0, errors = 0, bytes = 0;  // within the period
  std::map<std::pair<std::string, std::uint64_t>, Failure> failures;  // (path, status)
};

struct PullStats {
  std::string first, last;
  std::uint64_t pulls = 0, bytes = 0;
};

struct DayStats {
  std::uint64_t pulls = 0, bytes = 0, imports = 0, refusals = 0, channel_changes = 0;
};

struct ChannelState {
  std::string time;  // of the last change
  std::uint64_t n = 0;
  std::string action;
};

// One import's package changes, worked out after the walk.
struct PendingDiff {
  std::string repo;
  std::optional<Digest> before, after;
};

// What one pass over the log collects. Times are compared as the log's
// fixed-width RFC 3339 text, which orders as time does.
struct Walk {
  std::string since, until;  // empty: unbounded
  std::map<std::string, HostStats> hosts;
  // Per host and channel index: the time and record of its last fetch.
  std::map<std::pair<std::string, ChannelKey>, std::pair<std::string, std::uint64_t>> index_fetches;
  std::map<ChannelKey, ChannelState> channels;
  std::map<std::pair<std::string, std::string>, PullStats> pulls;  // (object hex, host)
  std::map<std::string, DayStats> days;
  std::vector<ojson> imports, refusals, channel_changes;
  std::vector<std::vector<PendingDiff>> import_diffs;  // one per imports entry
  std::vector<PendingDiff> channel_diffs;              // one per channel_changes entry
  std::map<std::pair<std::string, std::string>, Digest> stream_heads;  // (stream, repo)
  std::string first_time, last_time;                                   // of records in the period

  bool in_period(const std::string& t) const {
    return (since.empty() || t >= since) && (until.empty() || t <= until);
  }

  void take(std::uint64_t n, const json& r, const std::string& time) {
    if (!until.empty() && time > until) return;
    const bool in = in_period(time);
    if (in) {
      if (first_time.empty()) first_time = time;
      last_time = time;
    }
    const std::string event = json_string(r, "event");
    if (event == "pull") {
      take_pull(n, r, time, in);
    } else if (event == "import") {
      take_import(n, r, time, in);
    } else if (event == "publish" || event == "promote" || event == "rollback" ||
               event == "delete") {
      take_channel_change(n, r, event, time, in);
    }
  }

  void take_pull(std::uint64_t n, const json& raw, const std::string& time, bool in) {
    const json r = presented_record(raw);
    std::string host = json_string(r, "client_subject");
    if (host.empty()) host = json_string(r, "client");
    if (host.empty()) host = "(unknown)";
    HostStats& h = hosts[host];
    if (h.first_seen.empty()) h.first_seen = time;
    h.last_seen = time;
    const std::uint64_t status = json_u64(r, "status", 0);
    const bool ok = status >= 200 && status < 300;
    if (auto index = index_of(json_string(r, "path")); index && (ok || status == 304))
      index_fetches[{host, *index}] = {time, n};
    if (!in) return;
    const std::uint64_t bytes = json_u64(r, "bytes", 0);
    ++h.requests;
    h.bytes += bytes;
    if (status >= 400) {
      ++h.errors;
      std::pair<std::string, std::uint64_t> key{json_string(r, "path"), status};
      auto f = h.failures.find(key);
      if (f == h.failures.end() && h.failures.size() < kMaxFailuresPerHost)
        f = h.failures.emplace(std::move(key), Failure{}).first;
      if (f != h.failures.end()) {
        ++f->second.count;
        f->second.last = time;
      }
    }
    DayStats& d = days[time.substr(0, 10)];
    ++d.pulls;
    d.bytes += bytes;
    const std::string object = json_string(r, "object");
    if (!ok || object.empty()) return;
    PullStats& p = pulls[{object, host}];
    if (p.first.empty()) p.first = time;
    p.last = time;
    ++p.pulls;
    p.bytes += bytes;
  }

  void take_import(std::uint64_t n, const json& r, const std::string& time, bool in) {
    const bool imported = json_string(r, "result") == "imported";
    std::vector<PendingDiff> diffs;
    if (imported && r.contains("snapshots") && r["snapshots"].is_array()) {
      const std::string stream = json_string(r, "stream");
      for (const auto& s : r["snapshots"]) {
        if (!s.is_object()) continue;
        auto id = digest_field(s, "id");
        const std::string repo = json_string(s, "repo");
        if (!id) continue;
        auto head = stream_heads.find({stream, repo});
        diffs.push_back(
            {repo, head == stream_heads.end() ? std::nullopt : std::optional(head->second), *id});
        stream_heads[{stream, repo}] = *id;
      }
    }
    if (!in) return;
    DayStats& d = days[time.substr(0, 10)];
    if (!imported) {
      ++d.refusals;
      ojson item{{"n", n}, {"time", time}};
      item.update(pick(
          r, {"result", "bundle", "manifest", "operator", "media_label", "reason", "missing"}));
      refusals.push_back(std::move(item));
      return;
    }
    ++d.imports;
    ojson item{{"n", n}, {"time", time}};
    item.update(pick(r, {"stream", "sequence", "kind", "bundle", "manifest"}));
    item["signers"] = signers(r);
    item.update(pick(
        r, {"operator", "media_label", "reason", "change_ref", "objects", "bytes", "snapshots"}));
    imports.push_back(std::move(item));
    import_diffs.push_back(std::move(diffs));
  }

  // [{"name", "keyid"}]: the signer_keys the import recorded, or the names
  // alone (keyid null) for imports logged before key ids were.
  static ojson signers(const json& r) {
    ojson out = ojson::array();
    if (r.contains("signer_keys") && r["signer_keys"].is_array()) {
      for (const auto& k : r["signer_keys"]) out.push_back(pick(k, {"name", "keyid"}));
      return out;
    }
    if (r.contains("signers") && r["signers"].is_array()) {
      for (const auto& name : r["signers"])
        out.push_back({{"name", ojson::parse(name.dump())}, {"keyid", nullptr}});
    }
    return out;
  }

  void take_channel_change(std::uint64_t n, const json& r, const std::string& event,
                           const std::string& time, bool in) {
    const std::string channel = json_string(r, "channel"), repo = json_string(r, "repo");
    channels[{channel, repo}] = {time, n, event};
    if (!in) return;
    ++days[time.substr(0, 10)].channel_changes;
    ojson item{{"n", n}, {"time", time}, {"action", event}};
    item.update(pick(r, {"channel", "repo", "snapshot", "previous", "from", "bundle", "operator",
                         "reason", "change_ref"}));
    channel_changes.push_back(std::move(item));
    channel_diffs.push_back({repo, digest_field(r, "previous"), digest_field(r, "snapshot")});
  }
};

// The line's "time" without parsing it whole: records start {"n":N,"time":"…".
std::optional<std::string> record_time(std::string_view line) {
  constexpr std::string_view key = "\"time\":\"";
  auto at = line.find(key);
  if (at == std::string_view::npos || at > 32) return std::nullopt;
  auto end = line.find('"', at + key.size());
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(line.substr(at + key.size(), end - at - key.size()));
}

Status walk_log(const TransferLog& log, Walk& w) {
  const std::uint64_t size = log.size();
  for (std::uint64_t n = 0; n < size; ++n) {
    auto line = log.record(n);
    if (!line) return fail(line.error());
    auto bad = [&] {
      return fail(Code::corrupt, "transfer log: record " + std::to_string(n) +
                                     " is not a JSON object with a time and an event");
    };
    auto time = record_time(*line);
    if (!time) return bad();
    json r = json::parse(*line, nullptr, false);
    if (!r.is_object() || !r.contains("event")) return bad();
    w.take(n, r, *time);
  }
  return {};
}

ojson changes_of(SnapshotCache& cache, const PendingDiff& d, Status& status) {
  auto before = cache.get(d.before);
  auto after = cache.get(d.after);
  if (!before || !after) {
    status = fail((!before ? before : after).error());
    return ojson::array();
  }
  return ojson::parse(changes_json({package_changes(d.repo, *before, *after)}).dump());
}

Status add_changes(const Store& store, Walk& w) {
  SnapshotCache cache(store);
  Status status;
  for (std::size_t i = 0; i < w.imports.size() && status; ++i) {
    ojson changes = ojson::array();
    for (const auto& d : w.import_diffs[i]) {
      for (auto& c : changes_of(cache, d, status)) changes.push_back(std::move(c));
    }
    w.imports[i]["changes"] = std::move(changes);
  }
  for (std::size_t i = 0; i < w.channel_changes.size() && status; ++i)
    w.channel_changes[i]["changes"] = changes_of(cache, w.channel_diffs[i], status);
  return status;
}

struct PackageKey {
  std::string name, version, architecture;
  auto operator<=>(const PackageKey&) const = default;
};

// The packages the pulled files are, by file hash, from every snapshot's
// package list (each snapshot read once and let go).
Result<std::map<std::string, PackageKey>> packages_of_pulls(const Store& store, const Walk& w) {
  std::set<std::string> objects;
  for (const auto& [key, stats] : w.pulls) objects.insert(key.first);
  std::map<std::string, PackageKey> out;
  if (objects.empty()) return out;
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  for (const auto& info : *list) {
    auto snap = store.get_snapshot(info.id);
    if (!snap) return fail(snap.error());
    for (const auto& p : snap->packages) {
      const std::string hex = p.sha256.hex();
      if (objects.contains(hex))
        out.try_emplace(hex, PackageKey{p.name, p.version, p.architecture});
    }
  }
  return out;
}

ojson integrity_section(const ReportIntegrity& in, const TransferLog& log) {
  ojson out{{"verified", in.verified.has_value()}, {"log_key", in.log_key}};
  if (!in.verified) {
    out["statement"] = "NOT VERIFIED: " + in.failure;
    out["error"] = in.failure;
    return out;
  }
  const LogVerification& v = *in.verified;
  out["records"] = v.records;
  out["root"] = v.root.hex();
  out["checkpoints"] = v.checkpoints;
  out["uncovered"] = v.uncovered;
  std::string statement = "Verified: all " + std::to_string(v.records) + " records chain to root " +
                          v.root.hex() + " and " + std::to_string(v.checkpoints) +
                          " signed checkpoints verify under log key " + in.log_key + ".";
  if (v.last_checkpoint) {
    const auto& cp = *v.last_checkpoint;
    ojson latest{{"n", cp.size},
                 {"tree_size", cp.size},
                 {"root", cp.root.hex()},
                 {"origin", cp.origin},
                 {"time", nullptr}};
    if (auto line = log.record(cp.size))
      latest["time"] = field(json::parse(*line, nullptr, false), "time");
    out["latest_checkpoint"] = latest;
    statement += " The newest checkpoint (record " + std::to_string(cp.size) +
                 ") covers the first " + std::to_string(cp.size) + " records; " +
                 std::to_string(v.uncovered) +
                 " records after it are not covered by a signature yet.";
  } else {
    out["latest_checkpoint"] = nullptr;
    statement += " No checkpoint has been signed yet.";
  }
  out["statement"] = statement;
  return out;
}

// The end of the period as the log's text, for staleness.
std::string period_end(const ReportOptions& o) { return format_time(o.until.value_or(o.now)); }

// [{"path", "status", "count", "last"}]: the host's failed requests.
ojson failures_of(const HostStats& h) {
  ojson out = ojson::array();
  for (const auto& [key, f] : h.failures) {
    out.push_back(
        {{"path", key.first}, {"status", key.second}, {"count", f.count}, {"last", f.last}});
  }
  return out;
}

Result<ojson> hosts_section(const Walk& w, const std::map<std::string, PackageKey>& packages,
                            ojson& stale_out) {
  std::map<std::string, std::vector<std::pair<PackageKey, const PullStats*>>> downloads;
  for (const auto& [key, stats] : w.pulls) {
    auto p = packages.find(key.first);
    if (p != packages.end()) downloads[key.second].push_back({p->second, &stats});
  }
  ojson hosts = ojson::array();
  for (const auto& [host, h] : w.hosts) {
    ojson channels = ojson::array();
    for (auto it = w.index_fetches.lower_bound({host, {}});
         it != w.index_fetches.end() && it->first.first == host; ++it) {
      const ChannelKey& ch = it->first.second;
      auto state = w.channels.find(ch);
      const auto& [fetched, fetch_n] = it->second;
      ojson c{{"channel", ch.first},     {"repo", ch.second},      {"last_fetch", fetched},
              {"last_fetch_n", fetch_n}, {"last_change", nullptr}, {"last_change_n", nullptr},
              {"stale", false}};
      if (state != w.channels.end() && state->second.action != "delete") {
        c["last_change"] = state->second.time;
        c["last_change_n"] = state->second.n;
        c["stale"] = fetch_n < state->second.n;
      }
      if (c["stale"].get<bool>()) {
        stale_out.push_back({{"host", host},
                             {"channel", ch.first},
                             {"repo", ch.second},
                             {"last_fetch", fetched},
                             {"last_fetch_n", fetch_n},
                             {"last_change", c["last_change"]},
                             {"last_change_n", c["last_change_n"]}});
      }
      channels.push_back(std::move(c));
    }
    ojson pkgs = ojson::array();
    auto d = downloads.find(host);
    if (d != downloads.end()) {
      std::sort(d->second.begin(), d->second.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [p, s] : d->second) {
        pkgs.push_back({{"name", p.name},
                        {"version", p.version},
                        {"architecture", p.architecture},
                        {"first", s->first},
                        {"last", s->last},
                        {"pulls", s->pulls}});
      }
    }
    hosts.push_back({{"host", host},
                     {"first_seen", h.first_seen},
                     {"last_seen", h.last_seen},
                     {"requests", h.requests},
                     {"errors", h.errors},
                     {"bytes", h.bytes},
                     {"channels", std::move(channels)},
                     {"failures", failures_of(h)},
                     {"packages", std::move(pkgs)}});
  }
  return hosts;
}

ojson packages_section(const Walk& w, const std::map<std::string, PackageKey>& packages) {
  std::map<std::pair<PackageKey, std::string>,
           std::vector<std::pair<std::string, const PullStats*>>>
      by_package;  // (package, sha256) -> hosts
  for (const auto& [key, stats] : w.pulls) {
    auto p = packages.find(key.first);
    if (p != packages.end()) by_package[{p->second, key.first}].push_back({key.second, &stats});
  }
  ojson out = ojson::array();
  for (const auto& [key, hosts] : by_package) {
    ojson list = ojson::array();
    std::uint64_t pulls = 0;
    for (const auto& [host, s] : hosts) {
      list.push_back({{"host", host}, {"first", s->first}, {"last", s->last}, {"pulls", s->pulls}});
      pulls += s->pulls;
    }
    out.push_back({{"name", key.first.name},
                   {"version", key.first.version},
                   {"architecture", key.first.architecture},
                   {"sha256", key.second},
                   {"pulls", pulls},
                   {"host_count", hosts.size()},
                   {"hosts", std::move(list)}});
  }
  return out;
}

// Every UTC day from the period's first record to its last, quiet days included.
ojson days_section(const Walk& w) {
  ojson out = ojson::array();
  if (w.days.empty()) return out;
  auto parse_day = [](const std::string& d) { return parse_time(d + "T00:00:00Z"); };
  auto first = parse_day(w.days.begin()->first), last = parse_day(w.days.rbegin()->first);
  if (!first || !last) return out;
  constexpr int kMaxDays = 3660;
  int count = 0;
  for (auto t = *first; t <= *last && count < kMaxDays; t += std::chrono::days(1), ++count) {
    const std::string day = format_time(t).substr(0, 10);
    auto it = w.days.find(day);
    const DayStats d = it == w.days.end() ? DayStats{} : it->second;
    out.push_back({{"date", day},
                   {"pulls", d.pulls},
                   {"bytes", d.bytes},
                   {"imports", d.imports},
                   {"refusals", d.refusals},
                   {"channel_changes", d.channel_changes}});
  }
  return out;
}

}  // namespace

Result<ojson> build_report(const Store& store, const TransferLog& log,
                           const ReportIntegrity& integrity, const ReportOptions& options) {
  Walk w;
  if (options.since) w.since = format_time(*options.since);
  if (options.until) w.until = format_time(*options.until);
  if (auto s = walk_log(log, w); !s) return fail(s.error());
  if (auto s = add_changes(store, w); !s) return fail(s.error());
  auto packages = packages_of_pulls(store, w);
  if (!packages) return fail(packages.error());
  ojson stale = ojson::array();
  auto hosts = hosts_section(w, *packages, stale);
  if (!hosts) return fail(hosts.error());
  ojson period{{"since", w.since.empty() ? ojson(nullptr) : ojson(w.since)},
               {"until", w.until.empty() ? ojson(nullptr) : ojson(w.until)},
               {"first_record", w.first_time.empty() ? ojson(nullptr) : ojson(w.first_time)},
               {"last_record", w.last_time.empty() ? ojson(nullptr) : ojson(w.last_time)},
               {"state_at", period_end(options)}};
  return ojson{{"format", kReportFormat},
               {"generated_at", format_time(options.now)},
               {"period", std::move(period)},
               {"integrity", integrity_section(integrity, log)},
               {"imports", std::move(w.imports)},
               {"refusals", std::move(w.refusals)},
               {"channel_changes", std::move(w.channel_changes)},
               {"hosts", std::move(*hosts)},
               {"stale_hosts", std::move(stale)},
               {"packages", packages_section(w, *packages)},
               {"days", days_section(w)}};
}

}  // namespace airlock::repo
