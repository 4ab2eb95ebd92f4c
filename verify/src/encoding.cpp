#include "airlock/verify/encoding.h"

#include <openssl/evp.h>

namespace airlock {

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  auto bad = [&] { return fail(Code::invalid_input, "not valid base64"); };
  if (text.size() % 4 != 0) return bad();
  std::size_t pad = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/';
    if (c == '=') {
      ++pad;
      if (i + 2 < text.size()) return bad();  // padding only in the last two places
    } else if (!alpha || pad > 0) {
      return bad();
    }
  }
  if (pad > 2) return bad();
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return bad();
  out.resize(static_cast<std::size_t>(n) - pad);
  // Reject encodings with stray bits in the last group: only the canonical form is accepted.
  if (base64_encode(out) != text) return bad();
  return out;
}

}  // namespace airlock
