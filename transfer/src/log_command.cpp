#include "airlock/transfer/log_command.h"

#include <fstream>
#include <iostream>

namespace airlock {
namespace {

using cli::Invocation;

int verify(const Invocation& inv, const HomeBase& home) {
  auto v = home.verify_log();
  if (!v) return cli::fail(inv, v.error());
  if (inv.json()) {
    cli::print_json({{"ok", true},
                     {"records", v->records},
                     {"checkpoints", v->checkpoints},
                     {"root", v->root.hex()},
                     {"uncovered", v->uncovered}});
    return 0;
  }
  std::cout << "records " << v->records << ", checkpoints " << v->checkpoints << ", root "
            << v->root.hex() << "\nOK\n";
  return 0;
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
  LogFilter filter;
  if (inv.has("event")) filter.event = inv.str("event");
  if (!inv.has("out")) {
    auto s = home.write_log(filter, format, std::cout);
    return s ? 0 : cli::fail(inv, s.error());
  }
  const std::string out = inv.str("out");
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  if (!file) return cli::fail(inv, Error{Code::io, "cannot write " + out});
  auto s = home.write_log(filter, format, file);
  if (!s) return cli::fail(inv, s.error().context(out));
  return 0;
}

int run(const Invocation& inv, const HomeOpener& open) {
  if (!inv.has("action")) return cli::usage(inv, "show, export, verify, prove or checkpoint?");
  const auto action = inv.str("action");
  if (action != "show" && action != "export" && action != "verify" && action != "prove" &&
      action != "checkpoint") {
    return cli::usage(inv, "show, export, verify, prove or checkpoint?");
  }
  if (action == "prove" && !inv.has("n")) return cli::usage(inv, "prove needs N");
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
    std::cout << *note;
    return 0;
  }
  return write(inv, **home, action);
}

}  // namespace

cli::Command log_command(const std::string& program, HomeOpener open) {
  const std::string p = program + " --home DIR log ";
  cli::Command c;
  c.name = "log";
  c.summary = "log show|export|verify|prove N|checkpoint   the transfer log";
  c.help = "usage: " + p + "show [--json] [--event E]\n       " + p +
           "export [--format jsonl|csv] [--event E] [--out FILE]\n       " + p +
           "verify [--json]\n       " + p + "prove N\n       " + p +
           "checkpoint\n\n"
           "show prints the transfer log (--json: the records as stored); export writes\n"
           "it for auditors (jsonl: the exact bytes, verifiable with airlock-verify;\n"
           "csv: one row a record); verify checks every record and signed checkpoint\n"
           "against keys/log.pub; prove prints an inclusion proof for record N;\n"
           "checkpoint prints the newest signed checkpoint, to keep off this machine.\n"
           "A record that is not JSON stops show and export with exit 3, naming it.\n\n"
           "examples:\n  " +
           p + "show --event import\n  " + p + "export --format csv --out log.csv\n  " + p +
           "verify\n  " + p + "prove 12 > record-12.proof.json\n  " + p +
           "checkpoint > checkpoint.txt\n";
  c.options = [](cli::po::options_description& o, cli::po::positional_options_description& pos) {
    o.add_options()("action", cli::po::value<std::string>(),
                    "show, export, verify, prove or checkpoint")(
        "n", cli::po::value<std::uint64_t>(), "record number (prove)")(
        "json", "show: the records as stored")("event", cli::po::value<std::string>(),
                                               "show, export: only this event")(
        "format", cli::po::value<std::string>(), "export: jsonl (default) or csv")(
        "out", cli::po::value<std::string>(), "show, export: write to this file");
    pos.add("action", 1).add("n", 1);
  };
  c.run = [open = std::move(open)](const Invocation& inv) { return run(inv, open); };
  return c;
}

}  // namespace airlock
