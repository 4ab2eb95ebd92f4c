// The request handler without sockets, and the pull logger's refusal to let
// the server run unlogged.
#include <gtest/gtest.h>

#include <thread>

#include "../../../repo-server/src/pull_logger.h"
#include "airlock/repo/server.h"
#include "test_support.h"

namespace airlock::repo {
namespace {

using testing::TempDir;

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store = Store::open(dir / "store").value();
    auto batch = store->begin_batch().value();
    Snapshot snap;
    snap.repo = "debian";
    snap.kind = "apt";
    snap.upstream = "http://x";
    release = "Origin: x\nSHA256:\n " + sha256(packages).hex() + " " + std::to_string(packages.size()) +
              " main/binary-amd64/Packages.xz\nSHA512:\n " + std::string(128, 'a') + " " +
              std::to_string(packages.size()) + " main/binary-amd64/Packages.xz\n";
    for (auto [path, data] : {std::pair{"dists/bookworm/InRelease", release},
                              std::pair{"dists/bookworm/main/binary-amd64/Packages.xz", packages},
                              std::pair{"pool/main/h/hello.deb", deb},
                              std::pair{"pool/main/b/big.deb", testing::random_bytes(200000, 5)}}) {
      snap.entries.push_back({path, batch.put_bytes(data).value(), data.size()});
    }
    auto id = batch.add_snapshot(snap).value();
    batch.set_ref("channel/prod/debian", id, "{}");
    ASSERT_TRUE(batch.commit());
    handler = std::make_unique<RequestHandler>(*store);
  }

  HttpResponse get(const std::string& target, std::string range = {}, std::string inm = {}) {
    return handler->handle({"GET", target, range, inm, ""});
  }

  TempDir dir;
  std::unique_ptr<Store> store;
  std::unique_ptr<RequestHandler> handler;
  std::string packages = "packages index bytes";
  std::string deb = testing::random_bytes(10000, 4);
  std::string release;
};

TEST_F(HandlerTest, ResolvesPathsThroughTheChannel) {
  auto r = get("/prod/debian/pool/main/h/hello.deb");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.file);  // small: served from memory
  EXPECT_EQ(r.body, deb);
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "bytes=10-19").body, deb.substr(10, 10));
  auto big = get("/prod/debian/pool/main/b/big.deb");
  ASSERT_TRUE(big.file);  // large: sent from the object file
  EXPECT_EQ(big.length, 200000u);
  EXPECT_EQ(*r.object, sha256(deb));
  bool deb_type = false;
  for (auto& [k, v] : r.headers) deb_type |= k == "Content-Type" && v == "application/vnd.debian.binary-package";
  EXPECT_TRUE(deb_type);
  EXPECT_EQ(get("/prod/debian/pool/main/h/other.deb").status, 404);
  EXPECT_EQ(get("/test/debian/pool/main/h/hello.deb").status, 404);
  EXPECT_EQ(handler->handle({"DELETE", "/prod/debian/pool/main/h/hello.deb", "", "", ""}).status, 405);
}

TEST_F(HandlerTest, ByHashForEveryHashTheReleaseLists) {
  auto r256 = get("/prod/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/" + sha256(packages).hex());
  EXPECT_EQ(r256.status, 200);
  auto r512 = get("/prod/debian/dists/bookworm/main/binary-amd64/by-hash/SHA512/" + std::string(128, 'a'));
  EXPECT_EQ(r512.status, 200);
  EXPECT_EQ(*r512.object, sha256(packages));
  // A hash of something else, or in another directory, is not served.
  EXPECT_EQ(get("/prod/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/" + sha256(deb).hex()).status, 404);
  EXPECT_EQ(get("/prod/debian/dists/bookworm/by-hash/SHA256/" + sha256(packages).hex()).status, 404);
}

TEST_F(HandlerTest, RangesAndConditionalRequests) {
  auto r = get("/prod/debian/pool/main/h/hello.deb", "bytes=100-199");
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.offset, 100u);
  EXPECT_EQ(r.length, 100u);
  auto tail = get("/prod/debian/pool/main/h/hello.deb", "bytes=9990-");
  EXPECT_EQ(tail.length, 10u);
  auto suffix = get("/prod/debian/pool/main/h/hello.deb", "bytes=-20");
  EXPECT_EQ(suffix.offset, deb.size() - 20);
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "bytes=10000-").status, 416);
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "bytes=0-1,5-6").status, 200);  // multiple: whole file
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "", "\"" + sha256(deb).hex() + "\"").status, 304);
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "", "\"other\"").status, 200);
}

TEST_F(HandlerTest, StrictPaths) {
  for (std::string bad : {"/prod/debian/../../etc/passwd", "/prod/debian/pool/../pool/main/h/hello.deb",
                          "/prod/debian//pool/main/h/hello.deb", "/prod/debian/./pool/main/h/hello.deb"}) {
    EXPECT_EQ(get(bad).status, 404) << bad;
  }
  for (std::string bad : {"/prod/debian/pool%2fmain/h/hello.deb", "/prod/debian/pool/main/h/hello.deb%00",
                          "/prod/debian/pool/%zz", "/prod/debian/pool%5cmain", "relative"}) {
    EXPECT_EQ(get(bad).status, 400) << bad;
  }
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello%2edeb").status, 200);  // decoded once
  EXPECT_EQ(get("/prod/debian/pool/main/h/%2e%2e/h/hello.deb").status, 404);
  EXPECT_EQ(get("/prod/debian/" + std::string(5000, 'a')).status, 414);
  EXPECT_EQ(decode_path("/a%41b"), "/aAb");
  EXPECT_FALSE(decode_path("/a%2Fb"));
  EXPECT_FALSE(decode_path("/a%4"));
}

TEST(PullLogger, StopsBeingHealthyWhenTheLogCannotBeWritten) {
  TempDir dir;
  testing::FaultEnv env;
  auto log = TransferLog::open(dir / "transfer.jsonl", {&env}).value();
  auto key = PrivateKey::generate().value();
  PullLogger logger(*log, key, 1000, std::chrono::seconds(60), std::chrono::milliseconds(20));
  logger.record(R"("path":"/a")");
  for (int i = 0; i < 100 && logger.written() < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(logger.written(), 1u);
  EXPECT_TRUE(logger.healthy());
  env.write_budget = 0;  // the disk is full
  logger.record(R"("path":"/b")");
  for (int i = 0; i < 100 && logger.healthy(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(logger.healthy());
  auto before = testing::read_text(dir / "transfer.jsonl");
  EXPECT_EQ(before.find("/b"), std::string::npos);  // no torn record left behind
  env.write_budget = -1;  // space again: the queued record is written, health returns
  for (int i = 0; i < 200 && !logger.healthy(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(logger.healthy());
  ASSERT_TRUE(logger.stop());
  EXPECT_NE(testing::read_text(dir / "transfer.jsonl").find("/b"), std::string::npos);
}

}  // namespace
}  // namespace airlock::repo
