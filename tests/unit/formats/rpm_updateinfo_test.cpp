// updateinfo.xml: advisories as RHEL and Fedora publish them, streamed.
#include <gtest/gtest.h>

#include "airlock/formats/rpm.h"

namespace airlock::rpm {
namespace {

const std::string kUpdateinfo = R"xml(<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="secalert@redhat.com" status="final" type="security" version="4">
    <id>RHSA-2024:1234</id>
    <title>Important: openssl security update</title>
    <issued date="2024-03-01 00:00:00"/>
    <updated date="2024-03-02 00:00:00"/>
    <rights>Copyright 2024 Red Hat Inc</rights>
    <release>Red Hat Enterprise Linux 9</release>
    <pushcount>1</pushcount>
    <severity>Important</severity>
    <summary>An update for openssl is now available.</summary>
    <description>OpenSSL &lt;3.0.7-27&gt; fixes two flaws.</description>
    <references>
      <reference href="https://access.redhat.com/errata/RHSA-2024:1234" type="self" title="RHSA-2024:1234"/>
      <reference href="https://access.redhat.com/security/cve/CVE-2024-1234" id="CVE-2024-1234" type="cve" title="CVE-2024-1234"/>
      <reference href="https://bugzilla.redhat.com/2250000" id="2250000" type="bugzilla" title="bug"/>
    </references>
    <pkglist>
      <collection short="rhel-9-baseos">
        <name>rhel-9-baseos</name>
        <module name="m" stream="1" version="1" context="c" arch="x86_64"/>
        <package name="openssl" version="3.0.7" release="27.el9" epoch="1" arch="x86_64" src="openssl-3.0.7-27.el9.src.rpm">
          <filename>openssl-3.0.7-27.el9.x86_64.rpm</filename>
          <sum type="sha256">0000000000000000000000000000000000000000000000000000000000000000</sum>
          <reboot_suggested>True</reboot_suggested>
        </package>
        <package name="openssl-libs" version="3.0.7" release="27.el9" arch="i686">
          <filename>openssl-libs-3.0.7-27.el9.i686.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
  <update from="updates@fedoraproject.org" status="stable" type="bugfix" version="2.0">
    <id>FEDORA-2024-abc</id>
    <title>hello-1.1-1.fc40</title>
    <issued date="2024-04-01 12:00:00"/>
    <pkglist><collection short="F40"><package name="hello" version="1.1" release="1.fc40" epoch="0" arch="noarch"/></collection></pkglist>
  </update>
</updates>
)xml";

struct Parsed {
  Status status;
  std::vector<Advisory> advisories;
};

Parsed parse(std::string_view doc, std::size_t piece, UpdateinfoParser::Options options = {}) {
  Parsed out;
  UpdateinfoParser parser(
      [&](Advisory&& a) {
        out.advisories.push_back(std::move(a));
        return Status{};
      },
      options);
  while (!doc.empty() && out.status) {
    const std::size_t n = piece == 0 ? doc.size() : std::min(piece, doc.size());
    out.status = parser.feed(doc.substr(0, n));
    doc.remove_prefix(n);
  }
  if (out.status) out.status = parser.finish();
  EXPECT_EQ(parser.advisories(), out.advisories.size());
  return out;
}

std::string error_of(std::string_view doc) {
  auto parsed = parse(doc, 0);
  EXPECT_FALSE(parsed.status);
  return parsed.status ? "" : parsed.status.error().message;
}

std::string with(std::string_view from, std::string_view to) {
  std::string doc = kUpdateinfo;
  auto at = doc.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return doc.replace(at, from.size(), to);
}

TEST(Updateinfo, ReadsAdvisoriesInAnyPieces) {
  for (std::size_t piece : {0, 1, 7, 100}) {
    auto parsed = parse(kUpdateinfo, piece);
    ASSERT_TRUE(parsed.status) << parsed.status.error().message;
    ASSERT_EQ(parsed.advisories.size(), 2u);
    const Advisory& a = parsed.advisories[0];
    EXPECT_EQ(a.id, "RHSA-2024:1234");
    EXPECT_EQ(a.type, "security");
    EXPECT_EQ(a.severity, "Important");
    EXPECT_EQ(a.title, "Important: openssl security update");
    EXPECT_EQ(a.issued, "2024-03-01 00:00:00");
    EXPECT_EQ(a.references, (std::vector<std::string>{"CVE-2024-1234", "2250000"}));
    ASSERT_EQ(a.packages.size(), 2u);
    EXPECT_EQ(a.packages[0].name, "openssl");
    EXPECT_EQ(a.packages[0].epoch, "1");
    EXPECT_EQ(a.packages[0].version, "3.0.7");
    EXPECT_EQ(a.packages[0].release, "27.el9");
    EXPECT_EQ(a.packages[0].arch, "x86_64");
    EXPECT_EQ(a.packages[0].filename, "openssl-3.0.7-27.el9.x86_64.rpm");
    EXPECT_EQ(a.packages[1].epoch, "0");
    EXPECT_EQ(a.packages[1].arch, "i686");
    const Advisory& b = parsed.advisories[1];
    EXPECT_EQ(b.id, "FEDORA-2024-abc");
    EXPECT_EQ(b.type, "bugfix");
    EXPECT_EQ(b.severity, "");
    EXPECT_TRUE(b.references.empty());
    ASSERT_EQ(b.packages.size(), 1u);
    EXPECT_EQ(b.packages[0].filename, "");
  }
}

TEST(Updateinfo, EmptyUpdatesIsNoAdvisory) {
  auto parsed = parse("<updates/>", 0);
  ASSERT_TRUE(parsed.status);
  EXPECT_TRUE(parsed.advisories.empty());
}

TEST(Updateinfo, RefusesWhatCannotBeListed) {
  EXPECT_EQ(error_of(with("<id>RHSA-2024:1234</id>", "")),
            "updateinfo.xml: line 33: an update: expected <id>, found none");
  EXPECT_EQ(error_of(with("<id>RHSA-2024:1234</id>", "<id>A</id><id>B</id>")),
            "updateinfo.xml: line 4: update 'A': expected one <id>, found a second");
  EXPECT_EQ(error_of(with(" release=\"27.el9\" epoch", " epoch")),
            "updateinfo.xml: line 23: update 'RHSA-2024:1234': expected <package name=\"...\" "
            "version=\"...\" release=\"...\">, found no release");
  EXPECT_EQ(error_of(with("<updates>", "<updates xmlns=\"http://example.com/u\">")),
            "updateinfo.xml: line 2: expected the root element <updates> in no namespace, found "
            "<updates> in namespace 'http://example.com/u'");
  EXPECT_EQ(error_of(kUpdateinfo.substr(0, 300)),
            "updateinfo.xml: line 8: the document is incomplete: expected the end of <update>, "
            "found the end of the input");
  EXPECT_EQ(error_of("<?xml version=\"1.0\"?>\n<!DOCTYPE updates [<!ENTITY e \"x\">]>\n<updates/>"),
            "updateinfo.xml: line 2: expected the root element <updates>, found <!DOCTYPE "
            "updates>: a document type declaration is not allowed");
}

TEST(Updateinfo, LimitsAdvisoriesAndText) {
  auto parsed = parse(kUpdateinfo, 0, {.max_advisories = 1});
  ASSERT_FALSE(parsed.status);
  EXPECT_EQ(parsed.status.error().code, Code::limit);
  EXPECT_EQ(parsed.status.error().message,
            "updateinfo.xml: line 34: expected at most 1 updates, found more");
  auto title = parse(with("hello-1.1-1.fc40<", std::string(70000, 't') + "<"), 0);
  ASSERT_FALSE(title.status);
  EXPECT_EQ(title.status.error().code, Code::limit);
  EXPECT_EQ(title.status.error().message,
            "updateinfo.xml: line 36: expected at most 65536 bytes of text in <title>, found more");
}

}  // namespace
}  // namespace airlock::rpm
