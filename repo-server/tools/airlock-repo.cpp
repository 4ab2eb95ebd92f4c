// airlock-repo: the isolated (high) side. An argument adapter over
// repo::Home: each command parses its options, calls one method and prints
// the result (repo/output.h) as text or JSON.
#include <systemd/sd-daemon.h>
#include <time.h>

#include <atomic>
#include <iostream>
#include <sstream>

#include "airlock/base/cli.h"
#include "airlock/base/text.h"
#include "airlock/repo/home.h"
#include "airlock/repo/output.h"
#include "airlock/repo/settings.h"
#include "airlock/repo/usage.h"
#include "airlock/transfer/changes.h"
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
// Commands that only read pass reading_options(inv.home).
template <class F, class P>
int with_home(const Invocation& inv, F f, P print, HomeOptions options = {}) {
  auto home = Home::open(inv.home, command_options(inv, options));
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
  cli::field("settings",
             (inv.home / "repo.toml").string() + (r->new_settings ? " (new)" : " (kept)"));
  cli::field("site key", "OpenPGP " + r->site_key + (r->new_site_key ? " (new)" : " (kept)") +
                             "; hosts get it with 'site-key export'");
  return 0;
}

// The public half of the site key, for hosts' signed-by.
int site_key(const Invocation& inv) {
  if (inv.str("action") != "export") return cli::usage(inv, "the only action is 'export'");
  auto home = Home::open(inv.home, command_options(inv));
  if (!home) return cli::fail(inv, home.error());
  auto key = (*home)->site_key();
  if (!key) return cli::fail(inv, key.error());
  auto text = key->export_public(!inv.has("binary"));
  if (!text) return cli::fail(inv, text.error());
  if (!inv.has("out")) {
    std::cout << *text;
    return 0;
  }
  if (auto s = Env::system().write_file_atomic(inv.str("out"), *text); !s)
    return cli::fail(inv, s.error());
  if (!inv.quiet) {
    cli::field("site key", key->fingerprint());
    cli::field("written", inv.str("out"));
  }
  return 0;
}

// `ca init | issue HOST | revoke HOST | crl | list`: the site CA.
int ca(const Invocation& inv) {
  const auto action = inv.str("action"), host = inv.str("host");
  if (action == "list") {
    if (inv.has("host")) return cli::usage(inv, "list takes no HOST");
    return with_home(
        inv, [](Home& h) { return h.ca_list(); }, print_ca_list, reading_options(inv.home));
  }
  const bool needs_host = action == "issue" || action == "revoke";
  if (!needs_host && action != "init" && action != "crl")
    return cli::usage(inv, "init, issue HOST, revoke HOST, crl or list?");
  if (needs_host != inv.has("host"))
    return cli::usage(inv, action + (needs_host ? ": missing HOST" : " takes no HOST"));
  if ((inv.has("out") && action != "issue") ||
      (inv.has("days") && action != "issue" && action != "init") ||
      (inv.has("name") && action != "init"))
    return cli::usage(inv, "--days goes with init and issue, --out with issue, --name with init");
  auto change = [&](Home& h) -> Result<CaReport> {
    if (action == "init")
      return h.ca_init({inv.str("name"), inv.get<int>("days", kCaDefaultDays)}, who(inv));
    if (action == "issue")
      return h.ca_issue({host, inv.str("out"), inv.get<int>("days", kHostDefaultDays)}, who(inv));
    if (action == "revoke") return h.ca_revoke(host, who(inv));
    return h.ca_crl(who(inv));
  };
  return with_home(inv, change, print_ca_change);
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
  if (action == "max-validity")
    return home.trust_max_validity(number ? std::stoi(arg) : 0, who(inv));
  return home.trust_threshold(number ? std::stoi(arg) : 0, who(inv));
}

int trust(const Invocation& inv) {
  const auto action = inv.str("action");
  if (action == "list")
    return with_home(
        inv, [](Home& h) { return h.trust(); }, print_trust, reading_options(inv.home));
  if (action != "add" && action != "remove" && action != "threshold" && action != "max-validity") {
    return cli::usage(inv, "add, list, remove, threshold or max-validity?");
  }
  if (!inv.has("arg")) return cli::usage(inv, action + ": missing argument");
  return with_home(
      inv, [&](Home& h) { return trust_change(h, inv); }, print_trust_change);
}

