// The operating system as airlock's writers see it: every call that creates,
// changes, moves, removes or makes durable a file, and the clock. The store,
// the transfer log, imports and the homes make these calls only through an
// Env, so tests inject faults (a full disk, a crash before any chosen call)
// and move the clock. Reads go straight to the system: a failed read changes
// nothing.
//
// Env::system() is the real system and is thread-safe. Every method returns
// an io error ("<what>: <strerror>") on failure, not_found for ENOENT.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/base/file.h"
#include "airlock/base/time.h"

namespace airlock {

// A new temporary file: its descriptor and its path.
struct TempFile {
  UniqueFd fd;
  std::filesystem::path path;
};

class Env {
 public:
  virtual ~Env() = default;

  // open(2) with O_CLOEXEC. Opening to write or create is a fault point;
  // read-only opens are passed through.
  virtual Result<UniqueFd> open(const std::filesystem::path& path, int flags, mode_t mode = 0);
  // A new file dir/<prefix>XXXXXX (mkostemp) with the given mode.
  virtual Result<TempFile> create_temp(const std::filesystem::path& dir, std::string_view prefix,
                                       mode_t mode);
  // A new file in dir that has no name yet (O_TMPFILE), with the given mode:
  // it vanishes when its descriptor closes unless link_unnamed names it.
  // nullopt when the filesystem cannot make one.
  virtual Result<std::optional<UniqueFd>> create_unnamed(const std::filesystem::path& dir,
                                                         mode_t mode);
  // Gives the unnamed file open as fd the name to (on the same filesystem);
  // conflict when to exists.
  virtual Status link_unnamed(int fd, const std::filesystem::path& to);
  // Writes all bytes to fd (short writes retried); io on failure, e.g. ENOSPC.
  virtual Status write(int fd, std::span<const std::uint8_t> bytes);
  virtual Status truncate(int fd, std::uint64_t size, std::string_view what);
  virtual Status sync(int fd, std::string_view what);
  // Asks the kernel to start writing [offset, offset + length) back now, so
  // that a later sync finds little left. A hint: never fails.
  virtual void start_writeback(int fd, std::uint64_t offset, std::uint64_t length);
  virtual Status rename(const std::filesystem::path& from, const std::filesystem::path& to);
  // Gives the file at from a second name to; refused when to exists.
  virtual Status link(const std::filesystem::path& from, const std::filesystem::path& to);
  // Removes a file; not_found when it is not there.
  virtual Status remove(const std::filesystem::path& path);
  // Removes a directory tree; success when it is not there.
  virtual Status remove_all(const std::filesystem::path& path);
  // Creates one directory; success when it exists already.
  virtual Status make_dir(const std::filesystem::path& dir, mode_t mode = 0755);
  // Creates a directory and its parents.
  virtual Status make_dirs(const std::filesystem::path& dir);
  virtual Status chmod(const std::filesystem::path& path, mode_t mode);
  // fsyncs a directory so that renames and creations inside it are durable.
  virtual Status sync_dir(const std::filesystem::path& dir);
  // Makes everything written to the filesystem holding path durable (syncfs).
  virtual Status sync_filesystem(const std::filesystem::path& path);
  virtual TimePoint now();

  // Built from the calls above, so that faults reach inside them.
  Status write(int fd, std::string_view bytes);
  // Replaces path with contents atomically: a temporary file beside it is
  // written, synced and renamed over it, then the directory is synced. The
  // file is either the old one or the new one, never a mix.
  Status write_file_atomic(const std::filesystem::path& path, std::string_view contents,
                           mode_t mode = 0644);
  // The same for contents written by fill to a stream, buffered, so that a
  // large file never sits in memory whole. A failed write makes the stream
  // fail and nothing replaces path.
  Status write_file_atomic(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& fill, mode_t mode = 0644);
  // Opens (creating it) the lock file path and takes an exclusive flock on
  // it, held until the descriptor closes. With wait false, an empty optional
  // means another process holds it.
  Result<std::optional<UniqueFd>> lock_file(const std::filesystem::path& path, bool wait);
  // Creates path (which must not exist: refused otherwise) with mode and
  // contents, atomically: written and synced under a temporary name, then
  // linked into place, so that path never exists half-written.
  Status write_new_file(const std::filesystem::path& path, std::string_view contents, mode_t mode);

  // The process-wide real environment. Thread-safe.
  static Env& system();
};

}  // namespace airlock
