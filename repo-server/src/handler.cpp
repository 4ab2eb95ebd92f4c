#include <unistd.h>

#include <ctime>
#include <expected>
#include <nlohmann/json.hpp>
#include <set>

#include "airlock/formats/clearsign.h"
#include "airlock/formats/release.h"
#include "airlock/repo/channels.h"
#include "airlock/repo/server.h"
#include "site_index.h"

namespace airlock::repo {
namespace {

constexpr std::size_t kMaxTarget = 4096;
constexpr std::uint64_t kSmallObject = 64 * 1024;
constexpr std::uint64_t kSmallCacheBytes = 64ull << 20;
// Digests of objects found whole; forgotten all at once beyond this many
// (2 MiB or so), which only costs hashing them again.
constexpr std::size_t kVerifiedObjects = 32768;
constexpr std::uint64_t kMaxRelease = 64ull << 20;

std::string content_type(std::string_view path) {
  auto ends = [&](std::string_view suffix) { return path.ends_with(suffix); };
  if (ends(".deb") || ends(".udeb")) return "application/vnd.debian.binary-package";
  if (ends(".rpm")) return "application/x-rpm";
  if (ends(".gz")) return "application/gzip";
  if (ends(".xz")) return "application/x-xz";
  if (ends(".bz2")) return "application/x-bzip2";
  if (ends(".zst")) return "application/zstd";
  if (ends(".gpg") || ends(".asc")) return "application/pgp-signature";
  if (ends("/InRelease") || ends("/Release") || ends("/Packages") || ends("Translation-en")) {
    return "text/plain; charset=utf-8";
  }
  if (ends(".xml")) return "application/xml";
  if (ends(".iso")) return "application/x-iso9660-image";
  if (ends(".tar")) return "application/x-tar";
  if (ends(".json")) return "application/json";
  if (ends("/SHA256SUMS") || path == "SHA256SUMS" || ends(".txt"))
    return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

HttpResponse text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

// The parsed Release of a stored InRelease or Release. The mirror checked its
// signature before it entered the store and the bundle carrying it was
// verified on import, so the signature is split off here, not checked again.
// An InRelease that is not clearsigned is read as a plain Release. Empty when
// the file cannot be read or parsed: its files are still served by path, and
// their SHA256 by-hash addresses still answer.
std::optional<apt::Release> stored_release(const Store& store, const SnapshotEntry& entry) {
  if (entry.size > kMaxRelease) return std::nullopt;
  auto bytes = store.read(entry.sha256, kMaxRelease);
  if (!bytes) return std::nullopt;
  std::string text = std::move(*bytes);
  if (entry.path.ends_with("/InRelease") && text.starts_with(formats::kSignedMessageBegin)) {
    auto message = formats::split_clearsigned(text);
    if (!message) return std::nullopt;
    text = std::move(message->text);
  }
  auto release = apt::parse_release(text);
  if (!release) return std::nullopt;
  return std::move(*release);
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpResponse method_not_allowed() {
  auto r = text(405, "method not allowed\n");
  r.headers.emplace_back("Allow", "GET, HEAD");
  return r;
}

HttpResponse health_response(const std::function<std::string()>& health) {
  auto r = text(200, health ? health() : "{\"status\":\"ok\"}\n");
  r.headers[0].second = "application/json";
  return r;
}

// What /<channel>/<repo>/<upstream path> names.
struct Route {
  std::string channel;
  std::string repo;
  std::string rest;  // the upstream path, segments joined by '/'
};

// The request target without its query, percent-decoded once (decode_path).
// 414 when it is too long, 400 when it is not absolute or does not decode.
std::expected<std::string, HttpResponse> request_path(std::string_view target) {
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  if (target.size() > kMaxTarget) return std::unexpected(text(414, "request target too long\n"));
  if (target.empty() || target[0] != '/') return std::unexpected(text(400, "bad request target\n"));
  auto path = decode_path(target);
  if (!path) return std::unexpected(text(400, "bad request path\n"));
  return std::move(*path);
}

// Splits a decoded path into channel, repo and upstream path. Empty (answered
// 404) unless there are at least three segments, every one non-empty and none
// a dot segment, and the channel name is valid.
std::optional<Route> parse_route(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    auto seg = path.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return std::nullopt;
    parts.push_back(std::move(seg));
    start = end + 1;
  }
  if (parts.size() < 3 || !valid_channel_name(parts[0])) return std::nullopt;
  std::string rest;
  for (std::size_t i = 2; i < parts.size(); ++i) rest += (i > 2 ? "/" : "") + parts[i];
  return Route{std::move(parts[0]), std::move(parts[1]), std::move(rest)};
}

// Whether the client's copy is current (answered 304). If-None-Match wins
// over If-Modified-Since; an unparsable date counts as modified.
bool not_modified(const HttpRequest& req, const std::string& etag, TimePoint modified) {
  if (!req.if_none_match.empty()) {
    return req.if_none_match == etag || req.if_none_match == "*" ||
           req.if_none_match.find(etag) != std::string::npos;
  }
  if (!req.if_modified_since.empty()) {
    auto since = parse_http_date(req.if_modified_since);
    return since && modified <= *since;
  }
  return false;
}

// An inclusive byte range of an object.
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// A single "bytes=" range of an object of size bytes: first-last (last
// clamped to the end), first- or -suffix. Empty when the header is absent,
// lists several ranges or does not parse: the whole object is sent. A 416
// answer (with Content-Range: bytes */size) when it parses but starts past
// the end or ends before it starts.
std::expected<std::optional<ByteRange>, HttpResponse> parse_range(const std::string& range,
                                                                  std::uint64_t size) {
  if (range.empty() || !range.starts_with("bytes=") || range.find(',') != std::string::npos) {
    return std::nullopt;
  }
  const std::string spec = range.substr(6);
  const auto dash = spec.find('-');
  if (dash == std::string::npos) return std::nullopt;
  ByteRange r{0, size ? size - 1 : 0};
  try {
    if (dash == 0) {  // suffix: the last N bytes
      std::uint64_t n = std::stoull(spec.substr(1));
      if (n == 0 || spec.size() <= 1) return std::nullopt;
      r.first = n >= size ? 0 : size - n;
    } else {
      r.first = std::stoull(spec.substr(0, dash));
      if (dash + 1 < spec.size()) {
        r.last = std::min<std::uint64_t>(std::stoull(spec.substr(dash + 1)), r.last);
      }
    }
  } catch (...) {
    return std::nullopt;
  }
  if (r.first >= size || r.first > r.last) {
    auto bad = text(416, "range not satisfiable\n");
    bad.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    return std::unexpected(std::move(bad));
  }
  return r;
}

// An object's bytes: in memory when small, otherwise its open file.
struct ObjectBody {
  std::shared_ptr<const std::string> content;
  std::optional<ObjectFile> file;
  std::uint64_t size() const { return content ? content->size() : file->size; }
};

// format_http_date, remembered for the time last asked for: requests on a
// channel ask for the same time over and over.
const std::string& http_date(TimePoint time) {
  thread_local std::optional<TimePoint> last;
  thread_local std::string text;
  if (last != time) {
    text = format_http_date(time);
    last = time;
  }
  return text;
}

// The answer for an object found at path, last changed (its channel moved) at
// modified: validators and type, then 304, 416, 206 or 200.
HttpResponse object_response(const HttpRequest& req, const Digest& object, const std::string& path,
                             TimePoint modified, ObjectBody body) {
  HttpResponse r;
  r.object = object;
  const std::string etag = "\"" + object.hex() + "\"";
  r.headers.emplace_back("Content-Type", content_type(path));
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Last-Modified", http_date(modified));
  r.headers.emplace_back("Accept-Ranges", "bytes");
  if (not_modified(req, etag, modified)) {
    r.status = 304;
    return r;
  }
  const std::uint64_t size = body.size();
  auto range = parse_range(req.range, size);
  if (!range) {
    range.error().object = object;
    return std::move(range.error());
  }
  if (*range) {
    const auto [first, last] = **range;
    r.status = 206;
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                                std::to_string(last) + "/" + std::to_string(size));
    r.offset = first;
    r.length = last - first + 1;
  } else {
    r.offset = 0;
    r.length = size;
  }
  if (body.content) {
    r.cached = std::move(body.content);
  } else {
    r.file = std::move(body.file);
  }
  return r;
}

}  // namespace

std::optional<std::string> decode_path(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;
      int hi = hexval(raw[i + 1]), lo = hexval(raw[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char d = static_cast<char>(hi << 4 | lo);
      if (d == '/' || d == '\\' || d == '\0') return std::nullopt;
      out += d;
      i += 2;
    } else {
      out += c;
    }
  }
  for (char c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') return std::nullopt;
  }
  return out;
}

namespace {

// A snapshot's paths: its files, and the by-hash address of each file and
// of every hash its Release files list.
struct PathIndex {
  Snapshot snapshot;
  // "<dir>/by-hash/SHA256/<hex>" for every entry, and every by-hash address
  // the snapshot's Release files list, in any of their hash algorithms.
  std::map<std::string, Digest> by_hash_target;

