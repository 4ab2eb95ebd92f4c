#include "airlock/transfer/snapshot_view.h"

#include "airlock/base/cli.h"
#include "airlock/formats/compress.h"
#include "airlock/formats/rpm.h"

namespace airlock {
namespace {

using json = nlohmann::json;

constexpr std::uint64_t kMaxRepomd = 16ull << 20;
constexpr std::uint64_t kMaxUpdateinfo = 2ull << 30;  // decompressed

std::string nevra(const rpm::AdvisoryPackage& p) {
  std::string evr = p.epoch.empty() || p.epoch == "0" ? "" : p.epoch + ":";
  return p.name + "-" + evr + p.version + "-" + p.release + "." + p.arch;
}

SnapshotAdvisory view_of(rpm::Advisory&& a) {
  SnapshotAdvisory v{std::move(a.id),
                     std::move(a.type),
                     std::move(a.severity),
                     std::move(a.title),
                     std::move(a.issued),
                     std::move(a.references),
                     {}};
  for (const auto& p : a.packages) v.packages.push_back(nevra(p));
  return v;
}

}  // namespace

Result<std::vector<SnapshotAdvisory>> snapshot_advisories(const Store& store,
                                                          const Snapshot& snapshot) {
  std::vector<SnapshotAdvisory> out;
  const auto* repomd_entry = snapshot.find("repodata/repomd.xml");
  if (snapshot.kind != "rpm" || !repomd_entry) return out;
  auto bytes = store.read(repomd_entry->sha256, kMaxRepomd);
  if (!bytes) return fail(bytes.error());
  auto repomd = rpm::parse_repomd(*bytes);
  if (!repomd) return fail(repomd.error());
  const rpm::RepomdData* info = nullptr;
  for (const auto& d : repomd->data) {
    if (d.type == "updateinfo") info = &d;
  }
  if (!info) return out;
  const auto* entry = snapshot.find(info->location);
  if (!entry) return out;
  auto reader = store.read_pieces(entry->sha256, entry->size);
  if (!reader) return fail(reader.error());
  rpm::UpdateinfoParser parser([&](rpm::Advisory&& a) -> Status {
    out.push_back(view_of(std::move(a)));
    return {};
  });
  auto source = [&reader] { return reader->next(); };
  auto s = formats::decompress_index_to(
      source, [&](std::string_view piece) { return parser.feed(piece); }, kMaxUpdateinfo);
  if (s) s = parser.finish();
  if (auto whole = reader->finish(); !whole) return fail(whole.error().context(entry->path));
  if (!s) return fail(s.error().context(entry->path));
  return out;
}

Result<SnapshotView> load_snapshot_view(const Store& store, const Digest& id) {
  auto snap = store.get_snapshot(id);
  if (!snap) return fail(snap.error());
  auto advisories = snapshot_advisories(store, *snap);
  if (!advisories) return fail(advisories.error());
  return SnapshotView{id, std::move(*snap), std::move(*advisories)};
}

void print_snapshot_view(std::ostream& out, const SnapshotView& v) {
  const Snapshot& s = v.snapshot;
  cli::field(out, "snapshot", v.id.hex());
  cli::field(out, "repo", s.repo + " (" + s.kind + ")");
  cli::field(out, "upstream", s.upstream);
  cli::field(out, "synced", format_time(s.synced_at));
  cli::field(out, "files",
             std::to_string(s.entries.size()) + " (" + cli::human_bytes(s.total_size()) + ")");
  for (const auto& [key, value] : s.release) cli::field(out, "release", key + ": " + value);
  cli::field(out, "filtered",
             s.filtered ? "yes: the packages a filter chose, with their dependencies"
                        : "no: every package its indices list");
  cli::field(out, "packages", std::to_string(s.packages.size()));
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : s.packages)
    rows.push_back({p.name, p.version, p.architecture, p.source, cli::human_bytes(p.size)});
  cli::print_table(out, std::move(rows));
  if (s.kind != "rpm") return;
  cli::field(out, "advisories", std::to_string(v.advisories.size()));
  for (const auto& a : v.advisories) {
    std::string refs;
    for (const auto& r : a.references) refs += (refs.empty() ? "" : ", ") + r;
    cli::print_table(out,
                     {{a.id, a.type, a.severity.empty() ? "-" : a.severity, a.issued, a.title}});
    if (!refs.empty()) cli::field(out, "    references", refs, 19);
    std::string fixed;
    for (const auto& p : a.packages) fixed += (fixed.empty() ? "" : ", ") + p;
    cli::field(out, "    fixed by", fixed.empty() ? "-" : fixed, 19);
  }
}

json snapshot_view_json(const SnapshotView& v) {
  const Snapshot& s = v.snapshot;
  json packages = json::array();
  for (const auto& p : s.packages) {
    packages.push_back({{"name", p.name},
                        {"version", p.version},
                        {"architecture", p.architecture},
                        {"source", p.source},
                        {"size", p.size},
                        {"sha256", p.sha256.hex()},
                        {"path", p.path}});
  }
  json advisories = json::array();
  for (const auto& a : v.advisories) {
    advisories.push_back({{"id", a.id},
                          {"type", a.type},
                          {"severity", a.severity},
                          {"title", a.title},
                          {"issued", a.issued},
                          {"references", a.references},
                          {"packages", a.packages}});
  }
  return {{"id", v.id.hex()},
          {"repo", s.repo},
          {"kind", s.kind},
          {"upstream", s.upstream},
          {"synced_at", format_time(s.synced_at)},
          {"files", s.entries.size()},
          {"bytes", s.total_size()},
          {"release", s.release},
          {"filtered", s.filtered},
          {"packages", std::move(packages)},
          {"advisories", std::move(advisories)}};
}

}  // namespace airlock
