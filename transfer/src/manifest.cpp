#include "airlock/transfer/manifest.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_set>
#include <utility>

#include "airlock/base/json.h"
#include "airlock/store/snapshot.h"
#include "airlock/verify/encoding.h"

namespace airlock {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::size_t kMaxVolumes = 1000;
constexpr std::size_t kMaxSignatures = 64;

std::unexpected<Error> bad(std::string what) {
  return fail(Code::invalid_input, "manifest: " + what);
}

Result<Digest> digest_field(const json& obj, const char* field, const std::string& where) {
  if (!obj.contains(field) || !obj[field].is_string()) {
    return bad(where + ": " + field + " must be a 64-hex-digit string");
  }
  auto d = Digest::parse(obj[field].get<std::string>());
  if (!d) return bad(where + ": " + field + ": " + d.error().message);
  return *d;
}

Result<std::uint64_t> size_field(const json& obj, const char* field, const std::string& where) {
  if (!obj.contains(field) || !obj[field].is_number_unsigned()) {
    return bad(where + ": " + field + " must be a non-negative integer");
  }
  return obj[field].get<std::uint64_t>();
}

bool has_exactly(const json& obj, std::initializer_list<const char*> fields) {
  if (!obj.is_object() || obj.size() != fields.size()) return false;
  for (const char* f : fields) {
    if (!obj.contains(f)) return false;
  }
  return true;
}

// The manifest's field groups, each checked on its own. The envelope check
// runs first and guarantees every field below is present, so the group
// parsers may index the document freely. Each fills its fields of m, in the
// order of the document, and returns invalid_input naming the first problem
// it finds; m is then partly filled and parse discards it.

// A JSON object of the supported format with exactly the manifest's fields.
Status check_envelope(const json& doc) {
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("format") || !doc["format"].is_string()) return bad("format is missing");
  if (doc["format"].get<std::string>() != kBundleFormat) {
    return bad("unsupported format '" + doc["format"].get<std::string>() + "' (expected " +
               std::string(kBundleFormat) + ")");
  }
  if (!has_exactly(
          doc, {"format", "stream", "sequence", "previous", "kind", "created", "expires",
                "producer", "snapshots", "objects", "archive_size", "volumes", "log", "changes"})) {
    return bad(
        "fields must be exactly format, stream, sequence, previous, kind, created, "
        "expires, producer, snapshots, objects, archive_size, volumes, log, changes");
  }
  return {};
}

// stream, sequence, kind and previous, and the rules that tie the last three
// together.
Status parse_position(const json& doc, Manifest& m) {
  if (!doc["stream"].is_string() || !valid_stream_name(doc["stream"].get<std::string>())) {
    return bad("stream must be 1-64 characters of a-z 0-9 . _ -");
  }
  m.stream = doc["stream"].get<std::string>();
  if (!doc["sequence"].is_number_unsigned() || doc["sequence"].get<std::uint64_t>() < 1 ||
      doc["sequence"].get<std::uint64_t>() > 999999) {
    return bad("sequence must be an integer from 1 to 999999");
  }
  m.sequence = doc["sequence"].get<std::uint64_t>();
  if (!doc["kind"].is_string() ||
      (doc["kind"].get<std::string>() != "delta" && doc["kind"].get<std::string>() != "full")) {
    return bad("kind must be \"delta\" or \"full\"");
  }
  m.kind = doc["kind"].get<std::string>();
  if (!doc["previous"].is_null()) {
    auto p = digest_field(doc, "previous", "previous");
    if (!p) return fail(p.error());
    m.previous = *p;
  }
  if ((m.kind == "full" || m.sequence == 1) && m.previous) {
    return bad("previous must be null for a full bundle or sequence 1");
  }
  if (m.kind == "delta" && m.sequence > 1 && !m.previous) {
    return bad("a delta bundle after sequence 1 must name its previous manifest");
  }
  return {};
}

