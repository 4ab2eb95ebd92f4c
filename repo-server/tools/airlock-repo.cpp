// airlock-repo: the isolated (high) side. An argument adapter over
// repo::Home: each command parses its options, calls one method and prints
// the result (repo/output.h) as text or JSON.
#include <iostream>

#include "airlock/base/cli.h"
#include "airlock/repo/home.h"
#include "airlock/repo/output.h"
#include "airlock/transfer/log_command.h"

using namespace airlock;
using namespace airlock::repo;
using cli::Invocation;
namespace po = cli::po;
namespace fs = std::filesystem;

namespace {

void change_options(cli::Options& o) {
  o.add_options()("operator", po::value<std::string>(), "who does this (default: login name)")(
      "reason", po::value<std::string>(), "why")("change-ref", po::value<std::string>(),
                                                 "change ticket");
}

ChangeInfo who(const Invocation& inv) {
  return {inv.str("operator", cli::operator_name()), inv.str("reason"), inv.str("change-ref")};
}

std::vector<std::string> list(const Invocation& inv, const char* name) {
  return inv.get<std::vector<std::string>>(name);
}

// Opens the home, runs f on it and prints what it returns as JSON or text.
template <class F, class P>
int with_home(const Invocation& inv, F f, P print) {
  auto home = Home::open(inv.home);
  if (!home) return cli::fail(inv, home.error());
  return cli::emit(inv, f(**home), print, [](const auto& v) { return to_json(v); });
}

int init(const Invocation& inv) {
  auto r = Home::init(inv.home, cli::operator_name());
  if (!r) return cli::fail(inv, r.error());
  cli::field("home", fs::absolute(inv.home).string());
  cli::field("trust", (inv.home / "trust.json").string() +
                          (r->new_trust ? " (add signers with 'trust add')" : " (kept)"));
  cli::field("log key",
             (inv.home / "keys" / "log.pub").string() + (r->new_key ? " (new)" : " (kept)"));
  return 0;
}

Result<TrustReport> trust_change(Home& home, const Invocation& inv) {
  const auto action = inv.str("action"), arg = inv.str("arg");
  if (action == "add") {
    TrustKeySpec spec{arg, inv.str("name"), {}, {}};
    for (auto [opt, slot] :
         {std::pair{"not-before", &spec.not_before}, std::pair{"not-after", &spec.not_after}}) {
      if (!inv.has(opt)) continue;
      auto t = parse_time(inv.str(opt));
      if (!t) return fail(t.error().context(std::string("--") + opt));
      *slot = *t;
    }
    return home.trust_add(spec, who(inv));
  }
  if (action == "remove") {
    auto id = KeyId::parse(arg);
    if (!id) return fail(id.error());
    return home.trust_remove(*id, who(inv));
  }
  const bool number =
      !arg.empty() && arg.size() <= 4 && arg.find_first_not_of("0123456789") == std::string::npos;
  return home.trust_threshold(number ? std::stoi(arg) : 0, who(inv));
}

int trust(const Invocation& inv) {
  const auto action = inv.str("action");
  if (action == "list")
    return with_home(
        inv, [](Home& h) { return h.trust(); }, print_trust);
  if (action != "add" && action != "remove" && action != "threshold") {
    return cli::usage(inv, "add, list, remove or threshold?");
  }
  if (!inv.has("arg")) return cli::usage(inv, action + ": missing argument");
  return with_home(
      inv, [&](Home& h) { return trust_change(h, inv); }, print_trust_change);
}

int import(const Invocation& inv) {
  auto dirs = list(inv, "dirs");
  if (dirs.empty()) return cli::usage(inv, "missing BUNDLE_DIR");
  const auto w = who(inv);
  ImportOptions opt{w.operator_name, inv.str("media-label"), {},           w.reason,
                    w.change_ref,    inv.str("scan-cmd"),    system_now(), {}};
  if (inv.has("publish")) {
    opt.publish = inv.str("publish");
    if (!valid_channel_name(*opt.publish))
      return cli::usage(inv, "--publish: not a valid channel name");
  }
  cli::Progress progress("import", inv.progress());
  opt.progress = [&](const std::string& phase, std::uint64_t d, std::uint64_t t) {
    progress.set_label("import " + phase);
    progress.update(d, t);
  };
  std::vector<fs::path> paths(dirs.begin(), dirs.end());
  return with_home(
      inv,
      [&](Home& h) {
        auto r = h.import(paths, opt);
        progress.finish();
        return r;
      },
      print_import);
}

Result<ChannelEntry> publish(Home& h, const Invocation& inv) {
  auto id = resolve_snapshot(h.store(), inv.str("snapshot"));
  if (!id) return fail(id.error());
  return h.publish(inv.str("repo"), *id, inv.str("channel"), who(inv));
}

int serve(const Invocation& inv) {
  ServeOptions opt;
  opt.listen = inv.str("listen", "127.0.0.1:8080");
  opt.threads = inv.get<int>("threads", 0);
  opt.idle_timeout = std::chrono::seconds(std::max(1, inv.get<int>("idle-timeout", 30)));
  opt.on_ready = [](const std::string& address) {
    std::cout << "serving on http://" << address << "/<channel>/<repo>/" << std::endl;
  };
  auto home = Home::open(inv.home);
  if (!home) return cli::fail(inv, home.error());
  if (auto s = (*home)->serve(opt); !s) return cli::fail(inv, s.error());
  std::cout << "stopped" << std::endl;
  return 0;
}

int scrub(const Invocation& inv) {
  cli::Progress progress("scrub", inv.progress());
  auto home = Home::open(inv.home);
  if (!home) return cli::fail(inv, home.error());
  auto r = (*home)->scrub(who(inv));
  progress.finish();
  if (!r) return cli::fail(inv, r.error());
  inv.json() ? cli::print_json(to_json(*r)) : print_scrub(std::cout, *r);
  return r->ok() ? 0 : 3;
}

std::string serve_help() {
  return "usage: airlock-repo --home DIR serve [--listen ADDR:PORT] [--threads N]\n\n"
         "Serves /<channel>/<repo>/<upstream path> to apt hosts: each path resolves\n"
         "through the channel's current snapshot to a stored object (and\n"
         ".../by-hash/<ALGO>/<hex> to any file the snapshot's Release lists). GET and\n"
         "HEAD, keep-alive, single ranges, ETag and Last-Modified. Every request is a\n"
         "`pull` record in the transfer log; if the log cannot be written the server\n"
         "answers 503. A channel change takes effect for the next request. SIGTERM or\n"
         "SIGINT stops it gracefully: in-flight responses finish, the log is flushed and\n"
         "a checkpoint written. GET /-/health reports the log head.\n\n"
         "A host's sources.list entry:\n"
         "  deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
         "http://HOST:8080/prod/debian bookworm main\n\n"
         "examples:\n  airlock-repo --home /srv/airlock serve\n"
         "  airlock-repo --home /srv/airlock serve --listen 0.0.0.0:8080 --threads 8\n";
}

cli::Command command(std::string name, std::string summary, std::string help,
                     std::function<void(cli::Options&, cli::Positionals&)> options,
                     std::function<int(const Invocation&)> run) {
  return {std::move(name), std::move(summary), std::move(help), std::move(options), std::move(run)};
}

const std::string kUsage = "usage: airlock-repo --home DIR ";

cli::Command init_command() {
  return command(
      "init",
      "init                                 create the home: trust.json, store, log, log key",
      kUsage +
          "init\n\nCreates the home: an empty trust policy, the store, the transfer log and its "
          "key\n"
          "keys/log.key (give keys/log.pub to auditors). Safe to run again.\n\nexample:\n  "
          "airlock-repo --home /srv/airlock init\n",
      nullptr, init);
}

cli::Command trust_command() {
  return command(
      "trust", "trust add PUB | list | remove KEYID | threshold N   who may sign bundles",
      kUsage +
          "trust add PUB [--name N] [--not-before T] [--not-after T] | list | remove KEYID | "
          "threshold N\n\n"
          "The trust policy: which Ed25519 keys may sign bundles, within which dates, and how\n"
          "many distinct signatures a bundle needs (2: no single person can push a bundle\n"
          "in). Every change is logged with a checkpoint.\n\nexamples:\n"
          "  airlock-repo --home /srv/airlock trust add alice.pub --name alice\n"
          "  airlock-repo --home /srv/airlock trust threshold 2 --reason \"two-person rule\"\n",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("action", po::value<std::string>(), "add, list, remove, threshold")(
            "arg", po::value<std::string>(), "PUB, KEYID or N")(
            "name", po::value<std::string>(), "key name")("not-before", po::value<std::string>(),
                                                          "valid from (RFC 3339)")(
            "not-after", po::value<std::string>(), "valid until (RFC 3339)")("json", "print JSON");
        change_options(o);
        p.add("action", 1).add("arg", 1);
      },
      trust);
}

