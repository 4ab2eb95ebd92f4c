// airlock-repo: the isolated (high) side. Verifies and imports bundles,
// publishes snapshots to channels, serves hosts, logs every transfer.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "airlock/repo/channels.h"
#include "airlock/repo/import.h"
#include "airlock/repo/server.h"
#include "airlock/base/cli.h"
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
using namespace airlock::repo;

namespace {

constexpr std::string_view kProgram = "airlock-repo";

const char* kUsage = R"(usage: airlock-repo [--home DIR] COMMAND [options]

The isolated side of airlock: verify and import bundles, publish snapshots to
channels, serve apt hosts, and log every transfer.

commands:
  init                                 create the home: trust.json, store, log, log key
  trust add PUB | list | remove KEYID | threshold N
                                       who may sign bundles, and how many must agree
  import BUNDLE_DIR [VOLUME_DIR...]     verify a bundle and import it atomically
  snapshots                            snapshots in the store
  channels                             what each channel serves
  publish REPO SNAPSHOT --channel CH   point a channel at a snapshot
  promote FROM TO [REPO...]            copy a channel's snapshots to another (test -> prod)
  rollback CH [REPO...]                one step back in a channel's history
  serve [--listen 127.0.0.1:8080]      serve channels to apt hosts over HTTP
  log show|export|verify|prove N       the transfer log
  scrub                                re-hash every object in the store
  status                               streams, channels, store size, log head

global options:
  --home DIR        the repository home (default: $AIRLOCK_HOME)
  -q, --quiet       no progress display
  -h, --help        this help; 'airlock-repo COMMAND --help' for a command

examples:
  airlock-repo --home /srv/airlock init
  airlock-repo --home /srv/airlock trust add /media/usb/alice.pub --name alice
  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000042 --publish test
  airlock-repo --home /srv/airlock promote test prod --reason "patch Tuesday" --change-ref CHG-1234
  airlock-repo --home /srv/airlock serve --listen 0.0.0.0:8080

Exit codes: 0 success, 1 operational error, 2 usage, 3 verification refused.
)";

struct Global {
  fs::path home;
  bool quiet = false;
};

int usage_error(const std::string& message) {
  std::cerr << kProgram << ": " << message << "\n(run 'airlock-repo --help')\n";
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
  void add_change_options() {
    opts.add_options()("operator", po::value<std::string>(), "who does this (default: login name)")(
        "reason", po::value<std::string>()->default_value(""), "why")(
        "change-ref", po::value<std::string>()->default_value(""), "change ticket");
  }
};

ChangeInfo change_info(const po::variables_map& vm) {
  return {vm.count("operator") ? vm["operator"].as<std::string>() : operator_name(),
          vm["reason"].as<std::string>(), vm["change-ref"].as<std::string>()};
}

struct Opened {
  RepoHome home;
  std::unique_ptr<Store> store;
  std::unique_ptr<TransferLog> log;
};

Result<Opened> open_home(const Global& g) {
  Opened o{RepoHome{g.home, {}}, nullptr, nullptr};
  if (auto s = o.home.require(); !s) return fail(s.error());
  auto store = o.home.open_store();
  if (!store) return fail(store.error());
  o.store = std::move(*store);
  auto log = o.home.open_log(*o.store);
  if (!log) return fail(log.error());
  o.log = std::move(*log);
  return o;
}

void field(const std::string& name, const std::string& value) {
  std::cout << name << std::string(name.size() < 11 ? 11 - name.size() : 1, ' ') << value << "\n";
}

#define HELP_OR(vm, c) \
  if ((vm).count("help")) return std::cout << (c).opts << "\n", 0

// --- init / trust --------------------------------------------------------------

int cmd_init(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR init

Creates the repository home: an empty trust policy (add the bundle signers'
keys with 'trust add'), the store, the transfer log and its key
keys/log.key (give keys/log.pub to auditors). Safe to run again.

example:
  airlock-repo --home /srv/airlock init

options)");
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  if (g.home.empty()) return usage_error("init: pass --home DIR or set AIRLOCK_HOME");
  RepoHome home{g.home, {}};
  auto created = home.init(operator_name());
  if (!created) return error(created.error());
  field("home", fs::absolute(home.dir).string());
  field("trust", home.trust_file().string() + " (add signers with 'airlock-repo trust add')");
  field("log key", (home.keys() / "log.pub").string());
  return 0;
}

