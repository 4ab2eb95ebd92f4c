// airlock-mirror: the online (low) side. Syncs upstream repositories into a
// content-addressed store, records snapshots, exports signed bundles.
#include <pwd.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "airlock/mirror/apt_sync.h"
#include "airlock/mirror/config.h"
#include "airlock/mirror/export.h"
#include "airlock/base/cli.h"
#include "airlock/base/env.h"
#include "airlock/base/file.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace airlock;
using namespace airlock::cli;
namespace {
int report_error(std::string_view program, const Error& e) {
  std::cerr << program << ": " << e.message << "\n";
  return exit_code(e);
}
bool progress_enabled(bool quiet) { return !quiet && ::isatty(2) == 1; }
}  // namespace
using namespace airlock::mirror;

namespace {

constexpr std::string_view kProgram = "airlock-mirror";

const char* kUsage = R"(usage: airlock-mirror [--home DIR] COMMAND [options]

The online side of airlock: mirror upstream repositories, record snapshots,
export signed bundles onto removable media.

commands:
  init                      create the home: mirror.toml template, store, log, log key
  keygen NAME               create a bundle signing key keys/NAME.key (+ NAME.pub)
  sync [REPO...]            fetch and verify upstream metadata and packages, record snapshots
  snapshots [REPO]          list recorded snapshots
  diff SNAP_A SNAP_B        packages added, upgraded and removed between two snapshots
  export --stream S --out MEDIA
                            write the stream's next signed bundle onto MEDIA
  sign --key K BUNDLE_DIR   add a co-signature to an exported bundle
  log show|verify           print or check this home's transfer log

global options:
  --home DIR                the mirror's home (default: $AIRLOCK_HOME)
  -q, --quiet               no progress display
  -h, --help                this help; 'airlock-mirror COMMAND --help' for a command

examples:
  airlock-mirror --home /srv/airlock-low init
  airlock-mirror --home /srv/airlock-low keygen alice
  airlock-mirror --home /srv/airlock-low sync
  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/usb --key alice

Exit codes: 0 success, 1 operational error, 2 usage, 3 verification refused.
)";

struct Global {
  fs::path home;
  bool quiet = false;
};

int usage_error(const std::string& message) {
  std::cerr << kProgram << ": " << message << "\n(run 'airlock-mirror --help')\n";
  return 2;
}

int error(const Error& e) { return report_error(kProgram, e); }

struct Command {
  po::options_description opts;
  po::positional_options_description pos;
  explicit Command(const char* help) : opts(help) { opts.add_options()("help,h", "show this help"); }
  po::variables_map parse(const std::vector<std::string>& args) {
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    po::notify(vm);
    return vm;
  }
};

struct Home {
  fs::path dir;
  fs::path config() const { return dir / "mirror.toml"; }
  fs::path keys() const { return dir / "keys"; }
  fs::path log_file() const { return dir / "log" / "transfer.jsonl"; }
  fs::path work() const { return dir / "work"; }

  Status require() const {
    if (dir.empty()) return fail(Code::invalid_input, "no home: pass --home DIR or set AIRLOCK_HOME");
    if (!fs::exists(config())) {
      return fail(Code::not_found, "no mirror home at " + dir.string() + " (run 'airlock-mirror --home " +
                                       dir.string() + " init')");
    }
    return {};
  }
  Result<std::unique_ptr<Store>> store() const { return Store::open(dir / "store"); }
  Result<std::unique_ptr<TransferLog>> log() const { return TransferLog::open(log_file()); }
  Result<PrivateKey> log_key() const { return PrivateKey::read_file(keys() / "log.key"); }
};

// A key given by name (keys/NAME.key in the home) or by path.
Result<PrivateKey> load_key(const Home& home, const std::string& k) {
  fs::path p = k;
  if (!fs::exists(p) && !home.dir.empty()) p = home.keys() / (k + ".key");
  if (!fs::exists(p)) return fail(Code::not_found, "no key '" + k + "' (looked for " + p.string() + ")");
  return PrivateKey::read_file(p);
}

