#include "airlock/base/cli.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

#include <cstdio>
#include <iostream>

namespace airlock {

int report_error(std::string_view program, const Error& error) {
  std::cerr << program << ": " << error.message << "\n";
  return exit_code(error);
}

Result<std::uint64_t> parse_size(std::string_view text) {
  auto bad = [&] {
    return fail(Code::invalid_input,
                "'" + std::string(text) + "' is not a size (a number with an optional K, M, G or T)");
  };
  if (text.empty()) return bad();
  int shift = 0;
  switch (text.back()) {
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: break;
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

bool progress_enabled(bool quiet) { return !quiet && ::isatty(STDERR_FILENO) == 1; }

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
    std::snprintf(pct, sizeof pct, "%3d%%  ", static_cast<int>(100.0 * static_cast<double>(done) /
                                                              static_cast<double>(total)));
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

}  // namespace airlock
