// The dependency closure of rpm_closure.h: a breadth-first walk over
// packages, each requirement resolved to one package.
#include "airlock/formats/rpm_closure.h"

#include <algorithm>
#include <deque>
#include <iterator>
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

// A rich (boolean) dependency, "(a or (b >= 2 with c))", as rpm parses it
// (rpmrichParse): operands are simple relations or parenthesised rich
// ones; and, or, with chain one operator, if and unless take one operand
// each side and an optional else.
struct Rich {
  enum Op { simple, all, any, with, without, when, unless } op = simple;
  Relation relation;           // simple
  std::vector<Rich> operands;  // condition second for when/unless; else third
};

class RichParser {
 public:
  explicit RichParser(std::string_view text) : s_(text) {}
  // nullopt when text is not one well-formed rich dependency.
  std::optional<Rich> parse() {
    auto r = group();
    blanks();
    if (!r || i_ != s_.size()) return std::nullopt;
    return r;
  }

 private:
  static constexpr std::size_t kMaxDepth = 32;

  // rpm's SKIPWHITE: blanks and commas separate words.
  static bool blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == ',';
  }
  void blanks() {
    while (i_ < s_.size() && blank(s_[i_])) ++i_;
  }
  // A word ends at a blank or at a ')' that closes no '(' of its own.
  std::string_view word() {
    const std::size_t start = i_;
    int open = 0;
    for (; i_ < s_.size() && !blank(s_[i_]); ++i_) {
      if (s_[i_] == '(') ++open;
      if (s_[i_] == ')' && open-- == 0) break;
    }
    return s_.substr(start, i_ - start);
  }
  // rpm's comparison words (rpmParseDSFlags), each a whole word.
  static std::string_view flags_of(std::string_view op) {
    static constexpr std::pair<std::string_view, std::string_view> kOps[] = {
        {"<", "LT"},  {"<=", "LE"}, {"=<", "LE"}, {"=", "EQ"},
        {"==", "EQ"}, {">=", "GE"}, {"=>", "GE"}, {">", "GT"}};
    for (const auto& [word, flags] : kOps) {
      if (op == word) return flags;
    }
    return {};
  }
  std::optional<Rich> operand() {
    blanks();
    if (i_ < s_.size() && s_[i_] == '(') return group();
    Rich r;
    r.relation.name = std::string(word());
    if (r.relation.name.empty()) return std::nullopt;
    const std::size_t before = i_;
    blanks();
    const std::string_view flags = flags_of(word());
    if (flags.empty()) {
      i_ = before;  // not a comparison: the next operator, or the end
      return r;
    }
    blanks();
    std::string_view evr = word();
    if (evr.empty()) return std::nullopt;
    r.relation.flags = std::string(flags);
    // An epoch is digits before a ':'; the release follows the last '-'.
    if (auto colon = evr.find(':');
        colon != std::string_view::npos && colon > 0 &&
        evr.substr(0, colon).find_first_not_of("0123456789") == std::string_view::npos) {
      r.relation.epoch = std::string(evr.substr(0, colon));
      evr.remove_prefix(colon + 1);
    }
    auto dash = evr.rfind('-');
    r.relation.version = std::string(evr.substr(0, dash));
    if (dash != std::string_view::npos) r.relation.release = std::string(evr.substr(dash + 1));
    return r;
  }
  std::optional<Rich> group() {
    blanks();
    if (i_ >= s_.size() || s_[i_] != '(' || ++depth_ > kMaxDepth) return std::nullopt;
    ++i_;
    auto first = operand();
    if (!first) return std::nullopt;
    Rich r;
    r.operands.push_back(std::move(*first));
    std::string_view op_word;
    for (;;) {
      blanks();
      if (i_ < s_.size() && s_[i_] == ')') break;
      const std::string_view w = word();
      const bool chained = !op_word.empty();
      if (w == "else") {
        if (r.op != Rich::when && r.op != Rich::unless) return std::nullopt;
        if (r.operands.size() != 2) return std::nullopt;
      } else if (chained && w != op_word) {
        return std::nullopt;
      } else if (w == "and") {
        r.op = Rich::all;
      } else if (w == "or") {
        r.op = Rich::any;
      } else if (w == "with") {
        r.op = Rich::with;
      } else if (w == "without" && !chained) {
        r.op = Rich::without;
      } else if (w == "if" && !chained) {
        r.op = Rich::when;
      } else if (w == "unless" && !chained) {
        r.op = Rich::unless;
      } else {
        return std::nullopt;
      }
      if (op_word.empty()) op_word = w;
      auto next = operand();
      if (!next) return std::nullopt;
      r.operands.push_back(std::move(*next));
    }
    ++i_;
    --depth_;
    if (r.operands.size() == 1) return std::move(r.operands[0]);
    return r;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::size_t depth_ = 0;
};

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
  // What carrying a rich dependency of requirer takes: whether the
  // repository satisfies it, and the packages to carry.
  struct Need {
    bool met = false;
    std::set<std::size_t> carry;
  };
  Need need(const Rich& r, std::size_t requirer) const;
  // The packages that each satisfy r alone (with, without, and, or of
  // relations), sorted; nullopt for if/unless, which no one package is.
  std::optional<std::vector<std::size_t>> single(const Rich& r) const;
  static const Relation& first_relation(const Rich& r) {
    return r.op == Rich::simple ? r.relation : first_relation(r.operands[0]);
  }
  Need need_simple(std::vector<std::size_t> found, const Relation& r, std::size_t requirer) const;

  const std::vector<RpmPackage>& packages_;
  std::vector<std::size_t> canonical_;  // each package -> the first that is the same
  std::map<std::string, std::vector<std::pair<std::size_t, Relation>>, std::less<>> provides_;
  std::map<std::string, std::vector<std::size_t>, std::less<>> files_;
  std::vector<bool> in_closure_;
  std::deque<std::size_t> queue_;
  std::string main_arch_;  // the most packages' architecture but noarch ("" when none)
};

