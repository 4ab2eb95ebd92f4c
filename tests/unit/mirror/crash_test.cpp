// Killed before every durable operation a sync, an export and a keygen make
// in turn: once the home is opened again, the change and its record are both
// there or both absent, and the log verifies.
#include <gtest/gtest.h>

#include "crash_points.h"
#include "mirror_fixture.h"

namespace airlock::mirror {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class MirrorCrashTest : public testing::LowSideTest {
 protected:
  void SetUp() override {
    LowSideTest::SetUp();
    configure("hello-*");  // one small pool file keeps the runs short
  }

  // The records of event in the log.
  std::vector<json> events(const std::string& event) const {
    std::vector<json> out;
    for (const auto& r : records()) {
      if (r.value("event", "") == event) out.push_back(r);
    }
    return out;
  }

  // Runs work killed at every point, restoring the pristine home (and
  // removing the media) first; check sees the reopened home and says
  // whether the change landed. Returns how many points it enumerated.
  std::size_t kill_everywhere(const std::function<void(Env&)>& work,
                              const std::function<bool(Home&)>& check) {
    const fs::path pristine = dir / "pristine";
    airlock::testing::restore_tree(home_dir, pristine);
    const auto points = airlock::testing::crash_points(work);
    std::size_t landed = 0, killed = 0;
    for (const auto& point : points) {
      SCOPED_TRACE(airlock::testing::describe(point));
      airlock::testing::restore_tree(pristine, home_dir);
      std::error_code ec;
      fs::remove_all(dir / "media", ec);
      // A sync fetches concurrently: how many files a run writes, and so
      // the last points of a kind, can shift with timing (a retried
      // request under load). A point a run does not reach leaves a run
      // that finished, which must hold too.
      killed += airlock::testing::run_killed_at(point, work);
      auto home = open();  // finishes what the dead process left pending
      if (!home) continue;
      landed += check(*home);
      auto v = home->verify_log();
      EXPECT_TRUE(v) << v.error().message;
    }
    EXPECT_GE(killed * 10, points.size() * 9);  // nearly every point was reached
    EXPECT_GT(landed, 0u);                      // some points come after the commit
    EXPECT_LT(landed, points.size());           // and some before it
    return points.size();
  }
};

TEST_F(MirrorCrashTest, KilledAnywhereInASyncLeavesTheSnapshotAndItsRecordBothOrNeither) {
  auto work = [&](Env& env) {
    auto home = open(&env);
    if (home) (void)home->sync({}, request());
  };
  const auto n = kill_everywhere(work, [&](Home& home) {
    auto snaps = home.snapshots();
    EXPECT_TRUE(snaps);
    auto syncs = events("sync");
    if (!snaps || snaps->empty()) {
      EXPECT_TRUE(syncs.empty());
      return false;
    }
    EXPECT_EQ(snaps->size(), 1u);
    EXPECT_EQ(syncs.size(), 1u);  // logged exactly once, even when the process died before logging
    if (!syncs.empty()) {
      EXPECT_EQ(syncs[0]["snapshot"], snaps->front().id.hex());
    }
    return true;
  });
  EXPECT_GE(n, 20u);
  std::printf("sync: %zu crash points\n", n);
  // After the last crash a sync completes.
  auto home = open();
  EXPECT_TRUE(sync(*home).snapshot);
}

TEST_F(MirrorCrashTest, KilledAnywhereInAnExportLeavesTheStreamAndItsRecordBothOrNeither) {
  {
    auto home = open();
    sync(*home);
  }
  auto work = [&](Env& env) {
    auto home = open(&env);
    if (home) (void)home->export_stream(export_options());
  };
  const auto n = kill_everywhere(work, [&](Home& home) {
    auto state = stream_state(home.store(), "sample");
    EXPECT_TRUE(state);
    auto exports = events("export");
    if (!state || state->sequence == 0) {
      EXPECT_TRUE(exports.empty());
      return false;
    }
    EXPECT_EQ(state->sequence, 1u);
    EXPECT_EQ(exports.size(), 1u);
    if (!exports.empty()) {
      EXPECT_EQ(exports[0]["manifest"], state->manifests.at(0).hex());
      EXPECT_EQ(exports[0]["n"], state->log_size);  // it crosses with the next bundle
    }
    EXPECT_TRUE(home.store().contains(state->manifests.at(0)).value_or(false));
    return true;
  });
  EXPECT_GE(n, 20u);
  std::printf("export: %zu crash points\n", n);
}

TEST_F(MirrorCrashTest, KilledAnywhereInAKeygenLeavesTheKeyAndItsRecordBothOrNeither) {
  auto work = [&](Env& env) {
    auto home = open(&env);
    if (home) (void)home->keygen("carol", who);
  };
  const fs::path key_file = home_dir / "keys" / "carol.key";
  const auto n = kill_everywhere(work, [&](Home& home) {
    std::vector<json> keygens;
    for (const auto& r : events("keygen")) {
      if (r["name"] == "carol") keygens.push_back(r);
    }
    if (!fs::exists(key_file)) {
      EXPECT_TRUE(keygens.empty());
      auto again = home.keygen("carol", who);  // an interrupted keygen can be run again
      EXPECT_TRUE(again) << again.error().message;
      return false;
    }
    auto key = home.load_key("carol");
    EXPECT_TRUE(key) << key.error().message;
    EXPECT_EQ(keygens.size(), 1u);
    if (key && !keygens.empty()) {
      EXPECT_EQ(keygens[0]["keyid"], key->public_key().id().hex());
      EXPECT_EQ(PublicKey::read_file(home_dir / "keys" / "carol.pub")->id(),
                key->public_key().id());
    }
    return true;
  });
  EXPECT_GE(n, 5u);
  std::printf("keygen: %zu crash points\n", n);
}

}  // namespace
}  // namespace airlock::mirror
