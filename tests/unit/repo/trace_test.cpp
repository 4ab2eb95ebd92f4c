// Tracing one file through the isolated side's log: pulls, snapshots,
// channel changes, the import and the online side's records it carried, and
// a proof of the chain that holds without the log.
#include <gtest/gtest.h>

#include "repo_fixture.h"

namespace airlock::repo {
namespace {

constexpr const char* kVendorKey = "0123456789ABCDEF0123456789ABCDEF01234567";

class TraceTest : public RepoFixture {
 protected:
  // Imports bundle 1 (whose manifest carries a sync record of s1) with
  // --publish test, and logs one pull of p1 and one of p5.
  void SetUp() override {
    RepoFixture::SetUp();
    json sync{{"n", 4},
              {"time", "2026-11-22T09:00:00Z"},
              {"event", "sync"},
              {"repo", "debian"},
              {"upstream", "http://vendor.example/debian"},
              {"snapshot", s1.hex()},
              {"suites", json::array({{{"suite", "stable"},
                                       {"date", "Sun, 22 Nov 2026 08:00:00 UTC"},
                                       {"signed_by", kVendorKey}}})},
              {"operator", "lowop"}};
    bundle1 = export_bundle(1, {}, false, 256 * 1024, {}, json::array({sync}).dump());
    auto& bundle = bundle1;
    ImportOptions opt;
    opt.publish = "test";
    opt.create = true;
    opt.media_label = "USB-7";
    ASSERT_TRUE(import({bundle}, opt));
    const auto snap = low.store->get_snapshot(s1).value();
    for (const auto& e : snap.entries) {
      if (e.path == "pool/main/p1.deb") p1 = e.sha256;
      if (e.path == "pool/main/p5.deb") p5 = e.sha256;
    }
    auto h = Home::open(home.dir).value();
    for (const auto& o : {p1, p5}) {
      json pull{{"client", "10.0.0.5"}, {"method", "GET"}, {"path", "/test/debian/x.deb"},
                {"object", o.hex()},    {"status", 200},   {"bytes", 10}};
      ASSERT_TRUE(h->log().append("pull", pull.dump()));
    }
    ASSERT_TRUE(h->log().checkpoint(h->log_key()));
  }

  Result<Trace> trace(const std::string& query) {
    auto h = Home::open(home.dir);
    if (!h) return fail(h.error());
    return (*h)->trace(query);
  }

  static const TraceLink* find(const Trace& t, const std::string& link) {
    for (const auto& l : t.links)
      if (l.link == link) return &l;
    return nullptr;
  }

