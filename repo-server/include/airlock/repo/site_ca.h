// The site CA: a small certificate authority in the home, so that operators
// can give each host a client certificate (its identity on `serve`'s TLS
// listener) and the server its own certificate without OpenSSL commands.
// Everything is made with OpenSSL 3's library API: ECDSA P-256 keys,
// SHA-256 signatures.
//
//   <home>/ca/ca.key       the CA's private key (PEM, 0600); never printed or logged
//   <home>/ca/ca.crt       the CA's self-signed certificate: basicConstraints
//                          critical CA:TRUE pathlen 0, keyUsage critical
//                          keyCertSign + cRLSign, subjectKeyIdentifier
//   <home>/ca/crl.pem      the CA's signed revocation list (version 2, a CRL
//                          number, nextUpdate 30 days after it was signed)
//   <home>/ca/issued.json  the index of issued certificates (format
//                          "airlock-ca-index/1"): the CRL number and, per
//                          certificate, host, serial, subject, fingerprint,
//                          not_before, not_after and revoked (null or a time)
//
// The home's Home::ca_* methods (home.h) make every change through the
// ledger: the files and a `ca` log record are both written or both absent.
// issued.json is written last: it is the commit point of every change.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/verify/digest.h"

namespace airlock::repo {

inline constexpr int kCaDefaultDays = 3650;
inline constexpr int kHostDefaultDays = 825;
// How long a CRL is valid after it is signed: `ca revoke` and `ca crl` sign
// a new one; a server refuses every client once its CRL has expired.
inline constexpr int kCrlDays = 30;

// A host as certificates name it: a DNS name (letters, digits and hyphens in
// dot-separated labels of 1-63 characters, at most 253 in all, not all
// digits in the last label; kept lowercase) or an IPv4 or IPv6 address (kept
// in its canonical text form).
struct HostName {
  std::string text;
  bool ip = false;
};
// invalid_input naming the host and what is allowed for anything else.
Result<HostName> parse_host(std::string_view host);

// One certificate the site CA issued, as its index records it.
struct CaCertificate {
  std::string host;     // HostName::text: the CN and the subjectAltName
  std::string serial;   // lowercase hex, a random positive 128-bit number
  std::string subject;  // "CN=<host>"
  Digest fingerprint;   // SHA-256 of the DER certificate
  TimePoint not_before{}, not_after{};
  std::optional<TimePoint> revoked;  // when it was put on the CRL
};

struct CaInitOptions {
  std::string name;  // the CA's CN; empty: "airlock site CA <home dir name>"
  int days = kCaDefaultDays;
};

struct CaIssueOptions {
  std::string host;           // validated with parse_host
  std::filesystem::path out;  // empty: <home>/ca/hosts/<host>/
  int days = kHostDefaultDays;
};

// What a CA change did.
struct CaReport {
  std::string action;  // init, issue, revoke, crl
  // init: the CA's own certificate; issue: the new one; revoke: those revoked now.
  std::vector<CaCertificate> certificates;
  std::vector<std::filesystem::path> files;  // written, in order
  std::uint64_t crl_number = 0;              // of the CRL as it is now
};

// How the CA's results read: as JSON (an index entry is the same object) and
// as text for a terminal (strings escaped).
nlohmann::json to_json(const CaCertificate& certificate);
nlohmann::json to_json(const std::vector<CaCertificate>& certificates);
nlohmann::json to_json(const CaReport& report);
void print_ca_change(std::ostream& out, const CaReport& report);
// One line a certificate: host, serial, not_after, revoked or valid, fingerprint.
void print_ca_list(std::ostream& out, const std::vector<CaCertificate>& certificates);

}  // namespace airlock::repo
