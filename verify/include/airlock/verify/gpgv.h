// Checking an upstream's OpenPGP signature exactly as apt's Signed-By does:
// gpgv with one keyring, a fixed argv, and only VALIDSIG/GOODSIG from a key
// in that keyring counting.
#pragma once

#include <filesystem>
#include <string>

#include "airlock/base/error.h"

namespace airlock {

// A good signature as gpgv reported it.
struct GpgvSignature {
  std::string text;  // the signed text (clearsigned files only)
  // The fingerprint (40 uppercase hex) of the primary key whose key made the
  // signature, from gpgv's VALIDSIG status line: what
  // `gpg --with-colons --show-keys` lists as the key's first `fpr`.
  std::string fingerprint;
};

// Verifies a clearsigned file (InRelease) and returns the signed text, as
// gpgv extracted it, with the signing key's fingerprint. refused when no good
// signature by a key in keyring. workdir is a scratch directory the caller owns.
Result<GpgvSignature> gpgv_check_clearsigned(const std::filesystem::path& keyring,
                                             const std::filesystem::path& file,
                                             const std::filesystem::path& workdir);
// The signed text only.
Result<std::string> gpgv_clearsigned(const std::filesystem::path& keyring,
                                     const std::filesystem::path& file,
                                     const std::filesystem::path& workdir);

// Verifies a detached signature (Release.gpg over Release); returns the
// signing key's fingerprint (text empty).
Result<GpgvSignature> gpgv_check_detached(const std::filesystem::path& keyring,
                                          const std::filesystem::path& signature,
                                          const std::filesystem::path& data,
                                          const std::filesystem::path& workdir);
Status gpgv_detached(const std::filesystem::path& keyring, const std::filesystem::path& signature,
                     const std::filesystem::path& data, const std::filesystem::path& workdir);

}  // namespace airlock
