#include "airlock/transfer/changes.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <tuple>

#include "airlock/base/cli.h"
#include "airlock/base/text.h"
#include "airlock/formats/package_diff.h"

namespace airlock {
namespace {

using json = nlohmann::json;

constexpr std::array<const char*, 4> kKinds{"added", "upgraded", "downgraded", "removed"};

struct Tally {
  std::size_t count[4] = {};
  std::uint64_t bytes[4] = {};
};

Tally tally(const RepoChanges& rc) {
  Tally t;
  for (const auto& c : rc.packages) {
    for (std::size_t k = 0; k < kKinds.size(); ++k) {
      if (c.change == kKinds[k]) {
        ++t.count[k];
        t.bytes[k] += c.size;
      }
    }
  }
  return t;
}

std::string versions(const PackageChangeEntry& c) {
  if (c.old_version.empty()) return c.new_version;
  if (c.new_version.empty()) return c.old_version;
  return c.old_version + " -> " + c.new_version;
}

}  // namespace

void print_changes(std::ostream& out, const std::vector<RepoChanges>& changes) {
  for (const auto& rc : changes) {
    const Tally t = tally(rc);
    out << escape_for_terminal(rc.repo) << ":";
    if (rc.packages.empty()) {
      out << " no package changes\n";
      continue;
    }
    for (std::size_t k = 0; k < kKinds.size(); ++k) {
      out << (k ? ", " : " ") << t.count[k] << " " << kKinds[k];
      if (k < 3 && t.count[k] > 0) out << " (" << cli::human_bytes(t.bytes[k]) << ")";
    }
    out << "\n";
    for (const auto& c : rc.packages) {
      std::string kind = c.change;
      kind.resize(std::max<std::size_t>(kind.size() + 1, 11), ' ');
      out << "  " << escape_for_terminal(kind)
          << escape_for_terminal(c.name + " (" + c.architecture + ") " + versions(c));
      if (!c.new_version.empty()) out << "  " << cli::human_bytes(c.size);
      out << "\n";
    }
  }
}

json changes_json(const std::vector<RepoChanges>& changes) {
  json out = json::array();
  for (const auto& rc : changes) {
    const Tally t = tally(rc);
    json pkgs = json::array();
    for (const auto& c : rc.packages) {
      pkgs.push_back({{"change", c.change},
                      {"name", c.name},
                      {"architecture", c.architecture},
                      {"old", c.old_version},
                      {"new", c.new_version},
                      {"size", c.size}});
    }
    json entry{{"repo", rc.repo}, {"packages", std::move(pkgs)}};
    std::uint64_t bytes = 0;
    for (std::size_t k = 0; k < kKinds.size(); ++k) {
      entry[kKinds[k]] = t.count[k];
      bytes += t.bytes[k];
    }
    entry["bytes"] = bytes;
    out.push_back(std::move(entry));
  }
  return out;
}

namespace {

std::vector<apt::PackageKey> versions(const Snapshot* snapshot) {
  std::vector<apt::PackageKey> out;
  if (!snapshot) return out;
  out.reserve(snapshot->packages.size());
  for (const auto& p : snapshot->packages) out.push_back({p.name, p.architecture, p.version});
  return out;
}

}  // namespace

RepoChanges package_changes(const std::string& repo, const Snapshot* before,
                            const Snapshot* after) {
  // The new version's bytes: the sizes of its package files, found through
  // pointers sorted by (name, architecture, version), a few bytes a package.
  std::vector<const PackageEntry*> by_version;
  if (after) {
    by_version.reserve(after->packages.size());
    for (const auto& p : after->packages) by_version.push_back(&p);
  }
  auto key = [](const PackageEntry* p) { return std::tie(p->name, p->architecture, p->version); };
  std::sort(by_version.begin(), by_version.end(),
            [&](const PackageEntry* a, const PackageEntry* b) { return key(a) < key(b); });
  auto size_of = [&](const apt::PackageChange& c) {
    std::uint64_t total = 0;
    auto want = std::tie(c.package, c.architecture, c.new_version);
    auto it = std::lower_bound(by_version.begin(), by_version.end(), want,
                               [&](const PackageEntry* p, const auto& k) { return key(p) < k; });
    for (; it != by_version.end() && key(*it) == want; ++it) total += (*it)->size;
    return total;
  };
  RepoChanges out{repo, {}};
  const Snapshot* kind_of = after ? after : before;
  const auto order = apt::version_order(kind_of ? kind_of->kind : "");
  apt::diff_packages(
      versions(before), versions(after),
      [&](apt::PackageChange&& c) {
        const std::uint64_t size = c.new_version.empty() ? 0 : size_of(c);
        out.packages.push_back({std::string(apt::change_name(c.kind)), std::move(c.package),
                                std::move(c.architecture), std::move(c.old_version),
                                std::move(c.new_version), size});
      },
      order);
  return out;
}

}  // namespace airlock
