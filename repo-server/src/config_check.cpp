// `airlock-repo config check`: each configuration file read by the loader
// that serve and import use, then what those loaders leave to the moment of
// use (a threshold no set of keys can meet, TLS files that do not pair,
// rules for channels that do not exist, a CA key that is not the CA's).
#include "airlock/repo/config_check.h"

#include <algorithm>
#include <set>

#include "airlock/base/file.h"
#include "airlock/base/text.h"
#include "airlock/repo/home.h"
#include "airlock/repo/settings.h"
#include "listen.h"
#include "site_ca_x509.h"
#include "tls.h"
#include "toml_doc.h"

namespace airlock::repo {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The line of the first "key": in a JSON text, 0 when none: where trust.json
// sets what its reader checks as a whole (TrustPolicy keeps no positions).
int json_line(std::string_view text, const std::string& key, std::size_t from = 0) {
  const std::string quoted = "\"" + key + "\"";
  for (auto at = text.find(quoted, from); at != std::string_view::npos;
       at = text.find(quoted, at + 1)) {
    auto next = text.find_first_not_of(" \t\r\n", at + quoted.size());
    if (next != std::string_view::npos && text[next] == ':')
      return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  }
  return 0;
}

// The line where text stops being JSON, 0 when it is JSON (a problem the
// trust policy's reader finds in a well-formed text has no one place).
int syntax_error_line(std::string_view text) {
  try {
    const json parsed = json::parse(text);
    (void)parsed;
  } catch (const json::parse_error& e) {
    const std::size_t end = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + end, '\n'));
  }
  return 0;
}

