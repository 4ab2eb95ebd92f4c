#include "airlock/store/snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

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

// A snapshot with packages, its entries' objects in store.
Snapshot with_packages(Store& store) {
  Snapshot s = sample(store);
  const std::string index = "dists/bookworm-security/main/binary-amd64/Packages";
  auto id = store.put_bytes("Package: curl\n").value();
  s.entries.push_back({index, id, 14});
  s.packages = {{"curl", "7.88", "amd64", "curl", s.entries[2].size, s.entries[2].sha256,
                 s.entries[2].path, index},
                {"libssl3", "3.0.11", "amd64", "openssl", s.entries[0].size, s.entries[0].sha256,
                 s.entries[0].path, index}};
  return s;
}

// Reads text in pieces of at most chunk bytes.
Snapshot::Source pieces_of(const std::string& text, std::size_t chunk) {
  return [&text, chunk, at = std::size_t{0}](std::span<char> buf) mutable -> Result<std::size_t> {
    std::size_t n = std::min({chunk, buf.size(), text.size() - at});
    std::copy_n(text.data() + at, n, buf.data());
    at += n;
    return n;
  };
}

TEST(Snapshot, ParseRefusesMalformedWithOneLineErrors) {
  using nlohmann::json;
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  const auto text = with_packages(*store).to_canonical_json().value();
  const auto canonical = json::parse(text);
  // Each case changes the canonical document; dump() keeps keys sorted and compact.
  auto edited = [&](auto&& change) {
    json doc = canonical;
    change(doc);
    return doc.dump();
  };
  const std::string bad_hex = Digest::parse("xyz").error().message;
  std::vector<std::pair<std::string, std::string>> cases = {
      {edited([](json& d) { d["repo"] = 1; }), "repo must be a string"},
      {edited([](json& d) { d["kind"] = nullptr; }), "kind must be a string"},
      {edited([](json& d) { d["upstream"] = json::array(); }), "upstream must be a string"},
      {edited([](json& d) { d.erase("synced_at"); }), "synced_at must be a string"},
      {edited([](json& d) { d["release"] = json::array(); }), "release must be an object"},
      {edited([](json& d) { d["entries"] = json::object(); }), "entries must be an array"},
      {edited([](json& d) { d["extra"] = 1; }), "unexpected fields"},
      {edited([](json& d) { d["synced_at"] = "yesterday"; }),
       "synced_at: " + parse_time("yesterday").error().message},
      {edited([](json& d) { d["release"]["x"] = 1; }), "release values must be strings"},
      {edited([](json& d) { d["entries"][1]["size"] = "3"; }),
       "each entry needs exactly path, sha256 and size"},
      {edited([](json& d) { d["entries"][1]["size"] = -3; }),
       "each entry needs exactly path, sha256 and size"},
      {edited([](json& d) { d["entries"][1]["mode"] = 420; }),
       "each entry needs exactly path, sha256 and size"},
      {edited([](json& d) { d["entries"][0] = "pool/x"; }),
       "each entry needs exactly path, sha256 and size"},
      {edited([](json& d) { d["entries"][2]["sha256"] = "xyz"; }), bad_hex},
      {edited([](json& d) { d["packages"] = json::object(); }), "packages must be an array"},
      {edited([](json& d) { d["filtered"] = "no"; }), "filtered must be true or false"},
      {edited([](json& d) { d["packages"][0].erase("source"); }),
       "each package needs exactly its eight fields"},
      {edited([](json& d) { d["packages"][1]["extra"] = 1; }),
       "each package needs exactly its eight fields"},
      {edited([](json& d) { d["packages"][0] = 7; }),
       "each package needs exactly its eight fields"},
      {edited([](json& d) { d["packages"][1]["version"] = 3; }),
       "package version must be a string"},
      {edited([](json& d) { d["packages"][0]["size"] = 1.5; }), "package size must be a number"},
      {edited([](json& d) { d["packages"][0]["sha256"] = "xyz"; }), bad_hex},
      {edited([](json& d) { d["packages"][0]["path"] = "pool/none.deb"; }),
       "snapshot package 'curl' names a file it does not hold"},
      {edited([](json& d) { d["entries"][0]["path"] = "../x"; }),
       "snapshot path '../x' is not a safe relative path"},
      // Several faults: the first check in parse()'s order wins, wherever it stands.
      {edited([](json& d) {
         d["upstream"] = 1;
         d["entries"] = 2;
       }),
       "upstream must be a string"},
      {edited([](json& d) {
         d["packages"][0]["size"] = "1";
         d["entries"][2]["size"] = "1";
       }),
       "each entry needs exactly path, sha256 and size"},
      {edited([](json& d) {
         d["entries"][0]["size"] = "1";
         d["entries"][1]["sha256"] = "xyz";
       }),
       "each entry needs exactly path, sha256 and size"},
      // Not in canonical form: whitespace, member order, entry order, escapes.
      {" " + text, "not in canonical form"},
      {text.substr(0, text.size() - 1) + " }", "not in canonical form"},
      {R"({"filtered":false,"entries":[],"kind":"files","packages":[],"release":{},"repo":"r",)"
       R"("synced_at":"2026-01-02T03:04:05Z","upstream":"u"})",
       "not in canonical form"},
      {edited([](json& d) { std::swap(d["entries"][0], d["entries"][1]); }),
       "not in canonical form"},
      {edited([](json& d) {
         d["kind"] = "apt";
       }).replace(text.find("\"kind\":\"apt\""), 12, "\"kind\":\"\\u0061pt\""),
       "not in canonical form"},
      // Not JSON at all, or not an object.
      {text.substr(0, text.size() / 2), "not a JSON object"},
      {text + "x", "not a JSON object"},
      {"", "not a JSON object"},
      {"[]", "not a JSON object"},
      {"\"snapshot\"", "not a JSON object"},
      {edited([](json& d) {
         d["kind"] = "KIND";
       }).replace(text.find("\"kind\":\"apt\"") + 8, 4, "a\xff\xfe"),
       "not a JSON object"},
      // Duplicate keys anywhere, named.
      {R"({"kind":"x",)" + text.substr(1), "duplicate key \"kind\""},
      {edited([](json& d) {
         d["release"]["x"] = "1";
       }).replace(text.find("\"release\":{") + 11, 0, "\"x\":\"0\","),
       "duplicate key \"x\""},
      {edited([](json& d) { d["entries"][0]["size"] = 9; }).insert(13, "\"size\":1,"),
       "duplicate key \"size\""},
      {[&] {
         auto t = edited([](json& d) { d["extra"] = {{"a", 1}}; });
         return t.insert(t.find("\"a\":1") + 5, ",\"a\":2");
       }(),
       "duplicate key \"a\""},
  };
  for (const auto& [input, message] : cases) {
    auto r = Snapshot::parse(input);
    ASSERT_FALSE(r) << input;
    EXPECT_EQ(r.error().code, Code::invalid_input) << input;
    EXPECT_EQ(r.error().message, "snapshot: " + message) << input;
    Digest digest;
    auto streamed = Snapshot::parse(pieces_of(input, 5), digest);
    ASSERT_FALSE(streamed) << input;
    EXPECT_EQ(streamed.error().message, "snapshot: " + message) << input;
    EXPECT_EQ(digest, sha256(input)) << input;
  }
}

