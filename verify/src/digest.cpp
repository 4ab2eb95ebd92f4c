#include "airlock/verify/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "airlock/base/file.h"

namespace airlock {
namespace {

// Fetched once: an explicit fetch avoids OpenSSL 3's per-call implicit lookup.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

Result<Digest> Digest::parse(std::string_view hex) {
  if (hex.size() != 2 * kSize) {
    return fail(Code::invalid_input, "digest must be 64 lowercase hex digits, got " +
                                         std::to_string(hex.size()) + " characters");
  }
  Bytes b;
  for (std::size_t i = 0; i < kSize; ++i) {
    int hi = hex_value(hex[2 * i]);
    int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return fail(Code::invalid_input,
                  "digest must be 64 lowercase hex digits, got '" + std::string(hex) + "'");
    }
    b[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return Digest(b);
}

Result<Digest> Digest::from_raw(std::span<const std::uint8_t> raw) {
  if (raw.size() != kSize) {
    return fail(Code::invalid_input, "digest must be 32 bytes, got " + std::to_string(raw.size()));
  }
  Bytes b;
  std::memcpy(b.data(), raw.data(), kSize);
  return Digest(b);
}

std::string Digest::hex() const { return to_hex(bytes_); }

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Hasher::Hasher() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  // Allocation or init failure here means OpenSSL itself is unusable.
  if (impl_->ctx == nullptr || EVP_DigestInit_ex2(impl_->ctx, sha256_md(), nullptr) != 1) {
    std::abort();
  }
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  if (EVP_DigestUpdate(impl_->ctx, bytes.data(), bytes.size()) != 1) std::abort();
}

void Hasher::update(std::string_view bytes) {
  update(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Digest Hasher::finish() {
  Digest::Bytes out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != Digest::kSize) std::abort();
  return Digest(out);
}

Digest sha256(std::span<const std::uint8_t> bytes) { return sha256_concat({bytes}); }

Digest sha256(std::string_view bytes) {
  return sha256_concat(
      {std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())});
}

Digest sha256_concat(std::initializer_list<std::span<const std::uint8_t>> parts) {
  // A context set up once per thread, copied into a working one for each hash.
  struct Contexts {
    EVP_MD_CTX* fresh = EVP_MD_CTX_new();
    EVP_MD_CTX* work = EVP_MD_CTX_new();
    Contexts() {
      if (!fresh || !work || EVP_DigestInit_ex2(fresh, sha256_md(), nullptr) != 1) std::abort();
    }
    ~Contexts() {
      EVP_MD_CTX_free(fresh);
      EVP_MD_CTX_free(work);
    }
  };
  thread_local Contexts c;
  if (EVP_MD_CTX_copy_ex(c.work, c.fresh) != 1) std::abort();
  for (const auto& part : parts) {
    if (!part.empty() && EVP_DigestUpdate(c.work, part.data(), part.size()) != 1) std::abort();
  }
  Digest::Bytes out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(c.work, out.data(), &len) != 1 || len != Digest::kSize) std::abort();
  return Digest(out);
}

Result<FdHash> hash_fd(int fd) {
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Hasher h;
  FdHash out;
  auto s = read_chunks(fd, [&](std::span<const std::uint8_t> chunk) -> Status {
    h.update(chunk);
    out.size += chunk.size();
    return {};
  });
  if (!s) return fail(s.error());
  out.digest = h.finish();
  return out;
}

Result<Digest> hash_file(const std::filesystem::path& path) {
  auto fd = open_file(path, O_RDONLY);
  if (!fd) return fail(fd.error());
  auto r = hash_fd(fd->get());
  if (!r) return fail(r.error().context(path.string()));
  return r->digest;
}

Status HashingWriter::write(std::span<const std::uint8_t> bytes) {
  if (auto s = env_.write(fd_, bytes); !s) return s;
  hasher_.update(bytes);
  written_ += bytes.size();
  return {};
}

}  // namespace airlock
