// The request handler without sockets, and the pull logger's refusal to let
// the server run unlogged.
#include "airlock/repo/server.h"

#include <gtest/gtest.h>

#include <thread>

#include "../../../repo-server/src/pull_logger.h"
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
    release = "Origin: x\nSHA256:\n " + sha256(packages).hex() + " " +
              std::to_string(packages.size()) + " main/binary-amd64/Packages.xz\nSHA512:\n " +
              std::string(128, 'a') + " " + std::to_string(packages.size()) +
              " main/binary-amd64/Packages.xz\n";
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
  EXPECT_EQ(r.content(), deb);
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "bytes=10-19").content(), deb.substr(10, 10));
  auto big = get("/prod/debian/pool/main/b/big.deb");
  ASSERT_TRUE(big.file);  // large: sent from the object file
  EXPECT_EQ(big.length, 200000u);
  EXPECT_EQ(*r.object, sha256(deb));
  bool deb_type = false;
  for (auto& [k, v] : r.headers)
    deb_type |= k == "Content-Type" && v == "application/vnd.debian.binary-package";
  EXPECT_TRUE(deb_type);
  EXPECT_EQ(get("/prod/debian/pool/main/h/other.deb").status, 404);
  EXPECT_EQ(get("/test/debian/pool/main/h/hello.deb").status, 404);
  EXPECT_EQ(handler->handle({"DELETE", "/prod/debian/pool/main/h/hello.deb", "", "", ""}).status,
            405);
}

TEST_F(HandlerTest, ByHashForEveryHashTheReleaseLists) {
  auto r256 =
      get("/prod/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/" + sha256(packages).hex());
  EXPECT_EQ(r256.status, 200);
  auto r512 =
      get("/prod/debian/dists/bookworm/main/binary-amd64/by-hash/SHA512/" + std::string(128, 'a'));
  EXPECT_EQ(r512.status, 200);
  EXPECT_EQ(*r512.object, sha256(packages));
  // A hash of something else, or in another directory, is not served.
  EXPECT_EQ(get("/prod/debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/" + sha256(deb).hex())
                .status,
            404);
  EXPECT_EQ(get("/prod/debian/dists/bookworm/by-hash/SHA256/" + sha256(packages).hex()).status,
            404);
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
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "bytes=0-1,5-6").status,
            200);  // multiple: whole file
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "", "\"" + sha256(deb).hex() + "\"").status,
            304);
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb", "", "\"other\"").status, 200);
}

// The value of a response header, empty when absent.
std::string header(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_F(HandlerTest, HeadAnswersWithoutBodyAndOtherMethodsAreRefused) {
  auto r = handler->handle({"HEAD", "/prod/debian/pool/main/h/hello.deb", "", "", ""});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.head);
  EXPECT_EQ(r.length, deb.size());
  for (std::string other :
       {"/prod/debian/missing", "/prod", "/prod/debian/pool/%zz", "/-/health"}) {
    EXPECT_TRUE(handler->handle({"HEAD", other, "", "", ""}).head) << other;
  }
  EXPECT_FALSE(get("/prod/debian/pool/main/h/hello.deb").head);
  auto post = handler->handle({"POST", "/prod/debian/pool/main/h/hello.deb", "", "", ""});
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.body, "method not allowed\n");
  EXPECT_EQ(header(post, "Allow"), "GET, HEAD");
  EXPECT_FALSE(post.object);
}

TEST_F(HandlerTest, HealthAndQueryStrings) {
  auto ok = get("/-/health");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "{\"status\":\"ok\"}\n");
  EXPECT_EQ(header(ok, "Content-Type"), "application/json");
  handler->health = [] { return std::string("{\"log\":\"behind\"}\n"); };
  EXPECT_EQ(get("/-/health?verbose=1").body, "{\"log\":\"behind\"}\n");
  // The query is not part of the path.
  EXPECT_EQ(get("/prod/debian/pool/main/h/hello.deb?x=/../y").content(), deb);
  // Fewer than three segments, or an unknown repo on a known channel.
  EXPECT_EQ(get("/prod/debian").status, 404);
  EXPECT_EQ(get("/prod/debian/").status, 404);
  EXPECT_EQ(get("/prod/ubuntu/pool/main/h/hello.deb").status, 404);
}

