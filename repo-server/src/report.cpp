// The compliance report's data: one pass over the transfer log collecting
// imports, refusals, channel changes and per-host and per-file pull counts,
// then the package diffs and the packages the pulled files are, read from
// the store's snapshots.
#include "airlock/repo/report.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

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

// A record's time as the log writes it ("2026-11-22T10:51:33Z"), kept
// without a heap allocation; compared as text, which orders as time does.
using Stamp = std::array<char, 20>;
Stamp stamp(std::string_view t) {
  Stamp out{};
  std::copy_n(t.begin(), std::min(t.size(), out.size()), out.begin());
  return out;
}
std::string text(const Stamp& s) { return std::string(s.data(), strnlen(s.data(), s.size())); }

// The requests of one host answered with an error, by path and status.
struct Failure {
  std::uint64_t count = 0;
  Stamp last{};
};
// The distinct failed requests kept per host; more are only counted.
constexpr std::size_t kMaxFailuresPerHost = 50;

struct HostStats {
  std::string name;
  Stamp first_seen{}, last_seen{};                    // over everything up to the period's end
  std::uint64_t requests = 0, errors = 0, bytes = 0;  // within the period
  std::map<std::pair<std::string, std::uint64_t>, Failure> failures;  // (path, status)
  std::map<std::uint32_t, std::pair<Stamp, std::uint64_t>> fetches;   // channel id -> last fetch
};

// The pulls of one file by one host within the period.
struct PullStats {
  Stamp first{}, last{};
  std::uint64_t pulls = 0;
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

struct DigestHash {
  std::size_t operator()(const Digest& d) const noexcept {
    std::size_t h;
    std::memcpy(&h, d.bytes().data(), sizeof h);
    return h;
  }
};

// What one pass over the log collects. Times are compared as the log's
// fixed-width RFC 3339 text, which orders as time does. Hosts, files and
// channels are numbered as first seen.
struct Walk {
  std::string since, until;  // empty: unbounded
  std::vector<HostStats> hosts;
  std::unordered_map<std::string, std::uint32_t> host_ids;
  std::vector<Digest> objects;
  std::unordered_map<Digest, std::uint32_t, DigestHash> object_ids;
  std::unordered_map<std::uint64_t, PullStats> pulls;  // (object id << 32 | host id)
  std::vector<ChannelKey> channel_keys;                // by channel id
  std::map<ChannelKey, std::uint32_t> channel_ids;
  std::map<ChannelKey, ChannelState> channels;
  std::map<std::string, DayStats> days;
  std::vector<ojson> imports, refusals, channel_changes;
  std::vector<std::vector<PendingDiff>> import_diffs;  // one per imports entry
  std::vector<PendingDiff> channel_diffs;              // one per channel_changes entry
  std::map<std::pair<std::string, std::string>, Digest> stream_heads;  // (stream, repo)
  std::string first_time, last_time;                                   // of records in the period

  std::uint32_t host(const std::string& name) {
    auto [it, added] = host_ids.try_emplace(name, static_cast<std::uint32_t>(hosts.size()));
    if (added) {
      hosts.emplace_back();
      hosts.back().name = name;
    }
    return it->second;
  }
  std::uint32_t object(const Digest& d) {
    auto [it, added] = object_ids.try_emplace(d, static_cast<std::uint32_t>(objects.size()));
    if (added) objects.push_back(d);
    return it->second;
  }
  std::uint32_t channel(const ChannelKey& k) {
    auto [it, added] = channel_ids.try_emplace(k, static_cast<std::uint32_t>(channel_keys.size()));
    if (added) channel_keys.push_back(k);
    return it->second;
  }

  bool in_period(const std::string& t) const {
    return (since.empty() || t >= since) && (until.empty() || t <= until);
  }

  // The members of a pull record the walk reads (with "event") without
  // building a document: pulls are nearly every record of a site's log.
  enum PullMember : std::size_t {
    kEvent,
    kClient,
    kSubject,
    kPath,
    kTarget,
    kStatus,
    kBytes,
    kObject
  };
  JsonMembers members{"event",  "client", "client_subject", "path",
                      "target", "status", "bytes",          "object"};

