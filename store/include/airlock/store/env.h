// The operating-system calls the store makes when it writes, behind an
// interface so that tests can fail them (disk full, crash points) and move
// the clock. The default implementation is the real system.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "airlock/verify/error.h"
#include "airlock/verify/time.h"

namespace airlock {

class Env {
 public:
  virtual ~Env() = default;

  // Writes all bytes to fd (short writes retried); io on failure, e.g. ENOSPC.
  virtual Status write(int fd, std::span<const std::uint8_t> bytes);
  virtual Status sync(int fd, std::string_view what);
  virtual Status rename(const std::filesystem::path& from, const std::filesystem::path& to);
  virtual Status sync_dir(const std::filesystem::path& dir);
  // Makes everything written to the filesystem holding path durable (syncfs).
  virtual Status sync_filesystem(const std::filesystem::path& path);
  virtual TimePoint now();

  // The process-wide real environment. Thread-safe.
  static Env& system();
};

}  // namespace airlock
