// The site CA's OpenSSL side: keys, certificates and the CRL as PEM text,
// for home_ca.cpp to write through the ledger. Nothing here touches the home.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "airlock/repo/site_ca.h"

namespace airlock::repo {

// An OpenSSL object owned by a unique_ptr that frees it with F.
template <auto F>
struct SslFree {
  template <class T>
  void operator()(T* p) const {
    F(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, SslFree<EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, SslFree<X509_free>>;
using CrlPtr = std::unique_ptr<X509_CRL, SslFree<X509_CRL_free>>;

// The CA's key and certificate.
struct CaFiles {
  PkeyPtr key;
  CertPtr cert;
};

// A host's new key and certificate, and its index entry.
struct IssuedFiles {
  std::string key_pem;  // PKCS#8, unencrypted: written 0600
  std::string cert_pem;
  CaCertificate entry;
};

// A new P-256 key and a self-signed CA certificate with CN name, valid from
// an hour before now for days. invalid_input when name cannot be a CN.
Result<CaFiles> make_ca(const std::string& name, TimePoint now, int days);
// The CA certificate's own entry (host empty).
Result<CaCertificate> describe_ca(const CaFiles& ca, TimePoint now, int days);
// A new P-256 key and a certificate for host signed by ca: CN and
// subjectAltName the host, serverAuth and clientAuth, a random serial.
Result<IssuedFiles> issue_host(const CaFiles& ca, const HostName& host, TimePoint now, int days);
// Reads dir/ca.key and dir/ca.crt; corrupt when unreadable or not a pair.
Result<CaFiles> load_ca(const std::filesystem::path& dir);
// A version 2 CRL of every revoked certificate of certificates, with CRL
// number number, lastUpdate now and nextUpdate kCrlDays later, as PEM.
Result<std::string> sign_crl(const CaFiles& ca, const std::vector<CaCertificate>& certificates,
                             std::uint64_t number, TimePoint now);

Result<std::string> private_key_pem(EVP_PKEY* key);
Result<std::string> certificate_pem(X509* cert);

}  // namespace airlock::repo