Result<std::chrono::seconds> airlock_parse_duration(const std::string& text) {
  if (text.size() < 2) return fail(Code::invalid_input, "'" + text + "' is not a duration like 30d or 12h");
  std::uint64_t n = 0;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return fail(Code::invalid_input, "'" + text + "' is not a duration like 30d or 12h");
    n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
  }
  switch (text.back()) {
    case 'd': return std::chrono::seconds(n * 86400);
    case 'h': return std::chrono::seconds(n * 3600);
    case 'm': return std::chrono::seconds(n * 60);
    default: return fail(Code::invalid_input, "'" + text + "' is not a duration like 30d or 12h");
  }
}

std::string short_id(const Digest& d) { return d.hex().substr(0, 12); }

// --- init / keygen ---------------------------------------------------------

int cmd_init(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror --home DIR init

Creates the home: mirror.toml (a commented template to edit), the store, the
transfer log and its signing key keys/log.key. Safe to run again: nothing
that exists is overwritten.

example:
  airlock-mirror --home /srv/airlock-low init

options)");
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  if (g.home.empty()) return usage_error("init: pass --home DIR or set AIRLOCK_HOME");
  Home home{g.home};
  for (const auto& d : {home.dir, home.keys(), home.dir / "log", home.work()}) {
    if (auto s = make_dirs(d); !s) return error(s.error());
  }
  bool wrote_config = false;
  if (!fs::exists(home.config())) {
    if (auto s = Env::system().write_file_atomic(home.config(), config_template()); !s) return error(s.error());
    wrote_config = true;
  }
  auto store = home.store();
  if (!store) return error(store.error());
  bool new_key = false;
  if (!fs::exists(home.keys() / "log.key")) {
    auto key = PrivateKey::generate();
    if (!key) return error(key.error());
    if (auto s = key->write_file(home.keys() / "log.key"); !s) return error(s.error());
    if (auto s = key->public_key().write_file(home.keys() / "log.pub"); !s) return error(s.error());
    new_key = true;
  }
  auto log = home.log();
  if (!log) return error(log.error());
  if (new_key) {
    auto key = home.log_key();
    if (!key) return error(key.error());
    json rec{{"side", "low"}, {"operator", operator_name()}, {"log_key", key->public_key().id().hex()}};
    if (auto n = (*log)->append("init", rec.dump()); !n) return error(n.error());
    if (auto cp = (*log)->checkpoint(*key); !cp) return error(cp.error());
  }
  std::cout << "home     " << fs::absolute(home.dir).string() << "\n";
  std::cout << "config   " << home.config().string() << (wrote_config ? " (template: add your [[repo]] tables)" : " (kept)") << "\n";
  std::cout << "log key  " << (home.keys() / "log.pub").string() << (new_key ? " (new)" : " (kept)") << "\n";
  return 0;
}

int cmd_keygen(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror --home DIR keygen NAME

Creates an Ed25519 bundle signing key: keys/NAME.key (mode 0600) and
keys/NAME.pub. Give NAME.pub to the isolated side ('airlock-repo trust add').

example:
  airlock-mirror --home /srv/airlock-low keygen alice

options)");
  c.opts.add_options()("name", po::value<std::string>(), "key name");
  c.pos.add("name", 1);
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  if (!vm.count("name")) return usage_error("keygen: missing NAME");
  Home home{g.home};
  if (auto s = home.require(); !s) return error(s.error());
  auto name = vm["name"].as<std::string>();
  if (name.empty() || name == "log" || name.find_first_of("/ \t") != std::string::npos) {
    return usage_error("keygen: NAME must be a simple name other than 'log'");
  }
  auto key = PrivateKey::generate();
  if (!key) return error(key.error());
  if (auto s = key->write_file(home.keys() / (name + ".key")); !s) return error(s.error());
  if (auto s = key->public_key().write_file(home.keys() / (name + ".pub")); !s) return error(s.error());
  auto log = home.log();
  if (!log) return error(log.error());
  json rec{{"name", name}, {"keyid", key->public_key().id().hex()}, {"operator", operator_name()}};
  if (auto n = (*log)->append("keygen", rec.dump()); !n) return error(n.error());
  if (auto s = (*log)->sync(); !s) return error(s.error());
  std::cout << "key      " << (home.keys() / (name + ".key")).string() << "\n";
  std::cout << "public   " << (home.keys() / (name + ".pub")).string() << "\n";
  std::cout << "key id   " << key->public_key().id().hex() << "\n";
  return 0;
}

