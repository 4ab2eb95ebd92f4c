#include "airlock/repo/import.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "airlock/base/file.h"
#include "airlock/base/process.h"

namespace airlock::repo {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::unexpected<Error> refused(std::string what) { return fail(Code::refused, std::move(what)); }

std::string random_id() {
  std::random_device rd;
  std::uint8_t b[12];
  for (auto& x : b) x = static_cast<std::uint8_t>(rd());
  return to_hex(b);
}

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
  if (!j.is_object()) return fail(Code::corrupt, "import state of stream '" + stream + "' is malformed");
  st.sequence = j.value("sequence", std::uint64_t{0});
  if (auto d = Digest::parse(j.value("manifest", ""))) st.manifest = *d;
  st.imported_at = j.value("imported_at", "");
  return st;
}

// Sequence rules (DESIGN.md "Import order", step 2).
Result<bool> check_sequence(const Manifest& m, const Digest& id, const StreamState& st) {
  const auto name = bundle_dir_name(m.stream, m.sequence);
  if (st.manifest && *st.manifest == id) return true;  // the same bundle again
  if (st.sequence > 0 && m.sequence <= st.sequence) {
    return refused("bundle " + name + " is sequence " + std::to_string(m.sequence) + " but stream '" + m.stream +
                   "' is already at sequence " + std::to_string(st.sequence) + " (replayed or rolled back)");
  }
  if (m.kind == "full") return false;
  if (m.sequence > st.sequence + 1) {
    std::string missing = std::to_string(st.sequence + 1);
    if (m.sequence > st.sequence + 2) missing += "-" + std::to_string(m.sequence - 1);
    return refused("bundle " + name + " skips sequence " + missing + " of stream '" + m.stream +
                   "': import the missing bundle(s) first, or a full bundle");
  }
  if (st.sequence > 0 && (!m.previous || !st.manifest || *m.previous != *st.manifest)) {
    return refused("bundle " + name + " does not follow the last imported bundle of stream '" + m.stream +
                   "': its previous manifest is " + (m.previous ? m.previous->hex() : std::string("none")) +
                   ", the last imported is " + st.manifest->hex());
  }
  return false;
}

// Copies every volume not yet staged from dirs into staging, hashing it on
// the way and refusing a wrong one; verified volumes stay for a later call.
Status stage_volumes(Env& env, const Manifest& m, const std::vector<fs::path>& dirs, const fs::path& staging,
                     std::vector<std::string>& missing, const ImportOptions& opt) {
  if (auto s = env.make_dirs(staging); !s) return s;
  std::uint64_t total = 0, done = 0;
  for (const auto& v : m.volumes) total += v.size;
  auto locations = locate_volumes(m, dirs);
  for (const auto& loc : locations) {
    const auto& v = loc.volume;
    auto staged = staging / v.name;
    auto ok = staging / (v.name + ".ok");
    if (fs::exists(ok) && fs::exists(staged)) {
      done += v.size;
      continue;
    }
    if (!loc.path) {
      missing.push_back(v.name);
      continue;
    }
    auto in = open_file(*loc.path, O_RDONLY);
    if (!in) return fail(in.error());
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
      return refused("volume " + v.name + " is corrupt: expected sha256 " + v.sha256.hex() + ", actual " +
                     actual.hex());
    }
    if (auto f = env.sync(out->get(), part.string()); !f) return f;
    out->reset();
    if (auto r = env.rename(part, staged); !r) return r;
    if (auto w = env.write_file_atomic(ok, actual.hex() + "\n"); !w) return w;
  }
  return {};
}

Status run_scan(const std::string& cmd, const std::vector<std::pair<Digest, fs::path>>& files) {
  std::vector<std::string> words;
  std::istringstream in(cmd);
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return {};
  for (const auto& [id, path] : files) {
    std::vector<std::string> argv;
    bool placed = false;
    for (const auto& w : words) {
      if (w == "{}") {
        argv.push_back(path.string());
        placed = true;
      } else {
        argv.push_back(w);
      }
    }
    if (!placed) argv.push_back(path.string());
    auto r = run_process(argv);
    if (!r) return fail(r.error().context("scan"));
    if (r->exit_code != 0) {
      std::string first = r->out.empty() ? r->err : r->out;
      first = first.substr(0, first.find('\n'));
      return refused("the scan refused object " + id.hex() + " (" + words[0] + " exited " +
                     std::to_string(r->exit_code) + (first.empty() ? "" : ": " + first) + ")");
    }
  }
  return {};
}

