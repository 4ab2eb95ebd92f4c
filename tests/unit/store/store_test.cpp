#include "airlock/store/store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::unique_ptr<Store> open_store(const fs::path& dir, StoreOptions opts = {}) {
  auto s = Store::open(dir, opts);
  if (!s) ADD_FAILURE() << s.error().message;
  return std::move(*s);
}

fs::path blob_path(const fs::path& store, const Digest& id) {
  return store / "objects" / id.hex().substr(0, 2) / id.hex();
}

TEST(Store, PutReadRoundTrip) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto id = store->put_bytes("hello world");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, sha256(std::string_view("hello world")));
  EXPECT_EQ(store->read(*id).value(), "hello world");
  auto info = store->stat(*id).value();
  EXPECT_EQ(info.size, 11u);
  EXPECT_TRUE(store->contains(*id).value());
  EXPECT_EQ(store->object_count().value(), 1u);
  // Small and declared: packed, the first pack's first bytes.
  auto file = store->open_object(*id);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->size, 11u);
  EXPECT_TRUE(file->packed);
  EXPECT_EQ(file->offset, 0u);
  EXPECT_EQ(file->path, dir.path() / "objects" / "packs" / "0000000000000001.pack");
  EXPECT_FALSE(fs::exists(blob_path(dir.path(), *id)));
  // Larger than kPackedObjectMax: a file of its own.
  const std::string large(kPackedObjectMax + 1, 'y');
  auto big = store->put_bytes(large).value();
  EXPECT_TRUE(fs::exists(blob_path(dir.path(), big)));
  auto big_file = store->open_object(big).value();
  EXPECT_FALSE(big_file.packed);
  EXPECT_EQ(big_file.path, blob_path(dir.path(), big));
  EXPECT_EQ(store->read(big).value(), large);
}

TEST(Store, ABatchPacksItsSmallObjectsBackToBackInOnePack) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<std::string> data;
  std::vector<Digest> ids;
  {
    auto batch = store->begin_batch().value();
    for (int i = 0; i < 300; ++i) {
      data.push_back(testing::random_bytes(4096 + i, static_cast<std::uint64_t>(i)));
      ids.push_back(batch.put_bytes(data.back()).value());
    }
    // Twice the same bytes: stored once.
    EXPECT_EQ(batch.put_bytes(data[7]).value(), ids[7]);
    ASSERT_TRUE(batch.commit());
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto file = store->open_object(ids[i]).value();
    EXPECT_TRUE(file.packed);
    EXPECT_EQ(file.path.filename(), "0000000000000001.pack");
    EXPECT_EQ(file.offset, offset);
    offset += data[i].size();
    EXPECT_EQ(store->read(ids[i]).value(), data[i]);
  }
  EXPECT_EQ(fs::file_size(dir.path() / "objects" / "packs" / "0000000000000001.pack"), offset);
  // The next batch, the next pack; a scrub reads both.
  auto later = store->put_bytes("later").value();
  EXPECT_EQ(store->open_object(later).value().path.filename(), "0000000000000002.pack");
  auto report = store->scrub().value();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.checked, 301u);
  EXPECT_EQ(report.bytes, offset + 5);
}

