#include "airlock/verify/encoding.h"

#include <gtest/gtest.h>

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
  for (std::string bad :
       {"Zg=", "Zg", "Z===", "Zm9v\n", " Zm9v", "Zm9=v", "Zh==", "Zm9v*A==", "=Zm9"}) {
    auto d = base64_decode(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error().code, Code::invalid_input);
  }
}

}  // namespace
}  // namespace airlock
