// airlock-verify: checks bundles, media copies, transfer logs and inclusion
// proofs anywhere, without network code and without writing anything.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "airlock/transfer/bundle.h"
#include "airlock/transfer/log.h"
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

namespace {

constexpr std::string_view kProgram = "airlock-verify";

const char* kUsage = R"(usage: airlock-verify COMMAND [options]

Checks what crosses the air gap, reading only.

commands:
  bundle DIR     verify a bundle: signatures, volumes, every object
  log FILE       verify a transfer log: every record and signed checkpoint
  proof FILE     verify an inclusion proof against its signed checkpoint
  prove LOG N    print an inclusion proof for record N of a log

Run 'airlock-verify COMMAND --help' for a command's options and examples.
Exit codes: 0 verified, 1 operational error, 2 usage, 3 verification refused.
)";

int usage_error(const std::string& message) {
  std::cerr << kProgram << ": " << message << "\n(run 'airlock-verify --help')\n";
  return 2;
}

po::variables_map parse(const std::vector<std::string>& args, const po::options_description& opts,
                        const po::positional_options_description& pos) {
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
  po::notify(vm);
  return vm;
}

Result<std::vector<PublicKey>> load_keys(const std::vector<std::string>& files) {
  std::vector<PublicKey> keys;
  for (const auto& f : files) {
    auto k = PublicKey::read_file(f);
    if (!k) return fail(k.error());
    keys.push_back(*k);
  }
  return keys;
}

Result<TimePoint> time_option(const po::variables_map& vm) {
  if (!vm.count("at")) return system_now();
  auto t = parse_time(vm["at"].as<std::string>());
  if (!t) return fail(t.error());
  return *t;
}

void print_field(const std::string& name, const std::string& value) {
  std::cout << name << std::string(name.size() < 12 ? 12 - name.size() : 1, ' ') << value << "\n";
}

int fail_with(const Error& e, bool as_json) {
  if (as_json) {
    std::cout << json{{"ok", false}, {"code", std::string(code_name(e.code))}, {"error", e.message}}.dump(2)
              << "\n";
    return exit_code(e);
  }
  return report_error(kProgram, e);
}

// --- bundle ------------------------------------------------------------------

