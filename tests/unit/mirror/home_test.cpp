// mirror::Home, one command at a time, against the signed sample upstream
// served from disk: every change and its log record.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "airlock/mirror/output.h"
#include "mirror_fixture.h"

namespace airlock::mirror {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::LowSideTest;

// The last record of event, or null.
json last_of(const std::vector<json>& records, const std::string& event) {
  for (auto it = records.rbegin(); it != records.rend(); ++it) {
    if (it->value("event", "") == event) return *it;
  }
  return nullptr;
}

TEST(MirrorHomeInit, IsIdempotentAndKeepsWhatExists) {
  airlock::testing::TempDir dir;
  auto first = Home::init(dir / "h", "tester");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->new_config);
  EXPECT_TRUE(first->new_key);
  EXPECT_TRUE(fs::is_directory(dir / "h" / "work"));
  airlock::testing::write_text(dir / "h" / "mirror.toml", "# mine\n");
  const auto log_before = airlock::testing::read_text(dir / "h" / "log" / "transfer-000001.jsonl");
  const auto pub_before = airlock::testing::read_text(dir / "h" / "keys" / "log.pub");
  auto second = Home::init(dir / "h", "tester");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_FALSE(second->new_config);
  EXPECT_FALSE(second->new_key);
  EXPECT_EQ(airlock::testing::read_text(dir / "h" / "mirror.toml"), "# mine\n");
  EXPECT_EQ(airlock::testing::read_text(dir / "h" / "keys" / "log.pub"), pub_before);
  EXPECT_EQ(airlock::testing::read_text(dir / "h" / "log" / "transfer-000001.jsonl"),
            log_before);  // one init record
  EXPECT_EQ(testing::count_events(dir / "h" / "log" / "transfer-000001.jsonl", "init"), 1);
  auto home = Home::open(dir / "h");
  ASSERT_TRUE(home);
  EXPECT_TRUE((*home)->verify_log());
}

TEST(MirrorHomeOpen, NamesInitWhenNotAHome) {
  airlock::testing::TempDir dir;
  auto r = Home::open(dir / "nothing");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::not_found);
  EXPECT_EQ(r.error().message, "no mirror home at " + (dir / "nothing").string() +
                                   " (run 'airlock-mirror --home " + (dir / "nothing").string() +
                                   " init')");
  auto none = Home::open("");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Code::invalid_input);
  EXPECT_FALSE(Home::init("", "tester"));
}

using MirrorHomeTest = LowSideTest;

const SignApproval yes = [](const BundleReview&) { return Status{}; };

TEST_F(MirrorHomeTest, KeygenWritesBothFilesAndLogsTheKeyId) {
  auto home = open();
  auto key = home->load_key("alice");
  ASSERT_TRUE(key) << key.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((home_dir / "keys" / "alice.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(PublicKey::read_file(home_dir / "keys" / "alice.pub")->id(), key->public_key().id());
  json rec = last_of(records(), "keygen");
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["name"], "alice");
  EXPECT_EQ(rec["keyid"], key->public_key().id().hex());
  EXPECT_EQ(rec["operator"], "tester");
  EXPECT_EQ(home->key_names(), std::vector<std::string>{"alice"});
  EXPECT_TRUE(home->verify_log());
}

TEST_F(MirrorHomeTest, KeygenRefusesAnExistingNameAndBadNames) {
  auto home = open();
  const auto keys_before = airlock::testing::tree_fingerprint(home_dir / "keys");
  const auto log_before = airlock::testing::read_text(log_file());
  auto again = home->keygen("alice", who);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::conflict);
  EXPECT_EQ(again.error().message, "a key named 'alice' exists already (" +
                                       (home_dir / "keys" / "alice.key").string() + ")");
  for (const char* bad : {"log", "", ".hidden", "a/b", "../x", "with space"}) {
    auto r = home->keygen(bad, who);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::invalid_input) << bad;
  }
  EXPECT_EQ(airlock::testing::tree_fingerprint(home_dir / "keys"), keys_before);
  EXPECT_EQ(airlock::testing::read_text(log_file()), log_before);
}

TEST_F(MirrorHomeTest, KeygenReplacesAPublicKeyLeftWithoutItsPrivateKey) {
  airlock::testing::write_text(home_dir / "keys" / "carol.pub", "left by an interrupted keygen\n");
  auto home = open();
  auto r = home->keygen("carol", who);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(PublicKey::read_file(r->public_file)->id(), r->keyid);
}

