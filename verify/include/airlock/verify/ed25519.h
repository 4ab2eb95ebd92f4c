// Ed25519 keys and signatures (OpenSSL 3 EVP).
//
// Keys travel as PEM (SubjectPublicKeyInfo / PKCS#8). A key id is the SHA-256 of
// the raw 32-byte public key. Verification answers valid or invalid as a value;
// an Error is returned only when something operational broke.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "airlock/base/env.h"
#include "airlock/base/error.h"
#include "airlock/verify/digest.h"

namespace airlock {

// Identifies a public key: SHA-256 of its raw bytes, written as 64 hex digits.
class KeyId {
 public:
  KeyId() = default;
  explicit KeyId(const Digest& d) : digest_(d) {}
  static Result<KeyId> parse(std::string_view hex);
  std::string hex() const { return digest_.hex(); }
  const Digest& digest() const { return digest_; }
  auto operator<=>(const KeyId&) const = default;

 private:
  Digest digest_;
};

using Signature = std::array<std::uint8_t, 64>;

enum class Verdict { valid, invalid };

class PublicKey {
 public:
  static constexpr std::size_t kSize = 32;
  using Raw = std::array<std::uint8_t, kSize>;

  explicit PublicKey(const Raw& raw);

  static Result<PublicKey> from_raw(std::span<const std::uint8_t> raw);
  // Accepts exactly one Ed25519 "PUBLIC KEY" PEM block; any other key type is invalid_input.
  static Result<PublicKey> from_pem(std::string_view pem);
  static Result<PublicKey> read_file(const std::filesystem::path& path);

  std::string to_pem() const;
  // Writes the PEM to path (mode 0644), replacing it atomically.
  Status write_file(const std::filesystem::path& path, Env& env = Env::system()) const;

  const Raw& raw() const { return raw_; }
  const KeyId& id() const { return id_; }

  // valid only when sig is 64 bytes and verifies over message. A signature of
  // any other length is invalid without reaching OpenSSL.
  Result<Verdict> verify(std::span<const std::uint8_t> message,
                         std::span<const std::uint8_t> sig) const;
  Result<Verdict> verify(std::string_view message, std::span<const std::uint8_t> sig) const;

  bool operator==(const PublicKey& o) const { return raw_ == o.raw_; }

 private:
  Raw raw_;
  KeyId id_;
};

// A private signing key. Move-only; the key material stays inside OpenSSL.
class PrivateKey {
 public:
  ~PrivateKey();
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  PrivateKey(const PrivateKey&) = delete;
  PrivateKey& operator=(const PrivateKey&) = delete;

  static Result<PrivateKey> generate();
  // From the 32-byte RFC 8032 seed.
  static Result<PrivateKey> from_seed(std::span<const std::uint8_t> seed);
  static Result<PrivateKey> from_pem(std::string_view pem);
  // Refuses (refused) a key file readable or writable by group or others.
  static Result<PrivateKey> read_file(const std::filesystem::path& path);

  // Creates path with mode 0600; refuses to overwrite an existing file.
  Status write_file(const std::filesystem::path& path, Env& env = Env::system()) const;
  std::string to_pem() const;

  const PublicKey& public_key() const { return public_; }
  Result<Signature> sign(std::span<const std::uint8_t> message) const;
  Result<Signature> sign(std::string_view message) const;

 private:
  struct Handle;
  PrivateKey(std::unique_ptr<Handle> handle, PublicKey pub);
  std::unique_ptr<Handle> handle_;
  PublicKey public_;
};

}  // namespace airlock
