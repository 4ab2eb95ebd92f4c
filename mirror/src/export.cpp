#include "airlock/mirror/export.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "airlock/base/cli.h"
#include "airlock/base/file.h"
#include "airlock/base/text.h"
#include "airlock/mirror/home.h"
#include "airlock/transfer/changes.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::uint64_t number_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// The digests of a JSON array of hex strings; false when anything else.
bool digests_field(const json& j, const char* key, std::vector<Digest>& out) {
  auto it = j.find(key);
  if (it == j.end()) return true;
  if (!it->is_array()) return false;
  for (const auto& v : *it) {
    if (!v.is_string()) return false;
    auto d = Digest::parse(v.get<std::string>());
    if (!d) return false;
    out.push_back(*d);
  }
  return true;
}

std::string save_state(const StreamState& st) {
  json manifests = json::array(), snaps = json::array();
  for (const auto& m : st.manifests) manifests.push_back(m.hex());
  for (const auto& s : st.snapshots) snaps.push_back(s.hex());
  return json{{"sequence", st.sequence},
              {"manifests", manifests},
              {"log_size", st.log_size},
              {"snapshots", snaps}}
      .dump();
}

// The log records [from, to) as a JSON array.
Result<std::string> log_records(const TransferLog& log, std::uint64_t from, std::uint64_t to) {
  json records = json::array();
  auto s = log.for_each_record(from, to, [&](std::uint64_t n, std::string_view line) -> Status {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object())
      return fail(Code::corrupt,
                  "transfer log record " + std::to_string(n) + " is not a JSON object");
    records.push_back(std::move(j));
    return {};
  });
  if (!s) return fail(s.error());
  return records.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The newest snapshot of each repository (only those named, when any).
Result<std::vector<Digest>> newest_snapshots(const Store& store,
                                             const std::vector<std::string>& repos) {
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  std::map<std::string, Digest> newest;
  for (const auto& s : *list) {
    if (repos.empty() || std::find(repos.begin(), repos.end(), s.repo) != repos.end())
      newest[s.repo] = s.id;
  }
  for (const auto& r : repos) {
    if (!newest.contains(r))
      return fail(Code::not_found, "repository '" + r + "' has no snapshot; run sync first");
  }
  if (newest.empty())
    return fail(Code::not_found, "there is no snapshot to export; run sync first");
  std::vector<Digest> out;
  for (const auto& [repo, id] : newest) out.push_back(id);
  return out;
}

// Every object the stream's earlier bundles carried, sorted, each once.
Result<std::vector<Digest>> carried_objects(const Store& store, const StreamState& state) {
  std::vector<Digest> carried;
  for (const auto& m : state.manifests) {
    auto raw = store.read(m, kMaxManifestBytes);
    if (!raw) return fail(raw.error().context("manifest of an earlier bundle"));
    auto manifest = Manifest::parse(*raw);
    if (!manifest) return fail(manifest.error());
    for (const auto& o : manifest->objects) carried.push_back(o.sha256);
  }
  std::sort(carried.begin(), carried.end());
  carried.erase(std::unique(carried.begin(), carried.end()), carried.end());
  return carried;
}

json export_record(const ExportOptions& opt, const ExportResult& r,
                   const std::vector<const PrivateKey*>& keys) {
  json snaps = json::array(), keyids = json::array();
  for (const auto& m : r.manifest.snapshots)
    snaps.push_back({{"repo", m.repo}, {"id", m.id.hex()}});
  for (const auto* k : keys) keyids.push_back(k->public_key().id().hex());
  return {{"stream", opt.stream},
          {"sequence", r.manifest.sequence},
          {"kind", r.manifest.kind},
          {"manifest", r.manifest_sha256.hex()},
          {"bundle", r.dir.filename().string()},
          {"snapshots", snaps},
          {"objects", r.manifest.objects.size()},
          {"bytes", r.manifest.payload_size()},
          {"volumes", r.manifest.volumes.size()},
          {"signers", keyids},
          {"operator", opt.operator_name}};
}

// The bundle to write, but for its log records.
Result<ExportRequest> bundle_request(const Store& store, const ExportOptions& opt,
                                     const StreamState& state,
                                     const std::vector<const PrivateKey*>& keys) {
  auto snapshots = newest_snapshots(store, opt.repos);
  if (!snapshots) return fail(snapshots.error());
  ExportRequest req;
  if (!opt.full) {
    auto carried = carried_objects(store, state);
    if (!carried) return fail(carried.error());
    req.exclude = std::move(*carried);
  }
  req.store = &store;
  req.snapshots = std::move(*snapshots);
  req.stream = opt.stream;
  req.sequence = state.sequence + 1;
  req.previous =
      state.manifests.empty() ? std::nullopt : std::optional<Digest>(state.manifests.back());
  req.full = opt.full;
  req.created = opt.now;
  req.expires = opt.now + opt.expires;
  req.producer = escape_invalid_utf8(opt.producer);
  req.volume_size = opt.volume_size;
  req.zstd_level = opt.zstd_level;
  req.keys = keys;
  req.out_dir = opt.out;
  req.progress = opt.progress;
  return req;
}