int cmd_trust(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR trust add PUB [--name N] [--not-before T] [--not-after T]
       airlock-repo --home DIR trust list [--json]
       airlock-repo --home DIR trust remove KEYID
       airlock-repo --home DIR trust threshold N

The trust policy: which Ed25519 keys may sign bundles, within which dates,
and how many distinct signatures a bundle needs (2: no single person can
push a bundle in). Every change is logged with a checkpoint.

examples:
  airlock-repo --home /srv/airlock trust add alice.pub --name alice
  airlock-repo --home /srv/airlock trust add bob.pub --name bob --not-after 2027-12-31T00:00:00Z
  airlock-repo --home /srv/airlock trust threshold 2

options)");
  c.opts.add_options()("action", po::value<std::string>(), "add, list, remove, threshold")(
      "arg", po::value<std::string>(), "PUB, KEYID or N")("name", po::value<std::string>(), "name for the key")(
      "not-before", po::value<std::string>(), "valid from (RFC 3339)")(
      "not-after", po::value<std::string>(), "valid until (RFC 3339)")("json", "print JSON");
  c.add_change_options();
  c.pos.add("action", 1).add("arg", 1);
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  if (!vm.count("action")) return usage_error("trust: add, list, remove or threshold?");
  auto o = open_home(g);
  if (!o) return error(o.error());
  auto policy = o->home.trust();
  if (!policy) return error(policy.error());
  const auto action = vm["action"].as<std::string>();
  if (action == "list") {
    json out{{"threshold", policy->threshold}, {"keys", json::array()}};
    for (const auto& k : policy->keys) {
      out["keys"].push_back({{"name", k.name}, {"keyid", k.key.id().hex()},
                             {"not_before", k.not_before ? json(format_time(*k.not_before)) : json(nullptr)},
                             {"not_after", k.not_after ? json(format_time(*k.not_after)) : json(nullptr)}});
    }
    if (vm.count("json")) return std::cout << out.dump(2) << "\n", 0;
    field("threshold", std::to_string(policy->threshold));
    for (const auto& k : policy->keys) {
      std::cout << k.key.id().hex() << "  " << k.name
                << (k.not_before ? "  from " + format_time(*k.not_before) : "")
                << (k.not_after ? "  until " + format_time(*k.not_after) : "") << "\n";
    }
    return 0;
  }
  if (!vm.count("arg")) return usage_error("trust " + action + ": missing argument");
  const auto arg = vm["arg"].as<std::string>();
  json rec{{"action", action}};
  if (action == "add") {
    auto pub = PublicKey::read_file(arg);
    if (!pub) return error(pub.error());
    TrustedKey k{vm.count("name") ? vm["name"].as<std::string>() : fs::path(arg).stem().string(), *pub, {}, {}};
    for (auto [opt, slot] : {std::pair{"not-before", &k.not_before}, std::pair{"not-after", &k.not_after}}) {
      if (!vm.count(opt)) continue;
      auto t = parse_time(vm[opt].as<std::string>());
      if (!t) return usage_error(std::string("trust add: --") + opt + ": " + t.error().message);
      *slot = *t;
    }
    if (auto s = policy->add(k); !s) return error(s.error());
    rec["name"] = k.name;
    rec["keyid"] = pub->id().hex();
  } else if (action == "remove") {
    auto id = KeyId::parse(arg);
    if (!id) return usage_error("trust remove: " + id.error().message);
    const auto* k = policy->find(*id);
    if (k) rec["name"] = k->name;
    if (auto s = policy->remove(*id); !s) return error(s.error());
    rec["keyid"] = id->hex();
  } else if (action == "threshold") {
    int n = 0;
    try {
      n = std::stoi(arg);
    } catch (...) {
    }
    if (n < 1 || n > 1000) return usage_error("trust threshold: N must be from 1 to 1000");
    rec["from"] = policy->threshold;
    policy->threshold = n;
    rec["threshold"] = n;
  } else {
    return usage_error("trust: add, list, remove or threshold?");
  }
  if (policy->threshold > static_cast<int>(policy->keys.size()) && !policy->keys.empty()) {
    std::cerr << kProgram << ": note: the threshold " << policy->threshold << " is higher than the "
              << policy->keys.size() << " trusted key(s); no bundle can be imported until more are added\n";
  }
  if (auto s = policy->save(o->home.trust_file()); !s) return error(s.error());
  auto who = change_info(vm);
  rec["operator"] = who.operator_name;
  rec["reason"] = who.reason;
  rec["change_ref"] = who.change_ref;
  auto key = o->home.log_key();
  if (!key) return error(key.error());
  if (auto n = o->log->append("trust", rec.dump()); !n) return error(n.error());
  if (auto cp = o->log->checkpoint(*key); !cp) return error(cp.error());
  std::cout << "trust " << action << ": done (threshold " << policy->threshold << ", " << policy->keys.size()
            << " key(s))\n";
  return 0;
}

