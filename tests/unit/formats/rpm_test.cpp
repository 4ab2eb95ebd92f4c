// rpm-md metadata: repomd.xml and primary.xml as createrepo_c writes them,
// streamed in any pieces, and every refusal of hostile documents.
#include "airlock/formats/rpm.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>
#include <tuple>

#include "airlock/formats/package_diff.h"

namespace airlock::rpm {
namespace {

// createrepo_c 1.0 output for a repository with two packages (shortened
// to the data types that matter; the layout and namespaces are its own).
const std::string kRepomd = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1795559472</revision>
  <data type="primary">
    <checksum type="sha256">4f1716f6518f7d0e9a6b0f09561973ae54845f4d7c1c40578fc360e11f6a916a</checksum>
    <open-checksum type="sha256">fb8fa90e3f0b328a3c4f2041530a884e46bf354bff15a7e73f3349dc3cec6b73</open-checksum>
    <location href="repodata/4f1716f6518f7d0e9a6b0f09561973ae54845f4d7c1c40578fc360e11f6a916a-primary.xml.gz"/>
    <timestamp>1795559472</timestamp>
    <size>653</size>
    <open-size>1364</open-size>
  </data>
  <data type="filelists">
    <checksum type="sha256">ceea4cbf2c49851e0b2c606bacad06a7491dc5809571bfa827d6123c1115414b</checksum>
    <open-checksum type="sha256">fcb7538ee09685010592f5acf3040ffba6bce070e1a5d343996bfbda43079f5d</open-checksum>
    <location href="repodata/ceea4cbf2c49851e0b2c606bacad06a7491dc5809571bfa827d6123c1115414b-filelists.xml.gz"/>
    <timestamp>1795559480</timestamp>
    <size>260</size>
    <open-size>380</open-size>
  </data>
  <data type="primary_db">
    <checksum type="sha256">920011885badb2067ddd45369bc1acf33ab4db042377142c64d97ace69ddef05</checksum>
    <open-checksum type="sha256">ec45836dba1447f719d71e3d32b4d9b4fde0dd262900bff098c151779b0f94ab</open-checksum>
    <location href="repodata/920011885badb2067ddd45369bc1acf33ab4db042377142c64d97ace69ddef05-primary.sqlite.bz2"/>
    <timestamp>1795559472</timestamp>
    <size>1892</size>
    <open-size>106496</open-size>
    <database_version>10</database_version>
  </data>
</repomd>
)xml";

const std::string kHelloPackage = R"xml(<package type="rpm">
  <name>hello</name>
  <arch>noarch</arch>
  <version epoch="2" ver="1.0" rel="1"/>
  <checksum type="sha256" pkgid="YES">b58438651e88391bbb6deb32aa8e333251abf9fae700c104f1dad031cd12b975</checksum>
  <summary>A hello &amp; &lt;test&gt;</summary>
  <description>Hello.</description>
  <packager></packager>
  <url></url>
  <time file="1795559472" build="1795559472"/>
  <size package="6432" installed="7" archive="520"/>
  <location href="hello-1.0-1.noarch.rpm"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:vendor></rpm:vendor>
    <rpm:group>Unspecified</rpm:group>
    <rpm:buildhost>vm</rpm:buildhost>
    <rpm:sourcerpm>hello-1.0-1.src.rpm</rpm:sourcerpm>
    <rpm:header-range start="4504" end="6285"/>
    <rpm:provides>
      <rpm:entry name="greeting" flags="EQ" epoch="0" ver="1.0"/>
      <rpm:entry name="hello" flags="EQ" epoch="2" ver="1.0" rel="1"/>
    </rpm:provides>
    <rpm:requires>
      <rpm:entry name="/bin/sh"/>
      <rpm:entry name="libfoo" flags="GE" epoch="0" ver="1.2" rel="3"/>
      <rpm:entry name="shadow-utils" pre="1"/>
    </rpm:requires>
    <file>/etc/hello.conf</file>
    <file>/usr/bin/hello</file>
  </format>
</package>)xml";

const std::string kLibfooPackage = R"xml(<package type="rpm">
  <name>libfoo</name>
  <arch>x86_64</arch>
  <version epoch="0" ver="1.2" rel="3.el9"/>
  <checksum type="sha256" pkgid="YES">0000000000000000000000000000000000000000000000000000000000000001</checksum>
  <summary>Foo</summary>
  <size package="1000" installed="2000" archive="2100"/>
  <location href="Packages/l/libfoo-1.2-3.el9.x86_64.rpm"/>
  <format>
    <rpm:provides>
      <rpm:entry name="libfoo.so.1()(64bit)"/>
    </rpm:provides>
  </format>
</package>)xml";

const std::string kHeader = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="2">
)xml";

const std::string kPrimary = kHeader + kHelloPackage + "\n" + kLibfooPackage + "\n</metadata>\n";

