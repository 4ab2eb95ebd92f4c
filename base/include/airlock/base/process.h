// Running a helper program (gpgv, a virus scanner) with a fixed argv: no
// shell, no PATH surprises beyond argv[0], output captured with a size cap.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "airlock/base/error.h"

namespace airlock {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out;     // stdout, up to the cap
  std::string err;     // stderr, up to the cap
  std::string status;  // what the program wrote to the extra status descriptor
};

struct ProcessOptions {
  std::size_t max_output = 4 << 20;
  std::chrono::seconds timeout{300};
  // When >= 3, a pipe is opened as this descriptor in the child and its
  // contents returned in ProcessResult::status (gpgv --status-fd N).
  int status_fd = -1;
  std::vector<std::string> env;  // extra NAME=VALUE entries
};

// Runs argv[0] (searched in PATH when it has no slash) with argv, stdin from
// /dev/null. not_found when the program does not exist; io on other failures
// to start; limit when it runs past the timeout (it is killed).
Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options = {});

}  // namespace airlock