// access add: the rule the options describe; --ca names a certificate file,
// stored by its fingerprint.
Result<AccessReport> access_add(Home& home, const Invocation& inv) {
  AccessRule rule;
  rule.name = inv.str("name");
  rule.channels = list(inv, "channel");
  if (inv.has("repo")) rule.repos = list(inv, "repo");
  rule.cn = inv.str("cn");
  rule.ou = inv.str("ou");
  rule.fingerprint = inv.str("fingerprint");
  rule.addresses = list(inv, "address");
  if (inv.has("ca")) {
    auto ca = certificate_fingerprint(inv.str("ca"));
    if (!ca) return fail(ca.error().context("--ca"));
    rule.ca = *ca;
  }
  return home.access_add(std::move(rule), who(inv));
}

int access(const Invocation& inv) {
  const auto action = inv.str("action");
  if (action == "list")
    return with_home(
        inv, [](Home& h) { return h.access(); }, print_access, reading_options(inv.home));
  if (action == "remove") {
    if (!inv.has("arg")) return cli::usage(inv, "remove: missing NAME");
    return with_home(
        inv, [&](Home& h) { return h.access_remove(inv.str("arg"), who(inv)); },
        print_access_change);
  }
  if (action != "add") return cli::usage(inv, "add, remove or list?");
  if (inv.has("arg")) return cli::usage(inv, "add: the rule's name goes with --name");
  if (!inv.has("name") || !inv.has("channel"))
    return cli::usage(inv, "add needs --name NAME and --channel CH");
  return with_home(
      inv, [&](Home& h) { return access_add(h, inv); }, print_access_change);
}

int import(const Invocation& inv) {
  auto dirs = list(inv, "dirs");
  if (dirs.empty()) return cli::usage(inv, "missing BUNDLE_DIR");
  const auto w = who(inv);
  ImportOptions opt;
  opt.operator_name = w.operator_name;
  opt.media_label = inv.str("media-label");
  opt.reason = w.reason;
  opt.change_ref = w.change_ref;
  opt.scan_cmd = inv.str("scan-cmd");
  opt.now = system_now();
  opt.create = inv.has("create");
  if (inv.has("publish")) {
    opt.publish = inv.str("publish");
    if (!valid_channel_name(*opt.publish))
      return cli::usage(inv, "--publish: not a valid channel name");
  } else if (opt.create) {
    return cli::usage(inv, "--create goes with --publish CH");
  }
  cli::Progress progress("import", inv.progress());
  if (!inv.json()) {
    opt.verified = [&](const std::vector<RepoChanges>& changes) {
      progress.finish();
      std::cout << "verified; the bundle carries:\n";
      print_changes(std::cout, changes);
      std::cout.flush();
    };
  }
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
  auto id = h.resolve_snapshot(inv.str("snapshot"));
  if (!id) return fail(id.error());
  return h.publish(inv.str("repo"), *id, inv.str("channel"), who(inv), inv.has("create"));
}

// `snapshots` lists, `snapshots show ID` shows one.
int snapshots(const Invocation& inv) {
  const auto action = inv.str("action");
  if (action.empty()) {
    return with_home(
        inv, [](Home& h) { return h.snapshots(); }, print_snapshots, reading_options(inv.home));
  }
  if (action != "show") return cli::usage(inv, "'" + action + "': show ID?");
  if (!inv.has("id")) return cli::usage(inv, "show: missing ID");
  return with_home(
      inv, [&](Home& h) { return h.snapshot(inv.str("id")); }, print_snapshot,
      reading_options(inv.home));
}

// `channels` lists what each channel serves; `channels --history [CH]` how
// each came to serve it.
int channels(const Invocation& inv) {
  if (inv.has("history")) {
    return with_home(
        inv, [&](Home& h) { return h.channel_history(inv.str("channel")); }, print_channel_history,
        reading_options(inv.home));
  }
  if (inv.has("channel")) return cli::usage(inv, "CH goes with --history");
  return with_home(
      inv, [](Home& h) { return h.channels(); }, print_channels, reading_options(inv.home));
}

