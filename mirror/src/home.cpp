#include "airlock/mirror/home.h"

#include <algorithm>

#include "airlock/mirror/files_sync.h"
#include "airlock/mirror/rpm_sync.h"
#include "airlock/transfer/changes.h"

namespace airlock::mirror {
namespace fs = std::filesystem;

namespace {

std::unexpected<Error> no_home() {
  return fail(Code::invalid_input, "no home: pass --home DIR or set AIRLOCK_HOME");
}

bool present(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

// The configured repositories named (all of them when names is empty).
Result<std::vector<const RepoConfig*>> choose(const MirrorConfig& config,
                                              const std::vector<std::string>& names,
                                              const fs::path& file) {
  std::vector<const RepoConfig*> out;
  for (const auto& name : names) {
    const auto* r = config.find(name);
    if (!r) return fail(Code::invalid_input, "no repository '" + name + "' in " + file.string());
    out.push_back(r);
  }
  if (names.empty()) {
    for (const auto& r : config.repos) out.push_back(&r);
  }
  if (out.empty()) return fail(Code::not_found, "no repositories configured in " + file.string());
  return out;
}

}  // namespace

Result<InitReport> Home::init(const fs::path& dir, const std::string& operator_name,
                              HomeOptions options) {
  if (dir.empty()) return no_home();
  Env& env = options.env ? *options.env : Env::system();
  for (const auto& d : {dir, dir / "work"}) {
    if (auto s = env.make_dirs(d); !s) return fail(s.error());
  }
  std::error_code ec;
  InitReport report{fs::absolute(dir, ec), dir / "mirror.toml", dir / "keys" / "log.pub", false,
                    false};
  if (ec) report.home = dir;
  if (!present(report.config)) {
    if (auto s = env.write_file_atomic(report.config, config_template()); !s)
      return fail(s.error());
    report.new_config = true;
  }
  auto key = init_common(dir, "low", operator_name, env);
  if (!key) return fail(key.error());
  report.new_key = *key;
  return report;
}

bool Home::is_home(const fs::path& dir) {
  return !dir.empty() && present(dir / "mirror.toml") && present(dir / "keys" / "log.key");
}

Result<std::unique_ptr<Home>> Home::open(const fs::path& dir, HomeOptions options) {
  if (dir.empty()) return no_home();
  if (!is_home(dir)) {
    return fail(Code::not_found, "no mirror home at " + dir.string() +
                                     " (run 'airlock-mirror --home " + dir.string() + " init')");
  }
  std::unique_ptr<Home> home(new Home());
  if (auto s = home->open_common(dir, options); !s) return fail(s.error());
  return home;
}

Result<MirrorConfig> Home::config() const { return MirrorConfig::load(config_file()); }

Result<std::vector<RepoSync>> Home::sync(const std::vector<std::string>& repos,
                                         const SyncRequest& request) {
  if (!request.fetcher) return fail(Code::invalid_input, "sync needs a fetcher");
  if (request.jobs < 1 || request.jobs > 64)
    return fail(Code::invalid_input, "--jobs must be from 1 to 64");
  auto config = this->config();
  if (!config) return fail(config.error());
  auto chosen = choose(*config, repos, config_file());
  if (!chosen) return fail(chosen.error());
  std::vector<RepoSync> out;
  for (const auto* repo : *chosen) {
    SyncOptions opt;
    opt.fetcher = request.fetcher;
    opt.jobs = request.jobs;
    opt.dry_run = request.dry_run;
    opt.now = request.now;
    opt.workdir = work_dir() / repo->name;
    opt.operator_name = request.operator_name;
    if (request.progress) {
      opt.progress = [&](const std::string& phase, const FetchProgress& p) {
        request.progress(repo->name, phase, p);
      };
    }
    out.push_back({repo->name, repo->kind == "rpm"     ? sync_rpm(*repo, ledger(), opt)
                               : repo->kind == "files" ? sync_files(*repo, ledger(), opt)
                                                       : sync_apt(*repo, ledger(), opt)});
  }
  return out;
}

Result<std::vector<SnapshotInfo>> Home::snapshots(const std::string& repo) const {
  auto list = store().list_snapshots();
  if (!list) return fail(list.error());
  if (!repo.empty()) std::erase_if(*list, [&](const SnapshotInfo& s) { return s.repo != repo; });
  return list;
}

Result<SnapshotView> Home::snapshot(const std::string& id) const {
  auto resolved = resolve_snapshot(store(), id);
  if (!resolved) return fail(resolved.error());
  return load_snapshot_view(store(), *resolved);
}

Result<DiffReport> Home::diff(const std::string& a, const std::string& b) const {
  DiffReport out;
  std::optional<Snapshot> sides[2];
  for (int i = 0; i < 2; ++i) {
    auto id = resolve_snapshot(store(), i == 0 ? a : b);
    if (!id) return fail(id.error());
    (i == 0 ? out.from : out.to) = *id;
    auto snap = store().get_snapshot(*id);
    if (!snap) return fail(snap.error());
    sides[i] = std::move(*snap);
  }
  out.changes = package_changes(sides[1]->repo, &*sides[0], &*sides[1]);
  return out;
}

}  // namespace airlock::mirror
