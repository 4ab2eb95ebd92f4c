#include "zstd_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace airlock::bundle_io {

Status VolumeWriter::close_current() {
  if (!fd_) return {};
  auto name = volume_name(volumes_.size());
  if (auto s = env_.sync(fd_.get(), name); !s) return s;
  fd_.reset();
  volumes_.push_back({name, in_current_, hasher_.finish()});
  hasher_ = Hasher();
  in_current_ = 0;
  flushed_ = 0;
  return {};
}

VolumeWriter::VolumeWriter(Env& env, std::filesystem::path dir, std::uint64_t volume_size)
    : env_(env), dir_(std::move(dir)), volume_size_(volume_size) {
  chunk_.reserve(kChunk);
  thread_ = std::thread([this] { run(); });
}

VolumeWriter::~VolumeWriter() {
  {
    std::lock_guard lk(mu_);
    closing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status VolumeWriter::write(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    const auto n = std::min(bytes.size(), kChunk - chunk_.size());
    chunk_.insert(chunk_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    bytes = bytes.subspan(n);
    if (chunk_.size() == kChunk) {
      if (auto s = hand_over(); !s) return s;
    }
  }
  return {};
}

Status VolumeWriter::hand_over() {
  std::unique_lock lk(mu_);
  changed_.wait(lk, [&] { return queue_.size() < kDepth || error_; });
  if (error_) return fail(*error_);
  queue_.push_back(std::move(chunk_));
  chunk_ = std::vector<std::uint8_t>();
  chunk_.reserve(kChunk);
  lk.unlock();
  changed_.notify_all();
  return {};
}

void VolumeWriter::run() {
  for (;;) {
    std::unique_lock lk(mu_);
    changed_.wait(lk, [&] { return !queue_.empty() || closing_; });
    if (queue_.empty()) return;  // closing, and nothing left
    auto chunk = std::move(queue_.front());
    queue_.erase(queue_.begin());
    const bool failed = error_.has_value();
    lk.unlock();
    changed_.notify_all();
    if (failed) continue;  // drained, never written
    if (auto s = write_now(chunk); !s) {
      lk.lock();
      error_ = s.error();
      lk.unlock();
      changed_.notify_all();
    }
  }
}

Status VolumeWriter::finish() {
  if (!chunk_.empty()) {
    if (auto s = hand_over(); !s) return s;
  }
  {
    std::lock_guard lk(mu_);
    closing_ = true;
  }
  changed_.notify_all();
  thread_.join();
  if (error_) return fail(*error_);
  return close_current();
}

Status VolumeWriter::write_now(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    if (!fd_) {
      auto path = dir_ / volume_name(volumes_.size());
      auto fd = env_.open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
      if (!fd) return fail(fd.error());
      fd_ = std::move(*fd);
    }
    auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), volume_size_ - in_current_));
    if (auto s = env_.write(fd_.get(), bytes.first(n)); !s) {
      return fail(s.error().context("writing " + volume_name(volumes_.size())));
    }
    hasher_.update(bytes.first(n));
    in_current_ += n;
    // Start writeback as we go, so the fsync at the end of the volume finds
    // little left to write and the disk works while we compress.
    if (in_current_ - flushed_ >= kWritebackStep) {
      env_.start_writeback(fd_.get(), flushed_, in_current_ - flushed_);
      flushed_ = in_current_;
    }
    total_ += n;
    bytes = bytes.subspan(n);
    if (in_current_ == volume_size_) {
      if (auto s = close_current(); !s) return s;
    }
  }
  return {};
}

ZstdWriter::ZstdWriter(VolumeWriter& out, int level, int threads)
    : out_(out), cctx_(ZSTD_createCCtx()), buf_(ZSTD_CStreamOutSize()) {
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Multithreaded output is the same for any worker count >= 1, so bundles
  // stay reproducible across machines. A library without threads ignores it.
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_nbWorkers, threads);
}

ZstdWriter::~ZstdWriter() { ZSTD_freeCCtx(cctx_); }

Status ZstdWriter::pump(ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
  for (;;) {
    ZSTD_outBuffer out{buf_.data(), buf_.size(), 0};
    std::size_t remaining = ZSTD_compressStream2(cctx_, &out, &in, mode);
    if (ZSTD_isError(remaining)) {
      return fail(Code::io,
                  std::string("zstd compression failed: ") + ZSTD_getErrorName(remaining));
    }
    if (out.pos > 0) {
      if (auto s = out_.write(std::span(buf_.data(), out.pos)); !s) return s;
    }
    bool done = mode == ZSTD_e_end ? remaining == 0 : in.pos == in.size;
    if (done) return {};
  }
}

Status ZstdWriter::write(std::span<const std::uint8_t> bytes) {
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  in_ += bytes.size();
  return pump(in, ZSTD_e_continue);
}

Status ZstdWriter::finish() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  return pump(in, ZSTD_e_end);
}

