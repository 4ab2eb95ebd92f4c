// airlock-verify: checks bundles, media copies, transfer logs, inclusion
// proofs and trace proofs anywhere, without network code and without writing
// anything. An argument adapter over transfer/ (check_bundle,
// verify_log_file, verify_proof, prove_record).
#include <iostream>
#include <set>

#include "airlock/base/cli.h"
#include "airlock/base/file.h"
#include "airlock/base/json.h"
#include "airlock/base/text.h"
#include "airlock/transfer/bundle_check.h"
#include "airlock/transfer/changes.h"
#include "airlock/transfer/log.h"
#include "site_proof.h"

using namespace airlock;
using cli::Invocation;
namespace po = cli::po;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::vector<std::string> list(const Invocation& inv, const char* name) {
  return inv.get<std::vector<std::string>>(name);
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

// --trust FILE, or --key PUB... with --threshold N.
Result<TrustPolicy> trust_of(const Invocation& inv) {
  if (inv.has("trust")) return TrustPolicy::load(inv.str("trust"));
  auto files = list(inv, "key");
  auto keys = load_keys(files);
  if (!keys) return fail(keys.error());
  TrustPolicy trust;
  trust.threshold = inv.get<int>("threshold", 1);
  if (trust.threshold < 1) return fail(Code::invalid_input, "--threshold must be at least 1");
  for (std::size_t i = 0; i < keys->size(); ++i) {
    if (auto s = trust.add({fs::path(files[i]).stem().string(), (*keys)[i], {}, {}}); !s)
      return fail(s.error());
  }
  return trust;
}

void field(std::string_view name, std::string_view value) { cli::field(name, value, 12); }

json to_json(const BundleCheck& c) {
  const Manifest& m = c.manifest.manifest;
  json snaps = json::array();
  for (const auto& s : m.snapshots) snaps.push_back({{"repo", s.repo}, {"id", s.id.hex()}});
  return {{"ok", true},
          {"bundle", bundle_dir_name(m.stream, m.sequence)},
          {"manifest_sha256", c.manifest.sha256.hex()},
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
          {"volume_bytes", c.volume_bytes},
          {"signers", c.manifest.trust.signers},
          {"threshold", c.manifest.trust.threshold},
          {"checked", c.everything ? "everything" : "volumes-present"},
          {"missing_volumes", c.missing_volumes},
          {"changes", changes_json(m.changes)}};
}

void print(const BundleCheck& c, const fs::path& dir, bool list) {
  const Manifest& m = c.manifest.manifest;
  field("bundle", bundle_dir_name(m.stream, m.sequence) + "  (" + dir.string() + ")");
  field("manifest", "sha256 " + c.manifest.sha256.hex());
  field("stream", m.stream + ", sequence " + std::to_string(m.sequence) + " (" + m.kind + ")");
  field("previous", m.previous ? m.previous->hex() : "-");
  field("created", format_time(m.created));
  field("expires", format_time(m.expires));
  field("producer", m.producer);
  for (const auto& s : m.snapshots) field("snapshot", s.repo + "  " + s.id.hex());
  field("objects",
        std::to_string(m.objects.size()) + " (" + cli::human_bytes(m.payload_size()) + ")");
  field("volumes",
        std::to_string(m.volumes.size()) + " (" + cli::human_bytes(c.volume_bytes) + ")");
  std::string signers;
  for (const auto& s : c.manifest.trust.signers) signers += (signers.empty() ? "" : ", ") + s;
  field("signers", signers + " (" + std::to_string(c.manifest.trust.threshold) + " required)");
  if (list) print_changes(std::cout, m.changes);
  if (c.everything) {
    std::cout << "OK\n";
    return;
  }
  std::string missing;
  for (const auto& v : c.missing_volumes) missing += (missing.empty() ? "" : " ") + v;
  field("not here", missing.empty() ? "-" : missing);
  std::cout << "OK (volumes present)\n";
}

int bundle_cmd(const Invocation& inv) {
  if (!inv.has("dir")) return cli::usage(inv, "missing the bundle directory");
  if (inv.has("trust") == inv.has("key"))
    return cli::usage(inv, "give either --trust FILE or --key PUB (one or more)");
  auto trust = trust_of(inv);
  if (!trust) return cli::fail(inv, trust.error());
  auto now = inv.has("at") ? parse_time(inv.str("at")) : Result<TimePoint>(system_now());
  if (!now) return cli::usage(inv, now.error().message);
  BundleCheckOptions opt;
  for (const auto& d : list(inv, "volumes")) opt.volume_dirs.emplace_back(d);
  for (const auto& d : list(inv, "volumes-only")) opt.volumes_only.emplace_back(d);
  cli::Progress volumes("checking volumes", inv.progress()),
      objects("checking objects", inv.progress());
  opt.volumes_progress = [&](auto d, auto t) { volumes.update(d, t); };
  opt.objects_progress = [&](auto d, auto t) {
    volumes.finish();
    objects.update(d, t);
  };
  auto c = check_bundle(inv.str("dir"), *trust, *now, opt);
  volumes.finish();
  objects.finish();
  if (!c) return cli::fail(inv, c.error());
  inv.json() ? cli::print_json(to_json(*c)) : print(*c, inv.str("dir"), inv.has("list"));
  return 0;
}

int log_cmd(const Invocation& inv) {
  if (!inv.has("log")) return cli::usage(inv, "missing the log (a log directory or segment files)");
  if (!inv.has("key")) return cli::usage(inv, "--key PUB is required");
  auto keys = load_keys(list(inv, "key"));
  if (!keys) return cli::fail(inv, keys.error());
  std::vector<std::string> known;
  for (const auto& f : list(inv, "checkpoint")) {
    auto note = read_file(f, 64 * 1024);
    if (!note) return cli::fail(inv, note.error());
    known.push_back(*note);
  }
  std::vector<std::filesystem::path> inputs;
  for (const auto& f : list(inv, "log")) inputs.emplace_back(f);
  auto v = verify_log(inputs, *keys, known);
  if (!v) return cli::fail(inv, v.error());
  const auto& last = v->last_checkpoint;
  if (inv.json()) {
    json out{{"ok", true},
             {"records", v->records},
             {"checkpoints", v->checkpoints},
             {"uncovered", v->uncovered},
             {"coverage", coverage_statement(*v)},
             {"root", v->root.hex()}};
    if (last)
      out["last_checkpoint"] = {
          {"size", last->size}, {"root", last->root.hex()}, {"origin", last->origin}};
    cli::print_json(out);
    return 0;
  }
  std::string named;
  for (const auto& f : list(inv, "log")) named += (named.empty() ? "" : " ") + f;
  field("log", named);
  field("records", std::to_string(v->records));
  field("checkpoints", std::to_string(v->checkpoints));
  if (v->tiles_checked) field("tiles", "match the records (tiles/ and state.json)");
  if (last) {
    field("last", "size " + std::to_string(last->size) + ", root " + last->root.hex() + " (" +
                      last->origin + ")");
  }
  field("signed", coverage_statement(*v));
  field("root", v->root.hex());
  std::cout << "OK\n";
  return 0;
}

int proof_cmd(const Invocation& inv) {
  if (!inv.has("file")) return cli::usage(inv, "missing the proof file");
  if (!inv.has("key")) return cli::usage(inv, "--key PUB is required");
  auto keys = load_keys(list(inv, "key"));
  if (!keys) return cli::fail(inv, keys.error());
  auto text = read_file(inv.str("file"), 16 << 20);
  if (!text) return cli::fail(inv, text.error());
  auto check = verify_proof(*text, *keys);
  if (!check) return cli::fail(inv, check.error());
  const auto& cp = check->checkpoint;
  if (inv.json()) {
    cli::print_json({{"ok", true},
                     {"n", check->n},
                     {"record", json::parse(check->record, nullptr, false)},
                     {"tree_size", cp.size},
                     {"origin", cp.origin},
                     {"signer", check->signer}});
    return 0;
  }
  field("record", std::to_string(check->n));
  field("content", check->record);
  field("tree", "size " + std::to_string(cp.size) + ", root " + cp.root.hex());
  field("signed by", check->signer + " (" + cp.origin + ")");
  std::cout << "OK\n";
  return 0;
}

// A trace proof (airlock-repo trace --proof) checked without the log.
struct TraceLinkCheck {
  std::string link;
  std::uint64_t n = 0;
  json record;
};
struct TraceCheck {
  VerifiedCheckpoint checkpoint;
  std::vector<TraceLinkCheck> links;
  std::vector<std::string> objects;
};

std::set<std::string> string_set(const json& doc, const char* key) {
  std::set<std::string> out;
  if (doc.contains(key) && doc[key].is_array())
    for (const auto& v : doc[key])
      if (v.is_string()) out.insert(v.get<std::string>());
  return out;
}

bool named(const std::set<std::string>& set, const json& record, const char* key) {
  return record.is_object() && set.contains(json_string(record, key));
}

bool names_snapshot(const std::set<std::string>& set, const json& record) {
  if (!record.is_object() || !record.contains("snapshots") || !record["snapshots"].is_array())
    return false;
  for (const auto& s : record["snapshots"])
    if (named(set, s, "id")) return true;
  return false;
}

// Every record inside the proof's one checkpoint, by its inclusion proof.
Result<TraceLinkCheck> check_trace_link(const json& entry, const std::string& note,
                                        std::span<const PublicKey> keys) {
  const json proof = entry.is_object() ? entry.value("proof", json()) : json();
  TraceLinkCheck out{json_string(entry, "link"), json_u64(proof, "n"), {}};
  const std::string where = "trace proof: " + out.link + " record " + std::to_string(out.n);
  if (!proof.is_object() || json_string(proof, "checkpoint") != note)
    return fail(Code::refused, where + " is not proved against the proof's checkpoint");
  auto check = verify_proof(proof.dump(), keys);
  if (!check) return fail(Code::refused, where + ": " + check.error().message);
  out.record = json::parse(check->record, nullptr, false);
  if (!out.record.is_object()) return fail(Code::refused, where + " is not a JSON object");
  return out;
}

// Whether one link holds the chain's ids: the file's object, a traced
// snapshot, or an imported bundle's manifest.
bool links_up(const TraceLinkCheck& l, const std::set<std::string>& objects,
              const std::set<std::string>& snapshots, const std::set<std::string>& manifests) {
  const json& r = l.record;
  const std::string event = json_string(r, "event");
  const json low = r.value("record", json());
  if (l.link == "pull") return event == "pull" && named(objects, r, "object");
  if (l.link == "publish" || l.link == "promote" || l.link == "rollback")
    return event == l.link && named(snapshots, r, "snapshot");
  if (l.link == "delete") return event == "delete" && named(snapshots, r, "previous");
  if (l.link == "import") return event == "import" && names_snapshot(snapshots, r);
  if (event != "custody" || json_string(low, "event") != l.link) return false;
  if (l.link == "sync") return named(snapshots, low, "snapshot");
  if (l.link == "export" || l.link == "cosign") return named(manifests, low, "manifest");
  return false;
}

Result<TraceCheck> check_trace(const std::string& text, std::span<const PublicKey> keys) {
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || json_string(doc, "format") != "airlock-trace-proof/1" ||
      !doc.contains("links") || !doc["links"].is_array())
    return fail(Code::corrupt, "trace proof: not an airlock-trace-proof/1 document");
  const std::string note = json_string(doc, "checkpoint");
  auto cp = verify_log_checkpoint(note, keys);
  if (!cp) return fail(Code::refused, "trace proof: checkpoint: " + cp.error().message);
  if (cp->checkpoint.size != json_u64(doc, "tree_size"))
    return fail(Code::refused, "trace proof: tree_size does not match the checkpoint");
  TraceCheck out{*cp, {}, {}};
  const auto objects = string_set(doc, "objects"), snapshots = string_set(doc, "snapshots");
  out.objects.assign(objects.begin(), objects.end());
  if (objects.empty() || snapshots.empty())
    return fail(Code::refused, "trace proof: names no file or no snapshot");
  std::set<std::string> manifests, imported;
  for (const auto& entry : doc["links"]) {
    auto l = check_trace_link(entry, note, keys);
    if (!l) return fail(l.error());
    if (l->link == "import") {
      manifests.insert(json_string(l->record, "manifest"));
      for (const auto& s : snapshots)
        if (names_snapshot({s}, l->record)) imported.insert(s);
    }
    out.links.push_back(std::move(*l));
  }
  for (const auto& l : out.links) {
    if (!links_up(l, objects, snapshots, manifests))
      return fail(Code::refused, "trace proof: " + l.link + " record " + std::to_string(l.n) +
                                     " does not name the traced file, snapshot or bundle");
  }
  for (const auto& s : snapshots) {
    if (!imported.contains(s))
      return fail(Code::refused, "trace proof: no import record brings snapshot " + s);
  }
  return out;
}