  std::optional<Digest> find(const std::string& path) const {
    if (const auto* e = snapshot.find(path)) return e->sha256;
    if (auto it = by_hash_target.find(path); it != by_hash_target.end()) return it->second;
    return std::nullopt;
  }
};

PathIndex index_paths(const Store& store, Snapshot snap) {
  PathIndex out;
  for (const auto& e : snap.entries) {
    auto slash = e.path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : e.path.substr(0, slash);
    std::string key = (dir.empty() ? "" : dir + "/") + "by-hash/SHA256/" + e.sha256.hex();
    out.by_hash_target.emplace(key, e.sha256);
  }
  // apt asks by-hash for the strongest hash its Release lists (often SHA512):
  // map every hash of every Release in the snapshot to the file it names.
  for (const auto& e : snap.entries) {
    if (!e.path.starts_with("dists/") ||
        !(e.path.ends_with("/InRelease") || e.path.ends_with("/Release")))
      continue;
    auto release = stored_release(store, e);
    if (!release) continue;
    const std::string dir = e.path.substr(0, e.path.rfind('/') + 1);  // dists/<suite>/
    for (const auto& [address, path] : apt::by_hash_paths(*release, dir)) {
      const auto* file = snap.find(path);
      if (file) out.by_hash_target.emplace(address, file->sha256);
    }
  }
  out.snapshot = std::move(snap);
  return out;
}

}  // namespace

struct RequestHandler::CachedSnapshot {
  PathIndex files;
  // A filtered snapshot's site index: what its paths under site_root
  // (site_index_root: dists/ or repodata/) answer, the vendor's never.
  std::optional<PathIndex> site;
  std::string site_root;

