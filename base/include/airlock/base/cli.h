// What the airlock programs share on the command line: a command table run
// by one dispatcher (global options, per-command options and --help, usage
// errors), exit codes mapped from error codes in one place, --json output,
// aligned fields, sizes and durations, and a progress line that appears only
// on a terminal.
//
// A program is a table of commands; each command parses nothing itself: it
// receives its options already parsed (Boost.Program_options) and returns an
// exit code. Nothing a command throws escapes as an abort: the dispatcher
// turns a usage problem into exit 2 and anything else into one line, exit 1.
#pragma once

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"

namespace airlock::cli {

namespace po = boost::program_options;
using json = nlohmann::json;
using Options = po::options_description;
using Positionals = po::positional_options_description;

// airlock's version, from the build (CMake project VERSION).
std::string_view version();

// One run of one command.
struct Invocation {
  std::string_view program;    // "airlock-repo"
  std::string command;         // "trust"
  std::filesystem::path home;  // --home DIR, else $AIRLOCK_HOME; empty when neither
  bool quiet = false;          // -q / --quiet, before or after the command
  bool no_wait = false;        // --no-wait, before or after the command: a busy home is an error
  po::variables_map vm;

  bool has(const char* name) const { return vm.count(name) > 0; }
  // The option's value, or fallback when it was not given.
  template <class T>
  T get(const char* name, T fallback = {}) const {
    return vm.count(name) ? vm[name].as<T>() : fallback;
  }
  std::string str(const char* name, std::string fallback = {}) const {
    return get<std::string>(name, fallback);
  }
  bool json() const { return has("json"); }
  // Progress on stderr only on a terminal, without --quiet or --json.
  bool progress() const;
};

struct Command {
  std::string name;  // as typed: "import"
  std::string
      summary;       // one line for the program's help: "import BUNDLE_DIR ...   verify and import"
  std::string help;  // usage line, what it does, examples (ends before the option list)
  // Adds the command's options and positionals (--help is always there).
  std::function<void(po::options_description&, po::positional_options_description&)> options;
  std::function<int(const Invocation&)> run;
};

struct Program {
  std::string name;         // "airlock-repo"
  std::string description;  // what it is, a few lines
  std::string examples;     // a few typical command lines
  bool uses_home = true;    // --home DIR / $AIRLOCK_HOME
  std::vector<Command> commands;
};

// Runs the command named on the command line: global options (--home DIR,
// -q/--quiet, -h/--help, --version) come before it, -q also after. Returns
// the process exit code: 0 success, 1 operational error, 2 usage, 3 refused.
int run(const Program& program, int argc, char** argv);

// Reports error on stderr as "<program>: <message>" (the message escaped for
// the terminal) — or, with --json, as {"ok": false, "code", "error"} on
// stdout — and returns its exit code.
int fail(const Invocation& inv, const Error& error);
// "<program>: <command>: <message>" and a pointer to --help; returns 2.
int usage(const Invocation& inv, const std::string& message);

// Prints JSON (indented) on stdout.
void print_json(const json& value);

// Prints a command's result — as JSON with --json (as_json(value)), else as
// print(std::cout, value) — or its failure as fail() does. Returns the exit
// code.
template <class T, class Print, class AsJson>
int emit(const Invocation& inv, const Result<T>& result, Print print, AsJson as_json) {
  if (!result) return fail(inv, result.error());
  if (inv.json()) {
    print_json(as_json(*result));
  } else {
    print(std::cout, *result);
  }
  return 0;
}
// "name       value": a name padded to a column (at least one space), then
// the value, escaped for the terminal.
void field(std::string_view name, std::string_view value, std::size_t column = 11);
// The same onto out.
void field(std::ostream& out, std::string_view name, std::string_view value,
           std::size_t column = 11);
// Rows of cells as aligned columns onto out, each line indented by two
// spaces and every cell escaped for the terminal.
void print_table(std::ostream& out, std::vector<std::vector<std::string>> rows);

// Parses a size with an optional binary suffix: "4096", "640K", "700M", "4G",
// "1T" (K = 1024). invalid_input for anything else or zero.
Result<std::uint64_t> parse_size(std::string_view text);
// "30d", "12h", "45m". invalid_input for anything else.
Result<std::chrono::seconds> parse_duration(std::string_view text);
// "0 B", "512 B", "1.5 KiB", "3.2 GiB".
std::string human_bytes(std::uint64_t bytes);
// "1 package", "2 packages": n and the noun, with an s unless n is 1.
std::string count(std::uint64_t n, std::string_view noun);
// Who is running the command: $USER, else the account name.
std::string operator_name();

// A single self-rewriting status line on stderr. Does nothing unless enabled
// (Invocation::progress); redraws at most ten times a second.
class Progress {
 public:
  Progress(std::string label, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // done and total in bytes; total 0 when unknown.
  void update(std::uint64_t done, std::uint64_t total);
  void set_label(std::string label);
  // Clears the line.
  void finish();

 private:
  std::string label_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace airlock::cli
