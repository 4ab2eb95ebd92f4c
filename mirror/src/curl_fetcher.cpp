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

#include "airlock/base/env.h"
#include "airlock/base/file.h"
#include "airlock/mirror/fetcher.h"

namespace airlock::mirror {
namespace {

using Clock = std::chrono::steady_clock;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' '))
    s.remove_suffix(1);
  return std::string(s);
}

struct Transfer {
  std::size_t index = 0;
  const FetchJob* job = nullptr;
  FetchResult* result = nullptr;
  Env* env = nullptr;  // writes to dest go through it
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  UniqueFd fd;
  Hasher hasher;
  std::uint64_t offset = 0;   // bytes kept from an earlier attempt
  std::uint64_t written = 0;  // bytes in dest now
  bool body_started = false;
  bool write_body = false;
  std::optional<Error> refusal;  // the bytes were wrong: no retry
  // Writing dest failed (a full disk): the local side's fault, not the
  // server's, so no retry.
  std::optional<Error> local_error;
  std::chrono::seconds deadline{0};  // this attempt's transfer_deadline()
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
      if (auto s = t->env->truncate(t->fd.get(), 0, t->job->dest.string()); !s) {
        t->local_error = s.error();
        return 0;
      }
      ::lseek(t->fd.get(), 0, SEEK_SET);
      t->hasher = Hasher();
      t->offset = 0;
      t->written = 0;
    }
  }
  if (!t->write_body) return len;  // an error page: not kept
  const std::uint64_t cap = t->job->expected_size.value_or(t->job->max_size);
  if (t->written + len > cap) {
    t->refusal = Error{Code::refused,
                       t->job->url + " is larger than " + std::to_string(cap) + " bytes" +
                           (t->job->expected_size ? ", the size the signed index declares" : "")};
    return 0;
  }
  auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(data), len);
  if (auto s = t->env->write(t->fd.get(), bytes); !s) {
    t->local_error = s.error().context(t->job->dest.string());
    return 0;
  }
  t->hasher.update(bytes);
  t->written += len;
  return len;
}

// Removes what a transfer wrote: the bytes are wrong, or not a prefix the
// server can continue.
void drop_partial(Transfer& t) {
  t.fd.reset();
  ::unlink(t.job->dest.c_str());
}

// Opens dest and takes over what an earlier attempt kept there: t.hasher and
// t.offset cover those bytes and the file is positioned after them. Returns
// false when no request is to be made: the kept bytes are already the whole
// file (result says so), or dest cannot be used (result.error says why).
bool take_over_partial(Transfer& t, FetchResult& result) {
  const FetchJob& job = *t.job;
  int fd = ::open(job.dest.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    result.error = fail_errno(job.dest.string()).error();
    return false;
  }
  t.fd.reset(fd);
  auto kept = read_chunks(t.fd.get(), [&](std::span<const std::uint8_t> c) -> Status {
    t.hasher.update(c);
    t.offset += c.size();
    return {};
  });
  if (!kept) {
    result.error = kept.error();
    return false;
  }
  t.written = t.offset;
  if (job.expected_size && job.expected_sha256 && t.offset == *job.expected_size) {
    // An earlier run finished this file but did not store it: if the bytes
    // are right there is nothing to fetch.
    auto digest = t.hasher.finish();
    if (digest == *job.expected_sha256) {
      result.http_status = 200;
      result.size = t.offset;
      result.sha256 = digest;
      result.error.reset();
      return false;
    }
    if (::ftruncate(t.fd.get(), 0) != 0) {
      result.error = fail_errno(job.dest.string()).error();
      return false;
    }
    t.hasher = Hasher();
    t.offset = 0;
    t.written = 0;
  }
  ::lseek(t.fd.get(), 0, SEEK_END);
  return true;
}

// What every request does, whatever was kept: callbacks into t, redirects
// and protocols, timeouts, and the bytes exactly as published.
void set_request_options(Transfer& t, const FetchOptions& options) {
  CURL* e = t.easy;
  curl_easy_setopt(e, CURLOPT_URL, t.job->url.c_str());
  curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
                   static_cast<long>(std::max<std::uint64_t>(
                       1, std::min<std::uint64_t>(options.min_rate, 1ull << 30))));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
  t.deadline = transfer_deadline(t.job->expected_size.value_or(t.job->max_size), options);
  curl_easy_setopt(e, CURLOPT_TIMEOUT, static_cast<long>(t.deadline.count()));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "airlock-mirror/0.1");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, nullptr);  // bytes exactly as published
}

