// The one encoding of the store's LMDB keys and values, private to the store.
//
// Every record is a sequence of fields in a fixed order, with no tags and no
// version: the field list of each record below is the format. codec.cpp
// writes each list once and walks it for both encoding and decoding.
//   u64     8 bytes, little-endian
//   time    a u64 holding the signed seconds since the Unix epoch
//   digest  32 raw bytes
//   flag    one byte, 0 or 1
//   string  a u64 byte count, then that many bytes
//   key u64 8 bytes, big-endian, so that LMDB's byte order is numeric order
//
// Decoding is strict: a value must hold exactly its fields, so a truncated
// value, one with bytes after its last field, a flag other than 0 or 1 and a
// string longer than what is left are all refused with Code::corrupt and one
// line naming the record and the field ("index entry for object <hex> is
// malformed: first_seen: needs 8 bytes at offset 8, 3 left").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/base/time.h"
#include "airlock/store/store.h"
#include "airlock/verify/digest.h"

namespace airlock::store_codec {

// Appends fields to a buffer it owns; take() hands the bytes over.
class Writer {
 public:
  void u64(std::uint64_t v);
  void key_u64(std::uint64_t v);
  void time(TimePoint t);
  void digest(const Digest& d);
  void flag(bool b);
  void string(std::string_view s);
  std::string take() && { return std::move(out_); }

 private:
  std::string out_;
};

// Reads fields from bytes the caller keeps alive. The first failure sticks:
// later reads return zero values and finish() reports that first failure, so
// a decoder reads all its fields and checks once. Each read names its field
// for the message.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  std::uint64_t u64(std::string_view field);
  std::uint64_t key_u64(std::string_view field);
  TimePoint time(std::string_view field);
  Digest digest(std::string_view field);
  bool flag(std::string_view field);
  // Views into the input; valid while the input is.
  std::string_view string(std::string_view field);

  // Success when every read succeeded and the input is used up; otherwise
  // corrupt: "<record> is malformed: <what went wrong>".
  Status finish(std::string_view record) const;

 private:
  // The next n bytes, or empty with the failure recorded.
  std::optional<std::string_view> take(std::size_t n, std::string_view field);

  std::string_view in_;
  std::size_t pos_ = 0;
  std::optional<std::string> error_;
};

// The key of an object's and of a snapshot's record: the digest alone.
std::string encode_digest_key(const Digest& id);

// objects: key = digest; value = size u64, first_seen time.
std::string encode_object_value(const ObjectInfo& info);  // info.id goes in the key
Result<ObjectInfo> decode_object(std::string_view key, std::string_view value);

// packed: key = digest; value = pack u64, offset u64 (of a packed object).
struct PackPlace {
  std::uint64_t pack = 0;
  std::uint64_t offset = 0;
};
std::string encode_pack_place(const PackPlace& place);
Result<PackPlace> decode_pack_place(std::string_view key, std::string_view value);

// packs: key = number key u64; value = length u64 (bytes).
std::string encode_pack_key(std::uint64_t number);
Result<std::uint64_t> decode_pack_key(std::string_view key);
std::string encode_pack_length(std::uint64_t length);
Result<std::uint64_t> decode_pack_length(std::uint64_t number, std::string_view value);

// snapshots: key = digest; value = repo string, kind string, synced_at time,
// entries u64, bytes u64, seq u64.
std::string encode_snapshot_value(const SnapshotInfo& info);  // info.id goes in the key
Result<SnapshotInfo> decode_snapshot(std::string_view key, std::string_view value);

// refs: key = the name's bytes (checked by the caller: 1-255 bytes, no NUL);
// value = target digest, time of the last update. A removed ref has no record.
struct RefValue {
  Digest target;
  TimePoint time{};
};
std::string encode_ref_value(const RefValue& ref);
Result<RefValue> decode_ref_value(std::string_view name, std::string_view value);

// ref_history: key = name string, seq key u64, so that one name's entries are
// adjacent and in seq order; value = has-target flag, target digest when the
// flag is 1, time, note string. The seq lives in the key only.
struct HistoryKey {
  std::string name;
  std::uint64_t seq = 0;
};
std::string encode_history_key(std::string_view name, std::uint64_t seq);
Result<HistoryKey> decode_history_key(std::string_view key);
// The bytes every history key of name starts with (and no other name's key).
std::string history_key_prefix(std::string_view name);
std::string encode_history_entry(const RefUpdate& update);  // update.seq goes in the key
Result<RefUpdate> decode_history_entry(const HistoryKey& key, std::string_view value);

}  // namespace airlock::store_codec
