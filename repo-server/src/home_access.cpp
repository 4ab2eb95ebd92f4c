// The access policy's commands: access.toml changed through the ledger, as
// the trust policy is.
#include <nlohmann/json.hpp>

#include "airlock/repo/home.h"

namespace airlock::repo {

Result<AccessPolicy> Home::access() const { return AccessPolicy::load(access_file()); }

// Reads the policy under the home's change lock, so that two changes at once
// cannot lose one; adds added, or else removes the rule called name.
Result<AccessReport> Home::change_access(const std::string& name, const AccessRule* added,
                                         const ChangeInfo& who) {
  auto change = ledger().begin();
  if (!change) return fail(change.error());
  auto policy = access();
  if (!policy) return fail(policy.error());
  AccessReport report;
  if (added) {
    if (auto s = policy->add(*added); !s) return fail(s.error());
    report.action = "add";
    report.rule = policy->rules().back();
  } else {
    auto removed = policy->remove(name);
    if (!removed) return fail(removed.error());
    report.action = "remove";
    report.rule = std::move(*removed);
  }
  nlohmann::json record = who.fields();
  record["action"] = report.action;
  record["rule"] = to_json(report.rule);
  if (auto s = change->commit_files({{access_file(), policy->to_toml(), 0644, false}},
                                    {{"access", std::move(record)}});
      !s) {
    return fail(s.error());
  }
  report.policy = std::move(*policy);
  return report;
}

Result<AccessReport> Home::access_add(AccessRule rule, const ChangeInfo& who) {
  return change_access(rule.name, &rule, who);
}

Result<AccessReport> Home::access_remove(const std::string& name, const ChangeInfo& who) {
  return change_access(name, nullptr, who);
}

}  // namespace airlock::repo
