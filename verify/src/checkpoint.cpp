#include "airlock/verify/checkpoint.h"

#include <charconv>
#include <vector>

#include "airlock/verify/encoding.h"

namespace airlock {
namespace {

constexpr std::string_view kDash = "\xE2\x80\x94 ";  // "— ", U+2014 and a space
constexpr std::uint8_t kEd25519Type = 0x01;
constexpr std::size_t kMaxNote = 64 * 1024;

bool valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  for (char c : name) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '+') return false;
  }
  return true;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

Result<Checkpoint> parse_body(std::string_view body) {
  auto bad = [](std::string what) { return fail(Code::invalid_input, "checkpoint: " + what); };
  auto lines = split_lines(body);
  if (lines.size() < 3) return bad("needs origin, tree size and root hash lines");
  Checkpoint cp;
  cp.origin = std::string(lines[0]);
  if (cp.origin.empty()) return bad("empty origin");
  auto size_text = lines[1];
  if (size_text.empty() || (size_text.size() > 1 && size_text[0] == '0')) {
    return bad("malformed tree size '" + std::string(size_text) + "'");
  }
  auto [ptr, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), cp.size);
  if (ec != std::errc() || ptr != size_text.data() + size_text.size()) {
    return bad("malformed tree size '" + std::string(size_text) + "'");
  }
  auto root = base64_decode(lines[2]);
  if (!root || root->size() != Digest::kSize) return bad("root hash is not 32 bytes of base64");
  cp.root = *Digest::from_raw(*root);
  return cp;
}

}  // namespace

std::string Checkpoint::body() const {
  return origin + "\n" + std::to_string(size) + "\n" + base64_encode(root.span()) + "\n";
}

std::uint32_t note_key_hash(std::string_view key_name, const PublicKey& key) {
  Hasher h;
  h.update(key_name);
  h.update(std::string_view("\n"));
  h.update(std::span(&kEd25519Type, 1));
  h.update(std::span(key.raw()));
  auto d = h.finish();
  return static_cast<std::uint32_t>(d.bytes()[0]) << 24 | d.bytes()[1] << 16 | d.bytes()[2] << 8 |
         d.bytes()[3];
}

Result<std::string> sign_checkpoint(const Checkpoint& checkpoint, const PrivateKey& key,
                                    std::string_view key_name) {
  if (!valid_key_name(key_name)) {
    return fail(Code::invalid_input, "checkpoint key name must be non-empty without spaces or '+'");
  }
  if (checkpoint.origin.empty() || checkpoint.origin.find('\n') != std::string::npos) {
    return fail(Code::invalid_input, "checkpoint origin must be one non-empty line");
  }
  auto body = checkpoint.body();
  auto sig = key.sign(body);
  if (!sig) return fail(sig.error());
  std::uint32_t kh = note_key_hash(key_name, key.public_key());
  std::vector<std::uint8_t> blob = {
      static_cast<std::uint8_t>(kh >> 24), static_cast<std::uint8_t>(kh >> 16),
      static_cast<std::uint8_t>(kh >> 8), static_cast<std::uint8_t>(kh)};
  blob.insert(blob.end(), sig->begin(), sig->end());
  return body + "\n" + std::string(kDash) + std::string(key_name) + " " + base64_encode(blob) +
         "\n";
}

Result<VerifiedCheckpoint> verify_checkpoint(std::string_view note,
                                             std::span<const PublicKey> keys) {
  auto bad = [](std::string what) { return fail(Code::invalid_input, "checkpoint: " + what); };
  if (note.size() > kMaxNote) return bad("note is larger than 64 KiB");
  if (note.empty() || note.back() != '\n') return bad("note must end with a newline");
  auto sep = note.find("\n\n");
  if (sep == std::string_view::npos) return bad("no blank line before the signatures");
  auto body = note.substr(0, sep + 1);
  auto cp = parse_body(body);
  if (!cp) return fail(cp.error());
  auto sig_lines = split_lines(note.substr(sep + 2));
  if (sig_lines.empty()) return bad("no signature lines");
  for (auto line : sig_lines) {
    if (!line.starts_with(kDash)) return bad("malformed signature line");
    line.remove_prefix(kDash.size());
    auto space = line.find(' ');
    if (space == std::string_view::npos) return bad("malformed signature line");
    auto name = line.substr(0, space);
    auto blob = base64_decode(line.substr(space + 1));
    if (!valid_key_name(name) || !blob || blob->size() < 5) return bad("malformed signature line");
    std::uint32_t kh = static_cast<std::uint32_t>((*blob)[0]) << 24 | (*blob)[1] << 16 |
                       (*blob)[2] << 8 | (*blob)[3];
    for (const auto& key : keys) {
      if (note_key_hash(name, key) != kh) continue;
      auto verdict = key.verify(body, std::span(*blob).subspan(4));
      if (!verdict) return fail(verdict.error());
      if (*verdict == Verdict::valid) return VerifiedCheckpoint{*cp, std::string(name), key.id()};
    }
  }
  return fail(Code::refused, "checkpoint for tree size " + std::to_string(cp->size) +
                                 " has no valid signature by a trusted log key");
}

}  // namespace airlock
