// Import on the isolated side: sequence rules, staging across media, and a
// process killed at several points leaving the store, the channels and the
// log as before or as after.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "crash_points.h"
#include "repo_fixture.h"

namespace airlock::repo {
namespace {

class ImportTest : public RepoFixture {
 protected:
  // A bundle carrying s1 recorded under snapshot_repo, whose manifest (edited
  // and signed again by alice) lists it as manifest_repo.
  fs::path forge_snapshot_repo(const std::string& snapshot_repo, const std::string& manifest_repo) {
    auto snap = low.store->get_snapshot(s1).value();
    snap.repo = snapshot_repo;
    auto batch = low.store->begin_batch().value();
    auto id = batch.add_snapshot(snap).value();
    EXPECT_TRUE(batch.commit());
    auto b =
        export_bundle(1, {}, false, 256 * 1024, {id},
                      R"([{"n":0,"event":"sync","repo":"debian","note":"forged repository"}])");
    auto text = testing::read_text(b / "manifest.json");
    const std::string listed = "\"repo\": \"" + snapshot_repo + "\"";
    for (auto at = text.find(listed); at != std::string::npos; at = text.find(listed)) {
      text.replace(at, listed.size(), "\"repo\": \"" + manifest_repo + "\"");
    }
    testing::write_text(b / "manifest.json", text);
    auto sig = alice.sign(text).value();
    testing::write_text(b / "manifest.sig.json",
                        signatures_to_json({{alice.public_key().id(), {sig.begin(), sig.end()}}}));
    return b;
  }
};

TEST_F(ImportTest, ImportsPublishesAndLogsWithTheChainOfCustody) {
  ImportOptions opt;
  opt.publish = "test";
  opt.create = true;
  opt.media_label = "USB-1";
  auto r = import({b1}, opt);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->already_imported);
  auto store = home.open_store();
  EXPECT_EQ(channel_snapshot(*store, "test", "debian").value(), s1);
  auto snap = store->get_snapshot(s1).value();
  for (const auto& e : snap.entries) EXPECT_TRUE(store->verify_object(e.sha256)) << e.path;
  auto records = log_records();
  bool imported = false, custody = false, published = false;
  for (const auto& rec : records) {
    if (rec["event"] == "import" && rec["result"] == "imported") {
      imported = true;
      EXPECT_EQ(rec["media_label"], "USB-1");
      EXPECT_EQ(rec["signers"], json::array({"alice"}));
    }
    custody |= rec["event"] == "custody" && rec["record"]["event"] == "sync";
    published |= rec["event"] == "publish" && rec["channel"] == "test";
  }
  EXPECT_TRUE(imported && custody && published);
  EXPECT_EQ(records.back()["event"], "checkpoint");
  EXPECT_TRUE(fs::is_empty(home.staging()));
}

TEST_F(ImportTest, PublishingToANewChannelTakesCreate) {
  const auto store_before = testing::store_fingerprint(home.dir / "store");
  const auto log_before = testing::read_text(home.log_file());
  ImportOptions opt;
  opt.publish = "test";
  auto r = import({b1}, opt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::not_found);
  EXPECT_EQ(r.error().message,
            "no channel 'test' (there are no channels yet; pass --create to make a new one)");
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), store_before);
  EXPECT_EQ(testing::read_text(home.log_file()), log_before);
  opt.create = true;
  ASSERT_TRUE(import({b1}, opt));
  // An existing channel takes the next bundle without --create; a typo does not.
  opt.create = false;
  opt.publish = "tset";
  const auto store_between = testing::store_fingerprint(home.dir / "store");
  const auto log_between = testing::read_text(home.log_file());
  auto typo = import({b2}, opt);
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().message,
            "no channel 'tset'; did you mean 'test'? (channels: test; pass --create to make a new "
            "one)");
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), store_between);
  EXPECT_EQ(testing::read_text(home.log_file()), log_between);
  opt.publish = "test";
  ASSERT_TRUE(import({b2}, opt));
  EXPECT_EQ(channel_snapshot(*home.open_store(), "test", "debian").value(), s2);
  // Each publish record names what the channel served before.
  std::vector<std::pair<json, json>> published;
  for (const auto& rec : log_records()) {
    if (rec["event"] == "publish") published.emplace_back(rec["previous"], rec["snapshot"]);
  }
  EXPECT_EQ(published,
            (std::vector<std::pair<json, json>>{{nullptr, s1.hex()}, {s1.hex(), s2.hex()}}));
}

TEST_F(ImportTest, SequenceRules) {
  auto gap = import({b2});
  ASSERT_FALSE(gap);
  EXPECT_EQ(gap.error().code, Code::refused);
  EXPECT_EQ(gap.error().message,
            "bundle airlock-debian-000002 skips sequence 1 of stream 'debian': import the missing "
            "bundle(s) first, "
            "or a full bundle");
  ASSERT_TRUE(import({b1}));
  auto again = import({b1});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->already_imported);
  ASSERT_TRUE(import({b2}));
  auto replay = import({b1});
  ASSERT_FALSE(replay);
  EXPECT_NE(replay.error().message.find("is already at sequence 2 (replayed or rolled back)"),
            std::string::npos);
  // The refusals were logged; nothing else changed.
  int refused = 0;
  for (const auto& rec : log_records())
    refused += rec["event"] == "import" && rec["result"] == "refused";
  EXPECT_EQ(refused, 2);
}

