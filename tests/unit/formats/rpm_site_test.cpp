// Site metadata of a filtered rpm repository: the site primary's one form,
// the proof that its elements are the vendor's, the site repomd, and gzip.
#include "airlock/formats/rpm_site.h"

#include <gtest/gtest.h>

#include "airlock/formats/compress.h"
#include "airlock/formats/rpm.h"

namespace airlock::rpm {
namespace {

std::string package(const std::string& name, const std::string& ver, char sum) {
  return "<package type=\"rpm\">\n  <name>" + name + "</name>\n  <arch>noarch</arch>\n" +
         "  <version epoch=\"0\" ver=\"" + ver + "\" rel=\"1\"/>\n" +
         "  <checksum type=\"sha256\" pkgid=\"YES\">" + std::string(64, sum) + "</checksum>\n" +
         "  <size package=\"10\" installed=\"20\" archive=\"30\"/>\n" + "  <location href=\"" +
         name + "-" + ver + "-1.noarch.rpm\"/>\n  <format>\n    <rpm:requires>\n" +
         "      <rpm:entry name=\"libgreet\" flags=\"GE\" epoch=\"0\" ver=\"1.0\"/>\n" +
         "    </rpm:requires>\n  </format>\n</package>";
}

const std::string kHello = package("hello", "1.0", 'a');
const std::string kLib = package("libgreet", "1.0", 'b');
const std::string kOther = package("other-app", "1.0", 'c');
// createrepo_c's layout: header, each element on its own, two-space indent
// inside (the vendor's bytes are whatever the vendor wrote).
const std::string kVendor = site_primary_header(3) + kHello + "\n" + kLib + "\n" + kOther + "\n" +
                            std::string(kSitePrimaryEnd);

TEST(RpmSite, SitePrimaryIsTheCreaterepoLayoutOfTheGivenElements) {
  EXPECT_EQ(site_primary({kHello, kOther}),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata "
            "xmlns=\"http://linux.duke.edu/metadata/common\" "
            "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"2\">\n" +
                kHello + "\n" + kOther + "\n</metadata>\n");
  std::vector<std::string> names;
  PrimaryParser parser(
      [&](RpmPackage&& p) {
        names.push_back(p.name);
        return Status{};
      },
      {.keep_elements = true});
  ASSERT_TRUE(parser.feed(site_primary({kHello, kOther})));
  ASSERT_TRUE(parser.finish());
  EXPECT_EQ(parser.declared_packages(), 2u);
  EXPECT_EQ(names, (std::vector<std::string>{"hello", "other-app"}));
}

TEST(RpmSite, ElementDigestsReadsPlainAndCompressedPrimaries) {
  auto plain = element_digests(kVendor, 1 << 20);
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(*plain, (std::set<Digest>{sha256(kHello), sha256(kLib), sha256(kOther)}));
  auto gz = formats::compress_gzip(kVendor);
  ASSERT_TRUE(gz);
  auto compressed = element_digests(*gz, 1 << 20);
  ASSERT_TRUE(compressed) << compressed.error().message;
  EXPECT_EQ(*compressed, *plain);
  auto limited = element_digests(*gz, 100);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, Code::limit);
}

TEST(RpmSite, CheckElementsAcceptsVendorElementsInTheSiteForm) {
  auto vendor = element_digests(kVendor, 1 << 20);
  ASSERT_TRUE(vendor);
  auto n = check_elements(site_primary({kHello, kLib}), *vendor);
  ASSERT_TRUE(n) << n.error().message;
  EXPECT_EQ(*n, 2u);
  auto empty = check_elements(site_primary({}), *vendor);
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(*empty, 0u);
}

TEST(RpmSite, CheckElementsNamesTheFirstElementThatIsNotTheVendors) {
  auto vendor = element_digests(kVendor, 1 << 20);
  ASSERT_TRUE(vendor);
  std::string changed = kLib;
  changed.replace(changed.find("ver=\"1.0\"/>"), 11, "ver=\"0.1\"/>");
  auto r = check_elements(site_primary({kHello, changed}), *vendor);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_EQ(r.error().message,
            "package 2 (libgreet 1.0-1 noarch) is not byte-identical to any <package> of the "
            "vendor-signed primary");
  // One blank more inside an element is another element.
  std::string spaced = kHello;
  spaced.insert(spaced.find("<name>"), " ");
  r = check_elements(site_primary({spaced}), *vendor);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "package 1 (hello 1.0-1 noarch) is not byte-identical to any <package> of the "
            "vendor-signed primary");
}

