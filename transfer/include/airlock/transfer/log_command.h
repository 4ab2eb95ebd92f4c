// The `log` command both programs share (show, export, verify, prove,
// checkpoint), as an entry of their command tables, and the queries and
// presentation behind show and export as library calls.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <span>
#include <string>

#include "airlock/base/cli.h"
#include "airlock/base/time.h"
#include "airlock/transfer/home.h"
#include "airlock/verify/digest.h"

namespace airlock {

// Which records `log show` and `log export` pass: every condition that is set
// must hold. The conditions on pulls (client, package, object, path_glob)
// pass only pull records, result only records that have a result (imports).
struct LogQuery {
  std::uint64_t from = 0;         // records [from, to) only: a range of n
  std::uint64_t to = UINT64_MAX;
  std::optional<std::string> event;
  std::optional<TimePoint> since;  // the record's time is at or after it
  std::optional<TimePoint> until;  // ... at or before it
  std::optional<std::string> client;
  // A .deb (NAME_VERSION_ARCH.deb, an epoch's ':' written as %3a) of this
  // package, and of this version when set; a version without an epoch also
  // matches a file whose version has one, and the other way round.
  std::optional<std::string> package;
  std::optional<std::string> version;
  std::optional<Digest> object;
  std::optional<std::string> path_glob;  // fnmatch(3) on the decoded path; * matches /
  std::optional<std::string> result;     // "imported" or "refused"
};

// A record as show and the CSV export present it. Pull records logged before
// paths were recorded decoded (a path with %XX and no target) get their path
// percent-decoded once, invalid UTF-8 escaped as the log does, and the stored
// path as target. Every other record is returned as it is.
nlohmann::json presented_record(nlohmann::json record);
// A stored pull path as presented_record shows it: percent-decoded, invalid UTF-8 escaped.
std::string presented_path(std::string_view stored);

// Whether a presented record passes query.
bool log_query_matches(const LogQuery& query, const nlohmann::json& presented);

// The columns of `log export --format csv`, in order (documented in
// README.md, "Compliance guide"); `other` holds, as a JSON object, any field
// no column names, so every field of every record is carried.
std::span<const char* const> log_csv_columns();

// Writes the records of log that pass query to out, reading one record at a
// time: text (one line a record, every value escaped for a terminal), jsonl
// (the exact bytes of each line) or csv (a header, then one row a record,
// nested values as compact JSON, cells safe for spreadsheets). corrupt,
// naming the record, for a line that is not a JSON object with a time and
// an event; nothing after it is written. io when out fails.
Status write_log_query(const TransferLog& log, const LogQuery& query, LogFormat format,
                       std::ostream& out);

// The --since or --until option (option is "since" or "until") of inv: a
// time, or a date meaning its first (since) or last (until) second, UTC;
// nullopt when not given; invalid_input naming the option otherwise.
Result<std::optional<TimePoint>> time_option(const cli::Invocation& inv, const char* option);

using HomeOpener = std::function<Result<std::unique_ptr<HomeBase>>(const cli::Invocation&)>;

// program names the examples ("airlock-repo"); open opens the program's home.
cli::Command log_command(const std::string& program, HomeOpener open);

// The same for a home type with a static open(dir, options) (mirror::Home,
// repo::Home); every log action only reads (see reading_options).
template <class HomeType>
cli::Command log_command(const std::string& program) {
  return log_command(program, [](const cli::Invocation& inv) -> Result<std::unique_ptr<HomeBase>> {
    auto home = HomeType::open(inv.home, reading_options(inv.home));
    if (!home) return fail(home.error());
    return std::unique_ptr<HomeBase>(std::move(*home));
  });
}

}  // namespace airlock
