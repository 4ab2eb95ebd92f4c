// repo::Home, command by command, without starting a process: what each
// returns, what it logs, what it refuses, and that a crash anywhere in a
// trust change or a publish leaves the change and its record both there or
// both absent.
#include <fstream>
#include <sstream>

#include "airlock/repo/output.h"
#include "crash_points.h"
#include "repo_fixture.h"

namespace airlock::repo {
namespace {

class HomeTest : public RepoFixture {
 protected:
  std::unique_ptr<Home> open() { return Home::open(home.dir, home.options).value(); }

  std::vector<json> events(const std::string& event) {
    std::vector<json> out;
    for (auto& r : log_records()) {
      if (r["event"] == event) out.push_back(r);
    }
    return out;
  }

  void expect_log_verifies() {
    auto v = open()->verify_log();
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(v->uncovered, 0u);
  }

  ChangeInfo who{"olga", "tested", "CHG-1"};
};

TEST_F(HomeTest, InitIsIdempotentAndOpenNamesInit) {
  auto again = Home::init(home.dir, "tester");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->new_key);
  EXPECT_FALSE(again->new_trust);
  EXPECT_EQ(events("init").size(), 1u);
  EXPECT_EQ(events("init")[0]["side"], "high");
  auto missing = Home::open(dir / "nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::not_found);
  EXPECT_EQ(missing.error().message, "no repository home at " + (dir / "nowhere").string() +
                                         " (run 'airlock-repo --home " +
                                         (dir / "nowhere").string() + " init')");
  auto none = Home::open("");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Code::invalid_input);
}

TEST_F(HomeTest, TrustChangesAreLoggedAndRefusalsChangeNothing) {
  auto bob = PrivateKey::generate().value();
  ASSERT_TRUE(bob.public_key().write_file(dir / "bob.pub"));
  auto h = open();
  auto added = h->trust_add({dir / "bob.pub", "bob", {}, {}}, who);
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(added->policy.keys.size(), 2u);
  const auto trust_before = testing::read_text(home.trust_file());
  const auto log_before = testing::read_text(home.log_file());
  auto twice = h->trust_add({dir / "bob.pub", "bob2", {}, {}}, who);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, Code::refused);
  EXPECT_NE(twice.error().message.find("is already trusted as 'bob'"), std::string::npos)
      << twice.error().message;
  auto zero = h->trust_threshold(0, who);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message, "the threshold must be from 1 to 1000");
  EXPECT_EQ(testing::read_text(home.trust_file()), trust_before);
  EXPECT_EQ(testing::read_text(home.log_file()), log_before);
  auto three = h->trust_threshold(3, who);
  ASSERT_TRUE(three);
  EXPECT_TRUE(three->unreachable_threshold);
  ASSERT_TRUE(h->trust_remove(bob.public_key().id(), who));
  EXPECT_EQ(h->trust().value().keys.size(), 1u);
  auto records = events("trust");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0]["action"], "add");
  EXPECT_EQ(records[0]["name"], "bob");
  EXPECT_EQ(records[0]["operator"], "olga");
  EXPECT_EQ(records[1]["from"], 1);
  EXPECT_EQ(records[1]["threshold"], 3);
  EXPECT_EQ(records[2]["keyid"], bob.public_key().id().hex());
  h.reset();
  expect_log_verifies();
}

TEST_F(HomeTest, ChannelsPublishPromoteRollbackAndStatus) {
  ASSERT_TRUE(import({b1}));
  ASSERT_TRUE(import({b2}));
  auto h = open();
  EXPECT_EQ(h->snapshots().value().size(), 2u);
  ASSERT_TRUE(h->publish("debian", s1, "test", who));
  ASSERT_TRUE(h->publish("debian", s2, "test", who));
  auto wrong = h->publish("other", s1, "test", who);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message,
            "snapshot " + s1.hex() + " is of repository 'debian', not 'other'");
  auto promoted = h->promote("test", "prod", {}, who);
  ASSERT_TRUE(promoted);
  EXPECT_EQ(promoted->at(0).snapshot, s2);
  auto empty = h->promote("tset", "prod", {}, who);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, Code::not_found);
  auto back = h->rollback("test", {}, who);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at(0).snapshot, s1);
  auto none = h->rollback("test", {}, who);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message,
            "channel 'test' has no earlier snapshot of 'debian' to roll back to");
  auto status = h->status().value();
  EXPECT_EQ(status.streams.size(), 1u);
  EXPECT_EQ(status.streams[0].sequence, 2u);
  EXPECT_EQ(status.channels.size(), 2u);
  EXPECT_EQ(status.log_records, h->log().size());
  std::ostringstream text;
  print_status(text, status);
  EXPECT_NE(text.str().find("channel    prod/debian -> " + s2.hex()), std::string::npos)
      << text.str();
  EXPECT_EQ(to_json(status)["streams"][0]["stream"], "debian");
  EXPECT_EQ(events("publish").size(), 2u);
  EXPECT_EQ(events("promote").size(), 1u);
  EXPECT_EQ(events("promote")[0]["from"], "test");
  EXPECT_EQ(events("rollback")[0]["previous"], s2.hex());
  h.reset();
  expect_log_verifies();
}

TEST_F(HomeTest, ScrubReportsACorruptObjectAndIsLogged) {
  ASSERT_TRUE(import({b1}));
  auto h = open();
  auto clean = h->scrub(who);
  ASSERT_TRUE(clean);
  EXPECT_TRUE(clean->ok());
  const auto snap = h->store().get_snapshot(s1).value();
  const auto victim = snap.entries.front().sha256.hex();
  fs::permissions(home.dir / "store" / "objects" / victim.substr(0, 2) / victim,
                  fs::perms::owner_write, fs::perm_options::add);
  testing::write_text(home.dir / "store" / "objects" / victim.substr(0, 2) / victim, "flipped");
  auto dirty = h->scrub(who);
  ASSERT_TRUE(dirty);
  ASSERT_EQ(dirty->corrupt.size(), 1u);
  EXPECT_NE(dirty->corrupt[0].message.find("expected sha256 " + victim), std::string::npos);
  auto records = events("scrub");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["corrupt"], 1);
}

