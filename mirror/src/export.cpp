#include "airlock/mirror/export.h"

#include <nlohmann/json.hpp>
#include <set>

namespace airlock::mirror {
namespace {

using json = nlohmann::json;

struct StreamState {
  std::uint64_t sequence = 0;
  std::optional<Digest> manifest;
  std::vector<Digest> manifests;  // every bundle of the stream, oldest first
  std::uint64_t log_size = 0;     // log records up to the last export
  std::vector<Digest> snapshots;  // what the last export published
};

Result<StreamState> load_state(const Store& store, const std::string& stream) {
  StreamState st;
  auto text = store.get_meta("stream/" + stream);
  if (!text) {
    if (text.error().code == Code::not_found) return st;
    return fail(text.error());
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return fail(Code::corrupt, "stream state of '" + stream + "' is malformed");
  st.sequence = j.value("sequence", std::uint64_t{0});
  st.log_size = j.value("log_size", std::uint64_t{0});
  for (const auto& m : j.value("manifests", json::array())) {
    auto d = Digest::parse(m.get<std::string>());
    if (!d) return fail(Code::corrupt, "stream state of '" + stream + "' is malformed");
    st.manifests.push_back(*d);
  }
  if (!st.manifests.empty()) st.manifest = st.manifests.back();
  for (const auto& m : j.value("snapshots", json::array())) {
    auto d = Digest::parse(m.get<std::string>());
    if (d) st.snapshots.push_back(*d);
  }
  return st;
}

std::string save_state(const StreamState& st) {
  json manifests = json::array(), snaps = json::array();
  for (const auto& m : st.manifests) manifests.push_back(m.hex());
  for (const auto& s : st.snapshots) snaps.push_back(s.hex());
  return json{{"sequence", st.sequence}, {"manifests", manifests}, {"log_size", st.log_size},
              {"snapshots", snaps}}
      .dump();
}

Result<std::vector<PackageVersion>> packages_of(const Store& store, const std::vector<Digest>& snapshots) {
  std::vector<PackageVersion> out;
  for (const auto& id : snapshots) {
    auto snap = store.get_snapshot(id);
    if (!snap) return fail(snap.error());
    auto pkgs = snapshot_packages(store, *snap);
    if (!pkgs) return fail(pkgs.error());
    out.insert(out.end(), pkgs->begin(), pkgs->end());
  }
  return out;
}

}  // namespace

Result<ExportSummary> export_stream(Store& store, TransferLog& log, const ExportOptions& opt) {
  if (!valid_stream_name(opt.stream)) {
    return fail(Code::invalid_input, "stream name '" + opt.stream + "' must be 1-64 characters of a-z 0-9 . _ -");
  }
  auto state = load_state(store, opt.stream);
  if (!state) return fail(state.error());

  // The newest snapshot of each repository.
  auto list = store.list_snapshots();
  if (!list) return fail(list.error());
  std::map<std::string, SnapshotInfo> newest;
  for (const auto& s : *list) {
    if (!opt.repos.empty() && std::find(opt.repos.begin(), opt.repos.end(), s.repo) == opt.repos.end()) continue;
    newest[s.repo] = s;  // the list is oldest first
  }
  for (const auto& r : opt.repos) {
    if (!newest.contains(r)) return fail(Code::not_found, "repository '" + r + "' has no snapshot; run sync first");
  }
  if (newest.empty()) return fail(Code::not_found, "there is no snapshot to export; run sync first");

  // What earlier bundles of this stream carried.
  std::set<Digest> carried;
  if (!opt.full) {
    for (const auto& m : state->manifests) {
      auto raw = store.read(m, kMaxManifestBytes);
      if (!raw) return fail(raw.error().context("manifest of an earlier bundle"));
      auto manifest = Manifest::parse(*raw);
      if (!manifest) return fail(manifest.error());
      for (const auto& o : manifest->objects) carried.insert(o.sha256);
    }
  }

  // The producer's log records since the last export of this stream.
  json records = json::array();
  for (std::uint64_t n = state->log_size; n < log.size(); ++n) {
    auto line = log.record(n);
    if (!line) return fail(line.error());
    records.push_back(json::parse(*line));
  }

  ExportRequest req;
  req.store = &store;
  for (const auto& [repo, info] : newest) req.snapshots.push_back(info.id);
  req.exclude = std::move(carried);
  req.stream = opt.stream;
  req.sequence = state->sequence + 1;
  req.previous = state->manifest;
  req.full = opt.full;
  req.created = opt.now;
  req.expires = opt.now + opt.expires;
  req.producer = opt.producer;
  req.log_json = records.dump();
  req.volume_size = opt.volume_size;
  req.zstd_level = opt.zstd_level;
  req.keys = opt.keys;
  req.out_dir = opt.out;
  req.progress = opt.progress;
  auto result = write_bundle(req);
  if (!result) return fail(result.error());

  ExportSummary summary;
  summary.first = state->manifests.empty();
  auto before = packages_of(store, state->snapshots);
  auto after = packages_of(store, req.snapshots);
  if (before && after) summary.changes = diff_packages(*before, *after);

  // Remember the manifest bytes and the stream's new head in one commit.
  auto raw = read_file(result->dir / "manifest.json", kMaxManifestBytes);
  if (!raw) return fail(raw.error());
  auto batch = store.begin_batch();
  if (!batch) return fail(batch.error());
  if (auto id = batch->put_bytes(*raw, result->manifest_sha256); !id) return fail(id.error());
  StreamState next = *state;
  next.sequence = req.sequence;
  next.manifests.push_back(result->manifest_sha256);
  next.snapshots = req.snapshots;
  next.log_size = log.size() + 1;  // the export record below travels with the next bundle
  batch->set_meta("stream/" + opt.stream, save_state(next));
  if (auto s = batch->commit(); !s) return fail(s.error());

  json snaps = json::array();
  for (const auto& m : result->manifest.snapshots) snaps.push_back({{"repo", m.repo}, {"id", m.id.hex()}});
  json keyids = json::array();
  for (const auto* k : opt.keys) keyids.push_back(k->public_key().id().hex());
  json rec{{"stream", opt.stream},
           {"sequence", req.sequence},
           {"kind", result->manifest.kind},
           {"manifest", result->manifest_sha256.hex()},
           {"bundle", result->dir.filename().string()},
           {"snapshots", snaps},
           {"objects", result->manifest.objects.size()},
           {"bytes", result->manifest.payload_size()},
           {"volumes", result->manifest.volumes.size()},
           {"signers", keyids}};
  if (auto n = log.append("export", rec.dump()); !n) return fail(n.error());
  if (opt.log_key) {
    if (auto c = log.checkpoint(*opt.log_key); !c) return fail(c.error());
    // The checkpoint record, too, belongs to what the next bundle carries.
  } else if (auto s = log.sync(); !s) {
    return fail(s.error());
  }
  summary.bundle = std::move(*result);
  return summary;
}

}  // namespace airlock::mirror