// Runs change in one write transaction on the index of a closed store,
// with LMDB itself (what the store's own code would refuse to write).
void change_index(const fs::path& store, const std::function<void(MDB_txn*)>& change) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 10);
  ASSERT_EQ(mdb_env_open(env, (store / "index").c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  change(txn);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

// Removes tables from a store's index, as a build before they existed left it.
void drop_tables(const fs::path& store, std::initializer_list<const char*> tables) {
  change_index(store, [&](MDB_txn* txn) {
    for (auto* t : tables) {
      MDB_dbi dbi;
      ASSERT_EQ(mdb_dbi_open(txn, t, 0, &dbi), 0);
      ASSERT_EQ(mdb_drop(txn, dbi, 1), 0);
    }
  });
}

TEST(Store, AStoreMadeBeforePacksOpensReadOnlyAndGainsPacksWhenWritten) {
  TempDir dir;
  Digest id;
  {
    auto store = open_store(dir.path());
    auto batch = store->begin_batch({.pack_small = false}).value();
    id = batch.put_bytes("old object").value();
    ASSERT_TRUE(batch.commit());
  }
  drop_tables(dir.path(), {"packed", "packs"});
  fs::remove_all(dir / "objects" / "packs");
  {
    auto ro = Store::open(dir.path(), {.read_only = true});
    ASSERT_TRUE(ro) << ro.error().message;
    EXPECT_EQ((*ro)->read(id).value(), "old object");
    EXPECT_TRUE((*ro)->scrub().value().ok());
    EXPECT_FALSE(fs::exists(dir / "objects" / "packs"));
  }
  auto rw = open_store(dir.path());
  EXPECT_EQ(rw->read(id).value(), "old object");
  auto small = rw->put_bytes("new small").value();
  EXPECT_TRUE(rw->open_object(small).value().packed);
  EXPECT_EQ(rw->read(small).value(), "new small");
}

TEST(Store, ABatchWhosePackCouldNotBeWrittenTakesNothingMore) {
  TempDir dir;
  testing::FaultEnv env;
  auto store = open_store(dir.path(), {.env = &env});
  auto batch = store->begin_batch().value();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(batch.put_bytes(testing::random_bytes(1000, i)));
  env.write_budget = 1500;  // part of the pack is written, then the disk is full
  auto failed = batch.commit();
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message.find("No space left on device"), std::string::npos);
  env.write_budget = -1;
  auto retried = batch.commit();
  ASSERT_FALSE(retried);
  EXPECT_EQ(retried.error().message.rfind("the batch failed earlier and takes nothing more: ", 0),
            0u)
      << retried.error().message;
  auto more = batch.put_bytes("more");
  ASSERT_FALSE(more);
  EXPECT_EQ(more.error().message, retried.error().message);
  EXPECT_EQ(store->object_count().value(), 0u);
}

TEST(Store, ABatchWhoseCommitFailedAfterNamingItsPackTakesNothingMore) {
  TempDir dir;
  testing::FaultEnv env;
  auto store = open_store(dir.path(), {.env = &env});
  {
    auto batch = store->begin_batch().value();
    ASSERT_TRUE(batch.put_bytes("first"));
    // The marker's directory is flushed first, the packs directory second.
    int seen = 0;
    env.fail_if = [&](const std::string& op, int) { return op == "sync_dir" && ++seen == 2; };
    ASSERT_FALSE(batch.commit());
    env.fail_if = nullptr;
    auto more = batch.put_bytes("second");
    ASSERT_FALSE(more);
    EXPECT_EQ(more.error().message.rfind("the batch failed earlier", 0), 0u);
    EXPECT_FALSE(batch.commit());
  }
  // Nothing of it stays: the named pack goes with the batch.
  EXPECT_EQ(store->object_count().value(), 0u);
  EXPECT_TRUE(fs::is_empty(dir.path() / "objects" / "packs"));
  auto id = store->put_bytes("after").value();
  EXPECT_EQ(store->read(id).value(), "after");
}

TEST(Store, WithoutUnnamedFilesAPackWaitsInTmpAndIsReadThere) {
  TempDir dir;
  testing::FaultEnv env;
  env.unnamed_files = false;
  auto store = open_store(dir.path(), {.env = &env});
  auto batch = store->begin_batch().value();
  auto a = batch.put_bytes("aaaa").value();
  auto big = batch.put_bytes(std::string(kPackedObjectMax + 5, 'z')).value();
  EXPECT_EQ(testing::tree_fingerprint(dir / "tmp").size(), 2u);
  EXPECT_EQ(batch.read(a).value(), "aaaa");
  EXPECT_EQ(batch.read(big).value().size(), kPackedObjectMax + 5);
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(store->read(a).value(), "aaaa");
  EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
}

TEST(Store, ABatchForAScanKeepsEveryObjectInAFileOfItsOwn) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto batch = store->begin_batch({.pack_small = false}).value();
  auto id = batch.put_bytes("scanned").value();
  auto files = batch.pending_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].first, id);
  EXPECT_EQ(testing::read_text(files[0].second), "scanned");
  ASSERT_TRUE(batch.commit());
  EXPECT_FALSE(store->open_object(id).value().packed);
  EXPECT_TRUE(fs::is_empty(dir.path() / "objects" / "packs"));
}

