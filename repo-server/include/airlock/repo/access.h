// Who may read which channel: the access policy of a home (access.toml).
//
//   [[rule]]
//   name = "web servers"
//   channels = ["prod"]            # "*": every channel
//   repos = ["*"]                  # optional; "*" (the default): every repository
//   cn = "web-*"                   # conditions, each optional, at least one:
//   ou = "servers"                 #   glob patterns (fnmatch) on the certificate's CN / any OU
//   fingerprint = "<sha256 hex>"   #   the client certificate's SHA-256
//   ca = "<sha256 hex>"            #   the SHA-256 of the CA certificate that issued it
//   addresses = ["10.0.0.0/8", "fd00::/8", "192.168.1.7"]
//
// A rule matches a client when every condition it states matches, and grants
// its channels and repositories. Without rules (or without the file) every
// client may read everything; with rules a request is allowed only when a
// matching rule grants its channel and repository. An address is not an
// identity: without TLS any machine can take any address.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/repo/config_check.h"

namespace airlock::repo {

// Who asks: the client's address, and its certificate when TLS verified one.
struct ClientIdentity {
  std::string address;             // IP address as text
  std::string subject;             // RFC 2253 subject; empty without a certificate
  std::string common_name;         // the subject's CN
  std::vector<std::string> units;  // the subject's OU values
  std::string fingerprint;         // SHA-256 of the DER certificate, lowercase hex
  // SHA-256 of the certificate of the CA that issued it, lowercase hex; empty when unknown.
  std::string issuer_fingerprint;
};

// One named rule, as written in access.toml. Empty strings and lists are
// conditions not stated.
struct AccessRule {
  std::string name;
  std::vector<std::string> channels;    // channel names or "*"
  std::vector<std::string> repos{"*"};  // repository names or "*"
  std::string cn, ou;                   // fnmatch patterns
  std::string fingerprint, ca;          // 64 lowercase hex digits
  std::vector<std::string> addresses;   // IPv4/IPv6 addresses or CIDR ranges
};

// A validated policy. Immutable once loaded; const methods are thread-safe.
class AccessPolicy {
 public:
  AccessPolicy();
  // The policy in access_toml; no rules when the file does not exist.
  // invalid_input, one line naming the file, the rule and the key, for a
  // syntax error, an unknown key, a bad pattern, address range, fingerprint,
  // channel or repository name, a rule without a condition or a name used twice.
  static Result<AccessPolicy> load(const std::filesystem::path& access_toml);
  // The same for text read from origin (named in errors); the problem in
  // *problem as well, when given, with its line, rule and key (config check).
  static Result<AccessPolicy> parse(std::string_view text, const std::string& origin,
                                    ConfigProblem* problem = nullptr);

  // nullopt when who may read channel/repo; otherwise the reason (for a
  // 403's log record), e.g. "no access rule allows CN=web1 (10.0.0.5) to
  // read prod/debian".
  std::optional<std::string> refuses(const ClientIdentity& who, std::string_view channel,
                                     std::string_view repo) const;
  bool empty() const { return rules_.empty(); }
  const std::vector<AccessRule>& rules() const { return rules_; }

  // Adds rule (checked as load checks it; errors name the command-line
  // option rather than the key): invalid_input for a bad rule, conflict for
  // a name already used. Nothing changes on failure.
  Status add(AccessRule rule);
  // not_found (naming the rules there are) for an unknown name.
  Result<AccessRule> remove(std::string_view name);
  // The policy as access.toml text, rules in order; parse(to_toml()) gives
  // the same policy back.
  std::string to_toml() const;

  struct Matcher;  // a rule's conditions, parsed (private to access.cpp)

 private:
  std::vector<AccessRule> rules_;
  std::vector<std::shared_ptr<const Matcher>> matchers_;
};

// The SHA-256 of the DER form of the one certificate in a PEM file, lowercase
// hex: what access.toml's fingerprint and ca keys hold. not_found for a missing
// file, invalid_input when it holds no PEM certificate.
// A rule as its log record and --json show it: name, channels, repos and
// the conditions it states.
nlohmann::json to_json(const AccessRule& rule);

Result<std::string> certificate_fingerprint(const std::filesystem::path& pem_file);

}  // namespace airlock::repo