TEST_F(HandlerTest, ObjectHeadersAndConditionalRequestRules) {
  auto r = get("/prod/debian/pool/main/h/hello.deb");
  const std::string etag = "\"" + sha256(deb).hex() + "\"";
  EXPECT_EQ(header(r, "ETag"), etag);
  EXPECT_EQ(header(r, "Accept-Ranges"), "bytes");
  EXPECT_EQ(header(r, "Content-Range"), "");
  EXPECT_EQ(header(get("/prod/debian/dists/bookworm/InRelease"), "Content-Type"),
            "text/plain; charset=utf-8");
  const std::string modified = header(r, "Last-Modified");
  ASSERT_TRUE(modified.ends_with(" GMT")) << modified;
  auto cond = [&](std::string inm, std::string ims) {
    return handler->handle({"GET", "/prod/debian/pool/main/h/hello.deb", "", inm, ims});
  };
  auto not_modified = cond("", modified);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.content(), "");
  EXPECT_EQ(not_modified.length, 0u);
  EXPECT_EQ(header(not_modified, "ETag"), etag);
  EXPECT_EQ(*not_modified.object, sha256(deb));
  EXPECT_EQ(cond("", "Thu, 01 Jan 1970 00:00:00 GMT").status, 200);
  EXPECT_EQ(cond("", "yesterday").status, 200);     // unparsable: modified
  EXPECT_EQ(cond("", modified + "x").status, 200);  // trailing bytes: unparsable
  EXPECT_EQ(cond("*", "").status, 304);
  EXPECT_EQ(cond("\"other\", " + etag, "").status, 304);  // one of a list
  // If-None-Match wins over If-Modified-Since, either way.
  EXPECT_EQ(cond("\"other\"", modified).status, 200);
  EXPECT_EQ(cond(etag, "Thu, 01 Jan 1970 00:00:00 GMT").status, 304);
  // A conditional request that matches is answered before its range.
  EXPECT_EQ(handler->handle({"GET", "/prod/debian/pool/main/h/hello.deb", "bytes=20000-", etag, ""})
                .status,
            304);
}

TEST_F(HandlerTest, RangeForms) {
  const std::string target = "/prod/debian/pool/main/h/hello.deb";
  auto clamped = get(target, "bytes=9000-20000");  // last past the end: up to the end
  EXPECT_EQ(clamped.status, 206);
  EXPECT_EQ(clamped.offset, 9000u);
  EXPECT_EQ(clamped.length, 1000u);
  EXPECT_EQ(clamped.content(), deb.substr(9000));
  EXPECT_EQ(header(clamped, "Content-Range"), "bytes 9000-9999/10000");
  auto all = get(target, "bytes=-20000");  // suffix longer than the object: all of it
  EXPECT_EQ(all.status, 206);
  EXPECT_EQ(all.offset, 0u);
  EXPECT_EQ(all.length, 10000u);
  EXPECT_EQ(header(all, "Content-Range"), "bytes 0-9999/10000");
  EXPECT_EQ(get(target, "bytes=9999-9999").content(), deb.substr(9999));
  for (std::string bad : {"bytes=10000-", "bytes=5-3", "bytes=20000-30000"}) {
    auto r = get(target, bad);
    EXPECT_EQ(r.status, 416) << bad;
    EXPECT_EQ(r.body, "range not satisfiable\n") << bad;
    EXPECT_EQ(header(r, "Content-Range"), "bytes */10000") << bad;
    EXPECT_EQ(*r.object, sha256(deb)) << bad;
  }
  // Forms that do not parse are ignored: the whole object, 200.
  for (std::string ignored : {"bytes=-0", "bytes=-", "bytes=5", "bytes=x-5", "bytes=5-y",
                              "items=0-1", "bytes=99999999999999999999999-"}) {
    auto r = get(target, ignored);
    EXPECT_EQ(r.status, 200) << ignored;
    EXPECT_EQ(r.offset, 0u) << ignored;
    EXPECT_EQ(r.length, 10000u) << ignored;
    EXPECT_EQ(r.content(), deb) << ignored;
    EXPECT_EQ(header(r, "Content-Range"), "") << ignored;
  }
  // A range of an object sent from its file.
  auto big = get("/prod/debian/pool/main/b/big.deb", "bytes=100000-");
  EXPECT_EQ(big.status, 206);
  ASSERT_TRUE(big.file);
  EXPECT_EQ(big.offset, 100000u);
  EXPECT_EQ(big.length, 100000u);
  EXPECT_EQ(big.content(), "");
}