TEST(Store, LargeObjectFromFileRoundTrip) {
  TempDir dir;
  auto data = testing::random_bytes(5 * (1 << 20) + 3, 11);
  testing::write_text(dir / "big", data);
  auto store = open_store(dir / "store");
  auto id = store->put_file(dir / "big", sha256(data));
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(store->read(*id).value(), data);
  EXPECT_TRUE(store->verify_object(*id));
}

TEST(Store, ReadInPiecesGivesTheBytesThenChecksThem) {
  TempDir dir;
  auto data = testing::random_bytes(3 * (1 << 20) + 5, 12);
  auto store = open_store(dir / "store");
  auto id = store->put_bytes(data);
  ASSERT_TRUE(id) << id.error().message;
  auto reader = store->read_pieces(*id, data.size());
  ASSERT_TRUE(reader) << reader.error().message;
  std::string joined;
  for (;;) {
    auto piece = reader->next();
    ASSERT_TRUE(piece) << piece.error().message;
    if (piece->empty()) break;
    EXPECT_LE(piece->size(), 1u << 20);
    joined.append(*piece);
  }
  EXPECT_EQ(joined, data);
  EXPECT_TRUE(reader->finish());

  auto over = store->read_pieces(*id, data.size() - 1);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Code::limit);
  EXPECT_FALSE(store->read_pieces(sha256("nobody"), 10));

  // A changed byte is found by finish(), after a piece or with none read.
  const fs::path file = blob_path(dir / "store", *id);
  fs::permissions(file, fs::perms::owner_write, fs::perm_options::add);
  data[2 << 20] ^= 1;
  testing::write_text(file, data);
  auto bad = store->read_pieces(*id, data.size());
  ASSERT_TRUE(bad);
  auto first = bad->next();
  ASSERT_TRUE(first && first->size() == 1u << 20);
  auto s = bad->finish();
  ASSERT_FALSE(s);
  auto unread = store->read_pieces(*id, data.size());
  ASSERT_TRUE(unread);
  auto u = unread->finish();
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message, s.error().message);
  EXPECT_EQ(s.error().code, Code::corrupt);
  EXPECT_EQ(s.error().message, "object " + file.string() + " is corrupt: expected sha256 " +
                                   id->hex() + ", actual " + sha256(data).hex());
}

TEST(Store, ReopenSeesObjects) {
  TempDir dir;
  Digest id;
  {
    auto store = open_store(dir.path());
    id = store->put_bytes("persist me").value();
  }
  auto store = open_store(dir.path());
  EXPECT_EQ(store->read(id).value(), "persist me");
}

TEST(Store, DedupKeepsOneFileAndFirstSeenTime) {
  TempDir dir;
  testing::FaultEnv env;
  auto store = open_store(dir.path(), {.env = &env});
  auto a = store->put_bytes("same").value();
  env.now_seconds += 1000;
  auto b = store->put_bytes("same").value();
  EXPECT_EQ(a, b);
  EXPECT_EQ(store->object_count().value(), 1u);
  EXPECT_EQ(store->stat(a)->first_seen.time_since_epoch().count(), 1'800'000'000);
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir / "objects")) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(Store, HashMismatchLeavesNoFileAndNoIndexEntry) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto claimed = sha256(std::string_view("what was promised"));
  auto r = store->put_bytes("what arrived", claimed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::corrupt);
  EXPECT_EQ(r.error().message, "object content does not match: expected sha256 " + claimed.hex() +
                                   ", actual " + sha256(std::string_view("what arrived")).hex());
  EXPECT_EQ(store->object_count().value(), 0u);
  EXPECT_TRUE(testing::tree_fingerprint(dir / "objects").empty());
  EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
}

