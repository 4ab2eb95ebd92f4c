// Transparency-log checkpoints in the C2SP tlog-checkpoint form, signed as
// C2SP signed notes with Ed25519:
//
//   <origin>\n<tree size>\n<base64 root hash>\n\n— <key name> <base64(key hash || signature)>\n
//
// The signature covers the note text (the three body lines, each ending in
// \n). The key hash is the first 4 bytes of SHA-256(name || "\n" || 0x01 ||
// raw public key).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/verify/digest.h"
#include "airlock/verify/ed25519.h"

namespace airlock {

struct Checkpoint {
  std::string origin;
  std::uint64_t size = 0;
  Digest root;

  std::string body() const;
  bool operator==(const Checkpoint&) const = default;
};

// Returns the complete signed note. invalid_input for an unusable origin or key name.
Result<std::string> sign_checkpoint(const Checkpoint& checkpoint, const PrivateKey& key,
                                    std::string_view key_name);

struct VerifiedCheckpoint {
  Checkpoint checkpoint;
  std::string signer;  // key name on the verified signature line
  KeyId key;           // the key whose signature verified
};

// Parses a signed note and accepts it when at least one signature line is a
// valid signature by one of keys. invalid_input for a malformed note, refused
// when no signature by these keys verifies.
Result<VerifiedCheckpoint> verify_checkpoint(std::string_view note,
                                             std::span<const PublicKey> keys);

// The 4-byte signed-note key hash of an Ed25519 key under name.
std::uint32_t note_key_hash(std::string_view key_name, const PublicKey& key);

}  // namespace airlock
