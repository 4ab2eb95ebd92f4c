#include "airlock/store/snapshot.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace airlock {
namespace {
using json = nlohmann::json;
}

bool is_safe_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path.front() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f) return false;
    }
    start = end + 1;
  }
  return true;
}

Result<std::string> Snapshot::to_canonical_json() const {
  std::vector<const SnapshotEntry*> sorted;
  sorted.reserve(entries.size());
  for (const auto& e : entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const SnapshotEntry* a, const SnapshotEntry* b) { return a->path < b->path; });
  json list = json::array();
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const auto& e = *sorted[i];
    if (!is_safe_relative_path(e.path)) {
      return fail(Code::invalid_input,
                  "snapshot path '" + e.path + "' is not a safe relative path");
    }
    if (i > 0 && sorted[i - 1]->path == e.path) {
      return fail(Code::invalid_input, "snapshot lists path '" + e.path + "' twice");
    }
    list.push_back(json{{"path", e.path}, {"sha256", e.sha256.hex()}, {"size", e.size}});
  }
  json doc{{"repo", repo},         {"kind", kind},
           {"upstream", upstream}, {"synced_at", format_time(synced_at)},
           {"release", release},   {"entries", std::move(list)}};
  try {
    return doc.dump();
  } catch (const json::exception& e) {
    return fail(Code::invalid_input, std::string("snapshot is not valid UTF-8: ") + e.what());
  }
}

Result<Snapshot> Snapshot::parse(std::string_view text) {
  auto bad = [](std::string what) { return fail(Code::invalid_input, "snapshot: " + what); };
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  for (const char* field : {"repo", "kind", "upstream", "synced_at"}) {
    if (!doc.contains(field) || !doc[field].is_string())
      return bad(std::string(field) + " must be a string");
  }
  if (!doc.contains("release") || !doc["release"].is_object())
    return bad("release must be an object");
  if (!doc.contains("entries") || !doc["entries"].is_array())
    return bad("entries must be an array");
  if (doc.size() != 6) return bad("unexpected fields");
  Snapshot s;
  s.repo = doc["repo"].get<std::string>();
  s.kind = doc["kind"].get<std::string>();
  s.upstream = doc["upstream"].get<std::string>();
  auto t = parse_time(doc["synced_at"].get<std::string>());
  if (!t) return bad("synced_at: " + t.error().message);
  s.synced_at = *t;
  for (const auto& [k, v] : doc["release"].items()) {
    if (!v.is_string()) return bad("release values must be strings");
    s.release.emplace(k, v.get<std::string>());
  }
  s.entries.reserve(doc["entries"].size());
  for (const auto& e : doc["entries"]) {
    if (!e.is_object() || e.size() != 3 || !e.contains("path") || !e["path"].is_string() ||
        !e.contains("sha256") || !e["sha256"].is_string() || !e.contains("size") ||
        !e["size"].is_number_unsigned()) {
      return bad("each entry needs exactly path, sha256 and size");
    }
    auto d = Digest::parse(e["sha256"].get<std::string>());
    if (!d) return bad(d.error().message);
    s.entries.push_back({e["path"].get<std::string>(), *d, e["size"].get<std::uint64_t>()});
  }
  auto canonical = s.to_canonical_json();
  if (!canonical) return bad(canonical.error().message);
  if (*canonical != text) return bad("not in canonical form");
  return s;
}

std::uint64_t Snapshot::total_size() const {
  std::uint64_t total = 0;
  for (const auto& e : entries) total += e.size;
  return total;
}

const SnapshotEntry* Snapshot::find(std::string_view path) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), path,
                             [](const SnapshotEntry& e, std::string_view p) { return e.path < p; });
  if (it == entries.end() || it->path != path) return nullptr;
  return &*it;
}

}  // namespace airlock
