// A writer killed with SIGKILL at any point of a batch leaves the store
// exactly as before (or, after commit, exactly as after), and the next open
// sweeps whatever the dead writer left on disk.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include "airlock/store/store.h"
#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

struct CrashPoint {
  const char* op;           // FaultEnv operation, "now" (start of commit) or "after_commit"
  int count;                // die before the count-th such operation
  bool lands;               // whether the batch is expected to be in the store afterwards
  bool named_temp = false;  // the filesystem makes no unnamed files: temporary files in tmp/
};

std::ostream& operator<<(std::ostream& os, const CrashPoint& p) {
  return os << p.op << "#" << p.count << (p.named_temp ? " (named temporary files)" : "");
}

class CrashTest : public ::testing::TestWithParam<CrashPoint> {};

struct State {
  std::map<std::string, std::string> objects_dir;
  std::set<Digest> indexed;
  std::vector<std::pair<std::string, Digest>> refs;
  bool operator==(const State&) const = default;
};

State capture(const fs::path& dir) {
  auto store = Store::open(dir).value();
  State s;
  s.objects_dir = testing::tree_fingerprint(dir / "objects");
  auto objects = store->list_objects().value();
  for (auto& o : objects) s.indexed.insert(o.id);
  s.refs = store->list_refs().value();
  return s;
}

// More than the store's group-sync threshold, so commit flushes the filesystem once.
constexpr int kObjects = 12;

// Each too large to be packed.
std::string payload(int i) { return testing::random_bytes(kPackedObjectMax + 1 + i, 100 + i); }
// Each packed: the pack is written (one write) and named at commit.
std::string small_payload(int i) { return testing::random_bytes(4096 + i, 200 + i); }

// The batch the child runs: kObjects new objects in files of their own,
// kObjects packed, one already present, a ref.
Status run_batch(Store& store) {
  auto batch = store.begin_batch();
  if (!batch) return fail(batch.error());
  for (int i = 0; i < kObjects; ++i) {
    if (auto id = batch->put_bytes(payload(i)); !id) return fail(id.error());
    if (auto id = batch->put_bytes(small_payload(i)); !id) return fail(id.error());
  }
  if (auto id = batch->put_bytes("existing"); !id) return fail(id.error());
  batch->set_ref("channel/test/debian", sha256(payload(0)), "import");
  return batch->commit();
}

