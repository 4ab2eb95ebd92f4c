// Relationship fields and the dependency closure over parsed Packages records.
#include "airlock/formats/depends.h"

#include <gtest/gtest.h>

#include <set>

namespace airlock::apt {
namespace {

using Op = Relation::Op;

TEST(Relationships, ParseGroupsAlternativesQualifiersAndVersions) {
  auto r = parse_relationships(
      "libc6 (>= 2.36), debconf (>= 0.5) | debconf-2.0,\n perl:any, python3:native (<< 3.12~),"
      "libfoo:i386 (= 1:2.0-1+b1), a (<= 1), b(>>2), c (< 3), d (> 4) ,");
  ASSERT_TRUE(r) << r.error().message;
  const std::vector<Alternatives> want = {
      {{"libc6", "", Op::later_or_equal, "2.36"}},
      {{"debconf", "", Op::later_or_equal, "0.5"}, {"debconf-2.0", "", Op::none, ""}},
      {{"perl", "any", Op::none, ""}},
      {{"python3", "native", Op::earlier, "3.12~"}},
      {{"libfoo", "i386", Op::equal, "1:2.0-1+b1"}},
      {{"a", "", Op::earlier_or_equal, "1"}},
      {{"b", "", Op::later, "2"}},
      {{"c", "", Op::earlier_or_equal, "3"}},  // the obsolete '<' means '<='
      {{"d", "", Op::later_or_equal, "4"}},
  };
  EXPECT_EQ(*r, want);
  EXPECT_EQ(format_alternatives((*r)[1]), "debconf (>= 0.5) | debconf-2.0");
  EXPECT_EQ(format_relation((*r)[4][0]), "libfoo:i386 (= 1:2.0-1+b1)");
  EXPECT_EQ(format_relation((*r)[7][0]), "c (<= 3)");
  auto empty = parse_relationships(" \n ");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(Relationships, RefuseWhatIsNotARelationshipNamingTheCharacter) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a (>= 1", "character 8: expected ')' after the version"},
      {"a (>= 1 beta)", "character 9: expected ')' after the version"},
      {"a (>=)", "character 6: expected a version"},
      {"a (~ 1)", "character 4: expected one of << <= = >= >> before the version"},
      {"a (=> 1)", "character 4: expected one of << <= = >= >> before the version"},
      {"a [amd64]", "character 3: architecture restrictions ('[...]') belong to source packages"},
      {"a <!nocheck>", "character 3: build profiles ('<...>') belong to source packages"},
      {"a,, b", "character 3: empty relationship between ','"},
      {"a | | b", "character 5: expected a package name"},
      {"a |", "character 4: expected a package name"},
      {", a", "character 1: expected a package name"},
      {"Libc6", "character 1: expected a package name"},
      {"a:", "character 3: expected an architecture after ':'"},
      {"a b", "character 3: expected ',' or '|' after a relation"},
      {"a\x01", "character 2: expected ',' or '|' after a relation"},
  };
  for (const auto& [text, message] : cases) {
    auto r = parse_relationships(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, Code::invalid_input) << text;
    EXPECT_EQ(r.error().message, message) << text;
  }
}

TEST(Relationships, SatisfiesInDpkgVersionOrder) {
  auto rel = [](Op op, std::string v) { return Relation{"x", "", op, std::move(v)}; };
  EXPECT_TRUE(satisfies(rel(Op::none, ""), "0"));
  EXPECT_TRUE(satisfies(rel(Op::later_or_equal, "1.0-1"), "1.0-1"));
  EXPECT_TRUE(satisfies(rel(Op::later_or_equal, "1.0"), "1:0.1"));  // the epoch wins
  EXPECT_FALSE(satisfies(rel(Op::later_or_equal, "1.0"), "1.0~rc1"));
  EXPECT_TRUE(satisfies(rel(Op::earlier, "2.0"), "1.9-1"));
  EXPECT_FALSE(satisfies(rel(Op::earlier, "2.0"), "2.0"));
  EXPECT_TRUE(satisfies(rel(Op::earlier_or_equal, "2.0"), "2.0"));
  EXPECT_TRUE(satisfies(rel(Op::equal, "2.0-1"), "2.0-1"));
  EXPECT_FALSE(satisfies(rel(Op::equal, "2.0-1"), "2.0-2"));
  EXPECT_TRUE(satisfies(rel(Op::later, "2.0"), "2.0.1"));
  EXPECT_FALSE(satisfies(rel(Op::later, "2.0"), "2.0"));
}

// --- The closure ------------------------------------------------------------

// A record of the index: name, version, architecture and its relationships.
PackageRecord pkg(std::string name, std::string version, std::string arch = "amd64",
                  std::string depends = "", std::string pre_depends = "",
                  std::string provides = "") {
  PackageRecord r;
  r.package = std::move(name);
  r.version = std::move(version);
  r.architecture = std::move(arch);
  r.source = r.package;
  r.filename = "pool/" + r.package + "_" + r.version + "_" + r.architecture + ".deb";
  r.depends = std::move(depends);
  r.pre_depends = std::move(pre_depends);
  r.provides = std::move(provides);
  return r;
}

// "name version arch" of each record named by indices.
std::set<std::string> names(const std::vector<PackageRecord>& records,
                            const std::vector<std::size_t>& indices) {
  std::set<std::string> out;
  for (auto i : indices) {
    out.insert(records[i].package + " " + records[i].version + " " + records[i].architecture);
  }
  return out;
}

// The indices of the records named name (any version, any architecture).
std::vector<std::size_t> roots(const std::vector<PackageRecord>& records, const std::string& name) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].package == name) out.push_back(i);
  }
  return out;
}

