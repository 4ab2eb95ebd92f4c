// What every airlock program shares on the terminal: one-line errors mapped
// to exit codes, human-readable sizes, and a progress line that appears only
// on a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "airlock/base/error.h"

namespace airlock {

// Prints "<program>: <message>" to stderr and returns the exit code for it.
int report_error(std::string_view program, const Error& error);

// Parses a size with an optional binary suffix: "4096", "640K", "700M", "4G",
// "1T" (K = 1024). invalid_input for anything else or zero.
Result<std::uint64_t> parse_size(std::string_view text);

// "0 B", "512 B", "1.5 KiB", "3.2 GiB".
std::string human_bytes(std::uint64_t bytes);

// A single self-rewriting status line on stderr. Does nothing unless enabled
// (see progress_enabled); redraws at most ten times a second.
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

// Who is running the command: $USER, else the account name.
std::string operator_name();

// True when stderr is a terminal and the user did not ask for quiet.
bool progress_enabled(bool quiet);

}  // namespace airlock