// Tells systemd (a Type=notify unit, $NOTIFY_SOCKET) what the server does,
// around the callbacks opt has: READY=1 once every address is listened on;
// RELOADING=1 when a SIGHUP arrives and READY=1 once the reload is done
// (it keeps serving meanwhile); STOPPING=1 when SIGTERM arrives, before
// the connections drain. Without $NOTIFY_SOCKET sd_notify sends nothing.
// *stopping is set once STOPPING=1 is sent.
void notify_systemd(ServeOptions& opt, std::shared_ptr<std::atomic<bool>> stopping) {
  const std::size_t listeners = !opt.listen.empty() + !opt.listen_tls.empty();
  opt.on_ready = [ready = std::size_t{0}, listeners, print = std::move(opt.on_ready)](
                     const std::string& address, bool tls) mutable {
    if (print) print(address, tls);
    if (++ready == listeners) sd_notify(0, "READY=1\nSTATUS=serving");
  };
  opt.on_reloading = [] {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    sd_notifyf(0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%lld",
               static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000);
  };
  opt.on_reload = [print = std::move(opt.on_reload)](const Status& reloaded) {
    if (print) print(reloaded);
    sd_notify(0, reloaded ? "READY=1\nSTATUS=serving"
                          : "READY=1\nSTATUS=serving; the last reload failed");
  };
  opt.on_stopping = [stopping] {
    sd_notify(0, "STOPPING=1\nSTATUS=draining the connections");
    *stopping = true;
  };
}

// repo.toml's settings, overridden by the options given.
int serve(const Invocation& inv) {
  auto home = Home::open(inv.home, command_options(inv));
  if (!home) return cli::fail(inv, home.error());
  auto settings = load_settings((*home)->settings_file());
  if (!settings) return cli::fail(inv, settings.error());
  ServeOptions opt = std::move(*settings);
  if (inv.has("listen")) opt.listen = inv.str("listen");
  if (inv.has("listen-tls")) {
    opt.listen_tls = inv.str("listen-tls");
    // HTTPS alone, unless HTTP is asked for as well.
    if (!inv.has("listen") && !opt.listen_set) opt.listen.clear();
  }
  if (inv.has("tls-cert")) opt.tls_cert = inv.str("tls-cert");
  if (inv.has("tls-key")) opt.tls_key = inv.str("tls-key");
  if (inv.has("client-ca")) opt.client_ca = inv.str("client-ca");
  if (inv.has("crl")) opt.crl = inv.str("crl");
  if (!opt.listen_tls.empty() && (opt.tls_cert.empty() || opt.tls_key.empty()))
    return cli::usage(inv, "--listen-tls needs --tls-cert and --tls-key");
  if (opt.listen_tls.empty() &&
      (!opt.tls_cert.empty() || !opt.tls_key.empty() || !opt.client_ca.empty() || !opt.crl.empty()))
    return cli::usage(inv, "--tls-cert, --tls-key, --client-ca and --crl go with --listen-tls");
  if (!opt.crl.empty() && opt.client_ca.empty())
    return cli::usage(inv, "--crl goes with --client-ca");
  if (inv.has("threads")) opt.threads = inv.get<int>("threads");
  if (inv.has("idle-timeout"))
    opt.idle_timeout = std::chrono::seconds(std::max(1, inv.get<int>("idle-timeout")));
  if (inv.has("syslog")) opt.syslog_socket = "/dev/log";
  if (inv.has("syslog-socket")) opt.syslog_socket = inv.str("syslog-socket");
  opt.on_ready = [](const std::string& address, bool tls) {
    std::cout << "serving on " << (tls ? "https://" : "http://") << address << "/<channel>/<repo>/"
              << std::endl;
  };
  opt.on_reload = [tls = !opt.listen_tls.empty()](const Status& reloaded) {
    if (reloaded) {
      std::cout << (tls ? "reloaded the certificate, key, client CA, revocation lists and access "
                          "policy"
                        : "reloaded the access policy")
                << std::endl;
    } else {
      std::cerr << "airlock-repo: reload failed, serving with what was loaded before: "
                << escape_for_terminal(reloaded.error().message) << std::endl;
    }
  };
  auto stopping = std::make_shared<std::atomic<bool>>(false);
  notify_systemd(opt, stopping);
  auto served = (*home)->serve(opt);
  // Serving failed before any signal: systemd hears that it stops too.
  if (!*stopping) sd_notify(0, "STOPPING=1");
  if (!served) return cli::fail(inv, served.error());
  std::cout << "stopped" << std::endl;
  return 0;
}

int scrub(const Invocation& inv) {
  cli::Progress progress("scrub", inv.progress());
  auto home = Home::open(inv.home, command_options(inv));
  if (!home) return cli::fail(inv, home.error());
  auto r = (*home)->scrub(who(inv));
  progress.finish();
  if (!r) return cli::fail(inv, r.error());
  inv.json() ? cli::print_json(to_json(*r)) : print_scrub(std::cout, *r);
  return r->ok() ? 0 : 3;
}

