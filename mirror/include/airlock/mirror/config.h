// mirror.toml: the upstream repositories a low-side home mirrors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
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
  // Where it is written: the line of its [[repo]] header and of each key
  // set, for messages about it (config check).
  int line = 0;
  std::map<std::string, int, std::less<>> key_lines;
  int line_of(std::string_view key) const;
};

// One problem of a configuration file: where it is and what is wrong.
struct ConfigProblem {
  std::string file;      // as named to the reader (mirror.toml's path)
  int line = 0;          // 1-based; 0 when it has no one place (a missing file)
  int column = 0;        // of a syntax error; else 0
  std::string repo;      // the repository's name; empty when not known (yet)
  int entry = 0;         // which [[repo]] table, 1-based; 0 outside them
  int entry_line = 0;    // the line of that [[repo]] header
  std::string key;       // the key it is about; empty for a whole table or file
  std::string message;   // what is wrong and what was expected
  bool warning = false;  // worth knowing, but the configuration works

  // "FILE:LINE: repo 'NAME': key 'KEY': message"; a repository whose name
  // is not known is "[[repo]] #N (line L)"; the parts not known are left out.
  std::string text() const;
};

struct MirrorConfig {
  std::vector<RepoConfig> repos;

  // invalid_input on any problem: the first (by line) as ConfigProblem::text
  // says it, naming the file, the line, the repository and the key.
  static Result<MirrorConfig> load(const std::filesystem::path& path);
  static Result<MirrorConfig> parse(std::string_view toml, const std::string& origin);
  // Every problem of the text, not only the first: each [[repo]] is read on
  // its own, and config holds those without a problem. A syntax error is
  // the one problem of a text that is not TOML.
  struct Reading;
  static Reading read(std::string_view toml, const std::string& origin);
  const RepoConfig* find(std::string_view name) const;
};

struct MirrorConfig::Reading {
  MirrorConfig config;
  std::vector<ConfigProblem> problems;  // in the order of their lines
};

// The commented template `init` writes.
std::string config_template();

}  // namespace airlock::mirror
