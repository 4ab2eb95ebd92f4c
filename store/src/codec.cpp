#include "codec.h"

#include <cstring>

namespace airlock::store_codec {
namespace {

constexpr std::size_t kU64 = 8;

// Each record's fields are listed once, in a function template walked in
// both directions: with Encode the fields are appended, with Decode they
// are read back into the record. So the two directions cannot disagree.
struct Encode {
  Writer w;
  void u64(std::string_view, std::uint64_t v) { w.u64(v); }
  void key_u64(std::string_view, std::uint64_t v) { w.key_u64(v); }
  void time(std::string_view, TimePoint t) { w.time(t); }
  void digest(std::string_view, const Digest& d) { w.digest(d); }
  void string(std::string_view, std::string_view s) { w.string(s); }
  // A flag, then the digest when there is one.
  void optional_digest(std::string_view, const std::optional<Digest>& d) {
    w.flag(d.has_value());
    if (d) w.digest(*d);
  }
};

struct Decode {
  Reader r;
  void u64(std::string_view f, std::uint64_t& v) { v = r.u64(f); }
  void key_u64(std::string_view f, std::uint64_t& v) { v = r.key_u64(f); }
  void time(std::string_view f, TimePoint& t) { t = r.time(f); }
  void digest(std::string_view f, Digest& d) { d = r.digest(f); }
  void string(std::string_view f, std::string& s) { s = r.string(f); }
  void optional_digest(std::string_view f, std::optional<Digest>& d) {
    d.reset();
    if (r.flag("has_" + std::string(f))) d = r.digest(f);
  }
};

template <class Record, class Fields>
std::string encode(const Record& record, Fields fields) {
  Encode e;
  fields(e, record);
  return std::move(e.w).take();
}

// record names the record in the message of a failure.
template <class Record, class Fields>
Result<Record> decode(std::string_view bytes, std::string_view record, Record out, Fields fields) {
  Decode d{Reader(bytes)};
  fields(d, out);
  if (auto s = d.r.finish(record); !s) return fail(s.error());
  return out;
}

constexpr auto kDigestKey = [](auto& io, auto& id) { io.digest("digest", id); };

constexpr auto kObjectFields = [](auto& io, auto& info) {
  io.u64("size", info.size);
  io.time("first_seen", info.first_seen);
};

constexpr auto kPackPlaceFields = [](auto& io, auto& place) {
  io.u64("pack", place.pack);
  io.u64("offset", place.offset);
};

constexpr auto kPackKey = [](auto& io, auto& number) { io.key_u64("number", number); };
constexpr auto kPackLength = [](auto& io, auto& length) { io.u64("length", length); };

constexpr auto kSnapshotFields = [](auto& io, auto& info) {
  io.string("repo", info.repo);
  io.string("kind", info.kind);
  io.time("synced_at", info.synced_at);
  io.u64("entries", info.entries);
  io.u64("bytes", info.bytes);
  io.u64("seq", info.seq);
};

constexpr auto kRefFields = [](auto& io, auto& ref) {
  io.digest("target", ref.target);
  io.time("time", ref.time);
};

constexpr auto kHistoryKeyFields = [](auto& io, auto& key) {
  io.string("name", key.name);
  io.key_u64("seq", key.seq);
};

constexpr auto kHistoryEntryFields = [](auto& io, auto& update) {
  io.optional_digest("target", update.target);
  io.time("time", update.time);
  io.string("note", update.note);
};

Result<Digest> decode_digest_key(std::string_view key, std::string_view table) {
  return decode(key, "index key in " + std::string(table), Digest(), kDigestKey);
}

}  // namespace

void Writer::u64(std::uint64_t v) {
  for (std::size_t i = 0; i < kU64; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
}

void Writer::key_u64(std::uint64_t v) {
  for (std::size_t i = kU64; i-- > 0;) out_.push_back(static_cast<char>(v >> (8 * i)));
}

void Writer::time(TimePoint t) { u64(static_cast<std::uint64_t>(t.time_since_epoch().count())); }

void Writer::digest(const Digest& d) {
  out_.append(reinterpret_cast<const char*>(d.bytes().data()), Digest::kSize);
}

void Writer::flag(bool b) { out_.push_back(b ? '\1' : '\0'); }

void Writer::string(std::string_view s) {
  u64(s.size());
  out_.append(s);
}

std::optional<std::string_view> Reader::take(std::size_t n, std::string_view field) {
  if (error_) return std::nullopt;
  const std::size_t left = in_.size() - pos_;
  if (n > left) {
    error_ = std::string(field) + ": needs " + std::to_string(n) + " bytes at offset " +
             std::to_string(pos_) + ", " + std::to_string(left) + " left";
    return std::nullopt;
  }
  auto bytes = in_.substr(pos_, n);
  pos_ += n;
  return bytes;
}

std::uint64_t Reader::u64(std::string_view field) {
  auto b = take(kU64, field);
  if (!b) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = kU64; i-- > 0;) v = v << 8 | static_cast<std::uint8_t>((*b)[i]);
  return v;
}

std::uint64_t Reader::key_u64(std::string_view field) {
  auto b = take(kU64, field);
  if (!b) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < kU64; ++i) v = v << 8 | static_cast<std::uint8_t>((*b)[i]);
  return v;
}

