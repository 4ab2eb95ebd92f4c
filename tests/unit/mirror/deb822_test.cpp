#include <gtest/gtest.h>

#include "airlock/mirror/apt_sync.h"
#include "airlock/mirror/config.h"
#include "airlock/mirror/deb822.h"

namespace airlock::mirror {
namespace {

TEST(Versions, DpkgOrdering) {
  using apt::compare_versions;
  EXPECT_LT(compare_versions("1.0-1", "1.1-1"), 0);
  EXPECT_GT(compare_versions("1.10", "1.9"), 0);
  EXPECT_LT(compare_versions("1.0~rc1", "1.0"), 0);  // ~ sorts before the end
  EXPECT_LT(compare_versions("1.0", "1.0+deb12u1"), 0);
  EXPECT_GT(compare_versions("1:0.9", "2.0"), 0);  // epoch wins
  EXPECT_EQ(compare_versions("1.0-1", "1.0-1"), 0);
  EXPECT_EQ(compare_versions("0:1.0", "1.0"), 0);
  EXPECT_LT(compare_versions("3.0.11-1~deb12u1", "3.0.11-1~deb12u2"), 0);
  EXPECT_GT(compare_versions("1.0a", "1.0"), 0);
  EXPECT_LT(compare_versions("1.0-1", "1.0-1.1"), 0);
}

TEST(Release, ParsesFieldsAndSha256List) {
  auto r = apt::parse_release(
      "Origin: Debian\n"
      "Suite: bookworm-security\n"
      "Date: Sat, 21 Nov 2026 08:00:00 UTC\n"
      "Valid-Until: Sat, 28 Nov 2026 08:00:00 UTC\n"
      "Components: updates/main updates/contrib\n"
      "Architectures: amd64 arm64\n"
      "Acquire-By-Hash: yes\n"
      "MD5Sum:\n d41d8cd98f00b204e9800998ecf8427e 0 main/binary-amd64/Packages\n"
      "SHA256:\n"
      " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 main/binary-amd64/Packages\n"
      " 2a3f64223885672b3b4ccb1f32d933baa3ba15544cf6df3b6b790ae4bc62182c      868 main/binary-amd64/Packages.xz\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->components, (std::vector<std::string>{"updates/main", "updates/contrib"}));
  EXPECT_TRUE(r->acquire_by_hash);
  ASSERT_EQ(r->files.size(), 2u);
  EXPECT_EQ(r->files[1].size, 868u);
  EXPECT_EQ(r->find("main/binary-amd64/Packages.xz")->sha256.hex().substr(0, 8), "2a3f6422");
  EXPECT_EQ(format_time(*r->date), "2026-11-21T08:00:00Z");
  EXPECT_EQ(format_time(*r->valid_until), "2026-11-28T08:00:00Z");
}

TEST(Release, RefusesMalformed) {
  EXPECT_FALSE(apt::parse_release("Origin: x\n"));  // no SHA256
  EXPECT_FALSE(apt::parse_release("SHA256:\n nothex 1 a\n"));
  EXPECT_FALSE(apt::parse_release("Date: yesterday\nSHA256:\n"));
  EXPECT_FALSE(apt::parse_release("garbage line\n"));
}

TEST(Packages, ParsesRecordsAndRefusesUncheckableOnes) {
  auto p = apt::parse_packages(
      "Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nFilename: pool/main/h/hello/hello_1.0-1_amd64.deb\n"
      "Size: 1234\nSHA256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "Description: hi\n more text\n\n"
      "Package: world\nVersion: 2\nFilename: pool/w.deb\nSize: 1\n"
      "SHA256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].filename, "pool/main/h/hello/hello_1.0-1_amd64.deb");
  EXPECT_EQ((*p)[0].size, 1234u);
  auto missing = apt::parse_packages("Package: x\nVersion: 1\nFilename: pool/x.deb\n");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "Packages: x lacks Filename, Size or SHA256");
}

TEST(Rfc2822, Dates) {
  EXPECT_EQ(format_time(apt::parse_rfc2822("Sun, 22 Nov 2026 10:51:33 UTC").value()), "2026-11-22T10:51:33Z");
  EXPECT_EQ(format_time(apt::parse_rfc2822("Sun, 22 Nov 2026 12:51:33 +0200").value()), "2026-11-22T10:51:33Z");
  EXPECT_FALSE(apt::parse_rfc2822("2026-11-22"));
}

TEST(PackageDiff, AddedUpgradedRemoved) {
  std::vector<PackageVersion> a{{"openssl", "amd64", "3.0.11-1"}, {"curl", "amd64", "7.88.1-10"},
                                {"gone", "amd64", "1"}};
  std::vector<PackageVersion> b{{"openssl", "amd64", "3.0.13-1"}, {"curl", "amd64", "7.88.1-10"},
                                {"new", "amd64", "0.1"}, {"openssl", "amd64", "3.0.11-1"}};
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
)", "mirror.toml");
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
  auto unknown = MirrorConfig::parse("[[repo]]\nname = \"x\"\nkind = \"apt\"\nsuite = [\"a\"]\n", "m.toml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown key 'suite'"), std::string::npos);
  EXPECT_TRUE(MirrorConfig::parse(config_template(), "template"));  // all commented out
}

TEST(Decompress, RawFiltersAndLimit) {
  auto plain = decompress_index("Package: x\n");
  ASSERT_TRUE(plain);
  EXPECT_EQ(*plain, "Package: x\n");
}

}  // namespace
}  // namespace airlock::mirror
