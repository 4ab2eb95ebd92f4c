#include "airlock/store/snapshot.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include "airlock/base/json.h"

namespace airlock {
namespace {
using json = nlohmann::json;

bool listed(const std::vector<const SnapshotEntry*>& sorted, const std::string& path) {
  return std::binary_search(sorted.begin(), sorted.end(), path, [](const auto& a, const auto& b) {
    if constexpr (std::is_same_v<std::decay_t<decltype(a)>, std::string>) {
      return a < b->path;
    } else {
      return a->path < b;
    }
  });
}

// The entries sorted by path, refused unless each path is safe and unique.
Result<std::vector<const SnapshotEntry*>> sorted_entries(const Snapshot& s) {
  std::vector<const SnapshotEntry*> sorted;
  sorted.reserve(s.entries.size());
  for (const auto& e : s.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(),
            [](const SnapshotEntry* a, const SnapshotEntry* b) { return a->path < b->path; });
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const auto& e = *sorted[i];
    if (!is_safe_relative_path(e.path)) {
      return fail(Code::invalid_input,
                  "snapshot path '" + e.path + "' is not a safe relative path");
    }
    if (i > 0 && sorted[i - 1]->path == e.path) {
      return fail(Code::invalid_input, "snapshot lists path '" + e.path + "' twice");
    }
  }
  return sorted;
}

// The packages in canonical order, refused unless each is named, unique and
// names files the snapshot holds.
Result<std::vector<const PackageEntry*>> sorted_packages(
    const Snapshot& s, const std::vector<const SnapshotEntry*>& entries) {
  std::vector<const PackageEntry*> pkgs;
  pkgs.reserve(s.packages.size());
  for (const auto& p : s.packages) pkgs.push_back(&p);
  std::sort(pkgs.begin(), pkgs.end(), [](const PackageEntry* a, const PackageEntry* b) {
    return std::tie(a->name, a->architecture, a->version, a->path) <
           std::tie(b->name, b->architecture, b->version, b->path);
  });
  for (std::size_t i = 0; i < pkgs.size(); ++i) {
    const auto& p = *pkgs[i];
    if (p.name.empty() || !listed(entries, p.path) || !listed(entries, p.index)) {
      return fail(Code::invalid_input,
                  "snapshot package '" + p.name + "' names a file it does not hold");
    }
    if (i > 0 && *pkgs[i - 1] == p)
      return fail(Code::invalid_input, "snapshot lists package '" + p.name + "' twice");
  }
  return pkgs;
}

// Canonical JSON written through nlohmann's own serializer (so every string
// is escaped exactly as json::dump escapes it), handed on in pieces.
class CanonicalWriter {
 public:
  static constexpr std::size_t kPiece = 64 << 10;

  explicit CanonicalWriter(const std::function<Status(std::string_view)>& out)
      : pieces_(std::make_shared<Pieces>()), serializer_(pieces_, ' '), out_(out) {}

  void raw(std::string_view text) { pieces_->buf.append(text); }
  // Throws json::type_error for text that is not valid UTF-8, as dump() does.
  void str(std::string_view text) {
    scratch_.get_ref<std::string&>().assign(text);
    serializer_.dump(scratch_, false, false, 0);
  }
  // A member: its quoted name with the colon, as written, then its string.
  void member(std::string_view name, std::string_view text) {
    raw(name);
    str(text);
  }
  void number(std::uint64_t n) {
    char digits[24];
    auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    raw(std::string_view(digits, static_cast<std::size_t>(end - digits)));
  }
  // Hands on what is gathered once a piece is full (all of it when last).
  Status flush(bool last = false) {
    if (pieces_->buf.empty() || (!last && pieces_->buf.size() < kPiece)) return {};
    auto s = out_(pieces_->buf);
    pieces_->buf.clear();
    return s;
  }

 private:
  struct Pieces final : nlohmann::detail::output_adapter_protocol<char> {
    std::string buf;
    void write_character(char c) override { buf.push_back(c); }
    void write_characters(const char* s, std::size_t n) override { buf.append(s, n); }
  };
  std::shared_ptr<Pieces> pieces_;
  nlohmann::detail::serializer<json> serializer_;
  json scratch_ = std::string();
  const std::function<Status(std::string_view)>& out_;
};

// "[" + each item as one() writes it, comma-separated + "]", handed on a
// piece at a time.
template <class T, class F>
Status write_array(CanonicalWriter& w, const std::vector<const T*>& items, F&& one) {
  w.raw("[");
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) w.raw(",");
    one(*items[i]);
    if (auto s = w.flush(); !s) return s;
  }
  w.raw("]");
  return {};
}