// --- sync ------------------------------------------------------------------

int cmd_sync(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror --home DIR sync [REPO...] [--dry-run] [--jobs N]

Fetches each repository's signed metadata (InRelease, or Release and
Release.gpg), checks it with gpgv against the configured keyring, refuses
expired or rolled-back metadata, fetches the index files and the selected
pool files (each checked against the SHA-256 in the verified index) and
records one snapshot per repository. Files already in the store are not
fetched again; an unchanged upstream costs one conditional request per suite.
A sync that fails keeps what it verified and resumes next time.

examples:
  airlock-mirror --home /srv/airlock-low sync
  airlock-mirror --home /srv/airlock-low sync debian-security --jobs 16
  airlock-mirror --home /srv/airlock-low sync --dry-run

options)");
  c.opts.add_options()("repo", po::value<std::vector<std::string>>(), "repositories (default: all)")(
      "dry-run", "show what would be fetched; store nothing")(
      "jobs", po::value<int>()->default_value(8), "parallel downloads")("json", "print the result as JSON");
  c.pos.add("repo", -1);
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  Home home{g.home};
  if (auto s = home.require(); !s) return error(s.error());
  auto config = MirrorConfig::load(home.config());
  if (!config) return error(config.error());
  std::vector<const RepoConfig*> repos;
  if (vm.count("repo")) {
    for (const auto& name : vm["repo"].as<std::vector<std::string>>()) {
      auto* r = config->find(name);
      if (!r) return usage_error("sync: no repository '" + name + "' in " + home.config().string());
      repos.push_back(r);
    }
  } else {
    for (const auto& r : config->repos) repos.push_back(&r);
  }
  if (repos.empty()) {
    return error(Error{Code::not_found, "no repositories configured in " + home.config().string()});
  }
  int jobs = vm["jobs"].as<int>();
  if (jobs < 1 || jobs > 64) return usage_error("sync: --jobs must be from 1 to 64");
  auto store = home.store();
  if (!store) return error(store.error());
  auto log = home.log();
  if (!log) return error(log.error());
  auto fetcher = make_curl_fetcher();
  const bool as_json = vm.count("json");
  json out = json::array();
  int rc = 0;
  for (const auto* repo : repos) {
    Progress progress(repo->name, progress_enabled(g.quiet || as_json));
    SyncOptions opt;
    opt.fetcher = fetcher.get();
    opt.jobs = jobs;
    opt.dry_run = vm.count("dry-run");
    opt.now = system_now();
    opt.workdir = home.work() / repo->name;
    opt.progress = [&](const std::string& phase, const FetchProgress& p) {
      progress.set_label(repo->name + " " + phase + " " + std::to_string(p.files_done) + "/" +
                         std::to_string(p.files_total) + " files");
      progress.update(p.bytes_done, p.bytes_total);
    };
    auto report = sync_apt(*repo, **store, **log, opt);
    progress.finish();
    if (!report) {
      rc = report_error(kProgram, report.error());
      continue;
    }
    const auto& r = *report;
    if (as_json) {
      out.push_back({{"repo", r.repo},
                     {"unchanged", r.unchanged},
                     {"snapshot", r.snapshot ? json(r.snapshot->hex()) : json(nullptr)},
                     {"pool_files", r.pool_files},
                     {"pool_bytes", r.pool_bytes},
                     {"fetched_files", r.metadata_fetched + r.pool_fetched},
                     {"fetched_bytes", r.bytes_fetched},
                     {"dry_run", opt.dry_run},
                     {"would_fetch_files", r.pool_missing},
                     {"would_fetch_bytes", r.bytes_missing}});
      continue;
    }
    if (opt.dry_run) {
      std::cout << r.repo << ": would fetch " << r.pool_missing << " pool files (" << human_bytes(r.bytes_missing)
                << ") of " << r.pool_files << " selected (" << human_bytes(r.pool_bytes) << "); "
                << r.metadata_fetched << " metadata files checked" << (r.unchanged ? "; upstream unchanged" : "")
                << "\n";
    } else if (r.unchanged) {
      std::cout << r.repo << ": unchanged, snapshot " << r.snapshot->hex() << "\n";
    } else {
      std::cout << r.repo << ": snapshot " << r.snapshot->hex() << "\n"
                << "  " << r.pool_files << " packages (" << human_bytes(r.pool_bytes) << "), fetched "
                << (r.metadata_fetched + r.pool_fetched) << " files (" << human_bytes(r.bytes_fetched) << ")\n";
    }
  }
  if (as_json) std::cout << out.dump(2) << "\n";
  return rc;
}

