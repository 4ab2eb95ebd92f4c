// The encoding of the store's LMDB records: every record type round-trips,
// and every decoder refuses truncated, extended and foreign bytes as corrupt
// with a message that names the record and the field.
#include "../../../store/src/codec.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

namespace airlock::store_codec {
namespace {

using namespace std::chrono_literals;

const Digest kA = sha256(std::string_view("a"));
const Digest kB = sha256(std::string_view("b"));
const TimePoint kTime{1'800'000'123s};

// A record's valid encoding and the decoder of its type, bound to its key.
struct Case {
  const char* name;
  std::string value;
  std::function<Status(std::string_view)> decode;
  std::string record;  // how the message names the record
};

template <class R>
Status status_of(const Result<R>& r) {
  if (r) return {};
  return fail(r.error());
}

std::vector<Case> every_record_type() {
  const std::string id_key = encode_digest_key(kA);
  const HistoryKey hkey{"channel/test/debian", 7};
  SnapshotInfo snap{kA, "debian-security", "apt", kTime, 3, 4096, 2};
  RefUpdate update{7, kB, kTime, "alice: patch day"};
  return {
      {"object", encode_object_value({kA, 11, kTime}),
       [=](std::string_view v) { return status_of(decode_object(id_key, v)); },
       "index entry for object " + kA.hex()},
      {"snapshot", encode_snapshot_value(snap),
       [=](std::string_view v) { return status_of(decode_snapshot(id_key, v)); },
       "index entry for snapshot " + kA.hex()},
      {"ref", encode_ref_value({kB, kTime}),
       [](std::string_view v) { return status_of(decode_ref_value("stable", v)); }, "ref 'stable'"},
      {"history key", encode_history_key(hkey.name, hkey.seq),
       [](std::string_view v) { return status_of(decode_history_key(v)); }, "ref history key"},
      {"history entry", encode_history_entry(update),
       [=](std::string_view v) { return status_of(decode_history_entry(hkey, v)); },
       "ref history entry 7 of 'channel/test/debian'"},
  };
}

void expect_corrupt(const Status& s, const std::string& message) {
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::corrupt);
  EXPECT_EQ(s.error().message, message);
}

TEST(Codec, PrimitivesHaveTheDocumentedLayout) {
  Writer w;
  w.u64(0x0102030405060708);
  w.key_u64(0x0102030405060708);
  w.flag(true);
  w.string("hi");
  w.time(TimePoint(-1s));
  const std::string expected(
      "\x08\x07\x06\x05\x04\x03\x02\x01"
      "\x01\x02\x03\x04\x05\x06\x07\x08"
      "\x01"
      "\x02\0\0\0\0\0\0\0hi"
      "\xff\xff\xff\xff\xff\xff\xff\xff",
      35);
  EXPECT_EQ(std::move(w).take(), expected);
  EXPECT_EQ(encode_digest_key(kA),
            std::string(reinterpret_cast<const char*>(kA.bytes().data()), Digest::kSize));
}

TEST(Codec, ReaderReadsWhatWriterWrote) {
  Writer w;
  w.u64(std::numeric_limits<std::uint64_t>::max());
  w.key_u64(258);
  w.time(TimePoint(-86400s));
  w.digest(kB);
  w.flag(false);
  w.string(std::string("nul\0and\xff", 8));
  w.string("");
  const std::string bytes = std::move(w).take();
  Reader r(bytes);
  EXPECT_EQ(r.u64("a"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(r.key_u64("b"), 258u);
  EXPECT_EQ(r.time("c"), TimePoint(-86400s));
  EXPECT_EQ(r.digest("d"), kB);
  EXPECT_FALSE(r.flag("e"));
  EXPECT_EQ(r.string("f"), std::string("nul\0and\xff", 8));
  EXPECT_EQ(r.string("g"), "");
  EXPECT_TRUE(r.finish("test record"));
}

TEST(Codec, ObjectInfoRoundTrips) {
  const ObjectInfo info{kA, std::numeric_limits<std::uint64_t>::max(), TimePoint(-5s)};
  auto back = decode_object(encode_digest_key(kA), encode_object_value(info));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, kA);
  EXPECT_EQ(back->size, info.size);
  EXPECT_EQ(back->first_seen, info.first_seen);
}

TEST(Codec, SnapshotInfoRoundTrips) {
  const SnapshotInfo info{kB, std::string("repo\0x", 6), "", kTime, 12, 1ull << 40, 99};
  auto back = decode_snapshot(encode_digest_key(kB), encode_snapshot_value(info));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->id, kB);
  EXPECT_EQ(back->repo, info.repo);
  EXPECT_EQ(back->kind, "");
  EXPECT_EQ(back->synced_at, kTime);
  EXPECT_EQ(back->entries, 12u);
  EXPECT_EQ(back->bytes, 1ull << 40);
  EXPECT_EQ(back->seq, 99u);
}

TEST(Codec, RefValueRoundTrips) {
  auto back = decode_ref_value("stable", encode_ref_value({kA, kTime}));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->target, kA);
  EXPECT_EQ(back->time, kTime);
}

TEST(Codec, HistoryKeyRoundTripsAndSortsBySeqWithinAName) {
  auto back = decode_history_key(encode_history_key("channel/a", 300));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->name, "channel/a");
  EXPECT_EQ(back->seq, 300u);
  // LMDB compares keys as bytes: seq 2 must sort before seq 256.
  EXPECT_LT(encode_history_key("r", 2), encode_history_key("r", 256));
  EXPECT_LT(encode_history_key("r", 255), encode_history_key("r", 256));
  // The prefix of one name is no prefix of another name's keys.
  EXPECT_TRUE(encode_history_key("r", 1).starts_with(history_key_prefix("r")));
  EXPECT_FALSE(encode_history_key("rr", 1).starts_with(history_key_prefix("r")));
  EXPECT_FALSE(encode_history_key("r", 1).starts_with(history_key_prefix("rr")));
}

