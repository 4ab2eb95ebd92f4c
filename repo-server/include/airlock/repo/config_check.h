// What `airlock-repo config check` finds in a home's configuration files
// (trust.json, repo.toml, access.toml, the site CA in ca/), as values the
// program prints as text or JSON.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace airlock::repo {

// One problem of a configuration file: where it is and what is wrong.
struct ConfigProblem {
  std::string file;      // the file's path
  int line = 0;          // 1-based; 0 when not known (trust.json's own checks, a whole file)
  std::string item;      // what in the file: "rule 'web'", "key 'alice'"; empty for none
  std::string key;       // the key it is about ("serve.tls_key", "channels"); empty for none
  std::string message;   // what is wrong and what was expected
  bool warning = false;  // worth knowing, but the configuration works

  // "FILE:LINE: [warning: ]ITEM: key 'KEY': message", the parts not known
  // left out.
  std::string text() const;
};

struct ConfigCheck {
  std::vector<ConfigProblem> problems;  // errors and warnings, by file and line
  std::size_t trusted_keys = 0;
  int threshold = 0;
  std::size_t access_rules = 0;
  bool site_ca = false;  // ca/ca.key and ca/ca.crt are there and a pair
  // No problem but warnings: the configuration works.
  bool ok() const;
};

// {ok, trusted_keys, threshold, access_rules, site_ca, problems: [{file,
// line, item, key, message, severity, text}]}.
nlohmann::json to_json(const ConfigCheck& check);
// One line a problem (ConfigProblem::text, escaped) and, when ok, "ok: N
// trusted keys, threshold T, R access rules, site CA" ("no site CA").
void print_config_check(std::ostream& out, const ConfigCheck& check);

}  // namespace airlock::repo
