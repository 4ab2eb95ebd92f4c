// deb822 paragraphs, Packages indices and dpkg's version order.
#include "airlock/formats/deb822.h"

#include <gtest/gtest.h>

#include "airlock/formats/packages.h"
#include "airlock/formats/version.h"

namespace airlock::apt {
namespace {

const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::vector<Paragraph> paragraphs(std::string_view text, Status* status = nullptr) {
  std::vector<Paragraph> out;
  auto s = for_each_paragraph(text, [&](const Paragraph& p) -> Status {
    out.push_back(p);
    return {};
  });
  if (status) *status = s;
  return out;
}

TEST(Paragraphs, FieldsContinuationsCommentsAndCrlf) {
  Status s;
  auto ps = paragraphs("# a comment\nA: 1\nB:  two \n more\n\tthird\n\n\n\r\nC: 3\r\n", &s);
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0], (Paragraph{{"A", "1"}, {"B", "two\nmore\nthird"}}));
  EXPECT_EQ(ps[1], (Paragraph{{"C", "3"}}));
}

TEST(Paragraphs, StopsAtTheCallbacksFirstError) {
  int calls = 0;
  auto s = for_each_paragraph("A: 1\n\nB: 2\n\nC: 3\n", [&](const Paragraph&) -> Status {
    if (++calls == 2) return fail(Code::refused, "second");
    return {};
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "second");
  EXPECT_EQ(calls, 2);
}

TEST(Paragraphs, RefusesLinesThatAreNotFields) {
  Status s;
  paragraphs("A: 1\nno colon here\n", &s);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::invalid_input);
  EXPECT_EQ(s.error().message, "line 2: expected 'Field: value'");
  paragraphs("A: 1\n: empty name\n", &s);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "line 2: expected 'Field: value'");
  paragraphs("\n continued\n", &s);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "line 2: continuation without a field");
}

// The paragraphs (or the error) of text fed to a ParagraphStream in pieces
// of the given size.
std::vector<Paragraph> streamed(std::string_view text, std::size_t piece, Status* status) {
  std::vector<Paragraph> out;
  ParagraphStream stream([&](const Paragraph& p) -> Status {
    out.push_back(p);
    return {};
  });
  *status = {};
  for (std::size_t at = 0; at < text.size() && *status; at += piece)
    *status = stream.feed(text.substr(at, piece));
  if (*status) *status = stream.finish();
  return out;
}

TEST(Paragraphs, AStreamInAnyPiecesParsesAsTheWholeText) {
  const std::vector<std::string> texts = {
      "# a comment\nA: 1\nB:  two \n more\n\tthird\n\n\n\r\nC: 3\r\n",
      "A: 1\r\n\r\nB: 2\r\n\r\nC: 3",
      "A: 1\n\nB: 2\n\n\n\nC: 3\n\n",
      "A: 1\n\nB: 2\nno colon here\n\nC: 3\n",
      "A: 1\n\n\n\n continued\n",
      ""};
  for (const auto& text : texts) {
    Status whole;
    auto expected = paragraphs(text, &whole);
    for (std::size_t piece = 1; piece <= text.size() + 1; ++piece) {
      Status s;
      auto got = streamed(text, piece, &s);
      EXPECT_EQ(static_cast<bool>(s), static_cast<bool>(whole)) << text << " in " << piece;
      if (!whole) {
        ASSERT_FALSE(s);
        EXPECT_EQ(s.error().message, whole.error().message) << text << " in " << piece;
        continue;
      }
      EXPECT_EQ(got, expected) << text << " in pieces of " << piece;
    }
  }
}

TEST(Paragraphs, AStreamHoldsOnlyTheTextSinceTheLastBlankLine) {
  std::size_t seen = 0;
  ParagraphStream stream([&](const Paragraph&) -> Status {
    ++seen;
    return {};
  });
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(stream.feed("Package: p\nVersion: 1\n\n"));
  // Each paragraph was given as soon as its blank line arrived.
  EXPECT_EQ(seen, 1000u);
  ASSERT_TRUE(stream.feed("Package: last"));
  EXPECT_EQ(seen, 1000u);
  ASSERT_TRUE(stream.finish());
  EXPECT_EQ(seen, 1001u);
}

TEST(Paragraphs, AStreamStopsAtTheCallbacksFirstErrorAndKeepsIt) {
  ParagraphStream stream([](const Paragraph&) -> Status { return fail(Code::refused, "no"); });
  auto s = stream.feed("A: 1\n\n");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "no");
  auto again = stream.feed("B: 2\n\n");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "no");
  EXPECT_FALSE(stream.finish());
}

TEST(Packages, ParsesRecordsInOrder) {
  const std::string hello =
      "Package: hello\nVersion: 1.0-1\nArchitecture: amd64\n"
      "Filename: pool/main/h/hello/hello_1.0-1_amd64.deb\nSize: 1234\n"
      "SHA256: " +
      kEmptySha256 + "\nDescription: hi\n more text\n";
  const std::string world =
      "Package: world\nVersion: 2\nFilename: pool/w.deb\nSize: 1\nSHA256: " + kEmptySha256 + "\n";
  auto p = parse_packages(hello + "\n" + world);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].package, "hello");
  EXPECT_EQ((*p)[0].version, "1.0-1");
  EXPECT_EQ((*p)[0].architecture, "amd64");
  EXPECT_EQ((*p)[0].filename, "pool/main/h/hello/hello_1.0-1_amd64.deb");
  EXPECT_EQ((*p)[0].size, 1234u);
  EXPECT_EQ((*p)[0].sha256.hex(), kEmptySha256);
  EXPECT_EQ((*p)[1].package, "world");
  EXPECT_EQ((*p)[1].architecture, "");
}

TEST(Packages, RefusesRecordsThatCannotBeChecked) {
  auto refusal = [](const std::string& text) {
    auto p = parse_packages(text);
    EXPECT_FALSE(p) << text;
    if (p) return std::string();
    EXPECT_EQ(p.error().code, Code::invalid_input);
    return p.error().message;
  };
  EXPECT_EQ(refusal("Package: x\nVersion: 1\nFilename: pool/x.deb\n"),
            "Packages: x lacks Filename, Size or SHA256");
  EXPECT_EQ(refusal("Version: 1\nFilename: pool/x.deb\nSize: 1\nSHA256: " + kEmptySha256 + "\n"),
            "Packages: a record has no Package field");
  EXPECT_EQ(refusal("Package: x\nFilename: pool/x.deb\nSize: ten\nSHA256: " + kEmptySha256 + "\n"),
            "Packages: x: Size 'ten' is not a number");
  EXPECT_EQ(refusal("Package: x\nFilename: pool/x.deb\nSize: -1\nSHA256: " + kEmptySha256 + "\n"),
            "Packages: x: Size '-1' is not a number");
  EXPECT_EQ(
      refusal("Package: x\nFilename: pool/x.deb\nSize: 1\nSHA256: " + std::string(64, 'G') + "\n"),
      "Packages: x: digest must be 64 lowercase hex digits, got '" + std::string(64, 'G') + "'");
  EXPECT_EQ(refusal("Package: x\n\x01\x02 binary junk\n"), "line 2: expected 'Field: value'");
}

TEST(Versions, DpkgOrdering) {
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
  EXPECT_GT(compare_versions("1.0-1", "1.0-1~bpo1"), 0);
  EXPECT_LT(compare_versions("1.0a", "1.0+"), 0);  // letters before non-letters
}

}  // namespace
}  // namespace airlock::apt
