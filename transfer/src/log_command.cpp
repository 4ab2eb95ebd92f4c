#include "airlock/transfer/log_command.h"

#include <fnmatch.h>

#include <fstream>
#include <iostream>
#include <set>

#include "airlock/base/file.h"
#include "airlock/base/text.h"

namespace airlock {
using json = nlohmann::json;

namespace {

constexpr const char* kCsvColumns[] = {"n",
                                       "time",
                                       "event",
                                       "operator",
                                       "reason",
                                       "change_ref",
                                       "result",
                                       "bundle",
                                       "manifest",
                                       "stream",
                                       "sequence",
                                       "kind",
                                       "signers",
                                       "signer_keys",
                                       "media_label",
                                       "imported_at",
                                       "snapshots",
                                       "objects",
                                       "bytes",
                                       "volumes",
                                       "manifests",
                                       "log_size",
                                       "site_key",
                                       "site_indices",
                                       "staged",
                                       "missing",
                                       "channel",
                                       "repo",
                                       "snapshot",
                                       "previous",
                                       "from",
                                       "upstream",
                                       "files",
                                       "fetched_files",
                                       "fetched_bytes",
                                       "unchanged",
                                       "selection_changed",
                                       "etag",
                                       "last_modified",
                                       "client",
                                       "method",
                                       "path",
                                       "target",
                                       "object",
                                       "status",
                                       "duration_ms",
                                       "incomplete",
                                       "request",
                                       "user_agent",
                                       "dropped",
                                       "action",
                                       "side",
                                       "name",
                                       "keyid",
                                       "fingerprint",
                                       "uid",
                                       "threshold",
                                       "log_key",
                                       "listen",
                                       "pulls",
                                       "checked",
                                       "corrupt",
                                       "size",
                                       "root",
                                       "note",
                                       "record_n",
                                       "record_time",
                                       "record_event",
                                       "record",
                                       "prev_root",
                                       "other"};

std::string text_of(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  // Nested values as compact JSON, non-ASCII as \uXXXX: nothing for a terminal or
  // a spreadsheet to act on, and still JSON.
  return v.dump(-1, ' ', true, json::error_handler_t::replace);
}

std::string string_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A Debian version with its epoch ("1:") removed.
std::string_view without_epoch(std::string_view v) {
  auto colon = v.find(':');
  return colon == std::string_view::npos ? v : v.substr(colon + 1);
}

// Whether path (decoded) names a .deb of package, and of version when set.
bool names_package(std::string_view path, const std::string& package,
                   const std::optional<std::string>& version) {
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  auto file = path.substr(path.rfind('/') + 1);
  if (!file.ends_with(".deb")) return false;
  file.remove_suffix(4);
  auto first = file.find('_'), last = file.rfind('_');
  if (first == std::string_view::npos || first == last) return false;
  if (file.substr(0, first) != package) return false;
  if (!version) return true;
  std::string v(file.substr(first + 1, last - first - 1));
  for (auto p = v.find('%'); p != std::string::npos; p = v.find('%', p + 1)) {
    if (v.size() >= p + 3 && (v.compare(p, 3, "%3a") == 0 || v.compare(p, 3, "%3A") == 0)) {
      v.replace(p, 3, ":");
    }
  }
  return v == *version || without_epoch(v) == *version || v == without_epoch(*version);
}

bool time_in(const LogQuery& q, const json& record) {
  if (!q.since && !q.until) return true;
  auto t = parse_time(string_field(record, "time"));
  if (!t) return false;
  return (!q.since || *t >= *q.since) && (!q.until || *t <= *q.until);
}

bool pull_matches(const LogQuery& q, const json& record) {
  if (!q.client && !q.package && !q.object && !q.path_glob) return true;
  if (string_field(record, "event") != "pull") return false;
  const std::string path = string_field(record, "path");
  if (q.client && string_field(record, "client") != *q.client) return false;
  if (q.object && string_field(record, "object") != q.object->hex()) return false;
  if (q.path_glob && ::fnmatch(q.path_glob->c_str(), path.c_str(), 0) != 0) return false;
  return !q.package || names_package(path, *q.package, q.version);
}

void write_text(std::uint64_t n, const json& j, std::ostream& out) {
  std::string rest;
  for (const auto& [k, v] : j.items()) {
    if (k == "n" || k == "time" || k == "event" || k == "prev_root" || k == "note") continue;
    rest += " " + k + "=" + text_of(v);
  }
  out << n << "  " << escape_for_terminal(text_of(j["time"])) << "  "
      << escape_for_terminal(text_of(j["event"])) << escape_for_terminal(rest) << "\n";
}

// The value of one CSV column for a presented record.
json csv_value(const json& j, std::string_view column, const std::set<std::string_view>& named) {
  if (column.starts_with("record_")) {
    auto it = j.find("record");
    if (it == j.end() || !it->is_object()) return nullptr;
    auto inner = it->find(std::string(column.substr(7)));
    return inner == it->end() ? json(nullptr) : *inner;
  }
  if (column == "other") {
    json other = json::object();
    for (const auto& [k, v] : j.items()) {
      if (!named.contains(k)) other[k] = v;
    }
    return other.empty() ? json(nullptr) : other;
  }
  auto it = j.find(std::string(column));
  return it == j.end() ? json(nullptr) : *it;
}

void write_csv(const json& j, std::ostream& out) {
  static const std::set<std::string_view> named(std::begin(kCsvColumns), std::end(kCsvColumns));
  bool first = true;
  for (const char* column : kCsvColumns) {
    if (!first) out << ',';
    first = false;
    out << csv_cell(text_of(csv_value(j, column, named)));
  }
  out << "\n";
}

}  // namespace

std::string presented_path(std::string_view stored) {
  return escape_invalid_utf8(percent_decode(stored));
}

json presented_record(json record) {
  if (!record.is_object() || string_field(record, "event") != "pull" || record.contains("target"))
    return record;
  auto it = record.find("path");
  if (it == record.end() || !it->is_string()) return record;
  std::string stored = it->get<std::string>();
  std::string decoded = presented_path(stored);
  if (decoded == stored) return record;
  record["path"] = decoded;
  record["target"] = stored;
  return record;
}

bool log_query_matches(const LogQuery& q, const json& record) {
  if (q.event && string_field(record, "event") != *q.event) return false;
  if (q.result && string_field(record, "result") != *q.result) return false;
  return time_in(q, record) && pull_matches(q, record);
}

std::span<const char* const> log_csv_columns() { return kCsvColumns; }

Result<std::optional<TimePoint>> time_option(const cli::Invocation& inv, const char* option) {
  if (!inv.has(option)) return std::nullopt;
  const bool since = std::string_view(option) == "since";
  auto t = parse_bound(inv.str(option), since ? DayEdge::start : DayEdge::end);
  if (!t) {
    return fail(Code::invalid_input, std::string("--") + option +
                                         " wants an RFC 3339 time such as "
                                         "2026-11-22T10:51:33Z or a date (2026-11-22), not '" +
                                         inv.str(option) + "'");
  }
  return std::optional<TimePoint>(*t);
}

Status write_log_query(const TransferLog& log, const LogQuery& query, LogFormat format,
                       std::ostream& out) {
  if (format == LogFormat::csv) {
    for (std::size_t i = 0; i < std::size(kCsvColumns); ++i)
      out << (i ? "," : "") << kCsvColumns[i];
    out << "\n";
  }
  auto s = log.for_each_record(
      query.from, query.to, [&](std::uint64_t n, std::string_view line) -> Status {
        json j = json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("event") || !j.contains("time")) {
          return fail(Code::corrupt, "transfer log " + log.dir().string() + ": record " +
                                         std::to_string(n) +
                                         " is not a JSON object with a time and an event");
        }
        j = presented_record(std::move(j));
        if (!log_query_matches(query, j)) return {};
        if (format == LogFormat::jsonl) {
          out << line << "\n";
        } else if (format == LogFormat::csv) {
          write_csv(j, out);
        } else {
          write_text(n, j, out);
        }
        return {};
      });
  if (!s) return s;
  out.flush();
  if (!out) return fail(Code::io, "writing the log failed");
  return {};
}

