// The tar layout and libarchive handles shared by the bundle writer and
// reader, private to them.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>
#include <string_view>

namespace airlock::bundle_io {

struct ArchiveWriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct ArchiveReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using ArchiveWriter = std::unique_ptr<archive, ArchiveWriteFree>;
using ArchiveReader = std::unique_ptr<archive, ArchiveReadFree>;
using Entry = std::unique_ptr<archive_entry, EntryFree>;

// Every entry is objects/<64 lowercase hex>: the object's SHA-256.
inline constexpr std::string_view kObjectPrefix = "objects/";

// libarchive's last error on a, or a stand-in when it recorded none.
inline std::string archive_error(archive* a) {
  const char* e = archive_error_string(a);
  return e ? e : "unknown libarchive error";
}

}  // namespace airlock::bundle_io
