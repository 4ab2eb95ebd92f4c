#include "airlock/base/env.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <streambuf>
#include <vector>

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

Result<std::optional<UniqueFd>> Env::create_unnamed(const fs::path& dir, mode_t mode) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
      return std::optional<UniqueFd>{};
    }
    return fail_errno("create a file in " + dir.string());
  }
  UniqueFd out(fd);
  // The umask may have taken bits away; a stat costs less than a change.
  struct stat st;
  if (::fstat(fd, &st) != 0) return fail_errno("create a file in " + dir.string());
  if ((st.st_mode & 07777) != mode && ::fchmod(fd, mode) != 0)
    return fail_errno("create a file in " + dir.string());
  return std::optional(std::move(out));
}

// Through /proc, which needs no privilege, unlike linkat's AT_EMPTY_PATH.
Status Env::link_unnamed(int fd, const fs::path& to) {
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, to.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    if (errno == EEXIST)
      return fail(Code::conflict, to.string() + " already exists; not overwriting it");
    return fail_errno("link " + to.string());
  }
  return {};
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
      return fail(Code::conflict, to.string() + " already exists; not overwriting it");
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

namespace {

// A stream buffer over a descriptor written through an Env, 1 MiB at a
// time; the first failure is kept and fails the stream.
class EnvWriteBuf : public std::streambuf {
 public:
  EnvWriteBuf(Env& env, int fd) : env_(env), fd_(fd), buf_(1 << 20) {
    setp(buf_.data(), buf_.data() + buf_.size());
  }
  const Status& status() const { return status_; }

 protected:
  int_type overflow(int_type c) override {
    if (!flush()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return flush() ? 0 : -1; }

 private:
  bool flush() {
    if (!status_) return false;
    const auto n = static_cast<std::size_t>(pptr() - pbase());
    if (n > 0) status_ = env_.write(fd_, std::string_view(pbase(), n));
    setp(buf_.data(), buf_.data() + buf_.size());
    return status_.has_value();
  }
  Env& env_;
  int fd_;
  std::vector<char> buf_;
  Status status_;
};

}  // namespace

Status Env::write_file_atomic(const fs::path& path, std::string_view contents, mode_t mode) {
  return write_file_atomic(
      path,
      [&](std::ostream& out) {
        out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
      },
      mode);
}

Status Env::write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& fill,
                              mode_t mode) {
  auto dir = path.parent_path();
  auto tmp = create_temp(dir.empty() ? fs::path(".") : dir,
                         "." + path.filename().string() + ".tmp-", mode);
  if (!tmp) return fail(tmp.error());
  auto undo = [&](const Error& e) {
    (void)remove(tmp->path);
    return fail(e);
  };
  EnvWriteBuf buf(*this, tmp->fd.get());
  {
    std::ostream out(&buf);
    fill(out);
    out.flush();
  }
  if (!buf.status()) return undo(buf.status().error().context(path.string()));
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