cli::Command import_command() {
  return command(
      "import", "import BUNDLE_DIR [VOLUME_DIR...]    verify a bundle and import it atomically",
      kUsage +
          "import BUNDLE_DIR [VOLUME_DIR...] [options]\n\n"
          "Verifies and imports a bundle, refusing with one line (exit 3) at the first\n"
          "problem: signatures over the raw manifest against the trust policy; format and\n"
          "expiry; sequence (the same bundle again is a no-op, an older or skipped one is\n"
          "refused, a delta must follow the last imported bundle); every volume's SHA-256\n"
          "before anything is decompressed; every object as it streams into the store;\n"
          "every snapshot complete. Then one atomic commit, logged with who imported it,\n"
          "from which media, and the exporting side's log records. A refused import\n"
          "changes nothing and is itself logged. Volumes may come from several directories\n"
          "(discs), in one call or over several: verified volumes wait in staging.\n\nexamples:\n"
          "  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000042 --publish "
          "test\n"
          "  airlock-repo --home /srv/airlock import /media/disc1/airlock-debian-000043 "
          "/media/disc2 --media-label \"DVD 43\"\n"
          "  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000044 --scan-cmd "
          "\"clamscan --no-summary {}\"\n",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("dirs", po::value<std::vector<std::string>>(),
                        "bundle directory, then volume directories")(
            "media-label", po::value<std::string>(), "label of the media it came on")(
            "publish", po::value<std::string>(), "publish the bundle's snapshots to this channel")(
            "scan-cmd", po::value<std::string>(), "scanner run on each new object; {} is its path")(
            "json", "print the result as JSON");
        change_options(o);
        p.add("dirs", -1);
      },
      import);
}

