#include "airlock/repo/home.h"

#include <unistd.h>

#include <future>
#include <nlohmann/json.hpp>

#include "airlock/base/file.h"
#include "airlock/base/text.h"
#include "airlock/repo/settings.h"

namespace airlock::repo {
namespace fs = std::filesystem;
using json = nlohmann::json;

Result<InitReport> Home::init(const fs::path& dir, const std::string& operator_name,
                              HomeOptions options) {
  if (dir.empty()) return fail(Code::invalid_input, "no home: pass --home DIR or set AIRLOCK_HOME");
  Env& env = options.env ? *options.env : Env::system();
  InitReport report;
  for (const auto& d : {dir, dir / "staging"}) {
    if (auto s = env.make_dirs(d); !s) return fail(s.error());
  }
  if (!path_exists(dir / "trust.json")) {
    if (auto s = TrustPolicy{}.save(dir / "trust.json", env); !s) return fail(s.error());
    report.new_trust = true;
  }
  if (!path_exists(dir / "repo.toml")) {
    if (auto s = env.write_file_atomic(dir / "repo.toml", settings_template(), 0644); !s)
      return fail(s.error());
    report.new_settings = true;
  }
  auto key = init_common(dir, "high", operator_name, env);
  if (!key) return fail(key.error());
  report.new_key = *key;
  const fs::path site = dir / "site" / "gnupg";
  if (!path_exists(site)) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = 0;
    const std::string name = escape_invalid_utf8(host[0] ? host : "isolated side");
    auto made = SiteKey::create(site, "airlock site key (" + name + ")", env);
    if (!made) return fail(made.error());
    report.new_site_key = true;
    auto home = open(dir, options);
    if (!home) return fail(home.error());
    json rec{{"action", "created"},
             {"fingerprint", made->fingerprint()},
             {"uid", made->uid()},
             {"operator", operator_name}};
    if (auto s = (*home)->ledger().record({{"site-key", std::move(rec)}}); !s)
      return fail(s.error());
  }
  auto site_key = SiteKey::open(site);
  if (!site_key) return fail(site_key.error());
  report.site_key = site_key->fingerprint();
  return report;
}

Result<SiteKey> Home::site_key() const {
  auto key = SiteKey::open(site_key_dir());
  if (!key && key.error().code == Code::not_found) {
    return fail(Code::not_found, "this home has no site key (run 'airlock-repo --home " +
                                     dir().string() + " init' to make one)");
  }
  return key;
}

Result<std::unique_ptr<Home>> Home::open(const fs::path& dir, HomeOptions options) {
  if (dir.empty()) return fail(Code::invalid_input, "no home: pass --home DIR or set AIRLOCK_HOME");
  if (!path_exists(dir / "trust.json") || !path_exists(dir / "keys" / "log.key")) {
    return fail(Code::not_found, "no repository home at " + dir.string() +
                                     " (run 'airlock-repo --home " + dir.string() + " init')");
  }
  std::unique_ptr<Home> home(new Home());
  if (auto s = home->open_common(dir, options); !s) return fail(s.error());
  return home;
}

Result<TrustPolicy> Home::trust() const { return TrustPolicy::load(trust_file()); }

Result<TrustReport> Home::change_trust(const std::string& action, TrustPolicy policy, json record,
                                       const ChangeInfo& who) {
  record.update(who.fields());
  record["action"] = action;
  auto change = ledger().begin();
  if (!change) return fail(change.error());
  auto s = change->commit_files({{trust_file(), policy.to_json(), 0644, false}},
                                {{"trust", std::move(record)}});
  if (!s) return fail(s.error());
  TrustReport report;
  report.action = action;
  report.policy = std::move(policy);
  report.unreachable_threshold =
      !report.policy.keys.empty() &&
      report.policy.threshold > static_cast<int>(report.policy.keys.size());
  return report;
}