Closure closure_of(const std::vector<PackageRecord>& records, const std::string& root,
                   const std::vector<std::string>& archs = {"amd64"}) {
  auto c = dependency_closure(records, roots(records, root), archs);
  EXPECT_TRUE(c) << c.error().message;
  return c.value_or(Closure{});
}

TEST(DependencyClosure, FollowsADeepChainThroughDependsAndPreDepends) {
  const std::vector<PackageRecord> index = {
      pkg("app", "1", "amd64", "libnet (>= 1.0)", "base"),
      pkg("libnet", "1.2", "amd64", "libcrypto"),
      pkg("libcrypto", "3", "amd64", "libz"),
      pkg("libz", "1", "amd64", "libc"),
      pkg("libc", "2.36", "amd64", "", "", ""),
      pkg("base", "1", "amd64", "libc"),
      pkg("unrelated", "1", "amd64", "libc"),
  };
  auto c = closure_of(index, "app");
  EXPECT_EQ(names(index, c.selected), std::set<std::string>{"app 1 amd64"});
  EXPECT_EQ(names(index, c.added),
            (std::set<std::string>{"libnet 1.2 amd64", "libcrypto 3 amd64", "libz 1 amd64",
                                   "libc 2.36 amd64", "base 1 amd64"}));
  EXPECT_TRUE(c.unsatisfied.empty());
}

TEST(DependencyClosure, SatisfiesAVirtualPackageThroughProvides) {
  const std::vector<PackageRecord> index = {
      pkg("mailer", "1", "amd64", "mail-transport-agent, awk (>= 2)"),
      pkg("postfix", "3.7", "amd64", "", "", "mail-transport-agent"),
      pkg("exim4", "4.96", "amd64", "", "", "mail-transport-agent"),
      // An unversioned Provides cannot satisfy a versioned dependency.
      pkg("mawk", "1.3", "amd64", "", "", "awk"),
      pkg("gawk", "5.2", "amd64", "", "", "awk (= 2.1)"),
  };
  auto c = closure_of(index, "mailer");
  // Of several providers, the first by name.
  EXPECT_EQ(names(index, c.added), (std::set<std::string>{"exim4 4.96 amd64", "gawk 5.2 amd64"}));
  EXPECT_TRUE(c.unsatisfied.empty());
}

TEST(DependencyClosure, PrefersAProviderAlreadyInTheClosure) {
  const std::vector<PackageRecord> index = {
      pkg("app", "1", "amd64", "zz-mta, mail-transport-agent"),
      pkg("aa-mta", "1", "amd64", "", "", "mail-transport-agent"),
      pkg("zz-mta", "1", "amd64", "", "", "mail-transport-agent"),
  };
  auto c = closure_of(index, "app");
  EXPECT_EQ(names(index, c.added), std::set<std::string>{"zz-mta 1 amd64"});
}

TEST(DependencyClosure, TakesTheFirstAlternativeTheIndexSatisfies) {
  const std::vector<PackageRecord> index = {
      pkg("app", "1", "amd64", "missing-a | present-b, both-a | both-b, old (>= 2) | fallback"),
      pkg("present-b", "1"),
      pkg("both-a", "1"),
      pkg("both-b", "1"),
      pkg("old", "1"),
      pkg("fallback", "1"),
  };
  auto c = closure_of(index, "app");
  EXPECT_EQ(names(index, c.added),
            (std::set<std::string>{"present-b 1 amd64", "both-a 1 amd64", "fallback 1 amd64"}));
}

TEST(DependencyClosure, PicksTheNewestVersionThatSatisfiesTheConstraint) {
  const std::vector<PackageRecord> index = {
      pkg("app", "1", "amd64", "lib (<< 2.0), tool (>= 1.1)"),
      pkg("lib", "1.0-1"),
      pkg("lib", "1.9-1"),
      pkg("lib", "2.0-1"),
      pkg("lib", "2.1-1"),
      pkg("tool", "1.2"),
      pkg("tool", "1.10"),
      pkg("tool", "1.0"),
  };
  auto c = closure_of(index, "app");
  EXPECT_EQ(names(index, c.added), (std::set<std::string>{"lib 1.9-1 amd64", "tool 1.10 amd64"}));
}