// created, expires (strictly later) and producer.
Status parse_origin(const json& doc, Manifest& m) {
  for (const char* f : {"created", "expires"}) {
    if (!doc[f].is_string()) return bad(std::string(f) + " must be an RFC 3339 time");
    auto t = parse_time(doc[f].get<std::string>());
    if (!t) return bad(std::string(f) + ": " + t.error().message);
    (std::string(f) == "created" ? m.created : m.expires) = *t;
  }
  if (m.expires <= m.created) return bad("expires must be after created");
  if (!doc["producer"].is_string() || doc["producer"].get<std::string>().size() > 1024) {
    return bad("producer must be a string of at most 1024 bytes");
  }
  m.producer = doc["producer"].get<std::string>();
  return {};
}

// Distinct snapshot ids, each with a valid repo name.
Status parse_snapshots(const json& doc, Manifest& m) {
  const json& list = doc["snapshots"];
  if (!list.is_array()) return bad("snapshots must be an array");
  auto& out = m.snapshots;
  std::set<Digest> ids;
  for (const auto& s : list) {
    if (!has_exactly(s, {"id", "repo"}) || !s["repo"].is_string()) {
      return bad("each snapshot needs exactly id and repo");
    }
    auto id = digest_field(s, "id", "snapshot");
    if (!id) return fail(id.error());
    if (!valid_repo_name(s["repo"].get<std::string>()))
      return bad("snapshot repo name is not valid");
    if (!ids.insert(*id).second) return bad("snapshot " + id->hex() + " is listed twice");
    out.push_back({*id, s["repo"].get<std::string>()});
  }
  return {};
}

// One object, after those in out: sorted by sha256 and unique, none over
// kMaxObjectSize.
Status parse_object(const json& o, std::vector<BundleObject>& out) {
  if (!has_exactly(o, {"sha256", "size"})) return bad("each object needs exactly sha256 and size");
  auto id = digest_field(o, "sha256", "object");
  if (!id) return fail(id.error());
  auto size = size_field(o, "size", "object " + id->hex());
  if (!size) return fail(size.error());
  if (*size > kMaxObjectSize) return bad("object " + id->hex() + " is larger than 8 GiB");
  if (!out.empty() && !(out.back().sha256 < *id)) {
    return bad("objects must be sorted by sha256 and unique (at " + id->hex() + ")");
  }
  out.push_back({*id, *size});
  return {};
}

// The size of the tar stream, which the objects (parsed before: tar_size)
// determine exactly.
Status parse_archive_size(const json& doc, std::uint64_t tar_size, Manifest& m) {
  auto archive_size = size_field(doc, "archive_size", "archive");
  if (!archive_size) return fail(archive_size.error());
  m.archive_size = *archive_size;
  if (m.archive_size != tar_size) {
    return bad("archive_size " + std::to_string(m.archive_size) + " does not match the objects (" +
               std::to_string(tar_size) + ")");
  }
  return {};
}

// 1 to kMaxVolumes volumes named data.000, data.001, ... in order, none empty.
Status parse_volumes(const json& doc, Manifest& m) {
  const json& list = doc["volumes"];
  if (!list.is_array() || list.empty() || list.size() > kMaxVolumes) {
    return bad("volumes must list 1 to 1000 volumes");
  }
  auto& out = m.volumes;
  for (const auto& v : list) {
    if (!has_exactly(v, {"name", "size", "sha256"}) || !v["name"].is_string()) {
      return bad("each volume needs exactly name, size and sha256");
    }
    auto expected = volume_name(out.size());
    if (v["name"].get<std::string>() != expected) {
      return bad("volume " + std::to_string(out.size()) + " must be named " + expected);
    }
    auto size = size_field(v, "size", expected);
    if (!size) return fail(size.error());
    if (*size == 0) return bad("volume " + expected + " is empty");
    auto sha = digest_field(v, "sha256", expected);
    if (!sha) return fail(sha.error());
    out.push_back({expected, *size, *sha});
  }
  return {};
}

// The producer's log records, kept as compact JSON text; each must be an object.
Status parse_log(const json& doc, Manifest& m) {
  const json& list = doc["log"];
  if (!list.is_array()) return bad("log must be an array of records");
  for (const auto& r : list) {
    if (!r.is_object()) return bad("log must be an array of records");
  }
  m.log_json = list.dump();
  return {};
}

