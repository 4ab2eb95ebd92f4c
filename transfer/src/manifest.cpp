#include "airlock/transfer/manifest.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

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

// Objects sorted by sha256 and unique, none over kMaxObjectSize.
Status parse_objects(const json& doc, Manifest& m) {
  const json& list = doc["objects"];
  if (!list.is_array()) return bad("objects must be an array");
  auto& out = m.objects;
  out.reserve(list.size());
  for (const auto& o : list) {
    if (!has_exactly(o, {"sha256", "size"}))
      return bad("each object needs exactly sha256 and size");
    auto id = digest_field(o, "sha256", "object");
    if (!id) return fail(id.error());
    auto size = size_field(o, "size", "object " + id->hex());
    if (!size) return fail(size.error());
    if (*size > kMaxObjectSize) return bad("object " + id->hex() + " is larger than 8 GiB");
    if (!out.empty() && !(out.back().sha256 < *id)) {
      return bad("objects must be sorted by sha256 and unique (at " + id->hex() + ")");
    }
    out.push_back({*id, *size});
  }
  return {};
}

// The size of the tar stream, which the objects (parsed before) determine
// exactly.
Status parse_archive_size(const json& doc, Manifest& m) {
  auto archive_size = size_field(doc, "archive_size", "archive");
  if (!archive_size) return fail(archive_size.error());
  m.archive_size = *archive_size;
  if (m.archive_size != tar_size_for(m.objects)) {
    return bad("archive_size " + std::to_string(m.archive_size) + " does not match the objects (" +
               std::to_string(tar_size_for(m.objects)) + ")");
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

// One entry per snapshot's repository, in the order of the snapshots.
Status parse_changes(const json& doc, Manifest& m) {
  const json& list = doc["changes"];
  if (!list.is_array() || list.size() != m.snapshots.size()) {
    return bad("changes must list one entry for each snapshot");
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& r = list[i];
    if (!has_exactly(r, {"repo", "packages"}) || !r["repo"].is_string() ||
        !r["packages"].is_array() || r["repo"].get<std::string>() != m.snapshots[i].repo) {
      return bad("changes entry " + std::to_string(i) + " must be {repo, packages} for " +
                 m.snapshots[i].repo);
    }
    RepoChanges rc{m.snapshots[i].repo, {}};
    for (const auto& c : r["packages"]) {
      auto e = parse_change(c, rc.repo);
      if (!e) return fail(e.error());
      rc.packages.push_back(std::move(*e));
    }
    m.changes.push_back(std::move(rc));
  }
  return {};
}

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

std::uint64_t tar_size_for(const std::vector<BundleObject>& objects) {
  std::uint64_t total = 1024;  // two zero blocks end the archive
  for (const auto& o : objects) total += 512 + (o.size + 511) / 512 * 512;
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

std::string Manifest::to_json() const {
  ojson doc;
  doc["format"] = kBundleFormat;
  doc["stream"] = stream;
  doc["sequence"] = sequence;
  doc["previous"] = previous ? ojson(previous->hex()) : ojson(nullptr);
  doc["kind"] = kind;
  doc["created"] = format_time(created);
  doc["expires"] = format_time(expires);
  doc["producer"] = producer;
  ojson snaps = ojson::array();
  for (const auto& s : snapshots) snaps.push_back(ojson{{"id", s.id.hex()}, {"repo", s.repo}});
  doc["snapshots"] = std::move(snaps);
  ojson objs = ojson::array();
  for (const auto& o : objects) objs.push_back(ojson{{"sha256", o.sha256.hex()}, {"size", o.size}});
  doc["objects"] = std::move(objs);
  doc["archive_size"] = archive_size;
  ojson vols = ojson::array();
  for (const auto& v : volumes) {
    vols.push_back(ojson{{"name", v.name}, {"size", v.size}, {"sha256", v.sha256.hex()}});
  }
  doc["volumes"] = std::move(vols);
  doc["log"] = ojson::parse(log_json, nullptr, false);
  if (doc["log"].is_discarded()) doc["log"] = ojson::array();
  ojson changed = ojson::array();
  for (const auto& rc : changes) {
    ojson pkgs = ojson::array();
    for (const auto& c : rc.packages) {
      pkgs.push_back(ojson{{"change", c.change},
                           {"name", c.name},
                           {"architecture", c.architecture},
                           {"old", c.old_version},
                           {"new", c.new_version},
                           {"size", c.size}});
    }
    changed.push_back(ojson{{"repo", rc.repo}, {"packages", std::move(pkgs)}});
  }
  doc["changes"] = std::move(changed);
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<Manifest> Manifest::parse(std::string_view text) {
  auto parsed = parse_json_strict(text);
  if (!parsed) return bad(parsed.error().message);
  const json& doc = *parsed;
  if (auto s = check_envelope(doc); !s) return fail(s.error());
  Manifest m;
  for (auto group : {parse_position, parse_origin, parse_snapshots, parse_objects,
                     parse_archive_size, parse_volumes, parse_log, parse_changes}) {
    if (auto s = group(doc, m); !s) return fail(s.error());
  }
  return m;
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