TEST_F(HomeTest, InvalidUtf8FromTheCommandLineAndTheMediaIsLoggedEscaped) {
  const std::string bad = "\xff\xfe";
  const fs::path renamed = b1.parent_path() / ("airlock-debian-000001" + bad);
  fs::rename(b1, renamed);
  ImportOptions opt;
  opt.media_label = "USB" + bad;
  opt.reason = "why" + bad;
  opt.publish = "test";
  auto h = open();
  opt.operator_name = "olga" + bad;
  opt.now = kCreated + std::chrono::hours(1);
  auto r = h->import({renamed}, opt);
  ASSERT_TRUE(r) << r.error().message;
  auto records = events("import");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["operator"], "olga\\xff\\xfe");
  EXPECT_EQ(records[0]["media_label"], "USB\\xff\\xfe");
  EXPECT_EQ(records[0]["reason"], "why\\xff\\xfe");
  // A refusal naming the directory is logged escaped too.
  auto trust = TrustPolicy();
  ASSERT_TRUE(trust.save(home.trust_file()));
  opt.publish.reset();
  auto refused = h->import({renamed}, opt);
  ASSERT_FALSE(refused);
  records = events("import");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["bundle"], "airlock-debian-000001\\xff\\xfe");
  h.reset();
  expect_log_verifies();
}

TEST_F(HomeTest, ACustodyRecordTooLargeForTheLogIsRefusedBeforeAnythingCommits) {
  auto custody = [](std::size_t blob) {
    return json::array({{{"n", 0}, {"event", "sync"}, {"blob", std::string(blob, 'x')}}}).dump();
  };
  const auto big = export_bundle(1, {}, false, 4 << 20, {}, custody(kMaxLogLine - 100));
  const auto store_before = testing::store_fingerprint(home.dir / "store");
  auto r = import({big});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::limit);
  EXPECT_EQ(exit_code(r.error()), 3);
  EXPECT_NE(
      r.error().message.find("bundle airlock-debian-000001: the 'custody' log record would be"),
      std::string::npos)
      << r.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), store_before);
  auto refusals = events("import");
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0]["result"], "refused");
  auto h = open();  // the home opens; nothing is pending
  EXPECT_TRUE(h->store().list_meta("pending-log/")->empty());
  EXPECT_FALSE(channel_snapshot(h->store(), "test", "debian"));
  h.reset();
  expect_log_verifies();
  // One that fits is carried whole.
  fs::remove_all(big.parent_path());
  const auto fits = export_bundle(1, {}, false, 4 << 20, {}, custody(kMaxLogLine - 1000));
  ASSERT_TRUE(import({fits}));
  EXPECT_EQ(events("custody").size(), 1u);
}

TEST_F(HomeTest, ALogRecordThatIsNotJsonStopsShowAndExportNamingIt) {
  auto h = open();
  const auto n = h->log().size();
  const auto root = h->log().root();
  h.reset();
  std::ofstream(home.log_file(), std::ios::app)
      << "{\"n\":" << n << ",this is not json,\"prev_root\":\"" << root.hex() << "\"}\n";
  h = open();
  std::ostringstream out;
  for (auto format : {LogFormat::text, LogFormat::csv, LogFormat::jsonl}) {
    auto s = h->write_log({}, format, out);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::corrupt);
    EXPECT_EQ(exit_code(s.error()), 3);
    EXPECT_NE(s.error().message.find("record " + std::to_string(n) + " is not a JSON object"),
              std::string::npos)
        << s.error().message;
  }
}

// Killed before every durable operation of a change in turn: afterwards the
// change and its record are both there or both absent.
class HomeCrashTest : public HomeTest {
 protected:
  template <class Work, class Changed>
  void enumerate(Work work, Changed changed, const std::string& event) {
    const fs::path pristine = dir / "pristine";
    testing::restore_tree(home.dir, pristine);
    auto run = [&](Env& env) {
      home.options.env = &env;
      if (auto h = Home::open(home.dir, home.options)) (void)work(**h);
    };
    const auto points = testing::crash_points(run);
    ASSERT_GE(points.size(), 5u);
    for (const auto& point : points) {
      SCOPED_TRACE(testing::describe(point));
      testing::restore_tree(pristine, home.dir);
      ASSERT_TRUE(testing::run_killed_at(point, run));
      home.options.env = nullptr;
      auto h = open();
      EXPECT_EQ(changed(*h), !events(event).empty());
      auto v = h->verify_log();
      EXPECT_TRUE(v) << v.error().message;
    }
  }
};

TEST_F(HomeCrashTest, TrustChange) {
  auto bob = PrivateKey::generate().value();
  ASSERT_TRUE(bob.public_key().write_file(dir / "bob.pub"));
  enumerate(
      [&](Home& h) {
        return h.trust_add({dir / "bob.pub", "bob", {}, {}}, who);
      },
      [&](Home& h) { return h.trust().value().find(bob.public_key().id()) != nullptr; }, "trust");
}

TEST_F(HomeCrashTest, Publish) {
  ASSERT_TRUE(import({b1}));
  enumerate([&](Home& h) { return h.publish("debian", s1, "prod", who); },
            [&](Home& h) { return channel_snapshot(h.store(), "prod", "debian").has_value(); },
            "publish");
}

}  // namespace
}  // namespace airlock::repo