// One change: its kind decides which versions it names.
Result<PackageChangeEntry> parse_change(const json& c, const std::string& repo) {
  const std::string where = "changes of " + repo;
  if (!has_exactly(c, {"change", "name", "architecture", "old", "new", "size"}) ||
      !c["change"].is_string() || !c["name"].is_string() || !c["architecture"].is_string() ||
      !c["old"].is_string() || !c["new"].is_string()) {
    return bad(where +
               ": each package needs exactly change, name, architecture, old, new and size");
  }
  PackageChangeEntry e{c["change"].get<std::string>(),       c["name"].get<std::string>(),
                       c["architecture"].get<std::string>(), c["old"].get<std::string>(),
                       c["new"].get<std::string>(),          0};
  auto size = size_field(c, "size", where);
  if (!size) return fail(size.error());
  e.size = *size;
  const bool has_old = !e.old_version.empty(), has_new = !e.new_version.empty();
  const bool ok = (e.change == "added" && !has_old && has_new) ||
                  (e.change == "removed" && has_old && !has_new) ||
                  ((e.change == "upgraded" || e.change == "downgraded") && has_old && has_new);
  if (!ok || e.name.empty()) {
    return bad(where + ": '" + e.name + "' is not a valid " + e.change + " change");
  }
  return e;
}

// The packages of one changes entry, read apart from the tree: those that
// parsed, up to the first that did not, kept as it is to be worded once the
// entry's repository is known.
struct StreamedChanges {
  std::vector<PackageChangeEntry> packages;
  std::optional<json> refused;
};

// One entry per snapshot's repository, in the order of the snapshots.
Status parse_changes(const json& doc, Manifest& m, std::vector<StreamedChanges>& streamed) {
  const json& list = doc["changes"];
  if (!list.is_array() || list.size() != m.snapshots.size()) {
    return bad("changes must list one entry for each snapshot");
  }
  streamed.resize(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& r = list[i];
    if (!has_exactly(r, {"repo", "packages"}) || !r["repo"].is_string() ||
        !r["packages"].is_array() || r["repo"].get<std::string>() != m.snapshots[i].repo) {
      return bad("changes entry " + std::to_string(i) + " must be {repo, packages} for " +
                 m.snapshots[i].repo);
    }
    if (streamed[i].refused) {
      return fail(parse_change(*streamed[i].refused, m.snapshots[i].repo).error());
    }
    m.changes.push_back({m.snapshots[i].repo, std::move(streamed[i].packages)});
  }
  return {};
}

// Builds the manifest's tree as parse_json_strict does (refusing a repeated
// member name anywhere), except for the elements of its two long arrays:
// each object, and each package of a changes entry, is built alone, parsed
// into its struct and dropped, so the tree stays small however many there are.
class ManifestHandler {
 public:
  explicit ManifestHandler(bool keep) : keep_(keep) {}

  json doc;
  std::uint64_t tar_size = kTarEndSize;  // tar_size_for the objects that parsed
  std::optional<std::string> duplicate;
  std::vector<BundleObject> objects;
  std::optional<Error> objects_refused;  // the first object that did not parse
  std::vector<StreamedChanges> changes;  // by changes entry