ZstdReader::ZstdReader(std::vector<Input> volumes, std::uint64_t limit)
    : volumes_(std::move(volumes)),
      limit_(limit),
      dctx_(ZSTD_createDCtx()),
      in_buf_(ZSTD_DStreamInSize() * 4) {
  ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, kWindowLogMax);
}

ZstdReader::~ZstdReader() { ZSTD_freeDCtx(dctx_); }

Result<bool> ZstdReader::refill() {
  for (;;) {
    if (volume_ >= volumes_.size()) return false;
    const Input& v = volumes_[volume_];
    if (offset_ >= v.size) {
      ++volume_;
      offset_ = 0;
      continue;
    }
    if (offset_ == 0) ::posix_fadvise(v.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(in_buf_.size(), v.size - offset_));
    ssize_t n = ::pread(v.fd, in_buf_.data(), want, static_cast<off_t>(offset_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("read volume " + v.name);
    }
    if (n == 0) {
      return fail(Code::refused, "volume " + v.name + " shrank to " + std::to_string(offset_) +
                                     " bytes while it was read (the manifest says " +
                                     std::to_string(v.size) + ")");
    }
    offset_ += static_cast<std::uint64_t>(n);
    in_ = ZSTD_inBuffer{in_buf_.data(), static_cast<std::size_t>(n), 0};
    consumed_ += static_cast<std::uint64_t>(n);
    return true;
  }
}

Result<std::size_t> ZstdReader::read(std::span<std::uint8_t> out) {
  if (produced_ > limit_) return std::size_t{0};
  // Never produce more than limit + 1 bytes in all.
  std::size_t cap =
      static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), limit_ + 1 - produced_));
  ZSTD_outBuffer ob{out.data(), cap, 0};
  for (;;) {
    if (in_.pos == in_.size && !input_done_) {
      auto more = refill();
      if (!more) return fail(more.error());
      if (!*more) input_done_ = true;
    }
    const std::size_t in_before = in_.pos;
    std::size_t hint = ZSTD_decompressStream(dctx_, &ob, &in_);
    if (ZSTD_isError(hint)) {
      return fail(Code::refused,
                  std::string("the compressed data is malformed: ") + ZSTD_getErrorName(hint));
    }
    const bool progress = ob.pos > 0 || in_.pos > in_before;
    // Only a call that moved data says where the frame stands; an idle call
    // after a finished frame asks for the next frame's header.
    if (progress) last_hint_ = hint;
    if (ob.pos > 0) break;
    if (!progress && in_.pos < in_.size) {
      return fail(Code::refused, "the compressed data is malformed: the decoder is stuck");
    }
    if (!progress && in_.pos == in_.size && input_done_) {
      if (last_hint_ != 0) {
        return fail(Code::refused,
                    "the compressed data ends in the middle of a frame (a volume is truncated)");
      }
      return std::size_t{0};
    }
  }
  produced_ += ob.pos;
  return ob.pos;
}

DecompressAhead::DecompressAhead(ZstdReader& reader, std::size_t chunk, std::size_t depth)
    : reader_(reader), slots_(std::max<std::size_t>(depth, 2)) {
  for (auto& s : slots_) s.bytes.resize(chunk);
  thread_ = std::thread([this] { run(); });
}

DecompressAhead::~DecompressAhead() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DecompressAhead::run() {
  for (;;) {
    std::size_t slot;
    {
      std::unique_lock lk(mu_);
      // One slot stays with the consumer while it parses the chunk it took.
      cv_.wait(lk, [&] { return stop_ || filled_ + (holding_ ? 1 : 0) < slots_.size(); });
      if (stop_) return;
      slot = tail_;
    }
    Slot& s = slots_[slot];
    auto n = reader_.read(s.bytes);
    bool end = !n || *n == 0;
    {
      std::lock_guard lk(mu_);
      if (n) {
        s.size = *n;
        s.error.reset();
      } else {
        s.size = 0;
        s.error = n.error();
      }
      tail_ = (tail_ + 1) % slots_.size();
      ++filled_;
    }
    cv_.notify_all();
    if (end) return;
  }
}

Result<std::span<const std::uint8_t>> DecompressAhead::next() {
  std::unique_lock lk(mu_);
  if (holding_) {
    holding_ = false;  // the previous chunk goes back to the producer
    cv_.notify_all();
  }
  if (finished_) return std::span<const std::uint8_t>();
  cv_.wait(lk, [&] { return filled_ > 0; });
  Slot& s = slots_[head_];
  head_ = (head_ + 1) % slots_.size();
  --filled_;
  if (s.error) {
    finished_ = true;
    return fail(*s.error);
  }
  if (s.size == 0) {
    finished_ = true;
    return std::span<const std::uint8_t>();
  }
  holding_ = true;
  delivered_ += s.size;
  cv_.notify_all();
  return std::span<const std::uint8_t>(s.bytes.data(), s.size);
}

}  // namespace airlock::bundle_io