  // Takes one record; false when it is not a JSON object with an event.
  bool take(std::uint64_t n, std::string_view line, const std::string& time) {
    if (!members.parse(line) || !members.has(kEvent)) return false;
    if (!until.empty() && time > until) return true;
    const bool in = in_period(time);
    if (in) {
      if (first_time.empty()) first_time = time;
      last_time = time;
    }
    const std::string_view event = members.text(kEvent);
    if (event == "pull") {
      take_pull(n, time, in);
      return true;
    }
    const bool import = event == "import";
    const bool change =
        event == "publish" || event == "promote" || event == "rollback" || event == "delete";
    if (!import && !change) return true;
    const json r = json::parse(line, nullptr, false);
    if (import) take_import(n, r, time, in);
    if (change) take_channel_change(n, r, std::string(event), time, in);
    return true;
  }

  void take_pull(std::uint64_t n, const std::string& time, bool in) {
    const JsonMembers& m = members;
    std::string name(m.text(kSubject));
    if (name.empty()) name = m.text(kClient);
    if (name.empty()) name = "(unknown)";
    const std::uint32_t host_id = host(name);
    HostStats& h = hosts[host_id];
    if (h.first_seen[0] == 0) h.first_seen = stamp(time);
    h.last_seen = stamp(time);
    const std::uint64_t status = m.number(kStatus).value_or(0);
    const bool ok = status >= 200 && status < 300;
    // Paths as people read them (decoded), unless the record keeps the target apart.
    const std::string path =
        m.has(kTarget) ? std::string(m.text(kPath)) : presented_path(m.text(kPath));
    if (auto index = index_of(path); index && (ok || status == 304))
      h.fetches[channel(*index)] = {stamp(time), n};
    if (!in) return;
    const std::uint64_t bytes = m.number(kBytes).value_or(0);
    ++h.requests;
    h.bytes += bytes;
    if (status >= 400) {
      ++h.errors;
      add_failure(h, path, status, time);
    }
    DayStats& d = days[time.substr(0, 10)];
    ++d.pulls;
    d.bytes += bytes;
    auto object = Digest::parse(m.text(kObject));
    if (!ok || !object) return;
    const std::uint64_t key = (std::uint64_t{this->object(*object)} << 32) | host_id;
    PullStats& p = pulls[key];
    if (p.pulls == 0) p.first = stamp(time);
    p.last = stamp(time);
    ++p.pulls;
  }

  static void add_failure(HostStats& h, std::string path, std::uint64_t status,
                          const std::string& time) {
    std::pair<std::string, std::uint64_t> key{std::move(path), status};
    auto f = h.failures.find(key);
    if (f == h.failures.end() && h.failures.size() < kMaxFailuresPerHost)
      f = h.failures.emplace(std::move(key), Failure{}).first;
    if (f == h.failures.end()) return;
    ++f->second.count;
    f->second.last = stamp(time);
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
  return log.for_each_record(0, log.size(), [&](std::uint64_t n, std::string_view line) -> Status {
    auto time = record_time(line);
    if (!time || !w.take(n, line, *time)) {
      return fail(Code::corrupt, "transfer log: record " + std::to_string(n) +
                                     " is not a JSON object with a time and an event");
    }
    return {};
  });
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

}  // namespace

// What the report holds once the log is read: the small sections as JSON,
// hosts and packages compact, each pair of host and package version pulled
// once, reachable from both sides.
struct Report::Data {
  ojson head;
  std::vector<HostStats> hosts;  // by name
  std::vector<ChannelKey> channel_keys;
  std::map<ChannelKey, ChannelState> channels;
  struct Package {
    PackageKey key;
    Digest sha256;
  };
  std::vector<Package> packages;  // by name, version, architecture, sha256
  struct Pull {
    std::uint32_t host, package;
    PullStats stats;
  };
  std::vector<Pull> by_host;               // by host, then package
  std::vector<std::size_t> host_begin;     // host i's pulls: [host_begin[i], host_begin[i+1])
  std::vector<std::uint32_t> by_package;   // indices of by_host, by package, then host
  std::vector<std::size_t> package_begin;  // as host_begin, into by_package