TEST(Store, SizeLimitStopsOversizedObject) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto batch = store->begin_batch().value();
  auto sink = batch.begin_object({}, 4).value();
  ASSERT_TRUE(sink.write(std::string_view("abcd")));
  auto s = sink.write(std::string_view("e"));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::limit);
  EXPECT_EQ(s.error().message, "object is larger than the declared 4 bytes");
  EXPECT_FALSE(batch.finish_object(std::move(sink)));
  auto short_sink = batch.begin_object({}, 10).value();
  ASSERT_TRUE(short_sink.write(std::string_view("abc")));
  auto r = batch.finish_object(std::move(short_sink));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "object has 3 bytes, expected 10");
  EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
}

TEST(Store, PutManyWithOneBadMemberCommitsNothing) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto keep = store->put_bytes("already here").value();
  auto before = testing::tree_fingerprint(dir / "objects");
  {
    auto batch = store->begin_batch().value();
    ASSERT_TRUE(batch.put_bytes("one"));
    ASSERT_TRUE(batch.put_bytes("two"));
    ASSERT_TRUE(batch.put_bytes("already here"));
    auto bad = batch.put_bytes("three", sha256(std::string_view("not three")));
    ASSERT_FALSE(bad);
    // The caller abandons the batch on the first failure: nothing lands.
  }
  EXPECT_EQ(store->object_count().value(), 1u);
  EXPECT_TRUE(store->contains(keep).value());
  EXPECT_FALSE(store->contains(sha256(std::string_view("one"))).value());
  EXPECT_EQ(testing::tree_fingerprint(dir / "objects"), before);
  EXPECT_FALSE(fs::exists(dir / "dirty"));
}

TEST(Store, BatchCommitsAllTogether) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto batch = store->begin_batch().value();
  std::vector<Digest> ids;
  for (int i = 0; i < 50; ++i)
    ids.push_back(batch.put_bytes("object " + std::to_string(i)).value());
  // Not visible before commit.
  EXPECT_FALSE(store->contains(ids[0]).value());
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(store->object_count().value(), 50u);
  for (auto& id : ids) EXPECT_TRUE(store->verify_object(id));
}

TEST(Store, ABatchReadsItsOwnObjectsBeforeCommitAndTheStores) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto earlier = store->put_bytes("stored before").value();
  const std::string large(kPackedObjectMax + 1, 'x');
  {
    auto batch = store->begin_batch().value();
    auto id = batch.put_bytes("new in this batch").value();  // packed
    auto big = batch.put_bytes(large).value();               // a file of its own
    auto after = batch.put_bytes("after the pack was read").value();
    EXPECT_EQ(batch.read(id).value(), "new in this batch");
    EXPECT_EQ(batch.read(big).value(), large);
    EXPECT_EQ(batch.read(after).value(), "after the pack was read");
    EXPECT_EQ(batch.read(earlier).value(), "stored before");
    auto none = batch.read(sha256("nobody"));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, Code::not_found);
    // Not in the store until commit.
    EXPECT_FALSE(store->contains(id).value());
    ASSERT_TRUE(batch.commit());
    EXPECT_EQ(store->read(id).value(), "new in this batch");
    EXPECT_EQ(store->read(after).value(), "after the pack was read");
  }
}

TEST(Store, CorruptBlobIsReportedByReadAndScrub) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto good = store->put_bytes("good object").value();
  auto victim = store->put_bytes("victim object").value();
  auto gone = store->put_bytes("soon missing").value();
  const auto pack = testing::flip_object_byte(*store, victim);
  fs::remove(store->open_object(gone).value().path);
  auto actual = sha256(std::string_view("wictim object"));
  auto r = store->read(victim);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::corrupt);
  EXPECT_EQ(r.error().message, "object " + pack.string() +
                                   " at offset 0 is corrupt: expected sha256 " + victim.hex() +
                                   ", actual " + actual.hex());
  auto report = store->scrub().value();
  EXPECT_EQ(report.checked, 3u);
  ASSERT_EQ(report.corrupt.size(), 1u);
  EXPECT_EQ(report.corrupt[0].id, victim);
  EXPECT_NE(report.corrupt[0].message.find("actual " + actual.hex()), std::string::npos);
  ASSERT_EQ(report.missing.size(), 1u);
  EXPECT_EQ(report.missing[0].id, gone);
  EXPECT_FALSE(report.ok());
  EXPECT_TRUE(store->read(good));
  auto missing = store->open_object(gone);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::corrupt);
}