// The command named name, documented as repo/usage.h says.
cli::Command command(std::string_view name,
                     std::function<void(cli::Options&, cli::Positionals&)> options,
                     std::function<int(const Invocation&)> run) {
  const auto& u = repo_usage(name);
  return {std::string(u.name), std::string(u.summary), std::string(u.help), std::move(options),
          std::move(run)};
}

cli::Command init_command() { return command("init", nullptr, init); }

cli::Command site_key_command() {
  return command(
      "site-key",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("action", po::value<std::string>(), "export")(
            "out", po::value<std::string>(), "write to this file instead of standard output")(
            "binary", "binary OpenPGP instead of ASCII armor");
        p.add("action", 1);
      },
      site_key);
}

cli::Command ca_command() {
  return command(
      "ca",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("action", po::value<std::string>(), "init, issue, revoke, crl, list")(
            "host", po::value<std::string>(), "HOST: a DNS name or an IP address")(
            "name", po::value<std::string>(), "init: the CA's CN")(
            "days", po::value<int>(), "init: 3650 (default); issue: 825 (default)")(
            "out", po::value<std::string>(), "issue: write the host's files here")("json",
                                                                                   "print JSON");
        change_options(o);
        p.add("action", 1).add("host", 1);
      },
      ca);
}

cli::Command trust_command() {
  return command(
      "trust",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("action", po::value<std::string>(),
                        "add, list, remove, threshold, max-validity")(
            "arg", po::value<std::string>(), "PUB, KEYID or N")(
            "name", po::value<std::string>(), "key name")("not-before", po::value<std::string>(),
                                                          "valid from (RFC 3339)")(
            "not-after", po::value<std::string>(), "valid until (RFC 3339)")("json", "print JSON");
        change_options(o);
        p.add("action", 1).add("arg", 1);
      },
      trust);
}

cli::Command access_command() {
  return command(
      "access",
      [](cli::Options& o, cli::Positionals& p) {
        using many = std::vector<std::string>;
        o.add_options()("action", po::value<std::string>(), "add, remove, list")(
            "arg", po::value<std::string>(), "NAME (remove)")("name", po::value<std::string>(),
                                                              "the rule's name (add)")(
            "channel", po::value<many>(), "a channel it grants, or \"*\" (repeatable)")(
            "repo", po::value<many>(), "a repository it grants (repeatable; default all)")(
            "cn", po::value<std::string>(), "certificate CN pattern (glob)")(
            "ou", po::value<std::string>(), "certificate OU pattern (glob)")(
            "fingerprint", po::value<std::string>(), "certificate SHA-256 fingerprint")(
            "ca", po::value<std::string>(), "PEM certificate of the issuing CA")(
            "address", po::value<many>(), "client address or CIDR range (repeatable)")(
            "json", "print JSON");
        change_options(o);
        p.add("action", 1).add("arg", 1);
      },
      access);
}

cli::Command import_command() {
  return command(
      "import",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("dirs", po::value<std::vector<std::string>>(),
                        "bundle directory, then volume directories")(
            "media-label", po::value<std::string>(), "label of the media it came on")(
            "publish", po::value<std::string>(), "publish the bundle's snapshots to this channel")(
            "create", "with --publish: make the channel if it does not exist")(
            "scan-cmd", po::value<std::string>(),
            "sh command line run on each new object; {} is its path")("json",
                                                                      "print the result as JSON");
        change_options(o);
        p.add("dirs", -1);
      },
      import);
}

cli::Command snapshots_command() {
  return command(
      "snapshots",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("action", po::value<std::string>(), "show")(
            "id", po::value<std::string>(), "snapshot id or prefix")("json", "print JSON");
        p.add("action", 1).add("id", 1);
      },
      snapshots);
}

cli::Command diff_command() {
  return command(
      "diff",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("from", po::value<std::string>(), "snapshot")(
            "to", po::value<std::string>(), "snapshot")("json", "print JSON");
        p.add("from", 1).add("to", 1);
      },
      [](const Invocation& inv) {
        if (!inv.has("from") || !inv.has("to")) return cli::usage(inv, "needs A and B");
        return with_home(
            inv, [&](Home& h) { return h.diff(inv.str("from"), inv.str("to")); }, print_diff);
      });
}