struct Parsed {
  Status status;
  std::vector<RpmPackage> packages;
  std::uint64_t declared = 0;
};

// Feeds doc in pieces of the sizes next() gives (0: the rest), then finish().
template <class Next>
Parsed parse_primary(std::string_view doc, Next next, PrimaryParser::Options options = {}) {
  Parsed out;
  PrimaryParser parser(
      [&](RpmPackage&& p) {
        out.packages.push_back(std::move(p));
        return Status{};
      },
      options);
  while (!doc.empty() && out.status) {
    std::size_t n = next();
    n = n == 0 ? doc.size() : std::min(n, doc.size());
    out.status = parser.feed(doc.substr(0, n));
    doc.remove_prefix(n);
  }
  if (out.status) out.status = parser.finish();
  out.declared = parser.declared_packages();
  EXPECT_EQ(parser.packages(), out.packages.size());
  return out;
}

Parsed parse_whole(std::string_view doc, PrimaryParser::Options options = {}) {
  return parse_primary(
      doc, [] { return std::size_t{0}; }, options);
}

std::string error_of(std::string_view doc) {
  auto parsed = parse_whole(doc);
  EXPECT_FALSE(parsed.status);
  return parsed.status ? "" : parsed.status.error().message;
}

// A primary.xml whose one package is kHelloPackage with `from` replaced by `to`.
std::string hello_with(std::string_view from, std::string_view to) {
  std::string pkg = kHelloPackage;
  auto at = pkg.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  pkg.replace(at, from.size(), to);
  return kHeader + pkg + "\n</metadata>\n";
}

// ------------------------------------------------------------------ repomd

TEST(Repomd, ReadsCreaterepoOutput) {
  auto r = parse_repomd(kRepomd);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->revision, "1795559472");
  EXPECT_EQ(r->timestamp, 1795559480);
  ASSERT_EQ(r->data.size(), 3u);
  EXPECT_EQ(r->data[0].type, "primary");
  EXPECT_EQ(r->data[0].sha256.hex(),
            "4f1716f6518f7d0e9a6b0f09561973ae54845f4d7c1c40578fc360e11f6a916a");
  EXPECT_EQ(
      r->data[0].location,
      "repodata/4f1716f6518f7d0e9a6b0f09561973ae54845f4d7c1c40578fc360e11f6a916a-primary.xml.gz");
  EXPECT_EQ(r->data[0].size, 653u);
  EXPECT_EQ(r->data[0].timestamp, 1795559472);
  EXPECT_EQ(r->data[1].type, "filelists");
  EXPECT_EQ(r->data[2].type, "primary_db");
  EXPECT_EQ(r->data[2].size, 1892u);
}

TEST(Repomd, OptionalFieldsAndVendorElements) {
  auto r = parse_repomd(R"xml(<repomd xmlns="http://linux.duke.edu/metadata/repo">
<tags><content>binary-x86_64</content><distro cpeid="cpe:/o:x">X</distro></tags>
<data type="updateinfo"><checksum type="sha256">
  0000000000000000000000000000000000000000000000000000000000000002
</checksum><location href="repodata/u.xml.zst"/><timestamp>1331134620.52</timestamp></data>
</repomd>)xml");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->revision, "");
  ASSERT_EQ(r->data.size(), 1u);
  EXPECT_EQ(r->data[0].size, 0u);
  EXPECT_EQ(r->data[0].timestamp, 1331134620);
  EXPECT_EQ(r->timestamp, 1331134620);
}

std::string repomd_error(std::string_view doc) {
  auto r = parse_repomd(doc);
  EXPECT_FALSE(r);
  return r ? "" : r.error().message;
}

// One <data> in a repomd.xml, `inner` its content.
std::string repomd_with(std::string_view inner) {
  return "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\">\n<data type=\"primary\">\n" +
         std::string(inner) + "\n</data>\n</repomd>\n";
}

const std::string kSum =
    "<checksum type=\"sha256\">"
    "0000000000000000000000000000000000000000000000000000000000000003</checksum>";