TEST(Store, APackCutShortIsCorruptNamingThePackAndWhereTheObjectEnds) {
  TempDir dir;
  auto store = open_store(dir.path());
  Digest first, second;
  {
    auto batch = store->begin_batch().value();
    first = batch.put_bytes("first object").value();
    second = batch.put_bytes("second object").value();
    ASSERT_TRUE(batch.commit());
  }
  const auto pack = store->open_object(second).value().path;
  fs::resize_file(pack, 20);  // "first object" (12 bytes) and 8 of the second's 13
  auto r = store->read(second);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::corrupt);
  EXPECT_EQ(r.error().message, "object " + second.hex() + " is corrupt: its pack " + pack.string() +
                                   " has 20 bytes, the object ends at 25");
  EXPECT_EQ(store->read(first).value(), "first object");
  auto report = store->scrub().value();
  ASSERT_EQ(report.corrupt.size(), 1u);
  EXPECT_EQ(report.corrupt[0].id, second);
  EXPECT_NE(report.corrupt[0].message.find(pack.string() + " at offset 12: expected sha256 " +
                                           second.hex() + " (13 bytes)"),
            std::string::npos)
      << report.corrupt[0].message;
  EXPECT_NE(report.corrupt[0].message.find("(8 bytes)"), std::string::npos);
}

TEST(Store, ReadOfUnknownObjectIsNotFound) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto r = store->read(sha256(std::string_view("never stored")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::not_found);
}

