#include "airlock/formats/site_index.h"

#include <gtest/gtest.h>

namespace airlock::apt {
namespace {

const std::string kA =
    "Package: liba\nVersion: 1.0-1\nArchitecture: amd64\nDescription: a library\n with two lines\n"
    "Filename: pool/main/l/liba/liba_1.0-1_amd64.deb\nSize: 10\nSHA256: " +
    std::string(64, 'a');
const std::string kB =
    "Package: tool\nVersion: 2:3.1\nArchitecture: all\nDepends: liba (>= 1.0)\n"
    "Filename: pool/main/t/tool/tool_3.1_all.deb\nSize: 20\nSHA256: " +
    std::string(64, 'b');
const std::string kC =
    "Package: other\nVersion: 1\nArchitecture: amd64\n"
    "Filename: pool/main/o/other/other_1_amd64.deb\nSize: 30\nSHA256: " +
    std::string(64, 'c');
// As a vendor writes it, with trailing spaces on a separator line.
const std::string kVendor = kA + "\n\n" + kB + "\n \n" + kC + "\n";

TEST(SiteIndexTest, StanzasAreCutExactlyAtBlankLines) {
  std::vector<std::string> got;
  ASSERT_TRUE(for_each_stanza("\n\n" + kVendor + "\n\n", [&](std::string_view s) {
    got.emplace_back(s);
    return Status{};
  }));
  EXPECT_EQ(got, (std::vector<std::string>{kA, kB, kC}));
  got.clear();
  ASSERT_TRUE(for_each_stanza(kA, [&](std::string_view s) {  // no final newline
    got.emplace_back(s);
    return Status{};
  }));
  EXPECT_EQ(got, std::vector<std::string>{kA});
}

TEST(SiteIndexTest, SelectedStanzasKeepTheVendorBytesAndOrder) {
  auto site = select_stanzas(kVendor, [](const PackageRecord& r) { return r.package != "tool"; });
  ASSERT_TRUE(site) << site.error().message;
  EXPECT_EQ(*site, kA + "\n\n" + kC + "\n");
  auto none = select_stanzas(kVendor, [](const PackageRecord&) { return false; });
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, "");
  EXPECT_FALSE(select_stanzas("Package: x\nVersion: 1\n", [](auto&) { return true; }));
}

TEST(SiteIndexTest, EveryStanzaOfASiteIndexMustBeAVendorStanza) {
  auto vendor = stanza_digests(kVendor);
  ASSERT_TRUE(vendor);
  EXPECT_EQ(vendor->size(), 3u);
  auto site = select_stanzas(kVendor, [](const PackageRecord& r) { return r.package != "other"; });
  ASSERT_TRUE(site);
  auto n = check_stanzas(*site, *vendor);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2u);

  // One byte changed in the second stanza: its description, not a field
  // apt checks downloads against.
  std::string edited = *site;
  edited.replace(edited.find("Depends: liba (>= 1.0)"), 22, "Depends: liba (>= 0.9)");
  auto refused = check_stanzas(edited, *vendor);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::refused);
  EXPECT_EQ(refused.error().message,
            "stanza 2 (tool 2:3.1 all) is not byte-identical to any stanza of the vendor-signed "
            "index");
  // A trailing space is a byte too.
  std::string spaced = *site;
  spaced.insert(spaced.find("\nArchitecture: amd64"), " ");
  EXPECT_EQ(check_stanzas(spaced, *vendor).error().code, Code::refused);
}

TEST(SiteIndexTest, ASiteReleaseCarriesTheVendorDescriptionAndOnlyTheSiteFiles) {
  auto vendor = parse_release(
      "Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\nCodename: "
      "bookworm-security\n"
      "Date: Sat, 21 Nov 2026 08:00:00 UTC\nValid-Until: Sat, 28 Nov 2026 08:00:00 UTC\n"
      "Acquire-By-Hash: yes\nArchitectures: amd64 arm64\nComponents: main\n"
      "Description: Debian 12 - Security Updates\nSHA256:\n " +
      std::string(64, 'd') + " 100 main/binary-amd64/Packages.xz\n");
  ASSERT_TRUE(vendor) << vendor.error().message;
  const Digest d = sha256(std::string_view("index"));
  const auto date = parse_rfc2822("Mon, 23 Nov 2026 10:00:00 GMT").value();
  const std::string text = site_release(*vendor, {{"main/binary-amd64/Packages", d, 5}}, date);
  auto back = parse_release(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->fields.at("Origin"), "Debian");
  EXPECT_EQ(back->fields.at("Codename"), "bookworm-security");
  EXPECT_EQ(back->fields.at("Description"), "Debian 12 - Security Updates");
  EXPECT_EQ(back->architectures, (std::vector<std::string>{"amd64", "arm64"}));
  EXPECT_EQ(back->date, date);
  EXPECT_FALSE(back->valid_until);
  EXPECT_TRUE(back->acquire_by_hash);
  ASSERT_EQ(back->files.size(), 1u);
  EXPECT_EQ(back->files[0].path, "main/binary-amd64/Packages");
  EXPECT_EQ(back->files[0].sha256, d);
  EXPECT_EQ(back->files[0].size, 5u);
}

TEST(SiteIndexTest, PackagesIndicesAreKnownByTheirPath) {
  std::string suite;
  EXPECT_EQ(packages_index_dir("dists/bookworm-security/main/binary-amd64/Packages.xz", suite),
            "dists/bookworm-security/main/binary-amd64");
  EXPECT_EQ(suite, "bookworm-security");
  EXPECT_EQ(packages_index_dir("dists/stable/updates/main/binary-all/Packages", suite),
            "dists/stable/updates/main/binary-all");
  EXPECT_EQ(suite, "stable");
  for (const char* other :
       {"dists/bookworm/InRelease", "dists/bookworm/main/i18n/Translation-en",
        "dists/bookworm/main/source/Sources.xz", "pool/main/p/Packages",
        "dists/bookworm/main/binary-amd64/Packages.diff/Index", "dists/Packages"}) {
    EXPECT_EQ(packages_index_dir(other, suite), "") << other;
  }
}

}  // namespace
}  // namespace airlock::apt
