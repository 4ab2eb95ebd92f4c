// How apt names its index files: the variants of one index (Packages,
// Packages.gz, Packages.xz ...) and which is cheapest to read.
#pragma once

#include <string>
#include <string_view>

namespace airlock::mirror {

// True for dir/base and dir/base.<gz|xz|bz2|lzma|zst>.
inline bool is_index_of(std::string_view path, std::string_view dir, std::string_view base) {
  if (!path.starts_with(dir)) return false;
  auto name = path.substr(dir.size());
  if (name == base) return true;
  if (!name.starts_with(base) || name.size() <= base.size() || name[base.size()] != '.')
    return false;
  auto ext = name.substr(base.size() + 1);
  return ext == "gz" || ext == "xz" || ext == "bz2" || ext == "lzma" || ext == "zst";
}

// Lower is read first: uncompressed, then xz, gz, bz2, lzma, zst.
inline int variant_rank(std::string_view path) {
  if (path.ends_with(".xz")) return 1;
  if (path.ends_with(".gz")) return 2;
  if (path.ends_with(".bz2")) return 3;
  if (path.ends_with(".lzma")) return 4;
  if (path.ends_with(".zst")) return 5;
  return 0;
}

// The directory part of a repository path ("" for none).
inline std::string parent(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

}  // namespace airlock::mirror