int trace_cmd(const Invocation& inv) {
  if (!inv.has("file")) return cli::usage(inv, "missing the trace proof file");
  if (!inv.has("key")) return cli::usage(inv, "--key PUB is required");
  auto keys = load_keys(list(inv, "key"));
  if (!keys) return cli::fail(inv, keys.error());
  auto text = read_file(inv.str("file"), 256 << 20);
  if (!text) return cli::fail(inv, text.error());
  auto check = check_trace(*text, *keys);
  if (!check) return cli::fail(inv, check.error());
  const auto& cp = check->checkpoint.checkpoint;
  if (inv.json()) {
    json links = json::array();
    for (const auto& l : check->links)
      links.push_back({{"link", l.link}, {"n", l.n}, {"record", l.record}});
    cli::print_json({{"ok", true},
                     {"objects", check->objects},
                     {"links", links},
                     {"tree_size", cp.size},
                     {"origin", cp.origin},
                     {"signer", check->checkpoint.signer}});
    return 0;
  }
  for (const auto& o : check->objects) field("file", o);
  for (const auto& l : check->links) {
    field(l.link, "record " + std::to_string(l.n) + "  " +
                      l.record.dump(-1, ' ', false, json::error_handler_t::replace));
  }
  field("tree", "size " + std::to_string(cp.size) + ", root " + cp.root.hex());
  field("signed by", check->checkpoint.signer + " (" + cp.origin + ")");
  std::cout << "OK\n";
  return 0;
}