TEST_F(HandlerTest, StrictPaths) {
  for (std::string bad :
       {"/prod/debian/../../etc/passwd", "/prod/debian/pool/../pool/main/h/hello.deb",
        "/prod/debian//pool/main/h/hello.deb", "/prod/debian/./pool/main/h/hello.deb"}) {
    EXPECT_EQ(get(bad).status, 404) << bad;
  }
  for (std::string bad :
       {"/prod/debian/pool%2fmain/h/hello.deb", "/prod/debian/pool/main/h/hello.deb%00",
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

// --- the access policy -------------------------------------------------------

class AccessHandlerTest : public HandlerTest {
 protected:
  void allow(const std::string& access_toml) {
    auto policy = AccessPolicy::parse(access_toml, "access.toml");
    ASSERT_TRUE(policy) << policy.error().message;
    handler->set_access(std::make_shared<const AccessPolicy>(std::move(*policy)));
  }

  HttpResponse get_as(const ClientIdentity& who, const std::string& target) {
    HttpRequest req;
    req.method = "GET";
    req.target = target;
    req.client = who;
    return handler->handle(req);
  }

  static ClientIdentity host(const std::string& cn, const std::string& address = "10.0.0.5") {
    return {address, "CN=" + cn + ",OU=servers", cn, {"servers"}, kHostFp, kSiteCaFp};
  }

  static ClientIdentity at(const std::string& address) { return {address, "", "", {}, "", ""}; }

  static inline const std::string kHostFp = std::string(64, 'a');
  static inline const std::string kSiteCaFp = std::string(64, 'c');
  const std::string hello = "/prod/debian/pool/main/h/hello.deb";
};

TEST_F(AccessHandlerTest, WithoutAPolicyOrRulesEveryoneMayRead) {
  EXPECT_EQ(get_as(at("10.0.0.5"), hello).status, 200);
  allow("# no rules\n");
  EXPECT_EQ(get_as(at("10.0.0.5"), hello).status, 200);
  handler->set_access(nullptr);
  EXPECT_EQ(get_as(host("db-01"), hello).status, 200);
}

TEST_F(AccessHandlerTest, AllowsByCommonNameGlob) {
  allow("[[rule]]\nname = \"web\"\nchannels = [\"prod\"]\ncn = \"web-*\"\n");
  auto r = get_as(host("web-01"), hello);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content(), deb);
  EXPECT_EQ(get_as(host("db-01"), hello).status, 403);
  EXPECT_EQ(get_as(at("10.0.0.5"), hello).status, 403);  // no certificate, no CN
}

TEST_F(AccessHandlerTest, RefusesOutsideItsChannelWith403AndTheReasonBeforeReadingAnything) {
  allow(
      "[[rule]]\nname = \"web\"\nchannels = [\"test\"]\ncn = \"web-*\"\n"
      "[[rule]]\nname = \"other repo\"\nchannels = [\"prod\"]\nrepos = [\"rhel\"]\n"
      "cn = \"web-*\"\n");
  auto r = get_as(host("web-01"), hello);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body, "forbidden\n");
  EXPECT_EQ(r.reason, "no access rule allows CN=web-01,OU=servers (10.0.0.5) to read prod/debian");
  EXPECT_FALSE(r.object);
  EXPECT_FALSE(r.cached);
  EXPECT_FALSE(r.file);
  // Decided before the channel is looked up: a channel or file that does not
  // exist is refused the same way, so the answer says nothing about either.
  EXPECT_EQ(get_as(host("web-01"), "/prod/debian/pool/missing.deb").status, 403);
  EXPECT_EQ(get_as(host("web-01"), "/staging/debian/pool/main/h/hello.deb").reason,
            "no access rule allows CN=web-01,OU=servers (10.0.0.5) to read staging/debian");
  EXPECT_EQ(get_as(host("web-01"), "/test/debian/pool/main/h/hello.deb").status, 404);
  // The health check stays open.
  EXPECT_EQ(get_as(at("192.0.2.1"), "/-/health").status, 200);
  // A new policy applies from the next request.
  allow("[[rule]]\nname = \"web\"\nchannels = [\"*\"]\ncn = \"web-*\"\n");
  EXPECT_EQ(get_as(host("web-01"), hello).status, 200);
}

TEST_F(AccessHandlerTest, AddressRangesV4AndV6) {
  allow(
      "[[rule]]\nname = \"lab\"\nchannels = [\"prod\"]\n"
      "addresses = [\"10.0.0.0/8\", \"192.168.1.7\", \"fd00:20::/32\", \"2001:db8::1\"]\n");
  for (std::string ok : {"10.0.0.1", "10.255.255.255", "192.168.1.7", "::ffff:10.1.2.3",
                         "fd00:20::5", "fd00:20:ffff::1", "2001:db8::1"}) {
    EXPECT_EQ(get_as(at(ok), hello).status, 200) << ok;
  }
  for (std::string no : {"11.0.0.1", "9.255.255.255", "192.168.1.8", "::ffff:11.0.0.1",
                         "fd00:21::5", "2001:db8::2", "::1", "", "not an address"}) {
    auto r = get_as(at(no), hello);
    EXPECT_EQ(r.status, 403) << no;
    EXPECT_EQ(r.reason, "no access rule allows " + no + " to read prod/debian");
  }
}

TEST_F(AccessHandlerTest, FingerprintAndCaRules) {
  allow("[[rule]]\nname = \"one host\"\nchannels = [\"prod\"]\nfingerprint = \"" + kHostFp +
        "\"\n");
  EXPECT_EQ(get_as(host("anything"), hello).status, 200);
  auto other = host("anything");
  other.fingerprint = std::string(64, 'b');
  EXPECT_EQ(get_as(other, hello).status, 403);
  EXPECT_EQ(get_as(at("10.0.0.5"), hello).status, 403);

  allow("[[rule]]\nname = \"site ca\"\nchannels = [\"prod\"]\nca = \"" + kSiteCaFp + "\"\n");
  EXPECT_EQ(get_as(host("web-01"), hello).status, 200);
  auto foreign = host("web-01");
  foreign.issuer_fingerprint = std::string(64, 'd');
  EXPECT_EQ(get_as(foreign, hello).status, 403);
  auto unknown_issuer = host("web-01");
  unknown_issuer.issuer_fingerprint.clear();
  EXPECT_EQ(get_as(unknown_issuer, hello).status, 403);
  EXPECT_EQ(get_as(at("10.0.0.5"), hello).status, 403);
}

TEST_F(AccessHandlerTest, APolicySwappedWhileRequestsRunAppliesWholeFromTheNextRequest) {
  auto policy = [](const std::string& cn) {
    return std::make_shared<const AccessPolicy>(
        AccessPolicy::parse("[[rule]]\nname = \"r\"\nchannels = [\"prod\"]\ncn = \"" + cn + "\"\n",
                            "access.toml")
            .value());
  };
  const auto web = policy("web-*"), db = policy("db-*");
  std::atomic<int> odd{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        auto r = get_as(host("web-01"), hello);
        const bool whole = (r.status == 200 && r.content() == deb) ||
                           (r.status == 403 && r.reason.starts_with("no access rule allows"));
        if (!whole) ++odd;
      }
    });
  }
  for (int i = 0; i < 300; ++i) handler->set_access(i % 2 ? web : db);
  for (auto& t : readers) t.join();
  EXPECT_EQ(odd, 0);
  handler->set_access(db);
  EXPECT_EQ(get_as(host("web-01"), hello).status, 403);
  handler->set_access(web);
  EXPECT_EQ(get_as(host("web-01"), hello).status, 200);
}

