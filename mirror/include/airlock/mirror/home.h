// The online side's home and its commands: one method per command of
// airlock-mirror, each returning a value the program prints as text or JSON
// (mirror/output.h).
//
//   <home>/mirror.toml  keys/NAME.key keys/NAME.pub keys/log.key keys/log.pub
//          store/  log/  work/<repo>/ (partial downloads, kept for resume)
//
// Every state change (keygen, sync, export, cosign) goes through the home's
// ledger: the change and its log record are both made or both absent,
// whatever happens (transfer/ledger.h). Strings from the command line or the
// environment may hold any bytes: they are logged with invalid UTF-8
// escaped. No method throws. A Home is used by one thread at a time.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "airlock/mirror/apt_sync.h"
#include "airlock/mirror/config.h"
#include "airlock/mirror/export.h"
#include "airlock/transfer/bundle_check.h"
#include "airlock/transfer/home.h"
#include "airlock/transfer/snapshot_view.h"

namespace airlock::mirror {

struct InitReport {
  std::filesystem::path home;     // absolute
  std::filesystem::path config;   // mirror.toml
  std::filesystem::path log_pub;  // keys/log.pub
  bool new_config = false;        // the template was written
  bool new_key = false;           // the log key pair was made
};

struct KeyReport {
  std::string name;
  std::filesystem::path key_file, public_file;
  KeyId keyid;
};

struct SyncRequest {
  Fetcher* fetcher = nullptr;  // required; must outlive the call
  int jobs = 8;                // parallel downloads, 1-64
  bool dry_run = false;
  TimePoint now{};
  std::string operator_name;
  std::function<void(const std::string& repo, const std::string& phase, const FetchProgress&)>
      progress;
};

// One repository's sync: its report or why it failed.
struct RepoSync {
  std::string repo;
  Result<SyncReport> report;
};

struct DiffReport {
  Digest from, to;
  RepoChanges changes;  // of `to` against `from`, with the sizes of `to`'s packages
};

struct SignReport {
  std::filesystem::path bundle;
  KeyId keyid;
  Digest manifest_sha256;
  std::vector<KeyId> signers_before;  // who had signed already
  bool logged = false;                // a `cosign` record was written (signed in a home)
  BundleReview review;                // what the signer approved
};

// What `config check` found: every problem of mirror.toml (as
// MirrorConfig::read finds them) and of what it names, by file and line.
struct ConfigCheck {
  std::vector<ConfigProblem> problems;  // errors and warnings
  std::size_t repositories = 0;         // configured without a problem
  std::size_t signing_keys = 0;         // bundle signing keys in keys/ that load
  // No problem but warnings: the configuration works.
  bool ok() const;
};

// Decides, having seen the review, whether to sign: an error (refused, with
// the reason) means no.
using SignApproval = std::function<Status(const BundleReview&)>;

class Home : public HomeBase {
 public:
  // Creates the layout (mirror.toml template, work/, store, log, log key
  // pair, an `init` record), keeping whatever exists. invalid_input for an
  // empty dir.
  static Result<InitReport> init(const std::filesystem::path& dir, const std::string& operator_name,
                                 HomeOptions options = {});
  // True when dir holds a mirror home (mirror.toml and the log key).
  static bool is_home(const std::filesystem::path& dir);
  // not_found naming `airlock-mirror init` when dir is not a mirror home;
  // invalid_input when dir is empty. Finishes what a dead process left.
  static Result<std::unique_ptr<Home>> open(const std::filesystem::path& dir,
                                            HomeOptions options = {});

  std::filesystem::path config_file() const { return dir() / "mirror.toml"; }
  std::filesystem::path work_dir() const { return dir() / "work"; }

  Result<MirrorConfig> config() const;
  // check_config(dir()).
  Result<ConfigCheck> check_config() const;

