// The report as CSV: one row per item of every section, nested lists of
// items as rows of their own that repeat the keys of their parent.
#include <map>
#include <set>
#include <string>

#include "airlock/base/text.h"
#include "airlock/repo/report.h"

namespace airlock::repo {
using ojson = nlohmann::ordered_json;

namespace {

constexpr const char* kColumns[] = {"section",      "n",
                                    "time",         "date",
                                    "host",         "channel",
                                    "repo",         "action",
                                    "result",       "stream",
                                    "sequence",     "kind",
                                    "bundle",       "manifest",
                                    "signers",      "operator",
                                    "media_label",  "reason",
                                    "change_ref",   "from",
                                    "snapshot",     "previous",
                                    "objects",      "snapshots",
                                    "missing",      "change",
                                    "name",         "version",
                                    "architecture", "old",
                                    "new",          "size",
                                    "added",        "upgraded",
                                    "downgraded",   "removed",
                                    "sha256",       "path",
                                    "status",       "count",
                                    "first_seen",   "last_seen",
                                    "first",        "last",
                                    "requests",     "errors",
                                    "bytes",        "pulls",
                                    "host_count",   "imports",
                                    "refusals",     "channel_changes",
                                    "last_fetch",   "last_fetch_n",
                                    "last_change",  "last_change_n",
                                    "stale",        "verified",
                                    "statement",    "error",
                                    "records",      "root",
                                    "checkpoints",  "latest_checkpoint",
                                    "uncovered",    "log_key",
                                    "format",       "generated_at",
                                    "since",        "until",
                                    "first_record", "last_record",
                                    "state_at",     "other"};

// The lists of items that become rows of their own, and the keys of their
// parent each of their rows repeats.
const std::map<std::string, std::vector<const char*>> kChildLists = {
    {"imports.changes", {"n"}},
    {"channel_changes.changes", {"n"}},
    {"imports.changes.packages", {"n", "repo"}},
    {"channel_changes.changes.packages", {"n", "repo"}},
    {"hosts.channels", {"host"}},
    {"hosts.packages", {"host"}},
    {"hosts.failures", {"host"}},
    {"packages.hosts", {"name", "version", "architecture", "sha256"}},
};

std::string value_text(const ojson& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void write_row(std::ostream& out, const std::string& section, const ojson& row) {
  static const std::set<std::string> named(std::begin(kColumns), std::end(kColumns));
  ojson other = ojson::object();
  for (const auto& [k, v] : row.items())
    if (!named.contains(k)) other[k] = v;
  bool first = true;
  for (const char* c : kColumns) {
    if (!first) out << ",";
    first = false;
    const std::string column = c;
    if (column == "section") {
      out << csv_cell(section);
    } else if (column == "other") {
      if (!other.empty()) out << csv_cell(other.dump());
    } else if (row.contains(column)) {
      out << csv_cell(value_text(row[column]));
    }
  }
  out << "\n";
}

// Writes item as a row of section, then its child lists' items as rows.
void write_item(std::ostream& out, const std::string& section, const ojson& item,
                const ojson& inherited) {
  ojson row = inherited;
  std::vector<std::pair<std::string, const ojson*>> children;
  for (const auto& [k, v] : item.items()) {
    const std::string child = section + "." + k;
    if (v.is_array() && kChildLists.contains(child)) {
      children.push_back({child, &v});
    } else {
      row[k] = v;
    }
  }
  write_row(out, section, row);
  for (const auto& [child, list] : children) {
    ojson keys = ojson::object();
    for (const char* k : kChildLists.at(child))
      if (row.contains(k)) keys[k] = row[k];
    for (const auto& c : *list) write_item(out, child, c, keys);
  }
}

}  // namespace

std::span<const char* const> report_csv_columns() { return kColumns; }

void write_report_csv(std::ostream& out, const Report& r) {
  const ojson& report = r.head();
  bool first = true;
  for (const char* c : kColumns) {
    out << (first ? "" : ",") << c;
    first = false;
  }
  out << "\n";
  ojson head{{"format", report.value("format", "")},
             {"generated_at", report.value("generated_at", "")}};
  if (report.contains("period")) head.update(report["period"]);
  write_row(out, "report", head);
  write_item(out, "integrity", report.value("integrity", ojson::object()), ojson::object());
  for (const char* section : {"imports", "refusals", "channel_changes"})
    for (const auto& item : report[section]) write_item(out, section, item, ojson::object());
  for (std::size_t i = 0; i < r.host_count(); ++i)
    write_item(out, "hosts", r.host(i), ojson::object());
  for (const auto& item : report["stale_hosts"])
    write_item(out, "stale_hosts", item, ojson::object());
  for (std::size_t i = 0; i < r.package_count(); ++i)
    write_item(out, "packages", r.package(i), ojson::object());
  for (const auto& item : report["days"]) write_item(out, "days", item, ojson::object());
}

}  // namespace airlock::repo
