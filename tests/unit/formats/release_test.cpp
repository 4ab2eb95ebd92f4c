// Release files: fields, the four hash lists, by-hash addresses, dates.
#include "airlock/formats/release.h"

#include <gtest/gtest.h>

namespace airlock::apt {
namespace {

// The hashes of the empty string in each algorithm.
const std::string kMd5 = "d41d8cd98f00b204e9800998ecf8427e";
const std::string kSha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
const std::string kSha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kSha512 =
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
const std::string kXz256 = "2a3f64223885672b3b4ccb1f32d933baa3ba15544cf6df3b6b790ae4bc62182c";
const std::string kXz512 = std::string(64, '1') + std::string(64, '2');

// One line of a hash list.
std::string entry(const std::string& hash, std::uint64_t size, const std::string& path) {
  return " " + hash + " " + std::to_string(size) + " " + path + "\n";
}

std::string refusal(std::string_view text) {
  auto r = parse_release(text);
  EXPECT_FALSE(r) << text;
  if (r) return {};
  EXPECT_EQ(r.error().code, Code::invalid_input);
  return r.error().message;
}

TEST(Release, ParsesFieldsAndTheSha256List) {
  auto r = parse_release(
      "Origin: Debian\n"
      "Suite: bookworm-security\n"
      "Date: Sat, 21 Nov 2026 08:00:00 UTC\n"
      "Valid-Until: Sat, 28 Nov 2026 08:00:00 UTC\n"
      "Components: updates/main updates/contrib\n"
      "Architectures: amd64 arm64\n"
      "Acquire-By-Hash: yes\n"
      "SHA256:\n" +
      entry(kSha256, 0, "main/binary-amd64/Packages") +
      entry(kXz256, 868, "main/binary-amd64/Packages.xz"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->fields.at("Suite"), "bookworm-security");
  EXPECT_EQ(r->components, (std::vector<std::string>{"updates/main", "updates/contrib"}));
  EXPECT_EQ(r->architectures, (std::vector<std::string>{"amd64", "arm64"}));
  EXPECT_TRUE(r->acquire_by_hash);
  ASSERT_EQ(r->files.size(), 2u);
  EXPECT_EQ(r->files[1].size, 868u);
  ASSERT_NE(r->find("main/binary-amd64/Packages.xz"), nullptr);
  EXPECT_EQ(r->find("main/binary-amd64/Packages.xz")->sha256.hex(), kXz256);
  EXPECT_EQ(r->find("main/binary-amd64/Packages.gz"), nullptr);
  EXPECT_EQ(format_time(*r->date), "2026-11-21T08:00:00Z");
  EXPECT_EQ(format_time(*r->valid_until), "2026-11-28T08:00:00Z");
  EXPECT_FALSE(parse_release("SHA256:\n")->acquire_by_hash);
}

TEST(Release, ReadsEveryHashList) {
  const std::string packages = "main/binary-amd64/Packages";
  auto r = parse_release("Origin: x\nMD5Sum:\n" + entry(kMd5, 0, packages) +  //
                         "SHA1:\n" + entry(kSha1, 0, packages) +              //
                         "SHA256:\n" + entry(kSha256, 0, packages) +          //
                         entry(kXz256, 868, packages + ".xz") +               //
                         "SHA512:\n" + entry(kSha512, 0, packages));
  ASSERT_TRUE(r) << r.error().message;
  std::vector<std::tuple<std::string_view, std::string, std::uint64_t, std::string>> got;
  for (const auto& f : r->listed) {
    got.emplace_back(hash_name(f.hash.algorithm()), f.hash.hex(), f.size, f.path);
  }
  EXPECT_EQ(got, (decltype(got){{"MD5Sum", kMd5, 0, packages},
                                {"SHA1", kSha1, 0, packages},
                                {"SHA256", kSha256, 0, packages},
                                {"SHA256", kXz256, 868, packages + ".xz"},
                                {"SHA512", kSha512, 0, packages}}));
  EXPECT_EQ(r->files.size(), 2u);  // the typed SHA256 list
}

TEST(Release, RefusesMalformedHashLines) {
  EXPECT_EQ(refusal("SHA256:\n " + kSha256 + " 0\n"),
            "Release SHA256 entry 1: expected '<hash> <size> <path>', found 2 words");
  EXPECT_EQ(refusal("SHA256:\n " + kSha256 + " 0 a\n " + kSha256 + " 0 b c\n"),
            "Release SHA256 entry 2: expected '<hash> <size> <path>', found 4 words");
  EXPECT_EQ(refusal("SHA256:\n nothex 1 a\n"),
            "Release SHA256 entry 1: SHA256 'nothex' is not 64 lowercase hex digits");
  EXPECT_EQ(refusal("SHA256:\n " + kSha512 + " 1 a\n"),
            "Release SHA256 entry 1: SHA256 '" + kSha512 + "' is not 64 lowercase hex digits");
  EXPECT_EQ(refusal("SHA256:\n " + kSha256 + " 1 a\nSHA512:\n " + kSha256 + " 1 a\n"),
            "Release SHA512 entry 1: SHA512 '" + kSha256 + "' is not 128 lowercase hex digits");
  EXPECT_EQ(
      refusal("SHA256:\n " + kSha256 + " 1 a\nMD5Sum:\n D41D8CD98F00B204E9800998ECF8427E 1 a\n"),
      "Release MD5Sum entry 1: MD5Sum 'D41D8CD98F00B204E9800998ECF8427E' is not 32 lowercase hex "
      "digits");
  EXPECT_EQ(refusal("SHA256:\n " + kSha256 + " 1 a\nSHA1:\n " + kSha1 + " 12k a\n"),
            "Release SHA1 entry 1: size '12k' is not a number");
}

TEST(Release, RefusesMalformedFields) {
  EXPECT_EQ(refusal("Origin: x\n"), "Release has no SHA256 list");
  EXPECT_EQ(refusal(""), "Release is empty");
  EXPECT_EQ(refusal("\n\n"), "Release is empty");
  EXPECT_EQ(refusal("Date: yesterday\nSHA256:\n"),
            "Release Date: 'yesterday' is not an RFC 2822 date");
  EXPECT_EQ(refusal("Valid-Until: Sat, 28 Nov 2026 08:00:00 CEST\nSHA256:\n"),
            "Release Valid-Until: 'Sat, 28 Nov 2026 08:00:00 CEST' is not an RFC 2822 date");
  EXPECT_EQ(refusal("garbage line\n"), "Release: line 1: expected 'Field: value'");
}

TEST(Release, OnlyTheFirstParagraphCounts) {
  auto r = parse_release("SHA256:\n " + kSha256 + " 0 a\n\nSHA256:\n " + kXz256 + " 0 b\n");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->listed.size(), 1u);
  EXPECT_EQ(r->listed[0].path, "a");
}

TEST(HashValue, AcceptsOnlyTheAlgorithmsLength) {
  EXPECT_EQ(HashValue::parse(HashAlgorithm::sha1, kSha1)->hex(), kSha1);
  auto bad = HashValue::parse(HashAlgorithm::sha1, kSha1 + "0");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::invalid_input);
  EXPECT_EQ(bad.error().message, "SHA1 '" + kSha1 + "0' is not 40 lowercase hex digits");
  EXPECT_FALSE(HashValue::parse(HashAlgorithm::md5, ""));
}

TEST(ByHash, EveryListedHashAddressesItsFile) {
  auto r = parse_release("SHA256:\n" + entry(kXz256, 868, "main/binary-amd64/Packages.xz") +
                         entry(kSha256, 0, "Contents-amd64.gz") +  //
                         "SHA512:\n" + entry(kXz512, 868, "main/binary-amd64/Packages.xz"));
  ASSERT_TRUE(r) << r.error().message;
  const std::string dir = "dists/bookworm/main/binary-amd64/";
  const std::map<std::string, std::string> want{
      {dir + "by-hash/SHA256/" + kXz256, dir + "Packages.xz"},
      {dir + "by-hash/SHA512/" + kXz512, dir + "Packages.xz"},
      {"dists/bookworm/by-hash/SHA256/" + kSha256, "dists/bookworm/Contents-amd64.gz"}};
  EXPECT_EQ(by_hash_paths(*r, "dists/bookworm/"), want);
  EXPECT_EQ(by_hash_paths(*r, "dists/bookworm"), want);  // the '/' is added
}

TEST(ByHash, IdenticalFilesInOneDirectoryKeepTheFirst) {
  auto r = parse_release("SHA256:\n" + entry(kSha256, 0, "main/i18n/Translation-en") +
                         entry(kSha256, 0, "main/i18n/Translation-de") +
                         entry(kSha256, 0, "contrib/i18n/Translation-en") + "MD5Sum:\n" +
                         entry(kMd5, 0, "main/i18n/Translation-de"));
  ASSERT_TRUE(r) << r.error().message;
  const std::map<std::string, std::string> want{
      {"dists/s/main/i18n/by-hash/SHA256/" + kSha256, "dists/s/main/i18n/Translation-en"},
      {"dists/s/contrib/i18n/by-hash/SHA256/" + kSha256, "dists/s/contrib/i18n/Translation-en"},
      {"dists/s/main/i18n/by-hash/MD5Sum/" + kMd5, "dists/s/main/i18n/Translation-de"}};
  EXPECT_EQ(by_hash_paths(*r, "dists/s/"), want);
}

TEST(Rfc2822, DatesAndZones) {
  for (std::string text : {"Sun, 22 Nov 2026 10:51:33 UTC", "Sun, 22 Nov 2026 12:51:33 +0200",
                           "22 Nov 2026 08:51:33 -0200", "Sun, 22 Nov 2026 10:51:33 GMT"}) {
    auto t = parse_rfc2822(text);
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(format_time(*t), "2026-11-22T10:51:33Z") << text;
  }
}

TEST(Rfc2822, RefusesOtherForms) {
  for (std::string bad : {"2026-11-22", "Sun, 22 Nov 2026 10:51:33",
                          "Sun, 22 Nov 2026 10:51:33 +02", "Sun, 22 Nov 2026 10:51:33 +0x00", ""}) {
    auto t = parse_rfc2822(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, Code::invalid_input);
    EXPECT_EQ(t.error().message, "'" + bad + "' is not an RFC 2822 date");
  }
}

}  // namespace
}  // namespace airlock::apt
