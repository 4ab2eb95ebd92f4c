// rpm dependency closure: names, versioned provides, file requirements,
// and which of several candidates is taken.
#include "airlock/formats/rpm_closure.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace airlock::rpm {
namespace {

Relation rel(std::string name, std::string flags = "", std::string epoch = "",
             std::string version = "", std::string release = "") {
  return Relation{std::move(name),    std::move(flags),   std::move(epoch),
                  std::move(version), std::move(release), false};
}

RpmPackage package(std::string name, std::string version, std::string arch = "x86_64",
                   std::vector<Relation> requirements = {}, std::vector<Relation> provides = {},
                   std::vector<std::string> files = {}) {
  RpmPackage p;
  p.name = std::move(name);
  p.arch = std::move(arch);
  p.epoch = "0";
  p.version = std::move(version);
  p.release = "1.el9";
  p.requirements = std::move(requirements);
  p.provides = std::move(provides);
  p.files = std::move(files);
  return p;
}

std::vector<std::string> names(const std::vector<RpmPackage>& packages,
                               const std::vector<std::size_t>& indices) {
  std::vector<std::string> out;
  for (auto i : indices) {
    out.push_back(packages[i].name + "-" + packages[i].evr() + "." + packages[i].arch);
  }
  return out;
}

TEST(RpmClosure, FollowsNamesProvidesAndFiles) {
  const std::vector<RpmPackage> packages = {
      package("app", "2.0", "x86_64",
              {rel("/bin/sh"), rel("libfoo", "GE", "0", "1.2", "3"),
               rel("rpmlib(CompressedFileNames)", "LE", "0", "3.0.4", "1"), rel("app-data"),
               rel("config(app)", "EQ", "0", "2.0", "1.el9"), rel("mta")},
              {rel("config(app)", "EQ", "0", "2.0", "1.el9")}),
      package("bash", "5.1", "x86_64", {}, {}, {"/bin/sh", "/usr/bin/bash"}),
      package("libfoo", "1.0"),
      package("libfoo", "1.3", "i686"),
      package("libfoo", "1.3"),
      package("libfoo", "1.2"),
      package("app-data", "2.0", "noarch", {rel("/bin/sh")}),
      package("sendmail", "8.0", "x86_64", {}, {rel("mta")}),
      package("postfix", "3.5", "x86_64", {}, {rel("mta")}),
      package("unrelated", "1.0"),
  };
  auto c = dependency_closure(packages, {0});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(names(packages, c->selected), (std::vector<std::string>{"app-2.0-1.el9.x86_64"}));
  EXPECT_EQ(names(packages, c->added),
            (std::vector<std::string>{"bash-5.1-1.el9.x86_64", "libfoo-1.3-1.el9.x86_64",
                                      "app-data-2.0-1.el9.noarch", "postfix-3.5-1.el9.x86_64"}));
  EXPECT_TRUE(c->unsatisfied.empty());
}

TEST(RpmClosure, PrefersWhatIsAlreadyInTheClosure) {
  const std::vector<RpmPackage> packages = {
      package("app", "1", "x86_64", {rel("mta")}),
      package("postfix", "3.5", "x86_64", {}, {rel("mta")}),
      package("sendmail", "8.0", "x86_64", {}, {rel("mta")}),
  };
  auto c = dependency_closure(packages, {0, 2});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->selected, (std::vector<std::size_t>{0, 2}));
  EXPECT_TRUE(c->added.empty());
}

TEST(RpmClosure, ReportsWhatNothingSatisfiesOncePerPackage) {
  const std::vector<RpmPackage> packages = {
      package("app", "1", "x86_64",
              {rel("libfoo", "GE", "1", "2.0"), rel("libfoo", "GE", "1", "2.0"),
               rel("/usr/bin/perl"), rel("(python3 or python2)")}),
      package("libfoo", "9.0"),
  };
  auto c = dependency_closure(packages, {0});
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->added.empty());
  EXPECT_EQ(c->unsatisfied,
            (std::vector<Unsatisfied>{{"app", "1-1.el9", "x86_64", "libfoo >= 1:2.0"},
                                      {"app", "1-1.el9", "x86_64", "/usr/bin/perl"},
                                      {"app", "1-1.el9", "x86_64", "(python3 or python2)"}}));
}