TEST_F(MirrorHomeTest, LoadKeyByNameOrPathAndNamesWhereItLooked) {
  auto home = open();
  EXPECT_TRUE(home->load_key((home_dir / "keys" / "alice.key").string()));
  auto missing = home->load_key("zed");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::not_found);
  EXPECT_EQ(missing.error().message,
            "no key 'zed' (looked for " + (home_dir / "keys" / "zed.key").string() + ")");
}

TEST_F(MirrorHomeTest, SyncRecordsASnapshotWithItsRecordThenAnUnchangedUpstreamIsOneRequest) {
  auto home = open();
  auto first = sync(*home);
  ASSERT_TRUE(first.snapshot);
  EXPECT_FALSE(first.unchanged);
  EXPECT_EQ(first.pool_files, 3u);
  auto snaps = home->snapshots();
  ASSERT_TRUE(snaps);
  ASSERT_EQ(snaps->size(), 1u);
  EXPECT_EQ(snaps->front().id, *first.snapshot);
  auto recs = records();
  ASSERT_GE(recs.size(), 2u);
  EXPECT_EQ(recs.back()["event"], "checkpoint");
  json rec = last_of(recs, "sync");
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["snapshot"], first.snapshot->hex());
  EXPECT_EQ(rec["repo"], "sample");

  fetcher.requests.clear();
  auto second = sync(*home);
  EXPECT_TRUE(second.unchanged);
  EXPECT_EQ(second.snapshot, first.snapshot);
  EXPECT_EQ(fetcher.requests, std::vector<std::string>{std::string(testing::kUpstreamUrl) +
                                                       "/dists/bookworm/InRelease"});
  EXPECT_EQ(home->snapshots()->size(), 1u);
  rec = last_of(records(), "sync");
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["unchanged"], true);
  EXPECT_EQ(testing::count_events(log_file(), "sync"), 2);
  EXPECT_TRUE(home->verify_log());
}

TEST_F(MirrorHomeTest, SyncRefusesUnknownRepositoriesAndReportsEachRepositoryApart) {
  auto home = open();
  auto unknown = home->sync({"nope"}, request());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::invalid_input);
  EXPECT_EQ(unknown.error().message,
            "no repository 'nope' in " + (home_dir / "mirror.toml").string());
  SyncRequest bad = request();
  bad.jobs = 0;
  EXPECT_EQ(home->sync({}, bad).error().code, Code::invalid_input);
  // An expired upstream: the repository's own result says why; nothing recorded.
  fetcher.set_root(testing::sample_upstream() / "expired");
  auto expired = home->sync({"sample"}, request());
  ASSERT_TRUE(expired);
  ASSERT_EQ(expired->size(), 1u);
  ASSERT_FALSE(expired->front().report);
  EXPECT_EQ(expired->front().report.error().code, Code::refused);
  EXPECT_NE(expired->front().report.error().message.find("(Valid-Until)"), std::string::npos);
  EXPECT_EQ(testing::count_events(log_file(), "sync"), 0);
  EXPECT_TRUE(home->snapshots()->empty());
}

TEST_F(MirrorHomeTest, DryRunStoresAndRecordsNothing) {
  auto home = open();
  const auto store_before = airlock::testing::store_fingerprint(home_dir / "store");
  const auto log_before = airlock::testing::read_text(log_file());
  SyncRequest req = request();
  req.dry_run = true;
  auto r = home->sync({}, req);
  ASSERT_TRUE(r && r->front().report);
  EXPECT_TRUE(r->front().report->dry_run);
  EXPECT_EQ(r->front().report->pool_missing, 3u);
  EXPECT_EQ(airlock::testing::store_fingerprint(home_dir / "store"), store_before);
  EXPECT_EQ(airlock::testing::read_text(log_file()), log_before);
}

