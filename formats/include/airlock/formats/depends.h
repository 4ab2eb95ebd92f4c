// Debian package relationships (Depends, Pre-Depends, Provides; Debian
// Policy 7.1) and the dependency closure of a set of packages over one
// parsed index. Pure computation: records in, indices of records out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/formats/packages.h"

namespace airlock::apt {

// One alternative: "name[:arch] [(op version)]".
struct Relation {
  enum class Op { none, earlier, earlier_or_equal, equal, later_or_equal, later };
  std::string name;
  std::string arch;  // the qualifier after ':': "", "any", "native" or an architecture
  Op op = Op::none;
  std::string version;  // empty when op is none

  bool operator==(const Relation&) const = default;
};

// "a | b": satisfied by any one of them.
using Alternatives = std::vector<Relation>;

// Parses a relationship field's value: groups separated by ',', each of
// alternatives separated by '|', any blanks and line breaks between tokens.
// An empty value is no relationship. Operators are <<, <=, =, >=, >> (and
// the obsolete < and >, read as <= and >=). Architecture restriction lists
// ("[amd64]") and build profiles ("<!nocheck>") belong to source packages
// and are refused here, as are empty groups or alternatives, a package name
// that is not [a-z0-9][a-z0-9+.-]* and a version that is empty or holds
// blanks. Refusals are invalid_input naming the problem and the 1-based
// character where it was found: "character 7: expected ')' after the
// version".
Result<std::vector<Alternatives>> parse_relationships(std::string_view text);

// The relation as Debian writes it: "libc6 (>= 2.36)", "perl:any".
std::string format_relation(const Relation& relation);
// Alternatives joined by " | ".
std::string format_alternatives(const Alternatives& alternatives);

// True when version satisfies relation's constraint (always, without one),
// in dpkg's version order.
bool satisfies(const Relation& relation, std::string_view version);

// A dependency of a package in the closure that nothing in the index
// satisfies, in the context of one architecture.
struct UnsatisfiedDependency {
  std::string package, version, architecture;  // the package that depends
  std::string context;                         // the architecture it was resolved for
  std::string field;                           // "Depends" or "Pre-Depends"
  std::string relation;                        // the group, as format_alternatives writes it

  bool operator==(const UnsatisfiedDependency&) const = default;
};

struct Closure {
  std::vector<std::size_t> selected;               // the roots, sorted and unique
  std::vector<std::size_t> added;                  // what their dependencies pulled in, sorted
  std::vector<UnsatisfiedDependency> unsatisfied;  // in the order they were met
};

// The dependency closure of roots (indices into records) over records, one
// index's worth of packages of the given architectures and "all". Each
// package is resolved for an architecture: its own, or, for an
// Architecture: all package, that of the package that pulled it in (a root
// of arch all: every architecture given). Multi-Arch is not read. For each
// Pre-Depends and Depends group, the first alternative the records satisfy
// is taken:
//   - a package of that name whose version satisfies the constraint (the
//     newest such), of the context architecture or "all" — with ":any", of
//     any architecture; with ":<arch>", of that one or "all"; ":native" is
//     the context architecture;
//   - otherwise a package that Provides the name (an unversioned relation:
//     any Provides; a versioned one: only "Provides: name (= v)" with v
//     satisfying it), one already in the closure first, else the first by
//     name, newest version.
// A group no alternative satisfies is reported in `unsatisfied` once per
// package and architecture; it is not a failure. Records that are the same
// package (name, architecture, version) are one candidate: the first
// counts; packages of other architectures than those given and "all" are
// never candidates. invalid_input, naming the package and the field, when
// the Provides of any record, or the Pre-Depends or Depends of a package in
// the closure, does not parse (a Provides must be names with an optional
// "(= version)"), or a root is not an index of records.
Result<Closure> dependency_closure(const std::vector<PackageRecord>& records,
                                   const std::vector<std::size_t>& roots,
                                   const std::vector<std::string>& architectures);

}  // namespace airlock::apt
