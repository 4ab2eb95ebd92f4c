// Bundles whose signed manifest is fine but whose tar or zstd stream is
// hostile: every entry check refuses with one line, and nothing lands.
#include <gtest/gtest.h>

#include "airlock/transfer/bundle.h"
#include "bundle_fixture.h"
#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using testing::TarEntry;
using testing::TempDir;

const TimePoint kCreated = parse_time("2026-11-22T10:00:00Z").value();

class HostileBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    trust.threshold = 1;
    ASSERT_TRUE(trust.add({"alice", alice.public_key(), {}, {}}));
    store = Store::open(dir / "target").value();
  }

  BundleObject object(const std::string& data) { return {sha256(data), data.size()}; }
  std::string entry_name(const std::string& data) { return "objects/" + sha256(data).hex(); }

  // Builds a signed bundle from the given tar bytes and runs steps 1-4.
  Error refusal(const std::vector<BundleObject>& listed, const std::string& volume) {
    fs::remove_all(dir / "media");
    auto bundle = testing::write_crafted_bundle(dir / "media", listed, volume, {&alice}, kCreated);
    auto before = testing::store_fingerprint(dir / "target");
    Error out{Code::io, "accepted"};
    auto vm = read_manifest(bundle, trust, kCreated);
    EXPECT_TRUE(vm) << vm.error().message;
    std::vector<fs::path> dirs{bundle};
    EXPECT_TRUE(check_volumes(vm->manifest, dirs));
    {
      auto batch = store->begin_batch().value();
      BatchSink sink(batch);
      if (auto s = extract_bundle(vm->manifest, dirs, sink); !s) out = s.error();
    }
    EXPECT_EQ(testing::store_fingerprint(dir / "target"), before);
    EXPECT_EQ(store->object_count().value(), 0u);
    return out;
  }

  Error tar_refusal(const std::vector<BundleObject>& listed, const std::vector<TarEntry>& entries) {
    return refusal(listed, testing::zstd_compress(testing::make_tar(entries)));
  }

  // Runs the entry checks alone over uncompressed tar bytes, into a sink
  // that leaves the hashing to the reader.
  Error plain_tar_refusal(const std::vector<BundleObject>& listed, const std::string& tar) {
    Manifest m;
    m.objects = listed;
    DiscardSink sink;
    auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(tar.data()), tar.size());
    if (auto s = check_tar_entries(m, bytes, sink); !s) return s.error();
    return Error{Code::io, "accepted"};
  }

  TempDir dir;
  PrivateKey alice = PrivateKey::generate().value();
  TrustPolicy trust;
  std::unique_ptr<Store> store;
  const std::string good = "a good object";
};

TEST_F(HostileBundleTest, CraftedBundleOfGoodEntriesIsAccepted) {
  auto e = tar_refusal({object(good)}, {{entry_name(good), good}});
  EXPECT_EQ(e.message, "accepted");
}

TEST_F(HostileBundleTest, PathTraversal) {
  auto e = tar_refusal({object(good)}, {{"../../etc/passwd", good}});
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_EQ(e.message, "bundle entry '../../etc/passwd' is not named objects/<sha256>");
}

TEST_F(HostileBundleTest, AbsolutePath) {
  auto e = tar_refusal({object(good)}, {{"/" + entry_name(good), good}});
  EXPECT_EQ(e.message, "bundle entry '/" + entry_name(good) + "' is not named objects/<sha256>");
}

TEST_F(HostileBundleTest, Symlink) {
  TarEntry link{entry_name(good), "", TarEntry::symlink, "/etc/shadow"};
  auto e = tar_refusal({object(good)}, {link});
  EXPECT_EQ(e.message,
            "bundle entry '" + entry_name(good) +
                "' is a symbolic link; only regular files named objects/<sha256> are allowed");
}

TEST_F(HostileBundleTest, HardLink) {
  TarEntry link{entry_name(good), "", TarEntry::hardlink, "/etc/shadow"};
  auto e = tar_refusal({object(good)}, {link});
  EXPECT_EQ(e.message,
            "bundle entry '" + entry_name(good) +
                "' is a hard link; only regular files named objects/<sha256> are allowed");
}

TEST_F(HostileBundleTest, DeviceNode) {
  TarEntry dev{entry_name(good), "", TarEntry::chardev};
  auto e = tar_refusal({object(good)}, {dev});
  EXPECT_NE(e.message.find("is a character device"), std::string::npos) << e.message;
}

TEST_F(HostileBundleTest, Directory) {
  TarEntry d{"objects/", "", TarEntry::directory};
  auto e = tar_refusal({object(good)}, {d});
  EXPECT_NE(e.message.find("is a directory"), std::string::npos) << e.message;
}

TEST_F(HostileBundleTest, DuplicateEntry) {
  // The manifest lists two objects of the same size, so the stream's size is right.
  std::string other = "a good objecX";
  auto e = tar_refusal({object(good), object(other)},
                       {{entry_name(good), good}, {entry_name(good), good}});
  EXPECT_EQ(e.message, "bundle entry " + entry_name(good) + " appears twice");
}