// Changes the first stored byte of the object that has data's hash (in its
// file or its pack); returns the hash of what is there now.
Digest corrupt_object(const Store& store, const std::string& data) {
  testing::flip_object_byte(store, sha256(data));
  std::string bad = data;
  bad[0] = static_cast<char>(bad[0] ^ 1);
  return sha256(bad);
}

TEST_F(HandlerTest, EachObjectIsHashedTheFirstTimeItIsServedAndACorruptOneIsA500) {
  const std::string hello = "/prod/debian/pool/main/h/hello.deb";
  const std::string big_path = "/prod/debian/pool/main/b/big.deb";
  const std::string big = testing::random_bytes(200000, 5);
  EXPECT_EQ(get(hello).status, 200);
  EXPECT_EQ(get(big_path).status, 200);
  EXPECT_EQ(handler->objects_hashed(), 2u);
  // Served again, whole or in part, from memory or from the file: not hashed again.
  EXPECT_EQ(get(hello).status, 200);
  EXPECT_EQ(get(hello, "bytes=0-9").status, 206);
  auto again = get(big_path);
  EXPECT_EQ(again.status, 200);
  EXPECT_TRUE(again.file);
  EXPECT_EQ(handler->objects_hashed(), 2u);

  // Corrupted before this handler served it: a 500 naming both hashes, no bytes, every time.
  const std::string packages_path = "/prod/debian/dists/bookworm/main/binary-amd64/Packages.xz";
  for (const auto& [path, data] : std::vector<std::pair<std::string, std::string>>{
           {big_path, big}, {packages_path, packages}}) {
    const auto actual = corrupt_object(*store, data);
    RequestHandler fresh(*store);
    for (int i = 0; i < 2; ++i) {
      auto r = fresh.handle({"GET", path, "", "", ""});
      EXPECT_EQ(r.status, 500) << path;
      EXPECT_EQ(r.reason, "expected sha256 " + sha256(data).hex() + ", actual " + actual.hex());
      EXPECT_EQ(r.object, sha256(data));
      EXPECT_FALSE(r.file);
      EXPECT_EQ(r.body, "object unavailable\n");
    }
  }
  // The same objects are what a scrub finds.
  auto scrub = store->scrub().value();
  ASSERT_EQ(scrub.corrupt.size(), 2u);
  for (const auto& p : scrub.corrupt) {
    EXPECT_TRUE(p.id == sha256(big) || p.id == sha256(packages)) << p.id.hex();
  }
}

