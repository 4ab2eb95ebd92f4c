#include <gtest/gtest.h>

#include "airlock/verify/cli.h"
#include "airlock/verify/encoding.h"
#include "airlock/verify/file.h"
#include "airlock/verify/time.h"
#include "test_support.h"

namespace airlock {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

// RFC 4648 section 10 vectors.
TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(bytes("")), "");
  EXPECT_EQ(base64_encode(bytes("f")), "Zg==");
  EXPECT_EQ(base64_encode(bytes("fo")), "Zm8=");
  EXPECT_EQ(base64_encode(bytes("foo")), "Zm9v");
  EXPECT_EQ(base64_encode(bytes("foobar")), "Zm9vYmFy");
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto d = base64_decode(base64_encode(bytes(s)));
    ASSERT_TRUE(d) << s;
    EXPECT_EQ(*d, bytes(s));
  }
}

TEST(Base64, RefusesNonCanonicalInput) {
  for (std::string bad : {"Zg=", "Zg", "Z===", "Zm9v\n", " Zm9v", "Zm9=v", "Zh==", "Zm9v*A==",
                          "=Zm9"}) {
    auto d = base64_decode(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code, Code::invalid_input);
  }
}

TEST(Time, FormatsAndParsesRfc3339) {
  auto t = parse_time("2026-11-22T10:51:33Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_time(*t), "2026-11-22T10:51:33Z");
  EXPECT_EQ(t->time_since_epoch().count(), 1795344693);
  auto offset = parse_time("2026-11-22T12:51:33.250+02:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(*offset, *t);
  for (std::string bad : {"2026-11-22", "2026-11-22T10:51:33", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2026-11-22T10:51:33Zjunk", "yesterday"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

TEST(Cli, ParseSizeWithSuffixes) {
  EXPECT_EQ(parse_size("4096").value(), 4096u);
  EXPECT_EQ(parse_size("640K").value(), 640u << 10);
  EXPECT_EQ(parse_size("700M").value(), 700ull << 20);
  EXPECT_EQ(parse_size("4G").value(), 4ull << 30);
  EXPECT_EQ(parse_size("1t").value(), 1ull << 40);
  for (std::string bad : {"", "G", "0", "-1", "4GB", "1.5G", "4 G", "99999999999999999"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::invalid_input);
  }
  EXPECT_EQ(human_bytes(0), "0 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3ull << 30), "3.0 GiB");
}

TEST(File, ReadFileEnforcesLimit) {
  testing::TempDir dir;
  testing::write_text(dir / "f", std::string(100, 'x'));
  EXPECT_TRUE(read_file(dir / "f", 100));
  auto r = read_file(dir / "f", 99);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::limit);
}

TEST(File, AtomicWriteReplacesWholeFile) {
  testing::TempDir dir;
  ASSERT_TRUE(atomic_write_file(dir / "f", "first"));
  ASSERT_TRUE(atomic_write_file(dir / "f", "second", 0600));
  EXPECT_EQ(testing::read_text(dir / "f"), "second");
  EXPECT_EQ(std::filesystem::status(dir / "f").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // No temporary files remain beside it.
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace airlock