  // The object an upstream path names.
  std::optional<Digest> find(const std::string& path) const {
    if (site && path.starts_with(site_root)) return site->find(path);
    return files.find(path);
  }
};

RequestHandler::RequestHandler(const Store& store) : store_(store) {}

void RequestHandler::set_access(std::shared_ptr<const AccessPolicy> policy) {
  const bool rules = policy && !policy->empty();
  {
    std::lock_guard lk(access_mu_);
    access_ = std::move(policy);
  }
  access_rules_.store(rules, std::memory_order_release);
}

std::shared_ptr<const RequestHandler::CachedSnapshot> RequestHandler::snapshot(const Digest& id) {
  {
    std::lock_guard lk(mu_);
    if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  }
  auto snap = store_.get_snapshot(id);
  if (!snap) return nullptr;
  auto cached = std::make_shared<CachedSnapshot>();
  if (needs_site_index(*snap)) {
    // Made with the snapshot's import: without it the vendor's whole index
    // would list packages this mirror does not carry.
    auto site_id = store_.get_ref(site_index_ref(id));
    if (!site_id) return nullptr;
    auto bytes = store_.read(*site_id, kMaxRelease);
    if (!bytes) return nullptr;
    auto site = Snapshot::parse(*bytes);
    if (!site) return nullptr;
    cached->site = index_paths(store_, std::move(*site));
    cached->site_root = site_index_root(snap->kind);
  }
  cached->files = index_paths(store_, std::move(*snap));
  std::lock_guard lk(mu_);
  if (cache_.size() > 64) cache_.clear();
  cache_.emplace(id, cached);
  return cached;
}

std::string RequestHandler::check_once(const Digest& id, const std::string* content,
                                       const ObjectFile& file) {
  {
    std::lock_guard lk(verified_mu_);
    if (verified_.contains(id)) return {};
  }
  ++hashed_;
  Digest actual;
  if (content) {
    actual = sha256(*content);
  } else {
    auto h = hash_object_file(file);
    if (!h) return h.error().message;
    actual = h->digest;
  }
  if (actual != id) return "expected sha256 " + id.hex() + ", actual " + actual.hex();
  std::lock_guard lk(verified_mu_);
  if (verified_.size() >= kVerifiedObjects) verified_.clear();
  verified_.insert(id);
  return {};
}

// Only bytes that were checked are kept.
std::shared_ptr<const std::string> RequestHandler::small_object(const Digest& id,
                                                                ObjectFile& file) {
  auto content = std::make_shared<std::string>(file.size, '\0');
  ssize_t got =
      ::pread(file.fd.get(), content->data(), content->size(), static_cast<off_t>(file.offset));
  if (got != static_cast<ssize_t>(content->size())) return nullptr;
  if (!check_once(id, content.get(), file).empty()) return nullptr;
  std::lock_guard lk(small_mu_);
  if (small_bytes_ + content->size() > kSmallCacheBytes) {
    small_.clear();
    small_bytes_ = 0;
  }
  if (small_.emplace(id, content).second) small_bytes_ += content->size();
  return content;
}

HttpResponse RequestHandler::handle(const HttpRequest& req) {
  const bool head = req.method == "HEAD";
  if (req.method != "GET" && !head) return method_not_allowed();
  auto finish = [&](HttpResponse r) {
    r.head = head;
    return r;
  };
  auto path = request_path(req.target);
  if (!path) return finish(std::move(path.error()));
  if (*path == "/-/health") return finish(health_response(health));
  auto route = parse_route(*path);
  if (!route) return finish(text(404, "not found\n"));
  if (access_rules_.load(std::memory_order_acquire)) {
    std::shared_ptr<const AccessPolicy> policy;
    {
      std::lock_guard lk(access_mu_);
      policy = access_;
    }
    if (auto why =
            policy ? policy->refuses(req.client, route->channel, route->repo) : std::nullopt) {
      auto r = text(403, "forbidden\n");
      r.reason = std::move(*why);
      return finish(std::move(r));
    }
  }
  auto ref = store_.ref_state("channel/" + route->channel + "/" + route->repo);
  if (!ref || !ref->target) return finish(text(404, "not found\n"));
  auto cached = snapshot(*ref->target);
  if (!cached) return finish(text(500, "snapshot unavailable\n"));
  auto object = cached->find(route->rest);
  if (!object) return finish(text(404, "not found\n"));

  // From memory when cached; otherwise opened, and read into the cache when
  // small enough.
  ObjectBody body;
  {
    std::lock_guard lk(small_mu_);
    if (auto it = small_.find(*object); it != small_.end()) body.content = it->second;
  }
  std::string problem;
  if (!body.content) {
    auto f = store_.open_object(*object);
    if (!f) {
      problem = f.error().message;
    } else if (f->size <= kSmallObject) {
      body.content = small_object(*object, *f);
      if (!body.content) problem = check_once(*object, nullptr, *f);
    } else if (problem = check_once(*object, nullptr, *f); problem.empty()) {
      body.file.emplace(std::move(*f));
    }
  }
  if (!body.content && !body.file) {
    auto r = text(500, "object unavailable\n");
    r.object = object;
    r.reason = problem.empty() ? "object unreadable" : problem;
    return finish(std::move(r));
  }
  // What a URL answers changes when its channel changes: that is its
  // modification time.
  return finish(object_response(req, *object, route->rest, ref->time, std::move(body)));
}

}  // namespace airlock::repo