TEST(Store, FullDiskLeavesNothingBehind) {
  TempDir dir;
  testing::FaultEnv env;
  auto store = open_store(dir.path(), {.env = &env});
  auto keep = store->put_bytes("before the disk filled").value();
  auto before = testing::tree_fingerprint(dir / "objects");
  env.write_budget = 1000;
  auto big = testing::random_bytes(1 << 20, 3);
  auto r = store->put_bytes(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::io);
  EXPECT_NE(r.error().message.find("No space left on device"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(testing::tree_fingerprint(dir / "objects"), before);
  EXPECT_TRUE(testing::tree_fingerprint(dir / "tmp").empty());
  EXPECT_EQ(store->object_count().value(), 1u);
  EXPECT_TRUE(store->contains(keep).value());
}

TEST(Store, IndexMapGrowsInsteadOfFailing) {
  TempDir dir;
  auto store = open_store(dir.path(), {.initial_map_size = 64 * 1024});
  auto batch = store->begin_batch().value();
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(batch.put_bytes(std::to_string(i)));
  auto s = batch.commit();
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(store->object_count().value(), 5000u);
  // A second process-level handle adopts the grown map.
  auto again = open_store(dir.path(), {.initial_map_size = 64 * 1024});
  EXPECT_EQ(again->object_count().value(), 5000u);
}

TEST(Store, RefsKeepHistory) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto a = store->put_bytes("a").value();
  auto b = store->put_bytes("b").value();
  EXPECT_EQ(store->get_ref("channel/test/debian").error().code, Code::not_found);
  ASSERT_TRUE(store->set_ref("channel/test/debian", a, "alice: first"));
  ASSERT_TRUE(store->set_ref("channel/test/debian", b, "alice: patch day"));
  ASSERT_TRUE(store->set_ref("channel/prod/debian", a, "bob: promote"));
  ASSERT_TRUE(store->set_ref("other", b, ""));
  EXPECT_EQ(store->get_ref("channel/test/debian").value(), b);
  auto hist = store->ref_history("channel/test/debian").value();
  ASSERT_EQ(hist.size(), 2u);
  EXPECT_EQ(hist[0].seq, 1u);
  EXPECT_EQ(hist[0].target, a);
  EXPECT_EQ(hist[0].note, "alice: first");
  EXPECT_EQ(hist[1].seq, 2u);
  EXPECT_EQ(hist[1].target, b);
  auto channels = store->list_refs("channel/").value();
  ASSERT_EQ(channels.size(), 2u);
  EXPECT_EQ(channels[0].first, "channel/prod/debian");
  EXPECT_EQ(channels[1].first, "channel/test/debian");
  EXPECT_EQ(store->list_refs().value().size(), 3u);
  ASSERT_TRUE(store->set_ref("other", std::nullopt, "removed"));
  EXPECT_EQ(store->get_ref("other").error().code, Code::not_found);
  auto other = store->ref_history("other").value();
  ASSERT_EQ(other.size(), 2u);
  EXPECT_FALSE(other[1].target);
  EXPECT_EQ(store->set_ref("", a).error().code, Code::invalid_input);
}

TEST(Store, RefUpdateTimesStrictlyIncreasePerRef) {
  TempDir dir;
  testing::FaultEnv env;  // a clock that stands still
  auto store = open_store(dir.path(), {.env = &env});
  auto a = store->put_bytes("a").value();
  const TimePoint now{std::chrono::seconds(env.now_seconds.load())};
  ASSERT_TRUE(store->set_ref("stable", a, "first"));
  ASSERT_TRUE(store->set_ref("stable", std::nullopt, "removed"));
  {
    auto batch = store->begin_batch().value();
    batch.set_ref("stable", a, "again");
    batch.set_ref("other", a, "");
    ASSERT_TRUE(batch.commit());
  }
  auto hist = store->ref_history("stable").value();
  ASSERT_EQ(hist.size(), 3u);
  for (std::size_t i = 0; i < hist.size(); ++i) {
    EXPECT_EQ(hist[i].seq, i + 1);
    EXPECT_EQ(hist[i].time, now + std::chrono::seconds(i));
  }
  EXPECT_FALSE(hist[1].target);
  auto state = store->ref_state("stable").value();
  EXPECT_EQ(state.target, a);
  EXPECT_EQ(state.time, hist[2].time);
  // Another ref's times are its own.
  EXPECT_EQ(store->ref_state("other")->time, now);
}

template <class T>
Error error_of(const Result<T>& r) {
  return r ? Error{Code::io, "unexpectedly succeeded"} : r.error();
}

// Overwrites one record of an LMDB table of a closed store.
void put_raw(const fs::path& store, const char* table, std::string_view key,
             std::string_view value) {
  change_index(store, [&](MDB_txn* txn) {
    MDB_dbi dbi;
    ASSERT_EQ(mdb_dbi_open(txn, table, 0, &dbi), 0);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
  });
}

TEST(Store, MalformedIndexRecordsAreCorruptNotMisread) {
  TempDir dir;
  auto id = open_store(dir.path())->put_bytes("object").value();
  ASSERT_TRUE(open_store(dir.path())->set_ref("stable", id, "note"));
  const std::string key(reinterpret_cast<const char*>(id.bytes().data()), Digest::kSize);
  put_raw(dir.path(), "objects", key, "short");
  put_raw(dir.path(), "refs", "stable", key);  // the digest without its time
  auto store = open_store(dir.path());
  const std::string object_message = "index entry for object " + id.hex() +
                                     " is malformed: size: needs 8 bytes at offset 0, 5 left";
  for (const Error& e : {error_of(store->stat(id)), error_of(store->list_objects()),
                         error_of(store->scrub()), error_of(store->read(id))}) {
    EXPECT_EQ(e.code, Code::corrupt);
    EXPECT_EQ(e.message, object_message);
  }
  const std::string ref_message =
      "ref 'stable' is malformed: time: needs 8 bytes at offset 32, 0 left";
  for (const Error& e : {error_of(store->get_ref("stable")), error_of(store->list_refs())}) {
    EXPECT_EQ(e.code, Code::corrupt);
    EXPECT_EQ(e.message, ref_message);
  }
  // The history is intact and still readable.
  EXPECT_EQ(store->ref_history("stable").value().size(), 1u);
}

TEST(Store, AdoptFileMovesAVerifiedDownloadIn) {
  TempDir dir;
  auto store = open_store(dir / "store");
  auto data = testing::random_bytes(100000, 9);
  testing::write_text(dir / "download", data);
  auto batch = store->begin_batch().value();
  auto wrong = batch.adopt_file(dir / "download", sha256(data), data.size() + 1);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Code::corrupt);
  ASSERT_TRUE(batch.adopt_file(dir / "download", sha256(data), data.size()));
  EXPECT_FALSE(std::filesystem::exists(dir / "download"));  // moved, not copied
  ASSERT_TRUE(batch.commit());
  EXPECT_EQ(store->read(sha256(data)).value(), data);
  // Adopting what the store already has just drops the file.
  testing::write_text(dir / "again", data);
  auto b2 = store->begin_batch().value();
  ASSERT_TRUE(b2.adopt_file(dir / "again", sha256(data), data.size()));
  EXPECT_FALSE(std::filesystem::exists(dir / "again"));
  ASSERT_TRUE(b2.commit());
  EXPECT_EQ(store->object_count().value(), 1u);
}

