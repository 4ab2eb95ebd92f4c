#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "airlock/base/file.h"

namespace airlock::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/airlock-test-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path flip_object_byte(const Store& store, const Digest& id) {
  auto file = store.open_object(id);
  if (!file) {
    ADD_FAILURE() << file.error().message;
    return {};
  }
  fs::permissions(file->path, fs::perms::owner_write, fs::perm_options::add);
  std::fstream io(file->path, std::ios::binary | std::ios::in | std::ios::out);
  io.seekg(static_cast<std::streamoff>(file->offset));
  char c = 0;
  io.get(c);
  io.seekp(static_cast<std::streamoff>(file->offset));
  io.put(static_cast<char>(c ^ 1));
  return file->path;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);)
    out.push_back(nlohmann::json::parse(line, nullptr, false));
  return out;
}

std::map<std::string, std::string> tree_fingerprint(const fs::path& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    auto h = hash_file(it->path());
    out[fs::relative(it->path(), root).string()] = h ? h->hex() : "unreadable";
  }
  return out;
}

std::map<std::string, std::string> store_fingerprint(const fs::path& store) {
  auto out = tree_fingerprint(store);
  out.erase("index/lock.mdb");
  return out;
}

bool FaultEnv::hook(const std::string& op) {
  int n = ++counts_[op];
  if (before) before(op, n);
  return !(fail_if && fail_if(op, n));
}

namespace {
std::unexpected<Error> injected(const std::string& op) {
  return fail(Code::io, op + ": injected failure (Input/output error)");
}
}  // namespace

Result<UniqueFd> FaultEnv::open(const fs::path& path, int flags, mode_t mode) {
  if ((flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0 && !hook("open"))
    return injected("open " + path.string());
  return Env::open(path, flags, mode);
}

Result<TempFile> FaultEnv::create_temp(const fs::path& dir, std::string_view prefix, mode_t mode) {
  if (!hook("create")) return injected("create in " + dir.string());
  return Env::create_temp(dir, prefix, mode);
}

Result<std::optional<UniqueFd>> FaultEnv::create_unnamed(const fs::path& dir, mode_t mode) {
  if (!unnamed_files) return std::optional<UniqueFd>{};
  if (!hook("create")) return injected("create in " + dir.string());
  return Env::create_unnamed(dir, mode);
}

Status FaultEnv::link_unnamed(int fd, const fs::path& to) {
  if (!hook("link")) return injected("link");
  return Env::link_unnamed(fd, to);
}

Status FaultEnv::write(int fd, std::span<const std::uint8_t> bytes) {
  if (!hook("write")) return injected("write");
  const auto size = static_cast<std::int64_t>(bytes.size());
  std::int64_t budget = write_budget.load();
  while (budget >= 0 &&
         !write_budget.compare_exchange_weak(budget, std::max<std::int64_t>(budget - size, 0))) {
  }
  if (budget >= 0 && size > budget) {
    // Write what fits, as a real full disk does, then fail.
    if (auto s = Env::write(fd, bytes.first(static_cast<std::size_t>(budget))); !s) return s;
    return fail_errno("write", ENOSPC);
  }
  return Env::write(fd, bytes);
}

Status FaultEnv::truncate(int fd, std::uint64_t size, std::string_view what) {
  if (!hook("truncate")) return injected("truncate");
  return Env::truncate(fd, size, what);
}

Status FaultEnv::sync(int fd, std::string_view what) {
  if (!hook("sync")) return injected("sync");
  return Env::sync(fd, what);
}

Status FaultEnv::rename(const fs::path& from, const fs::path& to) {
  if (!hook("rename")) return injected("rename");
  return Env::rename(from, to);
}

Status FaultEnv::link(const fs::path& from, const fs::path& to) {
  if (!hook("link")) return injected("link");
  return Env::link(from, to);
}

Status FaultEnv::remove(const fs::path& path) {
  if (!hook("remove")) return injected("remove");
  return Env::remove(path);
}

Status FaultEnv::remove_all(const fs::path& path) {
  if (!hook("remove_all")) return injected("remove_all");
  return Env::remove_all(path);
}

Status FaultEnv::make_dir(const fs::path& dir, mode_t mode) {
  if (!hook("mkdir")) return injected("mkdir");
  return Env::make_dir(dir, mode);
}

Status FaultEnv::make_dirs(const fs::path& dir) {
  if (!hook("mkdirs")) return injected("mkdirs");
  return Env::make_dirs(dir);
}

Status FaultEnv::chmod(const fs::path& path, mode_t mode) {
  if (!hook("chmod")) return injected("chmod");
  return Env::chmod(path, mode);
}

Status FaultEnv::sync_dir(const fs::path& dir) {
  if (!hook("sync_dir")) return injected("sync_dir");
  return Env::sync_dir(dir);
}

Status FaultEnv::sync_filesystem(const fs::path& path) {
  if (!hook("sync_fs")) return injected("sync_fs");
  return Env::sync_filesystem(path);
}

TimePoint FaultEnv::now() {
  hook("now");
  return TimePoint(std::chrono::seconds(now_seconds.load()));
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

}  // namespace airlock::testing