  bool null() {
    return value([&](dom& d) { return d.null(); });
  }
  bool boolean(bool v) {
    return value([&](dom& d) { return d.boolean(v); });
  }
  bool number_integer(json::number_integer_t v) {
    return value([&](dom& d) { return d.number_integer(v); });
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return value([&](dom& d) { return d.number_unsigned(v); });
  }
  bool number_float(json::number_float_t v, const std::string& t) {
    return value([&](dom& d) { return d.number_float(v, t); });
  }
  bool string(std::string& v) {
    return value([&](dom& d) { return d.string(v); });
  }
  bool binary(json::binary_t& v) {
    return value([&](dom& d) { return d.binary(v); });
  }
  bool start_object(std::size_t n) {
    begin_value();
    open_.push_back('o');
    names_.resize(open_.size());
    names_.back().clear();
    keys_.resize(open_.size());
    return target().start_object(n);
  }
  bool key(std::string& k) {
    if (!names_[open_.size() - 1].insert(k).second) {
      duplicate = k;
      return false;
    }
    keys_[open_.size() - 1] = k;
    return target().key(k);
  }
  bool end_object() {
    return end([&](dom& d) { return d.end_object(); });
  }
  bool start_array(std::size_t n) {
    begin_value();
    open_.push_back('a');
    return target().start_array(n);
  }
  bool end_array() {
    return end([&](dom& d) { return d.end_array(); });
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

 private:
  using dom = nlohmann::detail::json_sax_dom_parser<json>;
  enum class Long { none, object, change };

  dom& target() { return long_ != Long::none ? *element_builder_ : builder_; }
  template <class F>
  bool value(F&& f) {
    begin_value();
    bool ok = f(target());
    end_element();
    return ok;
  }
  template <class F>
  bool end(F&& f) {
    bool ok = f(target());
    open_.pop_back();
    end_element();
    return ok;
  }
  bool at(std::string_view shape) const {
    return std::string_view(open_.data(), open_.size()) == shape;
  }
  // A value starting here: is it an element of a long array?
  void begin_value() {
    if (long_ != Long::none) return;
    if (at("oa") && keys_[0] == "changes") changes.resize(changes.size() + 1);
    const bool object = at("oa") && keys_[0] == "objects";
    const bool change = at("oaoa") && keys_[0] == "changes" && keys_[2] == "packages";
    if (!object && !change) return;
    long_ = object ? Long::object : Long::change;
    element_ = json();
    element_builder_.emplace(element_, false);
    element_depth_ = open_.size();
  }
  // The element ends here when the containers it opened are closed.
  void end_element() {
    if (long_ == Long::none || open_.size() != element_depth_) return;
    if (long_ == Long::object && !objects_refused) {
      // Not kept, only the last is needed: the next must sort after it.
      if (!keep_ && objects.size() > 1) objects.erase(objects.begin());
      if (auto s = parse_object(element_, objects); !s) objects_refused = s.error();
      if (!objects_refused) tar_size += tar_entry_size(objects.back());
    }
    if (long_ == Long::change && !changes.back().refused) {
      auto e = parse_change(element_, "");
      if (e && keep_) changes.back().packages.push_back(std::move(*e));
      if (!e) changes.back().refused = std::move(element_);
    }
    long_ = Long::none;
    element_builder_.reset();
  }

  dom builder_{doc, false};
  std::vector<char> open_;                              // 'o' or 'a' for each open container
  std::vector<std::unordered_set<std::string>> names_;  // by depth, for open objects
  std::vector<std::string> keys_;                       // the last member name, by depth
  bool keep_;
  Long long_ = Long::none;
  json element_;
  std::optional<dom> element_builder_;
  std::size_t element_depth_ = 0;
};

}  // namespace

bool valid_stream_name(std::string_view stream) {
  if (stream.empty() || stream.size() > 64) return false;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    char c = stream[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!(alnum || (i > 0 && (c == '.' || c == '_' || c == '-')))) return false;
  }
  return true;
}

std::string bundle_dir_name(std::string_view stream, std::uint64_t sequence) {
  char seq[24];
  std::snprintf(seq, sizeof seq, "%06llu", static_cast<unsigned long long>(sequence));
  return "airlock-" + std::string(stream) + "-" + seq;
}

std::string volume_name(std::size_t index) {
  char name[16];
  std::snprintf(name, sizeof name, "data.%03zu", index);
  return name;
}

std::uint64_t tar_entry_size(const BundleObject& o) { return 512 + (o.size + 511) / 512 * 512; }

std::uint64_t tar_size_for(const std::vector<BundleObject>& objects) {
  std::uint64_t total = kTarEndSize;
  for (const auto& o : objects) total += tar_entry_size(o);
  return total;
}

std::uint64_t Manifest::payload_size() const {
  std::uint64_t total = 0;
  for (const auto& o : objects) total += o.size;
  return total;
}

