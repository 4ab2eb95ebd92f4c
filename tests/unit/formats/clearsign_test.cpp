// Splitting an OpenPGP cleartext signed message (an InRelease) into its text
// and its signature, and refusing anything that is not exactly one message.
#include "airlock/formats/clearsign.h"

#include <gtest/gtest.h>

#include "airlock/formats/release.h"

namespace airlock::formats {
namespace {

const std::string kSignature =
    "-----BEGIN PGP SIGNATURE-----\n"
    "\n"
    "iHUEARYKAB0WIQQrjqRjPr0dCt6Z0tYmC0Ld6C8gVQUCZxyz0wAKCRAmC0Ld6C8g\n"
    "VRrgAP9yJ1Vh1tJmO1Cq3V1nb3D0tQ5W+ZpGQd8uPLxk7O0o0wEAr8T2w7YlYp0C\n"
    "=s1Xg\n"
    "-----END PGP SIGNATURE-----\n";

// What a signer writes for text: every line that starts with '-' escaped.
std::string clearsign(const std::string& text, const std::string& headers = "Hash: SHA512\n") {
  std::string out = "-----BEGIN PGP SIGNED MESSAGE-----\n" + headers + "\n";
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    auto line = text.substr(pos, nl - pos);
    out += (line.starts_with('-') ? "- " : "") + line + "\n";
    pos = nl + 1;
  }
  return out + kSignature;
}

std::string refusal(const std::string& bytes) {
  auto m = split_clearsigned(bytes);
  EXPECT_FALSE(m) << bytes;
  if (m) return {};
  EXPECT_EQ(m.error().code, Code::refused);
  return m.error().message;
}

const std::string kText =
    "Origin: Debian\n- a line that was escaped\n-----BEGIN PGP SIGNATURE----- (text)\nLast: x";

TEST(Clearsign, GoodMessageRoundTripsItsText) {
  auto bytes = clearsign(kText);
  EXPECT_NE(bytes.find("\n- - a line that was escaped\n"), std::string::npos);
  auto m = split_clearsigned(bytes);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->text, kText);
  EXPECT_EQ(m->hashes, (std::vector<std::string>{"SHA512"}));
  EXPECT_EQ(m->signature, kSignature);
}

TEST(Clearsign, TextEndingInALineBreakKeepsIt) {
  auto m = split_clearsigned(clearsign("A: 1\n"));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->text, "A: 1\n");
}

TEST(Clearsign, AnyLineMayBeDashEscaped) {
  auto bytes = clearsign("A: 1\nB: 2");
  bytes.replace(bytes.find("B: 2"), 4, "- B: 2");
  auto m = split_clearsigned(bytes);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->text, "A: 1\nB: 2");
}

TEST(Clearsign, AcceptsCrlfNoFinalBreakAndSeveralHashHeaders) {
  std::string bytes = clearsign("A: 1\nB: 2", "Hash: SHA256\nHash: SHA512\n");
  std::string crlf;
  for (char c : bytes) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  crlf.resize(crlf.size() - 2);  // no line break after the END line
  auto m = split_clearsigned(crlf);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->text, "A: 1\nB: 2");
  EXPECT_EQ(m->hashes, (std::vector<std::string>{"SHA256", "SHA512"}));
  EXPECT_EQ(m->signature, kSignature);
}

TEST(Clearsign, SignedTextOfAnInReleaseParsesAsItsRelease) {
  const std::string sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  auto m = split_clearsigned(
      clearsign("Suite: bookworm\nSHA256:\n " + sha + " 0 main/binary-amd64/Packages\n"));
  ASSERT_TRUE(m) << m.error().message;
  auto r = apt::parse_release(m->text);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->fields.at("Suite"), "bookworm");
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files[0].path, "main/binary-amd64/Packages");
}

TEST(Clearsign, RefusesBytesBeforeTheHeader) {
  EXPECT_EQ(refusal("junk\n\n" + clearsign(kText)),
            "line 1: bytes before '-----BEGIN PGP SIGNED MESSAGE-----' (found on line 3)");
  EXPECT_EQ(refusal(" " + clearsign(kText)),
            "line 1: not a clearsigned message: no '-----BEGIN PGP SIGNED MESSAGE-----' line");
  EXPECT_EQ(refusal("Origin: Debian\nSHA256:\n"),
            "line 1: not a clearsigned message: no '-----BEGIN PGP SIGNED MESSAGE-----' line");
  EXPECT_EQ(refusal(""),
            "line 1: not a clearsigned message: no '-----BEGIN PGP SIGNED MESSAGE-----' line");
}

TEST(Clearsign, RefusesBytesAfterTheSignature) {
  // The message is 13 lines: header, Hash, blank, 4 of text, 6 of signature.
  EXPECT_EQ(refusal(clearsign(kText) + "x"), "line 14: bytes after '-----END PGP SIGNATURE-----'");
  EXPECT_EQ(refusal(clearsign(kText) + "\n"), "line 14: bytes after '-----END PGP SIGNATURE-----'");
  EXPECT_EQ(refusal(clearsign(kText) + kSignature),
            "line 14: bytes after '-----END PGP SIGNATURE-----'");
}

TEST(Clearsign, RefusesTwoMessages) {
  EXPECT_EQ(
      refusal(clearsign(kText) + clearsign("Other: text")),
      "line 14: a second signed message after '-----END PGP SIGNATURE-----' (only one is allowed)");
}

TEST(Clearsign, RefusesAMissingSignature) {
  auto bytes = clearsign(kText);
  auto unsigned_part = bytes.substr(0, bytes.find(kSignature));
  EXPECT_EQ(refusal(unsigned_part),
            "after line 7: the input ends without '-----BEGIN PGP SIGNATURE-----'");
  EXPECT_EQ(refusal("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n"),
            "after line 2: the input ends without '-----BEGIN PGP SIGNATURE-----'");
  EXPECT_EQ(refusal(unsigned_part +
                    "-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQQrjqRjPr0dCt6Z0tYm\n"),
            "after line 10: the input ends without '-----END PGP SIGNATURE-----'");
  EXPECT_EQ(
      refusal(unsigned_part + "-----BEGIN PGP SIGNATURE-----\n\n-----END PGP SIGNATURE-----\n"),
      "line 10: the signature is empty");
}

TEST(Clearsign, RefusesMalformedParts) {
  EXPECT_EQ(refusal(clearsign(kText, "Comment: hello\n")),
            "line 2: expected a 'Hash: ' armor header or a blank line");
  EXPECT_EQ(refusal(clearsign(kText, "Hash: \n")),
            "line 2: expected a 'Hash: ' armor header or a blank line");
  auto bytes = clearsign(kText);
  auto raw_dash = bytes;
  raw_dash.replace(raw_dash.find("- - a line"), 4, "-- a");
  EXPECT_EQ(refusal(raw_dash), "line 5: a text line starting with '-' is not dash-escaped ('- ')");
  auto bad_base64 = bytes;
  bad_base64.replace(bad_base64.find("=s1Xg"), 5, "=s1X*");
  EXPECT_EQ(refusal(bad_base64), "line 12: expected base64 or '-----END PGP SIGNATURE-----'");
  auto no_blank = bytes;
  no_blank.erase(no_blank.find("-----BEGIN PGP SIGNATURE-----\n") + 30, 1);
  EXPECT_EQ(refusal(no_blank), "line 9: expected an armor header or a blank line in the signature");
}

}  // namespace
}  // namespace airlock::formats