// --- import ---------------------------------------------------------------------

int cmd_import(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR import BUNDLE_DIR [VOLUME_DIR...] [options]

Verifies and imports a bundle, in this order, refusing with one line (exit 3)
at the first problem: signatures over the raw manifest against the trust
policy; format and expiry; sequence (the same bundle again is a no-op, an
older or skipped one is refused, a delta must follow the last imported
bundle of its stream); every volume's SHA-256, copied to staging before
anything is decompressed; every object as it streams into the store; every
snapshot complete. Then one atomic commit, logged with who imported it, from
which media, and the exporting side's log records. A refused import changes
nothing and is itself logged. Volumes may come from several directories
(discs), in one call or over several: verified volumes wait in staging.

examples:
  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000042 --publish test
  airlock-repo --home /srv/airlock import /media/disc1/airlock-debian-000043 /media/disc2 --media-label "DVD 43/1-2"
  airlock-repo --home /srv/airlock import /media/usb/airlock-debian-000044 --scan-cmd "clamscan --no-summary {}"

options)");
  c.opts.add_options()("dirs", po::value<std::vector<std::string>>(), "bundle directory, then volume directories")(
      "media-label", po::value<std::string>()->default_value(""), "label of the media it came on")(
      "publish", po::value<std::string>(), "publish the bundle's snapshots to this channel")(
      "scan-cmd", po::value<std::string>()->default_value(""), "scanner run on each new object; {} is its path")(
      "json", "print the result as JSON");
  c.add_change_options();
  c.pos.add("dirs", -1);
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  if (!vm.count("dirs")) return usage_error("import: missing BUNDLE_DIR");
  auto o = open_home(g);
  if (!o) return error(o.error());
  std::vector<fs::path> dirs;
  for (const auto& d : vm["dirs"].as<std::vector<std::string>>()) dirs.emplace_back(d);
  ImportOptions opt;
  auto who = change_info(vm);
  opt.operator_name = who.operator_name;
  opt.reason = who.reason;
  opt.change_ref = who.change_ref;
  opt.media_label = vm["media-label"].as<std::string>();
  if (vm.count("publish")) {
    opt.publish = vm["publish"].as<std::string>();
    if (!valid_channel_name(*opt.publish)) return usage_error("import: --publish: not a valid channel name");
  }
  opt.scan_cmd = vm["scan-cmd"].as<std::string>();
  opt.now = system_now();
  const bool as_json = vm.count("json");
  Progress progress("import", progress_enabled(g.quiet || as_json));
  opt.progress = [&](const std::string& phase, std::uint64_t d, std::uint64_t t) {
    progress.set_label("import " + phase);
    progress.update(d, t);
  };
  auto r = import_bundle(o->home, *o->store, *o->log, dirs, opt);
  progress.finish();
  if (!r) {
    if (as_json) {
      std::cout << json{{"ok", false}, {"error", r.error().message}}.dump(2) << "\n";
      return exit_code(r.error());
    }
    return error(r.error());
  }
  if (as_json) {
    json snaps = json::array();
    for (const auto& s : r->snapshots) snaps.push_back({{"repo", s.repo}, {"id", s.id.hex()}});
    std::cout << json{{"ok", true}, {"already_imported", r->already_imported}, {"bundle", r->bundle},
                      {"manifest_sha256", r->manifest_sha256.hex()}, {"stream", r->stream},
                      {"sequence", r->sequence}, {"objects", r->objects}, {"bytes", r->bytes},
                      {"snapshots", snaps}, {"published", r->published ? json(*r->published) : json(nullptr)}}
                     .dump(2)
              << "\n";
    return 0;
  }
  if (r->already_imported) {
    std::cout << r->bundle << ": already imported, nothing changed\n";
    return 0;
  }
  field("imported", r->bundle + " (" + r->kind + ")");
  field("manifest", "sha256 " + r->manifest_sha256.hex());
  field("objects", std::to_string(r->objects) + " (" + human_bytes(r->bytes) + ")");
  for (const auto& s : r->snapshots) field("snapshot", s.repo + " " + s.id.hex());
  if (r->published) field("published", "to channel " + *r->published);
  return 0;
}