int prove_cmd(const Invocation& inv) {
  if (!inv.has("file") || !inv.has("n")) return cli::usage(inv, "needs LOG and N");
  auto p = prove_record(inv.str("file"), inv.get<std::uint64_t>("n"));
  if (!p) return cli::fail(inv, p.error());
  std::cout << *p;
  return 0;
}

int index_cmd(const Invocation& inv) {
  if (!inv.has("files")) return cli::usage(inv, "missing the site index file(s)");
  if (!inv.has("bundle")) return cli::usage(inv, "--bundle DIR is required (repeatable)");
  if (!inv.has("vendor-keyring")) return cli::usage(inv, "--vendor-keyring FILE is required");
  if (inv.has("trust") == inv.has("key"))
    return cli::usage(inv, "give either --trust FILE or --key PUB (one or more)");
  SiteProofRequest req;
  auto trust = trust_of(inv);
  if (!trust) return cli::fail(inv, trust.error());
  req.trust = std::move(*trust);
  auto now = inv.has("at") ? parse_time(inv.str("at")) : Result<TimePoint>(system_now());
  if (!now) return cli::usage(inv, now.error().message);
  req.now = *now;
  for (const auto& f : list(inv, "files")) req.site_indices.emplace_back(f);
  for (const auto& b : list(inv, "bundle")) req.bundles.emplace_back(b);
  req.vendor_keyring = inv.str("vendor-keyring");
  auto proof = prove_site_index(req);
  if (!proof) return cli::fail(inv, proof.error());
  if (inv.json()) {
    json files = json::array(), indices = json::array();
    for (const auto& f : proof->site_files)
      files.push_back({{"file", f.path.string()}, {f.rpm ? "packages" : "stanzas", f.stanzas}});
    for (const auto& v : proof->vendor_indices)
      indices.push_back({{"repo", v.repo}, {"snapshot", v.snapshot.hex()}, {"path", v.path}});
    cli::print_json({{"ok", true},
                     {"bundles", proof->bundles},
                     {"vendor_indices", indices},
                     {"vendor_stanzas", proof->vendor_stanzas},
                     {"vendor_packages", proof->vendor_packages},
                     {"site_indices", files}});
    return 0;
  }
  std::string bundles;
  for (const auto& b : proof->bundles) bundles += (bundles.empty() ? "" : ", ") + b;
  field("bundles", bundles + " (signatures, volumes, every object)");
  for (const auto& v : proof->vendor_indices)
    field("vendor", escape_for_terminal(v.repo) + " " + v.snapshot.hex().substr(0, 12) + "  " +
                        escape_for_terminal(v.path) + "  (signature and hash checked)");
  field("keyring", req.vendor_keyring.string());
  for (const auto& f : proof->site_files) {
    field("site index", escape_for_terminal(f.path.string()) + "  " + std::to_string(f.stanzas) +
                            (f.rpm ? " packages, each <package> element byte-identical to a "
                                     "vendor-signed one"
                                   : " stanzas, each byte-identical to a vendor-signed stanza"));
  }
  std::cout << "OK\n";
  return 0;
}