TEST_F(HostileBundleTest, UnlistedObject) {
  std::string other = "not in the manifest";
  auto e = tar_refusal({object(good)}, {{entry_name(other), other}});
  EXPECT_EQ(e.message,
            "bundle entry " + entry_name(other) + " is not listed in the signed manifest");
}

TEST_F(HostileBundleTest, MissingObject) {
  std::string second = "listed but absent";
  auto e = tar_refusal({object(good), object(second)}, {});
  EXPECT_TRUE(e.message.starts_with("bundle is missing object ")) << e.message;
}

TEST_F(HostileBundleTest, EntriesOutOfOrder) {
  std::string other = "a good objecX";
  auto [low, high] = std::minmax(good, other, [](const std::string& a, const std::string& b) {
    return sha256(a) < sha256(b);
  });
  auto e = tar_refusal({object(good), object(other)},
                       {{entry_name(high), high}, {entry_name(low), low}});
  EXPECT_EQ(e.message, "bundle entry " + entry_name(low) + " is out of order");
}

TEST_F(HostileBundleTest, MissingObjectIsNamed) {
  std::string other = "a good objecX";
  auto [low, high] = std::minmax(good, other, [](const std::string& a, const std::string& b) {
    return sha256(a) < sha256(b);
  });
  // The archive stops before the last listed object: that one is named.
  auto e = tar_refusal({object(good), object(other)}, {{entry_name(low), low}});
  EXPECT_EQ(e.message,
            "bundle is missing object " + sha256(high).hex() + " listed in the manifest");
  // The archive skips a listed object and ends on a later one: no object
  // after the last entry is missing, so none is named.
  e = tar_refusal({object(good), object(other)}, {{entry_name(high), high}});
  EXPECT_EQ(e.message, "bundle is missing objects listed in the manifest");
}

TEST_F(HostileBundleTest, TruncatedEntryCannotBeRead) {
  std::string tar = testing::make_tar({{entry_name(good), good}});
  tar.resize(512 + 4);  // the header and the first bytes of the data
  auto e = plain_tar_refusal({object(good)}, tar);
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_TRUE(e.message.starts_with("bundle entry " + entry_name(good) + " cannot be read: "))
      << e.message;
}

TEST_F(HostileBundleTest, ReaderHashesForASinkThatDoesNotVerify) {
  // DiscardSink leaves the hash to the reader (BatchSink has the store do it).
  std::string liar = "a good objecT";
  auto e = plain_tar_refusal({object(good)}, testing::make_tar({{entry_name(good), liar}}));
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_EQ(e.message, "bundle entry " + entry_name(good) + " is corrupt: its bytes hash to " +
                           sha256(liar).hex());
}

TEST_F(HostileBundleTest, BytesThatDoNotMatchTheirName) {
  std::string liar = "a good objecT";  // same size, other bytes
  auto e = tar_refusal({object(good)}, {{entry_name(good), liar}});
  EXPECT_EQ(e.message, "bundle entry " + entry_name(good) + " is corrupt: its bytes hash to " +
                           sha256(liar).hex());
}

TEST_F(HostileBundleTest, EntryLargerThanDeclared) {
  std::string bigger = good + " and then some";
  TarEntry e1{entry_name(good), bigger};
  auto e = tar_refusal({object(good)}, {e1});
  EXPECT_EQ(e.message, "bundle entry " + entry_name(good) + " has " +
                           std::to_string(bigger.size()) + " bytes, the manifest says " +
                           std::to_string(good.size()));
}

TEST_F(HostileBundleTest, ZstdBombStopsJustPastTheDeclaredSize) {
  // A valid tar of one small object followed by 256 MiB of zeros: a few
  // KiB compressed, far more than the manifest declares.
  std::string tar = testing::make_tar({{entry_name(good), good}});
  tar.append(256u << 20, '\0');
  auto volume = testing::zstd_compress(tar);
  ASSERT_LT(volume.size(), 64u * 1024);
  auto e = refusal({object(good)}, volume);
  EXPECT_EQ(e.code, Code::limit);
  EXPECT_EQ(e.message, "bundle decompresses to more than the declared " +
                           std::to_string(tar_size_for({object(good)})) + " bytes");
}

TEST_F(HostileBundleTest, FrameNeedingAHugeWindowIsRefused) {
  std::string tar = testing::make_tar({{entry_name(good), good}});
  auto volume = testing::zstd_compress(tar, /*window_log=*/27);
  auto e = refusal({object(good)}, volume);
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_NE(e.message.find("the compressed data is malformed"), std::string::npos) << e.message;
}

TEST_F(HostileBundleTest, TruncatedCompressedStream) {
  std::string tar = testing::make_tar({{entry_name(good), good}});
  auto volume = testing::zstd_compress(tar);
  volume.resize(volume.size() - 8);
  auto e = refusal({object(good)}, volume);
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_NE(e.message.find("truncated"), std::string::npos) << e.message;
}

TEST_F(HostileBundleTest, NotCompressedAtAll) {
  auto e = refusal({object(good)}, testing::make_tar({{entry_name(good), good}}));
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_NE(e.message.find("the compressed data is malformed"), std::string::npos) << e.message;
}

}  // namespace
}  // namespace airlock