cli::Command snapshots_command() {
  return command(
      "snapshots", "snapshots                            snapshots in the store",
      kUsage +
          "snapshots [--json]\n\nThe snapshots imported so far, oldest first.\n\nexample:\n  "
          "airlock-repo --home /srv/airlock snapshots\n",
      [](cli::Options& o, cli::Positionals&) { o.add_options()("json", "print JSON"); },
      [](const Invocation& inv) {
        return with_home(
            inv, [](Home& x) { return x.snapshots(); }, print_snapshots);
      });
}

cli::Command channels_command() {
  return command(
      "channels", "channels                             what each channel serves",
      kUsage +
          "channels [--json]\n\nWhat each channel serves: channel, repository, "
          "snapshot.\n\nexample:\n  airlock-repo --home /srv/airlock channels --json\n",
      [](cli::Options& o, cli::Positionals&) { o.add_options()("json", "print JSON"); },
      [](const Invocation& inv) {
        return with_home(
            inv, [](Home& x) { return x.channels(); }, print_channels);
      });
}

cli::Command publish_command() {
  return command(
      "publish", "publish REPO SNAPSHOT --channel CH   point a channel at a snapshot",
      kUsage +
          "publish REPO SNAPSHOT --channel CH [--reason R] [--change-ref C]\n\n"
          "Points channel CH's REPO at SNAPSHOT (an id or a unique prefix of 6 or more\n"
          "digits). Hosts see it on their next request; the change is logged.\n\nexample:\n"
          "  airlock-repo --home /srv/airlock publish debian 3f2a9c --channel test\n",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("repo", po::value<std::string>(), "repository")(
            "snapshot", po::value<std::string>(), "snapshot")("channel", po::value<std::string>(),
                                                              "channel")("json", "print JSON");
        change_options(o);
        p.add("repo", 1).add("snapshot", 1);
      },
      [](const Invocation& inv) {
        if (!inv.has("repo") || !inv.has("snapshot") || !inv.has("channel")) {
          return cli::usage(inv, "needs REPO SNAPSHOT --channel CH");
        }
        return with_home(
            inv, [&](Home& x) { return publish(x, inv); }, print_channel);
      });
}

