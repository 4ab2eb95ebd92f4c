// Small, safe file primitives shared by every module: an owning descriptor,
// bounded whole-file reads, chunked reads and complete writes. Calls that
// change the file system in a way crash tests must reach go through Env.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "airlock/base/error.h"

namespace airlock {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Opens with O_CLOEXEC; not_found when the file is absent, io otherwise.
Result<UniqueFd> open_file(const std::filesystem::path& path, int flags, mode_t mode = 0);

// Opens an existing file for reading without blocking (a FIFO or a device
// could otherwise hang the open or the first read) and checks it is a regular
// file before anything reads it: invalid_input naming the path and what it is
// (e.g. "a FIFO") otherwise; not_found when absent, io on other failures.
Result<UniqueFd> open_regular_file(const std::filesystem::path& path);

// What a file mode is, for messages: "a regular file", "a FIFO", "a directory"...
std::string file_kind(mode_t mode);

// Reads a whole regular file (open_regular_file's checks); limit when it is larger than max_bytes
// (checked before reading and again while reading, so a growing file cannot exceed it).
Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);

// Reads fd from its current offset to the end in large chunks (1 MiB), handing
// each to fn; stops at the first error from read or from fn.
Status read_chunks(int fd, const std::function<Status(std::span<const std::uint8_t>)>& fn);

// Writes all bytes, retrying short writes and EINTR.
Status write_all(int fd, std::span<const std::uint8_t> bytes);
Status write_all(int fd, std::string_view bytes);

Status fsync_fd(int fd, std::string_view what);
// fsyncs a directory so that renames and creations inside it are durable.
Status fsync_dir(const std::filesystem::path& dir);

// True when path exists; false when it does not or cannot be looked at.
bool path_exists(const std::filesystem::path& path) noexcept;

// Creates the directory and its parents; io on failure.
Status make_dirs(const std::filesystem::path& dir);

// A private (0700) scratch directory, removed with everything in it when the
// value goes away.
class ScratchDir {
 public:
  // A new directory named <prefix>XXXXXX in parent; the error names parent
  // (not_found when it does not exist) when it cannot be made.
  static Result<ScratchDir> make(const std::filesystem::path& parent, std::string_view prefix);
  ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  ScratchDir& operator=(ScratchDir&&) = delete;
  ~ScratchDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit ScratchDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace airlock