// --- snapshots / diff --------------------------------------------------------

Result<Digest> resolve_snapshot(const Store& store, const std::string& text) {
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  std::optional<Digest> found;
  for (const auto& s : *list) {
    if (s.id.hex().starts_with(text) && text.size() >= 6) {
      if (found && *found != s.id) return fail(Code::invalid_input, "'" + text + "' matches several snapshots");
      found = s.id;
    }
  }
  if (!found) return fail(Code::not_found, "no snapshot '" + text + "'");
  return *found;
}

int cmd_snapshots(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror --home DIR snapshots [REPO] [--json]

Lists the recorded snapshots, oldest first.

example:
  airlock-mirror --home /srv/airlock-low snapshots debian-security

options)");
  c.opts.add_options()("repo", po::value<std::string>(), "only this repository")("json", "print JSON");
  c.pos.add("repo", 1);
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  Home home{g.home};
  if (auto s = home.require(); !s) return error(s.error());
  auto store = home.store();
  if (!store) return error(store.error());
  auto list = (*store)->list_snapshots();
  if (!list) return error(list.error());
  json out = json::array();
  for (const auto& s : *list) {
    if (vm.count("repo") && s.repo != vm["repo"].as<std::string>()) continue;
    if (vm.count("json")) {
      out.push_back({{"id", s.id.hex()}, {"repo", s.repo}, {"kind", s.kind}, {"synced_at", format_time(s.synced_at)},
                     {"files", s.entries}, {"bytes", s.bytes}});
    } else {
      std::cout << s.id.hex() << "  " << format_time(s.synced_at) << "  " << s.repo << "  " << s.entries
                << " files  " << human_bytes(s.bytes) << "\n";
    }
  }
  if (vm.count("json")) std::cout << out.dump(2) << "\n";
  return 0;
}

void print_changes(const std::vector<PackageChange>& changes) {
  static const char* names[] = {"added", "upgraded", "downgraded", "removed"};
  for (const auto& ch : changes) {
    std::cout << "  " << names[ch.kind] << std::string(11 - std::string(names[ch.kind]).size(), ' ') << ch.package
              << " (" << ch.architecture << ") ";
    if (ch.kind == PackageChange::added) std::cout << ch.new_version;
    else if (ch.kind == PackageChange::removed) std::cout << ch.old_version;
    else std::cout << ch.old_version << " -> " << ch.new_version;
    std::cout << "\n";
  }
}

