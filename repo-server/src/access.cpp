#include "airlock/repo/access.h"

#include <fnmatch.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "airlock/base/file.h"
#include "airlock/base/text.h"
#include "airlock/store/snapshot.h"
#include "airlock/verify/digest.h"
#include "channel_refs.h"
#include "tls.h"
#include "toml_doc.h"

namespace airlock::repo {
namespace ip = boost::asio::ip;
using json = nlohmann::json;

struct AccessPolicy::Matcher {
  std::set<std::string, std::less<>> channels, repos;
  std::vector<ip::network_v4> v4;
  std::vector<ip::network_v6> v6;
};

namespace {

constexpr std::uint64_t kMaxPolicy = 1 << 20;
constexpr std::string_view kAll = "*";

const std::set<std::string> kKeys = {"name", "channels",    "repos", "cn",
                                     "ou",   "fingerprint", "ca",    "addresses"};

// Where a key of a rule is, for the start of an error: "access.toml: rule
// 'web': key 'addresses'" in a file, "access rule 'web': --address" on the
// command line; the rule alone for an empty key. Keeps the key and words of
// the last problem, for a caller that reports it as a value.
struct Where {
  explicit Where(std::function<std::string(std::string_view key)> f) : prefix(std::move(f)) {}
  std::function<std::string(std::string_view key)> prefix;
  mutable std::string key, what;
  std::string operator()(std::string_view k) const { return prefix(k); }
};

std::unexpected<Error> bad(const Where& where, std::string_view key, const std::string& what) {
  where.key = key;
  where.what = what;
  return fail(Code::invalid_input, where(key) + ": " + what);
}

// Not text a file or a log line can hold as it is: invalid UTF-8 or a
// control character.
bool not_plain_text(std::string_view s) {
  return !is_valid_utf8(s) || std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// A glob pattern fnmatch reads as meant: plain text,
// every '[' closed, no trailing lone backslash.
std::optional<std::string> pattern_problem(std::string_view p) {
  if (not_plain_text(p)) return "invalid UTF-8 or a control character in the pattern";
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      if (++i == p.size()) return "the pattern ends with a lone backslash";
    } else if (p[i] == '[') {
      std::size_t j = i + 1;
      if (j < p.size() && (p[j] == '!' || p[j] == '^')) ++j;
      if (j < p.size() && p[j] == ']') ++j;  // a leading ']' is a member
      auto close = p.find(']', j);
      if (close == std::string_view::npos)
        return "'[' at " + std::to_string(i + 1) + " is not closed";
      i = close;
    }
  }
  return std::nullopt;
}

// An address ("192.168.1.7", "fd00::1") is the range of that one address.
Status add_range(AccessPolicy::Matcher& m, const std::string& text, const Where& where) {
  const std::string expected =
      "expected an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/8 "
      "or fd00::/8";
  boost::system::error_code ec;
  if (text.find('%') != std::string::npos) {
    return bad(
        where, "addresses",
        "'" + text + "': a client's address is matched without its interface; give it without %");
  }
  if (text.find('/') == std::string::npos) {
    auto a = ip::make_address(text, ec);
    if (ec) return bad(where, "addresses", "'" + text + "': " + expected);
    if (a.is_v4()) {
      m.v4.emplace_back(a.to_v4(), 32);
    } else {
      m.v6.emplace_back(a.to_v6(), 128);
    }
    return {};
  }
  auto host_bits = [&](const std::string& canonical) {
    return bad(where, "addresses",
               "'" + text + "' has bits set after the prefix (did you mean " + canonical + "?)");
  };
  if (auto n4 = ip::make_network_v4(text, ec); !ec) {
    if (n4 != n4.canonical()) return host_bits(n4.canonical().to_string());
    m.v4.push_back(n4);
    return {};
  }
  ec.clear();
  if (auto n6 = ip::make_network_v6(text, ec); !ec) {
    if (n6 != n6.canonical()) return host_bits(n6.canonical().to_string());
    m.v6.push_back(n6);
    return {};
  }
  return bad(where, "addresses", "'" + text + "': " + expected);
}

// Checks a rule and parses its conditions.
Result<std::shared_ptr<AccessPolicy::Matcher>> compile(const AccessRule& r, const Where& where) {
  if (r.name.empty() || not_plain_text(r.name))
    return bad(where, "name", "a rule needs a name: UTF-8 text without control characters");
  auto m = std::make_shared<AccessPolicy::Matcher>();
  if (r.channels.empty()) return bad(where, "channels", "name at least one channel, or \"*\"");
  for (const auto& c : r.channels) {
    if (c == kAll) continue;
    if (auto s = check_channel_name(c); !s) return bad(where, "channels", s.error().message);
  }
  m->channels.insert(r.channels.begin(), r.channels.end());
  if (r.repos.empty()) return bad(where, "repos", "name at least one repository, or \"*\"");
  for (const auto& name : r.repos) {
    if (name != kAll && !valid_repo_name(name))
      return bad(where, "repos",
                 "repository name '" + name +
                     "' must be 1-128 characters of A-Z a-z 0-9 - _ . (not . or ..)");
    m->repos.insert(name);
  }
  for (auto [key, value] : {std::pair{"cn", &r.cn}, std::pair{"ou", &r.ou}}) {
    if (value->empty()) continue;
    if (auto why = pattern_problem(*value)) return bad(where, key, "'" + *value + "': " + *why);
  }
  for (auto [key, value] : {std::pair{"fingerprint", &r.fingerprint}, std::pair{"ca", &r.ca}}) {
    if (!value->empty() && !Digest::parse(*value))
      return bad(where, key, "'" + *value + "' is not a SHA-256 fingerprint (64 hex digits)");
  }
  for (const auto& a : r.addresses) {
    if (auto s = add_range(*m, a, where); !s) return fail(s.error());
  }
  if (r.cn.empty() && r.ou.empty() && r.fingerprint.empty() && r.ca.empty() &&
      r.addresses.empty()) {
    return bad(where, "", "the rule states no condition (cn, ou, fingerprint, ca or addresses)");
  }
  return m;
}

bool glob(const std::string& pattern, const std::string& text) {
  return ::fnmatch(pattern.c_str(), text.c_str(), 0) == 0;
}

bool in_ranges(const AccessPolicy::Matcher& m, const std::string& text) {
  boost::system::error_code ec;
  auto a = ip::make_address(text, ec);
  if (ec) return false;
  // A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d.
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  if (a.is_v4()) {
    return std::any_of(m.v4.begin(), m.v4.end(), [&](const ip::network_v4& n) {
      return ip::network_v4(a.to_v4(), n.prefix_length()).canonical() == n;
    });
  }
  // A link-local client's address carries its interface ("fe80::1%eth0");
  // ranges name addresses only.
  auto v6 = a.to_v6();
  v6.scope_id(0);
  return std::any_of(m.v6.begin(), m.v6.end(), [&](const ip::network_v6& n) {
    return ip::network_v6(v6, n.prefix_length()).canonical() == n;
  });
}

// Whether every condition r states holds for who.
bool matches(const AccessRule& r, const AccessPolicy::Matcher& m, const ClientIdentity& who) {
  const bool cert = !who.fingerprint.empty();
  if (!r.cn.empty() && !(cert && glob(r.cn, who.common_name))) return false;
  if (!r.ou.empty() &&
      !(cert && std::any_of(who.units.begin(), who.units.end(),
                            [&](const std::string& u) { return glob(r.ou, u); }))) {
    return false;
  }
  if (!r.fingerprint.empty() && r.fingerprint != who.fingerprint) return false;
  if (!r.ca.empty() && !(cert && r.ca == who.issuer_fingerprint)) return false;
  if (!r.addresses.empty() && !in_ranges(m, who.address)) return false;
  return true;
}

bool grants(const AccessPolicy::Matcher& m, std::string_view channel, std::string_view repo) {
  return (m.channels.contains(kAll) || m.channels.contains(channel)) &&
         (m.repos.contains(kAll) || m.repos.contains(repo));
}

// A file's rule, read strictly: known keys, strings and lists of strings.
class RuleReader {
 public:
  RuleReader(const toml::table& t, const Where& where) : t_(t), where_(where) {}