TEST_F(MirrorHomeTest, SnapshotsFilterByRepositoryAndDiffShowsPatchDay) {
  auto home = open();
  auto day1 = sync(*home);
  fetcher.set_root(testing::sample_upstream() / "day2");
  auto day2 = sync(*home);
  ASSERT_TRUE(day1.snapshot && day2.snapshot);
  EXPECT_NE(*day1.snapshot, *day2.snapshot);
  EXPECT_EQ(home->snapshots("sample")->size(), 2u);
  EXPECT_TRUE(home->snapshots("other")->empty());
  auto d = home->diff(day1.snapshot->hex().substr(0, 8), day2.snapshot->hex());
  ASSERT_TRUE(d) << d.error().message;
  const auto& changes = d->changes.packages;
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].name, "airlock-extra");
  EXPECT_EQ(changes[0].change, "added");
  EXPECT_GT(changes[0].size, 0u);
  EXPECT_EQ(changes[1].name, "hello-airlock");
  EXPECT_EQ(changes[1].change, "upgraded");
  EXPECT_EQ(changes[1].old_version, "1.0-1");
  EXPECT_EQ(changes[1].new_version, "1.1-1");
  std::ostringstream text;
  print_diff(text, *d);
  EXPECT_TRUE(text.str().starts_with("sample: 1 added (")) << text.str();
  EXPECT_NE(text.str().find("1 upgraded ("), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("0 downgraded, 0 removed\n  added      airlock-extra (amd64) 0.9-1  "),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("\n  upgraded   hello-airlock (amd64) 1.0-1 -> 1.1-1  "),
            std::string::npos);
  EXPECT_EQ(to_json(*d)["changes"][0]["packages"][1]["change"], "upgraded");
  EXPECT_EQ(to_json(*d)["changes"][0]["upgraded"], 1);
  auto same = home->diff(day1.snapshot->hex(), day1.snapshot->hex());
  ASSERT_TRUE(same);
  std::ostringstream none;
  print_diff(none, *same);
  EXPECT_EQ(none.str(), "sample: no package changes\n");
  EXPECT_EQ(home->diff("abc", day1.snapshot->hex()).error().code, Code::invalid_input);
  EXPECT_EQ(home->diff("abcdef01", day1.snapshot->hex()).error().code, Code::not_found);
}

TEST_F(MirrorHomeTest, ExportWritesTheBundleAndCommitsTheStreamWithItsRecord) {
  auto home = open();
  sync(*home);
  auto r = home->export_stream(export_options());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->first);
  EXPECT_EQ(r->bundle.manifest.sequence, 1u);
  EXPECT_TRUE(fs::exists(dir / "media" / "airlock-sample-000001" / "manifest.json"));
  auto state = stream_state(home->store(), "sample");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->sequence, 1u);
  ASSERT_EQ(state->manifests.size(), 1u);
  EXPECT_EQ(state->manifests[0], r->bundle.manifest_sha256);
  auto recs = records();
  json rec = last_of(recs, "export");
  ASSERT_FALSE(rec.is_null());
  // The export record is the first record after the cut-off: it is not in
  // this bundle but in the next one.
  EXPECT_EQ(rec["n"], state->log_size);
  EXPECT_EQ(rec["manifest"], r->bundle.manifest_sha256.hex());
  EXPECT_EQ(rec["bundle"], "airlock-sample-000001");
  json carried = json::parse(r->bundle.manifest.log_json);
  ASSERT_EQ(carried.size(), state->log_size);
  for (std::size_t i = 0; i < carried.size(); ++i) EXPECT_EQ(carried[i]["n"], i);
  EXPECT_TRUE(home->verify_log());

  auto two = home->export_stream(export_options());
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_EQ(two->bundle.manifest.sequence, 2u);
  EXPECT_EQ(two->bundle.manifest.previous, r->bundle.manifest_sha256);
  json next = json::parse(two->bundle.manifest.log_json);
  ASSERT_FALSE(next.empty());
  EXPECT_EQ(next[0], json::parse(recs[state->log_size].dump()));
}

TEST_F(MirrorHomeTest, ExportNeedsANamedKeyWhenThereAreSeveralAndAValidStream) {
  auto home = open();
  sync(*home);
  ExportOptions opt = export_options();
  opt.keys.clear();
  ASSERT_TRUE(home->keygen("bob", who));
  auto r = home->export_stream(opt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
  EXPECT_EQ(r.error().message,
            "name the signing key with --key (found 2 in " + (home_dir / "keys").string() + ")");
  opt = export_options();
  opt.stream = "Bad Stream";
  EXPECT_EQ(home->export_stream(opt).error().code, Code::invalid_input);
  EXPECT_FALSE(fs::exists(dir / "media"));
  EXPECT_EQ(testing::count_events(log_file(), "export"), 0);
}

TEST_F(MirrorHomeTest, ExportWithTheOnlyKeyWhenNoneIsNamed) {
  auto home = open();
  sync(*home);
  ExportOptions opt = export_options();
  opt.keys.clear();
  auto r = home->export_stream(opt);
  ASSERT_TRUE(r) << r.error().message;
  json rec = last_of(records(), "export");
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["signers"], json::array({home->load_key("alice")->public_key().id().hex()}));
}

