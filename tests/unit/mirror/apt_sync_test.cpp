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

}  // namespace
}  // namespace airlock::mirror
