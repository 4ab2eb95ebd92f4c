#include "airlock/transfer/bundle.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <map>

#include "bundle_fixture.h"
#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const TimePoint kCreated = parse_time("2026-11-22T10:00:00Z").value();
const TimePoint kNow = parse_time("2026-11-23T10:00:00Z").value();

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo = testing::make_sample_repo(dir / "store", 24, 150 * 1024, 7);
    trust.threshold = 1;
    ASSERT_TRUE(trust.add({"alice", alice.public_key(), {}, {}}));
    ASSERT_TRUE(trust.add({"bob", bob.public_key(), {}, {}}));
    fs::create_directories(dir / "media");
  }

  ExportRequest request() {
    ExportRequest r;
    r.store = repo.store.get();
    r.snapshots = {repo.snapshot};
    r.stream = "debian";
    r.sequence = 1;
    r.created = kCreated;
    r.expires = kCreated + std::chrono::hours(24 * 30);
    r.producer = "test";
    r.volume_size = 256 * 1024;
    r.keys = {&alice};
    r.out_dir = dir / "media";
    return r;
  }

  ExportResult export_bundle(ExportRequest r) {
    auto res = write_bundle(r);
    EXPECT_TRUE(res) << res.error().message;
    return std::move(*res);
  }

  std::vector<fs::path> dirs(const fs::path& d) { return {d}; }

  // Commits what was extracted into batch and checks that target holds the
  // sample snapshot with every object's exact bytes.
  void commit_and_expect_every_object(Store& target, Batch& batch) {
    ASSERT_TRUE(batch.register_snapshot(repo.snapshot));
    ASSERT_TRUE(batch.commit());
    auto snap = target.get_snapshot(repo.snapshot).value();
    ASSERT_EQ(snap.entries.size(), repo.contents.size());
    for (const auto& e : snap.entries) {
      EXPECT_TRUE(target.read(e.sha256).value() == repo.contents[e.path]) << e.path;
    }
  }

  TempDir dir;
  testing::SampleRepo repo;
  PrivateKey alice = PrivateKey::generate().value();
  PrivateKey bob = PrivateKey::generate().value();
  // "alice (key 1a2b3c4d5e6f7a8b)", as refusals name a key.
  static std::string label(const std::string& name, const PrivateKey& key) {
    return name + " (key " + key.public_key().id().hex().substr(0, 16) + ")";
  }
  TrustPolicy trust;
};

TEST_F(BundleTest, ExportThenVerifyAndExtractEveryObject) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> progress;
  auto req = request();
  req.progress = [&](std::uint64_t d, std::uint64_t t) { progress.emplace_back(d, t); };
  auto res = export_bundle(req);
  EXPECT_EQ(res.dir, dir / "media" / "airlock-debian-000001");
  EXPECT_FALSE(fs::exists(dir / "media" / "airlock-debian-000001.partial"));
  EXPECT_TRUE(fs::exists(res.dir / "manifest.json"));
  EXPECT_TRUE(fs::exists(res.dir / "manifest.sig.json"));
  EXPECT_EQ(res.manifest.objects.size(), 25u);  // 24 entries + the snapshot itself
  EXPECT_GT(res.manifest.volumes.size(), 1u);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().first, res.manifest.payload_size());

  auto vm = read_manifest(res.dir, trust, kNow);
  ASSERT_TRUE(vm) << vm.error().message;
  EXPECT_EQ(vm->sha256, res.manifest_sha256);
  EXPECT_EQ(vm->trust.signers, std::vector<std::string>{"alice"});
  auto d = dirs(res.dir);
  ASSERT_TRUE(check_volumes(vm->manifest, d));

  auto target = Store::open(dir / "target").value();
  auto batch = target->begin_batch().value();
  BatchSink sink(batch);
  auto s = extract_bundle(vm->manifest, d, sink);
  ASSERT_TRUE(s) << s.error().message;
  commit_and_expect_every_object(*target, batch);
}