cli::Command channels_command() {
  return command(
      "channels",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("history", "every change, with its package diff")(
            "channel", po::value<std::string>(), "only this channel's history")("json",
                                                                                "print JSON");
        p.add("channel", 1);
      },
      channels);
}

cli::Command channel_command() {
  return command(
      "channel",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("action", po::value<std::string>(), "delete")(
            "channel", po::value<std::string>(), "channel")("json", "print JSON");
        change_options(o);
        p.add("action", 1).add("channel", 1);
      },
      [](const Invocation& inv) {
        if (inv.str("action") != "delete") return cli::usage(inv, "delete CH?");
        if (!inv.has("channel")) return cli::usage(inv, "delete: missing CH");
        return with_home(
            inv, [&](Home& h) { return h.delete_channel(inv.str("channel"), who(inv)); },
            print_deleted);
      });
}

cli::Command publish_command() {
  return command(
      "publish",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("repo", po::value<std::string>(), "repository")(
            "snapshot", po::value<std::string>(), "snapshot")("channel", po::value<std::string>(),
                                                              "channel")(
            "create", "make the channel if it does not exist")("json", "print JSON");
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
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("from", po::value<std::string>(), "source channel")(
            "to", po::value<std::string>(), "target channel")(
            "repos", po::value<std::vector<std::string>>(), "repositories")(
            "create", "make TO if it does not exist")("json", "print JSON");
        change_options(o);
        p.add("from", 1).add("to", 1).add("repos", -1);
      },
      [](const Invocation& inv) {
        if (!inv.has("from") || !inv.has("to")) return cli::usage(inv, "needs FROM and TO");
        return with_home(
            inv,
            [&](Home& x) {
              return x.promote(inv.str("from"), inv.str("to"), list(inv, "repos"), who(inv),
                               inv.has("create"));
            },
            print_channels);
      });
}

cli::Command rollback_command() {
  return command(
      "rollback",
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
      "serve",
      [](cli::Options& o, cli::Positionals&) {
        o.add_options()("listen", po::value<std::string>(),
                        "address and port for HTTP (default 127.0.0.1:8080; none with "
                        "--listen-tls unless given)")("listen-tls", po::value<std::string>(),
                                                      "address and port for HTTPS")(
            "tls-cert", po::value<std::string>(), "the server's certificate chain (PEM)")(
            "tls-key", po::value<std::string>(), "its private key (PEM)")(
            "client-ca", po::value<std::string>(),
            "ask HTTPS clients for a certificate issued by this CA (PEM)")(
            "crl", po::value<std::string>(), "a revocation list of that CA (PEM)")(
            "threads", po::value<int>(), "worker threads (default: one per core)")(
            "idle-timeout", po::value<int>(),
            "seconds before an idle connection closes (default 30)")(
            "syslog", "also send every log record to the local syslog (/dev/log), RFC 5424")(
            "syslog-socket", po::value<std::string>(), "the same, to this syslog socket");
      },
      serve);
}

cli::Command scrub_command() {
  return command(
      "scrub",
      [](cli::Options& o, cli::Positionals&) {
        o.add_options()("json", "print JSON");
        change_options(o);
      },
      scrub);
}

cli::Command status_command() {
  return command(
      "status", [](cli::Options& o, cli::Positionals&) { o.add_options()("json", "print JSON"); },
      [](const Invocation& inv) {
        return with_home(
            inv, [](Home& x) { return x.status(); }, print_status, reading_options(inv.home));
      });
}

// `config check`: one line a problem; exit 2 when there is one (warnings
// do not count), 1 when the home cannot be read.
int config(const Invocation& inv) {
  if (inv.str("action") != "check") return cli::usage(inv, "the only action is 'check'");
  auto home = Home::open(inv.home, command_options(inv, reading_options(inv.home)));
  if (!home) return cli::fail(inv, home.error());
  auto check = (*home)->check_config(system_now());
  if (!check) return cli::fail(inv, check.error());
  inv.json() ? cli::print_json(to_json(*check)) : print_config_check(std::cout, *check);
  return check->ok() ? 0 : 2;
}

cli::Command config_command() {
  return command(
      "config",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("action", po::value<std::string>(), "check")("json", "print JSON");
        p.add("action", 1);
      },
      config);
}