// The closure of a package "app" requiring exactly `requirement`, over
// the packages named in `others` (each "name" or "name-version", x86_64,
// providing its name and `provides` of each "name:provide").
struct RichCase {
  std::vector<std::string> added;
  bool unsatisfied;
};
RichCase rich_closure(const std::string& requirement, const std::vector<std::string>& others,
                      const std::vector<std::string>& roots_too = {}) {
  std::vector<RpmPackage> packages = {package("app", "1", "x86_64", {rel(requirement)})};
  for (const auto& o : others) {
    auto colon = o.find(':');
    std::string name = o.substr(0, colon);
    std::string version = "1.0";
    if (auto dash = name.find('-'); dash != std::string::npos) {
      version = name.substr(dash + 1);
      name.resize(dash);
    }
    std::vector<Relation> provides;
    if (colon != std::string::npos) provides.push_back(rel(o.substr(colon + 1)));
    packages.push_back(package(name, version, "x86_64", {}, provides));
  }
  std::vector<std::size_t> roots = {0};
  for (const auto& r : roots_too) {
    for (std::size_t i = 1; i < packages.size(); ++i) {
      if (packages[i].name == r) roots.push_back(i);
    }
  }
  auto c = dependency_closure(packages, roots);
  EXPECT_TRUE(c);
  RichCase out{{}, !c->unsatisfied.empty()};
  for (auto i : c->added) out.added.push_back(packages[i].name);
  std::sort(out.added.begin(), out.added.end());
  if (out.unsatisfied) {
    EXPECT_EQ(c->unsatisfied[0].requirement, requirement);
  }
  return out;
}

TEST(RpmClosure, ResolvesRichDependenciesAsRpmReadsThem) {
  using V = std::vector<std::string>;
  auto added = [](const RichCase& c) { return c.added; };
  // or: the first the repository has, or one the closure holds already.
  EXPECT_EQ(added(rich_closure("(python3 or python2)", {"python2", "python3"})), V{"python3"});
  EXPECT_EQ(added(rich_closure("(python3 or python2)", {"python2"})), V{"python2"});
  EXPECT_EQ(added(rich_closure("(python3 or python2)", {"python2", "python3"}, {"python2"})), V{});
  EXPECT_TRUE(rich_closure("(python3 or python2)", {"perl"}).unsatisfied);
  // and, nested, with versions and names holding parentheses.
  EXPECT_EQ(added(rich_closure("(perl(Foo) and (libbar >= 2.0 or libbaz))",
                               {"perl-Foo:perl(Foo)", "libbar-1.0", "libbaz"})),
            (V{"libbaz", "perl"}));
  EXPECT_EQ(added(rich_closure("(perl(Foo) and (libbar >= 2.0 or libbaz))",
                               {"perl-Foo:perl(Foo)", "libbar-2.1", "libbaz"})),
            (V{"libbar", "perl"}));
  auto half = rich_closure("(a and b)", {"a"});
  EXPECT_EQ(half.added, V{"a"});
  EXPECT_TRUE(half.unsatisfied);
  // with: one package satisfying both; without: the first but not the second.
  EXPECT_EQ(added(rich_closure("(font with lang_de)", {"fa:font", "fb:font", "fb-2:lang_de"})),
            V{});  // fb-2 provides only lang_de, fb only font
  EXPECT_TRUE(
      rich_closure("(font with lang_de)", {"fa:font", "fb:font", "fb-2:lang_de"}).unsatisfied);
  EXPECT_EQ(added(rich_closure("(font with fb)", {"fa:font", "fb:font"})), V{"fb"});
  EXPECT_EQ(added(rich_closure("(font without lang_de)", {"fa:font", "fb:lang_de"})), V{"fa"});
  EXPECT_EQ(added(rich_closure("(mta without sendmail)", {"sendmail:mta", "postfix:mta"})),
            V{"postfix"});
  // if/unless: every branch the repository has, since a host may have either.
  EXPECT_EQ(added(rich_closure("(langpack_en if glibc)", {"langpack_en", "glibc"})),
            V{"langpack_en"});
  EXPECT_TRUE(rich_closure("(langpack_en if glibc)", {"glibc"}).unsatisfied);
  EXPECT_FALSE(rich_closure("(langpack_en if glibc)", {}).unsatisfied);
  EXPECT_EQ(added(rich_closure("(a if b else c)", {"a", "b", "c"})), (V{"a", "c"}));
  EXPECT_TRUE(rich_closure("(a if b else c)", {"a"}).unsatisfied);
  EXPECT_EQ(added(rich_closure("(a unless b)", {"b"})), V{"b"});
  EXPECT_FALSE(rich_closure("(a unless b)", {"b"}).unsatisfied);
  EXPECT_TRUE(rich_closure("(a unless b)", {}).unsatisfied);
  // Without the else branch a host without b takes b, and a: both carried.
  auto no_else = rich_closure("(a if b else c)", {"a", "b"});
  EXPECT_EQ(no_else.added, (V{"a", "b"}));
  EXPECT_FALSE(no_else.unsatisfied);
  // with and without over nested operands: still one package.
  EXPECT_EQ(added(rich_closure("(font with (fb or fc))", {"fa:font", "fc:font"})), V{"fc"});
  EXPECT_TRUE(rich_closure("(font with (fb or fc))", {"fa:font"}).unsatisfied);
  EXPECT_TRUE(rich_closure("(font with (fb if fc))", {"fb:font", "fc"}).unsatisfied);
  // rpm's comparison words, whole words only; commas separate like blanks;
  // an epoch is digits.
  EXPECT_EQ(added(rich_closure("(foo => 1.0 or bar)", {"foo-2.0", "bar"})), V{"foo"});
  EXPECT_EQ(added(rich_closure("(foo =< 1.0 or bar)", {"foo-2.0", "bar"})), V{"bar"});
  EXPECT_EQ(added(rich_closure("(foo,or,bar)", {"bar"})), V{"bar"});
  EXPECT_EQ(added(rich_closure("(foo >= 1:1.0 or bar)", {"foo-9.0", "bar"})), V{"bar"});
  EXPECT_TRUE(rich_closure("(foo >=1.0)", {"foo-2.0"}).unsatisfied);
  // Malformed: reported as written, nothing carried.
  for (std::string bad : {"(a or b and c)", "(a or)", "(a or b", "((a)", "(a if b if c)",
                          "(a else b)", "(a xor b)", "(a >= )", "(a) b"}) {
    auto c = rich_closure(bad, {"a", "b", "c"});
    EXPECT_TRUE(c.unsatisfied) << bad;
    EXPECT_EQ(c.added, V{}) << bad;
  }
}