void bundle_options(cli::Options& o, cli::Positionals& p) {
  o.add_options()("dir", po::value<std::string>(), "bundle directory (holds manifest.json)")(
      "trust", po::value<std::string>(), "trust policy file (trust.json)")(
      "key", po::value<std::vector<std::string>>(), "trusted public key (PEM); repeatable")(
      "threshold", po::value<int>(), "signatures required with --key (default 1)")(
      "volumes", po::value<std::vector<std::string>>(),
      "more directories holding volumes (one per disc); repeatable")(
      "volumes-only", po::value<std::vector<std::string>>(),
      "check only the volumes present in these directories; repeatable")(
      "at", po::value<std::string>(), "judge expiry and key validity at this RFC 3339 time")(
      "list", "also list the package changes the bundle carries (signed in its manifest)")(
      "json", "print the result as JSON (the changes included)");
  p.add("dir", 1);
}

void key_file_options(cli::Options& o, cli::Positionals& p, const char* file) {
  o.add_options()("file", po::value<std::string>(), file)(
      "key", po::value<std::vector<std::string>>(), "log public key (PEM); repeatable")(
      "json", "print the result as JSON");
  p.add("file", 1);
}

}  // namespace

int main(int argc, char** argv) {
  const cli::Program program{
      "airlock-verify",
      "Checks what crosses the air gap, reading only.",
      "",
      false,
      {{"bundle", "bundle DIR     verify a bundle: signatures, volumes, every object",
        "usage: airlock-verify bundle DIR (--trust FILE | --key PUB...) [options]\n\n"
        "Runs every check an import runs, in the same order, and writes nothing:\n"
        "the signature threshold over the raw manifest bytes, format and expiry,\n"
        "every volume's size and SHA-256, then every object in the archive.\n\nexamples:\n"
        "  airlock-verify bundle /media/usb/airlock-debian-000042 --trust /srv/airlock/trust.json\n"
        "  airlock-verify bundle ./airlock-debian-000042 --key alice.pub --key bob.pub --threshold "
        "2\n"
        "  airlock-verify bundle ./airlock-debian-000042 --key alice.pub --volumes-only "
        "/media/disc2\n"
        "  airlock-verify bundle ./airlock-debian-000042 --trust trust.json --list\n"
        "  airlock-verify bundle ./airlock-debian-000042 --trust trust.json --json\n",
        bundle_options, bundle_cmd},
       {"log", "log LOG...     verify a transfer log: every record and signed checkpoint",
        "usage: airlock-verify log (DIR | SEGMENT...) --key PUB... [options]\n\n"
        "Recomputes the Merkle tree over every record in one pass, checks every\n"
        "signed checkpoint and its consistency with the one before, and names the\n"
        "first bad record on any edit, deletion or reordering. Give a log directory\n"
        "(a copy of a home's log/: its segments, and its tiles and state.json, which\n"
        "are checked against the records too), or segment files in order (an\n"
        "exported log is one). Segments that start after record 0 are checked from\n"
        "the tree the directory's tiles give before them.\n\nexamples:\n"
        "  airlock-verify log /media/audit/airlock-log --key log.pub\n"
        "  airlock-verify log transfer.jsonl --key log.pub --checkpoint last-week.checkpoint\n"
        "  airlock-verify log transfer-000001.jsonl transfer-000002.jsonl --key log.pub\n",
        [](cli::Options& o, cli::Positionals& p) {
          o.add_options()("log", po::value<std::vector<std::string>>(),
                          "a log directory, or segment files in order")(
              "key", po::value<std::vector<std::string>>(), "log public key (PEM); repeatable")(
              "json", "print the result as JSON");
          p.add("log", -1);
          o.add_options()(
              "checkpoint", po::value<std::vector<std::string>>(),
              "a checkpoint (signed note) seen earlier that the log must contain; repeatable");
        },
        log_cmd},
       {"proof", "proof FILE     verify an inclusion proof against its signed checkpoint",
        "usage: airlock-verify proof FILE --key PUB... [--json]\n\n"
        "Checks that one log record is included in the tree a signed checkpoint\n"
        "commits to, without the rest of the log.\n\nexamples:\n"
        "  airlock-verify proof record-1234.proof.json --key log.pub\n",
        [](cli::Options& o, cli::Positionals& p) { key_file_options(o, p, "the proof (JSON)"); },
        proof_cmd},
       {"trace", "trace FILE     verify a trace proof: the chain of custody of one file",
        "usage: airlock-verify trace FILE --key PUB... [--json]\n\n"
        "Checks a trace proof (airlock-repo trace --proof) without the log: the\n"
        "checkpoint's signature, every record's inclusion proof against it, and that\n"
        "the records link up: each pull names the traced file, each channel change and\n"
        "import a traced snapshot, each sync record a traced snapshot, each export and\n"
        "co-signature an imported bundle's manifest, and every snapshot is brought by an\n"
        "import. Refuses (exit 3) naming the record when any byte of one changed.\n\n"
        "examples:\n"
        "  airlock-verify trace openssl.trace.json --key log.pub\n"
        "  airlock-verify trace openssl.trace.json --key log.pub --json\n",
        [](cli::Options& o, cli::Positionals& p) { key_file_options(o, p, "the trace proof"); },
        trace_cmd},
       {"prove", "prove LOG N    print an inclusion proof for record N of a log",
        "usage: airlock-verify prove LOG N\n\n"
        "Prints an inclusion proof for record N of a transfer log (a log directory,\n"
        "read through its tiles, or one exported file) against the first signed\n"
        "checkpoint that covers it. Anyone holding the log's public key can check\n"
        "it with 'airlock-verify proof'.\n\nexamples:\n"
        "  airlock-verify prove /media/audit/airlock-log 1234 > record-1234.proof.json\n"
        "  airlock-verify prove transfer.jsonl 1234 > record-1234.proof.json\n",
        [](cli::Options& o, cli::Positionals& p) {
          o.add_options()("file", po::value<std::string>(), "the log (directory or file)")(
              "n", po::value<std::uint64_t>(), "record number");
          p.add("file", 1).add("n", 1);
        },
        prove_cmd},
       {"index", "index FILE...  prove a site index lists only vendor-signed entries",
        "usage: airlock-verify index FILE... --bundle DIR... (--trust FILE | --key PUB...)\n"
        "                            --vendor-keyring KEYRING [--json]\n\n"
        "Proves that a site index (the Packages files the isolated side serves for a\n"
        "repository mirrored with a filter, signed by its site key) says nothing the\n"
        "vendor did not sign: every bundle is checked as 'bundle' checks it, the vendor\n"
        "Release each bundle's filtered snapshots carry is checked with gpgv against\n"
        "the vendor keyring, each vendor Packages index against that Release, and every\n"
        "stanza of each site index must be byte-identical to a stanza of those indices.\n"
        "For an rpm repository give the site primary.xml(.gz) instead: the vendor\n"
        "repomd.xml is checked with gpgv (repomd.xml.asc), the vendor primary against\n"
        "it, and every <package> element of the site primary must be byte-identical to\n"
        "one of the vendor primary's, with nothing else in the file.\n"
        "Give every bundle that carried the vendor indices (a delta bundle carries\n"
        "only what changed).\n\nexamples:\n"
        "  curl -O http://repo.site/prod/debian-security/dists/bookworm-security/main/"
        "binary-amd64/Packages\n"
        "  airlock-verify index Packages --bundle /media/usb/airlock-debian-000042 \\\n"
        "      --trust trust.json --vendor-keyring "
        "/usr/share/keyrings/debian-archive-keyring.gpg\n"
        "  airlock-verify index primary.xml.gz --bundle /media/usb/airlock-rocky-000007 \\\n"
        "      --trust trust.json --vendor-keyring /etc/pki/rpm-gpg/vendor.gpg\n",
        [](cli::Options& o, cli::Positionals& p) {
          o.add_options()("files", po::value<std::vector<std::string>>(),
                          "site Packages or primary.xml files (plain or compressed)")(
              "bundle", po::value<std::vector<std::string>>(),
              "bundle directory that carried the snapshot; repeatable")(
              "trust", po::value<std::string>(), "trust policy file (trust.json)")(
              "key", po::value<std::vector<std::string>>(), "trusted public key (PEM); repeatable")(
              "threshold", po::value<int>(), "signatures required with --key (default 1)")(
              "vendor-keyring", po::value<std::string>(), "the vendor's OpenPGP keyring")(
              "at", po::value<std::string>(),
              "judge expiry and key validity at this RFC 3339 time")("json",
                                                                     "print the result as JSON");
          p.add("files", -1);
        },
        index_cmd}}};
  return cli::run(program, argc, argv);
}
