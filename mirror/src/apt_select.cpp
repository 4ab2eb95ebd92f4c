#include "apt_select.h"

#include <fnmatch.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace airlock::mirror {

Status IndexRecords::add(const std::string& repo, const std::string& index,
                         std::vector<apt::PackageRecord> records) {
  for (auto& rec : records) {
    auto [it, inserted] = seen_.try_emplace(
        {rec.package, rec.architecture, rec.version, rec.filename}, records_.size());
    if (!inserted) {
      if (records_[it->second].sha256 != rec.sha256)
        return fail(Code::refused, repo + ": two indices disagree about " + rec.filename);
      continue;
    }
    records_.push_back(std::move(rec));
    indices_.push_back(index);
  }
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
