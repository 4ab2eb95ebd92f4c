// mirror.toml: the upstream repositories a low-side home mirrors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "airlock/base/error.h"

namespace airlock::mirror {

struct RepoConfig {
  std::string name;
  std::string kind;  // "apt", "rpm" or "files"
  std::string url;   // repository root, without a trailing slash
  std::vector<std::string> suites;
  std::vector<std::string> components;
  std::vector<std::string> architectures;
  std::filesystem::path keyring;
  std::vector<std::string> packages;  // shell globs; empty: every package
  // With packages: also carry what the matches depend on (Depends and
  // Pre-Depends, recursively, as formats/depends.h resolves them).
  bool with_dependencies = true;
  bool check_valid_until = true;
  // rpm and files: false accepts metadata the upstream did not sign (and
  // each snapshot records that it was not checked); keyring is then optional.
  bool check_signature = true;
  bool translations = true;  // fetch i18n/Translation-en when the Release lists it
  // A download slower than min_rate bytes a second for stall_timeout seconds
  // is cut off; each attempt must also end within stall_timeout plus the
  // time its declared size takes at min_rate (see FetchOptions).
  std::uint64_t min_rate = 1024;
  std::int64_t stall_timeout = 30;
};

struct MirrorConfig {
  std::vector<RepoConfig> repos;

  // invalid_input naming the file, the repository and the field on any problem.
  static Result<MirrorConfig> load(const std::filesystem::path& path);
  static Result<MirrorConfig> parse(std::string_view toml, const std::string& origin);
  const RepoConfig* find(std::string_view name) const;
};

// The commented template `init` writes.
std::string config_template();

}  // namespace airlock::mirror