TEST(PullLogger, StopsBeingHealthyWhenTheLogCannotBeWritten) {
  TempDir dir;
  testing::FaultEnv env;
  auto log = TransferLog::open(dir.path(), {&env}).value();
  auto key = PrivateKey::generate().value();
  PullLogger logger(*log, key, 1000, std::chrono::seconds(60), std::chrono::milliseconds(20));
  logger.record(R"("path":"/a")");
  for (int i = 0; i < 100 && logger.written() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(logger.written(), 1u);
  EXPECT_TRUE(logger.healthy());
  env.write_budget = 0;  // the disk is full
  logger.record(R"("path":"/b")");
  for (int i = 0; i < 100 && logger.healthy(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(logger.healthy());
  auto before = testing::read_text(dir / "transfer-000001.jsonl");
  EXPECT_EQ(before.find("/b"), std::string::npos);  // no torn record left behind
  env.write_budget = -1;  // space again: the queued record is written, health returns
  for (int i = 0; i < 200 && !logger.healthy(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(logger.healthy());
  ASSERT_TRUE(logger.stop());
  EXPECT_NE(testing::read_text(dir / "transfer-000001.jsonl").find("/b"), std::string::npos);
}

// While the log cannot be written the queue fills up to its bound and no
// further: those beyond it are counted, the logger stays unhealthy until the
// queue is written, then the count is written as one record.
TEST(PullLogger, BoundsItsQueueWhileTheLogCannotBeWritten) {
  TempDir dir;
  testing::FaultEnv env;
  auto log = TransferLog::open(dir.path(), {&env}).value();
  auto key = PrivateKey::generate().value();
  PullLogger logger(*log, key, 1000, std::chrono::seconds(60), std::chrono::milliseconds(20), 100);
  env.write_budget = 0;
  logger.record(R"("path":"/first")");
  for (int i = 0; i < 500 && logger.healthy(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE(logger.healthy());
  for (int i = 0; i < 250; ++i) logger.record(R"("path":"/more")");
  env.write_budget = -1;
  for (int i = 0; i < 500 && (!logger.healthy() || logger.written() < 101); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(logger.healthy());
  ASSERT_TRUE(logger.stop());
  std::size_t kept = 0;
  std::vector<std::uint64_t> dropped;
  for (const auto& r : testing::read_jsonl(dir / "transfer-000001.jsonl")) {
    if (r["event"] != "pull") continue;
    if (r.contains("dropped")) {
      dropped.push_back(r["dropped"]);
      EXPECT_EQ(r["status"], 503);
      EXPECT_EQ(r["path"], "");
    } else {
      ++kept;
    }
  }
  EXPECT_EQ(kept, 100u);  // "/first" and 99 more: the bound
  EXPECT_EQ(dropped, std::vector<std::uint64_t>{151});
  EXPECT_EQ(logger.written(), 101u);
}

}  // namespace
}  // namespace airlock::repo
