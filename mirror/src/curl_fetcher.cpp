#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "airlock/mirror/fetcher.h"
#include "airlock/base/file.h"

namespace airlock::mirror {
namespace {

using Clock = std::chrono::steady_clock;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return std::string(s);
}

struct Transfer {
  std::size_t index = 0;
  const FetchJob* job = nullptr;
  FetchResult* result = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  UniqueFd fd;
  Hasher hasher;
  std::uint64_t offset = 0;   // bytes kept from an earlier attempt
  std::uint64_t written = 0;  // bytes in dest now
  bool body_started = false;
  bool write_body = false;
  std::optional<Error> refusal;  // the bytes were wrong: no retry
  std::string etag, last_modified;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy) curl_easy_cleanup(easy);
    if (headers) curl_slist_free_all(headers);
  }
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after a redirect): forget the old headers
    t->etag.clear();
    t->last_modified.clear();
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (name == "etag") t->etag = trim(line.substr(colon + 1));
    if (name == "last-modified") t->last_modified = trim(line.substr(colon + 1));
  }
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * n;
  if (!t->body_started) {
    t->body_started = true;
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    t->write_body = code == 200 || code == 206;
    if (code == 200 && t->offset > 0) {
      // The server ignored our Range: start over.
      if (::ftruncate(t->fd.get(), 0) != 0) return 0;
      ::lseek(t->fd.get(), 0, SEEK_SET);
      t->hasher = Hasher();
      t->offset = 0;
      t->written = 0;
    }
  }
  if (!t->write_body) return len;  // an error page: not kept
  const std::uint64_t cap = t->job->expected_size.value_or(t->job->max_size);
  if (t->written + len > cap) {
    t->refusal = Error{Code::refused, t->job->url + " is larger than " + std::to_string(cap) + " bytes" +
                                          (t->job->expected_size ? ", the size the signed index declares" : "")};
    return 0;
  }
  auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(data), len);
  if (!write_all(t->fd.get(), bytes)) return 0;
  t->hasher.update(bytes);
  t->written += len;
  return len;
}

class CurlFetcher : public Fetcher {
 public:
  std::vector<FetchResult> fetch(const std::vector<FetchJob>& jobs, const FetchOptions& options) override;

 private:
  std::unique_ptr<Transfer> start(std::size_t index, const FetchJob& job, FetchResult& result,
                                  const FetchOptions& options);
  // Decides what a finished transfer means; returns true when it should be retried.
  bool finish(Transfer& t, CURLcode code, const FetchOptions& options);
};

std::unique_ptr<Transfer> CurlFetcher::start(std::size_t index, const FetchJob& job,
                                             FetchResult& result, const FetchOptions& options) {
  auto t = std::make_unique<Transfer>();
  t->index = index;
  t->job = &job;
  t->result = &result;
  ++result.attempts;
  int fd = ::open(job.dest.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    result.error = fail_errno(job.dest.string()).error();
    return nullptr;
  }
  t->fd.reset(fd);
  // Resume: hash what an earlier attempt kept, then ask only for the rest.
  auto kept = read_chunks(t->fd.get(), [&](std::span<const std::uint8_t> c) -> Status {
    t->hasher.update(c);
    t->offset += c.size();
    return {};
  });
  if (!kept) {
    result.error = kept.error();
    return nullptr;
  }
  t->written = t->offset;
  if (job.expected_size && job.expected_sha256 && t->offset == *job.expected_size) {
    // An earlier run finished this file but did not store it: if the bytes
    // are right there is nothing to fetch.
    auto digest = t->hasher.finish();
    if (digest == *job.expected_sha256) {
      result.http_status = 200;
      result.size = t->offset;
      result.sha256 = digest;
      result.error.reset();
      return nullptr;
    }
    if (::ftruncate(t->fd.get(), 0) != 0) {
      result.error = fail_errno(job.dest.string()).error();
      return nullptr;
    }
    t->hasher = Hasher();
    t->offset = 0;
    t->written = 0;
  }
  ::lseek(t->fd.get(), 0, SEEK_END);

  t->easy = curl_easy_init();
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, job.url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "airlock-mirror/0.1");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, nullptr);  // bytes exactly as published
  if (t->offset > 0) {
    curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t->offset));
    result.resumed = true;
  } else {
    if (!job.if_none_match.empty()) {
      t->headers = curl_slist_append(t->headers, ("If-None-Match: " + job.if_none_match).c_str());
    }
    if (!job.if_modified_since.empty()) {
      t->headers = curl_slist_append(t->headers, ("If-Modified-Since: " + job.if_modified_since).c_str());
    }
    if (t->headers) curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  }
  return t;
}

