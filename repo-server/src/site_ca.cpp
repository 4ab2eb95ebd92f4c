// The site CA's certificates and revocation list, made with OpenSSL 3's
// library API (see site_ca.h for the files and what each holds).
#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include "airlock/base/file.h"
#include "airlock/base/text.h"
#include "site_ca_x509.h"
#include "tls.h"

namespace airlock::repo {
namespace {

constexpr std::uint64_t kMaxPem = 1 << 20;
// Certificates start an hour early, for hosts whose clocks run a little behind.
constexpr auto kBackdate = std::chrono::hours(1);

using BioPtr = std::unique_ptr<BIO, SslFree<BIO_free>>;
using BnPtr = std::unique_ptr<BIGNUM, SslFree<BN_free>>;
using AsnIntPtr = std::unique_ptr<ASN1_INTEGER, SslFree<ASN1_INTEGER_free>>;
using AsnTimePtr = std::unique_ptr<ASN1_TIME, SslFree<ASN1_TIME_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, SslFree<X509_EXTENSION_free>>;

// An OpenSSL failure: what failed and OpenSSL's reason, and the error queue cleared.
std::unexpected<Error> ssl_failure(const std::string& what, Code code = Code::io) {
  char reason[256] = "no reason given";
  if (const unsigned long e = ERR_peek_last_error(); e != 0)
    ERR_error_string_n(e, reason, sizeof reason);
  ERR_clear_error();
  return fail(code, "site CA: " + what + " failed (" + reason + ")");
}

// A key is never read with a passphrase prompt: the CA key has none.
int no_passphrase(char*, int, int, void*) { return -1; }

template <class Write>
Result<std::string> pem(Write write, const std::string& what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) return ssl_failure("writing " + what);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Result<AsnTimePtr> asn1_time(TimePoint t) {
  AsnTimePtr out(ASN1_TIME_set(nullptr, std::chrono::system_clock::to_time_t(t)));
  if (!out) return ssl_failure("ASN1_TIME_set");
  return out;
}

Result<AsnIntPtr> serial_from_hex(const std::string& hex) {
  BIGNUM* raw = nullptr;
  if (hex.empty() || BN_hex2bn(&raw, hex.c_str()) != static_cast<int>(hex.size()))
    return fail(Code::corrupt, "site CA index: '" + hex + "' is not a hex serial number");
  BnPtr bn(raw);
  AsnIntPtr out(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!out) return ssl_failure("BN_to_ASN1_INTEGER");
  return out;
}

// A random positive 128-bit serial number (RFC 5280: unique per CA, at most 20 octets).
Status set_random_serial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return ssl_failure("RAND_bytes");
  BnPtr bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  if (!bn || BN_is_zero(bn.get())) return ssl_failure("making a serial number");
  if (!BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)))
    return ssl_failure("setting the serial number");
  return {};
}

// Adds extensions given in OpenSSL's configuration syntax, in order (the
// subject key identifier before the authority key identifier).
Status add_extensions(X509* cert, X509* issuer,
                      const std::vector<std::pair<int, std::string>>& extensions) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
      return ssl_failure(std::string("adding ") + OBJ_nid2sn(nid) + " " + value);
  }
  return {};
}

struct CertSpec {
  std::string cn;
  EVP_PKEY* key = nullptr;     // the subject's key
  X509* issuer = nullptr;      // null: self-signed with key
  EVP_PKEY* signer = nullptr;  // the issuer's key
  TimePoint now{};
  int days = 0;
  std::vector<std::pair<int, std::string>> extensions;
};

