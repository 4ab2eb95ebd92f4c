// The commit-and-log protocol: a change and its records are both there or
// both absent, whatever fails or wherever the process dies.
#include "airlock/transfer/ledger.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

class LedgerTest : public ::testing::Test {
 protected:
  struct Home {
    std::unique_ptr<Store> store;
    std::unique_ptr<TransferLog> log;
    std::unique_ptr<Ledger> ledger;
  };

  Home open(Env* env = nullptr) {
    Home h;
    StoreOptions so;
    so.env = env;
    h.store = Store::open(dir / "store", so).value();
    h.log = TransferLog::open(dir / "log", LogOptions{env}).value();
    h.ledger = std::make_unique<Ledger>(*h.store, *h.log, key, dir / "log" / "commit.lock",
                                        env ? *env : Env::system());
    return h;
  }

  std::vector<json> records() { return testing::read_jsonl(dir / "log" / "transfer-000001.jsonl"); }

  int count(const std::string& event) {
    int n = 0;
    for (const auto& r : records()) n += r["event"] == event;
    return n;
  }

  void expect_log_verifies() {
    std::vector<PublicKey> keys{key.public_key()};
    auto v = verify_log_file(dir / "log" / "transfer-000001.jsonl", keys);
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->uncovered, 0u);
  }

  // Commits meta "state" = value with one `change` record.
  static Status set_state(Ledger& ledger, const std::string& value) {
    auto change = ledger.begin();
    if (!change) return fail(change.error());
    auto batch = change->batch();
    if (!batch) return fail(batch.error());
    (*batch)->set_meta("state", value);
    return change->commit({{"change", {{"value", value}}}});
  }

  TempDir tmp;
  fs::path dir = tmp.path();
  PrivateKey key = PrivateKey::generate().value();
};

TEST_F(LedgerTest, CommitMakesTheChangeLogsItAndClearsThePendingMark) {
  auto h = open();
  ASSERT_TRUE(set_state(*h.ledger, "one"));
  EXPECT_EQ(h.store->get_meta("state").value(), "one");
  auto recs = records();
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["event"], "change");
  EXPECT_EQ(recs[0]["value"], "one");
  EXPECT_EQ(recs[1]["event"], "checkpoint");
  EXPECT_TRUE(h.store->list_meta("pending-log/")->empty());
  expect_log_verifies();
}

TEST_F(LedgerTest, RecordTooLargeForTheLogRefusesTheChangeBeforeAnythingIsWritten) {
  auto h = open();
  ASSERT_TRUE(set_state(*h.ledger, "one"));
  const auto store_before = testing::store_fingerprint(dir / "store");
  const auto log_before = testing::read_text(dir / "log" / "transfer-000001.jsonl");
  auto change = h.ledger->begin().value();
  (*change.batch())->set_meta("state", "two");
  auto s = change.commit({{"change", {{"blob", std::string(kMaxLogLine, 'x')}}}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::limit);
  EXPECT_NE(s.error().message.find("the 'change' log record would be"), std::string::npos)
      << s.error().message;
  EXPECT_NE(s.error().message.find("more than the log's limit of 1048576 bytes"),
            std::string::npos);
  // The same change can still record why it was refused.
  ASSERT_TRUE(change.record({{"refused", {{"reason", s.error().message}}}}));
  EXPECT_EQ(h.store->get_meta("state").value(), "one");
  EXPECT_EQ(testing::read_text(dir / "log" / "transfer-000001.jsonl").substr(0, log_before.size()),
            log_before);
  EXPECT_EQ(count("refused"), 1);
  EXPECT_EQ(count("change"), 1);
  expect_log_verifies();
  (void)store_before;
}

TEST_F(LedgerTest, InvalidUtf8IsEscapedNeverFatal) {
  auto h = open();
  const std::string bad = "disc\xff\xfe-1\xc3";
  ASSERT_TRUE(h.ledger->record({{"import", {{"media_label", bad}, {bad, "key too"}}}}));
  auto recs = records();
  EXPECT_EQ(recs[0]["media_label"], "disc\\xff\\xfe-1\\xc3");
  EXPECT_EQ(recs[0]["disc\\xff\\xfe-1\\xc3"], "key too");
  expect_log_verifies();
}

TEST_F(LedgerTest, RecoveryAppendsAPendingRecordOnceAndOnlyOnce) {
  {
    auto h = open();
    // A process that committed and died before logging: the pending entry alone.
    auto batch = h.store->begin_batch().value();
    batch.set_meta("state", "one");
    batch.set_meta(
        "pending-log/000000000001-00000001",
        json{{"records", {{{"event", "change"}, {"fields", {{"value", "one"}}}}}}, {"log_size", 0}}
            .dump());
    ASSERT_TRUE(batch.commit());
  }
  auto h = open();
  auto r = h.ledger->recover();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->appended, 1u);
  EXPECT_EQ(count("change"), 1);
  EXPECT_TRUE(h.store->list_meta("pending-log/")->empty());
  // A process that logged and died before clearing: found in the log, not appended twice.
  ASSERT_TRUE(h.store->set_meta(
      "pending-log/000000000002-00000002",
      json{{"records", {{{"event", "change"}, {"fields", {{"value", "one"}}}}}}, {"log_size", 0}}
          .dump()));
  r = h.ledger->recover();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->present, 1u);
  EXPECT_EQ(count("change"), 1);
  expect_log_verifies();
}

