// The isolated side's OpenPGP site key: made with GnuPG by `airlock-repo
// init`, kept in <home>/site/gnupg (0700), used to sign the Release of every
// site index (the index of a repository mirrored with a filter). Only its
// public half ever leaves the home (`airlock-repo site-key export`), for
// hosts' signed-by.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "airlock/base/env.h"
#include "airlock/base/error.h"

namespace airlock::repo {

class SiteKey {
 public:
  // Makes a new Ed25519 signing key in dir (which must not exist), built in a
  // temporary directory beside it and renamed into place: a killed init
  // leaves no half-made key. uid is its user id, e.g.
  // "airlock site key (host) <airlock@host>".
  static Result<SiteKey> create(const std::filesystem::path& dir, const std::string& uid,
                                Env& env = Env::system());
  // not_found when dir holds no secret key.
  static Result<SiteKey> open(const std::filesystem::path& dir);

  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& uid() const { return uid_; }

  // The public key, ASCII-armored (or binary OpenPGP when armor is false).
  Result<std::string> export_public(bool armor = true) const;
  // An InRelease: text clearsigned.
  Result<std::string> clearsign(std::string_view text) const;
  // A Release.gpg: an armored detached signature over text.
  Result<std::string> detach_sign(std::string_view text) const;

 private:
  SiteKey(std::filesystem::path dir, std::string fingerprint, std::string uid)
      : dir_(std::move(dir)), fingerprint_(std::move(fingerprint)), uid_(std::move(uid)) {}
  Result<std::string> sign(std::string_view text, const std::string& mode) const;

  std::filesystem::path dir_;
  std::string fingerprint_;
  std::string uid_;
};

}  // namespace airlock::repo