// --- snapshots / channels / publish / promote / rollback -----------------------

Result<Digest> resolve_snapshot(const Store& store, const std::string& text) {
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  std::optional<Digest> found;
  for (const auto& s : *list) {
    if (text.size() >= 6 && s.id.hex().starts_with(text)) {
      if (found && *found != s.id) return fail(Code::invalid_input, "'" + text + "' matches several snapshots");
      found = s.id;
    }
  }
  if (!found) return fail(Code::not_found, "no snapshot '" + text + "'");
  return *found;
}

int cmd_snapshots(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR snapshots [--json]

The snapshots imported so far, oldest first.

example:
  airlock-repo --home /srv/airlock snapshots

options)");
  c.opts.add_options()("json", "print JSON");
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  auto o = open_home(g);
  if (!o) return error(o.error());
  auto list = o->store->list_snapshots();
  if (!list) return error(list.error());
  json out = json::array();
  for (const auto& s : *list) {
    if (vm.count("json")) {
      out.push_back({{"id", s.id.hex()}, {"repo", s.repo}, {"synced_at", format_time(s.synced_at)},
                     {"files", s.entries}, {"bytes", s.bytes}});
    } else {
      std::cout << s.id.hex() << "  " << format_time(s.synced_at) << "  " << s.repo << "  " << s.entries
                << " files  " << human_bytes(s.bytes) << "\n";
    }
  }
  if (vm.count("json")) std::cout << out.dump(2) << "\n";
  return 0;
}

int cmd_channels(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR channels [--json]

What each channel serves: channel, repository, snapshot.

example:
  airlock-repo --home /srv/airlock channels

options)");
  c.opts.add_options()("json", "print JSON");
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  auto o = open_home(g);
  if (!o) return error(o.error());
  auto list = list_channels(*o->store);
  if (!list) return error(list.error());
  json out = json::array();
  for (const auto& e : *list) {
    if (vm.count("json")) {
      out.push_back({{"channel", e.channel}, {"repo", e.repo}, {"snapshot", e.snapshot.hex()}});
    } else {
      std::cout << e.channel << "  " << e.repo << "  " << e.snapshot.hex() << "\n";
    }
  }
  if (vm.count("json")) std::cout << out.dump(2) << "\n";
  return 0;
}

int cmd_publish(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR publish REPO SNAPSHOT --channel CH [--reason R] [--change-ref C]

Points channel CH's REPO at SNAPSHOT (an id or a unique prefix of 6 or more
digits). Hosts see it on their next request; the change is logged.

example:
  airlock-repo --home /srv/airlock publish debian 3f2a9c --channel test --reason "re-publish after fix"

options)");
  c.opts.add_options()("repo", po::value<std::string>(), "repository")("snapshot", po::value<std::string>(), "snapshot")(
      "channel", po::value<std::string>(), "channel");
  c.add_change_options();
  c.pos.add("repo", 1).add("snapshot", 1);
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  if (!vm.count("repo") || !vm.count("snapshot") || !vm.count("channel")) {
    return usage_error("publish: needs REPO SNAPSHOT --channel CH");
  }
  auto o = open_home(g);
  if (!o) return error(o.error());
  auto id = resolve_snapshot(*o->store, vm["snapshot"].as<std::string>());
  if (!id) return error(id.error());
  auto s = publish(o->home, *o->store, *o->log, vm["repo"].as<std::string>(), *id, vm["channel"].as<std::string>(),
                   change_info(vm));
  if (!s) return error(s.error());
  std::cout << vm["channel"].as<std::string>() << "  " << vm["repo"].as<std::string>() << "  " << id->hex() << "\n";
  return 0;
}