TEST_F(LedgerTest, RecoveryDropsAFileChangeThatNeverHappenedAndLogsDamagedEntries) {
  auto h = open();
  json effect{{"path", (dir / "trust.json").string()}, {"sha256", sha256("new policy").hex()}};
  ASSERT_TRUE(
      h.store->set_meta("pending-log/000000000001-00000001",
                        json{{"records", {{{"event", "trust"}, {"fields", json::object()}}}},
                             {"log_size", 0},
                             {"effect", effect}}
                            .dump()));
  ASSERT_TRUE(h.store->set_meta("pending-log/000000000002-00000002", "{not json"));
  auto r = h.ledger->recover();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->dropped, 1u);
  EXPECT_EQ(r->damaged, 1u);
  EXPECT_EQ(count("trust"), 0);
  auto recs = records();
  ASSERT_EQ(recs[0]["event"], "recovery");
  EXPECT_EQ(recs[0]["pending"], "pending-log/000000000002-00000002");
  EXPECT_EQ(recs[0]["problem"], "unreadable pending record");
  EXPECT_TRUE(h.store->list_meta("pending-log/")->empty());
  expect_log_verifies();
}

TEST_F(LedgerTest, RecoveryLeavesAChangeInFlightInAnotherProcessAlone) {
  auto h = open();
  auto change = h.ledger->begin().value();  // holds the change lock
  ASSERT_TRUE(h.store->set_meta(
      "pending-log/000000000001-00000001",
      json{{"records", {{{"event", "change"}, {"fields", json::object()}}}}, {"log_size", 0}}
          .dump()));
  auto other = open();
  auto r = other.ledger->recover();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->skipped);
  EXPECT_EQ(count("change"), 0);
  EXPECT_EQ(h.store->list_meta("pending-log/")->size(), 1u);
}

TEST_F(LedgerTest, FileChangeIsLoggedWithItsFileAndNotWithoutIt) {
  auto h = open();
  {
    auto change = h.ledger->begin().value();
    ASSERT_TRUE(
        change.commit_files({{dir / "policy.json", "v1", 0644, false}}, {{"trust", {{"v", 1}}}}));
  }
  EXPECT_EQ(testing::read_text(dir / "policy.json"), "v1");
  EXPECT_EQ(count("trust"), 1);
  testing::FaultEnv env;
  env.fail_if = [](const std::string& op, int) { return op == "rename"; };
  auto f = open(&env);
  auto failing = f.ledger->begin().value();
  ASSERT_FALSE(
      failing.commit_files({{dir / "policy.json", "v2", 0644, false}}, {{"trust", {{"v", 2}}}}));
  EXPECT_EQ(testing::read_text(dir / "policy.json"), "v1");
  EXPECT_EQ(count("trust"), 1);
  EXPECT_TRUE(h.store->list_meta("pending-log/")->empty());
}

// Every write, rename, sync and creation of a commit, and of a file change,
// killed in turn: after reopening, the change and its record are both there
// or both absent, and the log verifies.
class LedgerCrashTest : public LedgerTest, public ::testing::WithParamInterface<bool> {
 protected:
  // Runs the change in a child killed before the k-th operation op; false
  // when the change finished before reaching it.
  bool crash_at(const std::string& op, int k) {
    pid_t child = ::fork();
    if (child == 0) {
      testing::FaultEnv env;
      env.before = [&](const std::string& o, int n) {
        if (o == op && n == k) ::raise(SIGKILL);
      };
      auto h = open(&env);
      (void)run(*h.ledger, "two");
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFSIGNALED(status);
  }

  Status run(Ledger& ledger, const std::string& value) {
    if (!GetParam()) return set_state(ledger, value);
    auto change = ledger.begin();
    if (!change) return fail(change.error());
    return change->commit_files({{dir / "policy.json", value, 0644, false}},
                                {{"change", {{"value", value}}}});
  }

  std::string state() {
    if (!GetParam()) return Store::open(dir / "store").value()->get_meta("state").value_or("");
    return testing::read_text(dir / "policy.json");
  }
};

TEST_P(LedgerCrashTest, ChangeAndRecordAreBothThereOrBothAbsent) {
  std::map<std::string, int> ops;
  {
    // A dry run in a directory of its own counts the operations.
    TempDir probe;
    const fs::path real = std::exchange(dir, probe.path());
    testing::FaultEnv env;
    {
      auto h = open();
      ASSERT_TRUE(run(*h.ledger, "one"));
    }
    auto h = open(&env);
    ASSERT_TRUE(run(*h.ledger, "two"));
    ops = env.counts();
    dir = real;
  }
  int points = 0;
  for (const auto& [op, total] : ops) {
    if (op == "now") continue;
    for (int k = 1; k <= total; ++k) {
      SCOPED_TRACE(op + " #" + std::to_string(k));
      std::error_code ec;
      fs::remove_all(dir / "store", ec);
      fs::remove_all(dir / "log", ec);
      fs::remove(dir / "policy.json", ec);
      {
        auto h = open();
        ASSERT_TRUE(run(*h.ledger, "one"));
      }
      ASSERT_TRUE(crash_at(op, k));
      ++points;
      {
        auto h = open();
        auto r = h.ledger->recover();
        ASSERT_TRUE(r) << r.error().message;
      }
      const bool changed = state() == "two";
      int logged = 0;
      for (const auto& rec : records()) logged += rec["event"] == "change" && rec["value"] == "two";
      EXPECT_EQ(logged, changed ? 1 : 0) << "state " << state();
      expect_log_verifies();
    }
  }
  EXPECT_GE(points, 8);
}

INSTANTIATE_TEST_SUITE_P(Kinds, LedgerCrashTest, ::testing::Values(false, true),
                         [](const auto& info) {
                           return info.param ? std::string("FileChange")
                                             : std::string("StoreChange");
                         });

}  // namespace
}  // namespace airlock
