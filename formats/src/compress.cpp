#include "airlock/formats/compress.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

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

}  // namespace

Status decompress_index_to(std::string_view bytes,
                           const std::function<Status(std::string_view)>& out,
                           std::uint64_t max_size) {
  if (bytes.empty()) return {};  // an empty index; libarchive finds no format in it
  ArchivePtr a(archive_read_new());
  if (!a) return fail(Code::io, "index cannot be decompressed: out of memory");
  // The compressions apt and dnf repositories use, nothing more.
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_lzma(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_raw(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK)
    return undecodable(a.get());
  archive_entry* e = nullptr;
  int r = archive_read_next_header(a.get(), &e);
  if (r == ARCHIVE_EOF) return {};
  if (r != ARCHIVE_OK) return undecodable(a.get());
  std::uint64_t total = 0;
  std::string buf(1 << 16, '\0');
  for (;;) {
    la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
    if (n < 0) return undecodable(a.get());
    if (n == 0) break;
    total += static_cast<std::uint64_t>(n);
    if (total > max_size) {
      return fail(Code::limit,
                  "index decompresses to more than " + std::to_string(max_size) + " bytes");
    }
    if (auto s = out(std::string_view(buf.data(), static_cast<std::size_t>(n))); !s) return s;
  }
  return {};
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

}  // namespace airlock::formats