TEST(Snapshot, ParsedFromPiecesAsFromWholeText) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto snap = with_packages(*store);
  snap.release["bookworm-security/Label"] = "Debian \"security\" \u00e9\t";
  const auto text = snap.to_canonical_json().value();
  auto whole = Snapshot::parse(text).value();
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, text.size()}) {
    Digest digest;
    auto streamed = Snapshot::parse(pieces_of(text, chunk), digest);
    ASSERT_TRUE(streamed) << streamed.error().message;
    EXPECT_EQ(digest, sha256(text));
    EXPECT_EQ(streamed->entries, whole.entries);
    EXPECT_EQ(streamed->packages, whole.packages);
    EXPECT_EQ(streamed->release, whole.release);
    EXPECT_EQ(streamed->to_canonical_json().value(), text);
  }
  EXPECT_EQ(whole.release.at("bookworm-security/Label"), "Debian \"security\" \u00e9\t");
  // An error of the source ends the reading and comes back as it is.
  Digest digest;
  auto r = Snapshot::parse(
      [](std::span<char>) -> Result<std::size_t> { return fail(Code::io, "disk on fire"); },
      digest);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::io);
  EXPECT_EQ(r.error().message, "disk on fire");
}

TEST(Snapshot, CanonicalFormIsCheckedUnlessTheBytesWereCheckedWhenStored) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto snap = with_packages(*store);
  const auto text = snap.to_canonical_json().value();
  // The same snapshot with the members of one entry in another order.
  auto moved = text;
  const auto at = moved.find("{\"path\":");
  ASSERT_NE(at, std::string::npos);
  const auto end = moved.find('}', at);
  auto entry = nlohmann::json::parse(moved.substr(at, end - at + 1));
  const std::string reordered = "{\"size\":" + entry["size"].dump() +
                                ",\"path\":" + entry["path"].dump() +
                                ",\"sha256\":" + entry["sha256"].dump() + "}";
  moved.replace(at, end - at + 1, reordered);
  ASSERT_NE(moved, text);
  Digest digest;
  auto checked = Snapshot::parse(pieces_of(moved, 64), digest);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().message, "snapshot: not in canonical form");
  auto known = Snapshot::parse(pieces_of(moved, 64), digest, Snapshot::Canonical::known);
  ASSERT_TRUE(known) << known.error().message;
  EXPECT_EQ(digest, sha256(moved));
  EXPECT_EQ(known->entries, Snapshot::parse(text).value().entries);
  EXPECT_EQ(known->to_canonical_json().value(), text);
  // What a stored snapshot is read back as.
  auto id = store->put_snapshot(snap).value();
  auto back = store->get_snapshot(id).value();
  EXPECT_EQ(back.to_canonical_json().value(), text);
}

