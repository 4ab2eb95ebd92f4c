#include "airlock/store/snapshot.h"

#include <gtest/gtest.h>

#include "airlock/store/store.h"
#include "test_support.h"

namespace airlock {
namespace {

using testing::TempDir;

Snapshot sample(Store& store) {
  Snapshot s;
  s.repo = "debian-security";
  s.kind = "apt";
  s.upstream = "http://127.0.0.1:8000/debian-security";
  s.synced_at = parse_time("2026-11-22T10:00:00Z").value();
  s.release = {{"bookworm-security/Date", "Sat, 21 Nov 2026 08:00:00 UTC"}};
  for (std::string path : {"pool/main/o/openssl/libssl3.deb", "dists/bookworm-security/InRelease",
                           "pool/main/c/curl/curl.deb"}) {
    auto bytes = "content of " + path;
    auto id = store.put_bytes(bytes).value();
    s.entries.push_back({path, id, bytes.size()});
  }
  return s;
}

TEST(Snapshot, CanonicalJsonIsSortedAndCompact) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto s = sample(*store);
  auto json = s.to_canonical_json().value();
  EXPECT_EQ(json.find(": "), std::string::npos);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  EXPECT_LT(json.find("dists/bookworm-security/InRelease"), json.find("pool/main/c/curl"));
  EXPECT_LT(json.find("pool/main/c/curl"), json.find("pool/main/o/openssl"));
  EXPECT_EQ(json.substr(0, 11), "{\"entries\":");
  // Order of entries in memory does not change the id.
  auto shuffled = s;
  std::reverse(shuffled.entries.begin(), shuffled.entries.end());
  EXPECT_EQ(shuffled.to_canonical_json().value(), json);
  auto parsed = Snapshot::parse(json);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->to_canonical_json().value(), json);
  EXPECT_EQ(parsed->repo, "debian-security");
  ASSERT_NE(parsed->find("pool/main/c/curl/curl.deb"), nullptr);
  EXPECT_EQ(parsed->find("pool/main/c/curl/curl.deb")->size,
            std::string("content of pool/main/c/curl/curl.deb").size());
  EXPECT_EQ(parsed->find("pool/nothing"), nullptr);
}

TEST(Snapshot, CanonicalFormExactly) {
  Snapshot s;
  s.repo = "r";
  s.kind = "files";
  s.upstream = "http://u/";
  s.synced_at = parse_time("2026-01-02T03:04:05Z").value();
  s.release = {{"b", "2"}, {"a", "1"}};
  s.entries = {{"x/y", sha256(std::string_view("")), 0}};
  EXPECT_EQ(s.to_canonical_json().value(),
            "{\"entries\":[{\"path\":\"x/y\",\"sha256\":"
            "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0}],"
            "\"filtered\":false,\"kind\":\"files\",\"packages\":[],"
            "\"release\":{\"a\":\"1\",\"b\":\"2\"},\"repo\":\"r\","
            "\"synced_at\":\"2026-01-02T03:04:05Z\",\"upstream\":\"http://u/\"}");
}

TEST(Snapshot, PackageListRoundTripsSortedAndMustNameHeldFiles) {
  Snapshot s;
  s.repo = "r";
  s.kind = "apt";
  s.upstream = "http://u/";
  s.synced_at = parse_time("2026-01-02T03:04:05Z").value();
  const auto d = sha256(std::string_view("deb"));
  s.entries = {
      {"pool/b.deb", d, 3}, {"pool/a.deb", d, 3}, {"dists/s/main/binary-amd64/Packages", d, 3}};
  s.packages = {
      {"b", "2", "amd64", "bsrc", 3, d, "pool/b.deb", "dists/s/main/binary-amd64/Packages"},
      {"a", "1", "all", "a", 3, d, "pool/a.deb", "dists/s/main/binary-amd64/Packages"}};
  s.filtered = true;
  auto text = s.to_canonical_json().value();
  auto back = Snapshot::parse(text).value();
  ASSERT_EQ(back.packages.size(), 2u);
  EXPECT_EQ(back.packages[0].name, "a");
  EXPECT_EQ(back.packages[1].source, "bsrc");
  EXPECT_TRUE(back.filtered);
  s.packages[0].path = "pool/missing.deb";
  auto bad = s.to_canonical_json();
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "snapshot package 'b' names a file it does not hold");
}

TEST(Snapshot, ParseRefusesNonCanonicalOrMalformed) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto json = sample(*store).to_canonical_json().value();
  EXPECT_FALSE(Snapshot::parse(json + "\n"));
  EXPECT_FALSE(Snapshot::parse("{}"));
  EXPECT_FALSE(Snapshot::parse("[]"));
  EXPECT_FALSE(Snapshot::parse(json.substr(0, json.size() - 1)));
  auto spaced = json;
  spaced.insert(1, " ");
  auto r = Snapshot::parse(spaced);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "snapshot: not in canonical form");
}

