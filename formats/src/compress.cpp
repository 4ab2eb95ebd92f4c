#include "airlock/formats/compress.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <optional>

namespace airlock::formats {
namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

std::unexpected<Error> undecodable(archive* a) {
  const char* why = archive_error_string(a);
  return fail(Code::invalid_input,
              std::string("index cannot be decompressed: ") + (why ? why : "unknown error"));
}

// Hands libarchive what source gives, keeping source's error apart from
// the decoder's.
struct Pull {
  const IndexSource& source;
  std::string_view first;  // already pulled, given before anything else
  std::optional<Error> error;
};

la_ssize_t pull_piece(archive*, void* data, const void** buffer) {
  auto* p = static_cast<Pull*>(data);
  std::string_view piece = p->first;
  p->first = {};
  if (piece.empty()) {
    auto next = p->source();
    if (!next) {
      p->error = next.error();
      return ARCHIVE_FATAL;
    }
    piece = *next;
  }
  *buffer = piece.data();
  return static_cast<la_ssize_t>(piece.size());
}

}  // namespace

Status decompress_index_to(const IndexSource& source,
                           const std::function<Status(std::string_view)>& out,
                           std::uint64_t max_size) {
  auto first = source();
  if (!first) return fail(first.error());
  if (first->empty()) return {};  // an empty index; libarchive finds no format in it
  Pull pull{source, *first, std::nullopt};
  ArchivePtr a(archive_read_new());
  if (!a) return fail(Code::io, "index cannot be decompressed: out of memory");
  // The compressions apt and dnf repositories use, nothing more.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_lzma(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_raw(a.get());
  auto failed = [&]() -> Status {
    if (pull.error) return fail(*pull.error);
    return undecodable(a.get());
  };
  if (archive_read_open(a.get(), &pull, nullptr, pull_piece, nullptr) != ARCHIVE_OK)
    return failed();
  archive_entry* e = nullptr;
  int r = archive_read_next_header(a.get(), &e);
  // libarchive may take a failed read for the end (gzip looks past a member
  // for another): the source's error still counts.
  if (r == ARCHIVE_EOF) return pull.error ? fail(*pull.error) : Status{};
  if (r != ARCHIVE_OK) return failed();
  std::uint64_t total = 0;
  std::string buf(1 << 16, '\0');
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n < 0) return failed();
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    if (total > max_size) {
      return fail(Code::limit,
                  "index decompresses to more than " + std::to_string(max_size) + " bytes");
    }
    if (auto s = out(std::string_view(buf.data(), static_cast<std::size_t>(n))); !s) return s;
  }
  if (pull.error) return fail(*pull.error);
  return {};
}

Status decompress_index_to(std::string_view bytes,
                           const std::function<Status(std::string_view)>& out,
                           std::uint64_t max_size) {
  bool given = false;
  IndexSource whole = [&]() -> Result<std::string_view> {
    if (given) return std::string_view();
    given = true;
    return bytes;
  };
  return decompress_index_to(whole, out, max_size);
}

Result<std::string> decompress_index(std::string_view bytes, std::uint64_t max_size) {
  std::string text;
  auto s = decompress_index_to(
      bytes,
      [&](std::string_view piece) -> Status {
        text.append(piece);
        return {};
      },
      max_size);
  if (!s) return fail(s.error());
  return text;
}

namespace {

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};

la_ssize_t append_out(archive*, void* data, const void* buffer, size_t size) {
  static_cast<std::string*>(data)->append(static_cast<const char*>(buffer), size);
  return static_cast<la_ssize_t>(size);
}

}  // namespace

Result<std::string> compress_gzip(std::string_view bytes) {
  std::unique_ptr<archive, ArchiveWriteFree> a(archive_write_new());
  auto failed = [&](const char* what) -> std::unexpected<Error> {
    const char* why = a ? archive_error_string(a.get()) : nullptr;
    return fail(Code::io,
                std::string("cannot gzip: ") + what + (why ? std::string(": ") + why : ""));
  };
  if (!a) return failed("out of memory");
  std::string out;
  // The raw format writes one entry's data as the whole stream; no block
  // padding, no timestamp in the gzip header.
  if (archive_write_add_filter_gzip(a.get()) != ARCHIVE_OK ||
      archive_write_set_filter_option(a.get(), "gzip", "timestamp", nullptr) != ARCHIVE_OK ||
      archive_write_set_format_raw(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open(a.get(), &out, nullptr, append_out, nullptr) != ARCHIVE_OK)
    return failed("setup");
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                      archive_entry_free);
  if (!entry) return failed("out of memory");
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(bytes.size()));
  if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) return failed("header");
  std::size_t done = 0;
  while (done < bytes.size()) {
    la_ssize_t n = archive_write_data(a.get(), bytes.data() + done, bytes.size() - done);
    if (n <= 0) return failed("write");
    done += static_cast<std::size_t>(n);
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return failed("close");
  return out;
}

}  // namespace airlock::formats
