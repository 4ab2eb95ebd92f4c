#include "tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include "airlock/base/file.h"
#include "airlock/base/text.h"
#include "airlock/verify/digest.h"

namespace airlock::repo::tls {
namespace {

namespace ssl = boost::asio::ssl;

// The ciphers TLS 1.2 may use: forward secrecy and AEAD only. TLS 1.3's own
// suites are all of that kind and stay OpenSSL's default.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The first error OpenSSL queued, as text; the queue is left empty.
std::string openssl_error() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(e);
  return reason ? reason : "error " + std::to_string(e);
}

std::string name_text(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return {};
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n > 0 ? static_cast<std::size_t>(n) : 0);
  BIO_free(bio);
  return out;
}

std::vector<std::string> name_entries(const X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n >= 0) out.emplace_back(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
    OPENSSL_free(utf8);
  }
  return out;
}

std::string fingerprint(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, EVP_sha256(), md, &n) != 1) return {};
  return to_hex(std::span<const std::uint8_t>(md, n));
}

}  // namespace

std::string serial_hex(const X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (!bn) return {};
  char* hex = BN_bn2hex(bn);
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

namespace {

// The SSL ex_data slot that keeps the client's certificate as verification
// saw it: OpenSSL does not keep the certificate of a refused handshake, and
// its record names who tried.
int presented_slot() {
  static const int slot = SSL_get_ex_new_index(
      0, nullptr, nullptr, nullptr, [](void*, void* cert, CRYPTO_EX_DATA*, int, long, void*) {
        X509_free(static_cast<X509*>(cert));
      });
  return slot;
}

// Keeps the certificate being verified. Accepts a certificate whose issuer
// has no revocation list loaded: the lists check the CAs they come from,
// and a CA without one is trusted as the operator configured it.
int verify_callback(int ok, X509_STORE_CTX* ctx) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (X509* leaf = X509_STORE_CTX_get0_cert(ctx);
      ssl && leaf && !SSL_get_ex_data(ssl, presented_slot())) {
    if (X509_up_ref(leaf) == 1) SSL_set_ex_data(ssl, presented_slot(), leaf);
  }
  if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL) {
    X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return 1;
  }
  return ok;
}

// Adds every CRL in the PEM file to store; the count added. Errors start
// with what: "--crl FILE", or the file alone for a list no option named.
Result<int> add_crls(X509_STORE* store, const std::filesystem::path& file,
                     const std::string& what) {
  BIO* bio = BIO_new_file(file.c_str(), "r");
  if (!bio) {
    ERR_clear_error();
    return fail(Code::io, what + ": cannot be read");
  }
  int added = 0;
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_crl(store, crl);
    X509_CRL_free(crl);
    if (ok != 1) {
      BIO_free(bio);
      return fail(Code::io, what + ": " + openssl_error());
    }
    ++added;
  }
  ERR_clear_error();  // the end of the file
  BIO_free(bio);
  if (added == 0) {
    return fail(Code::io, what + ": no PEM revocation list (X509 CRL) in it");
  }
  return added;
}

// A resumed session keeps the client's certificate but not the chain
// verified for it, and skips verification: the certificate is checked again
// against the context's store as the handshake checked it (expiry,
// revocation, chain). The verify result, and the issuing CA's fingerprint
// when it verifies.
struct Reverified {
  long result = X509_V_ERR_UNSPECIFIED;
  std::string issuer_fingerprint;
};