  Digest p1, p5;
  fs::path bundle1;
};

TEST_F(TraceTest, FollowsAFileFromItsPullBackToTheVendorKey) {
  auto t = trace(p1.hex());
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->objects, std::vector<Digest>{p1});
  ASSERT_EQ(t->snapshots, std::vector<Digest>{s1});
  std::vector<std::string> kinds;
  for (const auto& l : t->links) kinds.push_back(l.link);
  EXPECT_EQ(kinds, (std::vector<std::string>{"pull", "snapshot", "publish", "import", "sync",
                                             "checkpoint"}));
  for (const auto& l : t->links) EXPECT_TRUE(l.n) << l.link;
  const auto records = log_records();
  auto record = [&](const TraceLink* l) { return records.at(*l->n); };
  EXPECT_EQ(record(find(*t, "pull"))["object"], p1.hex());
  EXPECT_EQ(record(find(*t, "import"))["event"], "import");
  EXPECT_EQ(find(*t, "import")->facts["media_label"], "USB-7");
  EXPECT_EQ(find(*t, "import")->facts["operator"], "tester");
  EXPECT_EQ(find(*t, "import")->facts["bundle"], "airlock-debian-000001");
  EXPECT_EQ(find(*t, "publish")->facts["channel"], "test");
  EXPECT_EQ(record(find(*t, "sync"))["event"], "custody");
  EXPECT_EQ(find(*t, "sync")->facts["suites"][0]["signed_by"], kVendorKey);
  EXPECT_EQ(find(*t, "sync")->facts["upstream"], "http://vendor.example/debian");
  EXPECT_EQ(record(find(*t, "checkpoint"))["event"], "checkpoint");
  EXPECT_EQ(t->checkpoint, find(*t, "checkpoint")->n);
}

TEST_F(TraceTest, FindsAPackageByNameAndVersionAndAFileByItsBytes) {
  auto by_name = trace("p1=1.0-1");
  ASSERT_TRUE(by_name) << by_name.error().message;
  EXPECT_EQ(by_name->objects, std::vector<Digest>{p1});
  ASSERT_EQ(by_name->packages.size(), 1u);
  EXPECT_EQ(by_name->packages[0].name, "p1");
  const auto file = dir / "p1.deb";
  testing::write_text(file, low.contents.at("pool/main/p1.deb"));
  auto by_file = trace(file.string());
  ASSERT_TRUE(by_file) << by_file.error().message;
  EXPECT_EQ(by_file->objects, std::vector<Digest>{p1});
  EXPECT_EQ(by_file->links.size(), by_name->links.size());
}

// The export and co-sign records of bundle 1 cross with bundle 2; they join
// the chain by bundle 1's manifest hash, and bundle 2's snapshot holds the
// file too.
TEST_F(TraceTest, TheExportAndCosignOfABundleJoinWhenTheNextBundleCarriesThem) {
  const auto manifest = manifest_sha(bundle1).hex();
  json exp{{"n", 5},
           {"event", "export"},
           {"bundle", "airlock-debian-000001"},
           {"manifest", manifest},
           {"stream", "debian"},
           {"sequence", 1}};
  json cosign{{"n", 6}, {"event", "cosign"}, {"manifest", manifest}, {"keyid", "ab"}};
  json other{{"n", 7}, {"event", "cosign"}, {"manifest", std::string(64, 'f')}};
  auto b2_custom = export_bundle(2, manifest_sha(bundle1), false, 256 * 1024, {s2},
                                 json::array({exp, cosign, other}).dump());
  ASSERT_TRUE(import({b2_custom}));
  auto t = trace(p1.hex());
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->snapshots, (std::vector<Digest>{s1, s2}));
  std::vector<std::string> kinds;
  for (const auto& l : t->links) kinds.push_back(l.link);
  EXPECT_EQ(kinds, (std::vector<std::string>{"pull", "snapshot", "snapshot", "publish", "import",
                                             "import", "sync", "export", "cosign", "checkpoint"}));
  EXPECT_EQ(find(*t, "export")->facts["carried_in"], "airlock-debian-000002");
  EXPECT_EQ(find(*t, "cosign")->facts["manifest"], manifest);
  EXPECT_TRUE(t->checkpoint);
}

TEST_F(TraceTest, RefusesWhatMatchesNothingAndMalformedQueries) {
  auto none = trace(std::string(64, 'a'));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Code::not_found);
  EXPECT_EQ(none.error().message, "trace: no snapshot holds " + std::string(64, 'a'));
  auto no_pkg = trace("p1=9.9");
  ASSERT_FALSE(no_pkg);
  EXPECT_EQ(no_pkg.error().message, "trace: no snapshot carries p1=9.9");
  for (const char* bad : {"", "=1.0", "p1="}) {
    auto r = trace(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::invalid_input) << bad;
  }
  auto missing = trace((dir / "no-such.deb").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::not_found);
}

TEST_F(TraceTest, ProofHoldsEveryRecordAgainstOneCheckpoint) {
  auto h = Home::open(home.dir).value();
  auto t = h->trace(p1.hex()).value();
  auto proof = trace_proof(h->log(), t);
  ASSERT_TRUE(proof) << proof.error().message;
  EXPECT_EQ((*proof)["format"], kTraceProofFormat);
  EXPECT_EQ((*proof)["tree_size"], *t.checkpoint);
  const auto pub = PublicKey::read_file(h->keys_dir() / "log.pub").value();
  std::vector<PublicKey> keys{pub};
  ASSERT_EQ((*proof)["links"].size(), 4u);  // pull, publish, import, sync
  for (const auto& l : (*proof)["links"]) {
    EXPECT_EQ(l["proof"]["checkpoint"], (*proof)["checkpoint"]);
    auto check = verify_proof(l["proof"].dump(), keys);
    ASSERT_TRUE(check) << l["link"] << ": " << check.error().message;
    auto changed = l["proof"];
    auto text = changed["record"].get<std::string>();
    text[text.size() / 2] ^= 1;
    changed["record"] = text;
    EXPECT_FALSE(verify_proof(changed.dump(), keys)) << l["link"];
  }
}

TEST_F(TraceTest, ProofWaitsForACheckpointCoveringTheChain) {
  auto h = Home::open(home.dir).value();
  json pull{{"client", "10.0.0.6"}, {"object", p1.hex()}, {"status", 200}};
  ASSERT_TRUE(h->log().append("pull", pull.dump()));
  auto t = h->trace(p1.hex()).value();
  EXPECT_FALSE(t.checkpoint);
  auto proof = trace_proof(h->log(), t);
  ASSERT_FALSE(proof);
  EXPECT_EQ(proof.error().code, Code::not_found);
}

}  // namespace
}  // namespace airlock::repo
