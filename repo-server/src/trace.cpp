#include "airlock/repo/trace.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "airlock/base/file.h"
#include "airlock/base/json.h"
#include "airlock/base/text.h"
#include "airlock/base/time.h"

namespace airlock::repo {
namespace fs = std::filesystem;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

namespace {

// The objects query names, and the packages they are.
struct Resolved {
  std::set<Digest> objects;
  bool by_package = false;
  std::string name, version;
};

bool is_hex64(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

Result<Resolved> resolve_query(std::string_view query) {
  Resolved r;
  if (query.empty()) return fail(Code::invalid_input, "trace needs FILE, SHA256 or NAME=VERSION");
  const fs::path file{std::string(query)};
  if (path_exists(file)) {
    auto d = hash_file(file);
    if (!d) return fail(d.error());
    r.objects.insert(*d);
    return r;
  }
  if (is_hex64(query)) {
    std::string lower(query);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    r.objects.insert(Digest::parse(lower).value());
    return r;
  }
  if (auto eq = query.find('='); eq != std::string_view::npos) {
    r.by_package = true;
    r.name = std::string(query.substr(0, eq));
    r.version = std::string(query.substr(eq + 1));
    if (r.name.empty() || r.version.empty()) {
      return fail(Code::invalid_input, "trace: '" + std::string(query) + "' is not NAME=VERSION");
    }
    return r;
  }
  return fail(Code::not_found, "trace: no file '" + std::string(query) +
                                   "' (give a file, a SHA-256 or NAME=VERSION)");
}

// For a package query, the files of every package of that name and version
// any snapshot lists.
Status package_objects(const Store& store, const std::vector<SnapshotInfo>& list, Resolved& r) {
  if (!r.by_package) return {};
  for (const auto& info : list) {
    auto snap = store.get_snapshot(info.id);
    if (!snap) return fail(snap.error());
    for (const auto& p : snap->packages)
      if (p.name == r.name && p.version == r.version) r.objects.insert(p.sha256);
  }
  return {};
}

// Snapshots holding any of r's objects, with the packages those objects are.
Status find_snapshots(const Store& store, Resolved& r, Trace& t,
                      std::map<Digest, ojson>& snapshot_facts) {
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  if (auto s = package_objects(store, *list, r); !s) return s;
  std::set<std::tuple<std::string, std::string, std::string, Digest>> seen;
  for (const auto& info : *list) {
    auto snap = store.get_snapshot(info.id);
    if (!snap) return fail(snap.error());
    const SnapshotEntry* hit = nullptr;
    for (const auto& e : snap->entries) {
      if (r.objects.contains(e.sha256)) hit = &e;
    }
    if (!hit) continue;
    t.snapshots.push_back(info.id);
    snapshot_facts[info.id] = ojson{{"snapshot", info.id.hex()},
                                    {"repo", snap->repo},
                                    {"upstream", snap->upstream},
                                    {"synced_at", format_time(snap->synced_at)},
                                    {"path", hit->path}};
    for (const auto& p : snap->packages) {
      if (!r.objects.contains(p.sha256)) continue;
      if (seen.insert({p.name, p.version, p.architecture, p.sha256}).second)
        t.packages.push_back(p);
    }
  }
  if (t.snapshots.empty()) {
    return fail(Code::not_found, r.by_package
                                     ? "trace: no snapshot carries " + r.name + "=" + r.version
                                     : "trace: no snapshot holds " + r.objects.begin()->hex());
  }
  return {};
}

bool names(const std::set<std::string>& set, const json& v) {
  return v.is_string() && set.contains(v.get<std::string>());
}

// Any {"id": …} of a record's "snapshots" in set.
bool names_any(const std::set<std::string>& set, const json& record) {
  if (!record.contains("snapshots") || !record["snapshots"].is_array()) return false;
  return std::any_of(record["snapshots"].begin(), record["snapshots"].end(), [&](const json& s) {
    return s.is_object() && names(set, s.value("id", json()));
  });
}

// The record's fields named in keys that it has, in that order; empty
// strings and nulls left out.
ojson pick(const json& record, std::initializer_list<const char*> keys) {
  ojson out = ojson::object();
  for (const char* k : keys) {
    auto it = record.find(k);
    if (it == record.end() || it->is_null() ||
        (it->is_string() && it->get_ref<const std::string&>().empty()))
      continue;
    out[k] = ojson::parse(it->dump());
  }
  return out;
}

// One pass over the log, collecting the links by kind.
struct Walk {
  std::set<std::string> objects, snapshots, manifests;
  std::vector<TraceLink> pulls, channels, imports, syncs, later;  // later: export/cosign candidates
  std::map<std::string, std::uint64_t> first_import;              // snapshot -> import record

  void take(std::uint64_t n, const json& r) {
    const std::string event = json_string(r, "event");
    if (event == "pull" && names(objects, r.value("object", json()))) {
      pulls.push_back({"pull", n,
                       pick(r, {"time", "client", "client_subject", "client_fingerprint", "method",
                                "path", "object", "status", "bytes", "user_agent"})});
    } else if (event == "publish" || event == "promote" || event == "rollback") {
      if (names(snapshots, r.value("snapshot", json())))
        channels.push_back({event, n, channel_facts(r)});
    } else if (event == "delete") {
      if (names(snapshots, r.value("previous", json())))
        channels.push_back({event, n, channel_facts(r)});
    } else if (event == "import") {
      if (json_string(r, "result") != "imported" || !names_any(snapshots, r)) return;
      manifests.insert(json_string(r, "manifest"));
      for (const auto& s : r["snapshots"]) {
        if (s.is_object() && names(snapshots, s.value("id", json())))
          first_import.emplace(s["id"].get<std::string>(), n);
      }
      imports.push_back(
          {"import", n,
           pick(r, {"time", "bundle", "manifest", "stream", "sequence", "kind", "signers",
                    "signer_keys", "operator", "media_label", "reason", "change_ref"})});
    } else if (event == "custody" && r.contains("record") && r["record"].is_object()) {
      take_custody(n, r);
    }
  }

  static ojson channel_facts(const json& r) {
    return pick(r, {"time", "channel", "repo", "snapshot", "previous", "bundle", "operator",
                    "reason", "change_ref"});
  }

  void take_custody(std::uint64_t n, const json& r) {
    const json& low = r["record"];
    const std::string event = json_string(low, "event");
    ojson facts{{"carried_in", json_string(r, "bundle")}, {"low_n", low.value("n", json())}};
    if (event == "sync" && names(snapshots, low.value("snapshot", json()))) {
      facts.update(pick(low, {"time", "repo", "upstream", "snapshot", "unchanged", "suites",
                              "repomd", "list", "operator"}));
      syncs.push_back({"sync", n, std::move(facts)});
    } else if (event == "export" || event == "cosign") {
      facts.update(pick(low, {"time", "bundle", "manifest", "stream", "sequence", "keyid",
                              "signers", "operator"}));
      later.push_back({event, n, std::move(facts)});
    }
  }

  // Export and co-sign records of the bundles imported (by manifest hash):
  // they may cross after the import that they describe.
  std::vector<TraceLink> custody_of_imports() const {
    std::vector<TraceLink> out;
    for (const auto& l : later) {
      auto m = l.facts.find("manifest");
      if (m != l.facts.end() && m->is_string() && manifests.contains(m->get<std::string>()))
        out.push_back(l);
    }
    return out;
  }
};

// Whether a line can matter to the walk: a pull only when it names an object.
bool worth_parsing(std::string_view line, const std::set<std::string>& objects) {
  if (line.find(R"("event":"pull")") == std::string_view::npos) return true;
  return std::any_of(objects.begin(), objects.end(),
                     [&](const std::string& o) { return line.find(o) != std::string_view::npos; });
}

Status walk_log(const TransferLog& log, Walk& w) {
  return log.for_each_record(0, log.size(), [&](std::uint64_t n, std::string_view line) -> Status {
    if (!worth_parsing(line, w.objects)) return {};
    json r = json::parse(line, nullptr, false);
    if (!r.is_object()) {
      return fail(Code::corrupt, "transfer log: record " + std::to_string(n) + " is not JSON");
    }
    w.take(n, r);
    return {};
  });
}

// The newest checkpoint, when it covers every link.
void add_checkpoint(const TransferLog& log, Trace& t) {
  auto cp = log.latest_checkpoint();
  if (!cp) return;
  std::uint64_t last = 0;
  for (const auto& l : t.links)
    if (l.n) last = std::max(last, *l.n);
  if (cp->first <= last) return;
  ojson facts{{"tree_size", cp->first}};
  if (auto line = log.record(cp->first)) {
    json r = json::parse(*line, nullptr, false);
    facts.update(pick(r, {"time", "root"}));
  }
  t.checkpoint = cp->first;
  t.links.push_back({"checkpoint", cp->first, std::move(facts)});
}

}  // namespace

Result<Trace> build_trace(const Store& store, const TransferLog& log, std::string_view query) {
  auto resolved = resolve_query(query);
  if (!resolved) return fail(resolved.error());
  Trace t;
  t.query = escape_invalid_utf8(query);
  std::map<Digest, ojson> snapshot_facts;
  if (auto s = find_snapshots(store, *resolved, t, snapshot_facts); !s) return fail(s.error());
  t.objects.assign(resolved->objects.begin(), resolved->objects.end());
  Walk w;
  for (const auto& o : t.objects) w.objects.insert(o.hex());
  for (const auto& s : t.snapshots) w.snapshots.insert(s.hex());
  if (auto s = walk_log(log, w); !s) return fail(s.error());
  auto append = [&](const std::vector<TraceLink>& links) {
    t.links.insert(t.links.end(), links.begin(), links.end());
  };
  append(w.pulls);
  for (const auto& s : t.snapshots) {
    auto it = w.first_import.find(s.hex());
    std::optional<std::uint64_t> n;
    if (it != w.first_import.end()) n = it->second;
    t.links.push_back({"snapshot", n, snapshot_facts[s]});
  }
  append(w.channels);
  append(w.imports);
  append(w.syncs);
  append(w.custody_of_imports());
  add_checkpoint(log, t);
  return t;
}

Result<json> trace_proof(const TransferLog& log, const Trace& trace) {
  if (!trace.checkpoint) {
    return fail(Code::not_found,
                "trace: the newest records of the chain are not covered by a signed checkpoint "
                "yet (the next change writes one; a server, every 60 s and when it stops)");
  }
  json links = json::array();
  for (const auto& l : trace.links) {
    if (!l.n || l.link == "snapshot" || l.link == "checkpoint") continue;
    auto proof = log.prove(*l.n, *trace.checkpoint);
    if (!proof) return fail(proof.error());
    links.push_back({{"link", l.link}, {"proof", std::move(*proof)}});
  }
  auto cp = log.record(*trace.checkpoint);
  if (!cp) return fail(cp.error());
  json cp_record = json::parse(*cp, nullptr, false);
  json objects = json::array(), snapshots = json::array();
  for (const auto& o : trace.objects) objects.push_back(o.hex());
  for (const auto& s : trace.snapshots) snapshots.push_back(s.hex());
  return json{{"format", kTraceProofFormat},
              {"query", trace.query},
              {"objects", objects},
              {"snapshots", snapshots},
              {"tree_size", *trace.checkpoint},
              {"checkpoint", json_string(cp_record, "note")},
              {"links", links}};
}

}  // namespace airlock::repo