  // [{"channel", "repo", "last_fetch", "last_fetch_n", "last_change", "last_change_n", "stale"}]
  ojson channels_of(const HostStats& h) const {
    std::vector<std::pair<ChannelKey, std::pair<Stamp, std::uint64_t>>> fetches;
    for (const auto& [id, f] : h.fetches) fetches.push_back({channel_keys[id], f});
    std::sort(fetches.begin(), fetches.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    ojson out = ojson::array();
    for (const auto& [ch, f] : fetches) {
      ojson c{{"channel", ch.first},
              {"repo", ch.second},
              {"last_fetch", text(f.first)},
              {"last_fetch_n", f.second},
              {"last_change", nullptr},
              {"last_change_n", nullptr},
              {"stale", false}};
      auto state = channels.find(ch);
      if (state != channels.end() && state->second.action != "delete") {
        c["last_change"] = state->second.time;
        c["last_change_n"] = state->second.n;
        c["stale"] = f.second < state->second.n;
      }
      out.push_back(std::move(c));
    }
    return out;
  }
};

namespace {

using Data = Report::Data;

// Which package version each pulled file is, from every snapshot's package
// list (each snapshot read once and let go); -1 for a file that is none.
Result<std::vector<std::int64_t>> resolve_packages(const Store& store, const Walk& w, Data& d) {
  std::vector<std::int64_t> of_object(w.objects.size(), -1);
  if (w.objects.empty()) return of_object;
  std::vector<std::optional<Data::Package>> found(w.objects.size());
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  for (const auto& info : *list) {
    auto snap = store.get_snapshot(info.id);
    if (!snap) return fail(snap.error());
    for (const auto& p : snap->packages) {
      auto id = w.object_ids.find(p.sha256);
      if (id != w.object_ids.end() && !found[id->second])
        found[id->second] = Data::Package{{p.name, p.version, p.architecture}, p.sha256};
    }
  }
  std::vector<std::uint32_t> order;
  for (std::uint32_t i = 0; i < found.size(); ++i)
    if (found[i]) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return std::tie(found[a]->key, found[a]->sha256) < std::tie(found[b]->key, found[b]->sha256);
  });
  for (std::uint32_t object : order) {
    of_object[object] = static_cast<std::int64_t>(d.packages.size());
    d.packages.push_back(std::move(*found[object]));
  }
  return of_object;
}

// Hosts by name, and every (host, package version) pulled, from both sides.
void index_pulls(Walk& w, const std::vector<std::int64_t>& of_object, Data& d) {
  std::vector<std::uint32_t> order(w.hosts.size()), rank(w.hosts.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return w.hosts[a].name < w.hosts[b].name; });
  for (std::uint32_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  d.by_host.reserve(w.pulls.size());
  for (const auto& [key, stats] : w.pulls) {
    const std::int64_t package = of_object[key >> 32];
    if (package < 0) continue;
    d.by_host.push_back({rank[key & 0xffffffffu], static_cast<std::uint32_t>(package), stats});
  }
  w.pulls = {};
  std::sort(d.by_host.begin(), d.by_host.end(), [](const Data::Pull& a, const Data::Pull& b) {
    return std::tie(a.host, a.package) < std::tie(b.host, b.package);
  });
  d.by_package.resize(d.by_host.size());
  for (std::uint32_t i = 0; i < d.by_package.size(); ++i) d.by_package[i] = i;
  std::stable_sort(d.by_package.begin(), d.by_package.end(), [&](std::uint32_t a, std::uint32_t b) {
    return d.by_host[a].package < d.by_host[b].package;
  });
  auto offsets = [](std::size_t groups, std::size_t size, auto group_of) {
    std::vector<std::size_t> begin(groups + 1, size);
    for (std::size_t i = size; i-- > 0;) begin[group_of(i)] = i;
    for (std::size_t g = groups; g-- > 0;) begin[g] = std::min(begin[g], begin[g + 1]);
    return begin;
  };
  d.host_begin =
      offsets(w.hosts.size(), d.by_host.size(), [&](std::size_t i) { return d.by_host[i].host; });
  d.package_begin = offsets(d.packages.size(), d.by_package.size(),
                            [&](std::size_t i) { return d.by_host[d.by_package[i]].package; });
  for (std::uint32_t i : order) d.hosts.push_back(std::move(w.hosts[i]));
  d.channel_keys = std::move(w.channel_keys);
  d.channels = std::move(w.channels);
}

ojson stale_hosts(const Data& d) {
  ojson out = ojson::array();
  for (const auto& h : d.hosts) {
    for (auto& c : d.channels_of(h)) {
      if (!c["stale"].get<bool>()) continue;
      out.push_back({{"host", h.name},
                     {"channel", c["channel"]},
                     {"repo", c["repo"]},
                     {"last_fetch", c["last_fetch"]},
                     {"last_fetch_n", c["last_fetch_n"]},
                     {"last_change", c["last_change"]},
                     {"last_change_n", c["last_change_n"]}});
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
  } else {
    out["latest_checkpoint"] = nullptr;
  }
  out["statement"] = statement + " " + coverage_statement(v);
  return out;
}

// The end of the period as the log's text, for staleness.
std::string period_end(const ReportOptions& o) { return format_time(o.until.value_or(o.now)); }

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

const ojson& Report::head() const { return data_->head; }
std::size_t Report::host_count() const { return data_->hosts.size(); }
std::size_t Report::package_count() const { return data_->packages.size(); }

ojson Report::host(std::size_t i) const {
  const Data& d = *data_;
  const HostStats& h = d.hosts.at(i);
  ojson packages = ojson::array();
  for (std::size_t k = d.host_begin[i]; k < d.host_begin[i + 1]; ++k) {
    const auto& pull = d.by_host[k];
    const auto& p = d.packages[pull.package].key;
    packages.push_back({{"name", p.name},
                        {"version", p.version},
                        {"architecture", p.architecture},
                        {"first", text(pull.stats.first)},
                        {"last", text(pull.stats.last)},
                        {"pulls", pull.stats.pulls}});
  }
  ojson failures = ojson::array();
  for (const auto& [key, f] : h.failures) {
    failures.push_back(
        {{"path", key.first}, {"status", key.second}, {"count", f.count}, {"last", text(f.last)}});
  }
  return {{"host", h.name},
          {"first_seen", text(h.first_seen)},
          {"last_seen", text(h.last_seen)},
          {"requests", h.requests},
          {"errors", h.errors},
          {"bytes", h.bytes},
          {"channels", d.channels_of(h)},
          {"packages", std::move(packages)},
          {"failures", std::move(failures)}};
}

ojson Report::package(std::size_t i) const {
  const Data& d = *data_;
  const auto& p = d.packages.at(i);
  ojson hosts = ojson::array();
  std::uint64_t pulls = 0;
  for (std::size_t k = d.package_begin[i]; k < d.package_begin[i + 1]; ++k) {
    const auto& pull = d.by_host[d.by_package[k]];
    hosts.push_back({{"host", d.hosts[pull.host].name},
                     {"first", text(pull.stats.first)},
                     {"last", text(pull.stats.last)},
                     {"pulls", pull.stats.pulls}});
    pulls += pull.stats.pulls;
  }
  return {
      {"name", p.key.name},       {"version", p.key.version}, {"architecture", p.key.architecture},
      {"sha256", p.sha256.hex()}, {"pulls", pulls},           {"host_count", hosts.size()},
      {"hosts", std::move(hosts)}};
}

ojson Report::document() const {
  ojson doc;
  for (const char* key :
       {"format", "generated_at", "period", "integrity", "imports", "refusals", "channel_changes"})
    doc[key] = head()[key];
  doc["hosts"] = ojson::array();
  for (std::size_t i = 0; i < host_count(); ++i) doc["hosts"].push_back(host(i));
  doc["stale_hosts"] = head()["stale_hosts"];
  doc["packages"] = ojson::array();
  for (std::size_t i = 0; i < package_count(); ++i) doc["packages"].push_back(package(i));
  doc["days"] = head()["days"];
  return doc;
}

Result<Report> build_report(const Store& store, const TransferLog& log,
                            const std::function<ReportIntegrity()>& integrity,
                            const ReportOptions& options) {
  Walk w;
  if (options.since) w.since = format_time(*options.since);
  if (options.until) w.until = format_time(*options.until);
  if (auto s = walk_log(log, w); !s) return fail(s.error());
  if (auto s = add_changes(store, w); !s) return fail(s.error());
  auto data = std::make_shared<Data>();
  auto of_object = resolve_packages(store, w, *data);
  if (!of_object) return fail(of_object.error());
  index_pulls(w, *of_object, *data);
  ojson period{{"since", w.since.empty() ? ojson(nullptr) : ojson(w.since)},
               {"until", w.until.empty() ? ojson(nullptr) : ojson(w.until)},
               {"first_record", w.first_time.empty() ? ojson(nullptr) : ojson(w.first_time)},
               {"last_record", w.last_time.empty() ? ojson(nullptr) : ojson(w.last_time)},
               {"state_at", period_end(options)}};
  ojson& head = data->head;
  head["format"] = kReportFormat;
  head["generated_at"] = format_time(options.now);
  head["period"] = std::move(period);
  head["integrity"] = integrity_section(integrity(), log);
  head["imports"] = std::move(w.imports);
  head["refusals"] = std::move(w.refusals);
  head["channel_changes"] = std::move(w.channel_changes);
  head["stale_hosts"] = stale_hosts(*data);
  head["days"] = days_section(w);
  return Report(std::move(data));
}

}  // namespace airlock::repo