Result<TrustReport> Home::trust_add(const TrustKeySpec& spec, const ChangeInfo& who) {
  auto policy = trust();
  if (!policy) return fail(policy.error());
  auto pub = PublicKey::read_file(spec.public_key);
  if (!pub) return fail(pub.error());
  // Names are shown to operators and auditors: kept as valid text.
  const std::string name =
      escape_invalid_utf8(spec.name.empty() ? spec.public_key.stem().string() : spec.name);
  if (auto s = policy->add({name, *pub, spec.not_before, spec.not_after}); !s)
    return fail(s.error());
  auto r =
      change_trust("add", std::move(*policy), {{"name", name}, {"keyid", pub->id().hex()}}, who);
  if (r) r->key_name = name, r->key_id = pub->id();
  return r;
}

Result<TrustReport> Home::trust_remove(const KeyId& id, const ChangeInfo& who) {
  auto policy = trust();
  if (!policy) return fail(policy.error());
  json rec{{"keyid", id.hex()}};
  std::string name;
  if (const auto* k = policy->find(id)) rec["name"] = name = k->name;
  if (auto s = policy->remove(id); !s) return fail(s.error());
  auto r = change_trust("remove", std::move(*policy), std::move(rec), who);
  if (r) r->key_name = name, r->key_id = id;
  return r;
}

Result<TrustReport> Home::trust_threshold(int n, const ChangeInfo& who) {
  if (n < 1 || n > 1000) return fail(Code::invalid_input, "the threshold must be from 1 to 1000");
  auto policy = trust();
  if (!policy) return fail(policy.error());
  json rec{{"from", policy->threshold}, {"threshold", n}};
  policy->threshold = n;
  return change_trust("threshold", std::move(*policy), std::move(rec), who);
}

Result<TrustReport> Home::trust_max_validity(int days, const ChangeInfo& who) {
  if (days < 1 || days > 3650)
    return fail(Code::invalid_input, "the maximum validity must be from 1 to 3650 days");
  auto policy = trust();
  if (!policy) return fail(policy.error());
  json rec{{"from", policy->max_validity_days}, {"max_validity_days", days}};
  policy->max_validity_days = days;
  return change_trust("max-validity", std::move(*policy), std::move(rec), who);
}

Result<std::vector<SnapshotInfo>> Home::snapshots() const { return store().list_snapshots(); }

Result<ScrubReport> Home::scrub(const ChangeInfo& who) {
  auto report = store().scrub();
  if (!report) return fail(report.error());
  json rec = who.fields();
  rec.update({{"checked", report->checked},
              {"bytes", report->bytes},
              {"missing", report->missing.size()},
              {"corrupt", report->corrupt.size()}});
  if (auto s = ledger().record({{"scrub", std::move(rec)}}); !s) return fail(s.error());
  return report;
}

Result<Trace> Home::trace(std::string_view query) const {
  return build_trace(store(), log(), query);
}

Result<Report> Home::report(const ReportOptions& options) const {
  if (auto s = log().refresh(); !s) return fail(s.error());
  // The verification reads the log file on its own: it runs beside the report's walk.
  auto verifying = std::async(std::launch::async, [this] {
    ReportIntegrity integrity;
    auto pub = PublicKey::read_file(keys_dir() / "log.pub");
    if (pub) integrity.log_key = pub->id().hex();
    auto verified = verify_log();
    if (verified) {
      integrity.verified = std::move(*verified);
    } else {
      integrity.failure = verified.error().message;
    }
    return integrity;
  });
  return build_report(
      store(), log(), [&] { return verifying.get(); }, options);
}

Result<StatusReport> Home::status() const {
  StatusReport out;
  auto heads = stream_heads(store());
  if (!heads) return fail(heads.error());
  out.streams = std::move(*heads);
  auto channels = list_channels(store());
  if (!channels) return fail(channels.error());
  out.channels = std::move(*channels);
  auto objects = store().list_objects();
  if (!objects) return fail(objects.error());
  out.objects = objects->size();
  for (const auto& o : *objects) out.bytes += o.size;
  if (auto s = log().refresh(); !s) return fail(s.error());
  out.log_records = log().size();
  out.log_root = log().root();
  if (auto cp = log().latest_checkpoint()) out.last_checkpoint = cp->first;
  return out;
}

}  // namespace airlock::repo