void Resolver::index() {
  std::map<std::string_view, std::size_t> arches;
  for (const auto& p : packages_) {
    if (p.arch != "noarch") ++arches[p.arch];
  }
  std::size_t most = 0;
  for (const auto& [arch, n] : arches) {
    if (n > most) {
      most = n;
      main_arch_ = std::string(arch);
    }
  }
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
  // A noarch package runs on the repository's main architecture: multilib
  // packages of another one are taken only when nothing else satisfies it.
  const std::string& arch = pkg(requirer).arch == "noarch" ? main_arch_ : pkg(requirer).arch;
  // Smaller is better: in the closure, of the required name, of a fitting architecture.
  auto rank = [&](std::size_t i) {
    const auto& p = pkg(i);
    const bool fits = p.arch == arch || p.arch == "noarch" || arch.empty();
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

Resolver::Need Resolver::need_simple(std::vector<std::size_t> found, const Relation& r,
                                     std::size_t requirer) const {
  if (std::find(found.begin(), found.end(), requirer) != found.end()) return {true, {}};
  if (auto chosen = choose(found, r, requirer)) return {true, {*chosen}};
  return {};
}

std::optional<std::vector<std::size_t>> Resolver::single(const Rich& r) const {
  if (r.op == Rich::simple) return candidates(r.relation);
  if (r.op == Rich::when || r.op == Rich::unless) return std::nullopt;
  auto out = single(r.operands[0]);
  for (std::size_t k = 1; out && k < r.operands.size(); ++k) {
    const auto other = single(r.operands[k]);
    if (!other) return std::nullopt;
    std::vector<std::size_t> merged;
    if (r.op == Rich::any) {
      std::set_union(out->begin(), out->end(), other->begin(), other->end(),
                     std::back_inserter(merged));
    } else if (r.op == Rich::without) {
      std::set_difference(out->begin(), out->end(), other->begin(), other->end(),
                          std::back_inserter(merged));
    } else {
      std::set_intersection(out->begin(), out->end(), other->begin(), other->end(),
                            std::back_inserter(merged));
    }
    *out = std::move(merged);
  }
  return out;
}

// and: every operand; or: the first operand met by what the closure holds,
// else the first the repository meets; with/without: one package that
// satisfies both operands, or the first and not the second;
// if/unless: a host may or may not have the condition, so every branch
// the repository meets is carried, and the dependency is met when every
// host can be served: "A if B" unless A is missing while B is here to be
// installed; "A unless B" when A is here, or else B (then carried); an
// else branch when it is here, or when the condition is here (if: then B
// is carried, for hosts without it) or is not (unless).
Resolver::Need Resolver::need(const Rich& r, std::size_t requirer) const {
  switch (r.op) {
    case Rich::simple:
      return need_simple(candidates(r.relation), r.relation, requirer);
    case Rich::all: {
      Need out{true, {}};
      for (const auto& o : r.operands) {
        auto n = need(o, requirer);
        out.met = out.met && n.met;
        out.carry.insert(n.carry.begin(), n.carry.end());
      }
      return out;
    }
    case Rich::any: {
      std::optional<Need> first;
      for (const auto& o : r.operands) {
        auto n = need(o, requirer);
        if (!n.met) continue;
        if (std::all_of(n.carry.begin(), n.carry.end(), [&](auto i) { return in_closure_[i]; }))
          return n;
        if (!first) first = std::move(n);
      }
      return first ? *first : Need{};
    }
    case Rich::with:
    case Rich::without: {
      auto found = single(r);
      if (!found) return {};
      return need_simple(std::move(*found), first_relation(r), requirer);
    }
    case Rich::when:
    case Rich::unless: {
      const Need a = need(r.operands[0], requirer);
      const Need b = need(r.operands[1], requirer);
      const bool condition = b.met;
      Need out{r.op == Rich::when ? a.met || !condition : a.met || condition, a.carry};
      if (r.op == Rich::unless && !a.met) out.carry.insert(b.carry.begin(), b.carry.end());
      if (r.operands.size() > 2) {
        const Need c = need(r.operands[2], requirer);
        out.carry.insert(c.carry.begin(), c.carry.end());
        if (!c.met) out.met = out.met && (r.op == Rich::when ? condition : !condition);
        // Without the else branch, a host without B is served by taking B (and A).
        if (!c.met && r.op == Rich::when) out.carry.insert(b.carry.begin(), b.carry.end());
      }
      return out;
    }
  }
  return {};
}

void Resolver::expand(std::size_t i, Closure& out) {
  std::set<std::string> reported;
  for (const auto& r : pkg(i).requirements) {
    if (r.name.starts_with("rpmlib(")) continue;
    Need n;
    if (!r.name.starts_with('(')) {
      n = need_simple(candidates(r), r, i);
    } else if (auto rich = RichParser(r.name).parse()) {
      n = need(*rich, i);
    }
    for (std::size_t k : n.carry) visit(k);
    if (n.met) continue;
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
