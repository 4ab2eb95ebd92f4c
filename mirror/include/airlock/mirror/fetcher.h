// Downloading from upstream: libcurl multi with parallel transfers,
// keep-alive, retries with backoff, resume with Range, conditional requests,
// and hashing while the bytes arrive.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/base/error.h"
#include "airlock/verify/digest.h"

namespace airlock::mirror {

struct FetchJob {
  std::string url;
  std::filesystem::path dest;  // the body goes here; a partial file is resumed
  std::optional<Digest> expected_sha256;
  std::optional<std::uint64_t> expected_size;  // exactly this many bytes, or refused
  std::uint64_t max_size = 1ull << 40;         // without expected_size: more is refused
  std::string if_none_match;                   // ETag of the copy we hold: a 304 means unchanged
  std::string if_modified_since;               // Last-Modified of the copy we hold
};

struct FetchResult {
  int http_status = 0;
  bool not_modified = false;  // 304
  bool missing = false;       // 404 or 410
  std::string etag;
  std::string last_modified;
  Digest sha256;
  std::uint64_t size = 0;
  int attempts = 0;
  bool resumed = false;
  std::optional<Error> error;  // set when the job failed for good
};

struct FetchProgress {
  std::size_t files_done = 0, files_total = 0;
  std::uint64_t bytes_done = 0, bytes_total = 0;
};

struct FetchOptions {
  int jobs = 8;
  int retries = 5;  // further attempts after the first, for 5xx, 429 and network errors
  std::chrono::milliseconds backoff{300};  // doubled on each retry
  std::chrono::seconds connect_timeout{15};
  // A transfer slower than min_rate bytes a second for stall_timeout is cut
  // off (and retried): a server dripping bytes cannot hold a sync forever.
  std::chrono::seconds stall_timeout{30};
  std::uint64_t min_rate = 1024;
  std::function<void(const FetchProgress&)> progress;
};

// The longest one attempt at a transfer of size bytes (the declared size, or
// the job's max_size) may take, however its rate varies: stall_timeout plus
// the time size takes at min_rate (min_rate 0 counts as 1).
std::chrono::seconds transfer_deadline(std::uint64_t size, const FetchOptions& options);

// Thread-compatible: one fetch() at a time per fetcher.
class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // Runs every job; results are in the order of jobs. A job that fails leaves
  // its partial file for a later resume, except when the bytes were wrong
  // (hash or size), which removes it.
  virtual std::vector<FetchResult> fetch(const std::vector<FetchJob>& jobs,
                                         const FetchOptions& options) = 0;
};

// Writes downloads through env. A failed local write (ENOSPC) fails the job
// at once, with the file's path and the system's reason, and is not retried:
// it is not the server's fault.
std::unique_ptr<Fetcher> make_curl_fetcher(Env& env = Env::system());

}  // namespace airlock::mirror
