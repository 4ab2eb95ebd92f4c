// Serving hosts: /<channel>/<repo>/<upstream path> resolved through the
// channel's current snapshot to an object in the store, over HTTP/1.1
// (Boost.Beast). Every request is one `pull` record in the transfer log.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "airlock/repo/access.h"
#include "airlock/store/store.h"

namespace airlock::repo {

struct HttpRequest {
  std::string method;
  std::string target;
  std::string range;
  std::string if_none_match;
  std::string if_modified_since;
  ClientIdentity client = {};  // who asks, for the access policy
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // for small answers
  // For objects: send [offset, offset + length) of the object held in memory
  // (small ones) or of its file.
  std::shared_ptr<const std::string> cached;
  std::optional<ObjectFile> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::optional<Digest> object;  // what was asked for, for the log
  bool head = false;             // answer without a body
  std::string reason;            // why an object could not be served, for the log

  // The bytes of the answer when they are in memory: the range of a cached
  // object, or body.
  std::string_view content() const {
    return cached ? std::string_view(*cached).substr(offset, length) : std::string_view(body);
  }
};

// Turns a request into a response without touching a socket. Thread-safe.
// Paths are percent-decoded once and matched strictly; the store is never
// addressed by a path built from the request. Each object's bytes are
// checked against its hash the first time this handler serves it (and
// remembered, up to a bound): a corrupt object is a 500 whose reason names
// both hashes, never its bytes.
class RequestHandler {
 public:
  explicit RequestHandler(const Store& store);
  HttpResponse handle(const HttpRequest& request);
  // What /-/health reports about the log.
  std::function<std::string()> health;
  // The access policy from the next request on (null: everything allowed).
  // Thread-safe: may be swapped while requests are handled (SIGHUP). A
  // request it refuses is a 403 whose reason says why, answered before the
  // channel or anything else is read; /-/health stays open.
  void set_access(std::shared_ptr<const AccessPolicy> policy);
  // How many times an object's bytes were hashed before serving.
  std::uint64_t objects_hashed() const { return hashed_; }

 private:
  struct CachedSnapshot;
  std::shared_ptr<const CachedSnapshot> snapshot(const Digest& id);
  // Small objects are immutable and hot (indices, small packages): kept in
  // memory, up to a total size, so they cost no file system work per request.
  std::shared_ptr<const std::string> small_object(const Digest& id, ObjectFile& file);
  // Empty when id's bytes (content, or else file's) have its hash, or were
  // found to have it before; otherwise "expected sha256 X, actual Y".
  std::string check_once(const Digest& id, const std::string* content, const ObjectFile& file);
  const Store& store_;
  mutable std::mutex access_mu_;
  std::shared_ptr<const AccessPolicy> access_;  // under access_mu_
  // Whether access_ has rules: without any, requests do not touch access_.
  std::atomic<bool> access_rules_{false};
  std::mutex verified_mu_;
  std::set<Digest> verified_;
  std::atomic<std::uint64_t> hashed_{0};
  std::mutex mu_;
  std::map<Digest, std::shared_ptr<const CachedSnapshot>> cache_;
  std::mutex small_mu_;
  std::map<Digest, std::shared_ptr<const std::string>> small_;
  std::uint64_t small_bytes_ = 0;
};

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  bool listen_set = false;  // listen came from the settings file
  int threads = 0;          // 0: one per core
  std::chrono::seconds idle_timeout{30};
  std::size_t max_requests_per_connection = 10000;
  std::size_t max_header_bytes = 8192;
  // Connections open at once; each one more is answered 503 and closed
  // without reading its request (and not logged). 0: (RLIMIT_NOFILE - 64) / 2,
  // at least 1, so that every connection can have an object file open.
  std::size_t max_connections = 0;
  std::uint64_t checkpoint_every = 1000;  // records
  std::chrono::seconds checkpoint_interval{60};
  std::chrono::milliseconds flush_interval{200};  // at most 1 s by contract
  // HTTPS: its address (empty: none), the server's certificate chain and
  // key (PEM). With client_ca, a client must present a certificate that
  // chains to it; crl, and the site CA's own list when present, revoke them.
  // listen may be empty when listen_tls is not.
  std::string listen_tls;
  std::filesystem::path tls_cert, tls_key, client_ca, crl;
  // Called once for each address listened on, once the server takes connections.
  std::function<void(const std::string& address, bool tls)> on_ready;
  // Called after SIGHUP read the access policy (and, with HTTPS, the
  // certificate, key, CA and lists) again: what failed (the server keeps
  // what it had).
  std::function<void(const Status& reloaded)> on_reload;
  // Called when SIGHUP arrives, before anything is read again.
  std::function<void()> on_reloading;
  // Called when SIGINT or SIGTERM arrives, before the connections drain.
  std::function<void()> on_stopping;
  // When set (/dev/log), every log record is also sent to this syslog
  // socket as one RFC 5424 message.
  std::string syslog_socket;
};
// Home::serve runs until SIGTERM or SIGINT: then it stops accepting, lets
// in-flight responses finish, flushes the pull log and writes a final
// checkpoint. If the log cannot be written the server answers 503 rather
// than serve unlogged. When the process runs out of descriptors (EMFILE)
// it stops accepting for a moment instead of retrying at once.

// Percent-decodes a request path once. Empty on malformed escapes, an
// encoded slash or backslash, or NUL.
std::optional<std::string> decode_path(std::string_view raw);

}  // namespace airlock::repo
