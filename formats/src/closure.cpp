// The dependency closure of depends.h: a breadth-first walk over (package,
// architecture) pairs, each dependency group resolved to one package.
#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "airlock/formats/depends.h"
#include "airlock/formats/version.h"

namespace airlock::apt {
namespace {

enum Field { kPreDepends, kDepends };
constexpr std::string_view kFieldNames[] = {"Pre-Depends", "Depends"};

// A package that Provides a name, with what it provides.
struct Provider {
  std::size_t record;
  Relation provided;
};

class Resolver {
 public:
  Resolver(const std::vector<PackageRecord>& records, const std::vector<std::string>& archs)
      : records_(records), archs_(archs), in_closure_(records.size(), false) {}

  Status index();
  Result<Closure> run(const std::vector<std::size_t>& roots);

 private:
  struct Item {
    std::size_t record;
    std::string context;
  };

  const PackageRecord& rec(std::size_t i) const { return records_[i]; }
  Status context_error(std::size_t i, std::string_view field, const Error& e) const;
  Result<const std::vector<Alternatives>*> relationships(std::size_t i, Field field);
  Status expand(const Item& item, Closure& out);
  std::optional<std::size_t> resolve(const Alternatives& group, const std::string& ctx) const;
  std::optional<std::size_t> real(const Relation& r, const std::string& ctx) const;
  std::optional<std::size_t> provider(const Relation& r, const std::string& ctx) const;
  bool fits(const std::string& arch, const Relation& r, const std::string& ctx) const;
  bool newer(std::size_t a, std::size_t b, const std::string& ctx) const;
  void visit(std::size_t i, const std::string& context);