int cmd_diff(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror --home DIR diff SNAP_A SNAP_B [--json]

Packages added, upgraded, downgraded and removed from snapshot A to B, with
versions. Snapshots are given by id or a unique prefix of at least 6 digits.

example:
  airlock-mirror --home /srv/airlock-low diff 3f2a9c 81b0e4

options)");
  c.opts.add_options()("a", po::value<std::string>(), "older snapshot")("b", po::value<std::string>(), "newer snapshot")(
      "json", "print JSON");
  c.pos.add("a", 1).add("b", 1);
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  if (!vm.count("a") || !vm.count("b")) return usage_error("diff: needs SNAP_A and SNAP_B");
  Home home{g.home};
  if (auto s = home.require(); !s) return error(s.error());
  auto store = home.store();
  if (!store) return error(store.error());
  std::vector<PackageVersion> sides[2];
  int i = 0;
  for (const char* k : {"a", "b"}) {
    auto id = resolve_snapshot(**store, vm[k].as<std::string>());
    if (!id) return error(id.error());
    auto snap = (*store)->get_snapshot(*id);
    if (!snap) return error(snap.error());
    auto pkgs = snapshot_packages(**store, *snap);
    if (!pkgs) return error(pkgs.error());
    sides[i++] = std::move(*pkgs);
  }
  auto changes = diff_packages(sides[0], sides[1]);
  if (vm.count("json")) {
    static const char* names[] = {"added", "upgraded", "downgraded", "removed"};
    json out = json::array();
    for (const auto& ch : changes) {
      out.push_back({{"change", names[ch.kind]}, {"package", ch.package}, {"architecture", ch.architecture},
                     {"old", ch.old_version}, {"new", ch.new_version}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  if (changes.empty()) std::cout << "no package changes\n";
  print_changes(changes);
  return 0;
}

// --- export / sign -----------------------------------------------------------

int cmd_export(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror --home DIR export --stream S --out MEDIA [options]

Writes the stream's next bundle into MEDIA/airlock-<stream>-<sequence>/: the
newest snapshot of each repository and every object no earlier bundle of the
stream carried (everything with --full), split into volumes, signed by each
--key, with this side's log records since the previous export. Prints what
went out and the package changes since the previous export: what a second
signer reviews before 'airlock-mirror sign'.

examples:
  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/usb --key alice
  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/dvd --volume-size 4G --full
  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/usb --key alice --expires 14d

options)");
  c.opts.add_options()("stream", po::value<std::string>(), "stream name")(
      "out", po::value<std::string>(), "media directory")("full", "carry everything, not only what is new")(
      "volume-size", po::value<std::string>()->default_value("4G"), "largest volume (K, M, G suffixes)")(
      "key", po::value<std::vector<std::string>>(), "signing key name or path; repeatable")(
      "expires", po::value<std::string>()->default_value("30d"), "validity (d, h, m)")(
      "repo", po::value<std::vector<std::string>>(), "only these repositories; repeatable")(
      "level", po::value<int>()->default_value(3), "zstd level 1-19")("json", "print JSON");
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  if (!vm.count("stream") || !vm.count("out")) return usage_error("export: needs --stream S and --out MEDIA");
  Home home{g.home};
  if (auto s = home.require(); !s) return error(s.error());
  auto volume = parse_size(vm["volume-size"].as<std::string>());
  if (!volume) return usage_error("export: --volume-size: " + volume.error().message);
  auto expires = airlock_parse_duration(vm["expires"].as<std::string>());
  if (!expires) return usage_error("export: --expires: " + expires.error().message);
  std::vector<std::string> key_names;
  if (vm.count("key")) {
    key_names = vm["key"].as<std::vector<std::string>>();
  } else {
    for (const auto& e : fs::directory_iterator(home.keys())) {
      if (e.path().extension() == ".key" && e.path().stem() != "log") key_names.push_back(e.path().stem().string());
    }
    if (key_names.size() != 1) {
      return usage_error("export: name the signing key with --key (found " + std::to_string(key_names.size()) +
                         " in " + home.keys().string() + ")");
    }
  }
  std::vector<PrivateKey> keys;
  for (const auto& k : key_names) {
    auto key = load_key(home, k);
    if (!key) return error(key.error());
    keys.push_back(std::move(*key));
  }
  auto log_key = home.log_key();
  if (!log_key) return error(log_key.error());
  auto store = home.store();
  if (!store) return error(store.error());
  auto log = home.log();
  if (!log) return error(log.error());
  if (auto s = make_dirs(vm["out"].as<std::string>()); !s) return error(s.error());

  ExportOptions opt;
  opt.stream = vm["stream"].as<std::string>();
  opt.out = vm["out"].as<std::string>();
  opt.full = vm.count("full");
  if (vm.count("repo")) opt.repos = vm["repo"].as<std::vector<std::string>>();
  opt.volume_size = *volume;
  opt.zstd_level = vm["level"].as<int>();
  opt.expires = *expires;
  for (const auto& k : keys) opt.keys.push_back(&k);
  opt.log_key = &*log_key;
  char host[256] = "unknown";
  ::gethostname(host, sizeof host - 1);
  opt.producer = "airlock-mirror 0.1.0 on " + std::string(host) + " by " + operator_name();
  opt.now = system_now();
  Progress progress("export " + opt.stream, progress_enabled(g.quiet || vm.count("json")));
  opt.progress = [&](std::uint64_t d, std::uint64_t t) { progress.update(d, t); };
  auto summary = export_stream(**store, **log, opt);
  progress.finish();
  if (!summary) return error(summary.error());
  const auto& b = summary->bundle;
  const auto& m = b.manifest;
  if (vm.count("json")) {
    static const char* names[] = {"added", "upgraded", "downgraded", "removed"};
    json changes = json::array();
    for (const auto& ch : summary->changes) {
      changes.push_back({{"change", names[ch.kind]}, {"package", ch.package}, {"architecture", ch.architecture},
                         {"old", ch.old_version}, {"new", ch.new_version}});
    }
    std::cout << json{{"bundle", b.dir.string()}, {"stream", m.stream}, {"sequence", m.sequence}, {"kind", m.kind},
                      {"manifest_sha256", b.manifest_sha256.hex()}, {"volumes", m.volumes.size()},
                      {"volume_bytes", b.bytes}, {"objects", m.objects.size()}, {"bytes", m.payload_size()},
                      {"changes", changes}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << "bundle     " << b.dir.string() << "\n";
  std::cout << "sequence   " << m.sequence << " (" << m.kind
            << (m.previous ? ", previous " + short_id(*m.previous) : std::string()) << ")\n";
  std::cout << "manifest   sha256 " << b.manifest_sha256.hex() << "\n";
  std::cout << "volumes    " << m.volumes.size() << " (" << human_bytes(b.bytes) << ")\n";
  std::cout << "objects    " << m.objects.size() << " (" << human_bytes(m.payload_size()) << ")\n";
  for (const auto& s : m.snapshots) std::cout << "snapshot   " << s.repo << " " << s.id.hex() << "\n";
  std::cout << "expires    " << format_time(m.expires) << "\n";
  std::cout << (summary->first ? "packages (first export of this stream):\n"
                               : "changes since the previous export:\n");
  if (summary->changes.empty()) std::cout << "  none\n";
  print_changes(summary->changes);
  return 0;
}

int cmd_sign(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror sign --key K BUNDLE_DIR

Adds your signature to an exported bundle's manifest.sig.json; nothing else
changes. With a threshold of 2 on the isolated side, no single person can
push a bundle in. Read the export's summary (or 'airlock-verify bundle') first.

example:
  airlock-mirror --home /srv/airlock-low sign --key bob /media/usb/airlock-debian-000042

options)");
  c.opts.add_options()("key", po::value<std::string>(), "signing key name (in the home) or path")(
      "bundle", po::value<std::string>(), "bundle directory");
  c.pos.add("bundle", 1);
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  if (!vm.count("key") || !vm.count("bundle")) return usage_error("sign: needs --key K and BUNDLE_DIR");
  Home home{g.home};
  auto key = load_key(home, vm["key"].as<std::string>());
  if (!key) return error(key.error());
  fs::path dir = vm["bundle"].as<std::string>();
  if (auto s = cosign_bundle(dir, *key); !s) return error(s.error());
  if (!home.dir.empty() && fs::exists(home.config())) {
    if (auto log = home.log()) {
      auto raw = read_file(dir / "manifest.json", kMaxManifestBytes);
      json rec{{"bundle", dir.filename().string()}, {"keyid", key->public_key().id().hex()},
               {"manifest", raw ? sha256(*raw).hex() : ""}, {"operator", operator_name()}};
      (void)(*log)->append("cosign", rec.dump());
      (void)(*log)->sync();
    }
  }
  std::cout << "signed " << dir.string() << " with key " << key->public_key().id().hex() << "\n";
  return 0;
}

int cmd_log(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-mirror --home DIR log show [--json] | log verify

show prints the transfer log; verify checks every record and signed
checkpoint against keys/log.pub.

examples:
  airlock-mirror --home /srv/airlock-low log show
  airlock-mirror --home /srv/airlock-low log verify

options)");
  c.opts.add_options()("action", po::value<std::string>(), "show or verify")("json", "JSON Lines as stored");
  c.pos.add("action", 1);
  auto vm = c.parse(args);
  if (vm.count("help")) return std::cout << c.opts << "\n", 0;
  if (!vm.count("action")) return usage_error("log: show or verify?");
  Home home{g.home};
  if (auto s = home.require(); !s) return error(s.error());
  auto action = vm["action"].as<std::string>();
  if (action == "verify") {
    auto pub = PublicKey::read_file(home.keys() / "log.pub");
    if (!pub) return error(pub.error());
    std::vector<PublicKey> keys{*pub};
    auto v = verify_log_file(home.log_file(), keys);
    if (!v) return error(v.error());
    std::cout << "records " << v->records << ", checkpoints " << v->checkpoints << ", root " << v->root.hex()
              << "\nOK\n";
    return 0;
  }
  if (action != "show") return usage_error("log: show or verify?");
  auto log = home.log();
  if (!log) return error(log.error());
  for (std::uint64_t n = 0; n < (*log)->size(); ++n) {
    auto line = (*log)->record(n);
    if (!line) return error(line.error());
    if (vm.count("json")) {
      std::cout << *line << "\n";
      continue;
    }
    json j = json::parse(*line);
    std::string rest;
    for (auto& [k, v] : j.items()) {
      if (k == "n" || k == "time" || k == "event" || k == "prev_root" || k == "note") continue;
      rest += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    std::cout << j["n"].get<std::uint64_t>() << "  " << j["time"].get<std::string>() << "  "
              << j["event"].get<std::string>() << rest << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Global g;
  if (const char* h = std::getenv("AIRLOCK_HOME")) g.home = h;
  std::vector<std::string> args(argv + 1, argv + argc);
  // Global options come before the command.
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--home" && i + 1 < args.size()) {
      g.home = args[++i];
    } else if (a.starts_with("--home=")) {
      g.home = a.substr(7);
    } else if (a == "-q" || a == "--quiet") {
      g.quiet = true;
    } else if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else {
      break;
    }
  }
  if (i >= args.size()) {
    std::cerr << kUsage;
    return 2;
  }
  std::string cmd = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  // --quiet is accepted after the command too.
  std::erase_if(rest, [&](const std::string& a) { return (a == "-q" || a == "--quiet") && (g.quiet = true); });
  try {
    if (cmd == "init") return cmd_init(g, rest);
    if (cmd == "keygen") return cmd_keygen(g, rest);
    if (cmd == "sync") return cmd_sync(g, rest);
    if (cmd == "snapshots") return cmd_snapshots(g, rest);
    if (cmd == "diff") return cmd_diff(g, rest);
    if (cmd == "export") return cmd_export(g, rest);
    if (cmd == "sign") return cmd_sign(g, rest);
    if (cmd == "log") return cmd_log(g, rest);
    return usage_error("unknown command '" + cmd + "'");
  } catch (const po::error& e) {
    return usage_error(cmd + ": " + e.what());
  }
}