bool CurlFetcher::finish(Transfer& t, CURLcode code, const FetchOptions& options) {
  FetchResult& r = *t.result;
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  r.http_status = static_cast<int>(status);
  const bool attempts_left = r.attempts <= options.retries;
  auto drop_partial = [&] {
    t.fd.reset();
    ::unlink(t.job->dest.c_str());
  };
  if (t.refusal) {
    drop_partial();
    r.error = *t.refusal;
    return false;
  }
  if (code != CURLE_OK) {
    if (code == CURLE_RANGE_ERROR || status == 416) {
      drop_partial();  // what we kept is not a prefix the server can continue
      if (attempts_left) return true;
    }
    std::string what = t.errbuf[0] ? t.errbuf : curl_easy_strerror(code);
    if (attempts_left) return true;  // timeouts, dropped connections: keep the partial, retry
    r.error = Error{Code::io, "GET " + t.job->url + ": " + what + " (after " +
                                  std::to_string(r.attempts) + " attempts)"};
    return false;
  }
  if (status == 304) {
    r.not_modified = true;
    t.fd.reset();
    if (t.offset == 0) ::unlink(t.job->dest.c_str());
    return false;
  }
  if (status == 404 || status == 410) {
    r.missing = true;
    drop_partial();
    return false;
  }
  if (status == 416) {
    drop_partial();
    if (attempts_left) return true;
  }
  if (status >= 500 || status == 429 || status == 408) {
    if (attempts_left) return true;
    r.error = Error{Code::io, "GET " + t.job->url + ": HTTP " + std::to_string(status) + " (after " +
                                  std::to_string(r.attempts) + " attempts)"};
    return false;
  }
  if (status != 200 && status != 206) {
    drop_partial();
    r.error = Error{Code::io, "GET " + t.job->url + ": HTTP " + std::to_string(status)};
    return false;
  }
  r.etag = t.etag;
  r.last_modified = t.last_modified;
  r.size = t.written;
  r.sha256 = t.hasher.finish();
  if (t.job->expected_size && r.size != *t.job->expected_size) {
    drop_partial();
    r.error = Error{Code::refused, t.job->url + " has " + std::to_string(r.size) +
                                       " bytes, the signed index says " +
                                       std::to_string(*t.job->expected_size)};
    return false;
  }
  if (t.job->expected_sha256 && r.sha256 != *t.job->expected_sha256) {
    drop_partial();
    r.error = Error{Code::refused, t.job->url + " does not match the signed index: expected sha256 " +
                                       t.job->expected_sha256->hex() + ", actual " + r.sha256.hex()};
    return false;
  }
  if (auto s = fsync_fd(t.fd.get(), t.job->dest.string()); !s) {
    r.error = s.error();
    return false;
  }
  r.error.reset();
  return false;
}

std::vector<FetchResult> CurlFetcher::fetch(const std::vector<FetchJob>& jobs,
                                            const FetchOptions& options) {
  global_init();
  std::vector<FetchResult> results(jobs.size());
  // Transfers are spread over one event loop per core: hashing the bytes as
  // they arrive is work, and one thread would cap the rate at one core.
  const int per_host = std::max(1, options.jobs);
  const int loops = static_cast<int>(std::clamp<std::size_t>(
      std::min<std::size_t>(std::thread::hardware_concurrency(), jobs.size()), 1, static_cast<std::size_t>(per_host)));
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> files_done{0};
  std::atomic<std::uint64_t> finished_bytes{0};
  std::vector<std::atomic<std::uint64_t>> in_flight(static_cast<std::size_t>(loops));
  std::uint64_t bytes_total = 0;
  for (const auto& j : jobs) bytes_total += j.expected_size.value_or(0);

  auto report = [&] {
    FetchProgress p;
    p.files_total = jobs.size();
    p.bytes_total = bytes_total;
    p.files_done = files_done.load();
    p.bytes_done = finished_bytes.load();
    for (auto& f : in_flight) p.bytes_done += f.load();
    options.progress(p);
  };

  auto loop = [&](int me) {
    CURLM* multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(per_host));
    struct Waiting {
      std::size_t index;
      Clock::time_point not_before;
    };
    std::deque<Waiting> retries;
    std::vector<std::unique_ptr<Transfer>> active;
    // This loop's share of the parallel transfers.
    const int capacity = std::max(1, per_host / loops + (me < per_host % loops ? 1 : 0));
    auto last_report = Clock::now() - std::chrono::seconds(1);
    for (;;) {
      auto now = Clock::now();
      while (static_cast<int>(active.size()) < capacity) {
        std::optional<std::size_t> index;
        for (auto it = retries.begin(); it != retries.end(); ++it) {
          if (it->not_before <= now) {
            index = it->index;
            retries.erase(it);
            break;
          }
        }
        if (!index) {
          std::size_t n = next.fetch_add(1);
          if (n >= jobs.size()) break;
          index = n;
        }
        auto t = start(*index, jobs[*index], results[*index], options);
        if (!t) {
          ++files_done;
          finished_bytes += results[*index].size;
          continue;
        }
        curl_multi_add_handle(multi, t->easy);
        active.push_back(std::move(t));
      }
      if (active.empty() && retries.empty() && next.load() >= jobs.size()) break;
      int running = 0;
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
        CURLcode code = msg->data.result;
        curl_multi_remove_handle(multi, msg->easy_handle);
        bool retry = finish(*t, code, options);
        std::size_t index = t->index;
        if (retry) {
          auto delay = options.backoff * (1 << std::min(results[index].attempts - 1, 6));
          retries.push_back({index, Clock::now() + delay});
        } else {
          ++files_done;
          finished_bytes += results[index].size;
        }
        std::erase_if(active, [&](auto& p) { return p.get() == t; });
      }
      std::uint64_t flying = 0;
      for (const auto& t : active) flying += t->written;
      in_flight[static_cast<std::size_t>(me)] = flying;
      if (me == 0 && options.progress && Clock::now() - last_report > std::chrono::milliseconds(100)) {
        report();
        last_report = Clock::now();
      }
      if (!active.empty()) {
        curl_multi_poll(multi, nullptr, 0, 100, nullptr);
      } else if (!retries.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    in_flight[static_cast<std::size_t>(me)] = 0;
    curl_multi_cleanup(multi);
  };

  std::vector<std::thread> threads;
  for (int i = 1; i < loops; ++i) threads.emplace_back(loop, i);
  loop(0);
  for (auto& t : threads) t.join();
  if (options.progress) report();
  return results;
}

}  // namespace

std::unique_ptr<Fetcher> make_curl_fetcher() { return std::make_unique<CurlFetcher>(); }

}  // namespace airlock::mirror
