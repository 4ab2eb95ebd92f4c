#include "airlock/verify/ed25519.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "airlock/base/file.h"

namespace airlock {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

constexpr std::uint64_t kMaxKeyFile = 64 * 1024;

std::string openssl_error(std::string_view what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  std::string out(what);
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += ": ";
    out += buf;
  }
  return out;
}

// Never prompt for a passphrase: an encrypted key is simply not readable here.
int no_password(char*, int, int, void*) { return -1; }

Result<PublicKey::Raw> raw_public(EVP_PKEY* pkey) {
  PublicKey::Raw raw;
  std::size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) != 1 || len != raw.size()) {
    return fail(Code::invalid_input, openssl_error("cannot extract Ed25519 public key"));
  }
  return raw;
}

std::size_t count_of(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = hay.find(needle); pos != std::string_view::npos;
       pos = hay.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

Result<KeyId> KeyId::parse(std::string_view hex) {
  auto d = Digest::parse(hex);
  if (!d) return fail(Code::invalid_input, "key id " + d.error().message);
  return KeyId(*d);
}

PublicKey::PublicKey(const Raw& raw) : raw_(raw), id_(sha256(std::span(raw_))) {}

Result<PublicKey> PublicKey::from_raw(std::span<const std::uint8_t> raw) {
  if (raw.size() != kSize) {
    return fail(Code::invalid_input,
                "Ed25519 public key must be 32 bytes, got " + std::to_string(raw.size()));
  }
  Raw r;
  std::memcpy(r.data(), raw.data(), kSize);
  return PublicKey(r);
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  if (count_of(pem, "-----BEGIN ") != 1 || count_of(pem, "-----BEGIN PUBLIC KEY-----") != 1) {
    return fail(Code::invalid_input, "expected exactly one PEM 'PUBLIC KEY' block");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(Code::io, openssl_error("BIO_new_mem_buf"));
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr));
  if (!pkey) return fail(Code::invalid_input, openssl_error("not a readable PEM public key"));
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return fail(Code::invalid_input, "public key is not an Ed25519 key");
  }
  auto raw = raw_public(pkey.get());
  if (!raw) return fail(raw.error());
  return PublicKey(*raw);
}

Result<PublicKey> PublicKey::read_file(const std::filesystem::path& path) {
  auto text = airlock::read_file(path, kMaxKeyFile);
  if (!text) return fail(text.error());
  auto key = from_pem(*text);
  if (!key) return fail(key.error().context(path.string()));
  return key;
}

std::string PublicKey::to_pem() const {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw_.data(), raw_.size()));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!pkey || !bio || PEM_write_bio_PUBKEY(bio.get(), pkey.get()) != 1) std::abort();
  return bio_to_string(bio.get());
}

Status PublicKey::write_file(const std::filesystem::path& path, Env& env) const {
  return env.write_file_atomic(path, to_pem(), 0644);
}

Result<Verdict> PublicKey::verify(std::span<const std::uint8_t> message,
                                  std::span<const std::uint8_t> sig) const {
  if (sig.size() != std::tuple_size_v<Signature>) return Verdict::invalid;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw_.data(), raw_.size()));
  // A 32-byte string that is not a valid curve point cannot verify anything.
  if (!pkey) {
    ERR_clear_error();
    return Verdict::invalid;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return fail(Code::io, openssl_error("EVP_MD_CTX_new"));
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return fail(Code::io, openssl_error("EVP_DigestVerifyInit"));
  }
  int rc = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size());
  ERR_clear_error();
  return rc == 1 ? Verdict::valid : Verdict::invalid;
}

Result<Verdict> PublicKey::verify(std::string_view message,
                                  std::span<const std::uint8_t> sig) const {
  return verify(std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()),
                sig);
}

struct PrivateKey::Handle {
  PkeyPtr pkey;
};

PrivateKey::PrivateKey(std::unique_ptr<Handle> handle, PublicKey pub)
    : handle_(std::move(handle)), public_(pub) {}
PrivateKey::~PrivateKey() = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;

namespace {
Result<PrivateKey> wrap_private(PkeyPtr pkey, auto make) {
  if (EVP_PKEY_get_id(pkey.get()) != EVP_PKEY_ED25519) {
    return fail(Code::invalid_input, "private key is not an Ed25519 key");
  }
  auto raw = raw_public(pkey.get());
  if (!raw) return fail(raw.error());
  return make(std::move(pkey), PublicKey(*raw));
}
}  // namespace

Result<PrivateKey> PrivateKey::generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) return fail(Code::io, openssl_error("Ed25519 key generation failed"));
  return wrap_private(std::move(pkey), [](PkeyPtr p, PublicKey pub) {
    return PrivateKey(std::make_unique<Handle>(Handle{std::move(p)}), pub);
  });
}

Result<PrivateKey> PrivateKey::from_seed(std::span<const std::uint8_t> seed) {
  if (seed.size() != 32) {
    return fail(Code::invalid_input,
                "Ed25519 seed must be 32 bytes, got " + std::to_string(seed.size()));
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return fail(Code::invalid_input, openssl_error("bad Ed25519 seed"));
  return wrap_private(std::move(pkey), [](PkeyPtr p, PublicKey pub) {
    return PrivateKey(std::make_unique<Handle>(Handle{std::move(p)}), pub);
  });
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(Code::io, openssl_error("BIO_new_mem_buf"));
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  if (!pkey) return fail(Code::invalid_input, openssl_error("not a readable PEM private key"));
  return wrap_private(std::move(pkey), [](PkeyPtr p, PublicKey pub) {
    return PrivateKey(std::make_unique<Handle>(Handle{std::move(p)}), pub);
  });
}

Result<PrivateKey> PrivateKey::read_file(const std::filesystem::path& path) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return fail_errno(path.string());
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(Code::refused, "private key " + path.string() +
                                   " is accessible by group or others (mode " + mode +
                                   "); run chmod 600 on it");
  }
  fd->reset();
  auto text = airlock::read_file(path, kMaxKeyFile);
  if (!text) return fail(text.error());
  auto key = from_pem(*text);
  if (!key) return fail(key.error().context(path.string()));
  return key;
}

std::string PrivateKey::to_pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), handle_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    std::abort();
  }
  return bio_to_string(bio.get());
}

Status PrivateKey::write_file(const std::filesystem::path& path, Env& env) const {
  return env.write_new_file(path, to_pem(), 0600);
}

Result<Signature> PrivateKey::sign(std::span<const std::uint8_t> message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return fail(Code::io, openssl_error("EVP_MD_CTX_new"));
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, handle_->pkey.get()) != 1) {
    return fail(Code::io, openssl_error("EVP_DigestSignInit"));
  }
  Signature sig;
  std::size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1 ||
      len != sig.size()) {
    return fail(Code::io, openssl_error("Ed25519 signing failed"));
  }
  return sig;
}

Result<Signature> PrivateKey::sign(std::string_view message) const {
  return sign(std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
}

}  // namespace airlock
