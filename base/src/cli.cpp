#include "airlock/base/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "airlock/base/text.h"
#include "version.h"

namespace airlock::cli {
namespace {

std::string program_help(const Program& p) {
  std::string out = "usage: " + p.name + (p.uses_home ? " [--home DIR]" : "") +
                    " COMMAND [options]\n\n" + p.description + "\n\ncommands:\n";
  for (const auto& c : p.commands) out += "  " + c.summary + "\n";
  out += "\nglobal options:\n";
  if (p.uses_home) {
    out +=
        "  --home DIR        the home directory (default: $AIRLOCK_HOME)\n"
        "  --no-wait         fail at once when another command is changing the home\n"
        "                    (without it, say who holds the home and wait)\n";
  }
  out +=
      "  -q, --quiet       no progress display\n"
      "  -h, --help        this help; '" +
      p.name +
      " COMMAND --help' for a command\n"
      "  --version         print the version\n";
  if (!p.examples.empty()) out += "\nexamples:\n" + p.examples;
  out += "\nExit codes: 0 success, 1 operational error, 2 usage, 3 verification refused.\n";
  return out;
}

// Takes the global options off the front of args; returns false to stop
// (help or version printed) with the exit code in rc.
bool take_globals(const Program& p, std::vector<std::string>& args, Invocation& inv, int& rc) {
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const auto& a = args[i];
    if (p.uses_home && a == "--home" && i + 1 < args.size()) {
      inv.home = args[++i];
    } else if (p.uses_home && a.starts_with("--home=")) {
      inv.home = a.substr(7);
    } else if (a == "-q" || a == "--quiet") {
      inv.quiet = true;
    } else if (p.uses_home && a == "--no-wait") {
      inv.no_wait = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << program_help(p);
      rc = 0;
      return false;
    } else if (a == "--version") {
      std::cout << p.name << " " << version() << "\n";
      rc = 0;
      return false;
    } else {
      break;
    }
  }
  args.erase(args.begin(), args.begin() + static_cast<long>(i));
  if (args.empty()) {
    std::cerr << program_help(p);
    rc = 2;
    return false;
  }
  return true;
}

int dispatch(const Command& c, std::vector<std::string> rest, Invocation& inv) {
  // --quiet and --no-wait are accepted after the command too.
  std::erase_if(rest, [&](const std::string& a) {
    if (a == "--no-wait") return inv.no_wait = true;
    return (a == "-q" || a == "--quiet") && (inv.quiet = true);
  });
  po::options_description opts(c.help + "\noptions");
  opts.add_options()("help,h", "show this help");
  po::positional_options_description pos;
  if (c.options) c.options(opts, pos);
  po::store(po::command_line_parser(rest).options(opts).positional(pos).run(), inv.vm);
  po::notify(inv.vm);
  if (inv.has("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  return c.run(inv);
}

}  // namespace

std::string_view version() { return AIRLOCK_VERSION; }

bool Invocation::progress() const { return !quiet && !json() && ::isatty(STDERR_FILENO) == 1; }

int run(const Program& p, int argc, char** argv) {
  Invocation inv;
  inv.program = p.name;
  if (const char* h = std::getenv("AIRLOCK_HOME"); h && p.uses_home) inv.home = h;
  std::vector<std::string> args(argv + 1, argv + argc);
  int rc = 0;
  if (!take_globals(p, args, inv, rc)) return rc;
  inv.command = args[0];
  const Command* command = nullptr;
  for (const auto& c : p.commands) {
    if (c.name == inv.command) command = &c;
  }
  if (!command) {
    std::cerr << p.name << ": unknown command '" << escape_for_terminal(inv.command) << "'\n(run '"
              << p.name << " --help')\n";
    return 2;
  }
  try {
    return dispatch(*command, std::vector<std::string>(args.begin() + 1, args.end()), inv);
  } catch (const po::error& e) {
    return usage(inv, e.what());
  } catch (const std::exception& e) {
    std::cerr << p.name << ": " << inv.command
              << ": internal error: " << escape_for_terminal(e.what()) << "\n";
    return 1;
  }
}

int fail(const Invocation& inv, const Error& error) {
  if (inv.json()) {
    print_json(json{{"ok", false},
                    {"code", std::string(code_name(error.code))},
                    {"error", escape_invalid_utf8(error.message)}});
  } else {
    std::cerr << inv.program << ": " << escape_for_terminal(error.message) << "\n";
  }
  return exit_code(error);
}

int usage(const Invocation& inv, const std::string& message) {
  std::cerr << inv.program << ": " << inv.command << ": " << escape_for_terminal(message)
            << "\n(run '" << inv.program << " " << inv.command << " --help')\n";
  return 2;
}

void print_json(const json& value) {
  std::cout << value.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

void field(std::string_view name, std::string_view value, std::size_t column) {
  field(std::cout, name, value, column);
}

void field(std::ostream& out, std::string_view name, std::string_view value, std::size_t column) {
  out << name << std::string(name.size() < column ? column - name.size() : 1, ' ')
      << escape_for_terminal(value) << "\n";
}

void print_table(std::ostream& out, std::vector<std::vector<std::string>> rows) {
  std::vector<std::size_t> width;
  for (auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) {
      row[i] = escape_for_terminal(row[i]);
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line = " ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += " " + row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 1, ' ');
    }
    out << line << "\n";
  }
}

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  auto bad = [&] {
    return fail(Code::invalid_input,
                "'" + std::string(text) + "' is not a duration like 30d or 12h");
  };
  if (text.size() < 2 || text.size() > 12) return bad();
  std::int64_t n = 0;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return bad();
    n = n * 10 + (text[i] - '0');
  }
  switch (text.back()) {
    case 'd':
      return std::chrono::seconds(n * 86400);
    case 'h':
      return std::chrono::seconds(n * 3600);
    case 'm':
      return std::chrono::seconds(n * 60);
    default:
      return bad();
  }
}

Result<std::uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return fail(
        Code::invalid_input,
        "'" + std::string(text) + "' is not a size (a number with an optional K, M, G or T)");
  };
  if (text.empty()) return bad();
  int shift = 0;
  switch (text.back()) {
    case 'K':
    case 'k':
      shift = 10;
      break;
    case 'M':
    case 'm':
      shift = 20;
      break;
    case 'G':
    case 'g':
      shift = 30;
      break;
    case 'T':
    case 't':
      shift = 40;
      break;
    default:
      break;
  }
  auto digits = shift ? text.substr(0, text.size() - 1) : text;
  if (digits.empty() || digits.size() > 15) return bad();
  std::uint64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad();
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (value == 0 || value > (~0ull >> shift)) return bad();
  return value << shift;
}

std::string count(std::uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

std::string human_bytes(std::uint64_t bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string operator_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (auto* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return "unknown";
}

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::set_label(std::string label) { label_ = std::move(label); }

void Progress::update(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && done != total) return;
  last_draw_ = now;
  double secs = std::chrono::duration<double>(now - start_).count();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  std::string line = label_ + "  " + human_bytes(done);
  if (total > 0) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3d%%  ",
                  static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)));
    line = label_ + "  " + pct + human_bytes(done) + " / " + human_bytes(total);
  }
  line += "  " + human_bytes(static_cast<std::uint64_t>(rate)) + "/s";
  if (total > done && rate > 0) {
    auto eta = static_cast<long>(static_cast<double>(total - done) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, "  ETA %ld:%02ld", eta / 60, eta % 60);
    line += buf;
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::finish() {
  if (enabled_ && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
  drawn_ = false;
}

}  // namespace airlock::cli
