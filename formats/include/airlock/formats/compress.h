// Compressed repository indices (Packages.xz, primary.xml.gz, ...).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "airlock/base/error.h"

namespace airlock::formats {

// Decompresses an index held in memory: gzip, xz, bzip2, lzma or zstd, told
// apart by their magic bytes (only those filters are enabled); anything else
// is returned as it is (an uncompressed index). The output is bounded: more
// than max_size bytes is Code::limit ("index decompresses to more than N
// bytes"); bytes a filter cannot decode are invalid_input ("index cannot be
// decompressed: <reason>").
Result<std::string> decompress_index(std::string_view bytes, std::uint64_t max_size = 1ull << 30);

// decompress_index, its output given to out a piece at a time (at most
// 64 KiB each) instead of held whole; out's first error ends it and is
// returned. The same refusals; out may have been given pieces before one.
Status decompress_index_to(std::string_view bytes,
                           const std::function<Status(std::string_view)>& out,
                           std::uint64_t max_size = 1ull << 30);

// The same, its input pulled from source a piece at a time (an empty piece
// is the end): the compressed bytes are never held whole either. source's
// first error ends it and is returned as it is.
using IndexSource = std::function<Result<std::string_view>()>;
Status decompress_index_to(const IndexSource& source,
                           const std::function<Status(std::string_view)>& out,
                           std::uint64_t max_size = 1ull << 30);

// bytes as one gzip member (what rpm-md repositories name .gz), with no
// file name and no time in its header: the same bytes give the same output.
// io when the compressor cannot be set up or fails.
Result<std::string> compress_gzip(std::string_view bytes);

}  // namespace airlock::formats
