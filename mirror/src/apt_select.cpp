#include "apt_select.h"

#include <fnmatch.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace airlock::mirror {

Status IndexRecords::add(const std::string& repo, const std::string& index,
                         apt::PackageRecord rec) {
  const bool whole = keep_ == Keep::records;
  auto earlier = [&](std::size_t i) {
    if (whole) {
      const auto& r = records_[i];
      return std::tie(r.package, r.architecture, r.version, r.filename, r.sha256);
    }
    const auto& p = packages_[i];
    return std::tie(p.name, p.architecture, p.version, p.path, p.sha256);
  };
  std::string joined =
      rec.package + '\n' + rec.architecture + '\n' + rec.version + '\n' + rec.filename;
  const std::uint64_t h = std::hash<std::string>{}(joined);
  auto [first, last] = seen_.equal_range(h);
  for (auto it = first; it != last; ++it) {
    const auto& [package, architecture, version, filename, sha256] = earlier(it->second);
    if (std::tie(package, architecture, version, filename) !=
        std::tie(rec.package, rec.architecture, rec.version, rec.filename))
      continue;
    if (sha256 != rec.sha256)
      return fail(Code::refused, repo + ": two indices disagree about " + rec.filename);
    return {};
  }
  if (!whole) {
    seen_.emplace(h, packages_.size());
    packages_.push_back(PackageEntry{std::move(rec.package), std::move(rec.version),
                                     std::move(rec.architecture), std::move(rec.source), rec.size,
                                     rec.sha256, std::move(rec.filename), index});
    return {};
  }
  // A few indices per repository: a search is cheaper than a map.
  auto at = std::find(index_names_.begin(), index_names_.end(), index);
  if (at == index_names_.end()) at = index_names_.insert(at, index);
  seen_.emplace(h, records_.size());
  records_.push_back(std::move(rec));
  index_of_.push_back(static_cast<std::uint32_t>(at - index_names_.begin()));
  return {};
}

Result<Selection> select_packages(const RepoConfig& repo,
                                  const std::vector<apt::PackageRecord>& records) {
  Selection out;
  std::vector<std::size_t> matched;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto& name = records[i].package;
    bool match = repo.packages.empty() ||
                 std::any_of(repo.packages.begin(), repo.packages.end(), [&](const std::string& g) {
                   return ::fnmatch(g.c_str(), name.c_str(), 0) == 0;
                 });
    if (match) matched.push_back(i);
  }
  out.selected = matched.size();
  if (repo.packages.empty() || !repo.with_dependencies) {
    out.carried = std::move(matched);
    return out;
  }
  auto closure = apt::dependency_closure(records, matched, repo.architectures);
  if (!closure) return fail(closure.error());
  out.unsatisfied = std::move(closure->unsatisfied);
  std::merge(matched.begin(), matched.end(), closure->added.begin(), closure->added.end(),
             std::back_inserter(out.carried));
  out.added = std::move(closure->added);
  return out;
}

Digest selection_digest(const RepoConfig& repo) {
  auto set = [](const std::vector<std::string>& list) {
    return std::set<std::string>(list.begin(), list.end());
  };
  nlohmann::json j{{"suites", set(repo.suites)},
                   {"components", set(repo.components)},
                   {"architectures", set(repo.architectures)},
                   {"translations", repo.translations}};
  if (!repo.packages.empty()) {
    j["packages"] = set(repo.packages);
    j["with_dependencies"] = repo.with_dependencies;
  }
  return sha256(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace airlock::mirror