// Members in canonical (sorted) order.
void write_entry(CanonicalWriter& w, const SnapshotEntry& e) {
  w.member("{\"path\":", e.path);
  w.raw(",\"sha256\":\"" + e.sha256.hex() + "\",\"size\":");
  w.number(e.size);
  w.raw("}");
}

void write_package(CanonicalWriter& w, const PackageEntry& p) {
  w.member("{\"architecture\":", p.architecture);
  w.member(",\"index\":", p.index);
  w.member(",\"name\":", p.name);
  w.member(",\"path\":", p.path);
  w.raw(",\"sha256\":\"" + p.sha256.hex() + "\",\"size\":");
  w.number(p.size);
  w.member(",\"source\":", p.source);
  w.member(",\"version\":", p.version);
  w.raw("}");
}

Status write_snapshot(CanonicalWriter& w, const Snapshot& s,
                      const std::vector<const SnapshotEntry*>& entries,
                      const std::vector<const PackageEntry*>& pkgs) {
  w.raw("{\"entries\":");
  auto entry = [&](const SnapshotEntry& e) { write_entry(w, e); };
  if (auto st = write_array(w, entries, entry); !st) return st;
  w.raw(s.filtered ? ",\"filtered\":true,\"kind\":" : ",\"filtered\":false,\"kind\":");
  w.str(s.kind);
  w.raw(",\"packages\":");
  auto package = [&](const PackageEntry& p) { write_package(w, p); };
  if (auto st = write_array(w, pkgs, package); !st) return st;
  w.raw(",\"release\":{");
  bool first = true;
  for (const auto& [k, v] : s.release) {
    if (!std::exchange(first, false)) w.raw(",");
    w.str(k);
    w.raw(":");
    w.str(v);
  }
  w.member("},\"repo\":", s.repo);
  w.member(",\"synced_at\":", format_time(s.synced_at));
  w.member(",\"upstream\":", s.upstream);
  w.raw("}");
  return w.flush(true);
}

auto bad(std::string what) { return fail(Code::invalid_input, "snapshot: " + what); }

// Fills a Snapshot from nlohmann's SAX events without building a tree.
// Every check is answered once the whole text has parsed, in the order
// parse() has always made them, so a text with several faults is refused for
// the same one whichever order its members come in. Nested values where none
// belong are walked (for duplicate keys) and dropped.
class SnapshotHandler final : public nlohmann::json_sax<json> {
 public:
  explicit SnapshotHandler(const SnapshotVisitor* visitor = nullptr) : visitor_(visitor) {}

  // What sax_parse's answer (parsed) and the events make of the text.
  Result<Snapshot> result(bool parsed) {
    if (visit_error_) return fail(*visit_error_);
    if (!parsed && duplicate_) return bad(duplicate_key_message(*duplicate_));
    if (!parsed || !top_is_object_) return bad("not a JSON object");
    if (auto s = check_root(); !s) return fail(s.error());
    if (release_bad_) return bad("release values must be strings");
    if (entry_error_) return bad(*entry_error_);
    if (!packages_array_) return bad("packages must be an array");
    if (!filtered_ok_) return bad("filtered must be true or false");
    if (package_error_) return bad(*package_error_);
    return std::move(snap_);
  }

