// The chain of custody across the air gap, and hostile strings in records.
//
// sync -> export 1 -> co-sign -> sync (patch day) -> export 2, both imported
// on the isolated side: the low side's sync, export and cosign records each
// arrive exactly once, the export and cosign records of bundle 1 with
// bundle 2.
#include <gtest/gtest.h>

#include "airlock/repo/home.h"
#include "mirror_fixture.h"

namespace airlock::mirror {
namespace {

using json = nlohmann::json;
using testing::LowSideTest;
namespace fs = std::filesystem;

class CustodyTest : public LowSideTest {
 protected:
  // A repository home at high that trusts signer, with bundles imported.
  void import_on_high_side(const fs::path& high, const PublicKey& signer,
                           const std::vector<fs::path>& bundles) {
    ASSERT_TRUE(repo::Home::init(high, "auditor"));
    TrustPolicy trust;
    ASSERT_TRUE(trust.add({"alice", signer, {}, {}}));
    ASSERT_TRUE(trust.save(high / "trust.json"));
    auto h = repo::Home::open(high).value();
    repo::ImportOptions opt;
    opt.operator_name = "auditor";
    opt.now = system_now();
    for (const auto& b : bundles) {
      auto r = h->import({b}, opt);
      ASSERT_TRUE(r) << r.error().message;
    }
    EXPECT_TRUE(h->verify_log());
  }

  // The low side's record as each `custody` record of the high side holds
  // it, with the bundle it came in.
  std::vector<std::pair<std::string, json>> custody(const fs::path& high) {
    std::vector<std::pair<std::string, json>> out;
    for (const auto& r : testing::log_records(high / "log" / "transfer-000001.jsonl")) {
      if (r.value("event", "") == "custody") out.emplace_back(r["bundle"], r["record"]);
    }
    return out;
  }
};

TEST_F(CustodyTest, EverySyncExportAndCosignRecordCrossesOnceTheExportOfBundleOneWithBundleTwo) {
  auto low = open();
  auto day1 = sync(*low);
  auto b1 = low->export_stream(export_options());
  ASSERT_TRUE(b1) << b1.error().message;
  ASSERT_TRUE(low->keygen("bob", who));
  auto signed_ = low->sign(b1->bundle.dir, low->load_key("bob").value(), who,
                           [](const BundleReview&) { return Status{}; });
  ASSERT_TRUE(signed_) << signed_.error().message;
  fetcher.set_root(testing::sample_upstream() / "day2");
  auto day2 = sync(*low);
  auto b2 = low->export_stream(export_options());
  ASSERT_TRUE(b2) << b2.error().message;

  const fs::path high = dir / "high";
  import_on_high_side(high, low->load_key("alice")->public_key(), {b1->bundle.dir, b2->bundle.dir});

  std::map<std::string, int> seen;            // "<event> <key>" -> how often it crossed
  std::map<std::string, std::string> bundle;  // "<event> <key>" -> the bundle it came in
  std::set<std::uint64_t> numbers;
  for (const auto& [b, rec] : custody(high)) {
    const std::string event = rec.value("event", "");
    std::string key = event;
    if (event == "sync") key += " " + rec.value("snapshot", "");
    if (event == "export") key += " " + std::to_string(rec.value("sequence", 0));
    if (event == "cosign") key += " " + rec.value("keyid", "");
    ++seen[key];
    bundle[key] = b;
    EXPECT_TRUE(numbers.insert(rec.value("n", std::uint64_t{0})).second)
        << "record crossed twice: " << rec.dump();
  }
  const std::string cosign = "cosign " + low->load_key("bob")->public_key().id().hex();
  EXPECT_EQ(seen["sync " + day1.snapshot->hex()], 1);
  EXPECT_EQ(bundle["sync " + day1.snapshot->hex()], "airlock-sample-000001");
  EXPECT_EQ(seen["sync " + day2.snapshot->hex()], 1);
  EXPECT_EQ(bundle["sync " + day2.snapshot->hex()], "airlock-sample-000002");
  EXPECT_EQ(seen["export 1"], 1);
  EXPECT_EQ(bundle["export 1"], "airlock-sample-000002");
  EXPECT_EQ(seen[cosign], 1);
  EXPECT_EQ(bundle[cosign], "airlock-sample-000002");
  EXPECT_EQ(seen.count("export 2"), 0u);  // it crosses with bundle 3
  // The custody records are the low side's log, record by record, from its first.
  const auto low_records = records();
  std::uint64_t n = 0;
  for (const auto& [b, rec] : custody(high)) {
    ASSERT_LT(n, low_records.size());
    EXPECT_EQ(rec, low_records[n]) << n;
    ++n;
  }
  EXPECT_EQ(n, stream_state(low->store(), "sample")->log_size);
}

// --- Hostile strings: a record always gets written, escaped, or the change
// is refused before anything is written.

TEST_F(CustodyTest, InvalidUtf8InTheOperatorIsLoggedEscaped) {
  auto home = open();
  ChangeInfo evil{"mal\xff\xfelory\x1b[2J", "why\xc3", ""};
  auto r = home->keygen("mallory", evil);
  ASSERT_TRUE(r) << r.error().message;
  const auto recs = records();
  const json& rec = recs[recs.size() - 2];
  ASSERT_EQ(rec["event"], "keygen");
  EXPECT_EQ(rec["operator"], "mal\\xff\\xfelory\x1b[2J");
  EXPECT_EQ(rec["reason"], "why\\xc3");
  sync(*home);
  auto exported = home->export_stream(export_options());
  ASSERT_TRUE(exported);
  auto signed_ = home->sign(exported->bundle.dir, home->load_key("mallory").value(), evil,
                            [](const BundleReview&) { return Status{}; });
  ASSERT_TRUE(signed_) << signed_.error().message;
  const auto after = records();
  EXPECT_EQ(after[after.size() - 2]["operator"], "mal\\xff\\xfelory\x1b[2J");
  ExportOptions opt = export_options();
  opt.operator_name = evil.operator_name;
  auto two = home->export_stream(opt);
  ASSERT_TRUE(two) << two.error().message;
  const auto last = records();
  EXPECT_EQ(last[last.size() - 2]["operator"], "mal\\xff\\xfelory\x1b[2J");
  EXPECT_NE(two->bundle.manifest.producer.find("mal\\xff\\xfelory"), std::string::npos);
  EXPECT_TRUE(home->verify_log());
  EXPECT_TRUE(Home::open(home_dir));
}

TEST_F(CustodyTest, ARecordTooLargeForTheLogRefusesTheChangeBeforeAnythingIsWritten) {
  auto home = open();
  const auto keys_before = airlock::testing::tree_fingerprint(home_dir / "keys");
  const auto log_before = airlock::testing::read_text(log_file());
  ChangeInfo huge{std::string(2 << 20, 'x'), "", ""};
  auto r = home->keygen("bob", huge);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::limit);
  EXPECT_EQ(airlock::testing::tree_fingerprint(home_dir / "keys"), keys_before);
  EXPECT_EQ(airlock::testing::read_text(log_file()), log_before);
  EXPECT_TRUE(Home::open(home_dir));
  auto ok = open()->keygen("bob", who);
  EXPECT_TRUE(ok) << ok.error().message;
}

}  // namespace
}  // namespace airlock::mirror