TEST_F(ImportTest, FullBundleClosesAGap) {
  auto r = import({b3_full});
  ASSERT_TRUE(r) << r.error().message;
  auto store = home.open_store();
  EXPECT_TRUE(store->get_snapshot(s2));
}

TEST_F(ImportTest, DeltaMustFollowTheLastImportedManifest) {
  ASSERT_TRUE(import({b1}));
  fs::remove_all(dir / "media2");
  auto wrong =
      export_bundle(2, sha256(std::string_view("some other manifest")), false, 256 * 1024, {s2});
  auto before = testing::store_fingerprint(home.dir / "store");
  auto r = import({wrong});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("does not follow the last imported bundle of stream 'debian'"),
            std::string::npos)
      << r.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), before);
}

// An unsafe name inside the snapshot itself (../../evil) is refused by
// Snapshot::parse, and already by the exporter: see snapshot_test.
TEST_F(ImportTest, RefusesASnapshotWhoseRepositoryIsNotTheManifests) {
  auto b = forge_snapshot_repo("other", "debian");
  auto before = testing::store_fingerprint(home.dir / "store");
  auto imports = [&] {
    std::vector<json> out;
    for (auto& rec : log_records())
      if (rec["event"] == "import") out.push_back(rec);
    return out;
  };
  auto records = imports().size();
  auto r = import({b});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_TRUE(r.error().message.starts_with("snapshot ")) << r.error().message;
  EXPECT_TRUE(r.error().message.ends_with(
      " is of repository 'other' but the manifest lists it as 'debian'"))
      << r.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), before);
  auto after = imports();
  ASSERT_EQ(after.size(), records + 1);  // the refusal, logged
  EXPECT_EQ(after.back()["result"], "refused");
  auto h = Home::open(home.dir, home.options).value();
  EXPECT_TRUE(h->channels().value().empty());
}

TEST_F(ImportTest, ASnapshotWithAnUnsafePathIsRefusedAsVerificationNotUsage) {
  // A validly signed bundle carrying a snapshot whose entry is ../etc/passwd.
  const std::string data = "payload";
  Snapshot snap;
  snap.repo = "debian";
  snap.kind = "files";
  snap.upstream = "http://127.0.0.1:1/x";
  snap.synced_at = kCreated;
  snap.entries = {{"aa/etc/passwd", sha256(data), data.size()}};
  auto snap_text = snap.to_canonical_json().value();
  snap_text.replace(snap_text.find("aa/etc"), 6, "../etc");
  std::vector<BundleObject> objects{{sha256(data), data.size()},
                                    {sha256(snap_text), snap_text.size()}};
  std::sort(objects.begin(), objects.end(),
            [](const BundleObject& a, const BundleObject& b) { return a.sha256 < b.sha256; });
  std::vector<testing::TarEntry> entries;
  for (const auto& o : objects)
    entries.emplace_back("objects/" + o.sha256.hex(), o.sha256 == sha256(data) ? data : snap_text);
  const auto volume = testing::zstd_compress(testing::make_tar(entries));
  Manifest m;
  m.stream = "debian";
  m.sequence = 1;
  m.kind = "full";
  m.created = kCreated;
  m.expires = kCreated + std::chrono::hours(24);
  m.producer = "test";
  m.snapshots = {{sha256(snap_text), "debian"}};
  m.changes = {{"debian", {}}};
  m.objects = objects;
  m.archive_size = tar_size_for(m.objects);
  m.volumes = {{"data.000", volume.size(), sha256(volume)}};
  auto b = dir / "unsafe" / bundle_dir_name(m.stream, m.sequence);
  fs::create_directories(b);
  testing::write_text(b / "data.000", volume);
  const auto raw = m.to_json();
  testing::write_text(b / "manifest.json", raw);
  auto sig = alice.sign(raw).value();
  testing::write_text(b / "manifest.sig.json",
                      signatures_to_json({{alice.public_key().id(), {sig.begin(), sig.end()}}}));
  auto before = testing::store_fingerprint(home.dir / "store");
  auto r = import({b});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_EQ(exit_code(r.error()), 3);
  EXPECT_TRUE(r.error().message.ends_with("'../etc/passwd' is not a safe relative path"))
      << r.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), before);
  auto recs = log_records();
  auto last = std::find_if(recs.rbegin(), recs.rend(),
                           [](const json& x) { return x["event"] == "import"; });
  ASSERT_NE(last, recs.rend());
  EXPECT_EQ((*last)["result"], "refused");
}