  // A new Ed25519 bundle signing key: keys/NAME.pub, then keys/NAME.key
  // (0600, written atomically: the commit point), with a `keygen` record.
  // invalid_input for a name other than 1-64 of A-Z a-z 0-9 . _ - (not
  // starting with '.', not "log"); refused when keys/NAME.key exists (checked
  // under the change lock: an existing key is never replaced). A NAME.pub
  // left without its key by an interrupted keygen is replaced.
  Result<KeyReport> keygen(const std::string& name, const ChangeInfo& who);
  // A signing key by name (keys/NAME.key) or by path; not_found naming both.
  Result<PrivateKey> load_key(const std::string& name_or_path) const;
  // The names of the signing keys in keys/ (all but the log key), sorted.
  std::vector<std::string> key_names() const;

  // Syncs the named repositories (every configured one when repos is
  // empty), one result each, in order; a failing repository does not stop
  // the others. The call itself fails only when nothing can be synced:
  // invalid_input for an unknown name or bad request, not_found when none
  // is configured, the config's error when it does not load.
  Result<std::vector<RepoSync>> sync(const std::vector<std::string>& repos,
                                     const SyncRequest& request);
  // Recorded snapshots, oldest first; only repo's when it is not empty.
  Result<std::vector<SnapshotInfo>> snapshots(const std::string& repo = {}) const;
  // One snapshot (id or unique prefix of 6+ digits) as `snapshots show`
  // shows it, with an rpm snapshot's advisories.
  Result<SnapshotView> snapshot(const std::string& id) const;
  // Package changes from snapshot a to b (ids or unique prefixes of 6+ digits).
  Result<DiffReport> diff(const std::string& a, const std::string& b) const;
  // The stream's next bundle (see export.h), signed by options.keys.
  // invalid_input when no key is named and keys/ does not hold exactly one.
  Result<ExportSummary> export_stream(const ExportOptions& options);
  // Co-signing is a review: first the bundle is checked completely (every
  // existing signature against the keys in keys/, every volume, every
  // object against the manifest; see review_bundle), then approve sees the
  // review (the package changes and the signers), and only on its yes is
  // key's signature added to manifest.sig.json, written through the ledger
  // with a `cosign` record {bundle, keyid, manifest, operator}. refused when
  // the bundle does not check out, when key already signed, or when not
  // approved; nothing is written then.
  Result<SignReport> sign(const std::filesystem::path& bundle_dir, const PrivateKey& key,
                          const ChangeInfo& who, const SignApproval& approve);

 private:
  Home() = default;
};

// Checks a mirror home's configuration without opening its store: every
// problem of mirror.toml, then for each repository that reads what reading
// cannot tell — its keyring exists, is readable and holds an OpenPGP public
// key not expired or revoked (as `gpg --show-keys` lists it); no upstream
// (kind, url and, for apt, a suite) is configured twice with the same
// selection (an error) or another one (a warning) — and every key pair in
// keys/ loads (NAME.key 0600 and the NAME.pub of the same key). Fails only
// when the check cannot run: not_found when dir is not a mirror home, io
// when mirror.toml cannot be read or gpg cannot be run.
Result<ConfigCheck> check_config(const std::filesystem::path& dir);
// The check as JSON: {ok, repositories, signing_keys, problems: [{file,
// line, column?, repo, entry?, key, message, severity, text}]}; as text, one
// line a problem (ConfigProblem::text) and, when ok, "ok: N repositories, M
// signing keys".
nlohmann::json to_json(const ConfigCheck& check);
void print_config_check(std::ostream& out, const ConfigCheck& check);

// A signing key by path, or by name in keys_dir (when not empty).
Result<PrivateKey> load_signing_key(const std::filesystem::path& keys_dir,
                                    const std::string& name_or_path);

// Co-signs a bundle without a home: the same review as Home::sign (the
// existing signatures judged against the .pub files beside the key file),
// the file replaced atomically, nothing logged.
Result<SignReport> sign_bundle(const std::filesystem::path& bundle_dir, const PrivateKey& key,
                               const std::filesystem::path& key_dir, const SignApproval& approve,
                               Env& env = Env::system());

}  // namespace airlock::mirror
