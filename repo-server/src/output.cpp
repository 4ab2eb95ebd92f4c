#include "airlock/repo/output.h"

#include <algorithm>
#include <iostream>
#include <set>
#include <sstream>

#include "airlock/base/cli.h"
#include "airlock/base/text.h"
#include "airlock/transfer/changes.h"

namespace airlock::repo {
using json = nlohmann::json;

namespace {

json optional_time(const std::optional<TimePoint>& t) {
  return t ? json(format_time(*t)) : json(nullptr);
}

using cli::field;
using cli::print_table;

json optional_id(const std::optional<Digest>& id) { return id ? json(id->hex()) : json(nullptr); }

json optional_text(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

std::string id_or_none(const std::optional<Digest>& id) { return id ? id->hex() : "none"; }

}  // namespace

json to_json(const TrustPolicy& policy) {
  json out{{"threshold", policy.threshold},
           {"max_validity_days", policy.max_validity_days},
           {"keys", json::array()}};
  for (const auto& k : policy.keys) {
    out["keys"].push_back({{"name", k.name},
                           {"keyid", k.key.id().hex()},
                           {"not_before", optional_time(k.not_before)},
                           {"not_after", optional_time(k.not_after)}});
  }
  return out;
}

json to_json(const TrustReport& r) {
  json out = to_json(r.policy);
  out["action"] = r.action;
  out["unreachable_threshold"] = r.unreachable_threshold;
  if (r.key_id) out["key"] = {{"name", r.key_name}, {"keyid", r.key_id->hex()}};
  return out;
}

json to_json(const AccessPolicy& policy) {
  json rules = json::array();
  for (const auto& r : policy.rules()) rules.push_back(to_json(r));
  return {{"rules", std::move(rules)}};
}

json to_json(const AccessReport& r) {
  json out = to_json(r.policy);
  out["action"] = r.action;
  out["rule"] = to_json(r.rule);
  return out;
}

json to_json(const ImportReport& r) {
  json snaps = json::array();
  for (const auto& s : r.snapshots) snaps.push_back({{"repo", s.repo}, {"id", s.id.hex()}});
  json sites = json::array();
  for (const auto& s : r.site_indices) {
    sites.push_back({{"repo", s.repo}, {"snapshot", s.snapshot.hex()}, {"index", s.index.hex()}});
  }
  return json{{"ok", true},
              {"site_indices", sites},
              {"site_key", r.site_key.empty() ? json(nullptr) : json(r.site_key)},
              {"changes", changes_json(r.changes)},
              {"already_imported", r.already_imported},
              {"bundle", r.bundle},
              {"manifest_sha256", r.manifest_sha256.hex()},
              {"stream", r.stream},
              {"sequence", r.sequence},
              {"kind", r.kind},
              {"objects", r.objects},
              {"bytes", r.bytes},
              {"snapshots", snaps},
              {"published", r.published ? json(*r.published) : json(nullptr)}};
}

json to_json(const std::vector<SnapshotInfo>& snapshots) {
  json out = json::array();
  for (const auto& s : snapshots) {
    out.push_back({{"id", s.id.hex()},
                   {"repo", s.repo},
                   {"kind", s.kind},
                   {"synced_at", format_time(s.synced_at)},
                   {"files", s.entries},
                   {"bytes", s.bytes}});
  }
  return out;
}

json to_json(const SnapshotView& v) { return snapshot_view_json(v); }

json to_json(const SnapshotDiff& d) {
  return {{"from", {{"id", d.from.hex()}, {"repo", d.from_repo}}},
          {"to", {{"id", d.to.hex()}, {"repo", d.changes.repo}}},
          {"changes", changes_json({d.changes})}};
}

json to_json(const std::vector<ChannelChange>& history) {
  json out = json::array();
  for (const auto& c : history) {
    out.push_back({{"time", format_time(c.time)},
                   {"channel", c.channel},
                   {"repo", c.repo},
                   {"action", c.action},
                   {"operator", c.operator_name},
                   {"reason", c.reason},
                   {"change_ref", c.change_ref},
                   {"from", optional_text(c.from)},
                   {"bundle", optional_text(c.bundle)},
                   {"before", optional_id(c.before)},
                   {"after", optional_id(c.after)},
                   {"changes", changes_json({c.changes})}});
  }
  return out;
}

json to_json(const ChannelEntry& e) {
  return {{"channel", e.channel}, {"repo", e.repo}, {"snapshot", e.snapshot.hex()}};
}

json to_json(const std::vector<ChannelEntry>& entries) {
  json out = json::array();
  for (const auto& e : entries) out.push_back(to_json(e));
  return out;
}

json to_json(const ScrubReport& r) {
  json missing = json::array(), corrupt = json::array();
  for (const auto& p : r.missing)
    missing.push_back({{"object", p.id.hex()}, {"problem", p.message}});
  for (const auto& p : r.corrupt)
    corrupt.push_back({{"object", p.id.hex()}, {"problem", p.message}});
  return {{"ok", r.ok()},
          {"checked", r.checked},
          {"bytes", r.bytes},
          {"missing", missing},
          {"corrupt", corrupt}};
}

json to_json(const StatusReport& r) {
  json out{{"streams", json::array()},
           {"channels", to_json(r.channels)},
           {"objects", r.objects},
           {"bytes", r.bytes},
           {"log",
            {{"records", r.log_records},
             {"root", r.log_root.hex()},
             {"last_checkpoint", r.last_checkpoint ? json(*r.last_checkpoint) : json(nullptr)}}}};
  for (const auto& h : r.streams) {
    out["streams"].push_back({{"stream", h.stream},
                              {"sequence", h.sequence},
                              {"manifest", h.manifest.hex()},
                              {"imported_at", format_time(h.imported_at)}});
  }
  return out;
}

void print_trust(std::ostream& out, const TrustPolicy& policy) {
  field(out, "threshold", std::to_string(policy.threshold));
  field(out, "validity", "at most " + std::to_string(policy.max_validity_days) + " days");
  for (const auto& k : policy.keys) {
    out << k.key.id().hex() << "  " << escape_for_terminal(k.name)
        << (k.not_before ? "  from " + format_time(*k.not_before) : "")
        << (k.not_after ? "  until " + format_time(*k.not_after) : "") << "\n";
  }
}

void print_trust_change(std::ostream& out, const TrustReport& r) {
  if (r.unreachable_threshold) {
    std::cerr << "airlock-repo: note: the threshold " << r.policy.threshold
              << " is higher than the " << r.policy.keys.size()
              << " trusted key(s); no bundle can be imported until more are added\n";
  }
  out << "trust " << r.action << ": ";
  if (r.key_id) out << escape_for_terminal(r.key_name) << ", key " << r.key_id->hex() << "; ";
  out << "done (threshold " << r.policy.threshold << ", " << r.policy.keys.size() << " key(s))\n";
}

void print_access(std::ostream& out, const AccessPolicy& policy) {
  if (policy.empty()) {
    out << "no access rules: every client may read every channel\n";
    return;
  }
  auto join = [](const std::vector<std::string>& list) {
    std::string s;
    for (const auto& x : list) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  for (const auto& r : policy.rules()) {
    out << escape_for_terminal(r.name) << "  channels " << join(r.channels) << "  repos "
        << join(r.repos);
    for (auto [key, value] : {std::pair{"cn", &r.cn}, std::pair{"ou", &r.ou},
                              std::pair{"fingerprint", &r.fingerprint}, std::pair{"ca", &r.ca}}) {
      if (!value->empty()) out << "  " << key << " " << escape_for_terminal(*value);
    }
    if (!r.addresses.empty()) out << "  addresses " << join(r.addresses);
    out << "\n";
  }
}

void print_access_change(std::ostream& out, const AccessReport& r) {
  out << "access " << r.action << ": rule '" << escape_for_terminal(r.rule.name) << "'; done ("
      << r.policy.rules().size() << " rule(s)"
      << (r.policy.empty() ? ": every client may read every channel" : "") << ")\n";
}

void print_import(std::ostream& out, const ImportReport& r) {
  if (r.already_imported) {
    out << r.bundle << ": already imported, nothing changed\n";
    return;
  }
  field(out, "imported", r.bundle + " (" + r.kind + ")");
  field(out, "manifest", "sha256 " + r.manifest_sha256.hex());
  field(out, "objects", std::to_string(r.objects) + " (" + cli::human_bytes(r.bytes) + ")");
  for (const auto& s : r.snapshots) field(out, "snapshot", s.repo + " " + s.id.hex());
  for (const auto& s : r.site_indices) {
    field(out, "site index",
          escape_for_terminal(s.repo) +
              " (filtered): the carried packages' stanzas, signed by site key " + r.site_key);
  }
  if (r.published) field(out, "published", "to channel " + *r.published);
}

void print_snapshots(std::ostream& out, const std::vector<SnapshotInfo>& snapshots) {
  for (const auto& s : snapshots) {
    out << s.id.hex() << "  " << format_time(s.synced_at) << "  " << escape_for_terminal(s.repo)
        << "  " << s.entries << " files  " << cli::human_bytes(s.bytes) << "\n";
  }
}

void print_snapshot(std::ostream& out, const SnapshotView& v) { print_snapshot_view(out, v); }

void print_diff(std::ostream& out, const SnapshotDiff& d) {
  field(out, "from", d.from.hex() + " (" + d.from_repo + ")");
  field(out, "to", d.to.hex() + " (" + d.changes.repo + ")");
  print_changes(out, {d.changes});
}

void print_channel_history(std::ostream& out, const std::vector<ChannelChange>& history) {
  for (const auto& c : history) {
    if (&c != &history.front()) out << "\n";
    std::string what = c.action;
    if (c.action == "import") what = "import --publish of " + c.bundle;
    if (c.action == "promote") what += " from " + c.from;
    out << format_time(c.time) << "  "
        << escape_for_terminal(c.channel + "/" + c.repo + "  " + what) << "\n";
    field(out, "  by", c.operator_name);
    if (!c.reason.empty() || !c.change_ref.empty()) {
      const std::string ticket = c.change_ref.empty() ? "" : "[" + c.change_ref + "]";
      field(out, "  why",
            c.reason.empty() ? ticket : c.reason + (ticket.empty() ? "" : " " + ticket));
    }
    field(out, "  before", id_or_none(c.before));
    field(out, "  after", id_or_none(c.after));
    // The package changes as everywhere else (transfer/changes.h), nested
    // under the change they belong to.
    std::stringstream changes;
    print_changes(changes, {c.changes});
    std::string line;
    while (std::getline(changes, line)) out << "  " << line << "\n";
  }
}

void print_channel(std::ostream& out, const ChannelEntry& e) {
  out << e.channel << "  " << escape_for_terminal(e.repo) << "  " << e.snapshot.hex() << "\n";
}

void print_channels(std::ostream& out, const std::vector<ChannelEntry>& entries) {
  for (const auto& e : entries) print_channel(out, e);
}

void print_deleted(std::ostream& out, const std::vector<ChannelEntry>& entries) {
  for (const auto& e : entries)
    field(out, "deleted", e.channel + "/" + e.repo + " (served " + e.snapshot.hex() + ")");
}

void print_scrub(std::ostream& out, const ScrubReport& r) {
  for (const auto& p : r.missing) out << "missing  " << escape_for_terminal(p.message) << "\n";
  for (const auto& p : r.corrupt) out << "corrupt  " << escape_for_terminal(p.message) << "\n";
  out << "checked " << r.checked << " objects (" << cli::human_bytes(r.bytes)
      << "): " << (r.ok() ? "OK" : "PROBLEMS FOUND") << "\n";
}

void print_status(std::ostream& out, const StatusReport& r) {
  for (const auto& h : r.streams) {
    field(out, "stream",
          h.stream + ": sequence " + std::to_string(h.sequence) + ", imported " +
              format_time(h.imported_at));
  }
  for (const auto& e : r.channels)
    field(out, "channel", e.channel + "/" + e.repo + " -> " + e.snapshot.hex());
  field(out, "store", std::to_string(r.objects) + " objects, " + cli::human_bytes(r.bytes));
  field(out, "log", std::to_string(r.log_records) + " records, root " + r.log_root.hex());
}

void print_report_summary(std::ostream& out, const Report& report, const std::string& file,
                          const std::string& format) {
  const auto& r = report.head();
  auto count = [](const nlohmann::ordered_json& list, const char* one, const char* many) {
    return std::to_string(list.size()) + " " + (list.size() == 1 ? one : many);
  };
  const auto& period = r["period"];
  auto bound = [&](const char* key, const char* open) {
    return period[key].is_string() ? period[key].get<std::string>() : std::string(open);
  };
  field(out, "report", file + " (" + format + ")");
  field(out, "period",
        bound("since", "the first record") + " to " + bound("until", "the last record"));
  const auto& integrity = r["integrity"];
  field(out, "log",
        integrity.value("verified", false)
            ? "verified, " + std::to_string(integrity.value("records", 0ULL)) + " records, " +
                  std::to_string(integrity.value("checkpoints", 0ULL)) + " signed checkpoints"
            : "NOT VERIFIED: " + integrity.value("error", std::string()));
  field(
      out, "crossed",
      count(r["imports"], "import", "imports") + ", " + count(r["refusals"], "refused", "refused"));
  field(out, "channels", count(r["channel_changes"], "change", "changes"));
  std::set<std::string> stale;
  for (const auto& s : r["stale_hosts"]) stale.insert(s.value("host", std::string()));
  auto n = [](std::size_t k, const char* one, const char* many) {
    return std::to_string(k) + " " + (k == 1 ? one : many);
  };
  field(out, "hosts",
        n(report.host_count(), "host", "hosts") + ", " + std::to_string(stale.size()) + " stale");
  field(out, "packages",
        n(report.package_count(), "package version", "package versions") + " pulled");
}

namespace {

// A fact's value on one line: strings as they are, lists joined by ", ",
// objects as key=value pairs.
std::string fact_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& e : v) out += (out.empty() ? "" : ", ") + fact_text(e);
    return "[" + out + "]";
  }
  if (v.is_object()) {
    std::string out;
    for (const auto& [k, e] : v.items()) out += (out.empty() ? "" : " ") + k + "=" + fact_text(e);
    return out;
  }
  return v.dump();
}

json package_json(const PackageEntry& p) {
  return {{"name", p.name},           {"version", p.version}, {"architecture", p.architecture},
          {"sha256", p.sha256.hex()}, {"size", p.size},       {"path", p.path}};
}

}  // namespace