Result<CertPtr> make_certificate(const CertSpec& spec) {
  CertPtr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1) return ssl_failure("X509_new");
  if (auto s = set_random_serial(cert.get()); !s) return fail(s.error());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  const auto* cn = reinterpret_cast<const unsigned char*>(spec.cn.c_str());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, cn, -1, -1, 0) != 1)
    return ssl_failure("setting the subject CN=" + spec.cn, Code::invalid_input);
  X509_NAME* issuer = spec.issuer ? X509_get_subject_name(spec.issuer) : subject;
  auto from = asn1_time(spec.now - kBackdate);
  auto until = asn1_time(spec.now + std::chrono::days(spec.days));
  if (!from || !until) return fail(!from ? from.error() : until.error());
  if (X509_set_issuer_name(cert.get(), issuer) != 1 ||
      X509_set1_notBefore(cert.get(), from->get()) != 1 ||
      X509_set1_notAfter(cert.get(), until->get()) != 1 ||
      X509_set_pubkey(cert.get(), spec.key) != 1)
    return ssl_failure("filling in the certificate");
  if (auto s = add_extensions(cert.get(), spec.issuer, spec.extensions); !s) return fail(s.error());
  if (X509_sign(cert.get(), spec.signer, EVP_sha256()) <= 0)
    return ssl_failure("signing the certificate");
  return cert;
}

// The index entry of a certificate made here.
Result<CaCertificate> describe(X509* cert, const std::string& host, TimePoint now, int days) {
  CaCertificate out;
  out.host = host;
  out.serial = tls::serial_hex(cert);
  auto fingerprint = Digest::parse(tls::certificate_sha256(cert));
  if (out.serial.empty() || !fingerprint) return ssl_failure("reading the new certificate");
  out.fingerprint = *fingerprint;
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  out.subject = std::string("CN=") + cn;
  out.not_before = now - kBackdate;
  out.not_after = now + std::chrono::days(days);
  return out;
}

bool dns_label(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  return std::ranges::all_of(label, [](unsigned char c) { return std::isalnum(c) || c == '-'; });
}

}  // namespace

