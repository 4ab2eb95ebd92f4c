#include "airlock/base/env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace airlock {
namespace fs = std::filesystem;

Result<UniqueFd> Env::open(const fs::path& path, int flags, mode_t mode) {
  return open_file(path, flags, mode);
}

Result<TempFile> Env::create_temp(const fs::path& dir, std::string_view prefix, mode_t mode) {
  std::string tmpl = (dir / (std::string(prefix) + "XXXXXX")).string();
  int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return fail_errno("create a temporary file in " + dir.string());
  TempFile out{UniqueFd(fd), tmpl};
  if (::fchmod(fd, mode) != 0) {
    auto err = fail_errno(tmpl);
    ::unlink(tmpl.c_str());
    return err;
  }
  return out;
}

Status Env::write(int fd, std::span<const std::uint8_t> bytes) { return write_all(fd, bytes); }

Status Env::write(int fd, std::string_view bytes) {
  return write(fd, std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Status Env::truncate(int fd, std::uint64_t size, std::string_view what) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0)
    return fail_errno("truncate " + std::string(what));
  return {};
}

Status Env::sync(int fd, std::string_view what) { return fsync_fd(fd, what); }

void Env::start_writeback(int fd, std::uint64_t offset, std::uint64_t length) {
  ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                    SYNC_FILE_RANGE_WRITE);
}

Status Env::rename(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) return fail_errno("rename to " + to.string());
  return {};
}

Status Env::link(const fs::path& from, const fs::path& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST)
      return fail(Code::refused, to.string() + " already exists; not overwriting it");
    return fail_errno("link " + to.string());
  }
  return {};
}

Status Env::remove(const fs::path& path) {
  if (::unlink(path.c_str()) != 0) return fail_errno("remove " + path.string());
  return {};
}

Status Env::remove_all(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return fail(Code::io, "remove " + path.string() + ": " + ec.message());
  return {};
}

Status Env::make_dir(const fs::path& dir, mode_t mode) {
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST)
    return fail_errno("create " + dir.string());
  return {};
}

Status Env::make_dirs(const fs::path& dir) { return airlock::make_dirs(dir); }

Status Env::chmod(const fs::path& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) return fail_errno("chmod " + path.string());
  return {};
}

Status Env::sync_dir(const fs::path& dir) { return fsync_dir(dir); }

Status Env::sync_filesystem(const fs::path& path) {
  auto fd = open_file(path, O_RDONLY | O_DIRECTORY);
  if (!fd) return fail(fd.error());
  if (::syncfs(fd->get()) != 0) return fail_errno("syncfs " + path.string());
  return {};
}

TimePoint Env::now() { return system_now(); }

Status Env::write_file_atomic(const fs::path& path, std::string_view contents, mode_t mode) {
  auto dir = path.parent_path();
  auto tmp = create_temp(dir.empty() ? fs::path(".") : dir,
                         "." + path.filename().string() + ".tmp-", mode);
  if (!tmp) return fail(tmp.error());
  auto undo = [&](const Error& e) {
    (void)remove(tmp->path);
    return fail(e);
  };
  if (auto s = write(tmp->fd.get(), contents); !s) return undo(s.error().context(path.string()));
  if (auto s = sync(tmp->fd.get(), path.string()); !s) return undo(s.error());
  tmp->fd.reset();
  if (auto s = rename(tmp->path, path); !s) return undo(s.error());
  return sync_dir(dir.empty() ? fs::path(".") : dir);
}

Status Env::write_new_file(const fs::path& path, std::string_view contents, mode_t mode) {
  auto dir = path.parent_path();
  if (dir.empty()) dir = ".";
  auto tmp = create_temp(dir, "." + path.filename().string() + ".new-", mode);
  if (!tmp) return fail(tmp.error());
  auto written = [&]() -> Status {
    if (auto s = write(tmp->fd.get(), contents); !s) return fail(s.error().context(path.string()));
    if (auto s = sync(tmp->fd.get(), path.string()); !s) return s;
    tmp->fd.reset();
    return link(tmp->path, path);
  }();
  (void)remove(tmp->path);
  if (!written) return written;
  return sync_dir(dir);
}

Result<std::optional<UniqueFd>> Env::lock_file(const fs::path& path, bool wait) {
  auto fd = open(path, O_RDWR | O_CREAT, 0644);
  if (!fd) return fail(fd.error());
  int rc;
  do {
    rc = ::flock(fd->get(), LOCK_EX | (wait ? 0 : LOCK_NB));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) return std::optional<UniqueFd>{};
    return fail_errno("lock " + path.string());
  }
  return std::optional<UniqueFd>(std::move(*fd));
}

Env& Env::system() {
  static Env env;
  return env;
}

}  // namespace airlock