TEST(RpmClosure, ANoarchPackageTakesTheRepositorysMainArchitecture) {
  const std::vector<RpmPackage> packages = {
      package("tool", "1", "noarch", {rel("libfoo"), rel("libonly32")}),
      package("libfoo", "1.0", "i686"),
      package("libfoo", "1.0", "x86_64"),
      package("libonly32", "1.0", "i686"),
      package("bash", "5.1", "x86_64"),
      package("glibc", "2.34", "x86_64"),
  };
  auto c = dependency_closure(packages, {0});
  ASSERT_TRUE(c);
  // The multilib i686 package only where nothing else satisfies the requirement.
  EXPECT_EQ(names(packages, c->added),
            (std::vector<std::string>{"libfoo-1.0-1.el9.x86_64", "libonly32-1.0-1.el9.i686"}));
}

TEST(RpmClosure, SamePackageTwiceIsOneAndBadRootsAreRefused) {
  const std::vector<RpmPackage> packages = {package("a", "1"), package("a", "1")};
  auto c = dependency_closure(packages, {1});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->selected, (std::vector<std::size_t>{0}));
  auto bad = dependency_closure(packages, {2});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::invalid_input);
  EXPECT_EQ(bad.error().message, "closure: no package 2");
}

TEST(RpmClosure, ProvidesSatisfyAsRpmDecides) {
  const Relation provide = rel("foo", "EQ", "0", "1.0", "5");
  EXPECT_TRUE(provides_satisfy(provide, rel("foo")));
  EXPECT_TRUE(provides_satisfy(provide, rel("foo", "GE", "", "1.0")));
  EXPECT_TRUE(provides_satisfy(provide, rel("foo", "EQ", "", "1.0")));  // no release: any
  EXPECT_FALSE(provides_satisfy(provide, rel("foo", "EQ", "", "1.0", "4")));
  EXPECT_FALSE(provides_satisfy(provide, rel("foo", "LT", "0", "1.0")));
  EXPECT_TRUE(provides_satisfy(provide, rel("foo", "LE", "0", "1.0")));
  EXPECT_TRUE(provides_satisfy(provide, rel("foo", "GT", "0", "0.9")));
  EXPECT_FALSE(provides_satisfy(provide, rel("foo", "GT", "0", "1.0", "5")));
  EXPECT_FALSE(provides_satisfy(provide, rel("foo", "GE", "1", "0.1")));
  EXPECT_TRUE(provides_satisfy(rel("foo"), rel("foo", "GE", "9", "9")));
  EXPECT_TRUE(provides_satisfy(rel("foo", "GE", "0", "2"), rel("foo", "LT", "0", "3")));
  EXPECT_FALSE(provides_satisfy(rel("foo", "GE", "0", "3"), rel("foo", "LT", "0", "3")));
  EXPECT_FALSE(provides_satisfy(provide, rel("bar")));
}

TEST(RpmClosure, FormatsRelationsAsRpm) {
  EXPECT_EQ(format_relation(rel("bash")), "bash");
  EXPECT_EQ(format_relation(rel("name", "GE", "0", "1.2", "3")), "name >= 1.2-3");
  EXPECT_EQ(format_relation(rel("perl(:VERSION)", "GE", "4", "5.8.0")),
            "perl(:VERSION) >= 4:5.8.0");
  EXPECT_EQ(format_relation(rel("x", "LT", "", "2")), "x < 2");
  EXPECT_EQ(format_relation(rel("x", "EQ", "", "2")), "x = 2");
}

}  // namespace
}  // namespace airlock::rpm
