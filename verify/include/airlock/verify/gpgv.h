// Checking an upstream's OpenPGP signature exactly as apt's Signed-By does:
// gpgv with one keyring, a fixed argv, and only VALIDSIG/GOODSIG from a key
// in that keyring counting.
#pragma once

#include <filesystem>
#include <string>

#include "airlock/base/error.h"

namespace airlock {

// Verifies a clearsigned file (InRelease) and returns the signed text, as
// gpgv extracted it. refused when no good signature by a key in keyring.
// workdir is a scratch directory the caller owns.
Result<std::string> gpgv_clearsigned(const std::filesystem::path& keyring,
                                     const std::filesystem::path& file,
                                     const std::filesystem::path& workdir);

// Verifies a detached signature (Release.gpg over Release).
Status gpgv_detached(const std::filesystem::path& keyring, const std::filesystem::path& signature,
                     const std::filesystem::path& data, const std::filesystem::path& workdir);

}  // namespace airlock
