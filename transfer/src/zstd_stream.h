// zstd streaming over volume files, private to the bundle code.
//
// Compression and decompression go through libzstd directly rather than
// libarchive's zstd filter: the reader must bound the decoder's window and
// count every decompressed byte against the signed archive size, which the
// filter does not expose.
#pragma once

#include <zstd.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "airlock/base/env.h"
#include "airlock/base/file.h"
#include "airlock/transfer/manifest.h"
#include "airlock/verify/digest.h"

namespace airlock::bundle_io {

// Largest decoder window accepted: 2^24 bytes (levels up to 19 use at most 2^23).
inline constexpr int kWindowLogMax = 24;

// Splits a byte stream into files data.000, data.001 ... of at most
// volume_size bytes in dir, hashing and fsyncing each. The files are written
// and hashed on a thread of their own, a few MiB behind the caller, so that
// this work overlaps with the caller's; write() returns that thread's first
// failure from then on, and finish() waits for it to end.
class VolumeWriter {
 public:
  VolumeWriter(Env& env, std::filesystem::path dir, std::uint64_t volume_size);
  ~VolumeWriter();  // stops and joins the thread
  VolumeWriter(const VolumeWriter&) = delete;
  VolumeWriter& operator=(const VolumeWriter&) = delete;
  Status write(std::span<const std::uint8_t> bytes);
  Status finish();
  // Valid after finish().
  const std::vector<BundleVolume>& volumes() const { return volumes_; }
  std::uint64_t total() const { return total_; }

 private:
  static constexpr std::size_t kChunk = 1 << 20;
  static constexpr std::size_t kDepth = 8;
  Status hand_over();  // the chunk being filled goes to the thread
  void run();
  Status write_now(std::span<const std::uint8_t> bytes);
  Status close_current();
  std::vector<std::uint8_t> chunk_;  // being filled by the caller
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<std::vector<std::uint8_t>> queue_;  // full chunks, oldest first
  bool closing_ = false;
  std::optional<Error> error_;  // the thread's first failure
  std::thread thread_;
  Env& env_;
  std::filesystem::path dir_;
  std::uint64_t volume_size_;
  UniqueFd fd_;
  Hasher hasher_;
  std::uint64_t in_current_ = 0;
  std::uint64_t flushed_ = 0;  // bytes of the current volume handed to writeback
  std::uint64_t total_ = 0;
  static constexpr std::uint64_t kWritebackStep = 32ull << 20;
  std::vector<BundleVolume> volumes_;
};

class ZstdWriter {
 public:
  ZstdWriter(VolumeWriter& out, int level, int threads);
  ~ZstdWriter();
  ZstdWriter(const ZstdWriter&) = delete;
  ZstdWriter& operator=(const ZstdWriter&) = delete;
  Status write(std::span<const std::uint8_t> bytes);
  Status finish();
  std::uint64_t bytes_in() const { return in_; }

 private:
  Status pump(ZSTD_inBuffer& in, ZSTD_EndDirective mode);
  VolumeWriter& out_;
  ZSTD_CCtx* cctx_;
  std::vector<std::uint8_t> buf_;
  std::uint64_t in_ = 0;
};

// Reads the volumes' bytes in order, then decompresses them, producing at
// most limit + 1 bytes in all (so a caller can see that the limit was
// exceeded without the decoder running further).
class ZstdReader {
 public:
  // One volume: a descriptor the caller owns and keeps open (the one its
  // bytes were hashed through), read from offset 0 for exactly size bytes.
  struct Input {
    int fd = -1;
    std::uint64_t size = 0;
    std::string name;  // for messages
  };
  ZstdReader(std::vector<Input> volumes, std::uint64_t limit);
  ~ZstdReader();
  ZstdReader(const ZstdReader&) = delete;
  ZstdReader& operator=(const ZstdReader&) = delete;
  // Fills out with up to out.size() decompressed bytes; 0 at the end of the
  // data. refused for malformed or truncated compressed data.
  Result<std::size_t> read(std::span<std::uint8_t> out);
  std::uint64_t produced() const { return produced_; }
  std::uint64_t consumed() const { return consumed_; }

 private:
  Result<bool> refill();  // false at the end of the last volume
  std::vector<Input> volumes_;
  std::size_t volume_ = 0;    // the volume being read
  std::uint64_t offset_ = 0;  // within it
  std::uint64_t limit_;
  ZSTD_DCtx* dctx_;
  std::vector<std::uint8_t> in_buf_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  std::size_t last_hint_ = 1;  // 0 once a frame is complete
  bool input_done_ = false;
  std::uint64_t produced_ = 0;
  std::uint64_t consumed_ = 0;
};

// Runs a ZstdReader on its own thread, a few chunks ahead of the caller, so
// that decompression overlaps with parsing and hashing. Memory: depth chunks.
class DecompressAhead {
 public:
  DecompressAhead(ZstdReader& reader, std::size_t chunk, std::size_t depth);
  ~DecompressAhead();  // stops and joins the thread
  DecompressAhead(const DecompressAhead&) = delete;
  DecompressAhead& operator=(const DecompressAhead&) = delete;

  // The next chunk (valid until the next call); empty at the end of the data.
  Result<std::span<const std::uint8_t>> next();
  std::uint64_t delivered() const { return delivered_; }

 private:
  struct Slot {
    std::vector<std::uint8_t> bytes;
    std::size_t size = 0;
    std::optional<Error> error;
  };
  void run();
  ZstdReader& reader_;
  std::vector<Slot> slots_;
  std::size_t head_ = 0;    // next slot the consumer takes
  std::size_t tail_ = 0;    // next slot the producer fills
  std::size_t filled_ = 0;  // slots ready for the consumer
  bool holding_ = false;    // the consumer still holds the slot before head_
  bool stop_ = false;
  bool finished_ = false;  // the producer delivered the end or an error
  std::uint64_t delivered_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
};

}  // namespace airlock::bundle_io