// A trusted key's line: that of the first "<name>" string, 0 when none.
int key_line(std::string_view text, const std::string& name) {
  const std::string value = json(name).dump();
  auto at = text.find(value);
  return at == std::string_view::npos
             ? 0
             : 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

std::string keys_word(std::size_t n) { return std::to_string(n) + (n == 1 ? " key" : " keys"); }

// trust.json as import reads it, then: a threshold that the keys, and the
// keys valid now, can meet; names that read as text; keys out of date.
void check_trust(const fs::path& file, TimePoint now, ConfigCheck& out) {
  const std::string f = file.string();
  auto text = read_file(file, 4 << 20);
  if (!text) {
    out.problems.push_back({f, 0, {}, {}, text.error().message, false});
    return;
  }
  auto policy = TrustPolicy::parse(*text);
  if (!policy) {
    out.problems.push_back({f, syntax_error_line(*text), {}, {}, policy.error().message, false});
    return;
  }
  out.trusted_keys = policy->keys.size();
  out.threshold = policy->threshold;
  const int threshold_line = json_line(*text, "threshold");
  const std::size_t needed = static_cast<std::size_t>(policy->threshold);
  std::size_t valid_now = 0;
  for (const auto& k : policy->keys) {
    const std::string item = "key '" + k.name + "'";
    const int line = key_line(*text, k.name);
    if (k.name.empty() || escape_for_terminal(k.name) != k.name)
      out.problems.push_back({f, line, item, "name",
                              "expected a name of printable text (what 'trust list' shows)",
                              false});
    if (k.valid_at(now)) {
      ++valid_now;
    } else {
      const bool ended = k.not_after && now > *k.not_after;
      out.problems.push_back({f, line, item, ended ? "not_after" : "not_before",
                              (ended ? "expired on " + format_time(*k.not_after)
                                     : "not valid before " + format_time(*k.not_before)) +
                                  ": its signatures do not count",
                              true});
    }
  }
  auto signatures = [](std::size_t n) {
    return std::to_string(n) + (n == 1 ? " signature" : " signatures");
  };
  if (policy->keys.empty()) {
    out.problems.push_back({f,
                            threshold_line,
                            {},
                            "threshold",
                            "needs " + signatures(needed) +
                                " but no key is trusted: no bundle can be imported (expected a "
                                "signer's key: add it with 'trust add')",
                            false});
  } else if (policy->keys.size() < needed) {
    out.problems.push_back({f,
                            threshold_line,
                            {},
                            "threshold",
                            "needs " + signatures(needed) + " but " +
                                keys_word(policy->keys.size()) +
                                (policy->keys.size() == 1 ? " is" : " are") +
                                " trusted: no bundle can be imported (expected at most " +
                                std::to_string(policy->keys.size()) +
                                "; add keys with 'trust add' or lower it with 'trust threshold')",
                            false});
  } else if (valid_now < needed) {
    out.problems.push_back({f,
                            threshold_line,
                            {},
                            "threshold",
                            "needs " + signatures(needed) + " but only " + keys_word(valid_now) +
                                (valid_now == 1 ? " is" : " are") +
                                " valid now: no bundle can be imported until more are",
                            false});
  }
}

// The line of table.key in doc; of the table when the key is absent.
int toml_line(const toml::table& doc, const char* table, const char* key) {
  const toml::node* n = doc[table][key].node();
  if (!n) n = doc.get(table);
  return n ? static_cast<int>(n->source().begin.line) : 0;
}

// repo.toml's TLS settings as serve applies them: the files together, each
// readable, and the key the certificate's.
void check_tls(const fs::path& file, const toml::table& doc, const ServeOptions& o,
               const fs::path& site_crl, ConfigCheck& out) {
  const std::string f = file.string();
  auto bad = [&](const char* key, std::string what) {
    out.problems.push_back(
        {f, toml_line(doc, "serve", key), {}, std::string("serve.") + key, std::move(what), false});
  };
  const std::pair<const char*, const fs::path*> files[] = {{"tls_cert", &o.tls_cert},
                                                           {"tls_key", &o.tls_key},
                                                           {"client_ca", &o.client_ca},
                                                           {"crl", &o.crl}};
  if (o.listen_tls.empty()) {
    for (auto [key, path] : files) {
      if (!path->empty()) bad(key, "goes with serve.listen_tls (serve refuses it alone)");
    }
    return;
  }
  if (o.tls_cert.empty() || o.tls_key.empty())
    return bad("listen_tls", "needs serve.tls_cert and serve.tls_key");
  if (!o.crl.empty() && o.client_ca.empty()) return bad("crl", "goes with serve.client_ca");
  const std::size_t before = out.problems.size();
  for (auto [key, path] : files) {
    if (path->empty()) continue;
    if (auto r = read_file(*path, 16 << 20); !r) bad(key, r.error().message);
  }
  if (out.problems.size() > before) return;
  auto made =
      tls::server_context({o.tls_cert, o.tls_key, o.client_ca,
                           o.crl.empty() ? std::vector<fs::path>{} : std::vector{o.crl},
                           o.client_ca.empty() ? std::vector<fs::path>{} : std::vector{site_crl}});
  if (!made) bad("tls_key", made.error().message);
}

// repo.toml as serve reads it, its addresses, and its TLS settings.
void check_settings(const fs::path& file, const fs::path& site_crl, ConfigCheck& out) {
  if (!path_exists(file)) return;  // serve's defaults
  auto text = read_file(file, 1 << 20);
  if (!text) {
    out.problems.push_back({file.string(), 0, {}, {}, text.error().message, false});
    return;
  }
  ConfigProblem problem;
  auto options = parse_settings(*text, file.string(), &problem);
  if (!options) {
    out.problems.push_back(std::move(problem));
    return;
  }
  auto doc = parse_toml(*text, file.string());
  if (!doc) return;  // parse_settings read it
  for (auto [key, value] :
       {std::pair{"listen", &options->listen}, std::pair{"listen_tls", &options->listen_tls}}) {
    if (value->empty() || !(*doc)["serve"][key].node()) continue;
    if (auto e = parse_listen(std::string("serve.") + key, *value); !e) {
      out.problems.push_back({file.string(),
                              toml_line(*doc, "serve", key),
                              {},
                              std::string("serve.") + key,
                              "expected HOST:PORT with HOST an IP address ([::1]:8080 for IPv6), "
                              "got '" +
                                  *value + "'",
                              false});
    }
  }
  check_tls(file, *doc, *options, site_crl, out);
}

// access.toml as serve reads it; a rule for a channel or repository that
// nothing serves yet is a warning: rules are often written before the
// first publish, and grant nothing until then.
void check_access(const fs::path& file, const std::vector<ChannelEntry>& served, ConfigCheck& out) {
  if (!path_exists(file)) return;
  auto text = read_file(file, 1 << 20);
  if (!text) {
    out.problems.push_back({file.string(), 0, {}, {}, text.error().message, false});
    return;
  }
  ConfigProblem problem;
  auto policy = AccessPolicy::parse(*text, file.string(), &problem);
  if (!policy) {
    out.problems.push_back(std::move(problem));
    return;
  }
  out.access_rules = policy->rules().size();
  auto doc = parse_toml(*text, file.string());
  const toml::array* tables = doc ? (*doc)["rule"].as_array() : nullptr;
  std::set<std::string, std::less<>> channels, repos;
  for (const auto& e : served) channels.insert(e.channel), repos.insert(e.repo);
  for (std::size_t i = 0; i < policy->rules().size(); ++i) {
    const AccessRule& r = policy->rules()[i];
    const toml::table* t = tables && i < tables->size() ? tables->get(i)->as_table() : nullptr;
    auto warn = [&](const char* key, const std::string& what) {
      const toml::node* n = t ? t->get(key) : nullptr;
      const int line = n   ? static_cast<int>(n->source().begin.line)
                       : t ? static_cast<int>(t->source().begin.line)
                           : 0;
      out.problems.push_back({file.string(), line, "rule '" + r.name + "'", key, what, true});
    };
    for (const auto& c : r.channels) {
      if (c != "*" && !channels.contains(c))
        warn("channels", "no channel '" + c +
                             "' exists yet: the rule grants nothing there until "
                             "something is published to it");
    }
    for (const auto& name : r.repos) {
      if (name != "*" && !repos.contains(name))
        warn("repos", "no channel serves a repository '" + name + "' yet");
    }
  }
}

// The site CA, when there is one: ca.key and ca.crt both there, a pair.
void check_site_ca(const fs::path& dir, ConfigCheck& out) {
  const bool key = path_exists(dir / "ca.key"), cert = path_exists(dir / "ca.crt");
  if (!key && !cert) return;
  if (key != cert) {
    const fs::path missing = dir / (key ? "ca.crt" : "ca.key");
    out.problems.push_back({missing.string(),
                            0,
                            {},
                            {},
                            "missing while " + (dir / (key ? "ca.key" : "ca.crt")).string() +
                                " is there (expected both, as 'ca init' makes them)",
                            false});
    return;
  }
  auto ca = load_ca(dir);
  if (!ca) {
    out.problems.push_back({(dir / "ca.key").string(), 0, {}, {}, ca.error().message, false});
    return;
  }
  out.site_ca = true;
}

}  // namespace

