// The report as CSV: one row per item of every section, nested lists of
// items as rows of their own that repeat the keys of their parent.
#include <array>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

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

constexpr std::size_t kColumnCount = std::size(kColumns);

// The column a key fills, or kColumnCount for "other".
std::size_t column_of(std::string_view key) {
  static const auto index = [] {
    std::unordered_map<std::string_view, std::size_t> m;
    for (std::size_t i = 0; i < kColumnCount; ++i) m.emplace(kColumns[i], i);
    return m;
  }();
  auto it = index.find(key);
  // "section" and "other" are written by the writer, never from a key.
  if (it == index.end() || it->second == 0 || it->second == kColumnCount - 1) return kColumnCount;
  return it->second;
}

void write_value(std::ostream& out, const ojson& v) {
  if (v.is_null()) return;
  out << csv_cell(v.is_string() ? v.get_ref<const std::string&>() : v.dump());
}

// A row's cells: (key, value) in order, a later key replacing an earlier one.
using Fields = std::vector<std::pair<std::string_view, const ojson*>>;

void write_row(std::ostream& out, std::string_view section, const Fields& fields) {
  std::array<const ojson*, kColumnCount> cells{};
  ojson other;
  for (const auto& [k, v] : fields) {
    const std::size_t c = column_of(k);
    if (c < kColumnCount) {
      cells[c] = v;
    } else if (k != kColumns[0] && k != kColumns[kColumnCount - 1]) {
      other[std::string(k)] = *v;
    }
  }
  out << csv_cell(section);
  for (std::size_t c = 1; c + 1 < kColumnCount; ++c) {
    out << ',';
    if (cells[c]) write_value(out, *cells[c]);
  }
  out << ',';
  if (!other.is_null()) out << csv_cell(other.dump());
  out << '\n';
}

// Writes item as a row of section (after the keys it inherits from its
// parent), then its child lists' items as rows.
void write_item(std::ostream& out, const std::string& section, const ojson& item,
                const Fields& inherited) {
  Fields row = inherited;
  std::vector<std::pair<std::string, const ojson*>> children;
  for (const auto& [k, v] : item.items()) {
    std::string child = section + "." + k;
    if (v.is_array() && kChildLists.contains(child)) {
      children.emplace_back(std::move(child), &v);
    } else {
      row.emplace_back(k, &v);
    }
  }
  write_row(out, section, row);
  for (const auto& [child, list] : children) {
    Fields keys;
    for (const char* k : kChildLists.at(child)) {
      // The parent's value of k: the last one given, as in its row.
      for (auto it = row.rbegin(); it != row.rend(); ++it) {
        if (it->first == k) {
          keys.push_back(*it);
          break;
        }
      }
    }
    for (const auto& c : *list) write_item(out, child, c, keys);
  }
}

void write_item(std::ostream& out, const std::string& section, const ojson& item) {
  write_item(out, section, item, Fields{});
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
  write_item(out, "report", head);
  write_item(out, "integrity", report.value("integrity", ojson::object()));
  for (const char* section : {"imports", "refusals", "channel_changes"})
    for (const auto& item : report[section]) write_item(out, section, item);
  for (std::size_t i = 0; i < r.host_count(); ++i) write_item(out, "hosts", r.host(i));
  for (const auto& item : report["stale_hosts"]) write_item(out, "stale_hosts", item);
  for (std::size_t i = 0; i < r.package_count(); ++i) write_item(out, "packages", r.package(i));
  for (const auto& item : report["days"]) write_item(out, "days", item);
}

}  // namespace airlock::repo