TEST_F(BundleTest, VolumesAreConsecutiveRangesOfAtMostTheVolumeSize) {
  auto res = export_bundle(request());
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < res.manifest.volumes.size(); ++i) {
    const auto& v = res.manifest.volumes[i];
    EXPECT_EQ(v.name, volume_name(i));
    EXPECT_EQ(fs::file_size(res.dir / v.name), v.size);
    if (i + 1 < res.manifest.volumes.size()) {
      EXPECT_EQ(v.size, 256u * 1024);
    }
    EXPECT_LE(v.size, 256u * 1024);
    EXPECT_EQ(hash_file(res.dir / v.name).value(), v.sha256);
    total += v.size;
  }
  EXPECT_EQ(total, res.bytes);
}

TEST_F(BundleTest, SameInputsGiveByteIdenticalBundles) {
  auto a = request();
  a.out_dir = dir / "media" / "a";
  a.zstd_threads = 1;
  auto b = request();
  b.out_dir = dir / "media" / "b";
  b.zstd_threads = 2;
  fs::create_directories(a.out_dir);
  fs::create_directories(b.out_dir);
  auto ra = export_bundle(a);
  auto rb = export_bundle(b);
  EXPECT_EQ(testing::tree_fingerprint(ra.dir), testing::tree_fingerprint(rb.dir));
  EXPECT_EQ(ra.manifest_sha256, rb.manifest_sha256);
}

TEST_F(BundleTest, DeltaCarriesOnlyWhatTheReceiverLacks) {
  auto first = export_bundle(request());
  auto more = testing::make_sample_repo(dir / "store2", 3, 1000, 99);
  // Add two new objects and a new snapshot to the first store.
  Snapshot snap = repo.store->get_snapshot(repo.snapshot).value();
  auto batch = repo.store->begin_batch().value();
  for (int i = 0; i < 2; ++i) {
    auto data = "patch day " + std::to_string(i);
    auto id = batch.put_bytes(data).value();
    snap.entries.push_back({"pool/main/new" + std::to_string(i) + ".deb", id, data.size()});
  }
  snap.synced_at += std::chrono::hours(24);
  auto snap2 = batch.add_snapshot(snap).value();
  ASSERT_TRUE(batch.commit());
  auto req = request();
  req.snapshots = {snap2};
  req.sequence = 2;
  req.previous = first.manifest_sha256;
  for (const auto& o : first.manifest.objects) req.exclude.push_back(o.sha256);
  auto second = export_bundle(req);
  EXPECT_EQ(second.manifest.objects.size(), 3u);  // two new files and the new snapshot
  EXPECT_EQ(second.manifest.kind, "delta");
  EXPECT_EQ(second.manifest.previous, first.manifest_sha256);
  EXPECT_EQ(second.dir.filename(), "airlock-debian-000002");
  // A full export of the same carries everything.
  req.full = true;
  req.sequence = 3;
  auto full = export_bundle(req);
  EXPECT_EQ(full.manifest.objects.size(), 27u);  // 26 files and the new snapshot
  EXPECT_FALSE(full.manifest.previous);
}

TEST_F(BundleTest, RefusesToOverwriteAnExistingBundle) {
  auto res = export_bundle(request());
  auto before = testing::tree_fingerprint(res.dir);
  auto again = write_bundle(request());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::conflict);
  EXPECT_EQ(testing::tree_fingerprint(res.dir), before);
}

TEST_F(BundleTest, FailedExportLeavesNothingThatLooksComplete) {
  // Corrupt an object in the store: the export re-hashes and stops.
  auto snap = repo.store->get_snapshot(repo.snapshot).value();
  auto victim = snap.entries[5].sha256;
  testing::flip_object_byte(*repo.store, victim);
  auto res = write_bundle(request());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Code::corrupt);
  EXPECT_NE(res.error().message.find("object " + victim.hex() + " in the store is corrupt"),
            std::string::npos)
      << res.error().message;
  EXPECT_TRUE(fs::is_empty(dir / "media"));
}