TEST(Store, MetaValuesCommitWithTheBatch) {
  TempDir dir;
  auto store = open_store(dir.path());
  EXPECT_EQ(store->get_meta("stream/debian").error().code, Code::not_found);
  ASSERT_TRUE(store->set_meta("stream/debian", std::string("{\"sequence\":1}")));
  ASSERT_TRUE(store->set_meta("stream/other", std::string("x")));
  ASSERT_TRUE(store->set_meta("fetch/a", std::string("etag")));
  EXPECT_EQ(store->get_meta("stream/debian").value(), "{\"sequence\":1}");
  EXPECT_EQ(store->list_meta("stream/").value().size(), 2u);
  {
    auto batch = store->begin_batch().value();
    batch.set_meta("stream/debian", std::string("{\"sequence\":2}"));
    // Abandoned: nothing changes.
  }
  EXPECT_EQ(store->get_meta("stream/debian").value(), "{\"sequence\":1}");
  ASSERT_TRUE(store->set_meta("stream/other", std::nullopt));
  EXPECT_EQ(store->list_meta("stream/").value().size(), 1u);
}

TEST(Store, ConcurrentReadersDuringWrites) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<Digest> seeded;
  for (int i = 0; i < 20; ++i)
    seeded.push_back(store->put_bytes("seed " + std::to_string(i)).value());
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      while (!stop) {
        auto& id = seeded[(reads + t) % seeded.size()];
        if (!store->read(id)) ++failures;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store->put_bytes("new " + std::to_string(i)));
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store->object_count().value(), 220u);
}

TEST(Store, TwoProcessesReadWhileOneWrites) {
  TempDir dir;
  auto store = open_store(dir.path());
  auto seed = store->put_bytes("seed").value();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The writer process: its own handle on the same store.
    auto writer = Store::open(dir.path());
    if (!writer) ::_exit(2);
    for (int i = 0; i < 300; ++i) {
      if (!(*writer)->put_bytes("child " + std::to_string(i))) ::_exit(3);
    }
    ::_exit(0);
  }
  int errors = 0;
  std::uint64_t last = 0;
  for (int i = 0; i < 2000; ++i) {
    if (!store->read(seed)) ++errors;
    auto n = store->object_count();
    if (!n || *n < last) ++errors;  // counts only grow: every read sees a committed state
    if (n) last = *n;
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(errors, 0);
  EXPECT_EQ(store->object_count().value(), 301u);
  EXPECT_TRUE(store->read(sha256(std::string_view("child 299"))));
}

TEST(Store, ConcurrentWritersAreSerialized) {
  TempDir dir;
  auto store = open_store(dir.path());
  std::vector<std::thread> writers;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto batch = store->begin_batch();
        if (!batch || !batch->put_bytes(std::to_string(t) + "/" + std::to_string(i)) ||
            !batch->commit()) {
          ++failures;
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->object_count().value(), 200u);
  EXPECT_TRUE(store->scrub()->ok());
}

}  // namespace
}  // namespace airlock
