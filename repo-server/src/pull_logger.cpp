#include "pull_logger.h"

#include <algorithm>
#include <utility>

namespace airlock::repo {

PullLogger::PullLogger(TransferLog& log, const PrivateKey& key, std::uint64_t checkpoint_every,
                       std::chrono::seconds checkpoint_interval,
                       std::chrono::milliseconds flush_interval, std::size_t max_queued)
    : log_(log),
      key_(key),
      checkpoint_every_(checkpoint_every),
      checkpoint_interval_(checkpoint_interval),
      flush_interval_(flush_interval),
      max_queued_(std::max<std::size_t>(max_queued, 1)),
      last_checkpoint_(std::chrono::steady_clock::now()),
      thread_([this] { run(); }) {}

PullLogger::~PullLogger() { (void)stop(); }

void PullLogger::record(std::string fields_json) {
  std::lock_guard lk(mu_);
  if (queue_.size() + pending_ >= max_queued_) {
    full_ = true;
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(fields_json));
  if (queue_.size() >= 4096) cv_.notify_one();
}

Status PullLogger::flush_locked_out(std::vector<std::string>& batch) {
  if (batch.empty()) return {};
  // Kept in batch until written, for the next attempt.
  if (auto n = log_.append_trusted("pull", batch); !n) return fail(n.error());
  if (auto s = log_.sync(); !s) return s;
  written_ += batch.size();
  since_checkpoint_ += batch.size();
  batch.clear();
  return {};
}

Status PullLogger::flush_dropped() {
  std::uint64_t dropped;
  {
    std::lock_guard lk(mu_);
    dropped = std::exchange(dropped_, 0);
  }
  if (dropped == 0) return {};
  std::vector<std::string> note{R"("client":"","method":"","path":"","object":null,"status":503,)"
                                R"("bytes":0,"duration_ms":0,"dropped":)" +
                                std::to_string(dropped)};
  auto s = flush_locked_out(note);
  if (!s) {
    std::lock_guard lk(mu_);
    dropped_ += dropped;
  }
  return s;
}

void PullLogger::run() {
  std::vector<std::string> batch;
  for (;;) {
    bool stopping;
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, flush_interval_, [&] { return stopping_ || queue_.size() >= 4096; });
      stopping = stopping_;
      for (auto& q : queue_) batch.push_back(std::move(q));
      queue_.clear();
      pending_ = batch.size();
    }
    auto s = flush_locked_out(batch);
    if (s) s = flush_dropped();
    {
      std::lock_guard lk(mu_);
      pending_ = batch.size();
      full_ = queue_.size() + pending_ >= max_queued_;
    }
    healthy_ = s.has_value();
    auto now = std::chrono::steady_clock::now();
    if (s && since_checkpoint_ > 0 &&
        (since_checkpoint_ >= checkpoint_every_ || now - last_checkpoint_ >= checkpoint_interval_ ||
         stopping)) {
      if (auto c = log_.checkpoint(key_); c) {
        since_checkpoint_ = 0;
        last_checkpoint_ = now;
      } else {
        healthy_ = false;
      }
    }
    if (stopping && (batch.empty() || !healthy_)) return;
  }
}

Status PullLogger::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_ && !thread_.joinable()) return {};
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (!healthy_) return fail(Code::io, "the pull log could not be written completely");
  return {};
}

}  // namespace airlock::repo