TEST_F(BundleTest, CosignAddsOneSignatureAndChangesNothingElse) {
  trust.threshold = 2;
  auto res = export_bundle(request());
  auto one = read_manifest(res.dir, trust, kNow);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, Code::refused);
  EXPECT_EQ(one.error().message,
            "bundle signatures: 1 valid signature of 2 required: " + label("alice", alice) +
                " signed; " + label("bob", bob) + ": no signature");
  auto before = testing::tree_fingerprint(res.dir);
  ASSERT_TRUE(cosign_bundle(res.dir, bob));
  auto after = testing::tree_fingerprint(res.dir);
  for (const auto& [name, hash] : before) {
    if (name != "manifest.sig.json") {
      EXPECT_EQ(after[name], hash) << name;
    }
  }
  EXPECT_NE(after["manifest.sig.json"], before["manifest.sig.json"]);
  auto two = read_manifest(res.dir, trust, kNow);
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_EQ(two->trust.signers.size(), 2u);
  auto again = cosign_bundle(res.dir, bob);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::conflict);
}

TEST_F(BundleTest, RefusesAnInvalidRequestAndWritesNothing) {
  struct Case {
    std::function<void(ExportRequest&)> edit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](ExportRequest& r) { r.store = nullptr; }, "export needs a store"},
      {[](ExportRequest& r) { r.stream = "Debian/../x"; },
       "stream name 'Debian/../x' must be 1-64 characters of a-z 0-9 . _ -"},
      {[](ExportRequest& r) { r.keys.clear(); }, "export needs at least one signing key"},
      {[](ExportRequest& r) { r.volume_size = 0; }, "volume size must be at least 1 byte"},
      {[](ExportRequest& r) { r.zstd_level = 0; }, "zstd level must be from 1 to 19"},
      {[](ExportRequest& r) { r.zstd_level = 20; }, "zstd level must be from 1 to 19"},
      {[](ExportRequest& r) { r.expires = r.created; }, "expiry must be after creation"},
  };
  for (const auto& c : cases) {
    auto req = request();
    c.edit(req);
    auto res = write_bundle(req);
    ASSERT_FALSE(res) << c.message;
    EXPECT_EQ(res.error().code, Code::invalid_input) << c.message;
    EXPECT_EQ(res.error().message, c.message);
    EXPECT_TRUE(fs::is_empty(dir / "media")) << c.message;
  }
}

TEST_F(BundleTest, AFailedStepRemovesThePartialDirectory) {
  const auto final_dir = dir / "media" / "airlock-debian-000001";
  const auto partial = dir / "media" / "airlock-debian-000001.partial";
  std::map<std::string, int> counts;
  {
    testing::FaultEnv env;
    auto req = request();
    req.env = &env;
    export_bundle(req);
    counts = env.counts();
    fs::remove_all(final_dir);
  }
  // Removing a temporary file after it was linked into place may fail
  // without failing the write.
  counts.erase("remove");
  for (const auto& op :
       {"remove_all", "mkdirs", "open", "write", "sync", "create", "link", "sync_dir", "rename"}) {
    ASSERT_GT(counts[op], 0) << op;
  }
  for (const auto& [op, last] : counts) {
    for (int n : {1, last}) {
      testing::FaultEnv env;
      env.fail_if = [op = op, n](const std::string& o, int k) { return o == op && k == n; };
      auto req = request();
      req.env = &env;
      auto res = write_bundle(req);
      ASSERT_FALSE(res) << op << " " << n;
      EXPECT_EQ(res.error().code, Code::io) << op << " " << n;
      EXPECT_FALSE(fs::exists(partial)) << op << " " << n;
      // Only the sync of the media directory comes after the rename.
      const bool renamed = op == "sync_dir" && n == last;
      EXPECT_EQ(fs::exists(final_dir), renamed) << op << " " << n;
      fs::remove_all(final_dir);
    }
  }
}

TEST_F(BundleTest, AnExportWhoseManifestReadersWouldRefuseWritesNothing) {
  auto req = request();
  req.max_manifest_bytes = 1 << 20;  // less than the room kept for the volume list
  auto before = testing::tree_fingerprint(dir / "media");
  auto res = write_bundle(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, Code::invalid_input);
  EXPECT_TRUE(res.error().message.starts_with("the manifest of this export would have "))
      << res.error().message;
  EXPECT_NE(res.error().message.find(" bytes, more than the 1048576 a reader takes ("),
            std::string::npos)
      << res.error().message;
  EXPECT_TRUE(res.error().message.ends_with(" objects): export fewer snapshots per bundle"))
      << res.error().message;
  EXPECT_FALSE(fs::exists(dir / "media" / "airlock-debian-000001.partial"));
  EXPECT_EQ(testing::tree_fingerprint(dir / "media"), before);
}

