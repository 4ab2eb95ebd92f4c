// Decompressing indices: the compressions repositories use, and a bound.
#include "airlock/formats/compress.h"

#include <gtest/gtest.h>

namespace airlock::formats {
namespace {

// "Package: x\n", compressed by gzip -9n and by xz -9.
const unsigned char kGzip[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x0b,
                               0x48, 0x4c, 0xce, 0x4e, 0x4c, 0x4f, 0xb5, 0x52, 0xa8, 0xe0, 0x02,
                               0x00, 0x41, 0xc6, 0x79, 0x0c, 0x0b, 0x00, 0x00, 0x00};
const unsigned char kXz[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46,
                             0x02, 0x00, 0x21, 0x01, 0x1c, 0x00, 0x00, 0x00, 0x10, 0xcf, 0x58, 0xcc,
                             0x01, 0x00, 0x0a, 0x50, 0x61, 0x63, 0x6b, 0x61, 0x67, 0x65, 0x3a, 0x20,
                             0x78, 0x0a, 0x00, 0x00, 0x59, 0xb6, 0x0f, 0x86, 0xae, 0x8f, 0x41, 0x8a,
                             0x00, 0x01, 0x23, 0x0b, 0xc2, 0x1b, 0xfd, 0x09, 0x1f, 0xb6, 0xf3, 0x7d,
                             0x01, 0x00, 0x00, 0x00, 0x00, 0x04, 0x59, 0x5a};

std::string bytes_of(const unsigned char* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

TEST(Decompress, GzipXzAndPlain) {
  EXPECT_EQ(decompress_index(bytes_of(kGzip, sizeof kGzip)).value(), "Package: x\n");
  EXPECT_EQ(decompress_index(bytes_of(kXz, sizeof kXz)).value(), "Package: x\n");
  EXPECT_EQ(decompress_index("Package: x\n").value(), "Package: x\n");
  EXPECT_EQ(decompress_index("").value(),
            "");  // an empty Packages, as published for an empty component
}

TEST(Decompress, InPiecesGivesTheSameBytes) {
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "Package: p" + std::to_string(i) + "\n\n";
  for (auto bytes : {bytes_of(kGzip, sizeof kGzip), bytes_of(kXz, sizeof kXz), big}) {
    std::string joined;
    std::size_t pieces = 0;
    auto s = decompress_index_to(bytes, [&](std::string_view piece) -> Status {
      EXPECT_LE(piece.size(), 64u << 10);
      joined.append(piece);
      ++pieces;
      return {};
    });
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(joined, decompress_index(bytes).value());
    EXPECT_EQ(pieces, (joined.size() + (64u << 10) - 1) / (64u << 10));
  }
}

// A source that gives bytes `step` at a time, then fails when told to.
IndexSource pieces_of(const std::string& bytes, std::size_t step, std::size_t& at,
                      bool fail_at_end = false) {
  return [&bytes, step, &at, fail_at_end]() -> Result<std::string_view> {
    if (at >= bytes.size() && fail_at_end) return fail(Code::io, "the disk went away");
    std::string_view piece = std::string_view(bytes).substr(std::min(at, bytes.size()), step);
    at += piece.size();
    return piece;
  };
}

TEST(Decompress, PulledInPiecesOfAnySizeGivesTheSameBytes) {
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "Package: p" + std::to_string(i) + "\n\n";
  for (auto bytes : {bytes_of(kGzip, sizeof kGzip), bytes_of(kXz, sizeof kXz), big}) {
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{4096}, bytes.size()}) {
      std::size_t at = 0;
      std::string joined;
      auto s = decompress_index_to(pieces_of(bytes, step, at), [&](std::string_view piece) {
        joined.append(piece);
        return Status{};
      });
      ASSERT_TRUE(s) << s.error().message;
      EXPECT_EQ(joined, decompress_index(bytes).value()) << step;
      EXPECT_EQ(at, bytes.size());
    }
  }
  std::size_t at = 0;
  const std::string none;
  EXPECT_TRUE(decompress_index_to(pieces_of(none, 1, at), [](std::string_view) -> Status {
    ADD_FAILURE() << "an empty index has no text";
    return {};
  }));
}

TEST(Decompress, ASourcesErrorComesBackAsItIs) {
  // A gzip of two members too: libarchive looks past the first for another.
  const std::string gzip = bytes_of(kGzip, sizeof kGzip);
  for (auto bytes : {bytes_of(kXz, sizeof kXz), std::string(100000, 'x'), gzip, gzip + gzip}) {
    std::size_t at = 0;
    auto s = decompress_index_to(pieces_of(bytes, 1000, at, true),
                                 [](std::string_view) { return Status{}; });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::io);
    EXPECT_EQ(s.error().message, "the disk went away");
  }
}

TEST(Decompress, InPiecesStopsAtTheReceiversError) {
  std::string big(200000, 'x');
  int pieces = 0;
  auto s = decompress_index_to(big, [&](std::string_view) -> Status {
    return ++pieces == 2 ? fail(Code::refused, "enough") : Status{};
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "enough");
  EXPECT_EQ(pieces, 2);
  auto limited = decompress_index_to(
      big, [](std::string_view) -> Status { return {}; }, 100000);
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, Code::limit);
}

TEST(Decompress, RefusesMoreThanTheBound) {
  EXPECT_EQ(decompress_index("Package: x\n", 11).value(), "Package: x\n");
  for (auto bytes : {std::string("Package: x\n"), bytes_of(kXz, sizeof kXz)}) {
    auto r = decompress_index(bytes, 10);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Code::limit);
    EXPECT_EQ(r.error().message, "index decompresses to more than 10 bytes");
  }
}

TEST(Decompress, RefusesCorruptCompressedBytes) {
  auto flipped = bytes_of(kXz, sizeof kXz);
  flipped[30] ^= 0x01;  // inside the compressed block: its CRC no longer matches
  auto r = decompress_index(flipped);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
  EXPECT_EQ(r.error().message,
            "index cannot be decompressed: Lzma library error: Corrupted input data");
  auto truncated = bytes_of(kGzip, 20);
  auto t = decompress_index(truncated);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Code::invalid_input);
  EXPECT_EQ(t.error().message, "index cannot be decompressed: truncated gzip input");
}

}  // namespace
}  // namespace airlock::formats
