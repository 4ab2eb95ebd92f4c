// Checking a bundle anywhere, writing nothing: every check an import makes,
// in the same order (airlock-verify bundle).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "airlock/transfer/bundle.h"

namespace airlock {

struct BundleCheckOptions {
  // More directories holding volumes (one per disc), after the bundle's own.
  std::vector<std::filesystem::path> volume_dirs;
  // Check only the volumes present in these directories (one disc at a
  // time); objects are not checked then.
  std::vector<std::filesystem::path> volumes_only;
  ProgressFn volumes_progress, objects_progress;
};

struct BundleCheck {
  VerifiedManifest manifest;
  std::uint64_t volume_bytes = 0;
  bool everything = true;                    // false: only the volumes present were checked
  std::vector<std::string> missing_volumes;  // with volumes_only: not in those directories
};

// Signatures (against trust), format and expiry at now, then every volume's
// size and SHA-256, then every object in the archive. The first problem is
// the error (refused, corrupt, limit or invalid_input with one line).
Result<BundleCheck> check_bundle(const std::filesystem::path& dir, const TrustPolicy& trust,
                                 TimePoint now, const BundleCheckOptions& options = {});

// One signature a bundle already holds, judged against the keys known here.
struct SignerStatus {
  enum State { valid, invalid, unknown };
  KeyId keyid;
  std::string name;  // the known key's name; empty when unknown
  State state = unknown;
};

// What a co-signer must see before adding a signature.
struct BundleReview {
  BundleCheck check;                  // the bundle checked completely
  std::vector<SignerStatus> signers;  // who signed it already
};

// Judges every existing signature against known (a signature by a key not
// among them is listed as unknown), then checks the bundle as check_bundle
// does, accepting it whatever its signatures. refused, naming the key, when
// a signature by a known key does not verify: the manifest changed after it
// was signed.
Result<BundleReview> review_bundle(const std::filesystem::path& dir,
                                   const std::vector<TrustedKey>& known, TimePoint now,
                                   const BundleCheckOptions& options = {});

}  // namespace airlock
