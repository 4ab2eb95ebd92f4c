#include "airlock/base/file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <vector>

namespace airlock {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<UniqueFd> open_file(const std::filesystem::path& path, int flags, mode_t mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return fail_errno(path.string());
  return UniqueFd(fd);
}

std::string file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "a file of unknown type";
}

Result<UniqueFd> open_regular_file(const std::filesystem::path& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  auto fd = open_file(path, O_RDONLY | O_NONBLOCK);
  if (!fd) return fail(fd.error());
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(path.string());
  if (!S_ISREG(st.st_mode)) {
    return fail(Code::invalid_input,
                path.string() + " is " + file_kind(st.st_mode) + ", not a regular file");
  }
  // Reads of a regular file never block; clear the flag for plain semantics.
  int flags = ::fcntl(fd->get(), F_GETFL);
  if (flags >= 0) (void)::fcntl(fd->get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

Result<std::string> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  auto fd = open_regular_file(path);
  if (!fd) return fail(fd.error());
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(path.string());
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return fail(Code::limit, path.string() + ": " + std::to_string(st.st_size) +
                                 " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  std::string out;
  // One byte more than the size, so that reading to the end (the read that
  // answers 0) needs no larger buffer: a string grows by doubling.
  out.resize(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == out.size()) {
      if (out.size() > max_bytes) break;
      out.resize(out.size() + 4096);
    }
    ssize_t n = ::read(fd->get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(path.string());
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > max_bytes) {
    return fail(Code::limit, path.string() + ": file exceeds the limit of " +
                                 std::to_string(max_bytes) + " bytes");
  }
  out.resize(used);
  return out;
}

// The buffer is no larger than a regular file needs (its size and a byte to
// see its end) and left uninitialised: reading many small files costs no
// megabyte each.
Status read_chunks(int fd, const std::function<Status(std::span<const std::uint8_t>)>& fn) {
  constexpr std::size_t kMax = 1 << 20;
  std::size_t size = kMax;
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) < kMax)
    size = static_cast<std::size_t>(st.st_size) + 1;
  auto buf = std::make_unique_for_overwrite<std::uint8_t[]>(size);
  for (;;) {
    ssize_t n = ::read(fd, buf.get(), size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read");
    }
    if (n == 0) return {};
    if (auto s = fn(std::span(buf.get(), static_cast<std::size_t>(n))); !s) return s;
  }
}

Status write_all(int fd, std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("write");
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Status write_all(int fd, std::string_view bytes) {
  return write_all(fd,
                   std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Status fsync_fd(int fd, std::string_view what) {
  if (::fsync(fd) != 0) return fail_errno(std::string("fsync ") + std::string(what));
  return {};
}

Status fsync_dir(const std::filesystem::path& dir) {
  auto fd = open_file(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
  if (!fd) return fail(fd.error());
  return fsync_fd(fd->get(), dir.string());
}

bool path_exists(const std::filesystem::path& path) noexcept {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

Status make_dirs(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Code::io, dir.string() + ": " + ec.message());
  return {};
}

Result<ScratchDir> ScratchDir::make(const std::filesystem::path& parent, std::string_view prefix) {
  std::string pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    return fail_errno("make a scratch directory in " + parent.string());
  return ScratchDir(pattern);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace airlock