  Result<AccessRule> read() {
    for (auto&& [key, _] : t_) {
      if (!kKeys.contains(std::string(key.str())))
        return bad(where_, key.str(),
                   "unknown key (known: name, channels, repos, cn, ou, fingerprint, ca, "
                   "addresses)");
    }
    AccessRule r;
    for (auto [key, out] :
         {std::pair{"name", &r.name}, std::pair{"cn", &r.cn}, std::pair{"ou", &r.ou},
          std::pair{"fingerprint", &r.fingerprint}, std::pair{"ca", &r.ca}}) {
      if (auto s = text(key, *out); !s) return fail(s.error());
    }
    for (auto [key, out] : {std::pair{"channels", &r.channels}, std::pair{"repos", &r.repos},
                            std::pair{"addresses", &r.addresses}}) {
      if (auto s = list(key, *out); !s) return fail(s.error());
    }
    return r;
  }

 private:
  Status text(const char* key, std::string& out) const {
    const toml::node* n = t_.get(key);
    if (!n) return {};
    if (!n->is_string() || n->value<std::string>()->empty())
      return bad(where_, key, "must be a non-empty string");
    out = *n->value<std::string>();
    return {};
  }

  Status list(const char* key, std::vector<std::string>& out) const {
    const toml::node* n = t_.get(key);
    if (!n) return {};
    const auto* a = n->as_array();
    if (!a) return bad(where_, key, "must be a list of strings, e.g. [\"prod\"]");
    out.clear();
    for (const auto& item : *a) {
      if (!item.is_string()) return bad(where_, key, "must be a list of strings, e.g. [\"prod\"]");
      out.push_back(*item.value<std::string>());
    }
    return {};
  }

