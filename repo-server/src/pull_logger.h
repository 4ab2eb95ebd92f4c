// Writes `pull` records for the server on its own thread: batched, written
// at least every flush interval, synced, checkpointed every N records or T
// seconds. The response path only pushes into a queue. When the log cannot
// be written, healthy() turns false and the server answers 503.
//
// The queue holds at most max_queued records (those waiting to be written
// included): while it is full healthy() is false too, and a record that
// does not fit is only counted. Once the log takes writes again, the queue
// is written, then one pull record {"client":"","method":"","path":"",
// "object":null,"status":503,"bytes":0,"duration_ms":0,"dropped":N} for the
// N requests (each answered 503) that were not recorded one by one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "airlock/transfer/log.h"

namespace airlock::repo {

class PullLogger {
 public:
  PullLogger(TransferLog& log, const PrivateKey& key, std::uint64_t checkpoint_every,
             std::chrono::seconds checkpoint_interval, std::chrono::milliseconds flush_interval,
             std::size_t max_queued = kMaxQueued);
  static constexpr std::size_t kMaxQueued = 65536;
  ~PullLogger();

  // fields: the record's fields as a compact JSON object without braces.
  void record(std::string fields);
  bool healthy() const { return healthy_.load() && !full_.load(); }
  // Flushes everything queued and writes a final checkpoint.
  Status stop();
  std::uint64_t written() const { return written_.load(); }

 private:
  void run();
  Status flush_locked_out(std::vector<std::string>& batch);
  // Writes the record counting the dropped ones, if any.
  Status flush_dropped();
  TransferLog& log_;
  const PrivateKey& key_;
  const std::uint64_t checkpoint_every_;
  const std::chrono::seconds checkpoint_interval_;
  const std::chrono::milliseconds flush_interval_;
  const std::size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> queue_;
  std::size_t pending_ = 0;    // records taken from the queue, not yet written; under mu_
  std::uint64_t dropped_ = 0;  // under mu_
  std::atomic<bool> full_{false};
  bool stopping_ = false;
  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> written_{0};
  std::uint64_t since_checkpoint_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::thread thread_;
};

}  // namespace airlock::repo