int print_moves(const Result<std::vector<ChannelEntry>>& r) {
  if (!r) return error(r.error());
  for (const auto& e : *r) std::cout << e.channel << "  " << e.repo << "  " << e.snapshot.hex() << "\n";
  return 0;
}

int cmd_promote(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR promote FROM TO [REPO...] [--reason R] [--change-ref C]

Copies channel FROM's snapshots (all repositories, or the ones named) to
channel TO: what was tested becomes what production hosts get.

example:
  airlock-repo --home /srv/airlock promote test prod --reason "tested on 12 hosts" --change-ref CHG-1234

options)");
  c.opts.add_options()("from", po::value<std::string>(), "source channel")("to", po::value<std::string>(), "target channel")(
      "repos", po::value<std::vector<std::string>>(), "repositories");
  c.add_change_options();
  c.pos.add("from", 1).add("to", 1).add("repos", -1);
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  if (!vm.count("from") || !vm.count("to")) return usage_error("promote: needs FROM and TO");
  auto o = open_home(g);
  if (!o) return error(o.error());
  std::vector<std::string> repos;
  if (vm.count("repos")) repos = vm["repos"].as<std::vector<std::string>>();
  return print_moves(promote(o->home, *o->store, *o->log, vm["from"].as<std::string>(), vm["to"].as<std::string>(),
                             repos, change_info(vm)));
}

int cmd_rollback(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR rollback CH [REPO...] [--reason R] [--change-ref C]

Moves channel CH (all repositories, or the ones named) one step back in its
history: hosts get the previous snapshot again on their next update.

example:
  airlock-repo --home /srv/airlock rollback prod --reason "regression in openssl" --change-ref INC-77

options)");
  c.opts.add_options()("channel", po::value<std::string>(), "channel")("repos", po::value<std::vector<std::string>>(),
                                                                        "repositories");
  c.add_change_options();
  c.pos.add("channel", 1).add("repos", -1);
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  if (!vm.count("channel")) return usage_error("rollback: needs CH");
  auto o = open_home(g);
  if (!o) return error(o.error());
  std::vector<std::string> repos;
  if (vm.count("repos")) repos = vm["repos"].as<std::vector<std::string>>();
  return print_moves(rollback(o->home, *o->store, *o->log, vm["channel"].as<std::string>(), repos, change_info(vm)));
}

// --- serve ------------------------------------------------------------------------

int cmd_serve(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR serve [--listen ADDR:PORT] [--threads N]

Serves /<channel>/<repo>/<upstream path> to apt hosts: each path resolves
through the channel's current snapshot to a stored object (and
.../by-hash/SHA256/<hex> to any object the snapshot lists). GET and HEAD,
keep-alive, single ranges, ETag and Last-Modified. Every request is a `pull`
record in the transfer log; if the log cannot be written the server answers
503. A channel change takes effect for the next request. SIGTERM or SIGINT
stops it gracefully: in-flight responses finish, the log is flushed and a
checkpoint written. GET /-/health reports the log head.

A host's sources.list entry:
  deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://HOST:8080/prod/debian bookworm main

examples:
  airlock-repo --home /srv/airlock serve
  airlock-repo --home /srv/airlock serve --listen 0.0.0.0:8080 --threads 8

options)");
  c.opts.add_options()("listen", po::value<std::string>()->default_value("127.0.0.1:8080"), "address and port")(
      "threads", po::value<int>()->default_value(0), "worker threads (0: one per core)")(
      "idle-timeout", po::value<int>()->default_value(30), "seconds before an idle connection closes");
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  RepoHome home{g.home, {}};
  if (auto s = home.require(); !s) return error(s.error());
  ServeOptions opt;
  opt.listen = vm["listen"].as<std::string>();
  opt.threads = vm["threads"].as<int>();
  opt.idle_timeout = std::chrono::seconds(std::max(1, vm["idle-timeout"].as<int>()));
  opt.on_ready = [](const std::string& address) {
    std::cout << "serving on http://" << address << "/<channel>/<repo>/" << std::endl;
  };
  if (auto s = serve(home, opt); !s) return error(s.error());
  std::cout << "stopped" << std::endl;
  return 0;
}

// --- log / scrub / status ----------------------------------------------------------