  const toml::table& t_;
  const Where& where_;
};

// What a command-line option is called for a key of a rule.
std::string option_for(std::string_view key) {
  static const std::map<std::string_view, std::string_view> kOptions = {
      {"channels", "--channel"},
      {"repos", "--repo"},
      {"addresses", "--address"},
      {"name", "--name"},
      {"cn", "--cn"},
      {"ou", "--ou"},
      {"fingerprint", "--fingerprint"},
      {"ca", "--ca"}};
  auto it = kOptions.find(key);
  return std::string(it == kOptions.end() ? key : it->second);
}

// "AB:CD:..." (as openssl x509 -fingerprint prints it) as lowercase hex.
std::string normalize_fingerprint(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != ':') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string quoted(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

std::string quoted(const std::vector<std::string>& list) {
  toml::array a;
  for (const auto& s : list) a.push_back(s);
  std::ostringstream out;
  out << a;
  return out.str();
}

}  // namespace

AccessPolicy::AccessPolicy() = default;

Result<AccessPolicy> AccessPolicy::parse(std::string_view text, const std::string& origin,
                                         ConfigProblem* problem) {
  auto parsed = parse_toml(text, origin, problem);
  if (!parsed) return fail(parsed.error());
  const toml::table& doc = *parsed;
  auto top = [&](const toml::node& n, const std::string& key, const std::string& what) {
    if (problem) *problem = {origin, static_cast<int>(n.source().begin.line), {}, key, what, false};
    return fail(Code::invalid_input, origin + ": " + what);
  };
  for (auto&& [key, node] : doc) {
    if (key.str() != "rule")
      return top(node, std::string(key.str()),
                 "unknown key '" + std::string(key.str()) + "' (rules are [[rule]] tables)");
  }
  AccessPolicy policy;
  const toml::node* rules = doc.get("rule");
  if (!rules) return policy;
  const auto* list = rules->as_array();
  if (!list || !list->is_array_of_tables())
    return top(*rules, "rule", "'rule' must be [[rule]] tables");
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& table = *list->get(i)->as_table();
    std::string label = "rule " + std::to_string(i + 1);
    if (const auto* n = table.get("name"); n && n->is_string())
      label = "rule '" + *n->value<std::string>() + "'";
    Where where{[&](std::string_view key) {
      return origin + ": " + label + (key.empty() ? "" : ": key '" + std::string(key) + "'");
    }};
    auto rule = RuleReader(table, where).read();
    auto m = rule ? compile(*rule, where) : Result<std::shared_ptr<Matcher>>(fail(rule.error()));
    if (m && std::any_of(policy.rules_.begin(), policy.rules_.end(),
                         [&](const AccessRule& r) { return r.name == rule->name; }))
      m = bad(where, "name", "a second rule with this name");
    if (!m) {
      if (problem) {
        const toml::node* n = where.key.empty() ? nullptr : table.get(where.key);
        *problem = {origin,     static_cast<int>((n ? n->source() : table.source()).begin.line),
                    label,      where.key,
                    where.what, false};
      }
      return fail(m.error());
    }
    policy.rules_.push_back(std::move(*rule));
    policy.matchers_.push_back(std::move(*m));
  }
  return policy;
}

