// The isolated side's home and its commands: one method per command of
// airlock-repo, each returning a value the program prints as text or JSON.
//
//   <home>/trust.json  keys/log.key keys/log.pub  store/  log/  staging/  ca/
//
// Every state change (trust, access, site CA, import accepted or refused, publish,
// promote, rollback, channel delete, scrub) goes through the home's ledger: the change and its log
// record are both made or both absent, whatever happens (transfer/ledger.h).
// Strings from the command line or from bundles may hold any bytes: they are
// logged with invalid UTF-8 escaped. No method throws.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "airlock/repo/access.h"
#include "airlock/repo/channels.h"
#include "airlock/repo/config_check.h"
#include "airlock/repo/import.h"
#include "airlock/repo/report.h"
#include "airlock/repo/server.h"
#include "airlock/repo/site_ca.h"
#include "airlock/repo/site_key.h"
#include "airlock/repo/trace.h"
#include "airlock/repo/views.h"
#include "airlock/transfer/home.h"
#include "airlock/verify/trust.h"

namespace airlock::repo {

struct InitReport {
  bool new_trust = false;  // an empty trust policy was written
  bool new_key = false;    // the log key pair was made
  bool new_site_key = false;
  bool new_settings = false;  // repo.toml was written from its template
  std::string site_key;       // the site key's fingerprint
};

struct TrustKeySpec {
  std::filesystem::path public_key;  // PEM file
  std::string name;                  // empty: the file's stem
  std::optional<TimePoint> not_before, not_after;
};

struct TrustReport {
  std::string action;  // add, remove, threshold
  TrustPolicy policy;  // as it is now
  // The threshold is higher than the number of keys: nothing can be imported.
  bool unreachable_threshold = false;
  // The key added or removed (add, remove): its name and key id.
  std::string key_name;
  std::optional<KeyId> key_id;
};

struct AccessReport {
  std::string action;   // add, remove
  AccessRule rule;      // the rule added or removed
  AccessPolicy policy;  // as it is now
};

struct StatusReport {
  std::vector<StreamHead> streams;
  std::vector<ChannelEntry> channels;
  std::uint64_t objects = 0, bytes = 0;
  std::uint64_t log_records = 0;
  Digest log_root;
  std::optional<std::uint64_t> last_checkpoint;
};

class Home : public HomeBase {
 public:
  // Creates the layout (an empty trust policy, the settings template, store, log, log key pair and
  // an `init` record, the OpenPGP site key and its `site-key` record),
  // keeping whatever exists.
  static Result<InitReport> init(const std::filesystem::path& dir, const std::string& operator_name,
                                 HomeOptions options = {});
  // not_found naming `airlock-repo init` when dir is not a repository home;
  // invalid_input when dir is empty.
  static Result<std::unique_ptr<Home>> open(const std::filesystem::path& dir,
                                            HomeOptions options = {});

  std::filesystem::path trust_file() const { return dir() / "trust.json"; }
  std::filesystem::path staging() const { return dir() / "staging"; }
  std::filesystem::path site_key_dir() const { return dir() / "site" / "gnupg"; }
  // Defaults for serve (repo/settings.h); a home made before it may have none.
  std::filesystem::path settings_file() const { return dir() / "repo.toml"; }
  // The site CA's revocation list (airlock-repo ca), read by serve when it asks
  // for client certificates.
  std::filesystem::path site_crl_file() const { return dir() / "ca" / "crl.pem"; }

  Result<TrustPolicy> trust() const;
  // The OpenPGP key that signs site indices; not_found naming
  // `airlock-repo init` when this home has none.
  Result<SiteKey> site_key() const;
  // refused for a key or name already trusted; not_found for an unknown key.
  Result<TrustReport> trust_add(const TrustKeySpec& key, const ChangeInfo& who);
  Result<TrustReport> trust_remove(const KeyId& key, const ChangeInfo& who);
  // invalid_input unless 1 <= n <= 1000.
  Result<TrustReport> trust_threshold(int n, const ChangeInfo& who);
  // The longest validity (expires - created) a bundle may have; invalid_input
  // unless 1 <= days <= 3650.
  Result<TrustReport> trust_max_validity(int days, const ChangeInfo& who);

  // Who may read which channel (access.h); no rules when there is no file.
  std::filesystem::path access_file() const { return dir() / "access.toml"; }
  Result<AccessPolicy> access() const;
  // Each change rewrites access.toml atomically together with an `access`
  // record (action, rule). Refused as AccessPolicy::add and remove refuse,
  // and invalid_input when access.toml does not read; nothing changes then.
  Result<AccessReport> access_add(AccessRule rule, const ChangeInfo& who);
  Result<AccessReport> access_remove(const std::string& name, const ChangeInfo& who);

  // Verifies and imports a bundle (see import.h). A refusal changes nothing
  // but is itself logged. A --publish channel that is not a valid name
  // (invalid_input), or that does not exist unless options.create
  // (not_found, as for publish), is refused before the bundle is read: a
  // mistake on the command line, not an import, so it is not logged.
  Result<ImportReport> import(const std::vector<std::filesystem::path>& dirs,
                              const ImportOptions& options);