TEST_F(ImportTest, VolumesOverSeveralDiscsAndCalls) {
  auto m = Manifest::parse(testing::read_text(b1 / "manifest.json")).value();
  ASSERT_GE(m.volumes.size(), 3u);
  fs::create_directories(dir / "disc2");
  for (std::size_t i = 1; i < m.volumes.size(); ++i)
    fs::rename(b1 / m.volumes[i].name, dir / "disc2" / m.volumes[i].name);
  auto before = testing::store_fingerprint(home.dir / "store");
  auto first = import({b1});
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("is incomplete: volume(s) data.001"), std::string::npos)
      << first.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), before);
  // The first disc's volume is staged: it need not be present any more.
  fs::remove(b1 / "data.000");
  auto second = import({b1, dir / "disc2"});
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_TRUE(home.open_store()->get_snapshot(s1));
}

TEST_F(ImportTest, ScanCommandRefusalChangesNothing) {
  auto before = testing::store_fingerprint(home.dir / "store");
  ImportOptions opt;
  opt.scan_cmd = "false {}";
  auto r = import({b1}, opt);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().message.starts_with("the scan refused object ")) << r.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), before);
  opt.scan_cmd = "test -f {}";
  auto ok = import({b1}, opt);
  ASSERT_TRUE(ok) << ok.error().message;
}

TEST_F(ImportTest, ScanCommandIsAShellCommandLineWithThePathAsDollarOne) {
  auto before = testing::store_fingerprint(home.dir / "store");
  ImportOptions opt;
  opt.scan_cmd = R"(echo 'found; in' {} >&2; exit 7)";
  auto r = import({b1}, opt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_NE(r.error().message.find("(the scan command exited 7: found; in /"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), before);
  // Quotes hold, a redirection works, and each object comes as one argument.
  const fs::path scanned = home.dir / "scanned list";
  opt.scan_cmd = "test -f {} && printf '%s\\n' \"$#:$1\" >> '" + scanned.string() + "'";
  auto ok = import({b1}, opt);
  ASSERT_TRUE(ok) << ok.error().message;
  std::istringstream lines(testing::read_text(scanned));
  std::set<std::string> paths;
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    EXPECT_TRUE(line.starts_with("1:/")) << line;
    paths.insert(line);
  }
  EXPECT_GT(count, 0u);
  EXPECT_EQ(paths.size(), count);
}

TEST_F(ImportTest, FullDiskLeavesStoreAndLogExactlyAsBefore) {
  const auto store_before = testing::store_fingerprint(home.dir / "store");
  const auto log_before = testing::read_text(home.log_file());
  testing::FaultEnv env;
  env.write_budget = 100 * 1024;  // the disk fills up part-way through the objects
  home.options.env = &env;
  auto r = import({b1});
  home.options.env = nullptr;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::io);
  EXPECT_NE(r.error().message.find("No space left on device"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), store_before);
  EXPECT_EQ(testing::read_text(home.log_file()), log_before);  // not even a torn refusal record
  auto again = import({b1});
  ASSERT_TRUE(again) << again.error().message;
}

// Killed before every write, rename, sync, creation and removal an import
// makes in turn: after the home is opened again, the bundle and its record
// are both there or both absent, and the log verifies.
TEST_F(ImportTest, KilledAnywhereLeavesImportAndItsRecordBothThereOrBothAbsent) {
  const fs::path pristine = dir / "pristine";
  testing::restore_tree(home.dir, pristine);
  const auto store_before = testing::store_fingerprint(home.dir / "store");
  const auto log_before = testing::read_text(home.log_file());
  auto work = [&](Env& env) {
    home.options.env = &env;
    ImportOptions opt;
    opt.publish = "test";
    opt.create = true;
    (void)import({b1}, opt);
  };
  const auto points = testing::crash_points(work);
  ASSERT_GE(points.size(), 20u);
  int landed_count = 0;
  for (const auto& point : points) {
    SCOPED_TRACE(testing::describe(point));
    testing::restore_tree(pristine, home.dir);
    ASSERT_TRUE(testing::run_killed_at(point, work));
    home.options.env = nullptr;
    ASSERT_TRUE(Home::open(home.dir));  // sweeps what the dead process left, logs what it committed
    auto store = home.open_store();
    const bool landed = store->get_snapshot(s1).has_value();
    landed_count += landed;
    int imports = 0;
    for (const auto& rec : log_records())
      imports += rec["event"] == "import" && rec["result"] == "imported";
    if (!landed) {
      EXPECT_EQ(testing::store_fingerprint(home.dir / "store"), store_before);
      EXPECT_EQ(testing::read_text(home.log_file()), log_before);
      EXPECT_FALSE(channel_snapshot(*store, "test", "debian"));
    } else {
      EXPECT_EQ(channel_snapshot(*store, "test", "debian").value(), s1);
      EXPECT_EQ(imports, 1);  // logged exactly once, even when the process died before logging
    }
    EXPECT_TRUE(store->scrub()->ok());
    auto h = Home::open(home.dir).value();
    EXPECT_TRUE(h->verify_log());
  }
  EXPECT_GT(landed_count, 0);  // some points are after the commit
  // Importing again completes (or finds it done).
  auto again = import({b1});
  ASSERT_TRUE(again) << again.error().message;
}

}  // namespace
}  // namespace airlock::repo