const BundleObject* Manifest::find(const Digest& id) const {
  auto it = std::lower_bound(objects.begin(), objects.end(), id,
                             [](const BundleObject& o, const Digest& d) { return o.sha256 < d; });
  if (it == objects.end() || it->sha256 != id) return nullptr;
  return &*it;
}

namespace {

// Pretty-printed JSON exactly as dump(2) writes it, each small value through
// nlohmann's own serializer, so that the long arrays (objects, changes)
// never become a tree beside the text.
class PrettyWriter {
 public:
  // Appends to text, or only counts the bytes when text is null.
  explicit PrettyWriter(std::string* text)
      : out_(std::make_shared<Out>(text)), serializer_(out_, ' ', json::error_handler_t::replace) {}

  std::size_t size() const { return out_->size; }
  void value(const ojson& v, unsigned indent) { serializer_.dump(v, true, false, 2, indent); }
  void raw(std::string_view text) { out_->write_characters(text.data(), text.size()); }
  void indent(unsigned n) {
    while (n > 0) {
      unsigned k = std::min<unsigned>(n, kSpaces.size());
      raw(kSpaces.substr(0, k));
      n -= k;
    }
  }
  // A member of an object whose members are at indent; its value follows.
  void key(std::string_view name, unsigned indent, bool first) {
    if (!first) raw(",\n");
    this->indent(indent);
    raw("\"");
    raw(name);
    raw("\": ");
  }
  // An array at indent of the items, each written by one(item, its indent).
  template <class Items, class F>
  void array(const Items& items, unsigned indent, F&& one) {
    if (items.empty()) return raw("[]");
    raw("[\n");
    bool first = true;
    for (const auto& item : items) {
      if (!std::exchange(first, false)) raw(",\n");
      this->indent(indent + 2);
      one(item, indent + 2);
    }
    raw("\n");
    this->indent(indent);
    raw("]");
  }

 private:
  static constexpr std::string_view kSpaces = "                ";
  struct Out final : nlohmann::detail::output_adapter_protocol<char> {
    explicit Out(std::string* t) : text(t) {}
    std::string* text;
    std::size_t size = 0;
    void write_character(char c) override {
      ++size;
      if (text) text->push_back(c);
    }
    void write_characters(const char* s, std::size_t n) override {
      size += n;
      if (text) text->append(s, n);
    }
  };
  std::shared_ptr<Out> out_;
  nlohmann::detail::serializer<ojson> serializer_;
};

// The manifest's text through w (see PrettyWriter).
void write_manifest(const Manifest& m, PrettyWriter& w) {
  ojson log = ojson::parse(m.log_json, nullptr, false);
  if (log.is_discarded()) log = ojson::array();
  const std::pair<const char*, ojson> head[] = {
      {"format", kBundleFormat},
      {"stream", m.stream},
      {"sequence", m.sequence},
      {"previous", m.previous ? ojson(m.previous->hex()) : ojson(nullptr)},
      {"kind", m.kind},
      {"created", format_time(m.created)},
      {"expires", format_time(m.expires)},
      {"producer", m.producer}};
  w.raw("{\n");
  bool first = true;
  for (const auto& [name, v] : head) {
    w.key(name, 2, std::exchange(first, false));
    w.value(v, 2);
  }
  w.key("snapshots", 2, false);
  w.array(m.snapshots, 2, [&](const BundleSnapshot& s, unsigned in) {
    w.value(ojson{{"id", s.id.hex()}, {"repo", s.repo}}, in);
  });
  w.key("objects", 2, false);
  w.array(m.objects, 2, [&](const BundleObject& o, unsigned in) {
    w.value(ojson{{"sha256", o.sha256.hex()}, {"size", o.size}}, in);
  });
  w.key("archive_size", 2, false);
  w.value(m.archive_size, 2);
  w.key("volumes", 2, false);
  w.array(m.volumes, 2, [&](const BundleVolume& v, unsigned in) {
    w.value(ojson{{"name", v.name}, {"size", v.size}, {"sha256", v.sha256.hex()}}, in);
  });
  w.key("log", 2, false);
  w.value(log, 2);
  w.key("changes", 2, false);
  w.array(m.changes, 2, [&](const RepoChanges& rc, unsigned in) {
    w.raw("{\n");
    w.key("repo", in + 2, true);
    w.value(rc.repo, in + 2);
    w.key("packages", in + 2, false);
    w.array(rc.packages, in + 2, [&](const PackageChangeEntry& c, unsigned pin) {
      w.value(ojson{{"change", c.change},
                    {"name", c.name},
                    {"architecture", c.architecture},
                    {"old", c.old_version},
                    {"new", c.new_version},
                    {"size", c.size}},
              pin);
    });
    w.raw("\n");
    w.indent(in);
    w.raw("}");
  });
  w.raw("\n}\n");
}

}  // namespace

