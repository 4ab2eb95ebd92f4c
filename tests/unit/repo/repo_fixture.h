// The isolated side's test fixture: bundles from a low-side store and a
// high-side home to import them into.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "airlock/repo/home.h"
#include "bundle_fixture.h"
#include "test_support.h"

namespace airlock::repo {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

inline const TimePoint kCreated = parse_time("2026-11-22T10:00:00Z").value();

// A low-side store with two snapshots and three bundles of stream
// 'debian' (1, 2 delta, 3 full), and an initialized high-side home that
// trusts alice. Both snapshots carry package lists: s1 has p0 ... p9 at
// 1.0-1; s2 adds new0 and new1 (1.0-1), upgrades p2 to 1.1-1, downgrades
// p4 to 0.9-1 and removes p3.
class RepoFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    low = testing::make_sample_repo(dir / "low", 10, 300 * 1024, 3, "debian", true);
    s1 = low.snapshot;
    b1 = export_bundle(1, {}, false, 256 * 1024);
    auto snap = low.store->get_snapshot(s1).value();
    auto batch = low.store->begin_batch().value();
    std::erase_if(snap.entries, [](const SnapshotEntry& e) {
      return e.path == "pool/main/p2.deb" || e.path == "pool/main/p3.deb" ||
             e.path == "pool/main/p4.deb";
    });
    int seed = 77;
    for (std::string name : {"new0", "new1", "p2_1.1-1", "p4_0.9-1"}) {
      auto data = testing::random_bytes(50000 + seed, seed);
      ++seed;
      snap.entries.push_back(
          {"pool/main/" + name + ".deb", batch.put_bytes(data).value(), data.size()});
    }
    testing::add_package_list(batch, snap);
    snap.synced_at += std::chrono::hours(1);
    s2 = batch.add_snapshot(snap).value();
    ASSERT_TRUE(batch.commit());
    b2 = export_bundle(2, manifest_sha(b1), false, 256 * 1024, {s2});
    b3_full = export_bundle(3, {}, true, 256 * 1024, {s2});
    home.dir = dir / "high";
    ASSERT_TRUE(Home::init(home.dir, "tester"));
    TrustPolicy trust;
    ASSERT_TRUE(trust.add({"alice", alice.public_key(), {}, {}}));
    ASSERT_TRUE(trust.save(home.trust_file()));
  }

  fs::path export_bundle(std::uint64_t seq, std::optional<Digest> previous, bool full,
                         std::uint64_t volume_size, std::vector<Digest> snaps = {},
                         std::string log_json = R"([{"n":0,"event":"sync","repo":"debian"}])") {
    ExportRequest r;
    r.store = low.store.get();
    r.snapshots = snaps.empty() ? std::vector<Digest>{s1} : snaps;
    r.stream = "debian";
    r.sequence = seq;
    r.previous = previous;
    r.full = full;
    if (!full && seq > 1) {
      auto m = Manifest::parse(testing::read_text(b1 / "manifest.json")).value();
      for (const auto& o : m.objects) r.exclude.push_back(o.sha256);
    }
    r.created = kCreated;
    r.expires = kCreated + std::chrono::hours(24 * 30);
    r.producer = "test";
    r.log_json = log_json;
    r.volume_size = volume_size;
    r.keys = {&alice};
    r.out_dir = dir / ("media" + std::to_string(seq) + (log_json.size() > 64 ? "-custom" : ""));
    fs::create_directories(r.out_dir);
    auto res = write_bundle(r);
    EXPECT_TRUE(res) << res.error().message;
    return res->dir;
  }

  static Digest manifest_sha(const fs::path& b) {
    return sha256(testing::read_text(b / "manifest.json"));
  }

  Result<ImportReport> import(std::vector<fs::path> dirs, ImportOptions opt = {}) {
    auto h = Home::open(home.dir, home.options);
    if (!h) return fail(h.error());
    opt.operator_name = "tester";
    opt.now = kCreated + std::chrono::hours(1);
    return (*h)->import(dirs, opt);
  }

  std::vector<json> log_records() { return testing::read_jsonl(home.log_file()); }

  TempDir dir;
  testing::SampleRepo low;
  Digest s1, s2;
  fs::path b1, b2, b3_full;
  PrivateKey alice = PrivateKey::generate().value();
  // Where the home is, and the Env it is opened with.
  struct {
    fs::path dir;
    HomeOptions options;
    fs::path trust_file() const { return dir / "trust.json"; }
    fs::path log_file() const { return dir / "log" / "transfer-000001.jsonl"; }
    fs::path staging() const { return dir / "staging"; }
    std::unique_ptr<Store> open_store() const { return Store::open(dir / "store").value(); }
  } home;
};

}  // namespace airlock::repo
