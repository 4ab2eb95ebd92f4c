// Writes `pull` records for the server on its own thread: batched, written
// at least every flush interval, synced, checkpointed every N records or T
// seconds. The response path only pushes into a queue. When the log cannot
// be written, healthy() turns false and the server answers 503.
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
             std::chrono::seconds checkpoint_interval, std::chrono::milliseconds flush_interval);
  ~PullLogger();

  // fields: the record's fields as a compact JSON object without braces.
  void record(std::string fields);
  bool healthy() const { return healthy_.load(); }
  // Flushes everything queued and writes a final checkpoint.
  Status stop();
  std::uint64_t written() const { return written_.load(); }

 private:
  void run();
  Status flush_locked_out(std::vector<std::string>& batch);
  TransferLog& log_;
  const PrivateKey& key_;
  const std::uint64_t checkpoint_every_;
  const std::chrono::seconds checkpoint_interval_;
  const std::chrono::milliseconds flush_interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> queue_;
  bool stopping_ = false;
  std::atomic<bool> healthy_{true};
  std::atomic<std::uint64_t> written_{0};
  std::uint64_t since_checkpoint_ = 0;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::thread thread_;
};

}  // namespace airlock::repo