TEST(Snapshot, WrittenInPiecesAsOneText) {
  Snapshot s;
  s.repo = "r";
  s.kind = "files";
  s.upstream = "http://u/";
  for (int i = 0; i < 3000; ++i) {
    s.entries.push_back({"pool/" + std::to_string(i) + ".deb", sha256(std::to_string(i)), 1});
  }
  std::vector<std::string> pieces;
  auto written = s.write_canonical_json([&](std::string_view piece) -> Status {
    pieces.emplace_back(piece);
    return {};
  });
  ASSERT_TRUE(written) << written.error().message;
  ASSERT_GT(pieces.size(), 1u);
  std::string joined;
  for (const auto& p : pieces) {
    EXPECT_LE(p.size(), 70u << 10);
    joined += p;
  }
  EXPECT_EQ(joined, s.to_canonical_json().value());
  // The first error of out ends the writing.
  int calls = 0;
  auto stopped = s.write_canonical_json([&](std::string_view) -> Status {
    ++calls;
    return fail(Code::io, "no space");
  });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().message, "no space");
  EXPECT_EQ(calls, 1);
  // Refusals come before anything is written.
  s.entries[0].path = "a\xff";
  calls = 0;
  auto utf8 = s.write_canonical_json([&](std::string_view) -> Status {
    ++calls;
    return {};
  });
  ASSERT_FALSE(utf8);
  EXPECT_EQ(utf8.error().message,
            "snapshot is not valid UTF-8: [json.exception.type_error.316] invalid UTF-8 byte at "
            "index 1: 0xFF");
  EXPECT_EQ(s.to_canonical_json().error().message, utf8.error().message);
  s.entries[1].path = "/etc";
  auto unsafe = s.write_canonical_json([&](std::string_view) -> Status {
    ++calls;
    return {};
  });
  ASSERT_FALSE(unsafe);
  EXPECT_EQ(unsafe.error().message, "snapshot path '/etc' is not a safe relative path");
  EXPECT_EQ(calls, 0);
}

