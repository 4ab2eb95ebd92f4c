// bench_hash: SHA-256 of one large file with airlock_verify's hash_file versus
// `openssl dgst -sha256`, side by side in one run. Prints both times and the
// ratio (target: airlock <= 1.1x openssl).
//
//   bench_hash [--size-mib N] [--runs N] [--dir DIR]
#include <cstring>
#include <iostream>

#include "airlock/verify/digest.h"
#include "bench_util.h"

using namespace airlock;

int main(int argc, char** argv) {
  std::uint64_t size_mib = 1024;
  int runs = 3;
  std::filesystem::path dir = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--size-mib"))
      size_mib = std::stoull(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs"))
      runs = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--dir"))
      dir = argv[i + 1];
  }
  auto file = dir / "airlock-bench-hash.bin";
  bench::make_random_file(file, size_mib << 20, 42);
  // Warm the page cache so both sides hash from memory.
  (void)hash_file(file);

  double best_airlock = 1e9, best_openssl = 1e9;
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto d = hash_file(file);
    double t = bench::seconds_since(start);
    if (!d) {
      std::cerr << "bench_hash: " << d.error().message << "\n";
      return 1;
    }
    best_airlock = std::min(best_airlock, t);
    double o = bench::time_command({"openssl", "dgst", "-sha256", file.string()});
    if (o < 0) {
      std::cerr << "bench_hash: openssl dgst failed\n";
      return 1;
    }
    best_openssl = std::min(best_openssl, o);
  }
  std::filesystem::remove(file);
  double mib = static_cast<double>(size_mib);
  std::printf("bench_hash: %llu MiB, best of %d\n", static_cast<unsigned long long>(size_mib),
              runs);
  std::printf("  airlock hash_file      %7.3f s  %8.1f MiB/s\n", best_airlock, mib / best_airlock);
  std::printf("  openssl dgst -sha256   %7.3f s  %8.1f MiB/s\n", best_openssl, mib / best_openssl);
  std::printf("  ratio airlock/openssl  %7.3f  (target <= 1.10)\n", best_airlock / best_openssl);
  return 0;
}