json refusal_record(const fs::path& bundle_dir, const std::optional<Digest>& manifest, const Error& e,
                    const ImportOptions& opt) {
  return json{{"result", "refused"},
              {"bundle", bundle_dir.filename().string()},
              {"manifest", manifest ? json(manifest->hex()) : json(nullptr)},
              {"reason", e.message},
              {"operator", opt.operator_name},
              {"media_label", opt.media_label}};
}

}  // namespace

Status commit_and_log(Store& store, Batch batch, TransferLog& log, std::vector<LogRecordInput> records,
                      const PrivateKey* checkpoint_key) {
  const std::string key = "pending-log/" + random_id();
  json pending = json::array();
  for (const auto& r : records) pending.push_back({{"event", r.event}, {"fields", json::parse(r.fields_json)}});
  batch.set_meta(key, json{{"records", pending}}.dump());
  if (auto s = batch.commit(); !s) return s;
  if (auto n = log.append_many(records); !n) return fail(n.error());
  if (checkpoint_key) {
    if (auto c = log.checkpoint(*checkpoint_key); !c) return fail(c.error());
  } else if (auto s = log.sync(); !s) {
    return s;
  }
  return store.set_meta(key, std::nullopt);
}

Result<std::vector<StreamHead>> stream_heads(const Store& store) {
  auto list = store.list_meta("import/");
  if (!list) return fail(list.error());
  std::vector<StreamHead> out;
  for (const auto& [key, value] : *list) {
    json j = json::parse(value, nullptr, false);
    if (!j.is_object()) continue;
    StreamHead h;
    h.stream = key.substr(7);
    h.sequence = j.value("sequence", std::uint64_t{0});
    if (auto d = Digest::parse(j.value("manifest", ""))) h.manifest = *d;
    if (auto t = parse_time(j.value("imported_at", ""))) h.imported_at = *t;
    out.push_back(std::move(h));
  }
  return out;
}

