#include "airlock/store/env.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "airlock/verify/file.h"

namespace airlock {

Status Env::write(int fd, std::span<const std::uint8_t> bytes) { return write_all(fd, bytes); }

Status Env::sync(int fd, std::string_view what) { return fsync_fd(fd, what); }

Status Env::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) return fail_errno("rename to " + to.string());
  return {};
}

Status Env::sync_dir(const std::filesystem::path& dir) { return fsync_dir(dir); }

Status Env::sync_filesystem(const std::filesystem::path& path) {
  auto fd = open_file(path, O_RDONLY | O_DIRECTORY);
  if (!fd) return fail(fd.error());
  if (::syncfs(fd->get()) != 0) return fail_errno("syncfs " + path.string());
  return {};
}

TimePoint Env::now() { return system_now(); }

Env& Env::system() {
  static Env env;
  return env;
}

}  // namespace airlock
