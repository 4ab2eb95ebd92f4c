#include "airlock/store/snapshot.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <tuple>
#include <type_traits>

#include "airlock/base/json.h"

namespace airlock {
namespace {
using json = nlohmann::json;

bool listed(const std::vector<const SnapshotEntry*>& sorted, const std::string& path) {
  return std::binary_search(sorted.begin(), sorted.end(), path, [](const auto& a, const auto& b) {
    if constexpr (std::is_same_v<std::decay_t<decltype(a)>, std::string>) {
      return a < b->path;
    } else {
      return a->path < b;
    }
  });
}

Result<json> packages_json(const Snapshot& s, const std::vector<const SnapshotEntry*>& sorted) {
  std::vector<const PackageEntry*> pkgs;
  for (const auto& p : s.packages) pkgs.push_back(&p);
  std::sort(pkgs.begin(), pkgs.end(), [](const PackageEntry* a, const PackageEntry* b) {
    return std::tie(a->name, a->architecture, a->version, a->path) <
           std::tie(b->name, b->architecture, b->version, b->path);
  });
  json out = json::array();
  for (std::size_t i = 0; i < pkgs.size(); ++i) {
    const auto& p = *pkgs[i];
    if (p.name.empty() || !listed(sorted, p.path) || !listed(sorted, p.index)) {
      return fail(Code::invalid_input,
                  "snapshot package '" + p.name + "' names a file it does not hold");
    }
    if (i > 0 && *pkgs[i - 1] == p)
      return fail(Code::invalid_input, "snapshot lists package '" + p.name + "' twice");
    out.push_back({{"name", p.name},
                   {"version", p.version},
                   {"architecture", p.architecture},
                   {"source", p.source},
                   {"size", p.size},
                   {"sha256", p.sha256.hex()},
                   {"path", p.path},
                   {"index", p.index}});
  }
  return out;
}

Status parse_packages(const json& doc, Snapshot& s) {
  auto bad = [](std::string what) { return fail(Code::invalid_input, "snapshot: " + what); };
  if (!doc.contains("packages") || !doc["packages"].is_array())
    return bad("packages must be an array");
  if (!doc.contains("filtered") || !doc["filtered"].is_boolean())
    return bad("filtered must be true or false");
  s.filtered = doc["filtered"].get<bool>();
  for (const auto& p : doc["packages"]) {
    if (!p.is_object() || p.size() != 8) return bad("each package needs exactly its eight fields");
    for (const char* f : {"name", "version", "architecture", "source", "sha256", "path", "index"}) {
      if (!p.contains(f) || !p[f].is_string())
        return bad(std::string("package ") + f + " must be a string");
    }
    if (!p.contains("size") || !p["size"].is_number_unsigned())
      return bad("package size must be a number");
    auto d = Digest::parse(p["sha256"].get<std::string>());
    if (!d) return bad(d.error().message);
    s.packages.push_back({p["name"].get<std::string>(), p["version"].get<std::string>(),
                          p["architecture"].get<std::string>(), p["source"].get<std::string>(),
                          p["size"].get<std::uint64_t>(), *d, p["path"].get<std::string>(),
                          p["index"].get<std::string>()});
  }
  return {};
}

}  // namespace

bool valid_repo_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return name != "." && name != "..";
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
  auto pkgs = packages_json(*this, sorted);
  if (!pkgs) return fail(pkgs.error());
  json doc{{"repo", repo},
           {"kind", kind},
           {"upstream", upstream},
           {"synced_at", format_time(synced_at)},
           {"release", release},
           {"entries", std::move(list)},
           {"packages", std::move(*pkgs)},
           {"filtered", filtered}};
  try {
    return doc.dump();
  } catch (const json::exception& e) {
    return fail(Code::invalid_input, std::string("snapshot is not valid UTF-8: ") + e.what());
  }
}

Result<Snapshot> Snapshot::parse(std::string_view text) {
  auto bad = [](std::string what) { return fail(Code::invalid_input, "snapshot: " + what); };
  auto parsed = parse_json_strict(text);
  if (!parsed) return bad(parsed.error().message);
  json& doc = *parsed;
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  for (const char* field : {"repo", "kind", "upstream", "synced_at"}) {
    if (!doc.contains(field) || !doc[field].is_string())
      return bad(std::string(field) + " must be a string");
  }
  if (!doc.contains("release") || !doc["release"].is_object())
    return bad("release must be an object");
  if (!doc.contains("entries") || !doc["entries"].is_array())
    return bad("entries must be an array");
  if (doc.size() != 8) return bad("unexpected fields");
  Snapshot s;
  s.repo = doc["repo"].get<std::string>();
  if (!valid_repo_name(s.repo)) {
    return bad("repo name " +
               json(s.repo.substr(0, 130)).dump(-1, ' ', false, json::error_handler_t::replace) +
               " is not valid (1-128 characters of A-Z a-z 0-9 - _ . and not . or ..)");
  }
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
  if (auto p = parse_packages(doc, s); !p) return fail(p.error());
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