TEST_P(CrashTest, KilledWriterLeavesStoreAsBeforeOrAfter) {
  const CrashPoint point = GetParam();
  TempDir before_dir, crash_dir;
  for (const auto* d : {&before_dir, &crash_dir}) {
    auto store = Store::open(d->path()).value();
    ASSERT_TRUE(store->put_bytes("existing"));
    ASSERT_TRUE(
        store->set_ref("channel/test/debian", sha256(std::string_view("existing")), "seed"));
  }
  // The expected "after" state: the same batch run to completion elsewhere.
  TempDir after_dir;
  {
    auto store = Store::open(after_dir.path()).value();
    ASSERT_TRUE(store->put_bytes("existing"));
    ASSERT_TRUE(
        store->set_ref("channel/test/debian", sha256(std::string_view("existing")), "seed"));
    ASSERT_TRUE(run_batch(*store));
  }
  const State before = capture(crash_dir.path());
  const State after = capture(after_dir.path());
  ASSERT_NE(before, after);

  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    testing::FaultEnv env;
    env.unnamed_files = !point.named_temp;
    env.before = [&](const std::string& op, int n) {
      if (op == point.op && n == point.count) ::raise(SIGKILL);
    };
    auto store = Store::open(crash_dir.path(), {.env = &env});
    if (!store) ::_exit(2);
    if (!run_batch(**store)) ::_exit(3);
    if (std::string(point.op) == "after_commit") ::raise(SIGKILL);
    ::_exit(0);  // the crash point was never reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);

  const State recovered = capture(crash_dir.path());  // reopening sweeps
  EXPECT_EQ(recovered, point.lands ? after : before);
  EXPECT_TRUE(testing::tree_fingerprint(crash_dir / "tmp").empty());
  EXPECT_FALSE(fs::exists(crash_dir / "dirty"));
  auto store = Store::open(crash_dir.path()).value();
  EXPECT_TRUE(store->scrub()->ok());
  // And the store still works: the batch can be run again.
  ASSERT_TRUE(run_batch(*store));
  EXPECT_EQ(store->object_count().value(), 2 * kObjects + 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Points, CrashTest,
    ::testing::Values(CrashPoint{"write", 1, false},     // first object half-way
                      CrashPoint{"sync_dir", 1, false},  // the marker not yet durable
                      CrashPoint{"link", 1, false},      // marker durable, nothing named
                      CrashPoint{"write", 7, false},     // several objects named, unindexed
                      CrashPoint{"link", 6, false},      // five named, not durable
                      CrashPoint{"write", 13, false},    // files named, the pack unwritten
                      CrashPoint{"link", 13, false},     // the pack written, not named
                      CrashPoint{"sync_fs", 1, false},   // all named, not yet durable
                      CrashPoint{"now", 1, false},       // index commit about to start
                      CrashPoint{"after_commit", 0, true},
                      CrashPoint{"write", 7, false, true},    // several objects in tmp/
                      CrashPoint{"sync_fs", 1, false, true},  // all written, not yet durable
                      CrashPoint{"rename", 1, false, true},   // durable, none placed
                      CrashPoint{"rename", 2, false, true},   // the pack placed, no file
                      CrashPoint{"rename", 6, false, true},   // four placed, unindexed
                      CrashPoint{"sync_fs", 2, false, true},  // all placed, not flushed
                      CrashPoint{"now", 1, false, true}, CrashPoint{"after_commit", 0, true, true}),
    [](const auto& info) {
      return std::string(info.param.op) + "_" + std::to_string(info.param.count) +
             (info.param.named_temp ? "_named_temp" : "");
    });

// A small batch fsyncs each file and directory instead of the whole filesystem.
TEST(CrashRecovery, SmallBatchSyncsFilesOneByOne) {
  TempDir dir;
  testing::FaultEnv env;
  std::map<std::string, int> ops;
  env.before = [&](const std::string& op, int) { ++ops[op]; };
  auto store = Store::open(dir.path(), {.env = &env}).value();
  {
    auto batch = store->begin_batch({.pack_small = false}).value();
    ASSERT_TRUE(batch.put_bytes("a"));
    ASSERT_TRUE(batch.put_bytes("b"));
    ASSERT_TRUE(batch.commit());
  }
  EXPECT_EQ(ops["sync"], 2);
  EXPECT_EQ(ops["link"], 2);
  EXPECT_EQ(ops["rename"], 0);
  EXPECT_EQ(ops["sync_fs"], 0);
  EXPECT_GE(ops["sync_dir"], 2);  // the marker's directory and each shard
  // Packed: one pack, synced and named once.
  ops.clear();
  {
    auto batch = store->begin_batch().value();
    ASSERT_TRUE(batch.put_bytes("c"));
    ASSERT_TRUE(batch.put_bytes("d"));
    ASSERT_TRUE(batch.commit());
  }
  EXPECT_EQ(ops["write"], 1);
  EXPECT_EQ(ops["sync"], 1);
  EXPECT_EQ(ops["link"], 1);
  EXPECT_EQ(ops["sync_fs"], 0);
  EXPECT_EQ(store->read(sha256(std::string_view("d"))).value(), "d");
}

TEST(CrashRecovery, WithoutUnnamedFilesObjectsWaitInTmpUntilCommit) {
  TempDir dir;
  testing::FaultEnv env;
  env.unnamed_files = false;
  std::map<std::string, int> ops;
  env.before = [&](const std::string& op, int) { ++ops[op]; };
  auto store = Store::open(dir.path(), {.env = &env}).value();
  auto batch = store->begin_batch().value();
  auto id = batch.put_bytes("a").value();
  EXPECT_EQ(testing::tree_fingerprint(dir / "tmp").size(), 1u);
  EXPECT_TRUE(testing::tree_fingerprint(dir / "objects").empty());
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(ops["rename"], 1);
  EXPECT_EQ(ops["link"], 0);
  EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
  EXPECT_EQ(store->read(id).value(), "a");
}

TEST(CrashRecovery, AFinishedObjectIsNamedAtOnceAndAnAbandonedBatchRemovesIt) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  const auto path = dir / "objects" / sha256(std::string_view("a")).hex().substr(0, 2) /
                    sha256(std::string_view("a")).hex();
  {
    auto batch = store->begin_batch({.pack_small = false}).value();
    ASSERT_TRUE(batch.put_bytes("a"));
    EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
    EXPECT_EQ(testing::read_text(path), "a");
    EXPECT_TRUE(fs::exists(dir / "dirty"));
    EXPECT_FALSE(store->contains(sha256(std::string_view("a"))).value());
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(dir / "dirty"));
  // A pack has no name until commit: an abandoned one leaves nothing.
  {
    auto batch = store->begin_batch().value();
    ASSERT_TRUE(batch.put_bytes("a"));
    EXPECT_EQ(batch.read(sha256(std::string_view("a"))).value(), "a");
  }
  EXPECT_TRUE(testing::tree_fingerprint(dir / "objects").empty());
  EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
  EXPECT_FALSE(fs::exists(dir / "dirty"));
}