// A transfer that kept bytes asks for the rest with Range; one that starts
// from nothing asks conditionally, so an unchanged file costs a 304.
void set_resume_or_conditions(Transfer& t, FetchResult& result) {
  if (t.offset > 0) {
    curl_easy_setopt(t.easy, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.offset));
    result.resumed = true;
    return;
  }
  const FetchJob& job = *t.job;
  if (!job.if_none_match.empty()) {
    t.headers = curl_slist_append(t.headers, ("If-None-Match: " + job.if_none_match).c_str());
  }
  if (!job.if_modified_since.empty()) {
    t.headers =
        curl_slist_append(t.headers, ("If-Modified-Since: " + job.if_modified_since).c_str());
  }
  if (t.headers) curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.headers);
}

// The error of a job given up on after its last attempt.
Error gave_up(const Transfer& t, const std::string& what) {
  return Error{Code::io, "GET " + t.job->url + ": " + what + " (after " +
                             std::to_string(t.result->attempts) + " attempts)"};
}

// Why a transfer timed out, in the terms of mirror.toml: past its deadline,
// or connected but slower than min_rate; empty for a connection that never
// came up (curl's own message says that).
std::string timeout_reason(const Transfer& t, const FetchOptions& options) {
  curl_off_t total = 0, connected = 0;
  curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total);
  curl_easy_getinfo(t.easy, CURLINFO_CONNECT_TIME_T, &connected);
  if (total >= static_cast<curl_off_t>(t.deadline.count()) * 1'000'000) {
    return "not finished within " + std::to_string(t.deadline.count()) +
           " s, the deadline for its size at min_rate " + std::to_string(options.min_rate) +
           " bytes/s plus stall_timeout " + std::to_string(options.stall_timeout.count()) + " s";
  }
  if (connected == 0) return {};
  return "slower than min_rate " + std::to_string(options.min_rate) +
         " bytes/s for stall_timeout " + std::to_string(options.stall_timeout.count()) + " s";
}

// The transfer broke off (code is not CURLE_OK). Returns true to retry.
bool transport_outcome(Transfer& t, CURLcode code, long status, bool attempts_left,
                       const FetchOptions& options) {
  // What we kept is not a prefix the server can continue: start over.
  if (code == CURLE_RANGE_ERROR || status == 416) drop_partial(t);
  // Timeouts, dropped connections: keep the partial, retry.
  if (attempts_left) return true;
  std::string why = code == CURLE_OPERATION_TIMEDOUT ? timeout_reason(t, options) : "";
  if (why.empty()) why = t.errbuf[0] ? t.errbuf : curl_easy_strerror(code);
  t.result->error = gave_up(t, why);
  return false;
}

// A complete response other than 200 or 206: unchanged, gone, or an error
// worth retrying or not. Returns true to retry.
bool status_outcome(Transfer& t, long status, bool attempts_left) {
  FetchResult& r = *t.result;
  if (status == 304) {
    r.not_modified = true;
    t.fd.reset();
    if (t.offset == 0) ::unlink(t.job->dest.c_str());
    return false;
  }
  if (status == 404 || status == 410) {
    r.missing = true;
    drop_partial(t);
    return false;
  }
  if (status == 416) {
    drop_partial(t);
    if (attempts_left) return true;
  }
  if (status >= 500 || status == 429 || status == 408) {
    if (attempts_left) return true;
    r.error = gave_up(t, "HTTP " + std::to_string(status));
    return false;
  }
  drop_partial(t);
  r.error = Error{Code::io, "GET " + t.job->url + ": HTTP " + std::to_string(status)};
  return false;
}

// A 200 or 206 body is complete: it must have the size and SHA-256 the
// signed index declares. It is not synced here: the store makes it durable
// when it takes the file (one flush for a whole batch), and a file left by
// an interrupted run is hashed again before it is used.
void verify_download(Transfer& t) {
  FetchResult& r = *t.result;
  const FetchJob& job = *t.job;
  r.etag = t.etag;
  r.last_modified = t.last_modified;
  r.size = t.written;
  r.sha256 = t.hasher.finish();
  if (job.expected_size && r.size != *job.expected_size) {
    drop_partial(t);
    r.error = Error{Code::refused, job.url + " has " + std::to_string(r.size) +
                                       " bytes, the signed index says " +
                                       std::to_string(*job.expected_size)};
    return;
  }
  if (job.expected_sha256 && r.sha256 != *job.expected_sha256) {
    drop_partial(t);
    r.error = Error{Code::refused, job.url + " does not match the signed index: expected sha256 " +
                                       job.expected_sha256->hex() + ", actual " + r.sha256.hex()};
    return;
  }
  r.error.reset();
}