// Prints the trace and, with --proof OUT, writes its proof to OUT.
int trace(const Invocation& inv) {
  if (!inv.has("query")) return cli::usage(inv, "needs FILE, SHA256 or NAME=VERSION");
  auto home = Home::open(inv.home, command_options(inv, reading_options(inv.home)));
  if (!home) return cli::fail(inv, home.error());
  auto t = (*home)->trace(inv.str("query"));
  if (!t) return cli::fail(inv, t.error());
  if (inv.has("proof")) {
    auto proof = trace_proof((*home)->log(), *t);
    if (!proof) return cli::fail(inv, proof.error());
    if (auto s = (*home)->env().write_file_atomic(inv.str("proof"), proof->dump(2) + "\n"); !s)
      return cli::fail(inv, s.error());
  }
  inv.json() ? cli::print_json(to_json(*t)) : print_trace(std::cout, *t);
  return 0;
}

cli::Command trace_command() {
  return command(
      "trace",
      [](cli::Options& o, cli::Positionals& p) {
        o.add_options()("query", po::value<std::string>(), "FILE, SHA256 or NAME=VERSION")(
            "proof", po::value<std::string>(), "write the chain's proof to this file")(
            "json", "print JSON");
        p.add("query", 1);
      },
      trace);
}

// Writes the report to --out (atomically) or stdout; with --out, says what
// it holds. Exit 3, after writing it, when the log does not verify.
int report(const Invocation& inv) {
  const std::string format = inv.json() ? "json" : inv.str("format", "html");
  if (format != "html" && format != "json" && format != "csv")
    return cli::usage(inv, "--format is html, json or csv");
  ReportOptions options;
  for (const char* bound : {"since", "until"}) {
    auto t = time_option(inv, bound);
    if (!t) return cli::usage(inv, t.error().message);
    (std::string_view(bound) == "since" ? options.since : options.until) = *t;
  }
  if (options.since && options.until && *options.since > *options.until)
    return cli::usage(inv, "--since is after --until");
  auto home = Home::open(inv.home, command_options(inv, reading_options(inv.home)));
  if (!home) return cli::fail(inv, home.error());
  options.now = system_now();
  auto r = (*home)->report(options);
  if (!r) return cli::fail(inv, r.error());
  auto write = [&](std::ostream& out) {
    if (format == "html") {
      write_report_html(out, *r);
    } else if (format == "csv") {
      write_report_csv(out, *r);
    } else {
      write_report_json(out, *r);
    }
  };
  if (inv.has("out")) {
    if (auto s = (*home)->env().write_file_atomic(inv.str("out"), write); !s)
      return cli::fail(inv, s.error());
    if (!inv.quiet) print_report_summary(std::cout, *r, inv.str("out"), format);
  } else {
    write(std::cout);
    std::cout << std::flush;
  }
  const auto& integrity = r->head()["integrity"];
  if (!integrity.value("verified", false)) {
    std::cerr << inv.program << ": report: "
              << escape_for_terminal("the transfer log does not verify: " +
                                     integrity.value("error", std::string()))
              << "\n";
    return 3;
  }
  return 0;
}

cli::Command report_command() {
  return command(
      "report",
      [](cli::Options& o, cli::Positionals&) {
        o.add_options()("since", po::value<std::string>(), "from this time or date (UTC)")(
            "until", po::value<std::string>(), "up to this time or date (UTC)")(
            "format", po::value<std::string>(), "html (default), json or csv")(
            "out", po::value<std::string>(), "write to this file (default: standard output)")(
            "json", "the same as --format json");
      },
      report);
}

// access comes after trust in --help: who may sign, then who may read.
std::vector<cli::Command> with_access(std::vector<cli::Command> commands) {
  commands.insert(commands.begin() + 2, access_command());
  return commands;
}

std::vector<cli::Command> commands() {
  return {init_command(),
          trust_command(),
          import_command(),
          snapshots_command(),
          diff_command(),
          channels_command(),
          channel_command(),
          publish_command(),
          promote_command(),
          rollback_command(),
          serve_command(),
          scrub_command(),
          status_command(),
          config_command(),
          site_key_command(),
          ca_command(),
          trace_command(),
          report_command(),
          log_command<Home>("airlock-repo")};
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
      "  airlock-repo --home /srv/airlock channels --history prod\n"
      "  airlock-repo --home /srv/airlock promote test prod --reason \"patch Tuesday\"\n"
      "  airlock-repo --home /srv/airlock serve --listen 0.0.0.0:8080\n",
      true, with_access(commands())};
  return cli::run(program, argc, argv);
}