  bool null() override { return scalar(Type::other); }
  bool boolean(bool v) override { return scalar(Type::boolean, nullptr, 0, v); }
  bool number_integer(number_integer_t) override { return scalar(Type::other); }
  bool number_unsigned(number_unsigned_t v) override { return scalar(Type::number, nullptr, v); }
  bool number_float(number_float_t, const string_t&) override { return scalar(Type::other); }
  bool string(string_t& v) override { return scalar(Type::string, &v); }
  bool binary(binary_t&) override { return scalar(Type::other); }
  bool start_object(std::size_t) override {
    open_.emplace_back(place(Type::object, nullptr, 0, false));
    return true;
  }
  bool key(string_t& k) override;
  bool end_object() override;
  bool start_array(std::size_t) override {
    open_.emplace_back(place(Type::array, nullptr, 0, false));
    return true;
  }
  bool end_array() override {
    open_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  enum class Type { string, number, boolean, object, array, other };
  enum class Frame { root, release, entries, entry, packages, package, other };
  struct Open {
    explicit Open(Frame f) : frame(f) {}
    Frame frame;
    unsigned seen = 0;  // the known members met, one bit each
    std::size_t members = 0;
    std::unordered_set<std::string> others;  // the other members' names
  };
  // Member names in canonical order, by frame.
  static constexpr std::array<const char*, 8> kRoot = {
      "entries", "filtered", "kind", "packages", "release", "repo", "synced_at", "upstream"};
  enum Root {
    r_entries,
    r_filtered,
    r_kind,
    r_packages,
    r_release,
    r_repo,
    r_synced_at,
    r_upstream
  };
  static constexpr std::array<const char*, 3> kEntry = {"path", "sha256", "size"};
  static constexpr std::array<const char*, 8> kPackage = {
      "architecture", "index", "name", "path", "sha256", "size", "source", "version"};
  enum Pkg { p_architecture, p_index, p_name, p_path, p_sha256, p_size, p_source, p_version };

  bool scalar(Type t, std::string* s = nullptr, std::uint64_t n = 0, bool b = false) {
    place(t, s, n, b);
    return true;
  }
  Frame place(Type t, std::string* s, std::uint64_t n, bool b);
  Frame place_in_root(Type t, std::string* s, bool b);
  Status check_root();
  void finish_entry(const Open& o);
  void finish_package(const Open& o);
  // A copy without the spare capacity a string grown a character at a time
  // has: a snapshot keeps hundreds of thousands of them.
  static std::string exact(const std::string& s) { return std::string(s.data(), s.size()); }
  static std::optional<std::string> first_of(std::optional<std::string> a, std::string b) {
    return a ? std::move(a) : std::optional(std::move(b));
  }

  const SnapshotVisitor* visitor_;
  std::optional<Error> visit_error_;  // the visitor's, which ended the parse
  Snapshot snap_;
  std::vector<Open> open_;
  int field_ = -1;   // the known member the next value is for, in the innermost object
  std::string key_;  // the last member name, for release
  bool top_is_object_ = false;
  std::size_t root_members_ = 0;
  std::array<bool, 8> root_ok_{};  // each member of the root has its type
  std::string synced_at_text_;
  bool release_bad_ = false, packages_array_ = false, filtered_ok_ = false;
  std::optional<std::string> entry_error_, package_error_, duplicate_;
  // The entry or package being read: its strings, size and which have their type.
  std::array<std::string, 8> strings_;
  std::uint64_t size_ = 0;
  std::array<bool, 8> ok_{};
};

bool SnapshotHandler::key(string_t& k) {
  Open& o = open_.back();
  auto index_in = [&](const auto& names) {
    auto it = std::find_if(names.begin(), names.end(), [&](const char* n) { return k == n; });
    return it == names.end() ? -1 : static_cast<int>(it - names.begin());
  };
  field_ = o.frame == Frame::root      ? index_in(kRoot)
           : o.frame == Frame::entry   ? index_in(kEntry)
           : o.frame == Frame::package ? index_in(kPackage)
                                       : -1;
  bool fresh = field_ >= 0 ? !(o.seen & (1u << field_)) : o.others.insert(k).second;
  if (!fresh) {
    duplicate_ = k;
    return false;
  }
  if (field_ >= 0) o.seen |= 1u << field_;
  ++o.members;
  if (o.frame == Frame::release) key_ = k;
  return true;
}

bool SnapshotHandler::end_object() {
  const Open& o = open_.back();
  if (o.frame == Frame::root) root_members_ = o.members;
  if (o.frame == Frame::entry) finish_entry(o);
  if (o.frame == Frame::package) finish_package(o);
  open_.pop_back();
  return !visit_error_;
}

// Takes a value where it belongs; answers the frame a container opens.
SnapshotHandler::Frame SnapshotHandler::place(Type t, std::string* s, std::uint64_t n, bool b) {
  if (open_.empty()) {
    top_is_object_ = t == Type::object;
    return top_is_object_ ? Frame::root : Frame::other;
  }
  switch (open_.back().frame) {
    case Frame::root:
      return place_in_root(t, s, b);
    case Frame::release:
      if (t == Type::string) {
        snap_.release.emplace(key_, std::move(*s));
      } else {
        release_bad_ = true;
      }
      return Frame::other;
    case Frame::entries:
    case Frame::packages:
      if (t == Type::object) {
        ok_.fill(false);
        return open_.back().frame == Frame::entries ? Frame::entry : Frame::package;
      }
      if (open_.back().frame == Frame::entries) {
        entry_error_ = first_of(entry_error_, "each entry needs exactly path, sha256 and size");
      } else {
        package_error_ = first_of(package_error_, "each package needs exactly its eight fields");
      }
      return Frame::other;
    case Frame::entry:
    case Frame::package: {
      const int size_field = open_.back().frame == Frame::entry ? 2 : p_size;
      if (field_ < 0) return Frame::other;
      if (field_ == size_field) {
        ok_[field_] = t == Type::number;
        size_ = n;
      } else if (t == Type::string) {
        ok_[field_] = true;
        strings_[field_].assign(*s);  // the parser's buffer and this one are both reused
      } else {
        ok_[field_] = false;
      }
      return Frame::other;
    }
    case Frame::other:
      return Frame::other;
  }
  return Frame::other;
}

SnapshotHandler::Frame SnapshotHandler::place_in_root(Type t, std::string* s, bool b) {
  if (field_ < 0) return Frame::other;
  const bool container = field_ == r_entries || field_ == r_packages || field_ == r_release;
  const Type wanted = field_ == r_release    ? Type::object
                      : container            ? Type::array
                      : field_ == r_filtered ? Type::boolean
                                             : Type::string;
  root_ok_[field_] = t == wanted;
  if (!root_ok_[field_]) return Frame::other;
  switch (field_) {
    case r_entries:
      return Frame::entries;
    case r_packages:
      packages_array_ = true;
      return Frame::packages;
    case r_release:
      return Frame::release;
    case r_filtered:
      filtered_ok_ = true;
      snap_.filtered = b;
      return Frame::other;
    case r_repo:
      snap_.repo = std::move(*s);
      break;
    case r_kind:
      snap_.kind = std::move(*s);
      break;
    case r_upstream:
      snap_.upstream = std::move(*s);
      break;
    case r_synced_at:
      synced_at_text_ = std::move(*s);
      break;
  }
  return Frame::other;
}

// The checks of the root's own members, in their order.
Status SnapshotHandler::check_root() {
  for (Root f : {r_repo, r_kind, r_upstream, r_synced_at}) {
    if (!root_ok_[f]) return bad(std::string(kRoot[f]) + " must be a string");
  }
  if (!root_ok_[r_release]) return bad("release must be an object");
  if (!root_ok_[r_entries]) return bad("entries must be an array");
  if (root_members_ != 8) return bad("unexpected fields");
  if (!valid_repo_name(snap_.repo)) {
    return bad(
        "repo name " +
        json(snap_.repo.substr(0, 130)).dump(-1, ' ', false, json::error_handler_t::replace) +
        " is not valid (1-128 characters of A-Z a-z 0-9 - _ . and not . or ..)");
  }
  auto t = parse_time(synced_at_text_);
  if (!t) return bad("synced_at: " + t.error().message);
  snap_.synced_at = *t;
  return {};
}

void SnapshotHandler::finish_entry(const Open& o) {
  if (entry_error_) return;
  if (o.members != 3 || !ok_[0] || !ok_[1] || !ok_[2]) {
    entry_error_ = "each entry needs exactly path, sha256 and size";
    return;
  }
  auto d = Digest::parse(strings_[1]);
  if (!d) {
    entry_error_ = d.error().message;
    return;
  }
  SnapshotEntry e{exact(strings_[0]), *d, size_};
  if (!visitor_ || !visitor_->entry) return snap_.entries.push_back(std::move(e));
  if (auto v = visitor_->entry(std::move(e)); !v) visit_error_ = v.error();
}

void SnapshotHandler::finish_package(const Open& o) {
  if (package_error_) return;
  if (o.members != 8) {
    package_error_ = "each package needs exactly its eight fields";
    return;
  }
  for (Pkg f : {p_name, p_version, p_architecture, p_source, p_sha256, p_path, p_index}) {
    if (!ok_[f]) {
      package_error_ = std::string("package ") + kPackage[f] + " must be a string";
      return;
    }
  }
  if (!ok_[p_size]) {
    package_error_ = "package size must be a number";
    return;
  }
  auto d = Digest::parse(strings_[p_sha256]);
  if (!d) {
    package_error_ = d.error().message;
    return;
  }
  PackageEntry p{exact(strings_[p_name]),
                 exact(strings_[p_version]),
                 exact(strings_[p_architecture]),
                 exact(strings_[p_source]),
                 size_,
                 *d,
                 exact(strings_[p_path]),
                 exact(strings_[p_index])};
  if (!visitor_ || !visitor_->package) return snap_.packages.push_back(std::move(p));
  if (auto v = visitor_->package(std::move(p)); !v) visit_error_ = v.error();
}

// The bytes of a Snapshot::Source as an input iterator for nlohmann's
// parser, each piece hashed as it is read.
class SourceReader {
 public:
  explicit SourceReader(const Snapshot::Source& in) : in_(in), buf_(64 << 10) {}
  bool more() { return pos_ < len_ || refill(); }
  char peek() const { return buf_[pos_]; }
  void advance() { ++pos_; }
  // Reads what is left; the error of the source, if it gave one.
  const std::optional<Error>& drain() {
    while (refill()) {
    }
    return error_;
  }
  Digest digest() { return hasher_.finish(); }

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = char;
    Iterator() = default;  // the end
    explicit Iterator(SourceReader* r) : r_(r) {}
    char operator*() const { return r_->peek(); }
    Iterator& operator++() {
      r_->advance();
      return *this;
    }
    bool operator==(const Iterator& o) const { return at_end() == o.at_end(); }