// Flips a byte of the stored snapshot object at path; returns its bytes now.
std::string flip_a_byte(const std::filesystem::path& path) {
  auto text = testing::read_text(path);
  std::filesystem::permissions(path, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  text[text.find("libssl3")] = 'L';
  testing::write_text(path, text);
  return text;
}

TEST(Snapshot, StoredSnapshotReadAsAStreamIsVerified) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto snap = with_packages(*store);
  auto id = store->put_snapshot(snap).value();
  EXPECT_EQ(store->get_snapshot(id)->packages.size(), 2u);
  // A flipped byte in the stored object: corrupt, with both digests.
  auto path = dir.path() / "objects" / id.hex().substr(0, 2) / id.hex();
  auto text = flip_a_byte(path);
  auto r = store->get_snapshot(id);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::corrupt);
  EXPECT_EQ(r.error().message, "object " + path.string() + " is corrupt: expected sha256 " +
                                   id.hex() + ", actual " + sha256(text).hex());
  // Damaged past parsing: still corrupt, not a parse error.
  testing::write_text(path, text.substr(0, 10));
  EXPECT_EQ(store->get_snapshot(id).error().code, Code::corrupt);
}

TEST(Snapshot, AVisitorTakesEntriesAndPackagesAsTheyAreRead) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto snap = with_packages(*store);
  auto id = store->put_snapshot(snap).value();
  auto whole = store->get_snapshot(id).value();
  std::vector<SnapshotEntry> entries;
  std::vector<PackageEntry> packages;
  SnapshotVisitor both{[&](SnapshotEntry&& e) -> Status {
                         entries.push_back(std::move(e));
                         return {};
                       },
                       [&](PackageEntry&& p) -> Status {
                         packages.push_back(std::move(p));
                         return {};
                       }};
  auto visited = store->get_snapshot(id, both).value();
  EXPECT_EQ(entries, whole.entries);
  EXPECT_EQ(packages, whole.packages);
  EXPECT_TRUE(visited.entries.empty());
  EXPECT_TRUE(visited.packages.empty());
  EXPECT_EQ(visited.repo, whole.repo);
  EXPECT_EQ(visited.release, whole.release);
  // Only packages visited: the entries are kept as usual.
  SnapshotVisitor only_packages;
  only_packages.package = [](PackageEntry&&) -> Status { return {}; };
  auto part = store->get_snapshot(id, only_packages).value();
  EXPECT_EQ(part.entries, whole.entries);
  EXPECT_TRUE(part.packages.empty());
}

TEST(Snapshot, AVisitorsErrorEndsTheReadAsItIs) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto id = store->put_snapshot(with_packages(*store)).value();
  int seen = 0;
  SnapshotVisitor stop;
  stop.entry = [&](SnapshotEntry&&) -> Status {
    return ++seen == 1 ? fail(Code::limit, "too many entries") : Status{};
  };
  auto r = store->get_snapshot(id, stop);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::limit);
  EXPECT_EQ(r.error().message, "too many entries");
  EXPECT_EQ(seen, 1);
  // Damaged bytes are still told apart, visitor or not.
  auto path = dir.path() / "objects" / id.hex().substr(0, 2) / id.hex();
  auto text = flip_a_byte(path);
  SnapshotVisitor keep_going;
  keep_going.entry = [](SnapshotEntry&&) -> Status { return {}; };
  auto damaged = store->get_snapshot(id, keep_going);
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, Code::corrupt);
}

TEST(Snapshot, AVisitorCannotBeUsedWhereCanonicalFormIsChecked) {
  Digest digest;
  SnapshotVisitor v;
  v.entry = [](SnapshotEntry&&) -> Status { return {}; };
  auto r = Snapshot::parse([](std::span<char>) -> Result<std::size_t> { return 0; }, digest,
                           Snapshot::Canonical::check, &v);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
}

TEST(Snapshot, GetOfPlainObjectIsNotFound) {
  TempDir dir;
  auto store = Store::open(dir.path()).value();
  auto id = store->put_bytes("{}").value();
  EXPECT_EQ(store->get_snapshot(id).error().code, Code::not_found);
}

}  // namespace
}  // namespace airlock