Result<HostName> parse_host(std::string_view host) {
  const std::string text(host);
  unsigned char addr[16];
  for (int family : {AF_INET, AF_INET6}) {
    if (inet_pton(family, text.c_str(), addr) != 1) continue;
    char canonical[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, addr, canonical, sizeof canonical);
    return HostName{canonical, true};
  }
  std::string lower = text;
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
  bool ok = !lower.empty() && lower.size() <= 64;
  std::string_view last;
  for (std::size_t start = 0; ok;) {
    const std::size_t dot = lower.find('.', start);
    last = std::string_view(lower).substr(start, dot == std::string::npos ? dot : dot - start);
    ok = dns_label(last);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (ok && std::ranges::all_of(last, [](unsigned char c) { return std::isdigit(c); })) ok = false;
  if (!ok) {
    return fail(Code::invalid_input,
                "host '" + escape_invalid_utf8(text) +
                    "' is neither a DNS name (letters, digits and hyphens in dot-separated "
                    "labels, at most 64 characters) nor an IPv4 or IPv6 address");
  }
  return HostName{lower, false};
}

Result<CaFiles> make_ca(const std::string& name, TimePoint now, int days) {
  CaFiles out;
  out.key.reset(EVP_EC_gen("P-256"));
  if (!out.key) return ssl_failure("making a P-256 key");
  auto cert = make_certificate({name,
                                out.key.get(),
                                nullptr,
                                out.key.get(),
                                now,
                                days,
                                {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                                 {NID_key_usage, "critical,keyCertSign,cRLSign"},
                                 {NID_subject_key_identifier, "hash"}}});
  if (!cert) return fail(cert.error());
  out.cert = std::move(*cert);
  return out;
}

Result<IssuedFiles> issue_host(const CaFiles& ca, const HostName& host, TimePoint now, int days) {
  IssuedFiles out;
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return ssl_failure("making a P-256 key");
  auto cert = make_certificate({host.text,
                                key.get(),
                                ca.cert.get(),
                                ca.key.get(),
                                now,
                                days,
                                {{NID_basic_constraints, "critical,CA:FALSE"},
                                 {NID_key_usage, "critical,digitalSignature"},
                                 {NID_ext_key_usage, "serverAuth,clientAuth"},
                                 {NID_subject_alt_name, (host.ip ? "IP:" : "DNS:") + host.text},
                                 {NID_subject_key_identifier, "hash"},
                                 {NID_authority_key_identifier, "keyid:always"}}});
  if (!cert) return fail(cert.error());
  auto entry = describe(cert->get(), host.text, now, days);
  if (!entry) return fail(entry.error());
  out.entry = std::move(*entry);
  auto key_pem = private_key_pem(key.get());
  auto cert_pem = certificate_pem(cert->get());
  if (!key_pem || !cert_pem) return fail(!key_pem ? key_pem.error() : cert_pem.error());
  out.key_pem = std::move(*key_pem);
  out.cert_pem = std::move(*cert_pem);
  return out;
}

Result<CaCertificate> describe_ca(const CaFiles& ca, TimePoint now, int days) {
  return describe(ca.cert.get(), "", now, days);
}

Result<std::string> private_key_pem(EVP_PKEY* key) {
  return pem(
      [&](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
      },
      "a private key");
}

Result<std::string> certificate_pem(X509* cert) {
  return pem([&](BIO* b) { return PEM_write_bio_X509(b, cert); }, "a certificate");
}

Result<CaFiles> load_ca(const std::filesystem::path& dir) {
  auto key_pem = read_file(dir / "ca.key", kMaxPem);
  if (!key_pem) return fail(key_pem.error());
  auto cert_pem = read_file(dir / "ca.crt", kMaxPem);
  if (!cert_pem) return fail(cert_pem.error());
  CaFiles out;
  BioPtr kb(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
  if (kb) out.key.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, no_passphrase, nullptr));
  BioPtr cb(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
  if (cb) out.cert.reset(PEM_read_bio_X509(cb.get(), nullptr, no_passphrase, nullptr));
  if (!out.key || !out.cert)
    return ssl_failure("reading " + (dir / (out.key ? "ca.crt" : "ca.key")).string(),
                       Code::corrupt);
  if (X509_check_private_key(out.cert.get(), out.key.get()) != 1)
    return ssl_failure((dir / "ca.key").string() + " matching ca.crt", Code::corrupt);
  return out;
}

Result<std::string> sign_crl(const CaFiles& ca, const std::vector<CaCertificate>& certificates,
                             std::uint64_t number, TimePoint now) {
  CrlPtr crl(X509_CRL_new());
  auto last = asn1_time(now);
  auto next = asn1_time(now + std::chrono::days(kCrlDays));
  if (!last || !next) return fail(!last ? last.error() : next.error());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last->get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next->get()) != 1)
    return ssl_failure("filling in the CRL");
  for (const auto& c : certificates) {
    if (!c.revoked) continue;
    auto serial = serial_from_hex(c.serial);
    if (!serial) return fail(serial.error());
    auto when = asn1_time(*c.revoked);
    if (!when) return fail(when.error());
    // No reasonCode extension: RFC 5280 says to leave it out for "unspecified".
    X509_REVOKED* entry = X509_REVOKED_new();
    if (!entry || X509_REVOKED_set_serialNumber(entry, serial->get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry, when->get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry) != 1) {
      X509_REVOKED_free(entry);
      return ssl_failure("adding serial " + c.serial + " to the CRL");
    }
  }
  AsnIntPtr crl_number(ASN1_INTEGER_new());
  if (!crl_number || ASN1_INTEGER_set_uint64(crl_number.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0) != 1)
    return ssl_failure("setting the CRL number");
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.cert.get(), nullptr, nullptr, crl.get(), 0);
  ExtPtr aki(X509V3_EXT_conf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
  if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1 || X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) <= 0)
    return ssl_failure("signing the CRL");
  return pem([&](BIO* b) { return PEM_write_bio_X509_CRL(b, crl.get()); }, "the CRL");
}

}  // namespace airlock::repo