// Written twice: once to count the bytes, so that the text is made once at
// its size rather than grown (a manifest can be tens of megabytes).
std::uint64_t Manifest::json_size() const {
  PrettyWriter counted(nullptr);
  write_manifest(*this, counted);
  return counted.size();
}

std::string Manifest::to_json() const {
  std::string out;
  out.reserve(json_size());
  PrettyWriter w(&out);
  write_manifest(*this, w);
  return out;
}

namespace {

// Manifest::parse, keeping the long arrays or not (Manifest::check).
Result<Manifest> parse_manifest(std::string_view text, bool keep) {
  ManifestHandler h(keep);
  if (!json::sax_parse(text, &h)) {
    if (h.duplicate) return bad(duplicate_key_message(*h.duplicate));
    return bad("not a JSON object");
  }
  const json& doc = h.doc;
  if (auto s = check_envelope(doc); !s) return fail(s.error());
  Manifest m;
  for (auto group : {parse_position, parse_origin, parse_snapshots}) {
    if (auto s = group(doc, m); !s) return fail(s.error());
  }
  if (!doc["objects"].is_array()) return bad("objects must be an array");
  if (h.objects_refused) return fail(*h.objects_refused);
  m.objects = std::move(h.objects);
  if (auto s = parse_archive_size(doc, h.tar_size, m); !s) return fail(s.error());
  for (auto group : {parse_volumes, parse_log}) {
    if (auto s = group(doc, m); !s) return fail(s.error());
  }
  if (auto s = parse_changes(doc, m, h.changes); !s) return fail(s.error());
  return m;
}

}  // namespace

Result<Manifest> Manifest::parse(std::string_view text) { return parse_manifest(text, true); }

Status Manifest::check(std::string_view text) {
  if (auto m = parse_manifest(text, false); !m) return fail(m.error());
  return {};
}

Result<std::vector<SignatureEntry>> parse_signatures(std::string_view text) {
  auto sbad = [](std::string what) { return fail(Code::invalid_input, "signatures: " + what); };
  auto parsed = parse_json_strict(text);
  if (!parsed) return sbad(parsed.error().message);
  json& doc = *parsed;
  if (doc.is_discarded() || !has_exactly(doc, {"signatures"}) || !doc["signatures"].is_array()) {
    return sbad("expected {\"signatures\": [...]}");
  }
  if (doc["signatures"].size() > kMaxSignatures) return sbad("more than 64 signatures");
  std::vector<SignatureEntry> out;
  for (const auto& s : doc["signatures"]) {
    if (!has_exactly(s, {"keyid", "sig"}) || !s["keyid"].is_string() || !s["sig"].is_string()) {
      return sbad("each signature needs exactly keyid and sig");
    }
    auto id = KeyId::parse(s["keyid"].get<std::string>());
    if (!id) return sbad(id.error().message);
    auto sig = base64_decode(s["sig"].get<std::string>());
    if (!sig) return sbad("sig is not base64");
    out.push_back({*id, std::move(*sig)});
  }
  return out;
}

std::string signatures_to_json(const std::vector<SignatureEntry>& signatures) {
  ojson list = ojson::array();
  for (const auto& s : signatures) {
    list.push_back(ojson{{"keyid", s.keyid.hex()}, {"sig", base64_encode(s.sig)}});
  }
  return ojson{{"signatures", std::move(list)}}.dump(2) + "\n";
}

}  // namespace airlock
