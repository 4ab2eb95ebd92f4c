// SHA-256 digests and streaming hashing (OpenSSL EVP).
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "airlock/base/env.h"
#include "airlock/base/error.h"

namespace airlock {

// A SHA-256 digest: exactly 32 bytes. The text form is 64 lowercase hex digits;
// parse() accepts nothing else, so a digest never travels as a loose string.
class Digest {
 public:
  static constexpr std::size_t kSize = 32;
  using Bytes = std::array<std::uint8_t, kSize>;

  Digest() = default;  // all zero
  explicit Digest(const Bytes& bytes) : bytes_(bytes) {}

  // Strict: 64 characters of [0-9a-f]. Anything else is invalid_input.
  static Result<Digest> parse(std::string_view hex);
  // Exactly 32 raw bytes, else invalid_input.
  static Result<Digest> from_raw(std::span<const std::uint8_t> raw);

  std::string hex() const;
  const Bytes& bytes() const { return bytes_; }
  std::span<const std::uint8_t> span() const { return bytes_; }

  auto operator<=>(const Digest&) const = default;

 private:
  Bytes bytes_{};
};

// Incremental SHA-256. Not thread-safe; one per stream. finish() may be called
// once; the hasher is then spent.
class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(std::span<const std::uint8_t> bytes);
  void update(std::string_view bytes);
  Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest sha256(std::span<const std::uint8_t> bytes);
Digest sha256(std::string_view bytes);
// SHA-256 of parts one after another, with a context each thread keeps: for
// many small hashes (a Merkle tree's nodes), where making a context costs
// more than the hash.
Digest sha256_concat(std::initializer_list<std::span<const std::uint8_t>> parts);

// Hashes a whole file with large sequential reads. io / not_found on failure.
Result<Digest> hash_file(const std::filesystem::path& path);
// Hashes everything readable from fd (from its current offset) and returns
// the digest and the number of bytes read. Does not close fd.
struct FdHash {
  Digest digest;
  std::uint64_t size = 0;
};
Result<FdHash> hash_fd(int fd);

// Writes to a file descriptor while hashing and counting what was written.
// The descriptor is borrowed, not owned; writes go through env. Short writes
// and EINTR are retried; any other failure is an io error and the writer
// should be discarded.
class HashingWriter {
 public:
  explicit HashingWriter(int fd, Env& env = Env::system()) : fd_(fd), env_(env) {}
  Status write(std::span<const std::uint8_t> bytes);
  std::uint64_t bytes_written() const { return written_; }
  Digest finish() { return hasher_.finish(); }

 private:
  int fd_;
  Env& env_;
  Hasher hasher_;
  std::uint64_t written_ = 0;
};

// Lowercase hex of arbitrary bytes.
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace airlock

template <>
struct std::hash<airlock::Digest> {
  std::size_t operator()(const airlock::Digest& d) const noexcept {
    std::size_t h;
    static_assert(sizeof(h) <= airlock::Digest::kSize);
    __builtin_memcpy(&h, d.bytes().data(), sizeof(h));
    return h;
  }
};