int cmd_log(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR log show [--json] [--event E]
       airlock-repo --home DIR log export [--format jsonl|csv] [--out FILE]
       airlock-repo --home DIR log verify
       airlock-repo --home DIR log prove N

show prints the transfer log (imports, refusals, publishes, pulls ...);
export writes it for auditors (jsonl: the exact bytes, verifiable with
airlock-verify; csv: one row per record); verify checks every record and
signed checkpoint against keys/log.pub; prove prints an inclusion proof for
record N.

examples:
  airlock-repo --home /srv/airlock log show --event pull
  airlock-repo --home /srv/airlock log export --format csv --out pulls.csv
  airlock-repo --home /srv/airlock log prove 1234 > record-1234.proof.json

options)");
  c.opts.add_options()("action", po::value<std::string>(), "show, export, verify or prove")(
      "n", po::value<std::uint64_t>(), "record number (prove)")("json", "show: JSON Lines as stored")(
      "event", po::value<std::string>(), "show: only this event")(
      "format", po::value<std::string>()->default_value("jsonl"), "export: jsonl or csv")(
      "out", po::value<std::string>(), "export: file (default: standard output)");
  c.pos.add("action", 1).add("n", 1);
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  if (!vm.count("action")) return usage_error("log: show, export, verify or prove?");
  auto o = open_home(g);
  if (!o) return error(o.error());
  const auto action = vm["action"].as<std::string>();
  if (action == "verify") {
    auto pub = PublicKey::read_file(o->home.keys() / "log.pub");
    if (!pub) return error(pub.error());
    std::vector<PublicKey> keys{*pub};
    auto v = verify_log_file(o->home.log_file(), keys);
    if (!v) return error(v.error());
    std::cout << "records " << v->records << ", checkpoints " << v->checkpoints << ", root " << v->root.hex()
              << "\nOK\n";
    return 0;
  }
  if (action == "prove") {
    if (!vm.count("n")) return usage_error("log prove: needs N");
    auto proof = prove_record(o->home.log_file(), vm["n"].as<std::uint64_t>());
    if (!proof) return error(proof.error());
    std::cout << *proof;
    return 0;
  }
  if (action != "show" && action != "export") return usage_error("log: show, export, verify or prove?");
  const auto format = vm["format"].as<std::string>();
  if (action == "export" && format != "jsonl" && format != "csv") return usage_error("log export: --format jsonl or csv");
  std::ofstream file;
  if (vm.count("out")) {
    file.open(vm["out"].as<std::string>(), std::ios::binary | std::ios::trunc);
    if (!file) return error(Error{Code::io, "cannot write " + vm["out"].as<std::string>()});
  }
  std::ostream& out = vm.count("out") ? file : std::cout;
  auto csv = [](const json& v) {
    std::string s = v.is_string() ? v.get<std::string>() : (v.is_null() ? "" : v.dump());
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return q + "\"";
  };
  if (action == "export" && format == "csv") {
    out << "n,time,event,operator,client,method,path,object,status,bytes,bundle,channel,repo,snapshot,result,reason\n";
  }
  for (std::uint64_t n = 0; n < o->log->size(); ++n) {
    auto line = o->log->record(n);
    if (!line) return error(line.error());
    json j = json::parse(*line);
    if (vm.count("event") && j["event"] != vm["event"].as<std::string>()) continue;
    if (action == "export" && format == "jsonl") {
      out << *line << "\n";
      continue;
    }
    if (action == "export") {
      out << n;
      for (const char* k : {"time", "event", "operator", "client", "method", "path", "object", "status", "bytes",
                            "bundle", "channel", "repo", "snapshot", "result", "reason"}) {
        out << "," << (j.contains(k) ? csv(j[k]) : std::string());
      }
      out << "\n";
      continue;
    }
    if (vm.count("json")) {
      out << *line << "\n";
      continue;
    }
    std::string rest;
    for (auto& [k, v] : j.items()) {
      if (k == "n" || k == "time" || k == "event" || k == "prev_root" || k == "note") continue;
      rest += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
    out << n << "  " << j["time"].get<std::string>() << "  " << j["event"].get<std::string>() << rest << "\n";
  }
  return 0;
}