TEST(Codec, HistoryEntryRoundTripsWithAndWithoutTarget) {
  const HistoryKey key{"stable", 4};
  for (std::optional<Digest> target : {std::optional<Digest>(kA), std::optional<Digest>()}) {
    const RefUpdate update{4, target, kTime, "bob: promote"};
    auto back = decode_history_entry(key, encode_history_entry(update));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->seq, 4u);
    EXPECT_EQ(back->target, target);
    EXPECT_EQ(back->time, kTime);
    EXPECT_EQ(back->note, "bob: promote");
  }
}

TEST(Codec, EveryTruncationIsCorrupt) {
  for (const auto& c : every_record_type()) {
    ASSERT_TRUE(c.decode(c.value)) << c.name;
    for (std::size_t n = 0; n < c.value.size(); ++n) {
      Status s = c.decode(std::string_view(c.value).substr(0, n));
      ASSERT_FALSE(s) << c.name << " cut to " << n << " bytes";
      EXPECT_EQ(s.error().code, Code::corrupt);
      EXPECT_TRUE(s.error().message.starts_with(c.record + " is malformed: ")) << s.error().message;
    }
  }
}

TEST(Codec, TrailingBytesAreCorrupt) {
  for (const auto& c : every_record_type()) {
    expect_corrupt(c.decode(c.value + "x"),
                   c.record + " is malformed: 1 unexpected bytes after the last field at offset " +
                       std::to_string(c.value.size()));
  }
}

TEST(Codec, MessagesNameTheField) {
  expect_corrupt(status_of(decode_object(encode_digest_key(kA), "abc")),
                 "index entry for object " + kA.hex() +
                     " is malformed: size: needs 8 bytes at offset 0, 3 left");
  expect_corrupt(status_of(decode_object(encode_digest_key(kA), std::string(12, '\0'))),
                 "index entry for object " + kA.hex() +
                     " is malformed: first_seen: needs 8 bytes at offset 8, 4 left");
  expect_corrupt(status_of(decode_object(std::string(31, 'k'), std::string(16, '\0'))),
                 "index key in objects is malformed: digest: needs 32 bytes at offset 0, 31 left");
  expect_corrupt(status_of(decode_ref_value("stable", std::string(39, '\0'))),
                 "ref 'stable' is malformed: time: needs 8 bytes at offset 32, 7 left");
}

TEST(Codec, FlagOtherThanZeroOrOneIsCorrupt) {
  std::string value = encode_history_entry({1, std::nullopt, kTime, ""});
  value[0] = '\2';
  expect_corrupt(status_of(decode_history_entry({"stable", 1}, value)),
                 "ref history entry 1 of 'stable' is malformed: has_target: flag is 2 at offset 0, "
                 "expected 0 or 1");
}

TEST(Codec, StringLongerThanTheRestIsCorruptWithoutAllocating) {
  Writer w;
  w.u64(std::numeric_limits<std::uint64_t>::max());  // the repo's length
  w.string("apt");
  expect_corrupt(status_of(decode_snapshot(encode_digest_key(kA), std::move(w).take())),
                 "index entry for snapshot " + kA.hex() +
                     " is malformed: repo: length 18446744073709551615 at offset 0 exceeds the "
                     "11 bytes left");
}

// Foreign bytes, such as the JSON text earlier versions kept in these tables,
// are refused rather than misread.
TEST(Codec, JsonTextIsCorrupt) {
  const std::string snapshot_json =
      R"({"bytes":4096,"entries":3,"kind":"apt","repo":"debian-security","seq":0,)"
      R"("synced_at":"2026-11-22T10:00:00Z"})";
  auto snap = decode_snapshot(encode_digest_key(kA), snapshot_json);
  ASSERT_FALSE(snap);
  EXPECT_EQ(snap.error().code, Code::corrupt);
  EXPECT_TRUE(snap.error().message.starts_with("index entry for snapshot " + kA.hex() +
                                               " is malformed: repo: length "))
      << snap.error().message;
  const std::string history_json = R"({"note":"","target":null,"time":"2026-11-22T10:00:00Z"})";
  expect_corrupt(status_of(decode_history_entry({"stable", 1}, history_json)),
                 "ref history entry 1 of 'stable' is malformed: has_target: flag is 123 at offset "
                 "0, expected 0 or 1");
}

}  // namespace
}  // namespace airlock::store_codec
