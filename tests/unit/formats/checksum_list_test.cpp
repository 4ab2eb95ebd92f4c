// SHA256SUMS as GNU sha256sum writes it, and every line it refuses.
#include "airlock/formats/checksum_list.h"

#include <gtest/gtest.h>

namespace airlock::formats {
namespace {

const std::string kA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kB = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";

std::string error_of(std::string_view text) {
  auto r = parse_sha256sums(text);
  if (r) {
    ADD_FAILURE() << "accepted";
    return "";
  }
  EXPECT_EQ(r.error().code, Code::invalid_input);
  return r.error().message;
}

TEST(Sha256Sums, ReadsTextAndBinaryLinesInOrder) {
  auto r = parse_sha256sums(kA + "  firmware/a.bin\n" + kB + " *ISO/disk 1.iso\n");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].path, "firmware/a.bin");
  EXPECT_EQ((*r)[0].sha256.hex(), kA);
  EXPECT_EQ((*r)[1].path, "ISO/disk 1.iso");
  EXPECT_EQ((*r)[1].sha256.hex(),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
}

TEST(Sha256Sums, LastLineMayLackItsNewlineAndEmptyIsEmpty) {
  auto r = parse_sha256sums(kA + "  a\n" + kA + "  b");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 2u);
  EXPECT_EQ(r->back().path, "b");
  EXPECT_TRUE(parse_sha256sums("").value().empty());
}

TEST(Sha256Sums, PathsAreKeptAsWrittenForTheCallerToCheck) {
  auto r = parse_sha256sums(kA + "  ../etc/passwd\n" + kA + "  /abs\n" + kA + "   lead\n");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].path, "../etc/passwd");
  EXPECT_EQ((*r)[1].path, "/abs");
  EXPECT_EQ((*r)[2].path, " lead");
}

TEST(Sha256Sums, RefusesEveryOtherShape) {
  EXPECT_EQ(error_of(kA + "  a\r\n"),
            "SHA256SUMS: line 1: expected lines ending in LF alone, found a carriage return");
  EXPECT_EQ(error_of(kA + "  a\n\n" + kA + "  b\n"),
            "SHA256SUMS: line 2: expected '<sha256>  <path>', found a blank line");
  EXPECT_EQ(error_of("\\" + kA + "  a\\nb\n"),
            "SHA256SUMS: line 1: expected a plain line, found a backslash-escaped one (a path "
            "with a newline or a backslash)");
  EXPECT_EQ(error_of(kA + "  a\n" + kA + " *a\n"),
            "SHA256SUMS: line 2: expected each path once, found 'a' again (first on line 1)");
  EXPECT_EQ(error_of(kA + "  a" + std::string(1, '\0') + "b\n"),
            "SHA256SUMS: line 1: expected a path without NUL, found one");
  EXPECT_EQ(error_of(kA + "  \n"),
            "SHA256SUMS: line 1: expected '<sha256>  <path>', found '" + kA + "  '");
  EXPECT_EQ(error_of(kA + "\ta\n"),
            "SHA256SUMS: line 1: expected '<sha256>  <path>', found '" + kA + "\\x09a'");
  EXPECT_EQ(error_of("SHA256 (abcdef) = " + kA + "\n"),
            "SHA256SUMS: line 1: expected '<sha256>  <path>', found 'SHA256 (abcdef) = " +
                kA.substr(0, 62) + "...'");
  EXPECT_EQ(error_of("g" + kA.substr(1) + "  a\n"),
            "SHA256SUMS: line 1: expected 64 hex digits, found 'g" + kA.substr(1) + "'");
}

}  // namespace
}  // namespace airlock::formats
