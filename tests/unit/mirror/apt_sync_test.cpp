// The mirror's own logic over parsed indices: package diffs and the config.
#include "airlock/mirror/apt_sync.h"

#include <gtest/gtest.h>

#include "airlock/mirror/config.h"

namespace airlock::mirror {
namespace {

TEST(PackageDiff, AddedUpgradedRemoved) {
  std::vector<PackageVersion> a{
      {"openssl", "amd64", "3.0.11-1"}, {"curl", "amd64", "7.88.1-10"}, {"gone", "amd64", "1"}};
  std::vector<PackageVersion> b{{"openssl", "amd64", "3.0.13-1"},
                                {"curl", "amd64", "7.88.1-10"},
                                {"new", "amd64", "0.1"},
                                {"openssl", "amd64", "3.0.11-1"}};
  auto d = diff_packages(a, b);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].package, "gone");
  EXPECT_EQ(d[0].kind, PackageChange::removed);
  EXPECT_EQ(d[1].package, "new");
  EXPECT_EQ(d[1].kind, PackageChange::added);
  EXPECT_EQ(d[2].kind, PackageChange::upgraded);
  EXPECT_EQ(d[2].old_version, "3.0.11-1");
  EXPECT_EQ(d[2].new_version, "3.0.13-1");
}

TEST(Config, ParsesAndNamesTheFirstProblem) {
  auto ok = MirrorConfig::parse(R"(
[[repo]]
name = "debian-security"
kind = "apt"
url = "http://deb.example/debian-security/"
suites = ["bookworm-security"]
components = ["main"]
architectures = ["amd64"]
keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
packages = ["openssl", "curl*"]
check_valid_until = false
)",
                                "mirror.toml");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->repos.size(), 1u);
  EXPECT_EQ(ok->repos[0].url, "http://deb.example/debian-security");
  EXPECT_FALSE(ok->repos[0].check_valid_until);
  EXPECT_EQ(ok->repos[0].packages.size(), 2u);
  auto bad = MirrorConfig::parse("[[repo]]\nname = \"x\"\nkind = \"rpm\"\n", "m.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "m.toml: repo 'x': kind 'rpm' is not supported yet");
  auto syntax = MirrorConfig::parse("[[repo]\n", "m.toml");
  ASSERT_FALSE(syntax);
  EXPECT_TRUE(syntax.error().message.starts_with("m.toml:1: ")) << syntax.error().message;
  auto unknown =
      MirrorConfig::parse("[[repo]]\nname = \"x\"\nkind = \"apt\"\nsuite = [\"a\"]\n", "m.toml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown key 'suite'"), std::string::npos);
  EXPECT_TRUE(MirrorConfig::parse(config_template(), "template"));  // all commented out
}

// A valid [[repo]] named x with one field set to value; an empty value
// leaves the field out.
std::string repo_with(const std::string& key, const std::string& value) {
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"name", "\"x\""},
      {"kind", "\"apt\""},
      {"url", "\"http://deb.example/debian\""},
      {"suites", "[\"bookworm\"]"},
      {"components", "[\"main\"]"},
      {"architectures", "[\"amd64\"]"},
      {"keyring", "\"/k.gpg\""}};
  std::string out = "[[repo]]\n";
  bool listed = false;
  for (const auto& [k, v] : fields) {
    const bool here = k == key;
    listed = listed || here;
    if (!here) out += k + " = " + v + "\n";
    if (here && !value.empty()) out += k + " = " + value + "\n";
  }
  if (!listed) out += key + " = " + value + "\n";
  return out;
}

TEST(Config, EveryRefusalNamesTheFileTheRepoAndTheField) {
  const std::vector<std::pair<std::string, std::string>> documents = {
      {"x = 1\n", "m.toml: unknown top-level key 'x'"},
      {"repo = 1\n", "m.toml: 'repo' must be [[repo]] tables"},
      {"repo = [1]\n", "m.toml: each [[repo]] must be a table"},
      {repo_with("suite", "[\"a\"]"), "m.toml: repo '?': unknown key 'suite'"},
      {repo_with("name", ""), "m.toml: repo '?': name must be 1-64 characters of a-z 0-9 - _ ."},
      {repo_with("name", "\"-x\""),
       "m.toml: repo '-x': name must be 1-64 characters of a-z 0-9 - _ ."},
      {repo_with("name", "\"x\"") + repo_with("name", "\"x\""),
       "m.toml: repo 'x': a repo of this name is already configured"},
  };
  // One field of repo x set to a value (empty: left out), and what is said.
  struct Field {
    std::string key, value, what;
  };
  const std::vector<Field> fields = {
      {"kind", "\"files\"", "kind 'files' is not supported yet"},
      {"kind", "\"yum\"", "kind must be \"apt\""},
      {"kind", "", "kind must be \"apt\""},
      {"url", "\"ftp://deb.example/debian\"", "url must be an http:// or https:// address"},
      {"url", "\"http://a\"", "url must be an http:// or https:// address"},
      {"suites", "\"bookworm\"", "suites must be a list of strings"},
      {"components", "[1]", "components must be a list of strings"},
      {"packages", "[\"a\", 2]", "packages must be a list of strings"},
      {"suites", "", "suites must list at least one suite"},
      {"components", "[]", "components must list at least one component"},
      {"architectures", "", "architectures must list at least one architecture"},
      {"architectures", "[\"../amd64\"]",
       "'../amd64' is not a valid suite, component or architecture"},
      {"keyring", "", "keyring (the upstream's OpenPGP keyring) is required"},
      {"keyring", "\"\"", "keyring (the upstream's OpenPGP keyring) is required"},
      {"check_valid_until", "\"no\"", "check_valid_until must be true or false"},
      {"translations", "[true]", "translations must be true or false"},
  };
  auto cases = documents;
  for (const auto& f : fields) {
    cases.emplace_back(repo_with(f.key, f.value), "m.toml: repo 'x': " + f.what);
  }
  for (const auto& [text, message] : cases) {
    auto c = MirrorConfig::parse(text, "m.toml");
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().code, Code::invalid_input) << text;
    EXPECT_EQ(c.error().message, message) << text;
  }
}

TEST(Config, OptionalFieldsKeepTheirDefaultsUnlessSet) {
  auto plain = MirrorConfig::parse(repo_with("url", "\"https://deb.example/debian//\""), "m.toml");
  ASSERT_TRUE(plain) << plain.error().message;
  const RepoConfig& r = plain->repos.at(0);
  EXPECT_EQ(r.url, "https://deb.example/debian");
  EXPECT_EQ(r.keyring, "/k.gpg");
  EXPECT_TRUE(r.packages.empty());
  EXPECT_TRUE(r.check_valid_until);
  EXPECT_TRUE(r.translations);
  auto set = MirrorConfig::parse(repo_with("translations", "false") +
                                     "check_valid_until = false\n"
                                     "[[repo]]\nname = \"y\"\n" +
                                     repo_with("name", "").substr(9),
                                 "m.toml");
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->repos.size(), 2u);
  EXPECT_FALSE(set->repos[0].translations);
  EXPECT_FALSE(set->repos[0].check_valid_until);
  EXPECT_EQ(set->repos[1].name, "y");
  EXPECT_TRUE(set->repos[1].translations);
  EXPECT_EQ(set->find("y"), &set->repos[1]);
  EXPECT_EQ(set->find("z"), nullptr);
}

}  // namespace
}  // namespace airlock::mirror