// --- Refusals at the manifest and volume level -----------------------------

class BundleRefusalTest : public BundleTest {
 protected:
  void SetUp() override {
    BundleTest::SetUp();
    res = export_bundle(request());
    target = Store::open(dir / "target").value();
  }

  // Runs steps 1-4 into the target store and returns the first error.
  Error import_error() {
    auto before = testing::store_fingerprint(dir / "target");
    auto bundle_before = testing::tree_fingerprint(res.dir);
    Error out{Code::io, "no error"};
    auto vm = read_manifest(res.dir, trust, kNow);
    if (!vm) {
      out = vm.error();
    } else if (auto s = check_volumes(vm->manifest, dirs(res.dir)); !s) {
      out = s.error();
    } else {
      auto batch = target->begin_batch().value();
      BatchSink sink(batch);
      auto d = dirs(res.dir);
      if (auto e = extract_bundle(vm->manifest, d, sink); !e) out = e.error();
    }
    // Nothing was written: not to the store, not to the bundle.
    EXPECT_EQ(testing::store_fingerprint(dir / "target"), before);
    EXPECT_EQ(target->object_count().value(), 0u);
    EXPECT_EQ(testing::tree_fingerprint(res.dir), bundle_before);
    return out;
  }

  ExportResult res;
  std::unique_ptr<Store> target;
};

TEST_F(BundleRefusalTest, FlippedByteInAVolume) {
  auto path = res.dir / "data.001";
  auto bytes = testing::read_text(path);
  bytes[bytes.size() / 2] ^= 0x20;
  testing::write_text(path, bytes);
  auto e = import_error();
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_EQ(e.message, "volume data.001 is corrupt: expected sha256 " +
                           res.manifest.volumes[1].sha256.hex() + ", actual " +
                           sha256(bytes).hex());
}

TEST_F(BundleRefusalTest, TruncatedVolume) {
  auto path = res.dir / "data.000";
  fs::resize_file(path, fs::file_size(path) - 100);
  auto e = import_error();
  EXPECT_EQ(e.message, "volume data.000 has " + std::to_string(256 * 1024 - 100) +
                           " bytes, the manifest says " + std::to_string(256 * 1024) +
                           " (truncated)");
}

TEST_F(BundleRefusalTest, MissingVolume) {
  fs::remove(res.dir / "data.001");
  auto e = import_error();
  EXPECT_EQ(e.message, "volume data.001 is missing (looked in " + res.dir.string() + ")");
}

TEST_F(BundleRefusalTest, ExtraVolume) {
  auto extra = volume_name(res.manifest.volumes.size());
  testing::write_text(res.dir / extra, "more data");
  auto e = import_error();
  EXPECT_EQ(e.message, "unexpected volume " + extra + " in " + res.dir.string() +
                           ": it is not listed in the signed manifest");
}

TEST_F(BundleRefusalTest, ReorderedVolumes) {
  fs::rename(res.dir / "data.000", res.dir / "swap");
  fs::rename(res.dir / "data.001", res.dir / "data.000");
  fs::rename(res.dir / "swap", res.dir / "data.001");
  auto e = import_error();
  EXPECT_TRUE(e.message.starts_with("volume data.000 is corrupt: expected sha256 ")) << e.message;
}

TEST_F(BundleRefusalTest, VolumeThatIsAFifoIsRefusedWithoutReadingIt) {
  // Opening a FIFO for reading waits for a writer: this test finishing at all
  // is half of what it checks.
  fs::remove(res.dir / "data.001");
  ASSERT_EQ(::mkfifo((res.dir / "data.001").c_str(), 0644), 0);
  auto e = import_error();
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_EQ(e.message,
            "volume " + (res.dir / "data.001").string() + " is a FIFO, not a regular file");
}

