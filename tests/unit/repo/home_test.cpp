// repo::Home, command by command, without starting a process: what each
// returns, what it logs, what it refuses, and that a crash anywhere in a
// trust change or a publish leaves the change and its record both there or
// both absent.
#include <algorithm>
#include <fstream>
#include <sstream>
#include <tuple>

#include "airlock/base/cli.h"
#include "airlock/repo/output.h"
#include "airlock/transfer/changes.h"
#include "airlock/transfer/log_command.h"
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

  // The message of a refusal ("(succeeded)" when there was none).
  template <class T>
  static std::string refusal(const Result<T>& r) {
    return r ? "(succeeded)" : r.error().message;
  }
  template <class T>
  static std::optional<Code> code(const Result<T>& r) {
    return r ? std::nullopt : std::optional<Code>(r.error().code);
  }
  // Runs change, which must be refused with code and message, and checks
  // that the store (channels included) and the log are as they were.
  template <class F>
  void expect_refused(F change, Code want, const std::string& message) {
    const auto store_before = testing::store_fingerprint(home.dir / "store");
    const auto log_before = testing::read_text(home.log_file());
    auto r = change();
    EXPECT_EQ(refusal(r), message);
    EXPECT_EQ(code(r), want) << message;
    EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), store_before) << message;
    EXPECT_EQ(testing::read_text(home.log_file()), log_before) << message;
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
  EXPECT_EQ(twice.error().code, Code::conflict);
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
  ASSERT_TRUE(h->publish("debian", s1, "test", who, true));
  ASSERT_TRUE(h->publish("debian", s2, "test", who));
  auto wrong = h->publish("other", s1, "test", who);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message,
            "snapshot " + s1.hex() + " is of repository 'debian', not 'other'");
  auto promoted = h->promote("test", "prod", {}, who, true);
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
  testing::flip_object_byte(h->store(), snap.entries.front().sha256);
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
  opt.create = true;
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
    auto s = write_log_query(h->log(), {}, format, out);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, Code::corrupt);
    EXPECT_EQ(exit_code(s.error()), 3);
    EXPECT_NE(s.error().message.find("record " + std::to_string(n) + " is not a JSON object"),
              std::string::npos)
        << s.error().message;
  }
}

// --- looking inside: snapshots, diffs, channels and their history ---------------

TEST_F(HomeTest, ShowsASnapshotWithItsPackages) {
  ASSERT_TRUE(import({b1}));
  auto h = open();
  auto v = h->snapshot(s1.hex().substr(0, 8));
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->id, s1);
  const Snapshot& snap = v->snapshot;
  EXPECT_EQ(snap.repo, "debian");
  EXPECT_EQ(snap.upstream, "http://127.0.0.1/debian");
  EXPECT_FALSE(snap.filtered);
  EXPECT_EQ(snap.entries.size(), 11u);  // ten packages and their index
  ASSERT_EQ(snap.packages.size(), 10u);
  const auto& p3 = low.contents.at("pool/main/p3.deb");
  auto j = to_json(*v);
  EXPECT_EQ(j["id"], s1.hex());
  EXPECT_EQ(j["synced_at"], "2027-01-15T08:00:00Z");
  EXPECT_EQ(j["files"], 11);
  EXPECT_EQ(j["bytes"], snap.total_size());
  EXPECT_EQ(j["filtered"], false);
  EXPECT_EQ(j["packages"][3], json({{"name", "p3"},
                                    {"version", "1.0-1"},
                                    {"architecture", "amd64"},
                                    {"source", "p3"},
                                    {"size", p3.size()},
                                    {"sha256", sha256(p3).hex()},
                                    {"path", "pool/main/p3.deb"}}));
  std::ostringstream text;
  print_snapshot(text, *v);
  for (const std::string& line : std::vector<std::string>{
           "snapshot   " + s1.hex() + "\n", "repo       debian (apt)\n", "packages   10\n",
           "  p3  1.0-1  amd64  p3  " + cli::human_bytes(p3.size()) + "\n"}) {
    EXPECT_NE(text.str().find(line), std::string::npos) << line << text.str();
  }
}

