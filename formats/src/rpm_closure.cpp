// The dependency closure of rpm_closure.h: a breadth-first walk over
// packages, each requirement resolved to one package.
#include "airlock/formats/rpm_closure.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>

namespace airlock::rpm {
namespace {

enum Sense { kLess = 1, kGreater = 2, kEqual = 4 };

int sense(std::string_view flags) {
  if (flags == "EQ") return kEqual;
  if (flags == "LT") return kLess;
  if (flags == "LE") return kLess | kEqual;
  if (flags == "GT") return kGreater;
  if (flags == "GE") return kGreater | kEqual;
  return 0;
}

bool versioned(const Relation& r) { return sense(r.flags) != 0 && !r.version.empty(); }

// rpm's rpmverCmp: releases only count when both have one.
int compare_relation_evr(const Relation& a, const Relation& b) {
  if (a.release.empty() || b.release.empty()) {
    return compare_evr(a.epoch, a.version, "", b.epoch, b.version, "");
  }
  return compare_evr(a.epoch, a.version, a.release, b.epoch, b.version, b.release);
}

// A package as a provide of its own name.
Relation self_provide(const RpmPackage& p) {
  return Relation{p.name, "EQ", p.epoch, p.version, p.release, false};
}

class Resolver {
 public:
  explicit Resolver(const std::vector<RpmPackage>& packages)
      : packages_(packages), in_closure_(packages.size(), false) {}

  void index();
  Result<Closure> run(const std::vector<std::size_t>& roots);

 private:
  const RpmPackage& pkg(std::size_t i) const { return packages_[i]; }
  std::vector<std::size_t> candidates(const Relation& r) const;
  std::optional<std::size_t> choose(const std::vector<std::size_t>& found, const Relation& r,
                                    std::size_t requirer) const;
  void expand(std::size_t i, Closure& out);
  void visit(std::size_t i);

  const std::vector<RpmPackage>& packages_;
  std::vector<std::size_t> canonical_;  // each package -> the first that is the same
  std::map<std::string, std::vector<std::pair<std::size_t, Relation>>, std::less<>> provides_;
  std::map<std::string, std::vector<std::size_t>, std::less<>> files_;
  std::vector<bool> in_closure_;
  std::deque<std::size_t> queue_;
};

void Resolver::index() {
  std::map<std::tuple<std::string_view, std::string_view, std::string>, std::size_t> first;
  canonical_.resize(packages_.size());
  for (std::size_t i = 0; i < packages_.size(); ++i) {
    const auto& p = pkg(i);
    auto [it, inserted] = first.try_emplace({p.name, p.arch, p.evr()}, i);
    canonical_[i] = it->second;
    if (!inserted) continue;
    provides_[p.name].emplace_back(i, self_provide(p));
    for (const auto& provide : p.provides) provides_[provide.name].emplace_back(i, provide);
    for (const auto& file : p.files) files_[file].push_back(i);
  }
}

// Every package that satisfies r, each once, in index order.
std::vector<std::size_t> Resolver::candidates(const Relation& r) const {
  std::set<std::size_t> found;
  if (auto it = provides_.find(r.name); it != provides_.end()) {
    for (const auto& [i, provide] : it->second) {
      if (provides_satisfy(provide, r)) found.insert(i);
    }
  }
  if (r.name.starts_with('/')) {
    if (auto it = files_.find(r.name); it != files_.end())
      found.insert(it->second.begin(), it->second.end());
  }
  return {found.begin(), found.end()};
}

std::optional<std::size_t> Resolver::choose(const std::vector<std::size_t>& found,
                                            const Relation& r, std::size_t requirer) const {
  const std::string& arch = pkg(requirer).arch;
  // Smaller is better: in the closure, of the required name, of a fitting architecture.
  auto rank = [&](std::size_t i) {
    const auto& p = pkg(i);
    const bool fits = p.arch == arch || p.arch == "noarch" || arch == "noarch";
    return std::tuple(!in_closure_[i], p.name != r.name, !fits, std::string_view(p.name));
  };
  std::optional<std::size_t> best;
  for (std::size_t i : found) {
    if (!best || rank(i) < rank(*best)) {
      best = i;
      continue;
    }
    if (rank(i) == rank(*best)) {
      const auto& a = pkg(i);
      const auto& b = pkg(*best);
      if (compare_evr(a.epoch, a.version, a.release, b.epoch, b.version, b.release) > 0) best = i;
    }
  }
  return best;
}

void Resolver::visit(std::size_t i) {
  if (in_closure_[i]) return;
  in_closure_[i] = true;
  queue_.push_back(i);
}

void Resolver::expand(std::size_t i, Closure& out) {
  std::set<std::string> reported;
  for (const auto& r : pkg(i).requirements) {
    if (r.name.starts_with("rpmlib(")) continue;
    const auto found = r.name.starts_with('(') ? std::vector<std::size_t>{} : candidates(r);
    if (std::find(found.begin(), found.end(), i) != found.end()) continue;
    if (auto chosen = choose(found, r, i)) {
      visit(*chosen);
      continue;
    }
    std::string requirement = format_relation(r);
    if (reported.insert(requirement).second) {
      out.unsatisfied.push_back({pkg(i).name, pkg(i).evr(), pkg(i).arch, std::move(requirement)});
    }
  }
}

Result<Closure> Resolver::run(const std::vector<std::size_t>& roots) {
  Closure out;
  std::set<std::size_t> selected;
  for (std::size_t root : roots) {
    if (root >= packages_.size()) {
      return fail(Code::invalid_input, "closure: no package " + std::to_string(root));
    }
    selected.insert(canonical_[root]);
    visit(canonical_[root]);
  }
  while (!queue_.empty()) {
    const std::size_t i = queue_.front();
    queue_.pop_front();
    expand(i, out);
  }
  out.selected.assign(selected.begin(), selected.end());
  for (std::size_t i = 0; i < packages_.size(); ++i) {
    if (in_closure_[i] && !selected.contains(i)) out.added.push_back(i);
  }
  return out;
}

}  // namespace

std::string format_relation(const Relation& r) {
  static constexpr std::pair<std::string_view, std::string_view> kOps[] = {
      {"EQ", "="}, {"LT", "<"}, {"LE", "<="}, {"GT", ">"}, {"GE", ">="}};
  std::string out = r.name;
  if (!versioned(r)) return out;
  for (const auto& [flags, op] : kOps) {
    if (r.flags == flags) out += " " + std::string(op) + " ";
  }
  if (!r.epoch.empty() && r.epoch != "0") out += r.epoch + ":";
  out += r.version;
  if (!r.release.empty()) out += "-" + r.release;
  return out;
}

bool provides_satisfy(const Relation& provide, const Relation& requirement) {
  if (provide.name != requirement.name) return false;
  if (!versioned(provide) || !versioned(requirement)) return true;
  const int a = sense(provide.flags), b = sense(requirement.flags);
  const int c = compare_relation_evr(provide, requirement);
  if (c < 0) return (a & kGreater) || (b & kLess);
  if (c > 0) return (a & kLess) || (b & kGreater);
  return ((a & kEqual) && (b & kEqual)) || ((a & kLess) && (b & kLess)) ||
         ((a & kGreater) && (b & kGreater));
}

Result<Closure> dependency_closure(const std::vector<RpmPackage>& packages,
                                   const std::vector<std::size_t>& roots) {
  Resolver resolver(packages);
  resolver.index();
  return resolver.run(roots);
}

}  // namespace airlock::rpm