   private:
    bool at_end() const { return !r_ || !r_->more(); }
    SourceReader* r_ = nullptr;
  };

 private:
  bool refill() {
    if (done_) return false;
    pos_ = len_ = 0;
    auto n = in_(std::span(buf_));
    if (!n) error_ = n.error();
    if (!n || *n == 0) {
      done_ = true;
      return false;
    }
    len_ = *n;
    hasher_.update(std::string_view(buf_.data(), len_));
    return true;
  }
  const Snapshot::Source& in_;
  std::vector<char> buf_;
  std::size_t pos_ = 0, len_ = 0;
  bool done_ = false;
  std::optional<Error> error_;
  Hasher hasher_;
};

}  // namespace

bool valid_repo_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

bool is_safe_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 4096 || path.front() == '/') return false;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f) return false;
    }
    start = end + 1;
  }
  return true;
}

Status Snapshot::write_canonical_json(const std::function<Status(std::string_view)>& out) const {
  auto sorted = sorted_entries(*this);
  if (!sorted) return fail(sorted.error());
  auto pkgs = sorted_packages(*this, *sorted);
  if (!pkgs) return fail(pkgs.error());
  try {
    CanonicalWriter w(out);
    return write_snapshot(w, *this, *sorted, *pkgs);
  } catch (const json::exception& e) {
    return fail(Code::invalid_input, std::string("snapshot is not valid UTF-8: ") + e.what());
  }
}

