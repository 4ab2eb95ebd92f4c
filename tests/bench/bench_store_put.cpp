// bench_store_put: objects/s and MB/s for putting many small objects in one
// batch and a few large ones, each fsynced as the store's contract demands.
//
//   bench_store_put [--small N] [--small-kib K] [--large N] [--large-mib M] [--dir DIR]
#include <cstring>
#include <iostream>

#include "airlock/store/store.h"
#include "bench_util.h"

using namespace airlock;

int main(int argc, char** argv) {
  int small = 10000, large = 20;
  std::size_t small_kib = 4, large_mib = 50;
  std::filesystem::path dir = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--small"))
      small = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--small-kib"))
      small_kib = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--large"))
      large = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--large-mib"))
      large_mib = std::stoul(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
  }
  auto root = dir / "airlock-bench-store";
  std::filesystem::remove_all(root);
  auto store = Store::open(root / "store");
  if (!store) {
    std::cerr << store.error().message << "\n";
    return 1;
  }

  std::mt19937_64 rng(1);
  std::string buf(small_kib << 10, '\0');
  auto start = std::chrono::steady_clock::now();
  {
    auto batch = (*store)->begin_batch().value();
    for (int i = 0; i < small; ++i) {
      for (std::size_t j = 0; j + 8 <= buf.size(); j += 8) {
        auto w = rng();
        std::memcpy(buf.data() + j, &w, 8);
      }
      if (auto id = batch.put_bytes(buf); !id) {
        std::cerr << id.error().message << "\n";
        return 1;
      }
    }
    if (auto s = batch.commit(); !s) {
      std::cerr << s.error().message << "\n";
      return 1;
    }
  }
  double t_small = bench::seconds_since(start);

  std::vector<std::filesystem::path> files;
  for (int i = 0; i < large; ++i) {
    files.push_back(root / ("large-" + std::to_string(i)));
    bench::make_random_file(files.back(), large_mib << 20, 1000 + i);
  }
  start = std::chrono::steady_clock::now();
  for (auto& f : files) {
    if (auto id = (*store)->put_file(f); !id) {
      std::cerr << id.error().message << "\n";
      return 1;
    }
  }
  double t_large = bench::seconds_since(start);

  double small_mb = small * static_cast<double>(small_kib << 10) / 1e6;
  double large_mb = large * static_cast<double>(large_mib << 20) / 1e6;
  std::printf("bench_store_put\n");
  std::printf("  %6d x %3zu KiB   %7.3f s  %9.0f objects/s  %8.1f MB/s\n", small, small_kib,
              t_small, small / t_small, small_mb / t_small);
  std::printf("  %6d x %3zu MiB   %7.3f s  %9.1f objects/s  %8.1f MB/s\n", large, large_mib,
              t_large, large / t_large, large_mb / t_large);
  store->reset();
  std::filesystem::remove_all(root);
  return 0;
}