  const std::vector<PackageRecord>& records_;
  const std::vector<std::string>& archs_;
  std::vector<std::size_t> canonical_;  // each record -> the first of the same package
  std::map<std::string, std::vector<std::size_t>, std::less<>> by_name_;
  std::map<std::string, std::vector<Provider>, std::less<>> providers_;
  std::map<std::pair<std::size_t, Field>, std::vector<Alternatives>> parsed_;
  std::set<std::pair<std::size_t, std::string>> seen_;
  std::vector<bool> in_closure_;
  std::deque<Item> queue_;
};

Status Resolver::context_error(std::size_t i, std::string_view field, const Error& e) const {
  return fail(e.code, "Packages: " + rec(i).package + " " + rec(i).version + " (" +
                          rec(i).architecture + "): " + std::string(field) + ": " + e.message);
}

// Names, duplicates and every Provides, once.
Status Resolver::index() {
  std::map<std::tuple<std::string_view, std::string_view, std::string_view>, std::size_t> first;
  canonical_.resize(records_.size());
  for (std::size_t i = 0; i < records_.size(); ++i) {
    const auto& r = rec(i);
    auto [it, inserted] = first.try_emplace({r.package, r.architecture, r.version}, i);
    canonical_[i] = it->second;
    if (!inserted) continue;
    by_name_[r.package].push_back(i);
    auto provides = parse_relationships(r.provides);
    if (!provides) return context_error(i, "Provides", provides.error());
    for (const auto& group : *provides) {
      const Relation& p = group.front();
      if (group.size() != 1 || !p.arch.empty() ||
          (p.op != Relation::Op::none && p.op != Relation::Op::equal)) {
        return context_error(i, "Provides",
                             Error{Code::invalid_input, "'" + format_alternatives(group) +
                                                            "' is not a name with an optional "
                                                            "(= version)"});
      }
      providers_[p.name].push_back({i, p});
    }
  }
  return {};
}

Result<const std::vector<Alternatives>*> Resolver::relationships(std::size_t i, Field field) {
  auto it = parsed_.find({i, field});
  if (it != parsed_.end()) return &it->second;
  auto parsed = parse_relationships(field == kDepends ? rec(i).depends : rec(i).pre_depends);
  if (!parsed) return fail(context_error(i, kFieldNames[field], parsed.error()).error());
  return &parsed_.emplace(std::pair{i, field}, std::move(*parsed)).first->second;
}

// Whether a package of arch may satisfy r for a package resolved for ctx.
// Packages of other architectures than those given are never candidates.
bool Resolver::fits(const std::string& arch, const Relation& r, const std::string& ctx) const {
  if (arch == "all") return true;
  if (std::find(archs_.begin(), archs_.end(), arch) == archs_.end()) return false;
  if (r.arch.empty() || r.arch == "native") return arch == ctx;
  return r.arch == "any" || r.arch == arch;
}

// Newer version first; at the same version, the context's architecture.
bool Resolver::newer(std::size_t a, std::size_t b, const std::string& ctx) const {
  const int c = compare_versions(rec(a).version, rec(b).version);
  if (c != 0) return c > 0;
  auto native = [&](std::size_t i) {
    return rec(i).architecture == ctx || rec(i).architecture == "all";
  };
  return native(a) && !native(b);
}

std::optional<std::size_t> Resolver::real(const Relation& r, const std::string& ctx) const {
  auto it = by_name_.find(r.name);
  if (it == by_name_.end()) return std::nullopt;
  std::optional<std::size_t> best;
  for (std::size_t i : it->second) {
    if (!fits(rec(i).architecture, r, ctx) || !satisfies(r, rec(i).version)) continue;
    if (!best || newer(i, *best, ctx)) best = i;
  }
  return best;
}

std::optional<std::size_t> Resolver::provider(const Relation& r, const std::string& ctx) const {
  auto it = providers_.find(r.name);
  if (it == providers_.end()) return std::nullopt;
  std::optional<std::size_t> best;
  for (const auto& [i, provided] : it->second) {
    if (!fits(rec(i).architecture, r, ctx)) continue;
    // A versioned relation needs a versioned Provides that satisfies it.
    if (r.op != Relation::Op::none &&
        (provided.op != Relation::Op::equal || !satisfies(r, provided.version)))
      continue;
    if (!best) {
      best = i;
      continue;
    }
    const auto key = [&](std::size_t k) { return std::tuple(!in_closure_[k], rec(k).package); };
    if (key(i) < key(*best) || (key(i) == key(*best) && newer(i, *best, ctx))) best = i;
  }
  return best;
}

// The first alternative anything satisfies: a real package, else a provider.
std::optional<std::size_t> Resolver::resolve(const Alternatives& group,
                                             const std::string& ctx) const {
  for (const auto& r : group) {
    if (auto i = real(r, ctx)) return i;
    if (auto i = provider(r, ctx)) return i;
  }
  return std::nullopt;
}

void Resolver::visit(std::size_t i, const std::string& context) {
  in_closure_[i] = true;
  if (seen_.emplace(i, context).second) queue_.push_back({i, context});
}

Status Resolver::expand(const Item& item, Closure& out) {
  for (Field field : {kPreDepends, kDepends}) {
    auto groups = relationships(item.record, field);
    if (!groups) return fail(groups.error());
    for (const auto& group : **groups) {
      auto chosen = resolve(group, item.context);
      if (!chosen) {
        const auto& r = rec(item.record);
        out.unsatisfied.push_back({r.package, r.version, r.architecture, item.context,
                                   std::string(kFieldNames[field]), format_alternatives(group)});
        continue;
      }
      const auto& arch = rec(*chosen).architecture;
      visit(*chosen, arch == "all" ? item.context : arch);
    }
  }
  return {};
}

Result<Closure> Resolver::run(const std::vector<std::size_t>& roots) {
  Closure out;
  std::set<std::size_t> selected;
  for (std::size_t root : roots) {
    if (root >= records_.size())
      return fail(Code::invalid_input, "closure: no record " + std::to_string(root));
    const std::size_t i = canonical_[root];
    selected.insert(i);
    const auto& arch = rec(i).architecture;
    if (arch != "all") visit(i, arch);
    for (const auto& a : archs_) {
      if (arch == "all") visit(i, a);
    }
  }
  while (!queue_.empty()) {
    const Item item = std::move(queue_.front());
    queue_.pop_front();
    if (auto s = expand(item, out); !s) return fail(s.error());
  }
  out.selected.assign(selected.begin(), selected.end());
  for (std::size_t i = 0; i < records_.size(); ++i) {
    if (in_closure_[i] && !selected.contains(i)) out.added.push_back(i);
  }
  return out;
}

}  // namespace

Result<Closure> dependency_closure(const std::vector<PackageRecord>& records,
                                   const std::vector<std::size_t>& roots,
                                   const std::vector<std::string>& architectures) {
  Resolver resolver(records, architectures);
  if (auto s = resolver.index(); !s) return fail(s.error());
  return resolver.run(roots);
}

}  // namespace airlock::apt