int cmd_scrub(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR scrub [--json]

Re-hashes every object in the store and reports missing or corrupt ones
(expected and actual SHA-256). Exit 3 when anything is wrong. Logged.

example:
  airlock-repo --home /srv/airlock scrub

options)");
  c.opts.add_options()("json", "print JSON");
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  auto o = open_home(g);
  if (!o) return error(o.error());
  Progress progress("scrub", progress_enabled(g.quiet));
  auto report = o->store->scrub();
  progress.finish();
  if (!report) return error(report.error());
  json rec{{"checked", report->checked}, {"bytes", report->bytes}, {"missing", report->missing.size()},
           {"corrupt", report->corrupt.size()}, {"operator", operator_name()}};
  (void)o->log->append("scrub", rec.dump());
  (void)o->log->sync();
  for (const auto& p : report->missing) std::cout << "missing  " << p.message << "\n";
  for (const auto& p : report->corrupt) std::cout << "corrupt  " << p.message << "\n";
  std::cout << "checked " << report->checked << " objects (" << human_bytes(report->bytes) << "): "
            << (report->ok() ? "OK" : "PROBLEMS FOUND") << "\n";
  return report->ok() ? 0 : 3;
}

int cmd_status(const Global& g, const std::vector<std::string>& args) {
  Command c(R"(usage: airlock-repo --home DIR status [--json]

The last import of each stream, what each channel serves, the store's size
and the log's head.

example:
  airlock-repo --home /srv/airlock status

options)");
  c.opts.add_options()("json", "print JSON");
  auto vm = c.parse(args);
  HELP_OR(vm, c);
  auto o = open_home(g);
  if (!o) return error(o.error());
  auto heads = stream_heads(*o->store);
  if (!heads) return error(heads.error());
  auto channels = list_channels(*o->store);
  if (!channels) return error(channels.error());
  auto objects = o->store->list_objects();
  if (!objects) return error(objects.error());
  std::uint64_t bytes = 0;
  for (const auto& obj : *objects) bytes += obj.size;
  auto cp = o->log->latest_checkpoint();
  if (vm.count("json")) {
    json out{{"streams", json::array()}, {"channels", json::array()}, {"objects", objects->size()}, {"bytes", bytes},
             {"log", {{"records", o->log->size()}, {"root", o->log->root().hex()},
                      {"last_checkpoint", cp ? json(cp->first) : json(nullptr)}}}};
    for (const auto& h : *heads) {
      out["streams"].push_back({{"stream", h.stream}, {"sequence", h.sequence}, {"manifest", h.manifest.hex()},
                                {"imported_at", format_time(h.imported_at)}});
    }
    for (const auto& e : *channels) {
      out["channels"].push_back({{"channel", e.channel}, {"repo", e.repo}, {"snapshot", e.snapshot.hex()}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& h : *heads) {
    field("stream", h.stream + ": sequence " + std::to_string(h.sequence) + ", imported " + format_time(h.imported_at));
  }
  for (const auto& e : *channels) field("channel", e.channel + "/" + e.repo + " -> " + e.snapshot.hex());
  field("store", std::to_string(objects->size()) + " objects, " + human_bytes(bytes));
  field("log", std::to_string(o->log->size()) + " records, root " + o->log->root().hex());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Global g;
  if (const char* h = std::getenv("AIRLOCK_HOME")) g.home = h;
  std::vector<std::string> args(argv + 1, argv + argc);
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
  std::erase_if(rest, [&](const std::string& a) { return (a == "-q" || a == "--quiet") && (g.quiet = true); });
  try {
    if (cmd == "init") return cmd_init(g, rest);
    if (cmd == "trust") return cmd_trust(g, rest);
    if (cmd == "import") return cmd_import(g, rest);
    if (cmd == "snapshots") return cmd_snapshots(g, rest);
    if (cmd == "channels") return cmd_channels(g, rest);
    if (cmd == "publish") return cmd_publish(g, rest);
    if (cmd == "promote") return cmd_promote(g, rest);
    if (cmd == "rollback") return cmd_rollback(g, rest);
    if (cmd == "serve") return cmd_serve(g, rest);
    if (cmd == "log") return cmd_log(g, rest);
    if (cmd == "scrub") return cmd_scrub(g, rest);
    if (cmd == "status") return cmd_status(g, rest);
    return usage_error("unknown command '" + cmd + "'");
  } catch (const po::error& e) {
    return usage_error(cmd + ": " + e.what());
  }
}