TEST(Repomd, RefusesOtherChecksumTypes) {
  auto r = parse_repomd(
      repomd_with("<checksum type=\"sha\">da39a3ee5e6b4b0d3255bfef95601890afd80709</checksum>"
                  "<location href=\"repodata/p.xml.gz\"/>"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
  EXPECT_EQ(r.error().message,
            "repomd.xml: line 3: data 'primary': expected <checksum type=\"sha256\">, found type "
            "'sha'");
}

TEST(Repomd, RefusesDuplicatesAndMissingParts) {
  EXPECT_EQ(repomd_error(repomd_with(kSum + "<location href=\"a\"/></data><data type=\"primary\">" +
                                     kSum + "<location href=\"b\"/>")),
            "repomd.xml: line 3: expected one <data type='primary'>, found a second");
  EXPECT_EQ(repomd_error(repomd_with(kSum + "<location href=\"a\"/></data><data type=\"other\">" +
                                     kSum + "<location href=\"a\"/>")),
            "repomd.xml: line 4: data 'other': expected a location no other data has, found 'a' "
            "a second time");
  EXPECT_EQ(repomd_error(repomd_with("<location href=\"a\"/>")),
            "repomd.xml: line 4: data 'primary': expected <checksum type=\"sha256\">, found none");
  EXPECT_EQ(repomd_error(repomd_with(kSum)),
            "repomd.xml: line 4: data 'primary': expected <location href=\"...\">, found none");
  EXPECT_EQ(
      repomd_error(repomd_with(kSum + "<location xml:base=\"http://elsewhere/\" href=\"a\"/>")),
      "repomd.xml: line 3: data 'primary': expected <location> without xml:base, found "
      "xml:base='http://elsewhere/'");
  EXPECT_EQ(repomd_error(repomd_with(kSum + "<location href=\"a\"/><size>-1</size>")),
            "repomd.xml: line 3: data 'primary': expected a number in <size>, found '-1'");
  EXPECT_EQ(repomd_error(repomd_with("<checksum type=\"sha256\">ABC</checksum>")),
            "repomd.xml: line 3: data 'primary': expected 64 lowercase hex digits in <checksum>, "
            "found 'ABC'");
  EXPECT_EQ(repomd_error("<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"><data/></repomd>"),
            "repomd.xml: line 1: expected <data type=\"...\">, found none");
}

TEST(Repomd, RefusesWrongRootAndBrokenXml) {
  EXPECT_EQ(repomd_error("<repomd><data type=\"primary\"/></repomd>"),
            "repomd.xml: line 1: expected the root element <repomd> in namespace "
            "'http://linux.duke.edu/metadata/repo', found <repomd> in no namespace");
  EXPECT_EQ(repomd_error(kPrimary),
            "repomd.xml: line 2: expected the root element <repomd> in namespace "
            "'http://linux.duke.edu/metadata/repo', found <metadata> in namespace "
            "'http://linux.duke.edu/metadata/common'");
  EXPECT_EQ(repomd_error(kRepomd.substr(0, 400)),
            "repomd.xml: line 6: the document is incomplete: expected the end of <open-checksum>, "
            "found the end of the input");
  EXPECT_EQ(repomd_error(""),
            "repomd.xml: line 1: the document is incomplete: expected the root element <repomd>, "
            "found the end of the input");
  EXPECT_EQ(repomd_error("<repomd xmlns=\"http://linux.duke.edu/metadata/repo\">\n</data>"),
            "repomd.xml: line 2: expected well-formed XML, found: mismatched tag");
}

// ----------------------------------------------------------------- primary

void expect_hello(const RpmPackage& p) {
  EXPECT_EQ(p.name, "hello");
  EXPECT_EQ(p.arch, "noarch");
  EXPECT_EQ(p.epoch, "2");
  EXPECT_EQ(p.version, "1.0");
  EXPECT_EQ(p.release, "1");
  EXPECT_EQ(p.evr(), "2:1.0-1");
  EXPECT_EQ(p.sha256.hex(), "b58438651e88391bbb6deb32aa8e333251abf9fae700c104f1dad031cd12b975");
  EXPECT_EQ(p.location, "hello-1.0-1.noarch.rpm");
  EXPECT_EQ(p.size, 6432u);
  EXPECT_EQ(p.sourcerpm, "hello-1.0-1.src.rpm");
  ASSERT_EQ(p.provides.size(), 2u);
  EXPECT_EQ(p.provides[0].name, "greeting");
  EXPECT_EQ(p.provides[0].flags, "EQ");
  EXPECT_EQ(p.provides[0].epoch, "0");
  EXPECT_EQ(p.provides[0].version, "1.0");
  EXPECT_EQ(p.provides[0].release, "");
  ASSERT_EQ(p.requirements.size(), 3u);
  EXPECT_EQ(p.requirements[0].name, "/bin/sh");
  EXPECT_EQ(p.requirements[0].flags, "");
  EXPECT_EQ(p.requirements[1].name, "libfoo");
  EXPECT_EQ(p.requirements[1].flags, "GE");
  EXPECT_EQ(p.requirements[1].release, "3");
  EXPECT_FALSE(p.requirements[1].pre);
  EXPECT_TRUE(p.requirements[2].pre);
  EXPECT_EQ(p.files, (std::vector<std::string>{"/etc/hello.conf", "/usr/bin/hello"}));
}

TEST(Primary, ReadsCreaterepoOutput) {
  auto parsed = parse_whole(kPrimary);
  ASSERT_TRUE(parsed.status) << parsed.status.error().message;
  EXPECT_EQ(parsed.declared, 2u);
  ASSERT_EQ(parsed.packages.size(), 2u);
  expect_hello(parsed.packages[0]);
  const auto& foo = parsed.packages[1];
  EXPECT_EQ(foo.name, "libfoo");
  EXPECT_EQ(foo.epoch, "0");
  EXPECT_EQ(foo.evr(), "1.2-3.el9");
  EXPECT_EQ(foo.sourcerpm, "");
  EXPECT_TRUE(foo.requirements.empty());
  EXPECT_TRUE(foo.files.empty());
  EXPECT_EQ(foo.element, "");
}

TEST(Primary, KeepsTheExactElementBytes) {
  auto parsed = parse_whole(kPrimary, {.keep_elements = true});
  ASSERT_TRUE(parsed.status) << parsed.status.error().message;
  ASSERT_EQ(parsed.packages.size(), 2u);
  EXPECT_EQ(parsed.packages[0].element, kHelloPackage);
  EXPECT_EQ(parsed.packages[1].element, kLibfooPackage);
}

TEST(Primary, AnyPiecesGiveTheSameResult) {
  const PrimaryParser::Options keep{.keep_elements = true};
  auto whole = parse_whole(kPrimary, keep);
  ASSERT_TRUE(whole.status);
  auto bytes = parse_primary(
      kPrimary, [] { return std::size_t{1}; }, keep);
  ASSERT_TRUE(bytes.status) << bytes.status.error().message;
  std::mt19937 random(14);
  for (int round = 0; round < 20; ++round) {
    auto pieces = parse_primary(
        kPrimary, [&] { return std::size_t{1} + random() % 200; }, keep);
    ASSERT_TRUE(pieces.status) << pieces.status.error().message;
    ASSERT_EQ(pieces.packages.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(pieces.packages[i].element, whole.packages[i].element);
      EXPECT_EQ(pieces.packages[i].files, whole.packages[i].files);
    }
  }
  ASSERT_EQ(bytes.packages.size(), 2u);
  expect_hello(bytes.packages[0]);
  EXPECT_EQ(bytes.packages[0].element, kHelloPackage);
  EXPECT_EQ(bytes.packages[1].element, kLibfooPackage);
}

TEST(Primary, IgnoresUnknownElementsAndEmptyMetadata) {
  auto empty =
      parse_whole("<metadata xmlns=\"http://linux.duke.edu/metadata/common\" packages=\"0\"/>");
  ASSERT_TRUE(empty.status);
  EXPECT_TRUE(empty.packages.empty());
  auto vendor = parse_whole(
      hello_with("<format>", "<vendor><name>ignored</name><package/></vendor><format>"));
  ASSERT_TRUE(vendor.status) << vendor.status.error().message;
  EXPECT_EQ(vendor.packages.at(0).name, "hello");
}

TEST(Primary, ElementsOutsideTheirNamespaceAreNotPackages) {
  std::string other = kHelloPackage;
  other.replace(0, 8, "<package xmlns=\"http://example.com/other\"");
  auto parsed = parse_whole(kHeader + other + "\n" + kLibfooPackage + "\n</metadata>\n");
  ASSERT_TRUE(parsed.status) << parsed.status.error().message;
  ASSERT_EQ(parsed.packages.size(), 1u);
  EXPECT_EQ(parsed.packages[0].name, "libfoo");
  // A namespace that would read as another name is not well-formed.
  std::string forged = kHelloPackage;
  forged.replace(0, 8, "<x xmlns=\"http://linux.duke.edu/metadata/common|package\"");
  forged.replace(forged.size() - 10, 10, "</x>");
  EXPECT_EQ(error_of(kHeader + forged + "\n</metadata>\n"),
            "primary.xml: line 3: expected well-formed XML, found: syntax error");
}

TEST(Primary, RefusesChecksumsOtherThanSha256) {
  EXPECT_EQ(error_of(hello_with("type=\"sha256\" pkgid", "type=\"sha1\" pkgid")),
            "primary.xml: line 7: package 'hello': expected <checksum type=\"sha256\">, found "
            "type 'sha1'");
  EXPECT_EQ(error_of(hello_with("b58438651e88391bbb6deb32aa8e333251abf9fae700c104f1dad031cd12b975",
                                "b584")),
            "primary.xml: line 7: package 'hello': expected 64 lowercase hex digits in "
            "<checksum>, found 'b584'");
}

TEST(Primary, RefusesPackagesMissingWhatSyncNeeds) {
  // {text of the hello package, its replacement, the refusal}
  const std::tuple<std::string, std::string, std::string> cases[] = {
      {"  <location href=\"hello-1.0-1.noarch.rpm\"/>\n", "",
       "primary.xml: line 33: package 'hello': expected <location href=\"...\">, found none"},
      {"<location href", "<location xml:base=\"http://x/\" href",
       "primary.xml: line 14: package 'hello': expected <location> without xml:base, found "
       "xml:base='http://x/'"},
      {"<name>hello</name>", "", "primary.xml: line 34: a package: expected <name>, found none"},
      {" rel=\"1\"", "",
       "primary.xml: line 6: package 'hello': expected <version ver=\"...\" rel=\"...\">, "
       "found no rel"},
      {"package=\"6432\"", "package=\"6e3\"",
       "primary.xml: line 13: package 'hello': expected a number in <size package>, found "
       "'6e3'"},
      {"<arch>noarch</arch>", "<arch>noarch</arch><arch>x</arch>",
       "primary.xml: line 5: package 'hello': expected one <arch>, found a second"},
      {"flags=\"GE\"", "flags=\"GTE\"",
       "primary.xml: line 28: package 'hello': expected flags EQ, LT, LE, GT or GE, found "
       "'GTE'"},
  };
  for (const auto& [from, to, message] : cases) EXPECT_EQ(error_of(hello_with(from, to)), message);
}

TEST(Primary, RefusesWrongRootAndTruncation) {
  EXPECT_EQ(error_of(kRepomd),
            "primary.xml: line 2: expected the root element <metadata> in namespace "
            "'http://linux.duke.edu/metadata/common', found <repomd> in namespace "
            "'http://linux.duke.edu/metadata/repo'");
  EXPECT_EQ(error_of(kPrimary.substr(0, kPrimary.size() - 12)),
            "primary.xml: line 49: the document is incomplete: expected the end of <metadata>, "
            "found the end of the input");
  EXPECT_EQ(error_of(kPrimary.substr(0, 1000)),
            "primary.xml: line 24: the document is incomplete: expected the end of <rpm:provides>, "
            "found the end of the input");
  EXPECT_EQ(error_of(kPrimary + "<metadata/>"),
            "primary.xml: line 50: expected nothing but comments and processing instructions after "
            "the end of <metadata>, "
            "found more");
  EXPECT_EQ(error_of(hello_with("<summary>A hello &amp;", "<summary>A hello &nbsp;")),
            "primary.xml: line 8: expected well-formed XML, found: undefined entity");
}

const std::string kBillionLaughs = R"xml(<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="1">
<package type="rpm"><name>&lol9;</name></package>
</metadata>
)xml";

TEST(Primary, RefusesAnyDocumentTypeDeclaration) {
  for (auto pieces : {std::size_t{0}, std::size_t{1}}) {
    auto parsed = parse_primary(kBillionLaughs, [&] { return pieces; });
    ASSERT_FALSE(parsed.status);
    EXPECT_EQ(parsed.status.error().code, Code::invalid_input);
    EXPECT_EQ(parsed.status.error().message,
              "primary.xml: line 2: expected the root element <metadata>, found <!DOCTYPE lolz>: "
              "a document type declaration is not allowed");
  }
  // An external entity (XXE) and a bare DOCTYPE fare the same.
  EXPECT_EQ(error_of("<!DOCTYPE m [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
                     "<metadata xmlns=\"http://linux.duke.edu/metadata/common\">&x;</metadata>"),
            "primary.xml: line 1: expected the root element <metadata>, found <!DOCTYPE m>: a "
            "document type declaration is not allowed");
  EXPECT_EQ(repomd_error("<?xml version=\"1.0\"?>\n<!DOCTYPE repomd SYSTEM \"repomd.dtd\">\n"
                         "<repomd xmlns=\"http://linux.duke.edu/metadata/repo\"/>"),
            "repomd.xml: line 2: expected the root element <repomd>, found <!DOCTYPE repomd>: a "
            "document type declaration is not allowed");
}

TEST(Primary, LimitsEveryString) {
  const std::string big(64 * 1024 + 1, 'a');
  auto text = parse_whole(hello_with("<name>hello</name>", "<name>" + big + "</name>"));
  ASSERT_FALSE(text.status);
  EXPECT_EQ(text.status.error().code, Code::limit);
  EXPECT_EQ(text.status.error().message,
            "primary.xml: line 4: expected at most 65536 bytes of text in <name>, found more");
  auto attribute = parse_whole(hello_with("ver=\"1.0\"", "ver=\"" + big + "\""));
  ASSERT_FALSE(attribute.status);
  EXPECT_EQ(attribute.status.error().code, Code::limit);
  EXPECT_EQ(attribute.status.error().message,
            "primary.xml: line 6: expected an attribute value of at most 65536 bytes, found more "
            "in <version ver=...>");
  // Text nobody collects is not limited, but one tag or comment is.
  EXPECT_TRUE(parse_whole(hello_with("Hello.", std::string(200000, 'd'))).status);
  // Checked where the document's offset is a multiple of 64 KiB: the same
  // refusal however the document comes in pieces, in order or in parts.
  const std::string comment = "<!--" + std::string(1200000, 'c') + "-->";
  const std::string doc = hello_with("<url>", comment + "<url>");
  for (std::size_t threads : {1, 2}) {
    for (std::size_t piece : {0, 4096, 100000}) {
      auto token =
          parse_primary(doc, [&] { return piece; }, {.threads = threads, .part_bytes = 1000});
      ASSERT_FALSE(token.status);
      EXPECT_EQ(token.status.error().code, Code::limit);
      EXPECT_EQ(token.status.error().message,
                "primary.xml: line 11: expected a tag, text or comment of at most 1048576 bytes, "
                "found more");
    }
  }
  // A token that ends before the next such offset passes, whatever the pieces.
  const std::string shorter = "<!--" + std::string(1048576, 'c') + "-->";
  for (std::size_t piece : {0, 4096}) {
    EXPECT_TRUE(
        parse_primary(hello_with("<url>", shorter + "<url>"), [&] { return piece; }).status);
  }
}

TEST(Primary, LimitsCountsAndNesting) {
  std::string files;
  for (std::size_t i = 0; i <= kMaxFiles; ++i) files += "<file>/f</file>";
  auto many = parse_whole(hello_with("<file>/etc/hello.conf</file>", files));
  ASSERT_FALSE(many.status);
  EXPECT_EQ(many.status.error().code, Code::limit);
  EXPECT_EQ(many.status.error().message,
            "primary.xml: line 31: package 'hello': expected at most 65536 <file> entries, found "
            "more");
  auto packages = parse_whole(kPrimary, {.max_packages = 1});
  ASSERT_FALSE(packages.status);
  EXPECT_EQ(packages.status.error().code, Code::limit);
  EXPECT_EQ(packages.status.error().message,
            "primary.xml: line 35: expected at most 1 packages, found more");
  EXPECT_EQ(packages.packages.size(), 1u);
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "<d>";
  auto nested = parse_whole(hello_with("<url>", deep + "<url>"));
  ASSERT_FALSE(nested.status);
  EXPECT_EQ(nested.status.error().message,
            "primary.xml: line 11: expected at most 256 nested elements, found more at <d>");
}

TEST(Primary, CallbackErrorStopsAndSticks) {
  PrimaryParser parser(
      [](RpmPackage&& p) -> Status { return fail(Code::refused, "no " + p.name); });
  // The packages of a part reach the callback when feed() or finish() hands it over.
  auto s = parser.feed(kPrimary);
  if (s) s = parser.finish();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "no hello");
  EXPECT_EQ(parser.packages(), 1u);
  EXPECT_EQ(parser.feed("more").error().message, "no hello");
  EXPECT_EQ(parser.finish().error().message, "no hello");
}

// A primary of n packages, libfoo renamed libfoo<i>, with middle put
// inside package n / 2 before its <format>.
std::string many_packages(int n, std::string_view middle = "") {
  std::string doc = kHeader;
  for (int i = 0; i < n; ++i) {
    std::string p = kLibfooPackage;
    p.replace(p.find("<name>libfoo"), 12, "<name>libfoo" + std::to_string(i));
    if (i == n / 2) p.replace(p.find("<format>"), 8, std::string(middle) + "<format>");
    doc += p + "\n";
  }
  return doc + "</metadata>\n";
}

// Parsed in parts of part_bytes on two threads, in random pieces, doc
// reads as it does in order: the same packages and bytes, or the same error.
void expect_parts_read_as_in_order(const std::string& doc, PrimaryParser::Options options = {}) {
  options.keep_elements = true;
  options.threads = 1;
  const auto in_order = parse_whole(doc, options);
  std::mt19937 random(15);
  for (std::size_t part_bytes : {10, 100, 700, 5000}) {
    options.threads = 2;
    options.part_bytes = part_bytes;
    const auto parts = parse_primary(
        doc, [&] { return std::size_t{1} + random() % 300; }, options);
    SCOPED_TRACE("parts of " + std::to_string(part_bytes) + " bytes");
    ASSERT_EQ(parts.status.has_value(), in_order.status.has_value())
        << (parts.status ? in_order.status.error().message : parts.status.error().message);
    if (!in_order.status) {
      EXPECT_EQ(parts.status.error().message, in_order.status.error().message);
      EXPECT_EQ(parts.status.error().code, in_order.status.error().code);
    }
    EXPECT_EQ(parts.declared, in_order.declared);
    ASSERT_EQ(parts.packages.size(), in_order.packages.size());
    for (std::size_t i = 0; i < parts.packages.size(); ++i) {
      EXPECT_EQ(parts.packages[i].name, in_order.packages[i].name);
      EXPECT_EQ(parts.packages[i].element, in_order.packages[i].element);
    }
  }
}

TEST(Primary, PartsReadAsTheWholeDocument) {
  const auto plain = many_packages(40);
  auto parsed = parse_whole(plain, {.threads = 2, .part_bytes = 100});
  ASSERT_TRUE(parsed.status) << parsed.status.error().message;
  ASSERT_EQ(parsed.packages.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(parsed.packages[i].name, "libfoo" + std::to_string(i));
  expect_parts_read_as_in_order(plain);
  // A "</package>" that does not end a package: each cut there fails one part.
  for (std::string_view middle : {"<!-- </package> -->", "<![CDATA[ </package> ]]>",
                                  "<?pi </package> ?>", "<x><package></package></x>"}) {
    SCOPED_TRACE(std::string(middle));
    expect_parts_read_as_in_order(many_packages(40, middle));
    std::string between = plain;
    between.insert(between.find("<package", between.size() / 2), middle);
    expect_parts_read_as_in_order(between);
  }
  // Errors in a later part are the errors of the whole document.
  expect_parts_read_as_in_order(many_packages(40, "<version ver=\"1\" rel=\"2\"/>"));
  expect_parts_read_as_in_order(many_packages(40, "<x>"));
  expect_parts_read_as_in_order(many_packages(40, "&nbsp;"));
  expect_parts_read_as_in_order(plain.substr(0, plain.size() - 30));
  expect_parts_read_as_in_order(plain.substr(0, plain.size() - 12));
  expect_parts_read_as_in_order(plain + "<junk/>");
  expect_parts_read_as_in_order(plain, {.max_packages = 25});
  // Documents whose parts are not found by bytes are read in order.
  std::string latin1 = many_packages(40, "<description>caf\xe9</description>");
  latin1.replace(latin1.find("UTF-8"), 5, "ISO-8859-1");
  expect_parts_read_as_in_order(latin1);
  expect_parts_read_as_in_order(kBillionLaughs);
  std::string prefixed = plain;
  prefixed.replace(prefixed.find("<metadata xmlns="), 16, "<c:metadata xmlns:c=");
  prefixed.replace(prefixed.find("</metadata>"), 11, "</c:metadata>");
  expect_parts_read_as_in_order(prefixed);
}

TEST(Primary, FinishEndsTheDocumentReadEitherWay) {
  for (std::size_t threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    std::size_t seen = 0;
    PrimaryParser parser(
        [&](RpmPackage&&) {
          ++seen;
          return Status{};
        },
        {.threads = threads, .part_bytes = 100});
    const std::string doc = many_packages(10);
    ASSERT_TRUE(parser.feed(doc.substr(0, doc.size() / 2)));
    EXPECT_EQ(parser.declared_packages(), 2u);  // the header says 2: as soon as it is read
    ASSERT_TRUE(parser.feed(doc.substr(doc.size() / 2)));
    ASSERT_TRUE(parser.finish());
    EXPECT_TRUE(parser.finish());  // again: nothing more
    EXPECT_EQ(seen, 10u);
    auto more = parser.feed(kLibfooPackage);
    ASSERT_FALSE(more);
    EXPECT_EQ(more.error().message, "primary.xml: expected nothing after the end, found more");
    EXPECT_EQ(parser.finish().error().message, more.error().message);
    EXPECT_EQ(seen, 10u);
    EXPECT_EQ(parser.packages(), 10u);
  }
}

TEST(Primary, PartsAreParsedAheadAndHandedOverOnTheCallersThread) {
  const auto caller = std::this_thread::get_id();
  for (std::size_t threads : {1, 2}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    std::vector<std::string> names;
    bool other_thread = false;
    PrimaryParser parser(
        [&](RpmPackage&& p) {
          other_thread = other_thread || std::this_thread::get_id() != caller;
          names.push_back(p.name);
          return Status{};
        },
        {.threads = threads, .part_bytes = 100});
    ASSERT_TRUE(parser.feed(many_packages(40)));
    // In order, every package is read as it is fed; in parts, the last ones
    // wait in parts not yet handed over until finish().
    if (threads == 1) {
      EXPECT_EQ(names.size(), 40u);
    } else {
      EXPECT_LT(names.size(), 40u);
    }
    ASSERT_TRUE(parser.finish());
    ASSERT_EQ(names.size(), 40u);
    for (std::size_t i = 0; i < 40; ++i) EXPECT_EQ(names[i], "libfoo" + std::to_string(i));
    EXPECT_FALSE(other_thread);
  }
}

TEST(Primary, PartsStopAtTheCallbacksError) {
  for (std::size_t threads : {1, 2}) {
    int seen = 0;
    PrimaryParser parser(
        [&](RpmPackage&& p) -> Status {
          if (++seen == 17) return fail(Code::refused, "no " + p.name);
          return {};
        },
        {.threads = threads, .part_bytes = 100});
    auto s = parser.feed(many_packages(40));
    if (s) s = parser.finish();
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message, "no libfoo16");
    EXPECT_EQ(seen, 17);
    EXPECT_EQ(parser.packages(), 17u);
  }
}

// ---------------------------------------------------------------- versions

TEST(RpmVersion, OrdersAsRpmvercmp) {
  struct Case {
    const char* a;
    const char* b;
    int expected;
  };
  // From rpm's own tests (tests/rpmvercmp.at).
  const Case cases[] = {
      {"1.0", "1.0", 0},
      {"1.0", "2.0", -1},
      {"2.0", "1.0", 1},
      {"2.0.1", "2.0.1", 0},
      {"2.0", "2.0.1", -1},
      {"1.0", "1.0.1", -1},
      {"2.0.1a", "2.0.1", 1},
      {"5.5p1", "5.5p2", -1},
      {"5.5p10", "5.5p1", 1},
      {"10xyz", "10.1xyz", -1},
      {"xyz10", "xyz10.1", -1},
      {"xyz.4", "8", -1},
      {"8", "xyz.4", 1},
      {"5.5p1", "5.5p1", 0},
      {"5.6p1", "5.5p1", 1},
      {"10a2", "10b2", -1},
      {"1.0aa", "1.0a", 1},
      {"10.0001", "10.1", 0},
      {"10.0039", "10.39", 0},
      {"4.999.9", "5.0", -1},
      {"20101121", "20101122", -1},
      {"2_0", "2_0", 0},
      {"2.0", "2_0", 0},
      {"a", "a", 0},
      {"a+", "a_", 0},
      {"+", "_", 0},
      {"1.0~rc1", "1.0~rc1", 0},
      {"1.0~rc1", "1.0", -1},
      {"1.0", "1.0~rc1", 1},
      {"1.0~rc1", "1.0~rc2", -1},
      {"1.0~rc1~git123", "1.0~rc1", -1},
      {"1.0^", "1.0", 1},
      {"1.0^git1", "1.0", 1},
      {"1.0^git1", "1.01", -1},
      {"1.0^git1", "1.0^git2", -1},
      {"1.0^git1", "1.0.1", -1},
      {"1.0^git1", "1.0~rc1", 1},
      {"1.0^git1~pre", "1.0^git1", -1},
      {"1.0^git1^1", "1.0^git1", 1},
      {"2a", "2.0", -1},
      {"2.0", "2a", 1},
      {"1.01", "1.1", 0},
      {"6.0.rc1", "6.0", 1},
      {"1.0~rc1^git1", "1.0~rc1", 1},
      {"1.0a", "1.0.a", 0},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(compare_versions(c.a, c.b), c.expected) << c.a << " vs " << c.b;
  }
}

TEST(RpmVersion, EvrComparesEpochFirst) {
  EXPECT_GT(compare_evr("1", "1.0", "1", "0", "9.9", "9"), 0);
  EXPECT_EQ(compare_evr("", "1.0", "1", "0", "1.0", "1"), 0);
  EXPECT_LT(compare_evr("0", "1.0", "1.el9", "0", "1.0", "2.el9"), 0);
  EXPECT_LT(compare_evr("0", "1.0", "9", "0", "1.0.1", "1"), 0);
}

TEST(RpmVersion, EvrTextSplitsEpochAndRelease) {
  EXPECT_GT(compare_evr("1:1.0-1", "9.9-9"), 0);
  EXPECT_EQ(compare_evr("0:1.0-1", "1.0-1"), 0);
  EXPECT_LT(compare_evr("1.0-1.el9", "1.0-2.el9"), 0);
  EXPECT_LT(compare_evr("1.0^git1-1", "1.0.1-1"), 0);  // dpkg orders these the other way
  EXPECT_EQ(compare_evr("1.0-a-b", "1.0-a-b"), 0);
  EXPECT_LT(compare_evr("1.0-a-1", "1.0-a-2"), 0);  // the release follows the last '-'
}

TEST(PackageDiff, EachKindInItsOwnOrder) {
  using apt::PackageChange;
  using apt::VersionOrder;
  auto diff = [](std::string before, std::string after, VersionOrder order) {
    auto changes = apt::diff_packages({{"p", "x86_64", before}}, {{"p", "x86_64", after}}, order);
    return changes.size() == 1 ? std::string(apt::change_name(changes[0].kind)) : "none";
  };
  // rpm's caret sorts before a further segment; dpkg's does not.
  EXPECT_EQ(diff("1.0^git1-1", "1.0.1-1", VersionOrder::rpm), "upgraded");
  EXPECT_EQ(diff("1.0^git1-1", "1.0.1-1", VersionOrder::debian), "downgraded");
  EXPECT_EQ(diff("2:1.0-1", "1:9.0-1", VersionOrder::rpm), "downgraded");
  // rpm reads separators as equal: the same version, no change.
  EXPECT_EQ(diff("1.0_1-1", "1.0.1-1", VersionOrder::rpm), "none");
  // A file set's version names the content: any other content is the update.
  EXPECT_EQ(diff("ffffffffffffffff", "0000000000000000", VersionOrder::content), "upgraded");
  EXPECT_EQ(diff("0000000000000000", "0000000000000000", VersionOrder::content), "none");
  EXPECT_EQ(apt::version_order("rpm"), VersionOrder::rpm);
  EXPECT_EQ(apt::version_order("files"), VersionOrder::content);
  EXPECT_EQ(apt::version_order("apt"), VersionOrder::debian);
}

}  // namespace
}  // namespace airlock::rpm