int cmd_bundle(const std::vector<std::string>& args) {
  po::options_description opts(R"(usage: airlock-verify bundle DIR (--trust FILE | --key PUB...) [options]

Runs every check an import runs, in the same order, and writes nothing:
the signature threshold over the raw manifest bytes, format and expiry,
every volume's size and SHA-256, then every object in the archive.

examples:
  airlock-verify bundle /media/usb/airlock-debian-000042 --trust /srv/airlock/trust.json
  airlock-verify bundle ./airlock-debian-000042 --key alice.pub --key bob.pub --threshold 2
  airlock-verify bundle ./airlock-debian-000042 --key alice.pub --volumes-only /media/disc2
  airlock-verify bundle ./airlock-debian-000042 --trust trust.json --json

options)");
  opts.add_options()("help,h", "show this help")(
      "dir", po::value<std::string>(), "bundle directory (holds manifest.json)")(
      "trust", po::value<std::string>(), "trust policy file (trust.json)")(
      "key", po::value<std::vector<std::string>>(), "trusted public key (PEM); repeatable")(
      "threshold", po::value<int>()->default_value(1), "signatures required with --key")(
      "volumes", po::value<std::vector<std::string>>(),
      "more directories holding volumes (one per disc); repeatable")(
      "volumes-only", po::value<std::vector<std::string>>(),
      "check only the volumes present in these directories; repeatable")(
      "at", po::value<std::string>(), "judge expiry and key validity at this RFC 3339 time")(
      "json", "print the result as JSON")("quiet,q", "no progress display");
  po::positional_options_description pos;
  pos.add("dir", 1);
  auto vm = parse(args, opts, pos);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("dir")) return usage_error("bundle: missing the bundle directory");
  if (vm.count("trust") == vm.count("key")) {
    return usage_error("bundle: give either --trust FILE or --key PUB (one or more)");
  }
  const bool as_json = vm.count("json");
  const fs::path dir = vm["dir"].as<std::string>();

  TrustPolicy trust;
  if (vm.count("trust")) {
    auto t = TrustPolicy::load(vm["trust"].as<std::string>());
    if (!t) return fail_with(t.error(), as_json);
    trust = *t;
  } else {
    auto keys = load_keys(vm["key"].as<std::vector<std::string>>());
    if (!keys) return fail_with(keys.error(), as_json);
    trust.threshold = vm["threshold"].as<int>();
    if (trust.threshold < 1) return usage_error("bundle: --threshold must be at least 1");
    for (std::size_t i = 0; i < keys->size(); ++i) {
      auto name = fs::path(vm["key"].as<std::vector<std::string>>()[i]).stem().string();
      if (auto s = trust.add({name, (*keys)[i], {}, {}}); !s) return fail_with(s.error(), as_json);
    }
  }
  auto now = time_option(vm);
  if (!now) return usage_error(now.error().message);

  auto manifest = read_manifest(dir, trust, *now);
  if (!manifest) return fail_with(manifest.error(), as_json);
  const Manifest& m = manifest->manifest;
  const bool quiet = vm.count("quiet") || as_json;

  std::vector<std::string> missing;
  if (vm.count("volumes-only")) {
    std::vector<fs::path> dirs;
    for (const auto& d : vm["volumes-only"].as<std::vector<std::string>>()) dirs.emplace_back(d);
    auto r = check_present_volumes(m, dirs);
    if (!r) return fail_with(r.error(), as_json);
    missing = *r;
  } else {
    std::vector<fs::path> dirs{dir};
    if (vm.count("volumes")) {
      for (const auto& d : vm["volumes"].as<std::vector<std::string>>()) dirs.emplace_back(d);
    }
    {
      Progress progress("checking volumes", progress_enabled(quiet));
      auto s = check_volumes(m, dirs, [&](auto d, auto t) { progress.update(d, t); });
      if (!s) return fail_with(s.error(), as_json);
    }
    Progress progress("checking objects", progress_enabled(quiet));
    DiscardSink sink;
    auto s = extract_bundle(m, dirs, sink, [&](auto d, auto t) { progress.update(d, t); });
    if (!s) return fail_with(s.error(), as_json);
  }

  std::uint64_t volume_bytes = 0;
  for (const auto& v : m.volumes) volume_bytes += v.size;
  if (as_json) {
    json snaps = json::array();
    for (const auto& s : m.snapshots) snaps.push_back({{"repo", s.repo}, {"id", s.id.hex()}});
    json out{{"ok", true},
             {"bundle", bundle_dir_name(m.stream, m.sequence)},
             {"manifest_sha256", manifest->sha256.hex()},
             {"stream", m.stream},
             {"sequence", m.sequence},
             {"kind", m.kind},
             {"previous", m.previous ? json(m.previous->hex()) : json(nullptr)},
             {"created", format_time(m.created)},
             {"expires", format_time(m.expires)},
             {"producer", m.producer},
             {"snapshots", snaps},
             {"objects", m.objects.size()},
             {"bytes", m.payload_size()},
             {"volumes", m.volumes.size()},
             {"volume_bytes", volume_bytes},
             {"signers", manifest->trust.signers},
             {"threshold", manifest->trust.threshold},
             {"checked", vm.count("volumes-only") ? "volumes-present" : "everything"},
             {"missing_volumes", missing}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  print_field("bundle", bundle_dir_name(m.stream, m.sequence) + "  (" + dir.string() + ")");
  print_field("manifest", "sha256 " + manifest->sha256.hex());
  print_field("stream", m.stream + ", sequence " + std::to_string(m.sequence) + " (" + m.kind + ")");
  print_field("previous", m.previous ? m.previous->hex() : "-");
  print_field("created", format_time(m.created));
  print_field("expires", format_time(m.expires));
  print_field("producer", m.producer);
  for (const auto& s : m.snapshots) print_field("snapshot", s.repo + "  " + s.id.hex());
  print_field("objects", std::to_string(m.objects.size()) + " (" + human_bytes(m.payload_size()) + ")");
  print_field("volumes", std::to_string(m.volumes.size()) + " (" + human_bytes(volume_bytes) + ")");
  std::string signers;
  for (const auto& s : manifest->trust.signers) signers += (signers.empty() ? "" : ", ") + s;
  print_field("signers", signers + " (" + std::to_string(manifest->trust.threshold) + " required)");
  if (vm.count("volumes-only")) {
    std::string list;
    for (const auto& v : missing) list += (list.empty() ? "" : " ") + v;
    print_field("not here", list.empty() ? "-" : list);
    std::cout << "OK (volumes present)\n";
  } else {
    std::cout << "OK\n";
  }
  return 0;
}

// --- log ---------------------------------------------------------------------

int cmd_log(const std::vector<std::string>& args) {
  po::options_description opts(R"(usage: airlock-verify log FILE --key PUB... [options]

Recomputes the Merkle tree over every record, checks every signed
checkpoint and its consistency with the one before, and names the first
bad record on any edit, deletion or reordering.

examples:
  airlock-verify log transfer.jsonl --key log.pub
  airlock-verify log transfer.jsonl --key log.pub --checkpoint last-week.checkpoint
  airlock-verify log transfer.jsonl --key log.pub --json

options)");
  opts.add_options()("help,h", "show this help")("file", po::value<std::string>(), "the log")(
      "key", po::value<std::vector<std::string>>(), "log public key (PEM); repeatable")(
      "checkpoint", po::value<std::vector<std::string>>(),
      "a checkpoint (signed note) seen earlier that the log must contain; repeatable")(
      "json", "print the result as JSON");
  po::positional_options_description pos;
  pos.add("file", 1);
  auto vm = parse(args, opts, pos);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("file")) return usage_error("log: missing the log file");
  if (!vm.count("key")) return usage_error("log: --key PUB is required");
  const bool as_json = vm.count("json");
  auto keys = load_keys(vm["key"].as<std::vector<std::string>>());
  if (!keys) return fail_with(keys.error(), as_json);
  std::vector<std::string> known;
  if (vm.count("checkpoint")) {
    for (const auto& f : vm["checkpoint"].as<std::vector<std::string>>()) {
      auto note = read_file(f, 64 * 1024);
      if (!note) return fail_with(note.error(), as_json);
      known.push_back(*note);
    }
  }
  auto v = verify_log_file(vm["file"].as<std::string>(), *keys, known);
  if (!v) return fail_with(v.error(), as_json);
  if (as_json) {
    json out{{"ok", true},
             {"records", v->records},
             {"checkpoints", v->checkpoints},
             {"uncovered", v->uncovered},
             {"root", v->root.hex()}};
    if (v->last_checkpoint) {
      out["last_checkpoint"] = {{"size", v->last_checkpoint->size},
                                {"root", v->last_checkpoint->root.hex()},
                                {"origin", v->last_checkpoint->origin}};
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  print_field("log", vm["file"].as<std::string>());
  print_field("records", std::to_string(v->records));
  print_field("checkpoints", std::to_string(v->checkpoints));
  if (v->last_checkpoint) {
    print_field("last", "size " + std::to_string(v->last_checkpoint->size) + ", root " +
                            v->last_checkpoint->root.hex() + " (" + v->last_checkpoint->origin + ")");
  }
  if (v->uncovered > 0) {
    print_field("uncovered", std::to_string(v->uncovered) +
                                 " records after the last checkpoint (not yet signed)");
  }
  print_field("root", v->root.hex());
  std::cout << "OK\n";
  return 0;
}

// --- proof / prove -----------------------------------------------------------

int cmd_proof(const std::vector<std::string>& args) {
  po::options_description opts(R"(usage: airlock-verify proof FILE --key PUB... [--json]

Checks that one log record is included in the tree a signed checkpoint
commits to, without the rest of the log.

examples:
  airlock-verify proof record-1234.proof.json --key log.pub

options)");
  opts.add_options()("help,h", "show this help")("file", po::value<std::string>(), "the proof (JSON)")(
      "key", po::value<std::vector<std::string>>(), "log public key (PEM); repeatable")(
      "json", "print the result as JSON");
  po::positional_options_description pos;
  pos.add("file", 1);
  auto vm = parse(args, opts, pos);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("file")) return usage_error("proof: missing the proof file");
  if (!vm.count("key")) return usage_error("proof: --key PUB is required");
  const bool as_json = vm.count("json");
  auto keys = load_keys(vm["key"].as<std::vector<std::string>>());
  if (!keys) return fail_with(keys.error(), as_json);
  auto text = read_file(vm["file"].as<std::string>(), 16 << 20);
  if (!text) return fail_with(text.error(), as_json);
  auto check = verify_proof(*text, *keys);
  if (!check) return fail_with(check.error(), as_json);
  if (as_json) {
    std::cout << json{{"ok", true},
                      {"n", check->n},
                      {"record", json::parse(check->record, nullptr, false)},
                      {"tree_size", check->checkpoint.size},
                      {"origin", check->checkpoint.origin},
                      {"signer", check->signer}}
                     .dump(2)
              << "\n";
    return 0;
  }
  print_field("record", std::to_string(check->n));
  print_field("content", check->record);
  print_field("tree", "size " + std::to_string(check->checkpoint.size) + ", root " +
                          check->checkpoint.root.hex());
  print_field("signed by", check->signer + " (" + check->checkpoint.origin + ")");
  std::cout << "OK\n";
  return 0;
}

int cmd_prove(const std::vector<std::string>& args) {
  po::options_description opts(R"(usage: airlock-verify prove LOG N

Prints an inclusion proof for record N of a transfer log against the first
signed checkpoint that covers it. Anyone holding the log's public key can
check it with 'airlock-verify proof'.

examples:
  airlock-verify prove transfer.jsonl 1234 > record-1234.proof.json

options)");
  opts.add_options()("help,h", "show this help")("file", po::value<std::string>(), "the log")(
      "n", po::value<std::uint64_t>(), "record number");
  po::positional_options_description pos;
  pos.add("file", 1).add("n", 1);
  auto vm = parse(args, opts, pos);
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (!vm.count("file") || !vm.count("n")) return usage_error("prove: needs LOG and N");
  auto proof = prove_record(vm["file"].as<std::string>(), vm["n"].as<std::uint64_t>());
  if (!proof) return report_error(kProgram, proof.error());
  std::cout << *proof;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (cmd == "bundle") return cmd_bundle(args);
    if (cmd == "log") return cmd_log(args);
    if (cmd == "proof") return cmd_proof(args);
    if (cmd == "prove") return cmd_prove(args);
    return usage_error("unknown command '" + cmd + "'");
  } catch (const po::error& e) {
    return usage_error(cmd + ": " + e.what());
  }
}