json to_json(const Trace& t) {
  json objects = json::array(), packages = json::array(), snapshots = json::array(),
       links = json::array();
  for (const auto& o : t.objects) objects.push_back(o.hex());
  for (const auto& p : t.packages) packages.push_back(package_json(p));
  for (const auto& s : t.snapshots) snapshots.push_back(s.hex());
  for (const auto& l : t.links) {
    json j{{"link", l.link}, {"n", l.n ? json(*l.n) : json(nullptr)}};
    j.update(json::parse(l.facts.dump()));
    links.push_back(std::move(j));
  }
  return {
      {"query", t.query},     {"objects", objects},
      {"packages", packages}, {"snapshots", snapshots},
      {"links", links},       {"checkpoint", t.checkpoint ? json(*t.checkpoint) : json(nullptr)}};
}

void print_trace(std::ostream& out, const Trace& t) {
  for (const auto& o : t.objects) field(out, "file", o.hex());
  for (const auto& p : t.packages) {
    field(out, "package", p.name + " " + p.version + " (" + p.architecture + ") " + p.path);
  }
  for (const auto& l : t.links) {
    std::string facts;
    for (const auto& [k, v] : l.facts.items()) facts += " " + k + "=" + fact_text(v);
    std::string n = l.n ? std::to_string(*l.n) : std::string("-");
    out << std::string(n.size() < 6 ? 6 - n.size() : 0, ' ') << n << "  " << l.link
        << std::string(l.link.size() < 10 ? 10 - l.link.size() : 1, ' ')
        << escape_for_terminal(facts) << "\n";
  }
  if (!t.checkpoint) out << "     -  checkpoint  none covers the chain yet\n";
}