TEST_F(BundleRefusalTest, ManifestOrSignaturesThatAreNotRegularFilesAreRefused) {
  for (const char* name : {"manifest.json", "manifest.sig.json"}) {
    auto path = res.dir / name;
    auto saved = testing::read_text(path);
    fs::remove(path);
    ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0);
    auto e = import_error();
    EXPECT_EQ(e.code, Code::refused) << name;
    EXPECT_EQ(e.message, path.string() + " is a FIFO, not a regular file");
    fs::remove(path);
    fs::create_directory(path);
    EXPECT_EQ(import_error().message, path.string() + " is a directory, not a regular file");
    fs::remove(path);
    testing::write_text(path, saved);
  }
}

TEST_F(BundleTest, DecompressesTheBytesItHashedWhenAVolumeIsReplacedInBetween) {
  auto res = export_bundle(request());
  auto vm = read_manifest(res.dir, trust, kNow).value();
  // A look-alike volume with one byte changed, put in place under the same
  // name once every volume has been hashed (the last progress call of the
  // hashing phase), before anything is decompressed.
  auto forged = testing::read_text(res.dir / "data.000");
  forged[forged.size() / 2] ^= 0x20;
  testing::write_text(dir / "forged", forged);
  std::uint64_t total = 0;
  for (const auto& v : vm.manifest.volumes) total += v.size;
  bool swapped = false;
  auto on_hashed = [&](std::uint64_t done, std::uint64_t t) {
    ASSERT_EQ(t, total);
    if (done == total && !swapped) {
      fs::rename(dir / "forged", res.dir / "data.000");
      swapped = true;
    }
  };
  auto target = Store::open(dir / "target").value();
  auto batch = target->begin_batch().value();
  BatchSink sink(batch);
  auto d = dirs(res.dir);
  auto s = extract_bundle(vm.manifest, d, sink, {}, on_hashed);
  ASSERT_TRUE(swapped);
  ASSERT_EQ(testing::read_text(res.dir / "data.000"), forged);
  ASSERT_TRUE(s) << s.error().message;
  commit_and_expect_every_object(*target, batch);
  // The same replacement before hashing is caught by the hash.
  auto again = target->begin_batch().value();
  BatchSink sink2(again);
  auto refused = extract_bundle(vm.manifest, d, sink2);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().message.starts_with("volume data.000 is corrupt: expected sha256 "))
      << refused.error().message;
}

TEST_F(BundleRefusalTest, ManifestEditedAfterSigning) {
  auto text = testing::read_text(res.dir / "manifest.json");
  text.replace(text.find("\"producer\": \"test\""), 18, "\"producer\": \"evil\"");
  testing::write_text(res.dir / "manifest.json", text);
  auto e = import_error();
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_EQ(e.message,
            "bundle signatures: 0 valid signatures of 1 required" +
                std::string(alice.public_key().id() < bob.public_key().id()
                                ? ": " + label("alice", alice) + ": signature does not verify; " +
                                      label("bob", bob) + ": no signature"
                                : ": " + label("bob", bob) + ": no signature; " +
                                      label("alice", alice) + ": signature does not verify"));
}

TEST_F(BundleRefusalTest, SignedByAnUntrustedKey) {
  TrustPolicy only_bob;
  ASSERT_TRUE(only_bob.add({"bob", bob.public_key(), {}, {}}));
  trust = only_bob;
  auto e = import_error();
  EXPECT_EQ(e.message, "bundle signatures: 0 valid signatures of 1 required: " + label("bob", bob) +
                           ": no signature; key " + alice.public_key().id().hex().substr(0, 16) +
                           " signed but is not trusted here");
}

TEST_F(BundleRefusalTest, ThresholdTwoWithOneSignature) {
  trust.threshold = 2;
  auto e = import_error();
  EXPECT_EQ(e.message,
            "bundle signatures: 1 valid signature of 2 required: " + label("alice", alice) +
                " signed; " + label("bob", bob) + ": no signature");
}

TEST_F(BundleRefusalTest, CreatedInTheFutureBeyondTheClockSkew) {
  // Five minutes of skew are allowed; one second more is not.
  EXPECT_TRUE(read_manifest(res.dir, trust, kCreated - std::chrono::minutes(5)));
  auto vm = read_manifest(res.dir, trust, kCreated - std::chrono::seconds(301));
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code, Code::refused);
  EXPECT_EQ(vm.error().message,
            "bundle airlock-debian-000001 was created at 2026-11-22T10:00:00Z, in the future "
            "(now 2026-11-22T09:54:59Z, 5 minutes of clock skew allowed)");
}