// What the event loops of one fetch call share. Only the atomics are written
// by more than one thread; results[i] belongs to the loop running job i.
struct Run {
  Run(const std::vector<FetchJob>& jobs_, const FetchOptions& options_, int per_host_, int loops_)
      : jobs(jobs_),
        options(options_),
        results(jobs_.size()),
        per_host(per_host_),
        loops(loops_),
        in_flight(static_cast<std::size_t>(loops_)) {
    for (const auto& j : jobs) bytes_total += j.expected_size.value_or(0);
  }

  // A job is over, for good: count it and its bytes.
  void done(std::size_t index) {
    ++files_done;
    finished_bytes += results[index].size;
  }

  void report() const {
    FetchProgress p;
    p.files_total = jobs.size();
    p.bytes_total = bytes_total;
    p.files_done = files_done.load();
    p.bytes_done = finished_bytes.load();
    for (const auto& f : in_flight) p.bytes_done += f.load();
    options.progress(p);
  }

  const std::vector<FetchJob>& jobs;
  const FetchOptions& options;
  std::vector<FetchResult> results;
  const int per_host;
  const int loops;
  std::atomic<std::size_t> next{0};  // the next job no loop has taken
  std::atomic<std::size_t> files_done{0};
  std::atomic<std::uint64_t> finished_bytes{0};
  std::vector<std::atomic<std::uint64_t>> in_flight;  // per loop: bytes of unfinished transfers
  std::uint64_t bytes_total = 0;
};

// One event loop's own state: its multi handle, its transfers, and the jobs
// it waits to retry.
struct Loop {
  struct Waiting {
    std::size_t index;
    Clock::time_point not_before;
  };

  // The first retry that is due, taken off the queue.
  std::optional<std::size_t> take_due_retry(Clock::time_point now) {
    for (auto it = retries.begin(); it != retries.end(); ++it) {
      if (it->not_before <= now) {
        std::size_t index = it->index;
        retries.erase(it);
        return index;
      }
    }
    return std::nullopt;
  }

  // Publishes this loop's bytes in flight; loop 0 also reports progress, at
  // most every 100 ms.
  void publish_progress(Run& run) {
    std::uint64_t flying = 0;
    for (const auto& t : active) flying += t->written;
    run.in_flight[static_cast<std::size_t>(me)] = flying;
    if (me == 0 && run.options.progress &&
        Clock::now() - last_report > std::chrono::milliseconds(100)) {
      run.report();
      last_report = Clock::now();
    }
  }

  int me = 0;
  int capacity = 1;  // this loop's share of the parallel transfers
  CURLM* multi = nullptr;
  std::deque<Waiting> retries;
  std::vector<std::unique_ptr<Transfer>> active;
  Clock::time_point last_report = Clock::now() - std::chrono::seconds(1);
};

class CurlFetcher : public Fetcher {
 public:
  explicit CurlFetcher(Env& env) : env_(env) {}
  std::vector<FetchResult> fetch(const std::vector<FetchJob>& jobs,
                                 const FetchOptions& options) override;

 private:
  void run_loop(Run& run, int me);
  // Starts transfers up to the loop's capacity: due retries first, then jobs
  // no loop has taken yet.
  void schedule(Run& run, Loop& loop);
  // Hands each finished transfer to finish, then queues its retry after an
  // exponential backoff or counts the job done.
  void collect(Run& run, Loop& loop);
  // nullptr when no request is to be made; result says why.
  std::unique_ptr<Transfer> start(std::size_t index, const FetchJob& job, FetchResult& result,
                                  const FetchOptions& options);
  // Decides what a finished transfer means; returns true when it should be retried.
  bool finish(Transfer& t, CURLcode code, const FetchOptions& options);

  Env& env_;
};