TEST_F(HomeTest, DiffsTwoSnapshotsByPackageWithTheBundleRenderer) {
  ASSERT_TRUE(import({b1}));
  ASSERT_TRUE(import({b2}));
  auto h = open();
  auto d = h->diff(s1.hex().substr(0, 8), s2.hex().substr(0, 12));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->from, s1);
  EXPECT_EQ(d->to, s2);
  auto size = [&](const std::string& name) {
    return low.store->get_snapshot(s2).value().find("pool/main/" + name + ".deb")->size;
  };
  auto kib = [&](const std::string& name) { return cli::human_bytes(size(name)); };
  std::ostringstream text;
  print_diff(text, *d);
  EXPECT_EQ(text.str(), "from       " + s1.hex() + " (debian)\nto         " + s2.hex() +
                            " (debian)\n"
                            "debian: 2 added (" +
                            cli::human_bytes(size("new0") + size("new1")) + "), 1 upgraded (" +
                            kib("p2_1.1-1") + "), 1 downgraded (" + kib("p4_0.9-1") +
                            "), 1 removed\n"
                            "  added      new0 (amd64) 1.0-1  " +
                            kib("new0") + "\n  added      new1 (amd64) 1.0-1  " + kib("new1") +
                            "\n  upgraded   p2 (amd64) 1.0-1 -> 1.1-1  " + kib("p2_1.1-1") +
                            "\n  removed    p3 (amd64) 1.0-1\n"
                            "  downgraded p4 (amd64) 1.0-1 -> 0.9-1  " +
                            kib("p4_0.9-1") + "\n");
  auto j = to_json(*d);
  EXPECT_EQ(j["from"], json({{"id", s1.hex()}, {"repo", "debian"}}));
  EXPECT_EQ(j["to"], json({{"id", s2.hex()}, {"repo", "debian"}}));
  EXPECT_EQ(j["changes"], changes_json({d->changes}));
  ASSERT_EQ(j["changes"].size(), 1u);
  EXPECT_EQ(j["changes"][0]["upgraded"], 1);
  EXPECT_EQ(j["changes"][0]["packages"][2], json({{"change", "upgraded"},
                                                  {"name", "p2"},
                                                  {"architecture", "amd64"},
                                                  {"old", "1.0-1"},
                                                  {"new", "1.1-1"},
                                                  {"size", size("p2_1.1-1")}}));
  auto same = h->diff(s2.hex(), s2.hex());
  ASSERT_TRUE(same);
  std::ostringstream none;
  print_diff(none, *same);
  EXPECT_EQ(none.str(), "from       " + s2.hex() + " (debian)\nto         " + s2.hex() +
                            " (debian)\ndebian: no package changes\n");
}

TEST_F(HomeTest, SnapshotIdsTakeAUniquePrefixOfEightOrMoreHexDigits) {
  ASSERT_TRUE(import({b1}));
  auto h = open();
  const auto seven = s1.hex().substr(0, 7);
  const auto too_short =
      "'" + seven + "' is too short to name a snapshot: give 8 or more hex digits of its id";
  EXPECT_EQ(refusal(h->snapshot(seven)), too_short);
  EXPECT_EQ(refusal(h->diff(seven, s1.hex())), too_short);
  EXPECT_EQ(refusal(h->diff(s1.hex(), seven)), too_short);
  EXPECT_EQ(code(h->snapshot(seven)), Code::invalid_input);
  EXPECT_EQ(h->snapshot(s1.hex().substr(0, 8)).value().id, s1);
  EXPECT_EQ(h->resolve_snapshot(s1.hex().substr(0, 30)).value(), s1);
  EXPECT_EQ(h->snapshot(s1.hex()).value().id, s1);
  auto absent = h->snapshot(s2.hex().substr(0, 8));  // s2 is not imported yet
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code, Code::not_found);
  EXPECT_EQ(absent.error().message, "no snapshot '" + s2.hex().substr(0, 8) + "'");
  EXPECT_EQ(code(h->snapshot("not-an-id")), Code::not_found);
}

TEST_F(HomeTest, APrefixSeveralSnapshotsShareIsRefusedNamingHowMany) {
  ASSERT_TRUE(import({b1}));
  const auto [a, b] = [&] {
    auto store = home.open_store();
    return testing::put_snapshots_sharing_prefix(*store, 8);
  }();
  auto h = open();
  const auto store_before = testing::store_fingerprint(home.dir / "store");
  const auto log_before = testing::read_text(home.log_file());
  const auto prefix = a.hex().substr(0, 8);
  const auto ambiguous = "'" + prefix + "' matches 2 snapshots (" + a.hex().substr(0, 16) + ", " +
                         b.hex().substr(0, 16) + "): give more digits";
  EXPECT_EQ(refusal(h->snapshot(prefix)), ambiguous);
  EXPECT_EQ(code(h->snapshot(prefix)), Code::invalid_input);
  EXPECT_EQ(refusal(h->resolve_snapshot(prefix)), ambiguous);
  EXPECT_EQ(refusal(h->diff(s1.hex(), prefix)), ambiguous);
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), store_before);
  EXPECT_EQ(testing::read_text(home.log_file()), log_before);
  // One digit more than they share names each of them.
  const auto ha = a.hex(), hb = b.hex();
  const auto shared = std::mismatch(ha.begin(), ha.end(), hb.begin()).first - ha.begin();
  EXPECT_EQ(h->resolve_snapshot(ha.substr(0, shared + 1)).value(), a);
  EXPECT_EQ(h->snapshot(hb.substr(0, shared + 1)).value().id, b);
}

