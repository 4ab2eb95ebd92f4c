#include "airlock/repo/import.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "airlock/base/file.h"
#include "airlock/base/json.h"
#include "airlock/base/process.h"
#include "airlock/repo/home.h"
#include "channel_refs.h"
#include "site_index.h"

namespace airlock::repo {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::unexpected<Error> refused(std::string what) { return fail(Code::refused, std::move(what)); }

struct StreamState {
  std::uint64_t sequence = 0;
  std::optional<Digest> manifest;
  std::string imported_at;
};

Result<StreamState> load_stream(const Store& store, const std::string& stream) {
  StreamState st;
  auto text = store.get_meta("import/" + stream);
  if (!text) {
    if (text.error().code == Code::not_found) return st;
    return fail(text.error());
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object())
    return fail(Code::corrupt, "import state of stream '" + stream + "' is malformed");
  st.sequence = json_u64(j, "sequence");
  if (auto d = Digest::parse(json_string(j, "manifest"))) st.manifest = *d;
  st.imported_at = json_string(j, "imported_at");
  return st;
}

// Sequence rules (DESIGN.md "Import order", step 2).
Result<bool> check_sequence(const Manifest& m, const Digest& id, const StreamState& st) {
  const auto name = bundle_dir_name(m.stream, m.sequence);
  if (st.manifest && *st.manifest == id) return true;  // the same bundle again
  if (st.sequence > 0 && m.sequence <= st.sequence) {
    return refused("bundle " + name + " is sequence " + std::to_string(m.sequence) +
                   " but stream '" + m.stream + "' is already at sequence " +
                   std::to_string(st.sequence) + " (replayed or rolled back)");
  }
  if (m.kind == "full") return false;
  if (m.sequence > st.sequence + 1) {
    std::string missing = std::to_string(st.sequence + 1);
    if (m.sequence > st.sequence + 2) missing += "-" + std::to_string(m.sequence - 1);
    return refused("bundle " + name + " skips sequence " + missing + " of stream '" + m.stream +
                   "': import the missing bundle(s) first, or a full bundle");
  }
  if (st.sequence > 0 && (!m.previous || !st.manifest || *m.previous != *st.manifest)) {
    return refused("bundle " + name + " does not follow the last imported bundle of stream '" +
                   m.stream + "': its previous manifest is " +
                   (m.previous ? m.previous->hex() : std::string("none")) +
                   ", the last imported is " + st.manifest->hex());
  }
  return false;
}

// Copies every volume not yet staged from dirs into staging, hashing it on
// the way and refusing a wrong one; verified volumes stay for a later call.
Status stage_volumes(Env& env, const Manifest& m, const std::vector<fs::path>& dirs,
                     const fs::path& staging, std::vector<std::string>& missing,
                     const ImportOptions& opt) {
  if (auto s = env.make_dirs(staging); !s) return s;
  std::uint64_t total = 0, done = 0;
  for (const auto& v : m.volumes) total += v.size;
  auto locations = locate_volumes(m, dirs);
  for (const auto& loc : locations) {
    const auto& v = loc.volume;
    auto staged = staging / v.name;
    auto ok = staging / (v.name + ".ok");
    if (path_exists(ok) && path_exists(staged)) {
      done += v.size;
      continue;
    }
    if (!loc.path) {
      missing.push_back(v.name);
      continue;
    }
    auto in = open_regular_file(*loc.path);
    if (!in) {
      if (in.error().code == Code::invalid_input) return refused("volume " + in.error().message);
      return fail(in.error());
    }
    auto part = staging / (v.name + ".part");
    auto out = env.open(part, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!out) return fail(out.error());
    HashingWriter writer(out->get(), env);
    auto s = read_chunks(in->get(), [&](std::span<const std::uint8_t> chunk) -> Status {
      if (writer.bytes_written() + chunk.size() > v.size) {
        return refused("volume " + v.name + " is larger than the " + std::to_string(v.size) +
                       " bytes the manifest says");
      }
      if (auto w = writer.write(chunk); !w) return w;
      done += chunk.size();
      if (opt.progress) opt.progress("volumes", done, total);
      return {};
    });
    if (!s) {
      (void)env.remove(part);
      return s;
    }
    auto actual = writer.finish();
    if (writer.bytes_written() != v.size) {
      (void)env.remove(part);
      return refused("volume " + v.name + " has " + std::to_string(writer.bytes_written()) +
                     " bytes, the manifest says " + std::to_string(v.size) + " (truncated)");
    }
    if (actual != v.sha256) {
      (void)env.remove(part);
      return refused("volume " + v.name + " is corrupt: expected sha256 " + v.sha256.hex() +
                     ", actual " + actual.hex());
    }
    if (auto f = env.sync(out->get(), part.string()); !f) return f;
    out->reset();
    if (auto r = env.rename(part, staged); !r) return r;
    if (auto w = env.write_file_atomic(ok, actual.hex() + "\n"); !w) return w;
  }
  return {};
}

// The scan command is a /bin/sh command line, so quoting, pipes and
// redirections mean what they mean in a shell. Each new object's path is its
// $1: every {} stands for "$1" (quoted, so no path is ever parsed as shell
// text); without {}, the path is the command's last argument.
std::string scan_script(std::string_view cmd) {
  std::string script;
  bool placed = false;
  for (std::size_t i = 0; i < cmd.size(); ++i) {
    if (cmd.substr(i, 2) == "{}") {
      script += "\"$1\"";
      placed = true;
      ++i;
    } else {
      script += cmd[i];
    }
  }
  return placed ? script : script + " \"$1\"";
}

Status run_scan(const std::string& cmd, const std::vector<std::pair<Digest, fs::path>>& files) {
  if (cmd.find_first_not_of(" \t") == std::string::npos) return {};
  const std::string script = scan_script(cmd);
  for (const auto& [id, path] : files) {
    auto r = run_process({"/bin/sh", "-c", script, "airlock-scan", path.string()});
    if (!r) return fail(r.error().context("scan"));
    if (r->exit_code != 0) {
      std::string first = r->out.empty() ? r->err : r->out;
      first = first.substr(0, first.find('\n'));
      return refused("the scan refused object " + id.hex() + " (the scan command exited " +
                     std::to_string(r->exit_code) + (first.empty() ? "" : ": " + first) + ")");
    }
  }
  return {};
}

// One import: the steps of DESIGN.md's import order over one change of the
// home, so that a refusal is logged and nothing else changes.
class Importer {
 public:
  Importer(Home& home, Change& change, const std::vector<fs::path>& dirs, const ImportOptions& opt)
      : home_(home), change_(change), dirs_(dirs), opt_(opt), env_(home.env()) {}

