// The compliance report: what crossed the gap, what the channels served and
// which hosts took what, over a period, in one self-contained document.
//
// Built from one pass over the transfer log (one record at a time) and the
// store's snapshot package lists; nothing is written. Memory grows with the
// number of hosts, channels, imports and distinct files pulled, never with
// the number of records. The report is one JSON document
// (schemas/report.schema.json); the HTML and CSV forms are drawn from it
// and carry the same data.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/store/store.h"
#include "airlock/transfer/log.h"

namespace airlock::repo {

// The format name a report carries ("format").
inline constexpr std::string_view kReportFormat = "airlock-report/1";

struct ReportOptions {
  // The period: records at or after since and at or before until. Channel
  // states and the hosts' last index fetches are those at the period's end,
  // whatever the period's start (a host that last fetched an index before
  // the period is still known to be stale).
  std::optional<TimePoint> since, until;
  TimePoint now{};  // when the report is made; the period's end when until is unset
};

// The log's integrity as the report states it: a verification result (the
// home's verify_log) or the reason it failed.
struct ReportIntegrity {
  std::optional<LogVerification> verified;
  std::string failure;  // set when verified is empty
  std::string log_key;  // the log key's id (SHA-256 of its raw public key)
};

// The report. Sections: integrity, imports (each with its package
// changes against the stream's previous import of each repository),
// refusals (imports not made, with their reason), channel_changes (publish,
// promote, rollback, delete, each with its package diff), hosts (requests,
// bytes, the last fetch of each channel index, stale or not, the package
// versions downloaded, failed requests), stale_hosts, packages (each
// package version pulled with the hosts that pulled it) and days (pulls,
// bytes, imports, refusals and channel changes per UTC day).
//
// The sections that grow with hosts times packages (hosts, packages) are
// kept compact and made one item at a time as they are written; the rest
// is one JSON object. Every string from the log is kept as it is (valid
// UTF-8): the writers escape it for where it goes. Immutable; cheap to copy.
class Report {
 public:
  // format, generated_at, period, integrity, imports, refusals,
  // channel_changes, stale_hosts and days.
  const nlohmann::ordered_json& head() const;
  std::size_t host_count() const;
  // Host i (by name), as the schema's hosts item.
  nlohmann::ordered_json host(std::size_t i) const;
  std::size_t package_count() const;
  // Package version i (by name, version, architecture), as the schema's packages item.
  nlohmann::ordered_json package(std::size_t i) const;
  // The whole document (schemas/report.schema.json), for small reports and tests.
  nlohmann::ordered_json document() const;

  struct Data;
  explicit Report(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

 private:
  std::shared_ptr<const Data> data_;
};

// Builds the report: one pass over log, then the snapshots named. corrupt,
// naming the record, for a record that is not a JSON object with a time and
// an event; the store's error when a snapshot cannot be read. integrity is
// called once, after the pass over the log, so that the caller may verify
// the log on another thread meanwhile.
Result<Report> build_report(const Store& store, const TransferLog& log,
                            const std::function<ReportIntegrity()>& integrity,
                            const ReportOptions& options);

// The report as JSON (schemas/report.schema.json), written item by item.
void write_report_json(std::ostream& out, const Report& report);

// The report as one HTML page needing nothing else: inline CSS and SVG
// charts, no script, no external resource, a Content-Security-Policy that
// forbids loading anything. Every string escaped for HTML, control and
// bidirectional characters shown as \xNN / \u{NNNN}.
void write_report_html(std::ostream& out, const Report& report);

// The report as CSV (RFC 4180): a header, then one row per item of every
// section, a section's lists of objects as rows of their own
// ("hosts.packages") that repeat the keys of the item they belong to. The
// columns are report_csv_columns(), in order; cells are safe for
// spreadsheets (base/text.h csv_cell); lists of plain values are compact
// JSON; `other` holds any field no column names.
void write_report_csv(std::ostream& out, const Report& report);
std::span<const char* const> report_csv_columns();

}  // namespace airlock::repo