TEST_F(MirrorHomeTest, SignLogsTheCosignAndRefusesASecondSignatureByTheSameKey) {
  auto home = open();
  sync(*home);
  auto exported = home->export_stream(export_options());
  ASSERT_TRUE(exported);
  ASSERT_TRUE(home->keygen("bob", who));
  auto bob = home->load_key("bob");
  ASSERT_TRUE(bob);
  const fs::path bundle = exported->bundle.dir;
  auto signed_ = home->sign(bundle, *bob, who, yes);
  ASSERT_TRUE(signed_) << signed_.error().message;
  EXPECT_TRUE(signed_->logged);
  ASSERT_EQ(signed_->signers_before.size(), 1u);
  EXPECT_EQ(signed_->signers_before[0], home->load_key("alice")->public_key().id());
  auto sigs = parse_signatures(airlock::testing::read_text(bundle / "manifest.sig.json"));
  ASSERT_TRUE(sigs);
  EXPECT_EQ(sigs->size(), 2u);
  json rec = last_of(records(), "cosign");
  ASSERT_FALSE(rec.is_null());
  EXPECT_EQ(rec["bundle"], "airlock-sample-000001");
  EXPECT_EQ(rec["keyid"], bob->public_key().id().hex());
  EXPECT_EQ(rec["manifest"], exported->bundle.manifest_sha256.hex());
  EXPECT_EQ(rec["operator"], "tester");

  const auto bundle_before = airlock::testing::tree_fingerprint(bundle);
  const auto log_before = airlock::testing::read_text(log_file());
  auto again = home->sign(bundle, *bob, who, yes);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::conflict);
  EXPECT_EQ(again.error().message,
            "bundle is already signed by key " + bob->public_key().id().hex());
  EXPECT_EQ(airlock::testing::tree_fingerprint(bundle), bundle_before);
  EXPECT_EQ(airlock::testing::read_text(log_file()), log_before);
  EXPECT_TRUE(home->verify_log());
}

// Co-signing is a review: the approval sees the checked bundle, its signers
// and its changes; a bundle that does not check out is never shown, never
// signed, and nothing is written or logged.
TEST_F(MirrorHomeTest, SignReviewsTheWholeBundleBeforeAskingAndRefusesWhatDoesNotCheckOut) {
  auto home = open();
  sync(*home);
  auto exported = home->export_stream(export_options());
  ASSERT_TRUE(exported);
  ASSERT_TRUE(home->keygen("bob", who));
  auto bob = home->load_key("bob").value();
  const fs::path bundle = exported->bundle.dir;
  const auto log_size = home->log().size();
  // The approval sees alice's signature verified and the package changes.
  int asked = 0;
  auto no = [&](const BundleReview& r) -> Status {
    ++asked;
    EXPECT_EQ(r.signers.size(), 1u);
    EXPECT_EQ(r.signers[0].name, "alice");
    EXPECT_EQ(r.signers[0].state, SignerStatus::valid);
    EXPECT_EQ(r.check.manifest.manifest.changes.at(0).packages.size(), 3u);
    std::ostringstream text;
    print_review(text, r);
    EXPECT_NE(text.str().find("every byte matches the manifest"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("sample: 3 added ("), std::string::npos) << text.str();
    return Status(fail(Code::refused, "not signed: not confirmed"));
  };
  const auto untouched = airlock::testing::tree_fingerprint(bundle);
  auto declined = home->sign(bundle, bob, who, no);
  ASSERT_FALSE(declined);
  EXPECT_EQ(declined.error().message, "not signed: not confirmed");
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(airlock::testing::tree_fingerprint(bundle), untouched);
  // A volume that is not what the manifest says: refused before anyone is asked.
  const fs::path volume = bundle / "data.000";
  auto bytes = airlock::testing::read_text(volume);
  bytes[bytes.size() / 2] ^= 1;
  airlock::testing::write_text(volume, bytes);
  auto swapped = home->sign(bundle, bob, who, no);
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error().code, Code::refused);
  EXPECT_NE(swapped.error().message.find("volume data.000"), std::string::npos)
      << swapped.error().message;
  bytes[bytes.size() / 2] ^= 1;
  airlock::testing::write_text(volume, bytes);
  // An edited manifest: alice's signature no longer verifies.
  auto manifest = airlock::testing::read_text(bundle / "manifest.json");
  airlock::testing::write_text(bundle / "manifest.json", manifest + " ");
  auto edited = home->sign(bundle, bob, who, no);
  ASSERT_FALSE(edited);
  EXPECT_EQ(edited.error().code, Code::refused);
  EXPECT_EQ(edited.error().message,
            "the signature by alice (key " + home->load_key("alice")->public_key().id().hex() +
                ") does not verify: manifest.json changed after it was signed");
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(parse_signatures(airlock::testing::read_text(bundle / "manifest.sig.json"))->size(),
            1u);
  EXPECT_EQ(home->log().size(), log_size);
  // The good bundle again: signed.
  airlock::testing::write_text(bundle / "manifest.json", manifest);
  ASSERT_TRUE(home->sign(bundle, bob, who, yes));
}