cli::Command promote_command() {
  return command(
      "promote",
      "promote FROM TO [REPO...]            copy a channel's snapshots to another (test -> prod)",
      kUsage +
          "promote FROM TO [REPO...] [--reason R] [--change-ref C]\n\n"
          "Copies channel FROM's snapshots (all repositories, or the ones named) to TO:\n"
          "what was tested becomes what production hosts get.\n\nexample:\n"
          "  airlock-repo --home /srv/airlock promote test prod --reason \"tested\" --change-ref "
          "CHG-1234\n",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("from", po::value<std::string>(), "source channel")(
            "to", po::value<std::string>(), "target channel")(
            "repos", po::value<std::vector<std::string>>(), "repositories")("json", "print JSON");
        change_options(o);
        p.add("from", 1).add("to", 1).add("repos", -1);
      },
      [](const Invocation& inv) {
        if (!inv.has("from") || !inv.has("to")) return cli::usage(inv, "needs FROM and TO");
        return with_home(
            inv,
            [&](Home& x) {
              return x.promote(inv.str("from"), inv.str("to"), list(inv, "repos"), who(inv));
            },
            print_channels);
      });
}

cli::Command rollback_command() {
  return command(
      "rollback", "rollback CH [REPO...]                one step back in a channel's history",
      kUsage +
          "rollback CH [REPO...] [--reason R] [--change-ref C]\n\n"
          "Moves channel CH (all repositories, or the ones named) one step back in its\n"
          "history: hosts get the previous snapshot again on their next update.\n\nexample:\n"
          "  airlock-repo --home /srv/airlock rollback prod --reason \"regression\" --change-ref "
          "INC-77\n",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("channel", po::value<std::string>(), "channel")(
            "repos", po::value<std::vector<std::string>>(), "repositories")("json", "print JSON");
        change_options(o);
        p.add("channel", 1).add("repos", -1);
      },
      [](const Invocation& inv) {
        if (!inv.has("channel")) return cli::usage(inv, "needs CH");
        return with_home(
            inv,
            [&](Home& x) { return x.rollback(inv.str("channel"), list(inv, "repos"), who(inv)); },
            print_channels);
      });
}

cli::Command serve_command() {
  return command(
      "serve", "serve [--listen 127.0.0.1:8080]      serve channels to apt hosts over HTTP",
      serve_help(),
      [](cli::Options& o, cli::Positionals&) {
        o.add_options()("listen", po::value<std::string>(),
                        "address and port (default 127.0.0.1:8080)")(
            "threads", po::value<int>(), "worker threads (default: one per core)")(
            "idle-timeout", po::value<int>(),
            "seconds before an idle connection closes (default 30)");
      },
      serve);
}

cli::Command scrub_command() {
  return command(
      "scrub", "scrub                                re-hash every object in the store",
      kUsage +
          "scrub [--json]\n\nRe-hashes every object in the store and reports missing or corrupt "
          "ones\n"
          "(expected and actual SHA-256). Exit 3 when anything is wrong. Logged.\n\nexample:\n  "
          "airlock-repo --home /srv/airlock scrub\n",
      [](cli::Options& o, cli::Positionals&) {
        o.add_options()("json", "print JSON");
        change_options(o);
      },
      scrub);
}

cli::Command status_command() {
  return command(
      "status", "status                               streams, channels, store size, log head",
      kUsage +
          "status [--json]\n\nThe last import of each stream, what each channel serves, the "
          "store's size\n"
          "and the log's head.\n\nexample:\n  airlock-repo --home /srv/airlock status --json\n",
      [](cli::Options& o, cli::Positionals&) { o.add_options()("json", "print JSON"); },
      [](const Invocation& inv) {
        return with_home(
            inv, [](Home& x) { return x.status(); }, print_status);
      });
}

std::vector<cli::Command> commands() {
  return {init_command(),      trust_command(),    import_command(),
          snapshots_command(), channels_command(), publish_command(),
          promote_command(),   rollback_command(), serve_command(),
          scrub_command(),     status_command(),   log_command<Home>("airlock-repo")};
}

}  // namespace

int main(int argc, char** argv) {
  cli::Program program{
      "airlock-repo",
      "The isolated side of airlock: verify and import bundles, publish snapshots to\n"
      "channels, serve apt hosts, and log every transfer.",
      "  airlock-repo --home /srv/airlock init\n"
      "  airlock-repo --home /srv/airlock trust add /media/usb/alice.pub --name alice\n"
      "  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000042 --publish test\n"
      "  airlock-repo --home /srv/airlock promote test prod --reason \"patch Tuesday\"\n"
      "  airlock-repo --home /srv/airlock serve --listen 0.0.0.0:8080\n",
      true, commands()};
  return cli::run(program, argc, argv);
}