// The changes of each snapshot to carry against the same repository's
// snapshot in before (the previous bundle's), or against nothing.
Result<std::vector<RepoChanges>> bundle_changes(const Store& store,
                                                const std::vector<Digest>& before,
                                                const std::vector<Digest>& after) {
  // Package lists only: the entries (every file) would double the memory.
  SnapshotVisitor packages_only;
  packages_only.entry = [](SnapshotEntry&&) -> Status { return {}; };
  std::map<std::string, Snapshot> previous;
  for (const auto& id : before) {
    auto snap = store.get_snapshot(id, packages_only);
    if (!snap) return fail(snap.error());
    previous.insert_or_assign(snap->repo, std::move(*snap));
  }
  std::vector<RepoChanges> out;
  for (const auto& id : after) {
    auto snap = store.get_snapshot(id, packages_only);
    if (!snap) return fail(snap.error());
    auto it = previous.find(snap->repo);
    out.push_back(
        package_changes(snap->repo, it == previous.end() ? nullptr : &it->second, &*snap));
  }
  return out;
}

}  // namespace

Result<StreamState> stream_state(const Store& store, const std::string& stream) {
  auto text = store.get_meta("stream/" + stream);
  if (!text && text.error().code == Code::not_found) return StreamState{};  // never exported
  if (!text) return fail(text.error());
  StreamState st;
  json j = json::parse(*text, nullptr, false);
  const bool ok = j.is_object() && digests_field(j, "manifests", st.manifests) &&
                  digests_field(j, "snapshots", st.snapshots);
  if (!ok) return fail(Code::corrupt, "the state of stream '" + stream + "' is malformed");
  st.sequence = number_field(j, "sequence");
  st.log_size = number_field(j, "log_size");
  return st;
}

Result<ExportSummary> export_stream(Ledger& ledger, const ExportOptions& opt,
                                    const std::vector<const PrivateKey*>& keys) {
  if (!valid_stream_name(opt.stream)) {
    return fail(Code::invalid_input,
                "stream name '" + opt.stream + "' must be 1-64 characters of a-z 0-9 . _ -");
  }
  // The whole export holds the change lock: the stream's state and the log
  // stay as read until the export is committed.
  auto change = ledger.begin();
  if (!change) return fail(change.error());
  Store& store = ledger.store();
  auto state = stream_state(store, opt.stream);
  if (!state) return fail(state.error());
  auto req = bundle_request(store, opt, *state, keys);
  if (!req) return fail(req.error());
  if (auto s = ledger.log().refresh(); !s) return fail(s.error());
  // The cut-off: everything logged from here on (this export's own record
  // first) travels in the stream's next bundle.
  const std::uint64_t cutoff = ledger.log().size();
  auto records = log_records(ledger.log(), std::min(state->log_size, cutoff), cutoff);
  if (!records) return fail(records.error());
  req->log_json = std::move(*records);
  auto changes =
      bundle_changes(store, opt.full ? std::vector<Digest>{} : state->snapshots, req->snapshots);
  if (!changes) return fail(changes.error());
  req->changes = std::move(*changes);
  req->env = &ledger.env();
  if (auto s = ledger.env().make_dirs(opt.out); !s) return fail(s.error());
  const std::uint64_t sequence = req->sequence;
  const std::vector<Digest> snapshots = req->snapshots;
  auto result = write_bundle(std::move(*req));
  if (!result) return fail(result.error());

  ExportSummary summary;
  summary.first = state->manifests.empty();
  summary.changes = result->manifest.changes;

  // The manifest bytes (streamed from the file written, checked against the
  // digest signed) and the stream's new head, committed with the record.
  auto manifest_file = open_file(result->dir / "manifest.json", O_RDONLY);
  if (!manifest_file) return fail(manifest_file.error());
  auto batch = change->batch();
  if (!batch) return fail(batch.error());
  if (auto id = (*batch)->put_fd(manifest_file->get(), result->manifest_sha256); !id)
    return fail(id.error().context(result->dir.string() + "/manifest.json"));
  StreamState next = *state;
  next.sequence = sequence;
  next.manifests.push_back(result->manifest_sha256);
  next.snapshots = snapshots;
  next.log_size = cutoff;
  (*batch)->set_meta("stream/" + opt.stream, save_state(next));
  if (auto s = change->commit({{"export", export_record(opt, *result, keys)}}); !s)
    return fail(s.error());
  summary.bundle = std::move(*result);
  return summary;
}

Result<ExportSummary> Home::export_stream(const ExportOptions& options) {
  ExportOptions opt = options;
  if (opt.keys.empty()) {
    opt.keys = key_names();
    if (opt.keys.size() != 1) {
      return fail(Code::invalid_input, "name the signing key with --key (found " +
                                           std::to_string(opt.keys.size()) + " in " +
                                           keys_dir().string() + ")");
    }
  }
  std::vector<PrivateKey> keys;
  for (const auto& k : opt.keys) {
    auto key = load_key(k);
    if (!key) return fail(key.error());
    keys.push_back(std::move(*key));
  }
  if (opt.producer.empty()) {
    char host[256] = "unknown";
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
    opt.producer = "airlock-mirror " + std::string(cli::version()) + " on " + host + " by " +
                   opt.operator_name;
  }
  std::vector<const PrivateKey*> signers;
  for (const auto& k : keys) signers.push_back(&k);
  return mirror::export_stream(ledger(), opt, signers);
}

}  // namespace airlock::mirror