std::unique_ptr<Transfer> CurlFetcher::start(std::size_t index, const FetchJob& job,
                                             FetchResult& result, const FetchOptions& options) {
  auto t = std::make_unique<Transfer>();
  t->index = index;
  t->job = &job;
  t->result = &result;
  t->env = &env_;
  ++result.attempts;
  if (!take_over_partial(*t, result)) return nullptr;
  t->easy = curl_easy_init();
  set_request_options(*t, options);
  set_resume_or_conditions(*t, result);
  return t;
}

bool CurlFetcher::finish(Transfer& t, CURLcode code, const FetchOptions& options) {
  FetchResult& r = *t.result;
  long status = 0;
  curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
  r.http_status = static_cast<int>(status);
  const bool attempts_left = r.attempts <= options.retries;
  if (t.refusal || t.local_error) {
    drop_partial(t);  // a full disk gets its space back
    r.error = t.refusal ? *t.refusal : *t.local_error;
    return false;
  }
  if (code != CURLE_OK) return transport_outcome(t, code, status, attempts_left, options);
  if (status != 200 && status != 206) return status_outcome(t, status, attempts_left);
  verify_download(t);
  return false;
}

void CurlFetcher::schedule(Run& run, Loop& loop) {
  const auto now = Clock::now();
  while (static_cast<int>(loop.active.size()) < loop.capacity) {
    std::optional<std::size_t> index = loop.take_due_retry(now);
    if (!index) {
      std::size_t n = run.next.fetch_add(1);
      if (n >= run.jobs.size()) break;
      index = n;
    }
    auto t = start(*index, run.jobs[*index], run.results[*index], run.options);
    if (!t) {
      run.done(*index);
      continue;
    }
    curl_multi_add_handle(loop.multi, t->easy);
    loop.active.push_back(std::move(t));
  }
}

void CurlFetcher::collect(Run& run, Loop& loop) {
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(loop.multi, &queued)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    CURLcode code = msg->data.result;
    curl_multi_remove_handle(loop.multi, msg->easy_handle);
    const std::size_t index = t->index;
    if (finish(*t, code, run.options)) {
      auto delay = run.options.backoff * (1 << std::min(run.results[index].attempts - 1, 6));
      loop.retries.push_back({index, Clock::now() + delay});
    } else {
      run.done(index);
    }
    std::erase_if(loop.active, [&](auto& p) { return p.get() == t; });
  }
}

void CurlFetcher::run_loop(Run& run, int me) {
  Loop loop;
  loop.me = me;
  loop.capacity = std::max(1, run.per_host / run.loops + (me < run.per_host % run.loops ? 1 : 0));
  loop.multi = curl_multi_init();
  curl_multi_setopt(loop.multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(run.per_host));
  for (;;) {
    schedule(run, loop);
    if (loop.active.empty() && loop.retries.empty() && run.next.load() >= run.jobs.size()) break;
    int running = 0;
    curl_multi_perform(loop.multi, &running);
    collect(run, loop);
    loop.publish_progress(run);
    if (!loop.active.empty()) {
      curl_multi_poll(loop.multi, nullptr, 0, 100, nullptr);
    } else if (!loop.retries.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  run.in_flight[static_cast<std::size_t>(me)] = 0;
  curl_multi_cleanup(loop.multi);
}

std::vector<FetchResult> CurlFetcher::fetch(const std::vector<FetchJob>& jobs,
                                            const FetchOptions& options) {
  global_init();
  // Transfers are spread over one event loop per core: hashing the bytes as
  // they arrive is work, and one thread would cap the rate at one core.
  const int per_host = std::max(1, options.jobs);
  const int loops = static_cast<int>(std::clamp<std::size_t>(
      std::min<std::size_t>(std::thread::hardware_concurrency(), jobs.size()), 1,
      static_cast<std::size_t>(per_host)));
  Run run(jobs, options, per_host, loops);
  std::vector<std::thread> threads;
  for (int i = 1; i < loops; ++i) threads.emplace_back([this, &run, i] { run_loop(run, i); });
  run_loop(run, 0);
  for (auto& t : threads) t.join();
  if (options.progress) run.report();
  return std::move(run.results);
}

}  // namespace

std::chrono::seconds transfer_deadline(std::uint64_t size, const FetchOptions& options) {
  return options.stall_timeout +
         std::chrono::seconds(size / std::max<std::uint64_t>(1, options.min_rate));
}

std::unique_ptr<Fetcher> make_curl_fetcher(Env& env) { return std::make_unique<CurlFetcher>(env); }

}  // namespace airlock::mirror
