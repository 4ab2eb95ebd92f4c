// Shared helpers for airlock's tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/store/store.h"
#include "airlock/verify/digest.h"

namespace airlock::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_text(const std::filesystem::path& path, const std::string& text);
// Every line of a JSON Lines file, parsed (a transfer log).
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);
std::string read_text(const std::filesystem::path& path);

// Flips the first byte of object id where the store keeps it (its own file
// or its range of a pack), in place; returns that file.
std::filesystem::path flip_object_byte(const Store& store, const Digest& id);

// Every regular file below root (relative path -> sha256 hex of its bytes),
// for asserting that a directory is exactly as it was.
std::map<std::string, std::string> tree_fingerprint(const std::filesystem::path& root);
// The same for a store directory, leaving out LMDB's reader lock table,
// which readers touch without changing anything stored.
std::map<std::string, std::string> store_fingerprint(const std::filesystem::path& store);

// An Env that fails or stops at chosen points.
class FaultEnv : public Env {
 public:
  // Total bytes that may be written before writes fail with ENOSPC; -1: no limit.
  // Atomic: a test sets it while another thread (a logger) writes.
  std::atomic<std::int64_t> write_budget{-1};
  // Called before each operation with its name ("open" (to write), "create"
  // (a temporary or unnamed file), "link" (naming one),
  // "write", "truncate", "sync", "rename", "remove", "remove_all", "mkdir",
  // "mkdirs", "chmod", "sync_dir", "sync_fs", "now") and a running count of
  // that operation; may kill the process.
  std::function<void(const std::string&, int)> before;
  // When set, the operation fails (io) instead of running: called with the
  // same name and count as before.
  std::function<bool(const std::string&, int)> fail_if;
  std::atomic<std::int64_t> now_seconds{1'800'000'000};
  // False: the filesystem makes no unnamed files (create_unnamed gives nullopt).
  bool unnamed_files = true;

  Result<UniqueFd> open(const std::filesystem::path& path, int flags, mode_t mode) override;
  Result<TempFile> create_temp(const std::filesystem::path& dir, std::string_view prefix,
                               mode_t mode) override;
  Result<std::optional<UniqueFd>> create_unnamed(const std::filesystem::path& dir,
                                                 mode_t mode) override;
  Status link_unnamed(int fd, const std::filesystem::path& to) override;
  Status write(int fd, std::span<const std::uint8_t> bytes) override;
  Status truncate(int fd, std::uint64_t size, std::string_view what) override;
  Status sync(int fd, std::string_view what) override;
  Status rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status link(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status remove(const std::filesystem::path& path) override;
  Status remove_all(const std::filesystem::path& path) override;
  Status make_dir(const std::filesystem::path& dir, mode_t mode) override;
  Status make_dirs(const std::filesystem::path& dir) override;
  Status chmod(const std::filesystem::path& path, mode_t mode) override;
  Status sync_dir(const std::filesystem::path& dir) override;
  Status sync_filesystem(const std::filesystem::path& path) override;
  TimePoint now() override;
  using Env::write;

  // How many times each operation ran.
  const std::map<std::string, int>& counts() const { return counts_; }

 private:
  std::map<std::string, int> counts_;
  // Runs before and fail_if; false when the operation is to fail.
  bool hook(const std::string& op);
};

std::string random_bytes(std::size_t n, std::uint32_t seed);

}  // namespace airlock::testing