TEST(Snapshot, ParseRefusesADuplicateKeyNamingIt) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto json = sample(*store).to_canonical_json().value();
  auto r = Snapshot::parse(R"({"repo":"evil",)" + json.substr(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
  EXPECT_EQ(r.error().message, "snapshot: duplicate key \"repo\"");
}

TEST(Snapshot, ParseRefusesAnUnsafeRepositoryName) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto snap = sample(*store);
  for (std::string name :
       std::vector<std::string>{"../../evil", "..", "a/b", "", std::string(129, 'a')}) {
    snap.repo = name;
    auto r = Snapshot::parse(snap.to_canonical_json().value());
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error().code, Code::invalid_input);
    EXPECT_TRUE(r.error().message.starts_with("snapshot: repo name \"")) << r.error().message;
    EXPECT_TRUE(r.error().message.ends_with(
        "\" is not valid (1-128 characters of A-Z a-z 0-9 - _ . and not . or ..)"));
  }
}

TEST(Snapshot, RefusesUnsafeOrDuplicatePaths) {
  Snapshot s;
  s.repo = "r";
  s.kind = "files";
  for (std::string bad : {"/etc/passwd", "../x", "a/../b", "a//b", "a/./b", "", "a/", "a\\b"}) {
    s.entries = {{bad, sha256(std::string_view("x")), 1}};
    EXPECT_FALSE(s.to_canonical_json()) << bad;
  }
  s.entries = {{"a", sha256(std::string_view("x")), 1}, {"a", sha256(std::string_view("y")), 1}};
  auto r = s.to_canonical_json();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "snapshot lists path 'a' twice");
}

TEST(Snapshot, StoredAsObjectWhoseIdIsItsDigest) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto s = sample(*store);
  auto id = store->put_snapshot(s);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, sha256(s.to_canonical_json().value()));
  auto back = store->get_snapshot(*id).value();
  EXPECT_EQ(back.entries.size(), 3u);
  auto list = store->list_snapshots().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, *id);
  EXPECT_EQ(list[0].repo, "debian-security");
  EXPECT_EQ(list[0].entries, 3u);
  // The same content again is the same snapshot.
  EXPECT_EQ(store->put_snapshot(s).value(), *id);
  EXPECT_EQ(store->list_snapshots()->size(), 1u);
}

TEST(Snapshot, ListedBySyncTimeThenRecordingOrder) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto base = sample(*store);
  auto with = [&](std::string repo, std::string_view time) {
    Snapshot s = base;
    s.repo = std::move(repo);
    s.synced_at = parse_time(time).value();
    return store->put_snapshot(s).value();
  };
  auto late_first = with("late-first", "2026-11-22T10:00:00Z");
  auto late_second = with("late-second", "2026-11-22T10:00:00Z");
  auto early = with("early", "2026-11-21T10:00:00Z");
  auto list = store->list_snapshots().value();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].id, early);
  EXPECT_EQ(list[1].id, late_first);
  EXPECT_EQ(list[2].id, late_second);
  EXPECT_EQ(list[0].seq, 2u);
  EXPECT_EQ(list[1].seq, 0u);
  EXPECT_EQ(list[2].seq, 1u);
  EXPECT_EQ(list[0].repo, "early");
  EXPECT_EQ(list[0].kind, "apt");
  EXPECT_EQ(list[0].synced_at, parse_time("2026-11-21T10:00:00Z").value());
  EXPECT_EQ(list[0].entries, 3u);
  EXPECT_EQ(list[0].bytes, base.total_size());
}

TEST(Snapshot, RefusedWhenAnObjectIsMissing) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto s = sample(*store);
  auto count = store->object_count().value();
  s.entries.push_back({"pool/main/z/zlib.deb", sha256(std::string_view("never stored")), 12});
  auto r = store->put_snapshot(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_NE(r.error().message.find("pool/main/z/zlib.deb"), std::string::npos);
  EXPECT_EQ(store->object_count().value(), count);
  EXPECT_TRUE(store->list_snapshots()->empty());
  s.entries.pop_back();
  s.entries[0].size += 1;
  auto wrong_size = store->put_snapshot(s);
  ASSERT_FALSE(wrong_size);
  EXPECT_NE(wrong_size.error().message.find("bytes, the stored object has"), std::string::npos);
}

TEST(Snapshot, RegisterSnapshotFromObjectsInOneBatch) {
  TempDir source_dir, dir;
  auto source = Store::open(source_dir.path()).value();
  auto s = sample(*source);
  auto json = s.to_canonical_json().value();
  auto store = Store::open(dir.path()).value();
  auto batch = store->begin_batch().value();
  // As an import does: the snapshot object and its entries arrive together.
  auto snap_id = batch.put_bytes(json).value();
  for (const auto& e : s.entries)
    ASSERT_TRUE(batch.put_bytes(source->read(e.sha256).value(), e.sha256));
  ASSERT_TRUE(batch.register_snapshot(snap_id));
  batch.set_ref("channel/test/debian-security", snap_id, "import");
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(store->get_snapshot(snap_id)->repo, "debian-security");
  EXPECT_EQ(store->get_ref("channel/test/debian-security").value(), snap_id);
}

TEST(Snapshot, GetOfPlainObjectIsNotFound) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto id = store->put_bytes("{}").value();
  EXPECT_EQ(store->get_snapshot(id).error().code, Code::not_found);
}

}  // namespace
}  // namespace airlock