namespace {

using cli::Invocation;

constexpr const char* kFilterOptions[] = {"from",    "to",     "event", "since",  "client",
                                          "package", "object", "path",  "result", "until"};

// The query the options ask for; invalid_input naming the option otherwise.
Result<LogQuery> query_of(const Invocation& inv) {
  LogQuery q;
  if (inv.has("event")) q.event = inv.str("event");
  for (const char* bound : {"since", "until"}) {
    auto t = time_option(inv, bound);
    if (!t) return fail(t.error());
    (std::string_view(bound) == "since" ? q.since : q.until) = *t;
  }
  if (inv.has("client")) q.client = inv.str("client");
  if (inv.has("package")) {
    const auto p = inv.str("package");
    const auto eq = p.find('=');
    q.package = p.substr(0, eq);
    if (eq != std::string::npos) q.version = p.substr(eq + 1);
    if (q.package->empty() || (q.version && q.version->empty())) {
      return fail(Code::invalid_input, "--package wants NAME or NAME=VERSION, not '" + p + "'");
    }
  }
  if (inv.has("object")) {
    auto d = Digest::parse(inv.str("object"));
    if (!d) return fail(Code::invalid_input, "--object wants a SHA-256 as 64 lowercase hex digits");
    q.object = *d;
  }
  if (inv.has("path")) q.path_glob = inv.str("path");
  if (inv.has("from")) q.from = inv.get<std::uint64_t>("from");
  if (inv.has("to")) q.to = inv.get<std::uint64_t>("to");
  if (q.from >= q.to) return fail(Code::invalid_input, "--from must be less than --to");
  if (inv.has("result")) {
    q.result = inv.str("result");
    if (q.result != "imported" && q.result != "refused") {
      return fail(Code::invalid_input, "--result is imported or refused, not '" + *q.result + "'");
    }
  }
  return q;
}

// Runs body with the stream --out names, or stdout; the file is named in an error.
int to_out(const Invocation& inv, const std::function<Status(std::ostream&)>& body) {
  if (!inv.has("out")) {
    auto s = body(std::cout);
    return s ? 0 : cli::fail(inv, s.error());
  }
  const std::string out = inv.str("out");
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  if (!file) return cli::fail(inv, Error{Code::io, "cannot write " + out});
  auto s = body(file);
  if (s) file.close();
  if (s && !file) s = fail(Code::io, "writing failed");
  return s ? 0 : cli::fail(inv, s.error().context(out));
}

int write(const Invocation& inv, const HomeBase& home, const std::string& action) {
  LogFormat format = LogFormat::text;
  const auto f = inv.str("format", action == "export" ? "jsonl" : "text");
  if (f == "jsonl" || (action == "show" && inv.json())) {
    format = LogFormat::jsonl;
  } else if (f == "csv") {
    format = LogFormat::csv;
  } else if (f != "text") {
    return cli::usage(inv, "--format is jsonl, csv or text");
  }
  auto query = query_of(inv);
  if (!query) return cli::usage(inv, query.error().message);
  return to_out(
      inv, [&](std::ostream& out) { return write_log_query(home.log(), *query, format, out); });
}

int verify(const Invocation& inv, const HomeBase& home) {
  std::vector<std::string> known;
  if (inv.has("checkpoint")) {
    auto note = read_file(inv.str("checkpoint"), 64 * 1024);
    if (!note) return cli::fail(inv, note.error());
    known.push_back(std::move(*note));
  }
  auto pub = PublicKey::read_file(home.keys_dir() / "log.pub");
  if (!pub) return cli::fail(inv, pub.error());
  std::vector<PublicKey> keys{std::move(*pub)};
  auto v = verify_log_file(home.log_dir(), keys, known);
  if (!v) return cli::fail(inv, v.error());
  if (inv.json()) {
    json out{{"ok", true},
             {"records", v->records},
             {"checkpoints", v->checkpoints},
             {"root", v->root.hex()},
             {"uncovered", v->uncovered},
             {"coverage", coverage_statement(*v)}};
    if (!known.empty()) out["contains_checkpoint"] = inv.str("checkpoint");
    cli::print_json(out);
    return 0;
  }
  std::cout << "records " << v->records << ", checkpoints " << v->checkpoints << ", root "
            << v->root.hex() << "\n"
            << coverage_statement(*v) << "\n";
  if (!known.empty()) {
    std::cout << escape_for_terminal("contains the tree of " + inv.str("checkpoint") +
                                     ": no record was removed since")
              << "\n";
  }
  std::cout << "OK\n";
  return 0;
}

// A usage error when an option is given to an action that does not take it.
std::optional<std::string> misplaced_option(const Invocation& inv, const std::string& action) {
  const bool query = action == "show" || action == "export";
  for (const char* o : kFilterOptions) {
    if (inv.has(o) && !query) return std::string("--") + o + " is for show and export";
  }
  if (inv.has("format") && !query) return "--format is for show and export";
  if (inv.has("out") && !query && action != "checkpoint")
    return "--out is for show, export and checkpoint";
  if (inv.has("checkpoint") && action != "verify") return "--checkpoint is for verify";
  if (inv.has("n") && action != "prove") return "only prove takes a record number";
  return std::nullopt;
}

int run(const Invocation& inv, const HomeOpener& open) {
  if (!inv.has("action")) return cli::usage(inv, "show, export, verify, prove or checkpoint?");
  const auto action = inv.str("action");
  if (action != "show" && action != "export" && action != "verify" && action != "prove" &&
      action != "checkpoint") {
    return cli::usage(inv, "show, export, verify, prove or checkpoint?");
  }
  if (action == "prove" && !inv.has("n")) return cli::usage(inv, "prove needs N");
  if (auto bad = misplaced_option(inv, action)) return cli::usage(inv, *bad);
  auto home = open(inv);
  if (!home) return cli::fail(inv, home.error());
  if (action == "verify") return verify(inv, **home);
  if (action == "prove") {
    auto proof = (*home)->prove(inv.get<std::uint64_t>("n"));
    if (!proof) return cli::fail(inv, proof.error());
    std::cout << *proof;
    return 0;
  }
  if (action == "checkpoint") {
    auto note = (*home)->checkpoint_note();
    if (!note) return cli::fail(inv, note.error());
    return to_out(inv, [&](std::ostream& out) -> Status {
      out << *note;
      return {};
    });
  }
  return write(inv, **home, action);
}

}  // namespace

