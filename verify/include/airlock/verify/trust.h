// The trust policy: which keys may sign bundles, when, and how many must agree.
//
// trust.json: {"threshold": N, "keys": [{"name", "keyid", "public_key" (PEM),
// "not_before"?, "not_after"?}]}. The policy is a value; loading and saving
// are explicit.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/verify/ed25519.h"

namespace airlock {

struct TrustedKey {
  std::string name;
  PublicKey key;
  std::optional<TimePoint> not_before;
  std::optional<TimePoint> not_after;

  bool valid_at(TimePoint now) const;
};

// One signature as it appears in a signatures file: who claims to have signed,
// and the signature bytes (any length; checked before use).
struct SignatureEntry {
  KeyId keyid;
  std::vector<std::uint8_t> sig;
};

struct TrustCheck {
  int threshold = 0;
  std::vector<std::string> signers;  // names of trusted keys whose signature verified
  std::vector<KeyId> signer_keys;    // their key ids, in the same order
  // Each trusted key that did not sign validly, by key id: "bob (key
  // 9f8e7d6c5b4a3210): no signature" / ": signature does not verify" /
  // ": key not valid at <time>".
  std::vector<std::string> problems;
  std::vector<KeyId> untrusted;  // keys not in the policy that signed (not counted)
  bool met() const { return static_cast<int>(signers.size()) >= threshold; }
  // One line for a refusal, naming who signed and whose signature is missing
  // or bad: "1 valid signature of 2 required: alice (key 1a2b3c4d5e6f7a8b)
  // signed; bob (key 9f8e7d6c5b4a3210): no signature".
  std::string summary() const;
};

class TrustPolicy {
 public:
  int threshold = 1;
  // The longest a bundle may be valid (its expires less its created); a
  // longer one is refused. trust.json's "max_validity_days", 1-3650.
  static constexpr int kDefaultMaxValidityDays = 90;
  int max_validity_days = kDefaultMaxValidityDays;
  std::vector<TrustedKey> keys;

  static Result<TrustPolicy> parse(std::string_view json);
  static Result<TrustPolicy> load(const std::filesystem::path& path);
  std::string to_json() const;
  // Replaces path atomically (temp file, fsync, rename).
  Status save(const std::filesystem::path& path, Env& env = Env::system()) const;

  // Adds a key; refuses a duplicate key id or name.
  Status add(TrustedKey key);
  // Removes by key id; not_found when absent.
  Status remove(const KeyId& id);
  const TrustedKey* find(const KeyId& id) const;

  // Counts distinct valid signatures over message by trusted keys that are
  // within their validity window at now. Unknown key ids are ignored; several
  // signatures from one key count once. Only an operational failure is an Error.
  Result<TrustCheck> check(std::string_view message, const std::vector<SignatureEntry>& signatures,
                           TimePoint now) const;
};

}  // namespace airlock