Reverified verify_again(SSL* ssl, X509* cert) {
  Reverified out;
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  if (ctx &&
      X509_STORE_CTX_init(ctx, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), cert, nullptr) == 1) {
    X509_STORE_CTX_set_default(ctx, "ssl_client");
    X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(ctx), SSL_get0_param(ssl));
    X509_STORE_CTX_set_verify_cb(ctx, verify_callback);
    if (X509_verify_cert(ctx) == 1) {
      out.result = X509_V_OK;
      STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx);
      if (chain && sk_X509_num(chain) > 1)
        out.issuer_fingerprint = fingerprint(sk_X509_value(chain, 1));
    } else {
      out.result = X509_STORE_CTX_get_error(ctx);
    }
  }
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  return out;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> server_context(const ContextFiles& files) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return fail(Code::io, "cannot set the TLS ciphers: " + openssl_error());
  }
  // Sessions resumed with a client certificate need an id context.
  static const unsigned char kSessionContext[] = "airlock-repo";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  for (const auto* f : {&files.certificate, &files.key, &files.client_ca}) {
    if (!f->empty() && !path_exists(*f)) {
      const char* option = f == &files.certificate ? "--tls-cert"
                           : f == &files.key       ? "--tls-key"
                                                   : "--client-ca";
      return fail(Code::not_found, std::string(option) + " " + f->string() + ": no such file");
    }
  }
  if (SSL_CTX_use_certificate_chain_file(native, files.certificate.c_str()) != 1) {
    return fail(Code::io, "--tls-cert " + files.certificate.string() +
                              ": not a PEM certificate chain (" + openssl_error() + ")");
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return fail(Code::io, "--tls-key " + files.key.string() +
                                " does not belong to the certificate in " +
                                files.certificate.string());
    }
    return fail(Code::io, "--tls-key " + files.key.string() + ": not a PEM private key (" +
                              openssl_error() + ")");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return fail(Code::io, "--tls-key " + files.key.string() +
                              " does not belong to the certificate in " +
                              files.certificate.string());
  }
  if (files.client_ca.empty()) return ctx;
  if (SSL_CTX_load_verify_locations(native, files.client_ca.c_str(), nullptr) != 1) {
    return fail(Code::io, "--client-ca " + files.client_ca.string() +
                              ": no PEM CA certificate in it (" + openssl_error() + ")");
  }
  // Tells clients which CA their certificate must come from.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca.c_str())) {
    SSL_CTX_set_client_CA_list(native, names);
  }
  ERR_clear_error();
  X509_STORE* store = SSL_CTX_get_cert_store(native);
  int crls = 0;
  for (const auto& f : files.crls) {
    auto n = add_crls(store, f, "--crl " + f.string());
    if (!n) return fail(n.error());
    crls += *n;
  }
  for (const auto& f : files.optional_crls) {
    if (!path_exists(f)) continue;
    auto n = add_crls(store, f, f.string());
    if (!n) return fail(n.error());
    crls += *n;
  }
  if (crls > 0) X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_callback);
  SSL_CTX_set_verify_depth(native, 4);
  return ctx;
}

std::optional<PeerCertificate> peer_certificate(SSL* ssl) {
  if (!ssl) return std::nullopt;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) cert = static_cast<X509*>(SSL_get_ex_data(ssl, presented_slot()));
  if (!cert) return std::nullopt;
  PeerCertificate out;
  const X509_NAME* subject = X509_get_subject_name(cert);
  out.subject = escape_invalid_utf8(name_text(subject));
  auto cns = name_entries(subject, NID_commonName);
  if (!cns.empty()) out.common_name = escape_invalid_utf8(cns.back());
  for (auto& ou : name_entries(subject, NID_organizationalUnitName))
    out.units.push_back(escape_invalid_utf8(ou));
  out.fingerprint = fingerprint(cert);
  out.serial = serial_hex(cert);
  if (STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl); chain && sk_X509_num(chain) > 1) {
    out.issuer_fingerprint = fingerprint(sk_X509_value(chain, 1));
  } else if (SSL_session_reused(ssl)) {
    auto again = verify_again(ssl, cert);
    out.issuer_fingerprint = std::move(again.issuer_fingerprint);
    if (again.result != X509_V_OK)
      out.refused =
          std::string("client certificate refused: ") + X509_verify_cert_error_string(again.result);
  }
  return out;
}

std::optional<Refusal> refusal(SSL* ssl, const boost::system::error_code& ec) {
  namespace error = boost::asio::error;
  if (ec.category() != error::get_ssl_category()) return std::nullopt;  // gone, or timed out
  const long verified = SSL_get_verify_result(ssl);
  if (verified != X509_V_OK) {
    return Refusal{
        495, std::string("client certificate refused: ") + X509_verify_cert_error_string(verified)};
  }
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    return Refusal{496, "no client certificate"};
  }
  return Refusal{0, "TLS handshake refused: " + ec.message()};
}

std::string certificate_sha256(const X509* cert) { return fingerprint(cert); }

}  // namespace airlock::repo::tls