Result<ConfigCheck> Home::check_config(TimePoint now) const {
  ConfigCheck out;
  check_trust(trust_file(), now, out);
  check_settings(settings_file(), site_crl_file(), out);
  auto served = channels();
  if (!served) return fail(served.error());
  check_access(access_file(), *served, out);
  check_site_ca(ca_dir(), out);
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) {
                     return std::tie(a.file, a.line) < std::tie(b.file, b.line);
                   });
  return out;
}

std::string ConfigProblem::text() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line);
  out += warning ? ": warning: " : ": ";
  if (!item.empty()) out += item + ": ";
  if (!key.empty()) out += "key '" + key + "': ";
  return out + message;
}

bool ConfigCheck::ok() const {
  return std::none_of(problems.begin(), problems.end(),
                      [](const ConfigProblem& p) { return !p.warning; });
}

json to_json(const ConfigCheck& check) {
  json problems = json::array();
  for (const auto& p : check.problems) {
    problems.push_back({{"file", p.file},
                        {"line", p.line},
                        {"item", p.item},
                        {"key", p.key},
                        {"message", p.message},
                        {"severity", p.warning ? "warning" : "error"},
                        {"text", p.text()}});
  }
  return {{"ok", check.ok()},
          {"trusted_keys", check.trusted_keys},
          {"threshold", check.threshold},
          {"access_rules", check.access_rules},
          {"site_ca", check.site_ca},
          {"problems", std::move(problems)}};
}

void print_config_check(std::ostream& out, const ConfigCheck& check) {
  for (const auto& p : check.problems) out << escape_for_terminal(p.text()) << "\n";
  if (!check.ok()) return;
  out << "ok: " << check.trusted_keys << " trusted " << (check.trusted_keys == 1 ? "key" : "keys")
      << ", threshold " << check.threshold << ", " << check.access_rules << " access "
      << (check.access_rules == 1 ? "rule" : "rules") << ", "
      << (check.site_ca ? "site CA" : "no site CA") << "\n";
}

}  // namespace airlock::repo