TEST_F(HomeTest, ANewChannelTakesCreateAndEveryCommandNamesAMissingOne) {
  ASSERT_TRUE(import({b1}));
  auto h = open();
  expect_refused([&] { return h->publish("debian", s1, "prod", who); }, Code::not_found,
                 "no channel 'prod' (there are no channels yet; pass --create to make a new one)");
  expect_refused([&] { return h->promote("test", "prod", {}, who, true); }, Code::not_found,
                 "no channel 'test' (there are no channels yet)");
  ASSERT_TRUE(h->publish("debian", s1, "prod", who, true));
  expect_refused([&] { return h->publish("debian", s1, "prdo", who); }, Code::not_found,
                 "no channel 'prdo'; did you mean 'prod'? (channels: prod; pass --create to make a "
                 "new one)");
  expect_refused([&] { return h->promote("prod", "staging", {}, who); }, Code::not_found,
                 "no channel 'staging' (channels: prod; pass --create to make a new one)");
  ASSERT_TRUE(h->promote("prod", "staging", {}, who, true));
  ASSERT_TRUE(h->promote("prod", "staging", {}, who));  // exists now
  const std::string missing = "no channel 'prdo'; did you mean 'prod'? (channels: prod, staging)";
  // The source of a promote is named even with --create: not "channel is empty".
  expect_refused([&] { return h->promote("prdo", "staging", {}, who); }, Code::not_found, missing);
  expect_refused([&] { return h->promote("prdo", "staging", {}, who, true); }, Code::not_found,
                 missing);
  expect_refused([&] { return h->rollback("prdo", {}, who); }, Code::not_found, missing);
  expect_refused([&] { return h->delete_channel("prdo", who); }, Code::not_found, missing);
  expect_refused([&] { return h->channel_history("prdo"); }, Code::not_found, missing);
  expect_refused([&] { return h->rollback("prod", {"other"}, who); }, Code::not_found,
                 "channel 'prod' has no repository 'other'");
  expect_refused([&] { return h->rollback("prod", {}, who); }, Code::conflict,
                 "channel 'prod' has no earlier snapshot of 'debian' to roll back to");
  const std::string bad_name =
      "channel name 'Prod' must be 1-32 characters of a-z 0-9 - _, starting with a letter";
  expect_refused([&] { return h->publish("debian", s1, "Prod", who, true); }, Code::invalid_input,
                 bad_name);
  expect_refused([&] { return h->promote("prod", "Prod", {}, who, true); }, Code::invalid_input,
                 bad_name);
  expect_refused([&] { return h->channel_history("Prod"); }, Code::invalid_input, bad_name);
  expect_refused([&] { return h->delete_channel("Prod", who); }, Code::invalid_input, bad_name);
  EXPECT_EQ(events("publish").size(), 1u);
  EXPECT_EQ(events("promote").size(), 2u);
}

TEST_F(HomeTest, DeletingAChannelIsLoggedKeepsItsHistoryAndStopsServingIt) {
  ASSERT_TRUE(import({b1}));
  ASSERT_TRUE(import({b2}));
  auto h = open();
  ASSERT_TRUE(h->publish("debian", s2, "test", who, true));
  ASSERT_TRUE(h->promote("test", "prod", {}, who, true));
  RequestHandler server(h->store());
  EXPECT_EQ(server.handle({"GET", "/test/debian/pool/main/p1.deb", "", "", ""}).status, 200);
  auto gone = h->delete_channel("test", {"olga", "retired", "CHG-9"});
  ASSERT_TRUE(gone) << gone.error().message;
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ(gone->at(0).snapshot, s2);
  EXPECT_EQ(server.handle({"GET", "/test/debian/pool/main/p1.deb", "", "", ""}).status, 404);
  EXPECT_EQ(server.handle({"GET", "/prod/debian/pool/main/p1.deb", "", "", ""}).status, 200);
  auto left = h->channels().value();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].channel, "prod");
  auto records = events("delete");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["channel"], "test");
  EXPECT_EQ(records[0]["snapshot"], nullptr);
  EXPECT_EQ(records[0]["previous"], s2.hex());
  EXPECT_EQ(records[0]["operator"], "olga");
  EXPECT_EQ(records[0]["reason"], "retired");
  EXPECT_EQ(records[0]["change_ref"], "CHG-9");
  auto history = h->channel_history("test").value();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].action, "delete");
  EXPECT_EQ(history[1].before, s2);
  EXPECT_FALSE(history[1].after);
  EXPECT_EQ(history[1].changes.packages.size(), 11u);  // every package it served, removed
  EXPECT_EQ(history[1].changes.packages[0].change, "removed");
  expect_refused([&] { return h->delete_channel("test", who); }, Code::not_found,
                 "no channel 'test' (channels: prod)");
  expect_refused([&] { return h->rollback("test", {}, who); }, Code::not_found,
                 "no channel 'test' (channels: prod)");
  // Made again, it starts over: no rollback to before the delete.
  expect_refused([&] { return h->publish("debian", s1, "test", who); }, Code::not_found,
                 "no channel 'test' (channels: prod; pass --create to make a new one)");
  ASSERT_TRUE(h->publish("debian", s1, "test", who, true));
  expect_refused([&] { return h->rollback("test", {}, who); }, Code::conflict,
                 "channel 'test' has no earlier snapshot of 'debian' to roll back to");
  h.reset();
  expect_log_verifies();
}