Result<AccessPolicy> AccessPolicy::load(const std::filesystem::path& access_toml) {
  if (!path_exists(access_toml)) return AccessPolicy{};
  auto text = read_file(access_toml, kMaxPolicy);
  if (!text) return fail(text.error());
  return parse(*text, access_toml.string());
}

std::optional<std::string> AccessPolicy::refuses(const ClientIdentity& who,
                                                 std::string_view channel,
                                                 std::string_view repo) const {
  if (rules_.empty()) return std::nullopt;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (grants(*matchers_[i], channel, repo) && matches(rules_[i], *matchers_[i], who))
      return std::nullopt;
  }
  const std::string client =
      who.subject.empty() ? who.address : who.subject + " (" + who.address + ")";
  return "no access rule allows " + client + " to read " + std::string(channel) + "/" +
         std::string(repo);
}

Status AccessPolicy::add(AccessRule rule) {
  rule.fingerprint = normalize_fingerprint(rule.fingerprint);
  rule.ca = normalize_fingerprint(rule.ca);
  Where where{[&](std::string_view key) {
    return "access rule '" + rule.name + "'" + (key.empty() ? "" : ": " + option_for(key));
  }};
  auto m = compile(rule, where);
  if (!m) return fail(m.error());
  for (const auto& r : rules_) {
    if (r.name == rule.name)
      return fail(Code::conflict, "an access rule named '" + rule.name + "' exists already");
  }
  rules_.push_back(std::move(rule));
  matchers_.push_back(std::move(*m));
  return {};
}

Result<AccessRule> AccessPolicy::remove(std::string_view name) {
  std::string names;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].name == name) {
      AccessRule removed = std::move(rules_[i]);
      rules_.erase(rules_.begin() + static_cast<std::ptrdiff_t>(i));
      matchers_.erase(matchers_.begin() + static_cast<std::ptrdiff_t>(i));
      return removed;
    }
    names += (names.empty() ? "'" : ", '") + rules_[i].name + "'";
  }
  return fail(Code::not_found, "no access rule named '" + std::string(name) + "' (" +
                                   (names.empty() ? "there are no rules" : "rules: " + names) +
                                   ")");
}

std::string AccessPolicy::to_toml() const {
  std::string out =
      "# Who may read which channel (airlock-repo access add|remove|list).\n"
      "# Without rules every client may read every channel.\n";
  for (const auto& r : rules_) {
    out += "\n[[rule]]\nname = " + quoted(r.name) + "\nchannels = " + quoted(r.channels) +
           "\nrepos = " + quoted(r.repos) + "\n";
    for (auto [key, value] : {std::pair{"cn", &r.cn}, std::pair{"ou", &r.ou},
                              std::pair{"fingerprint", &r.fingerprint}, std::pair{"ca", &r.ca}}) {
      if (!value->empty()) out += std::string(key) + " = " + quoted(*value) + "\n";
    }
    if (!r.addresses.empty()) out += "addresses = " + quoted(r.addresses) + "\n";
  }
  return out;
}

json to_json(const AccessRule& r) {
  json out{{"name", r.name}, {"channels", r.channels}, {"repos", r.repos}};
  for (auto [key, value] : {std::pair{"cn", &r.cn}, std::pair{"ou", &r.ou},
                            std::pair{"fingerprint", &r.fingerprint}, std::pair{"ca", &r.ca}}) {
    if (!value->empty()) out[key] = *value;
  }
  if (!r.addresses.empty()) out["addresses"] = r.addresses;
  return out;
}

Result<std::string> certificate_fingerprint(const std::filesystem::path& pem_file) {
  auto pem = read_file(pem_file, kMaxPolicy);
  if (!pem) return fail(pem.error());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())), BIO_free);
  if (!bio) return fail(Code::io, "BIO_new_mem_buf failed");
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return fail(Code::invalid_input, pem_file.string() +
                                         ": not a PEM certificate (expected a -----BEGIN "
                                         "CERTIFICATE----- block)");
  }
  auto fp = tls::certificate_sha256(cert.get());
  if (fp.empty())
    return fail(Code::invalid_input, pem_file.string() + ": certificate not encodable");
  return fp;
}

}  // namespace airlock::repo