Result<std::string> Snapshot::to_canonical_json() const {
  std::string text;
  auto s = write_canonical_json([&](std::string_view piece) -> Status {
    text.append(piece);
    return {};
  });
  if (!s) return fail(s.error());
  return text;
}

Result<Snapshot> Snapshot::parse(std::string_view text) {
  SnapshotHandler h;
  auto snap = h.result(json::sax_parse(text, &h));
  if (!snap) return snap;
  // Canonical: written again, the bytes are the text's, compared as they come.
  std::size_t at = 0;
  bool same = true;
  auto written = snap->write_canonical_json([&](std::string_view piece) -> Status {
    same = same && text.substr(at, piece.size()) == piece;
    at += piece.size();
    return {};
  });
  if (!written) return bad(written.error().message);
  if (!same || at != text.size()) return bad("not in canonical form");
  return snap;
}

Result<Snapshot> Snapshot::parse(const Source& in, Digest& digest, Canonical canonical,
                                 const SnapshotVisitor* visitor) {
  if (visitor && canonical == Canonical::check)
    return fail(Code::invalid_input, "a snapshot read with a visitor cannot be checked canonical");
  SourceReader reader(in);
  SnapshotHandler h(visitor);
  bool parsed = json::sax_parse(SourceReader::Iterator(&reader), SourceReader::Iterator(), &h);
  if (const auto& error = reader.drain()) return fail(*error);
  digest = reader.digest();
  auto snap = h.result(parsed);
  if (!snap || canonical == Canonical::known) return snap;
  // Canonical: written again, the bytes hash to the same digest.
  Hasher again;
  auto written = snap->write_canonical_json([&](std::string_view piece) -> Status {
    again.update(piece);
    return {};
  });
  if (!written) return bad(written.error().message);
  if (again.finish() != digest) return bad("not in canonical form");
  return snap;
}

std::uint64_t Snapshot::total_size() const {
  std::uint64_t total = 0;
  for (const auto& e : entries) total += e.size;
  return total;
}

const SnapshotEntry* Snapshot::find(std::string_view path) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), path,
                             [](const SnapshotEntry& e, std::string_view p) { return e.path < p; });
  if (it == entries.end() || it->path != path) return nullptr;
  return &*it;
}

}  // namespace airlock