TEST_F(HomeTest, HistoryShowsEveryChangeWithItsPackageDiff) {
  ImportOptions opt;
  opt.publish = "test";
  opt.create = true;
  opt.reason = "patch day";
  ASSERT_TRUE(import({b1}, opt));
  opt.create = false;
  ASSERT_TRUE(import({b2}, opt));
  auto h = open();
  ASSERT_TRUE(h->promote("test", "prod", {}, who, true));
  ASSERT_TRUE(h->publish("debian", s1, "prod", who));
  ASSERT_TRUE(h->rollback("prod", {}, {"olga", "regression", "INC-7"}));
  // action, who, why, ticket, from, bundle, before, after, packages changed
  using Summary =
      std::tuple<std::string, std::string, std::string, std::string, std::string, std::string,
                 std::optional<Digest>, std::optional<Digest>, std::size_t>;
  auto summary = [](const std::vector<ChannelChange>& history) {
    std::vector<Summary> out;
    for (const auto& c : history) {
      out.emplace_back(c.action, c.operator_name, c.reason, c.change_ref, c.from, c.bundle,
                       c.before, c.after, c.changes.packages.size());
    }
    return out;
  };
  auto test = h->channel_history("test").value();
  EXPECT_EQ(summary(test),
            (std::vector<Summary>{
                {"import", "tester", "patch day", "", "", "airlock-debian-000001", {}, s1, 10},
                {"import", "tester", "patch day", "", "", "airlock-debian-000002", s1, s2, 5}}));
  auto prod = h->channel_history("prod").value();
  EXPECT_EQ(summary(prod),
            (std::vector<Summary>{{"promote", "olga", "tested", "CHG-1", "test", "", {}, s2, 11},
                                  {"publish", "olga", "tested", "CHG-1", "", "", s2, s1, 5},
                                  {"rollback", "olga", "regression", "INC-7", "", "", s1, s2, 5}}));
  std::ostringstream text;
  print_channel_history(text, prod);
  EXPECT_NE(text.str().find("prod/debian  promote from test\n  by       olga\n"
                            "  why      tested [CHG-1]\n  before   none\n  after    " +
                            s2.hex() + "\n"),
            std::string::npos)
      << text.str();
  // Back from s2 to s1, nested under the change with the bundle renderer.
  auto size = [&](const char* name) {
    return cli::human_bytes(low.contents.at(std::string("pool/main/") + name + ".deb").size());
  };
  EXPECT_NE(text.str().find("  after    " + s1.hex() + "\n  debian: 1 added (" + size("p3") +
                            "), 1 upgraded (" + size("p4") + "), 1 downgraded (" + size("p2") +
                            "), 2 removed\n    removed    new0 (amd64) 1.0-1\n"),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("\n    downgraded p2 (amd64) 1.1-1 -> 1.0-1  " + size("p2") + "\n"),
            std::string::npos);
  EXPECT_EQ(h->channel_history().value().size(), 5u);
  auto j = to_json(prod);
  EXPECT_EQ(j[0]["from"], "test");
  EXPECT_EQ(j[0]["bundle"], nullptr);
  EXPECT_EQ(j[0]["before"], nullptr);
  EXPECT_EQ(j[2]["after"], s2.hex());
  EXPECT_EQ(j[2]["changes"], changes_json({prod[2].changes}));
  EXPECT_EQ(j[2]["changes"][0]["packages"].size(), 5u);
  EXPECT_EQ(to_json(test)[0]["bundle"], "airlock-debian-000001");
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
  enumerate([&](Home& h) { return h.publish("debian", s1, "prod", who, true); },
            [&](Home& h) { return channel_snapshot(h.store(), "prod", "debian").has_value(); },
            "publish");
}

TEST_F(HomeCrashTest, ChannelDelete) {
  ASSERT_TRUE(import({b1}));
  ASSERT_TRUE(open()->publish("debian", s1, "prod", who, true));
  enumerate([&](Home& h) { return h.delete_channel("prod", who); },
            [&](Home& h) { return !channel_snapshot(h.store(), "prod", "debian").has_value(); },
            "delete");
}

}  // namespace
}  // namespace airlock::repo