TimePoint Reader::time(std::string_view field) {
  return TimePoint(std::chrono::seconds(static_cast<std::int64_t>(u64(field))));
}

Digest Reader::digest(std::string_view field) {
  auto b = take(Digest::kSize, field);
  Digest::Bytes raw{};
  if (b) std::memcpy(raw.data(), b->data(), raw.size());
  return Digest(raw);
}

bool Reader::flag(std::string_view field) {
  auto b = take(1, field);
  if (!b) return false;
  const auto v = static_cast<std::uint8_t>((*b)[0]);
  if (v > 1) {
    error_ = std::string(field) + ": flag is " + std::to_string(v) + " at offset " +
             std::to_string(pos_ - 1) + ", expected 0 or 1";
  }
  return v == 1;
}

std::string_view Reader::string(std::string_view field) {
  const std::size_t at = pos_;
  const std::uint64_t n = u64(field);
  if (error_) return {};
  if (n > in_.size() - pos_) {
    error_ = std::string(field) + ": length " + std::to_string(n) + " at offset " +
             std::to_string(at) + " exceeds the " + std::to_string(in_.size() - pos_) +
             " bytes left";
    return {};
  }
  return *take(static_cast<std::size_t>(n), field);
}

Status Reader::finish(std::string_view record) const {
  std::string why;
  if (error_) {
    why = *error_;
  } else if (pos_ != in_.size()) {
    why = std::to_string(in_.size() - pos_) + " unexpected bytes after the last field at offset " +
          std::to_string(pos_);
  } else {
    return {};
  }
  return fail(Code::corrupt, std::string(record) + " is malformed: " + why);
}

std::string encode_digest_key(const Digest& id) { return encode(id, kDigestKey); }

std::string encode_object_value(const ObjectInfo& info) { return encode(info, kObjectFields); }

Result<ObjectInfo> decode_object(std::string_view key, std::string_view value) {
  auto id = decode_digest_key(key, "objects");
  if (!id) return fail(id.error());
  return decode(value, "index entry for object " + id->hex(), ObjectInfo{.id = *id}, kObjectFields);
}

std::string encode_pack_place(const PackPlace& place) { return encode(place, kPackPlaceFields); }

Result<PackPlace> decode_pack_place(std::string_view key, std::string_view value) {
  auto id = decode_digest_key(key, "packed");
  if (!id) return fail(id.error());
  return decode(value, "pack place of object " + id->hex(), PackPlace{}, kPackPlaceFields);
}

std::string encode_pack_key(std::uint64_t number) { return encode(number, kPackKey); }

Result<std::uint64_t> decode_pack_key(std::string_view key) {
  return decode(key, "index key in packs", std::uint64_t{}, kPackKey);
}

std::string encode_pack_length(std::uint64_t length) { return encode(length, kPackLength); }

Result<std::uint64_t> decode_pack_length(std::uint64_t number, std::string_view value) {
  return decode(value, "index entry for pack " + std::to_string(number), std::uint64_t{},
                kPackLength);
}

std::string encode_snapshot_value(const SnapshotInfo& info) {
  return encode(info, kSnapshotFields);
}

Result<SnapshotInfo> decode_snapshot(std::string_view key, std::string_view value) {
  auto id = decode_digest_key(key, "snapshots");
  if (!id) return fail(id.error());
  SnapshotInfo info;
  info.id = *id;
  return decode(value, "index entry for snapshot " + id->hex(), std::move(info), kSnapshotFields);
}

std::string encode_ref_value(const RefValue& ref) { return encode(ref, kRefFields); }

Result<RefValue> decode_ref_value(std::string_view name, std::string_view value) {
  return decode(value, "ref '" + std::string(name) + "'", RefValue{}, kRefFields);
}

std::string history_key_prefix(std::string_view name) {
  Writer w;
  w.string(name);
  return std::move(w).take();
}

std::string encode_history_key(std::string_view name, std::uint64_t seq) {
  return encode(HistoryKey{std::string(name), seq}, kHistoryKeyFields);
}

Result<HistoryKey> decode_history_key(std::string_view key) {
  return decode(key, "ref history key", HistoryKey{}, kHistoryKeyFields);
}

std::string encode_history_entry(const RefUpdate& update) {
  return encode(update, kHistoryEntryFields);
}

Result<RefUpdate> decode_history_entry(const HistoryKey& key, std::string_view value) {
  RefUpdate update;
  update.seq = key.seq;
  return decode(value, "ref history entry " + std::to_string(key.seq) + " of '" + key.name + "'",
                std::move(update), kHistoryEntryFields);
}

}  // namespace airlock::store_codec