TEST(CrashRecovery, OpenSweepsLeftoverTempFilesAndUnindexedBlobs) {
  TempDir dir;
  Digest keep;
  {
    auto store = Store::open(dir.path()).value();
    keep = store->put_bytes("keep").value();
  }
  // Debris as a dead writer leaves it: a temp file, an unindexed blob, the marker.
  testing::write_text(dir / "tmp" / "obj-abc123", "half written");
  auto orphan = sha256(std::string_view("orphan"));
  fs::create_directories(dir / "objects" / orphan.hex().substr(0, 2));
  testing::write_text(dir / "objects" / orphan.hex().substr(0, 2) / orphan.hex(), "orphan");
  testing::write_text(dir / "objects" / "packs" / "0000000000000002.pack", "orphan pack");
  testing::write_text(dir / "objects" / "packs" / "notes.txt", "not ours");
  testing::write_text(dir / "dirty", "");
  auto store = Store::open(dir.path()).value();
  EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
  EXPECT_FALSE(fs::exists(dir / "objects" / orphan.hex().substr(0, 2) / orphan.hex()));
  EXPECT_FALSE(fs::exists(dir / "objects" / "packs" / "0000000000000002.pack"));
  EXPECT_TRUE(fs::exists(dir / "objects" / "packs" / "0000000000000001.pack"));  // keep's
  EXPECT_TRUE(fs::exists(dir / "objects" / "packs" / "notes.txt"));
  EXPECT_FALSE(fs::exists(dir / "dirty"));
  EXPECT_EQ(store->read(keep).value(), "keep");
}

TEST(CrashRecovery, OpenDoesNotSweepWhileAnotherWriterIsActive) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto batch = store->begin_batch({.pack_small = false}).value();
  auto id = batch.put_bytes("in flight").value();
  // A second handle (as another process would) opens while the batch is open.
  ASSERT_EQ(testing::tree_fingerprint(dir / "objects").size(), 1u);
  ASSERT_TRUE(fs::exists(dir / "dirty"));
  auto other = Store::open(dir.path()).value();
  EXPECT_EQ(testing::tree_fingerprint(dir / "objects").size(), 1u);
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(other->read(id).value(), "in flight");
}

}  // namespace
}  // namespace airlock
