// The dependency closure of rpm packages over one primary.xml's packages:
// which packages a set of roots needs, as dnf would pull them in. Pure
// computation: packages in, indices out.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/formats/rpm.h"

namespace airlock::rpm {

// A requirement of a package in the closure that no package satisfies.
struct Unsatisfied {
  std::string package, evr, arch;  // the package that requires it (evr as RpmPackage::evr)
  std::string requirement;         // as format_relation writes it

  bool operator==(const Unsatisfied&) const = default;
};

struct Closure {
  std::vector<std::size_t> selected;     // the roots, sorted and unique
  std::vector<std::size_t> added;        // what their requirements pulled in, sorted
  std::vector<Unsatisfied> unsatisfied;  // in the order they were met
};

// The relation as rpm writes it: "bash", "libfoo >= 1.2-3", "perl(:VERSION) >= 4:5.8.0"
// (an epoch "0" or "" is left out, as is an empty release).
std::string format_relation(const Relation& relation);

// Whether a provide satisfies a requirement, as rpm decides it (rpmdsCompare):
// the same name, and either has no version, or their ranges overlap —
// epochs compared first (empty is 0), releases only when both have one.
bool provides_satisfy(const Relation& provide, const Relation& requirement);

// The closure of roots (indices into packages) over `requirements`:
//   - rpmlib(...) requirements are rpm's own and skipped, as is a
//     requirement the package satisfies itself;
//   - a package provides its own name at its epoch:version-release, and
//     each of its `provides`; a file path requirement ("/bin/sh") is also
//     satisfied by a package listing that path in `files` (only the paths
//     primary.xml lists: /etc, bin directories, /usr/lib/sendmail);
//   - of the packages that satisfy it, one already in the closure is
//     taken, else one of the required name, else one of the requiring
//     package's architecture or noarch (for a noarch package, the
//     architecture most of the repository's packages have, so that a
//     multilib i686 package is not taken for an x86_64 host),
//     then the first by name and, of that name, the newest EVR.
//   - a rich (boolean) dependency, "(a or (b >= 2 with c))", is resolved
//     as rpm reads it: and takes every operand, or the first met by the
//     closure or else by the repository, with one package satisfying
//     both, without one satisfying the first but not the second; if and
//     unless (with else) depend on what a host has installed, so every
//     branch the repository can satisfy is carried, and the dependency is
//     unsatisfied only when some host could be left without what it needs.
// A requirement nothing satisfies is listed in `unsatisfied`, once per
// package, as is a rich dependency that does not parse. It is not a failure. Packages that are the
// same (name, arch, EVR) are one candidate: the first counts. invalid_input when a root is not an
// index of packages.
Result<Closure> dependency_closure(const std::vector<RpmPackage>& packages,
                                   const std::vector<std::size_t>& roots);

}  // namespace airlock::rpm