cli::Command log_command(const std::string& program, HomeOpener open) {
  const std::string p = program + " --home DIR log ";
  cli::Command c;
  c.name = "log";
  c.summary = "log show|export|verify|prove N|checkpoint   the transfer log";
  c.help = "usage: " + p + "show [--json] [FILTER...] [--out FILE]\n       " + p +
           "export [--format jsonl|csv] [FILTER...] [--out FILE]\n       " + p +
           "verify [--checkpoint FILE] [--json]\n       " + p + "prove N\n       " + p +
           "checkpoint [--out FILE]\n\n"
           "show prints the transfer log (--json: the records as stored, one a line);\n"
           "export writes it for auditors (jsonl: the exact bytes, verifiable with\n"
           "airlock-verify; csv: one row a record with every field, columns listed in\n"
           "the README's compliance guide); verify checks every record and signed\n"
           "checkpoint against keys/log.pub, and with --checkpoint also that the log\n"
           "still holds every record a checkpoint kept earlier signed (exit 3 if records\n"
           "were removed); prove prints an inclusion proof for record N; checkpoint\n"
           "prints the newest signed checkpoint, to keep off this machine.\n"
           "A record that is not JSON stops show and export with exit 3, naming it.\n\n"
           "FILTER (show, export; all must hold): --from N, --to N (records N to\n"
           "before N; export --from 0 --to N writes a prefix airlock-verify checks alone),\n"
           "--event E, --since T, --until T\n"
           "(RFC 3339), --client ADDR, --package NAME[=VERSION] (pulls of its .deb),\n"
           "--object SHA256, --path GLOB (pulled paths, decoded; * matches /),\n"
           "--result imported|refused. show escapes control and bidi characters.\n\n"
           "examples:\n  " +
           p + "show --event import --result refused\n  " + p +
           "show --package openssl=3.0.22-1~deb12u2 --since 2026-11-01T00:00:00Z\n  " + p +
           "show --client 10.0.4.17 --path '*/pool/main/o/*' --json\n  " + p +
           "show --object $(sha256sum -b hello_2.10-3_amd64.deb | cut -c1-64)\n  " + p +
           "export --format csv --out log.csv\n  " + p +
           "export --from 1000000 --to 2000000 --out records-1M-2M.jsonl\n  " + p +
           "verify --checkpoint checkpoint.txt\n  " + p + "prove 12 > record-12.proof.json\n  " +
           p + "checkpoint --out checkpoint.txt\n";
  c.options = [](cli::po::options_description& o, cli::po::positional_options_description& pos) {
    auto str = [] { return cli::po::value<std::string>(); };
    o.add_options()("action", str(), "show, export, verify, prove or checkpoint")(
        "from", cli::po::value<std::uint64_t>(), "show, export: records from this n")(
        "to", cli::po::value<std::uint64_t>(), "show, export: records before this n")(
        "n", cli::po::value<std::uint64_t>(), "record number (prove)")(
        "json", "show: the records as stored; verify: the result as JSON")(
        "event", str(), "show, export: only this event")(
        "since", str(), "show, export: records at or after this RFC 3339 time")(
        "until", str(), "show, export: records at or before this RFC 3339 time")(
        "client", str(), "show, export: pulls by this client address")(
        "package", str(), "show, export: pulls of a .deb of NAME[=VERSION]")(
        "object", str(), "show, export: pulls of this object (SHA-256)")(
        "path", str(), "show, export: pulls whose decoded path matches this glob")(
        "result", str(), "show, export: imports that were imported or refused")(
        "format", str(), "export: jsonl (default) or csv")(
        "out", str(), "show, export, checkpoint: write to this file")(
        "checkpoint", str(), "verify: a checkpoint kept earlier that the log must contain");
    pos.add("action", 1).add("n", 1);
  };
  c.run = [open = std::move(open)](const Invocation& inv) { return run(inv, open); };
  return c;
}

}  // namespace airlock