  Result<std::vector<SnapshotInfo>> snapshots() const;
  // The snapshot whose id is id or starts with it (airlock::resolve_snapshot
  // in store.h: a unique prefix of 8 or more hex digits).
  Result<Digest> resolve_snapshot(std::string_view id) const;
  Result<SnapshotView> snapshot(std::string_view id) const;
  // What changed by package from snapshot `from` to `to` (ids or prefixes).
  Result<SnapshotDiff> diff(std::string_view from, std::string_view to) const;

  // Channels. A channel exists while it serves at least one repository.
  // Every method naming a channel that must exist fails with not_found
  // "no channel 'X'" (with "did you mean 'Y'?" for a near name and the
  // existing channels); invalid_input for a name valid_channel_name refuses.
  // A change that would make a new channel (publish, the target of promote,
  // import --publish) is refused that way unless create is set.
  Result<std::vector<ChannelEntry>> channels() const;
  // Points channel/repo at snapshot (a snapshot of repo).
  Result<ChannelEntry> publish(const std::string& repo, const Digest& snapshot,
                               const std::string& channel, const ChangeInfo& who,
                               bool create = false);
  // Copies from's snapshots (all repositories, or only repos) to `to`.
  Result<std::vector<ChannelEntry>> promote(const std::string& from, const std::string& to,
                                            const std::vector<std::string>& repos,
                                            const ChangeInfo& who, bool create = false);
  // Moves each repository of channel (or only repos) one step back; a delete
  // ends the history rollback goes back through.
  Result<std::vector<ChannelEntry>> rollback(const std::string& channel,
                                             const std::vector<std::string>& repos,
                                             const ChangeInfo& who);
  // Removes the channel: every repository it served (returned, with the
  // snapshot it served), one `delete` record each. A server answers 404 for
  // it from its next request; its history stays readable.
  Result<std::vector<ChannelEntry>> delete_channel(const std::string& channel,
                                                   const ChangeInfo& who);
  // Every change of channel (of every channel when empty, by channel),
  // deleted channels included, oldest first: who, when, why, the snapshot
  // before and after and the package diff it made.
  Result<std::vector<ChannelChange>> channel_history(const std::string& channel = {}) const;

  // The chain of custody of one file (see trace.h): FILE, SHA256 or
  // NAME=VERSION. Reads only.
  Result<Trace> trace(std::string_view query) const;

  // The compliance report over a period (see report.h), with the log
  // verified against keys/log.pub: a log that fails verification gives a
  // report that says so (integrity.verified false). Reads only.
  Result<Report> report(const ReportOptions& options) const;

  // The site CA (site_ca.h). Each change is logged as a `ca` record per
  // certificate. init: conflict when a CA exists; invalid_input for days
  // outside 1-36500. issue: not_found before init; invalid_input for a bad
  // host or days. revoke: not_found for a host with no certificate, conflict
  // when all of its certificates are revoked already. crl: signs the CRL
  // anew (a new number, the same entries) before it expires.
  std::filesystem::path ca_dir() const { return dir() / "ca"; }
  Result<CaReport> ca_init(const CaInitOptions& options, const ChangeInfo& who);
  Result<CaReport> ca_issue(const CaIssueOptions& options, const ChangeInfo& who);
  Result<CaReport> ca_revoke(const std::string& host, const ChangeInfo& who);
  Result<CaReport> ca_crl(const ChangeInfo& who);
  // Every certificate issued, oldest first.
  Result<std::vector<CaCertificate>> ca_list() const;

  // Serves hosts until SIGTERM or SIGINT (see server.h).
  Status serve(const ServeOptions& options);
  // Re-hashes every object; logged.
  Result<ScrubReport> scrub(const ChangeInfo& who);
  Result<StatusReport> status() const;
  // Checks the configuration files (config_check.h), reading only, each by
  // the loader that uses it: trust.json (as import reads it; then a
  // threshold of at most the keys, and of the keys valid at now; names of
  // printable text; keys expired or not yet valid are warnings), repo.toml
  // (as serve reads it; then the listen addresses parse, the TLS settings go
  // together as serve requires, each file is readable and the key belongs to
  // the certificate), access.toml (as serve reads it; a rule naming a
  // channel or repository nothing serves yet is a warning) and the site CA
  // (ca.key and ca.crt both there and a pair). Every problem is a value;
  // the call fails only when the store cannot be read.
  Result<ConfigCheck> check_config(TimePoint now) const;

 private:
  Home() = default;
  Result<TrustReport> change_trust(const std::string& action, TrustPolicy policy,
                                   nlohmann::json record, const ChangeInfo& who);
  Result<AccessReport> change_access(const std::string& name, const AccessRule* added,
                                     const ChangeInfo& who);
};

}  // namespace airlock::repo