json to_json(const std::vector<CaCertificate>& certificates) {
  json out = json::array();
  for (const auto& c : certificates) out.push_back(to_json(c));
  return out;
}

json to_json(const CaReport& r) {
  json files = json::array();
  for (const auto& f : r.files) files.push_back(f.string());
  return {{"action", r.action},
          {"certificates", to_json(r.certificates)},
          {"files", std::move(files)},
          {"crl_number", r.crl_number}};
}

void print_ca_change(std::ostream& out, const CaReport& r) {
  for (const auto& c : r.certificates) {
    field(out, r.action == "revoke" ? "revoked" : "certificate",
          (c.host.empty() ? c.subject : c.host) + ", serial " + c.serial);
    field(out, "sha256", c.fingerprint.hex());
    if (r.action != "revoke") field(out, "valid until", format_time(c.not_after));
  }
  for (const auto& f : r.files) field(out, "written", f.string());
  if (r.action == "revoke" || r.action == "crl")
    field(out, "crl",
          "number " + std::to_string(r.crl_number) + ", valid for " + std::to_string(kCrlDays) +
              " days");
}

void print_ca_list(std::ostream& out, const std::vector<CaCertificate>& certificates) {
  if (certificates.empty()) {
    out << "no certificates issued yet ('ca issue HOST' makes one)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{
      {"HOST", "SERIAL", "NOT AFTER", "REVOKED", "SHA-256 FINGERPRINT"}};
  for (const auto& c : certificates) {
    rows.push_back({c.host, c.serial, format_time(c.not_after),
                    c.revoked ? format_time(*c.revoked) : "-", c.fingerprint.hex()});
  }
  print_table(out, std::move(rows));
}

}  // namespace airlock::repo
