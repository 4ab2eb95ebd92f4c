#include "airlock/verify/digest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "airlock/base/file.h"
#include "test_support.h"

namespace airlock {
namespace {

using testing::TempDir;

// FIPS 180-2 / NIST CAVS short and long message vectors.
TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(sha256(std::string_view("")).hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256(std::string_view("abc")).hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      sha256(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex(),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256(std::string_view("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"))
                .hex(),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256, MillionAsStreamedInUnevenChunks) {
  Hasher h;
  std::string chunk(997, 'a');
  std::size_t left = 1'000'000;
  while (left > 0) {
    std::size_t n = std::min(left, chunk.size());
    h.update(std::string_view(chunk).substr(0, n));
    left -= n;
  }
  EXPECT_EQ(h.finish().hex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Digest, ParseAcceptsOnlyLowercaseHexOfLength64) {
  const std::string good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  auto d = Digest::parse(good);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->hex(), good);
  std::string upper = good;
  upper[0] = 'B';
  EXPECT_EQ(Digest::parse(upper).error().code, Code::invalid_input);
  EXPECT_FALSE(Digest::parse(good.substr(1)));
  EXPECT_FALSE(Digest::parse(good + "0"));
  EXPECT_FALSE(Digest::parse(""));
  std::string with_g = good;
  with_g[10] = 'g';
  EXPECT_FALSE(Digest::parse(with_g));
  std::string with_nul = good;
  with_nul[5] = '\0';
  EXPECT_FALSE(Digest::parse(with_nul));
}

TEST(Digest, FromRawChecksLength) {
  std::uint8_t raw[33] = {};
  EXPECT_FALSE(Digest::from_raw(std::span(raw, 31)));
  EXPECT_FALSE(Digest::from_raw(std::span(raw, 33)));
  EXPECT_TRUE(Digest::from_raw(std::span(raw, 32)));
}

TEST(HashFile, MatchesInMemoryHashAndReportsMissingFile) {
  TempDir dir;
  auto data = testing::random_bytes(3 * (1 << 20) + 17, 7);  // spans several read chunks
  testing::write_text(dir / "f", data);
  auto h = hash_file(dir / "f");
  ASSERT_TRUE(h);
  EXPECT_EQ(*h, sha256(data));
  auto missing = hash_file(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::not_found);
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
}

TEST(HashingWriter, WritesHashesAndCounts) {
  TempDir dir;
  auto fd = open_file(dir / "out", O_WRONLY | O_CREAT, 0644);
  ASSERT_TRUE(fd);
  HashingWriter w(fd->get());
  std::string a = "hello ", b = "world";
  ASSERT_TRUE(w.write(std::span(reinterpret_cast<const std::uint8_t*>(a.data()), a.size())));
  ASSERT_TRUE(w.write(std::span(reinterpret_cast<const std::uint8_t*>(b.data()), b.size())));
  EXPECT_EQ(w.bytes_written(), 11u);
  EXPECT_EQ(w.finish(), sha256(std::string_view("hello world")));
  fd->reset();
  EXPECT_EQ(testing::read_text(dir / "out"), "hello world");
}

TEST(HashingWriter, ReportsWriteFailure) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // writing to a pipe without a reader fails (EPIPE)
  ::signal(SIGPIPE, SIG_IGN);
  HashingWriter w(fds[1]);
  std::uint8_t byte = 1;
  auto s = w.write(std::span(&byte, 1));
  ::close(fds[1]);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::io);
}

}  // namespace
}  // namespace airlock