TEST(DependencyClosure, ReportsWhatTheIndexCannotSatisfyWithoutFailing) {
  const std::vector<PackageRecord> index = {
      pkg("app", "1", "amd64", "lib (>= 3), gone | also-gone, present", "missing-pre"),
      pkg("lib", "2"),
      pkg("present", "1", "amd64", "lib (>= 2)"),
  };
  auto c = closure_of(index, "app");
  EXPECT_EQ(names(index, c.added), (std::set<std::string>{"present 1 amd64", "lib 2 amd64"}));
  const std::vector<UnsatisfiedDependency> want = {
      {"app", "1", "amd64", "amd64", "Pre-Depends", "missing-pre"},
      {"app", "1", "amd64", "amd64", "Depends", "lib (>= 3)"},
      {"app", "1", "amd64", "amd64", "Depends", "gone | also-gone"},
  };
  EXPECT_EQ(c.unsatisfied, want);
}

TEST(DependencyClosure, ResolvesArchitectureAllAndQualifiersPerArchitecture) {
  const std::vector<PackageRecord> index = {
      pkg("doc", "1", "all", "viewer, data"),
      pkg("viewer", "1", "amd64"),
      pkg("viewer", "1", "i386"),
      pkg("data", "1", "all"),
      pkg("app", "1", "i386", "perl:any, helper:amd64, lib:native"),
      pkg("perl", "5.36", "amd64"),
      pkg("helper", "1", "amd64"),
      pkg("helper", "1", "i386"),
      pkg("lib", "1", "amd64"),
      pkg("lib", "1", "i386"),
      pkg("lib", "1", "arm64"),  // not an architecture given: never a candidate
      pkg("onlyarm", "1", "arm64"),
      pkg("tool", "1", "amd64", "onlyarm"),
  };
  const std::vector<std::string> archs = {"amd64", "i386"};
  auto doc = closure_of(index, "doc", archs);
  EXPECT_EQ(names(index, doc.added),
            (std::set<std::string>{"viewer 1 amd64", "viewer 1 i386", "data 1 all"}));
  auto app = closure_of(index, "app", archs);
  EXPECT_EQ(names(index, app.added),
            (std::set<std::string>{"perl 5.36 amd64", "helper 1 amd64", "lib 1 i386"}));
  auto tool = closure_of(index, "tool", archs);
  EXPECT_TRUE(tool.added.empty());
  ASSERT_EQ(tool.unsatisfied.size(), 1u);
  EXPECT_EQ(tool.unsatisfied[0].relation, "onlyarm");
  // An arch-all package resolved for each architecture reports each apart.
  const std::vector<PackageRecord> partial = {pkg("doc", "1", "all", "viewer"),
                                              pkg("viewer", "1", "amd64")};
  auto half = closure_of(partial, "doc", archs);
  ASSERT_EQ(half.unsatisfied.size(), 1u);
  EXPECT_EQ(half.unsatisfied[0].context, "i386");
  EXPECT_EQ(names(partial, half.added), std::set<std::string>{"viewer 1 amd64"});
}

TEST(DependencyClosure, CountsEachPackageOnceThroughCyclesDuplicatesAndRoots) {
  const std::vector<PackageRecord> index = {
      pkg("a", "1", "amd64", "b"), pkg("b", "1", "amd64", "a, c"), pkg("c", "1", "all", "a"),
      pkg("c", "1", "all", "a"),  // the same package from a second index
  };
  auto c = dependency_closure(index, {0, 3}, {"amd64"});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->selected, (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(c->added, std::vector<std::size_t>{1});
  EXPECT_TRUE(c->unsatisfied.empty());
  auto none = dependency_closure(index, {}, {"amd64"});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->selected.empty() && none->added.empty());
}

TEST(DependencyClosure, RefusesAMalformedFieldItReadsNamingThePackage) {
  const std::vector<PackageRecord> index = {
      pkg("app", "1", "amd64", "lib"), pkg("lib", "1", "amd64", "x (>= 1"),
      pkg("elsewhere", "1", "amd64", "[broken"),  // not in the closure: not read
  };
  auto c = dependency_closure(index, {0}, {"amd64"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::invalid_input);
  EXPECT_EQ(c.error().message,
            "Packages: lib 1 (amd64): Depends: character 8: expected ')' after the version");
  auto fine = dependency_closure({index[0], pkg("lib", "1"), index[2]}, {0}, {"amd64"});
  EXPECT_TRUE(fine) << fine.error().message;
  for (const char* provides : {"a | b", "a (>= 1)", "a:any"}) {
    auto bad = dependency_closure({pkg("p", "1", "amd64", "", "", provides)}, {0}, {"amd64"});
    ASSERT_FALSE(bad) << provides;
    EXPECT_EQ(bad.error().message, "Packages: p 1 (amd64): Provides: '" + std::string(provides) +
                                       "' is not a name with an optional (= version)");
  }
  EXPECT_EQ(dependency_closure(index, {7}, {"amd64"}).error().message, "closure: no record 7");
}

}  // namespace
}  // namespace airlock::apt