TEST_F(MirrorHomeTest, SignWithoutAHomeCoSignsAndLogsNothing) {
  auto home = open();
  sync(*home);
  auto exported = home->export_stream(export_options());
  ASSERT_TRUE(exported);
  const auto log_before = airlock::testing::read_text(log_file());
  auto carol = PrivateKey::generate().value();
  ASSERT_TRUE(carol.write_file(dir / "carol.key"));
  auto key = load_signing_key({}, (dir / "carol.key").string());
  ASSERT_TRUE(key) << key.error().message;
  auto r = sign_bundle(exported->bundle.dir, *key, dir.path(), yes);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->logged);
  EXPECT_EQ(
      parse_signatures(airlock::testing::read_text(exported->bundle.dir / "manifest.sig.json"))
          ->size(),
      2u);
  EXPECT_EQ(sign_bundle(exported->bundle.dir, *key, dir.path(), yes).error().code, Code::conflict);
  EXPECT_EQ(airlock::testing::read_text(log_file()), log_before);
  EXPECT_EQ(load_signing_key({}, "carol").error().code, Code::not_found);
}

TEST_F(MirrorHomeTest, OutputOfSyncAndExport) {
  auto home = open();
  auto results = home->sync({}, request());
  ASSERT_TRUE(results);
  std::ostringstream text, err;
  print_sync(text, *results);
  EXPECT_EQ(print_sync_problems(err, "airlock-mirror", *results), 0);
  EXPECT_TRUE(text.str().starts_with("sample: snapshot " +
                                     results->front().report->snapshot->hex() + "\n  3 packages ("))
      << text.str();
  json j = to_json(*results);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["pool_files"], 3);
  EXPECT_EQ(j[0]["dry_run"], false);
  auto exported = home->export_stream(export_options());
  ASSERT_TRUE(exported);
  std::ostringstream out;
  print_export(out, *exported);
  EXPECT_NE(out.str().find("\nsequence   1 (delta)\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("packages it carries (against nothing before it):\nsample: 3 added ("),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find(
                "0 upgraded, 0 downgraded, 0 removed\n  added      airlock-tools (amd64) 2.3-1  "),
            std::string::npos)
      << out.str();
  EXPECT_EQ(to_json(*exported)["sequence"], 1);
  // A failed repository: one line on the error stream, its exit code.
  std::vector<RepoSync> failed{{"sample", fail(Code::refused, "sample: bad\x1b[2J signature")}};
  std::ostringstream err2;
  EXPECT_EQ(print_sync_problems(err2, "airlock-mirror", failed), 3);
  EXPECT_EQ(err2.str().find('\x1b'), std::string::npos);
  EXPECT_TRUE(to_json(failed).empty());
}

TEST(MirrorOutput, PackageNamesFromAnUpstreamAreEscapedForTheTerminal) {
  DiffReport d;
  d.changes.packages.push_back({"added", "evil\x1b]0;owned\x07", "amd64", "", "1\xff", 3});
  std::ostringstream out;
  print_diff(out, d);
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
  EXPECT_EQ(out.str().find('\x07'), std::string::npos);
  EXPECT_EQ(out.str().find('\xff'), std::string::npos);
}

}  // namespace
}  // namespace airlock::mirror
