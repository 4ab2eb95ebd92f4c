// HTTPS for the server: the OpenSSL context built from the serve options'
// files, what a client's certificate says, and why a handshake was refused.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "airlock/base/error.h"

namespace airlock::repo::tls {

// The files a context is made from; read again on every reload.
struct ContextFiles {
  std::filesystem::path certificate;  // the server's chain, PEM, leaf first
  std::filesystem::path key;          // its private key, PEM
  std::filesystem::path client_ca;    // empty: no client certificates asked for
  // Revocation lists (PEM, one or more a file). Absent optional ones are skipped.
  std::vector<std::filesystem::path> crls;
  std::vector<std::filesystem::path> optional_crls;
};

// TLS 1.2 and 1.3 only; in 1.2 only ECDHE key exchange with AES-GCM or
// ChaCha20-Poly1305; no compression and no renegotiation. With a client CA,
// a client must present a certificate that chains to it and is not revoked
// by any loaded list (a CA without a list is not checked for revocation).
Result<std::shared_ptr<boost::asio::ssl::context>> server_context(const ContextFiles& files);

// What a client's certificate says, as pull records and the access policy
// name it.
struct PeerCertificate {
  std::string subject;  // RFC 2253
  std::string common_name;
  std::vector<std::string> units;  // OU values
  std::string fingerprint;         // SHA-256 of the DER certificate, lowercase hex
  std::string serial;              // lowercase hex
  std::string issuer_fingerprint;  // of the CA certificate that issued it, when verified
  // A resumed session whose certificate no longer verifies (expired since,
  // say): the reason it is refused, as Refusal's for status 495.
  std::string refused;
};

// The SHA-256 of cert's DER form, lowercase hex (PeerCertificate's
// fingerprint); empty when it cannot be encoded.
std::string certificate_sha256(const X509* cert);
// cert's serial number, lowercase hex (PeerCertificate's serial, the site
// CA's index); empty when it cannot be read.
std::string serial_hex(const X509* cert);

// The certificate the client presented, if any (after a failed handshake
// too, when the client got as far as sending one).
std::optional<PeerCertificate> peer_certificate(SSL* ssl);

// A handshake the server refused: the pull record's status (495 for a
// certificate that did not verify, 496 for none presented, 0 for any other
// TLS failure such as an old protocol version) and the reason.
struct Refusal {
  int status = 0;
  std::string reason;
};

// Why the handshake on ssl failed with ec; empty when the client only went
// away or timed out (nothing to record).
std::optional<Refusal> refusal(SSL* ssl, const boost::system::error_code& ec);

}  // namespace airlock::repo::tls