TEST(RpmSite, CheckElementsRefusesAnythingAroundTheElements) {
  auto vendor = element_digests(kVendor, 1 << 20);
  ASSERT_TRUE(vendor);
  const std::string good = site_primary({kHello});
  const std::string says =
      "holds more than its 1 vendor <package> elements (the text around them is not the site "
      "primary's)";
  for (const std::string& bad : {
           // Another element dnf would not see as a package but a reader might.
           std::string(good).insert(good.find("</metadata>"), "<extra>x</extra>\n"),
           std::string(good).insert(good.find("</metadata>"), "<!-- not the vendor's -->\n"),
           // A count that is not the number of elements.
           site_primary_header(5) + kHello + "\n" + std::string(kSitePrimaryEnd),
           // Other spacing between elements.
           site_primary_header(1) + kHello + "\n\n" + std::string(kSitePrimaryEnd),
       }) {
    auto r = check_elements(bad, *vendor);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::refused);
    EXPECT_EQ(r.error().message, says);
  }
  auto broken = check_elements(good.substr(0, good.size() - 5), *vendor);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, Code::invalid_input);
}

TEST(RpmSite, RepomdListsTheSiteFilesAndKeepsVendorDataByteForByte) {
  const std::string vendor_repomd =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" "
      "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n"
      "  <revision>7</revision>\n"
      "  <data type=\"updateinfo\">\n"
      "    <checksum type=\"sha256\">" +
      std::string(64, 'd') +
      "</checksum>\n"
      "    <open-checksum type=\"sha256\">" +
      std::string(64, 'e') +
      "</open-checksum>\n"
      "    <location href=\"repodata/dd-updateinfo.xml.gz\"/>\n"
      "    <timestamp>1700000000</timestamp>\n"
      "    <size>99</size>\n"
      "    <open-size>300</open-size>\n"
      "  </data>\n"
      "</repomd>\n";
  auto vendor = parse_repomd(vendor_repomd);
  ASSERT_TRUE(vendor) << vendor.error().message;
  ASSERT_EQ(vendor->data.size(), 1u);
  const std::string& element = vendor->data[0].element;
  EXPECT_TRUE(element.starts_with("<data type=\"updateinfo\">\n    <checksum")) << element;
  EXPECT_TRUE(element.ends_with("<open-size>300</open-size>\n  </data>")) << element;
  EXPECT_NE(vendor_repomd.find(element), std::string::npos);

  SiteRepomdFile primary;
  primary.type = "primary";
  primary.sha256 = sha256("gz");
  primary.size = 2;
  primary.open_sha256 = sha256("xml");
  primary.open_size = 3;
  primary.location = site_metadata_location(primary.sha256, "primary");
  primary.timestamp = 1800000000;
  EXPECT_EQ(primary.location, "repodata/" + sha256("gz").hex() + "-primary.xml.gz");
  const std::string site = site_repomd("1800000000", {primary}, {element});
  auto parsed = parse_repomd(site);
  ASSERT_TRUE(parsed) << parsed.error().message << "\n" << site;
  EXPECT_EQ(parsed->revision, "1800000000");
  ASSERT_EQ(parsed->data.size(), 2u);
  EXPECT_EQ(parsed->data[0].type, "primary");
  EXPECT_EQ(parsed->data[0].sha256, primary.sha256);
  EXPECT_EQ(parsed->data[0].location, primary.location);
  EXPECT_EQ(parsed->data[0].size, 2u);
  EXPECT_EQ(parsed->data[0].timestamp, 1800000000);
  EXPECT_NE(site.find("<open-checksum type=\"sha256\">" + sha256("xml").hex()), std::string::npos);
  EXPECT_NE(site.find("<open-size>3</open-size>"), std::string::npos);
  EXPECT_EQ(parsed->data[1].element, element);
  EXPECT_EQ(parsed->data[1].location, "repodata/dd-updateinfo.xml.gz");
}

TEST(RpmSite, GzipIsDeterministicAndDecompressesBack) {
  auto a = formats::compress_gzip(kVendor);
  auto b = formats::compress_gzip(kVendor);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  ASSERT_GE(a->size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>((*a)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*a)[1]), 0x8b);
  EXPECT_EQ(a->substr(4, 4), std::string(4, '\0'));  // no time in the header
  auto back = formats::decompress_index(*a);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, kVendor);
}

}  // namespace
}  // namespace airlock::rpm
