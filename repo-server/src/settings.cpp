#include "airlock/repo/settings.h"

#include <map>
#include <set>

#include "airlock/base/file.h"
#include "toml_doc.h"

namespace airlock::repo {
namespace {

constexpr std::string_view kTemplate =
    R"(# airlock-repo settings. Options on the command line override them.

[serve]
# listen = "127.0.0.1:8080"   # address:port; 0.0.0.0:8080 for every interface
# listen_tls = "0.0.0.0:8443" # HTTPS as well (HTTPS alone when listen is not set)
# tls_cert = "/etc/airlock/repo.crt"   # the server's certificate chain (PEM)
# tls_key = "/etc/airlock/repo.key"    # its private key (PEM)
# client_ca = "/srv/airlock/ca/ca.crt" # clients must present a certificate from this CA
# crl = "/etc/airlock/enterprise.crl"  # a revocation list of that CA
# threads = 0                 # 0: one per core
# idle_timeout = 30           # seconds a connection may stay idle
# max_connections = 0         # open connections at most; 0: from the descriptor limit

[log]
# syslog = false              # also send every log record to /dev/log (RFC 5424)
# syslog_socket = "/dev/log"  # another local syslog socket (implies syslog = true)
)";

const std::map<std::string, std::set<std::string>> kKeys = {
    {"serve",
     {"listen", "threads", "idle_timeout", "max_connections", "listen_tls", "tls_cert", "tls_key",
      "client_ca", "crl"}},
    {"log", {"syslog", "syslog_socket"}},
};

std::string known_keys(const std::set<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
  return out;
}

class Reader {
 public:
  Reader(const toml::table& doc, const std::string& origin, ConfigProblem* problem)
      : doc_(doc), origin_(origin), problem_(problem) {}

  Result<ServeOptions> read() {
    if (auto s = check_keys(); !s) return fail(s.error());
    ServeOptions o;
    if (auto s = text("serve", "listen", o.listen); !s) return fail(s.error());
    o.listen_set = node("serve", "listen") != nullptr;
    if (auto s = text("serve", "listen_tls", o.listen_tls); !s) return fail(s.error());
    if (!o.listen_tls.empty() && !o.listen_set) o.listen.clear();
    for (auto [key, path] : {std::pair{"tls_cert", &o.tls_cert},
                             {"tls_key", &o.tls_key},
                             {"client_ca", &o.client_ca},
                             {"crl", &o.crl}}) {
      std::string value;
      if (auto s = text("serve", key, value); !s) return fail(s.error());
      if (!value.empty()) *path = value;
    }
    std::int64_t threads = o.threads, idle = o.idle_timeout.count();
    auto connections = static_cast<std::int64_t>(o.max_connections);
    if (auto s = integer("serve", "threads", 0, 1024, threads); !s) return fail(s.error());
    if (auto s = integer("serve", "idle_timeout", 1, 86400, idle); !s) return fail(s.error());
    if (auto s = integer("serve", "max_connections", 0, 1000000, connections); !s)
      return fail(s.error());
    o.max_connections = static_cast<std::size_t>(connections);
    o.threads = static_cast<int>(threads);
    o.idle_timeout = std::chrono::seconds(idle);
    bool syslog = false;
    if (auto s = flag("log", "syslog", syslog); !s) return fail(s.error());
    if (syslog) o.syslog_socket = "/dev/log";
    if (auto s = text("log", "syslog_socket", o.syslog_socket); !s) return fail(s.error());
    return o;
  }

 private:
  // The problem at node n (key, what) as the error says it (origin: text)
  // and, when asked for, as a value.
  std::unexpected<Error> bad(const toml::node& n, const std::string& key, const std::string& what,
                             const std::string& text) const {
    if (problem_)
      *problem_ = {origin_, static_cast<int>(n.source().begin.line), {}, key, what, false};
    return fail(Code::invalid_input, origin_ + ": " + text);
  }
  // "table.key must ...": the key, then what it must be.
  std::unexpected<Error> bad(const toml::node& n, const std::string& key,
                             const std::string& what) const {
    return bad(n, key, what, key + " " + what);
  }

  Status check_keys() const {
    for (auto&& [table, node] : doc_) {
      const std::string name(table.str());
      auto known = kKeys.find(name);
      if (known == kKeys.end()) {
        return bad(node, name, "unknown table (known: [serve], [log])",
                   "unknown table [" + name + "] (known: [serve], [log])");
      }
      auto* t = node.as_table();
      if (!t)
        return bad(node, name, "must be a table, [" + name + "]",
                   "'" + name + "' must be a table, [" + name + "]");
      for (auto&& [key, value] : *t) {
        const std::string full = name + "." + std::string(key.str());
        if (!known->second.contains(std::string(key.str())))
          return bad(
              value, full,
              "unknown key (the [" + name + "] table takes: " + known_keys(known->second) + ")",
              "unknown key '" + full + "'");
      }
    }
    return {};
  }

  const toml::node* node(const char* table, const char* key) const {
    return doc_[table][key].node();
  }

  Status text(const char* table, const char* key, std::string& out) const {
    const toml::node* n = node(table, key);
    if (!n) return {};
    auto v = n->value<std::string>();
    if (!n->is_string() || !v || v->empty())
      return bad(*n, std::string(table) + "." + key, "must be a non-empty string");
    out = *v;
    return {};
  }

  Status integer(const char* table, const char* key, std::int64_t min, std::int64_t max,
                 std::int64_t& out) const {
    const toml::node* n = node(table, key);
    if (!n) return {};
    if (!n->is_integer() || *n->value<std::int64_t>() < min || *n->value<std::int64_t>() > max) {
      return bad(
          *n, std::string(table) + "." + key,
          "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    }
    out = *n->value<std::int64_t>();
    return {};
  }

  Status flag(const char* table, const char* key, bool& out) const {
    const toml::node* n = node(table, key);
    if (!n) return {};
    if (!n->is_boolean()) return bad(*n, std::string(table) + "." + key, "must be true or false");
    out = *n->value<bool>();
    return {};
  }

  const toml::table& doc_;
  const std::string& origin_;
  ConfigProblem* problem_;
};

}  // namespace

std::string_view settings_template() { return kTemplate; }

Result<ServeOptions> parse_settings(std::string_view text, const std::string& origin,
                                    ConfigProblem* problem) {
  auto parsed = parse_toml(text, origin, problem);
  if (!parsed) return fail(parsed.error());
  return Reader(*parsed, origin, problem).read();
}

Result<ServeOptions> load_settings(const std::filesystem::path& path) {
  if (!path_exists(path)) return ServeOptions{};
  auto text = read_file(path, 1 << 20);
  if (!text) return fail(text.error());
  return parse_settings(*text, path.string());
}

}  // namespace airlock::repo
