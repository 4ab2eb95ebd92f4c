// airlock-mirror: the online (low) side. An argument adapter over
// mirror::Home: each command reads its options, calls one method and prints
// the result (mirror/output.h) as text or JSON.
#include <unistd.h>

#include <iostream>

#include "airlock/base/cli.h"
#include "airlock/mirror/home.h"
#include "airlock/mirror/output.h"
#include "airlock/transfer/log_command.h"

using namespace airlock;
using namespace airlock::mirror;
using cli::Invocation;
namespace po = cli::po;
namespace fs = std::filesystem;

namespace {

using Run = std::function<int(const Invocation&)>;

constexpr const char* kUsage = "usage: airlock-mirror --home DIR ";

ChangeInfo who() { return {cli::operator_name(), {}, {}}; }

template <class T, class Print>
int emit(const Invocation& inv, const Result<T>& result, Print print) {
  return cli::emit(inv, result, print, [](const auto& v) { return to_json(v); });
}

// Runs body on the opened home.
Run on_home(std::function<int(const Invocation&, Home&)> body) {
  return [body = std::move(body)](const Invocation& inv) {
    auto home = Home::open(inv.home, command_options(inv));
    return home ? body(inv, **home) : cli::fail(inv, home.error());
  };
}

int init(const Invocation& inv) {
  return emit(inv, Home::init(inv.home, cli::operator_name()), print_init);
}

int keygen(const Invocation& inv, Home& home) {
  if (!inv.has("name")) return cli::usage(inv, "missing NAME");
  return emit(inv, home.keygen(inv.str("name"), who()), print_key);
}

int sync(const Invocation& inv, Home& home) {
  auto fetcher = make_curl_fetcher();
  cli::Progress progress("sync", inv.progress());
  SyncRequest req{fetcher.get(),
                  inv.get<int>("jobs", 8),
                  inv.has("dry-run"),
                  system_now(),
                  cli::operator_name(),
                  [&](const std::string& repo, const std::string& phase, const FetchProgress& p) {
                    progress.set_label(repo + " " + phase + " " + std::to_string(p.files_done) +
                                       "/" + std::to_string(p.files_total) + " files");
                    progress.update(p.bytes_done, p.bytes_total);
                  }};
  auto results = home.sync(inv.get<std::vector<std::string>>("repo"), req);
  progress.finish();
  if (!results) return cli::fail(inv, results.error());
  const int rc = print_sync_problems(std::cerr, inv.program, *results);
  inv.json() ? cli::print_json(to_json(*results)) : print_sync(std::cout, *results);
  return rc;
}

int diff(const Invocation& inv, Home& home) {
  if (!inv.has("a") || !inv.has("b")) return cli::usage(inv, "needs SNAP_A and SNAP_B");
  return emit(inv, home.diff(inv.str("a"), inv.str("b")), print_diff);
}

int export_bundle(const Invocation& inv) {
  if (!inv.has("stream") || !inv.has("out"))
    return cli::usage(inv, "needs --stream S and --out MEDIA");
  auto volume = cli::parse_size(inv.str("volume-size"));
  if (!volume) return cli::usage(inv, "--volume-size: " + volume.error().message);
  auto expires = cli::parse_duration(inv.str("expires"));
  if (!expires) return cli::usage(inv, "--expires: " + expires.error().message);
  // An unmounted medium leaves its mount point missing (or empty): writing
  // there would put the bundle on the local disk.
  const std::string out = inv.str("out");
  std::error_code ec;
  const auto type = fs::status(out, ec).type();
  if (type == fs::file_type::not_found && !inv.has("mkdir")) {
    return cli::fail(inv, Error{Code::not_found, "--out " + out +
                                                     " does not exist (is the medium mounted?); "
                                                     "create it or pass --mkdir"});
  }
  if (type != fs::file_type::not_found && type != fs::file_type::directory) {
    return cli::fail(inv, Error{Code::invalid_input, "--out " + out + " is not a directory"});
  }
  ExportOptions opt;
  opt.stream = inv.str("stream");
  opt.out = inv.str("out");
  opt.full = inv.has("full");
  opt.repos = inv.get<std::vector<std::string>>("repo");
  opt.volume_size = *volume;
  opt.zstd_level = inv.get<int>("level", 3);
  opt.expires = *expires;
  opt.keys = inv.get<std::vector<std::string>>("key");
  opt.operator_name = cli::operator_name();
  opt.now = system_now();
  cli::Progress progress("export " + opt.stream, inv.progress());
  opt.progress = [&](std::uint64_t done, std::uint64_t total) { progress.update(done, total); };
  return on_home([&](const Invocation&, Home& home) {
    auto summary = home.export_stream(opt);
    progress.finish();
    return emit(inv, summary, print_export);
  })(inv);
}

// Shows the review, then asks on a terminal; --yes approves without asking.
// Piped or with --json and no --yes there is nobody to ask: refused.
SignApproval approval(const Invocation& inv) {
  return [&inv](const BundleReview& review) -> Status {
    if (!inv.json()) print_review(std::cout, review);
    if (inv.has("yes")) return Status{};
    if (inv.json() || ::isatty(STDIN_FILENO) != 1) {
      return Status(
          fail(Code::refused, "not signed: pass --yes to sign without a terminal to confirm on"));
    }
    std::cout << "Add your signature to this bundle? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer == "y" || answer == "Y" || answer == "yes") return Status{};
    return Status(fail(Code::refused, "not signed: not confirmed"));
  };
}

// In a mirror home the co-signature is logged; anywhere else (a second
// person's machine) the bundle is only co-signed.
int sign(const Invocation& inv) {
  if (!inv.has("key") || !inv.has("bundle")) return cli::usage(inv, "needs --key K and BUNDLE_DIR");
  const fs::path bundle = inv.str("bundle");
  if (!Home::is_home(inv.home)) {
    auto key = load_signing_key(inv.home.empty() ? fs::path() : inv.home / "keys", inv.str("key"));
    if (!key) return cli::fail(inv, key.error());
    const fs::path key_dir = fs::path(inv.str("key")).parent_path();
    return emit(inv, sign_bundle(bundle, *key, key_dir.empty() ? "." : key_dir, approval(inv)),
                print_sign);
  }
  return on_home([&](const Invocation&, Home& home) {
    auto key = home.load_key(inv.str("key"));
    if (!key) return cli::fail(inv, key.error());
    return emit(inv, home.sign(bundle, *key, who(), approval(inv)), print_sign);
  })(inv);
}

// `config check`: every problem one line; exit 2 when there is one
// (warnings do not count), 1 when the check cannot run.
int config(const Invocation& inv) {
  if (inv.str("action") != "check") return cli::usage(inv, "the only action is 'check'");
  if (inv.home.empty())
    return cli::fail(inv,
                     Error{Code::invalid_input, "no home: pass --home DIR or set AIRLOCK_HOME"});
  auto check = check_config(inv.home);
  if (!check) return cli::fail(inv, check.error());
  inv.json() ? cli::print_json(to_json(*check)) : print_config_check(std::cout, *check);
  return check->ok() ? 0 : 2;
}

void json_option(cli::Options& o) { o.add_options()("json", "print the result as JSON"); }

cli::Command command(std::string name, std::string summary, std::string help,
                     std::function<void(cli::Options&, cli::Positionals&)> options, Run run) {
  return {std::move(name), std::move(summary), kUsage + std::move(help), std::move(options),
          std::move(run)};
}

constexpr const char* kConfigHelp =
    "config check [--json]\n\n"
    "Checks the configuration before it is used, without changing anything.\n"
    "mirror.toml: every [[repo]] read as sync reads it (names, kinds, urls, the keys\n"
    "each kind takes, lists, flags and numbers), every problem at once. Then for each\n"
    "repository: its keyring exists, is readable and holds an OpenPGP public key that\n"
    "has not expired or been revoked (as gpg --show-keys lists it); no upstream (kind,\n"
    "url and, for apt, a suite) is configured twice with the same selection (a\n"
    "different packages filter of it is a warning). keys/: every NAME.key loads (mode\n"
    "0600) and NAME.pub is its public half. Prints one line a problem,\n"
    "FILE:LINE: repo 'NAME': key 'KEY': what (expected ...), or \"ok: N\n"
    "repositories, M signing keys\". Exit 0 when there is no problem (warnings\n"
    "aside), 2 when there is one, 1 when the check cannot run (gpg missing, a file\n"
    "that cannot be read).\n\n"
    "examples:\n  airlock-mirror --home /srv/airlock-low config check\n"
    "  airlock-mirror --home /srv/airlock-low config check --json | jq '.problems[].text'\n";
constexpr const char* kInitHelp =
    "init\n\nCreates the home: mirror.toml (a commented template to edit), the store, the\n"
    "transfer log and its signing key keys/log.key. Safe to run again: nothing\n"
    "that exists is overwritten.\n\nexample:\n  airlock-mirror --home /srv/airlock-low init\n";
constexpr const char* kKeygenHelp =
    "keygen NAME\n\nCreates an Ed25519 bundle signing key: keys/NAME.key (mode 0600) and\n"
    "keys/NAME.pub. Give NAME.pub to the isolated side ('airlock-repo trust add').\n"
    "An existing key is never replaced. Logged.\n\n"
    "example:\n  airlock-mirror --home /srv/airlock-low keygen alice\n";
constexpr const char* kSyncHelp =
    "sync [REPO...] [--dry-run] [--jobs N]\n\n"
    "Fetches each repository's signed metadata (InRelease, or Release and\n"
    "Release.gpg), checks it with gpgv against the configured keyring, refuses\n"
    "expired or rolled-back metadata, another suite's, and an InRelease that is\n"
    "not exactly one clearsigned message, fetches the index files (a variant the\n"
    "upstream does not serve is skipped, if another verifies) and the selected\n"
    "pool files (each checked against the SHA-256 in the verified index) and\n"
    "records one snapshot per repository, logged. With a `packages` filter the\n"
    "selection is the matching packages and their dependency closure (Depends and\n"
    "Pre-Depends; only the matches with with_dependencies = false); dependencies\n"
    "the indices cannot satisfy are warnings. Files already in the store are not\n"
    "fetched again; an unchanged upstream with an unchanged selection costs one\n"
    "conditional request per suite, while a changed selection records a new\n"
    "snapshot. A sync that fails keeps what it verified and resumes next time.\n"
    "--dry-run reports what the sync would fetch and carry, storing nothing.\n\n"
    "examples:\n  airlock-mirror --home /srv/airlock-low sync\n"
    "  airlock-mirror --home /srv/airlock-low sync debian-security --jobs 16\n"
    "  airlock-mirror --home /srv/airlock-low sync --dry-run\n";
constexpr const char* kSnapshotsHelp =
    "snapshots [REPO] [--json]\nsnapshots show ID [--json]\n\n"
    "Lists the recorded snapshots, oldest first; `show` shows one (by id or a\n"
    "unique prefix): its release information, every package it carries and, for\n"
    "an rpm repository, the vendor's advisories (id, type, severity, references\n"
    "and the packages that fix each).\n\n"
    "examples:\n  airlock-mirror --home /srv/airlock-low snapshots debian-security\n"
    "  airlock-mirror --home /srv/airlock-low snapshots show 3f2a9c81\n";
constexpr const char* kDiffHelp =
    "diff SNAP_A SNAP_B [--json]\n\nPackages added, upgraded, downgraded and removed from snapshot "
    "A to B, with\n"
    "versions. Snapshots are given by id or a unique prefix of 8 or more hex digits.\n\n"
    "example:\n  airlock-mirror --home /srv/airlock-low diff 3f2a9c01 81b0e4d7\n";
constexpr const char* kExportHelp =
    "export --stream S --out MEDIA [options]\n\n"
    "Writes the stream's next bundle into MEDIA/airlock-<stream>-<sequence>/: the\n"
    "newest snapshot of each repository and every object no earlier bundle of the\n"
    "stream carried (everything with --full), split into volumes, signed by each\n"
    "--key, with this side's log records since the previous export (this export's\n"
    "own record travels with the next one). Prints what went out and the package\n"
    "changes since the previous export: what a second signer reviews before\n"
    "'airlock-mirror sign'. MEDIA must exist (an unmounted stick is an error, not a\n"
    "new directory on the local disk); --mkdir creates it.\n\nexamples:\n"
    "  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/usb --key alice\n"
    "  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/dvd "
    "--volume-size 4G --full\n"
    "  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/usb --key alice "
    "--expires 14d\n";
constexpr const char* kSignHelp =
    "sign --key K BUNDLE_DIR [--yes]\n       airlock-mirror sign --key PATH BUNDLE_DIR [--yes]   "
    "(no home)\n\n"
    "Co-signing is a review. First the bundle is checked completely: every existing\n"
    "signature against the public keys here (keys/*.pub, or the .pub files beside\n"
    "the key file), every volume and every object against the manifest. A bundle\n"
    "that does not check out is refused, not signed. Then it prints what you are\n"
    "approving: the bundle, who signed it, and the package changes it carries (signed\n"
    "inside its manifest), and asks for confirmation on a terminal; --yes answers\n"
    "for scripts (without a terminal and without --yes nothing is signed). Only then\n"
    "is your signature added to manifest.sig.json; nothing else changes. In a mirror\n"
    "home the co-signature is logged and travels with the stream's next bundle.\n\n"
    "examples:\n  airlock-mirror --home /srv/airlock-low sign --key bob "
    "/media/usb/airlock-debian-000042\n"
    "  airlock-mirror sign --key ~/bob.key /media/usb/airlock-debian-000042 --yes\n";

void export_options(cli::Options& o, cli::Positionals&) {
  o.add_options()("stream", po::value<std::string>(), "stream name")(
      "out", po::value<std::string>(), "media directory")("full",
                                                          "carry everything, not only what is new")(
      "volume-size", po::value<std::string>()->default_value("4G"),
      "largest volume (K, M, G suffixes)")("key", po::value<std::vector<std::string>>(),
                                           "signing key name or path; repeatable")(
      "expires", po::value<std::string>()->default_value("30d"), "validity (d, h, m)")(
      "repo", po::value<std::vector<std::string>>(), "only these repositories; repeatable")(
      "level", po::value<int>()->default_value(3), "zstd level 1-19")(
      "mkdir", "create MEDIA when it does not exist");
  json_option(o);
}

void sign_options(cli::Options& o, cli::Positionals& p) {
  o.add_options()("key", po::value<std::string>(), "signing key name (in the home) or path")(
      "bundle", po::value<std::string>(), "bundle directory")(
      "yes", "sign without asking (after the same checks)");
  json_option(o);
  p.add("bundle", 1);
}

std::vector<cli::Command> commands() {
  return {
      command(
          "init",
          "init                      create the home: mirror.toml template, store, log, log key",
          kInitHelp, [](cli::Options& o, cli::Positionals&) { json_option(o); }, init),
      command(
          "keygen",
          "keygen NAME               create a bundle signing key keys/NAME.key (+ NAME.pub)",
          kKeygenHelp,
          [](cli::Options& o, cli::Positionals& p) {
            o.add_options()("name", po::value<std::string>(), "key name");
            json_option(o);
            p.add("name", 1);
          },
          on_home(keygen)),
      command(
          "sync",
          "sync [REPO...]            fetch and verify upstream metadata and packages, record "
          "snapshots",
          kSyncHelp,
          [](cli::Options& o, cli::Positionals& p) {
            o.add_options()("repo", po::value<std::vector<std::string>>(),
                            "repositories (default: all)")(
                "dry-run", "show what would be fetched; store nothing")(
                "jobs", po::value<int>()->default_value(8), "parallel downloads");
            json_option(o);
            p.add("repo", -1);
          },
          on_home(sync)),
      command(
          "snapshots", "snapshots [REPO|show ID]  list recorded snapshots, or show one",
          kSnapshotsHelp,
          [](cli::Options& o, cli::Positionals& p) {
            o.add_options()("repo", po::value<std::string>(), "only this repository")(
                "id", po::value<std::string>(), "with show: the snapshot");
            json_option(o);
            p.add("repo", 1).add("id", 1);
          },
          on_home([](const Invocation& inv, Home& h) {
            if (inv.str("repo") == "show") {
              if (!inv.has("id")) return cli::usage(inv, "show: missing ID");
              return emit(inv, h.snapshot(inv.str("id")), print_snapshot_view);
            }
            if (inv.has("id")) return cli::usage(inv, "one repository at most (or show ID)");
            return emit(inv, h.snapshots(inv.str("repo")), print_snapshots);
          })),
      command(
          "diff",
          "diff SNAP_A SNAP_B        packages added, upgraded and removed between two snapshots",
          kDiffHelp,
          [](cli::Options& o, cli::Positionals& p) {
            o.add_options()("a", po::value<std::string>(), "older snapshot")(
                "b", po::value<std::string>(), "newer snapshot");
            json_option(o);
            p.add("a", 1).add("b", 1);
          },
          on_home(diff)),
      command("export",
              "export --stream S --out MEDIA   write the stream's next signed bundle onto MEDIA",
              kExportHelp, export_options, export_bundle),
      command("sign", "sign --key K BUNDLE_DIR   add a co-signature to an exported bundle",
              kSignHelp, sign_options, sign),
      command(
          "config", "config check              check mirror.toml, the keyrings and keys/",
          kConfigHelp,
          [](cli::Options& o, cli::Positionals& p) {
            o.add_options()("action", po::value<std::string>(), "check");
            json_option(o);
            p.add("action", 1);
          },
          config),
      log_command<Home>("airlock-mirror"),
  };
}

}  // namespace

int main(int argc, char** argv) {
  cli::Program program{
      "airlock-mirror",
      "The online side of airlock: mirror upstream repositories, record snapshots,\n"
      "export signed bundles onto removable media.",
      "  airlock-mirror --home /srv/airlock-low init\n"
      "  airlock-mirror --home /srv/airlock-low keygen alice\n"
      "  airlock-mirror --home /srv/airlock-low sync\n"
      "  airlock-mirror --home /srv/airlock-low export --stream debian --out /media/usb --key "
      "alice\n",
      true, commands()};
  return cli::run(program, argc, argv);
}