  Result<ImportReport> run();

 private:
  std::unexpected<Error> refuse(const Error& e);
  Status verify_volumes(const Manifest& m, std::vector<fs::path>& extract_from);
  Status extract(const Manifest& m, const std::vector<fs::path>& from);
  std::vector<LogEntry> records(const VerifiedManifest& vm) const;
  Result<ImportReport> commit(const VerifiedManifest& vm);
  Status add_site_indices(const Manifest& m, Batch& batch);
  json who() const;

  Home& home_;
  Change& change_;
  const std::vector<fs::path>& dirs_;
  const ImportOptions& opt_;
  Env& env_;
  std::optional<Digest> manifest_id_;
  ImportReport report_;
  fs::path staging_;
  std::map<Digest, Snapshot> indexed_;  // snapshots served through a site index, as registered
};

json Importer::who() const {
  return json{{"operator", opt_.operator_name}, {"media_label", opt_.media_label}};
}

// Every refusal of the bundle is logged; an operational failure (a disk, a
// missing directory) is not the bundle's fault and is only reported.
std::unexpected<Error> Importer::refuse(const Error& e) {
  if (e.code == Code::io || e.code == Code::not_found) return fail(e);
  json rec = who();
  rec.update({{"result", "refused"},
              {"bundle", dirs_[0].filename().string()},
              {"manifest", manifest_id_ ? json(manifest_id_->hex()) : json(nullptr)},
              {"reason", e.message}});
  if (auto s = change_.record({{"import", std::move(rec)}}); !s) {
    return fail(e.code,
                e.message + " (and the refusal could not be logged: " + s.error().message + ")");
  }
  return fail(e);
}

// Step 3: every volume hashed before anything is decompressed. All volumes
// at hand and none staged by an earlier call: extract hashes them where they
// are, through the descriptors it decompresses. Otherwise what is here is
// copied into staging, so that a later call need only bring what is still
// missing.
Status Importer::verify_volumes(const Manifest& m, std::vector<fs::path>& extract_from) {
  std::vector<fs::path> sources(dirs_.begin(), dirs_.end());
  if (auto s = check_no_extra_volumes(m, sources); !s) return refuse(s.error());
  const auto located = locate_volumes(m, sources);
  const bool all_here =
      std::all_of(located.begin(), located.end(), [](auto& l) { return l.path.has_value(); });
  std::error_code ec;
  if (all_here && (!path_exists(staging_) || fs::is_empty(staging_, ec))) {
    extract_from = sources;
    return {};
  }
  std::vector<std::string> missing;
  if (auto s = stage_volumes(env_, m, sources, staging_, missing, opt_); !s)
    return refuse(s.error());
  extract_from = {staging_};
  if (missing.empty()) return {};
  std::vector<std::string> staged;
  for (const auto& v : m.volumes) {
    if (std::find(missing.begin(), missing.end(), v.name) == missing.end())
      staged.push_back(v.name);
  }
  report_.staged_volumes = staged;
  json rec = who();
  rec.update({{"result", "incomplete"},
              {"bundle", report_.bundle},
              {"manifest", manifest_id_->hex()},
              {"missing", missing},
              {"staged", staged}});
  std::string list;
  for (const auto& v : missing) list += (list.empty() ? "" : ", ") + v;
  Error e{Code::refused,
          "bundle " + report_.bundle + " is incomplete: volume(s) " + list +
              " missing; the verified volumes are staged, run import again with the media that "
              "holds the rest"};
  if (auto s = change_.record({{"import", std::move(rec)}}); !s) return fail(s.error());
  return fail(e);
}

// Steps 4 and 5: objects stream out of the volumes into the change's batch;
// every object a snapshot references is in the store or the bundle.
Status Importer::extract(const Manifest& m, const std::vector<fs::path>& from) {
  // A scanner reads each object from a file of its own.
  auto batch = change_.batch({.pack_small = opt_.scan_cmd.empty()});
  if (!batch) return fail(batch.error());
  {
    BatchSink sink(**batch);
    auto s = extract_bundle(
        m, from, sink,
        [&](std::uint64_t d, std::uint64_t t) {
          if (opt_.progress) opt_.progress("objects", d, t);
        },
        [&](std::uint64_t d, std::uint64_t t) {
          if (opt_.progress) opt_.progress("volumes", d, t);
        });
    if (!s) return refuse(s.error());
  }
  for (const auto& snap : m.snapshots) {
    Snapshot parsed;
    auto info = (*batch)->register_snapshot(snap.id, &parsed);
    if (!info) {
      // The snapshot came in the bundle: malformed or unsafe is the bundle's fault.
      Error e = info.error();
      if (e.code == Code::invalid_input) e.code = Code::refused;
      return refuse(e);
    }
    if (info->repo != snap.repo) {
      return refuse({Code::refused, "snapshot " + snap.id.hex() + " is of repository '" +
                                        info->repo + "' but the manifest lists it as '" +
                                        snap.repo + "'"});
    }
    // Kept for its site index (add_site_indices); any other is not held.
    if (needs_site_index(parsed)) indexed_.emplace(snap.id, std::move(parsed));
  }
  if (!opt_.scan_cmd.empty()) {
    if (auto s = run_scan(opt_.scan_cmd, (*batch)->pending_files()); !s) return refuse(s.error());
  }
  return {};
}

// [{"name", "keyid"}] of the keys whose signatures met the threshold.
json signer_keys(const TrustCheck& trust) {
  json out = json::array();
  for (std::size_t i = 0; i < trust.signers.size() && i < trust.signer_keys.size(); ++i)
    out.push_back({{"name", trust.signers[i]}, {"keyid", trust.signer_keys[i].hex()}});
  return out;
}

// What the commit logs: the import, the producer's records as the chain of
// custody, and the publications.
std::vector<LogEntry> Importer::records(const VerifiedManifest& vm) const {
  const Manifest& m = vm.manifest;
  std::vector<LogEntry> out;
  json snaps = json::array();
  for (const auto& s : m.snapshots) snaps.push_back({{"repo", s.repo}, {"id", s.id.hex()}});
  json rec = who();
  rec.update({{"result", "imported"},
              {"bundle", report_.bundle},
              {"manifest", vm.sha256.hex()},
              {"stream", m.stream},
              {"sequence", m.sequence},
              {"kind", m.kind},
              {"objects", m.objects.size()},
              {"bytes", m.payload_size()},
              {"snapshots", snaps},
              {"signers", vm.trust.signers},
              {"signer_keys", signer_keys(vm.trust)},
              {"reason", opt_.reason},
              {"change_ref", opt_.change_ref}});
  if (!report_.site_indices.empty()) {
    json sites = json::array();
    for (const auto& s : report_.site_indices) {
      sites.push_back({{"repo", s.repo}, {"snapshot", s.snapshot.hex()}, {"index", s.index.hex()}});
    }
    rec["site_indices"] = std::move(sites);
    rec["site_key"] = report_.site_key;
  }
  out.push_back({"import", std::move(rec)});
  json custody = json::parse(m.log_json, nullptr, false);
  if (custody.is_array()) {
    for (const auto& r : custody)
      out.push_back({"custody", {{"bundle", report_.bundle}, {"record", r}}});
  }
  if (opt_.publish) {
    for (const auto& s : m.snapshots) {
      // Read before the commit: what the channel served until now.
      auto before = home_.store().get_ref(channel_ref(*opt_.publish, s.repo));
      json pub{{"channel", *opt_.publish},
               {"repo", s.repo},
               {"snapshot", s.id.hex()},
               {"previous", before ? json(before->hex()) : json(nullptr)},
               {"operator", opt_.operator_name},
               {"reason", opt_.reason},
               {"change_ref", opt_.change_ref},
               {"bundle", report_.bundle}};
      out.push_back({"publish", std::move(pub)});
    }
  }
  return out;
}

Result<ImportReport> Importer::run() {
  const fs::path& bundle_dir = dirs_[0];
  // Named in a refusal's record: the digest of manifest.json when it is a
  // regular file a reader would take (a FIFO or a huge file is not read).
  if (auto fd = open_regular_file(bundle_dir / "manifest.json")) {
    struct stat st;
    if (::fstat(fd->get(), &st) == 0 &&
        static_cast<std::uint64_t>(st.st_size) <= kMaxManifestBytes) {
      if (auto h = hash_fd(fd->get())) manifest_id_ = h->digest;
    }
  }
  auto trust = home_.trust();
  if (!trust) return fail(trust.error());
  // Steps 1 and 2: signatures over the raw bytes, then format, expiry, sequence.
  auto vm = read_manifest(bundle_dir, *trust, opt_.now);
  if (!vm) return refuse(vm.error());
  const Manifest& m = vm->manifest;
  report_.bundle = bundle_dir_name(m.stream, m.sequence);
  report_.manifest_sha256 = vm->sha256;
  report_.stream = m.stream;
  report_.sequence = m.sequence;
  report_.kind = m.kind;
  report_.objects = m.objects.size();
  report_.bytes = m.payload_size();
  report_.snapshots = m.snapshots;
  // The report holds the changes from here on (the verified handler and the
  // import record read them there): a second copy would double their memory.
  report_.changes = std::move(vm->manifest.changes);
  auto state = load_stream(home_.store(), m.stream);
  if (!state) return fail(state.error());
  auto same = check_sequence(m, vm->sha256, *state);
  if (!same) return refuse(same.error());
  if (*same) {
    report_.already_imported = true;
    return report_;
  }
  staging_ = home_.staging() / vm->sha256.hex();
  std::vector<fs::path> from;
  if (auto s = verify_volumes(m, from); !s) return fail(s.error());
  if (auto s = extract(m, from); !s) return fail(s.error());
  return commit(*vm);
}

Result<ImportReport> Importer::commit(const VerifiedManifest& vm) {
  const Manifest& m = vm.manifest;
  if (opt_.verified) opt_.verified(report_.changes);
  auto batch = change_.batch();
  if (!batch) return fail(batch.error());
  if (opt_.publish) {
    json note{{"operator", opt_.operator_name},
              {"action", "import"},
              {"bundle", report_.bundle},
              {"reason", opt_.reason},
              {"change_ref", opt_.change_ref}};
    for (const auto& snap : m.snapshots) {
      (*batch)->set_ref(channel_ref(*opt_.publish, snap.repo), snap.id,
                        note.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    report_.published = opt_.publish;
  }
  if (auto s = add_site_indices(m, **batch); !s) return refuse(s.error());
  (*batch)->set_meta("import/" + m.stream, json{{"sequence", m.sequence},
                                                {"manifest", vm.sha256.hex()},
                                                {"imported_at", format_time(opt_.now)}}
                                               .dump());
  // Step 6: one commit, recorded in the log in the same step. A record too
  // large for the log refuses the bundle before anything is committed.
  if (auto s = change_.commit(records(vm)); !s) {
    if (s.error().code == Code::limit) return refuse(s.error().context("bundle " + report_.bundle));
    return fail(s.error());
  }
  (void)env_.remove_all(staging_);
  return report_;
}

// The site index of each filtered apt or rpm snapshot the bundle brings that has
// none yet, signed by the site key, in the same commit as the import.
Status Importer::add_site_indices(const Manifest& m, Batch& batch) {
  const ObjectSource read = [&](const Digest& id, std::uint64_t max) {
    return batch.read_pieces(id, max);
  };
  std::optional<SiteKey> key;
  for (const auto& s : m.snapshots) {
    if (home_.store().get_ref(site_index_ref(s.id))) continue;
    auto snap = indexed_.find(s.id);
    if (snap == indexed_.end()) continue;  // not served through a site index
    if (!key) {
      auto k = home_.site_key();
      if (!k) return fail(k.error().context("the index of filtered repository '" + s.repo + "'"));
      key.emplace(std::move(*k));
    }
    auto index = build_site_index(snap->second, s.id, read, *key, opt_.now, batch);
    if (!index) return fail(index.error().context("site index of " + s.repo));
    report_.site_indices.push_back({s.repo, s.id, *index});
    report_.site_key = key->fingerprint();
  }
  return {};
}

}  // namespace

Result<std::vector<StreamHead>> stream_heads(const Store& store) {
  auto list = store.list_meta("import/");
  if (!list) return fail(list.error());
  std::vector<StreamHead> out;
  for (const auto& [key, value] : *list) {
    json j = json::parse(value, nullptr, false);
    if (!j.is_object()) continue;
    StreamHead h;
    h.stream = key.substr(7);
    h.sequence = json_u64(j, "sequence");
    if (auto d = Digest::parse(json_string(j, "manifest"))) h.manifest = *d;
    if (auto t = parse_time(json_string(j, "imported_at"))) h.imported_at = *t;
    out.push_back(std::move(h));
  }
  return out;
}

Result<ImportReport> Home::import(const std::vector<fs::path>& dirs, const ImportOptions& options) {
  if (dirs.empty()) return fail(Code::invalid_input, "import needs a bundle directory");
  auto change = ledger().begin();
  if (!change) return fail(change.error());
  if (options.publish) {
    // Refused before the bundle is read, like every command naming a channel.
    if (auto s = check_channel_name(*options.publish); !s) return fail(s.error());
    if (!options.create) {
      if (auto s = require_channel(store(), *options.publish, true); !s) return fail(s.error());
    }
  }
  Importer importer(*this, *change, dirs, options);
  return importer.run();
}

}  // namespace airlock::repo