TEST_F(BundleRefusalTest, ValidLongerThanTheTrustPolicysMaximum) {
  // The bundle is valid for 30 days: within the default 90, not within 29.
  EXPECT_EQ(trust.max_validity_days, 90);
  EXPECT_TRUE(read_manifest(res.dir, trust, kNow));
  trust.max_validity_days = 30;
  EXPECT_TRUE(read_manifest(res.dir, trust, kNow));
  trust.max_validity_days = 29;
  auto vm = read_manifest(res.dir, trust, kNow);
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code, Code::refused);
  EXPECT_EQ(vm.error().message,
            "bundle airlock-debian-000001 is valid from 2026-11-22T10:00:00Z to "
            "2026-12-22T10:00:00Z, longer than the trust policy's maximum of 29 days");
  // A bundle valid for centuries, under the default.
  trust.max_validity_days = TrustPolicy::kDefaultMaxValidityDays;
  fs::remove_all(res.dir);
  auto r = request();
  r.expires = kCreated + std::chrono::hours(24 * 365 * 300);
  export_bundle(r);
  auto long_lived = read_manifest(res.dir, trust, kNow);
  ASSERT_FALSE(long_lived);
  EXPECT_TRUE(
      long_lived.error().message.ends_with(", longer than the trust policy's maximum of 90 days"))
      << long_lived.error().message;
}

TEST_F(BundleRefusalTest, ExpiredBundle) {
  auto vm = read_manifest(res.dir, trust, kCreated + std::chrono::hours(24 * 31));
  ASSERT_FALSE(vm);
  EXPECT_EQ(vm.error().code, Code::refused);
  EXPECT_EQ(
      vm.error().message,
      "bundle airlock-debian-000001 expired at 2026-12-22T10:00:00Z (now 2026-12-23T10:00:00Z)");
}

TEST_F(BundleRefusalTest, ManifestOverTheLimit) {
  // Sparse: the size is refused before a byte is read.
  testing::write_text(res.dir / "manifest.json", "");
  fs::resize_file(res.dir / "manifest.json", kMaxManifestBytes + 1);
  auto e = import_error();
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_EQ(e.message, "manifest.json is larger than the 1 GiB limit");
}

TEST_F(BundleRefusalTest, MalformedJsonAfterAValidSignature) {
  // A trusted signer signed garbage: the signature passes, the parser refuses.
  std::string garbage = "{\"format\": \"airlock-bundle/1\", \"stream\": [";
  testing::write_text(res.dir / "manifest.json", garbage);
  auto sig = alice.sign(garbage).value();
  testing::write_text(res.dir / "manifest.sig.json",
                      signatures_to_json({{alice.public_key().id(), {sig.begin(), sig.end()}}}));
  auto e = import_error();
  EXPECT_EQ(e.code, Code::refused);
  EXPECT_EQ(e.message, "manifest: not a JSON object");
}

TEST_F(BundleRefusalTest, MissingSignatureFile) {
  fs::remove(res.dir / "manifest.sig.json");
  auto e = import_error();
  EXPECT_EQ(e.message, "bundle has no manifest.sig.json");
}

TEST_F(BundleRefusalTest, VolumesFromSeveralDiscs) {
  // Each volume on its own "disc": checked one disc at a time, then together.
  std::vector<fs::path> discs;
  for (const auto& v : res.manifest.volumes) {
    auto disc = dir / ("disc-" + v.name);
    fs::create_directories(disc);
    fs::copy_file(res.dir / v.name, disc / v.name);
    discs.push_back(disc);
  }
  std::vector<fs::path> first{discs[0]};
  auto missing = check_present_volumes(res.manifest, first);
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_EQ(missing->size(), res.manifest.volumes.size() - 1);
  ASSERT_TRUE(check_volumes(res.manifest, discs));
  auto batch = target->begin_batch().value();
  BatchSink sink(batch);
  ASSERT_TRUE(extract_bundle(res.manifest, discs, sink));
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(target->object_count().value(), res.manifest.objects.size());
}

}  // namespace
}  // namespace airlock