Result<ImportReport> import_bundle(const RepoHome& home, Store& store, TransferLog& log,
                                   const std::vector<fs::path>& dirs, const ImportOptions& opt) {
  if (dirs.empty()) return fail(Code::invalid_input, "import needs a bundle directory");
  const fs::path bundle_dir = dirs[0];
  Env& env = home.store_options.env ? *home.store_options.env : Env::system();
  std::optional<Digest> manifest_id;
  if (auto raw = read_file(bundle_dir / "manifest.json", kMaxManifestBytes)) manifest_id = sha256(*raw);

  // Every refusal is logged; nothing else changes.
  auto refuse = [&](const Error& e) -> std::unexpected<Error> {
    (void)log.append("import", refusal_record(bundle_dir, manifest_id, e, opt).dump());
    (void)log.sync();
    return fail(e);
  };

  auto trust = home.trust();
  if (!trust) return fail(trust.error());
  auto vm = read_manifest(bundle_dir, *trust, opt.now);
  if (!vm) {
    if (vm.error().code == Code::not_found || vm.error().code == Code::io) return fail(vm.error());
    return refuse(vm.error());
  }
  const Manifest& m = vm->manifest;
  ImportReport report;
  report.bundle = bundle_dir_name(m.stream, m.sequence);
  report.manifest_sha256 = vm->sha256;
  report.stream = m.stream;
  report.sequence = m.sequence;
  report.kind = m.kind;
  report.objects = m.objects.size();
  report.bytes = m.payload_size();
  report.snapshots = m.snapshots;

  auto state = load_stream(store, m.stream);
  if (!state) return fail(state.error());
  auto same = check_sequence(m, vm->sha256, *state);
  if (!same) return refuse(same.error());
  if (*same) {
    report.already_imported = true;
    return report;
  }

  // Step 3: every volume, hashed into staging before anything is decompressed.
  const fs::path staging = home.staging() / vm->sha256.hex();
  std::vector<fs::path> sources(dirs.begin(), dirs.end());
  std::vector<std::string> missing;
  if (auto s = check_no_extra_volumes(m, sources); !s) return refuse(s.error());
  // All volumes at hand and none staged by an earlier call: hash them where
  // they are. Otherwise copy what is here into staging, so that a later call
  // need only bring what is still missing.
  std::vector<fs::path> extract_from{staging};
  const auto located = locate_volumes(m, sources);
  const bool all_here = std::all_of(located.begin(), located.end(), [](auto& l) { return l.path.has_value(); });
  std::error_code staged_ec;
  if (all_here && (!fs::exists(staging) || fs::is_empty(staging, staged_ec))) {
    auto s = check_volumes(m, sources, [&](std::uint64_t d, std::uint64_t t) {
      if (opt.progress) opt.progress("volumes", d, t);
    });
    if (!s) return refuse(s.error());
    extract_from = sources;
  } else if (auto s = stage_volumes(env, m, sources, staging, missing, opt); !s) {
    return refuse(s.error());
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& v : missing) list += (list.empty() ? "" : ", ") + v;
    std::vector<std::string> staged;
    for (const auto& v : m.volumes) {
      if (std::find(missing.begin(), missing.end(), v.name) == missing.end()) staged.push_back(v.name);
    }
    json rec{{"result", "incomplete"}, {"bundle", report.bundle}, {"manifest", vm->sha256.hex()},
             {"missing", missing}, {"staged", staged}, {"operator", opt.operator_name}, {"media_label", opt.media_label}};
    (void)log.append("import", rec.dump());
    (void)log.sync();
    return fail(Code::refused, "bundle " + report.bundle + " is incomplete: volume(s) " + list +
                                   " missing; the verified volumes are staged, run import again with the "
                                   "media that holds the rest");
  }

  // Step 4: objects stream out of the staged volumes into a store batch.
  auto batch = store.begin_batch();
  if (!batch) return fail(batch.error());
  {
    BatchSink sink(*batch);
    auto s = extract_bundle(m, extract_from, sink, [&](std::uint64_t d, std::uint64_t t) {
      if (opt.progress) opt.progress("objects", d, t);
    });
    if (!s) return refuse(s.error());
  }
  // Step 5: every object a snapshot references is in the store or the bundle.
  for (const auto& snap : m.snapshots) {
    if (auto s = batch->register_snapshot(snap.id); !s) return refuse(s.error());
  }
  if (!opt.scan_cmd.empty()) {
    if (auto s = run_scan(opt.scan_cmd, batch->pending_files()); !s) return refuse(s.error());
  }

  // Step 6: one commit, recorded in the log in the same step.
  json note{{"operator", opt.operator_name}, {"action", "import"}, {"bundle", report.bundle},
            {"reason", opt.reason}, {"change_ref", opt.change_ref}};
  if (opt.publish) {
    for (const auto& snap : m.snapshots) {
      batch->set_ref("channel/" + *opt.publish + "/" + snap.repo, snap.id, note.dump());
    }
    report.published = opt.publish;
  }
  batch->set_meta("import/" + m.stream, json{{"sequence", m.sequence},
                                              {"manifest", vm->sha256.hex()},
                                              {"imported_at", format_time(opt.now)}}
                                            .dump());
  std::vector<LogRecordInput> records;
  json snaps = json::array();
  for (const auto& s : m.snapshots) snaps.push_back({{"repo", s.repo}, {"id", s.id.hex()}});
  json signers = vm->trust.signers;
  records.push_back({"import", json{{"result", "imported"},
                                    {"bundle", report.bundle},
                                    {"manifest", vm->sha256.hex()},
                                    {"stream", m.stream},
                                    {"sequence", m.sequence},
                                    {"kind", m.kind},
                                    {"objects", m.objects.size()},
                                    {"bytes", m.payload_size()},
                                    {"snapshots", snaps},
                                    {"signers", signers},
                                    {"operator", opt.operator_name},
                                    {"media_label", opt.media_label},
                                    {"reason", opt.reason},
                                    {"change_ref", opt.change_ref}}
                                   .dump()});
  // The producer's records travel as the chain of custody.
  json custody = json::parse(m.log_json, nullptr, false);
  if (custody.is_array()) {
    for (const auto& r : custody) {
      records.push_back({"custody", json{{"bundle", report.bundle}, {"record", r}}.dump()});
    }
  }
  if (opt.publish) {
    for (const auto& s : m.snapshots) {
      records.push_back({"publish", json{{"channel", *opt.publish}, {"repo", s.repo}, {"snapshot", s.id.hex()},
                                         {"operator", opt.operator_name}, {"reason", opt.reason},
                                         {"change_ref", opt.change_ref}, {"bundle", report.bundle}}
                                        .dump()});
    }
  }
  auto key = home.log_key();
  if (!key) return fail(key.error());
  if (auto s = commit_and_log(store, std::move(*batch), log, std::move(records), &*key); !s) return fail(s.error());
  (void)env.remove_all(staging);
  return report;
}

}  // namespace airlock::repo
