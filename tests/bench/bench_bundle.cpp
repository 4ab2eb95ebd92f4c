// bench_bundle: bundles of two repositories, each step side by side in one
// run with its baseline.
//
// Large: 1 GiB of incompressible objects (10 KiB - 50 MiB, like .deb files)
// plus 100 MiB of text-like objects.
//   export       vs  tar -cf - objects | zstd -1 -T0 > file       (target <= 1.1x)
//   verify-read  vs  openssl dgst -sha256 over the volumes         (target <= 1.3x)
//   import       vs  zstd -dc file | tar -x, then sync              (target <= 1.2x)
// Small: 50,000 incompressible 4 KiB objects, the same steps; their import
// runs at >= 50% of the large objects' bytes/s (target). The baselines
// archive and unpack the objects as files of their own (files/), as they
// would be copied without airlock.
// Peak memory of each of our runs is measured in a child process (target
// < 256 MiB). Every run keeps its output until its case ends: about 10 GiB of
// disk at the default sizes.
//
//   bench_bundle [--dir DIR] [--mib N] [--text-mib N] [--small N] [--keep]
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstring>
#include <fstream>
#include <iostream>

#include "airlock/base/cli.h"
#include "airlock/repo/home.h"
#include "airlock/transfer/bundle.h"
#include "bench_util.h"

using namespace airlock;
namespace fs = std::filesystem;

namespace {

struct Measured {
  double seconds = -1;
  double cpu_seconds = 0;  // user and system, all threads
  long max_rss_kib = 0;
};

// Runs fn in a child process; returns wall time and the child's peak RSS.
template <class F>
Measured in_child(F&& fn) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn() ? 0 : 1);
  int status = 0;
  struct rusage ru {};
  ::wait4(pid, &status, 0, &ru);
  Measured m;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) m.seconds = bench::seconds_since(start);
  m.max_rss_kib = ru.ru_maxrss;
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  m.cpu_seconds = secs(ru.ru_utime) + secs(ru.ru_stime);
  return m;
}

std::string text_like(std::size_t size, std::mt19937_64& rng) {
  static const char* words[] = {"Package: ",
                                "Version: ",
                                "Architecture: amd64\n",
                                "Depends: libc6 (>= 2.36), ",
                                "Description: ",
                                "Filename: pool/main/",
                                "SHA256: ",
                                "Size: ",
                                "\n"};
  std::string out;
  out.reserve(size);
  while (out.size() < size) {
    out += words[rng() % 9];
    out += std::to_string(rng() % 100000);
    if (rng() % 4 == 0) out += '\n';
  }
  out.resize(size);
  return out;
}

struct Figures {
  int objects = 0;
  std::uint64_t bytes = 0;
  Measured exported, verified, imported, phase_volumes, phase_objects;
  double tar_zstd = -1, tar_zstd_sync = -1, dgst = -1, untar = -1;
};

Measured best(Measured a, Measured b) {
  if (a.seconds < 0 || (b.seconds >= 0 && b.seconds < a.seconds)) std::swap(a, b);
  a.max_rss_kib = std::max(a.max_rss_kib, b.max_rss_kib);
  return a;
}

double shell(const std::string& command) { return bench::time_command({"sh", "-c", command}); }

// Export, verify-read and import of one snapshot's bundle, each step run
// twice alternating with its baseline; the best time of each counts, so
// page-cache and write-back effects hit both sides alike.
Figures run_case(const fs::path& root, Store& store, const Digest& snap_id,
                 const TrustPolicy& trust, const PrivateKey& key) {
  Figures f;
  const auto q = [](const fs::path& p) { return "'" + p.string() + "'"; };
  ExportRequest req;
  req.store = &store;
  req.snapshots = {snap_id};
  req.stream = "bench";
  req.created = system_now();
  req.expires = req.created + std::chrono::hours(24);
  req.zstd_level = 1;
  req.zstd_threads = 0;
  req.keys = {&key};
  // Every run writes into a directory of its own and nothing is deleted
  // until the case ends: creating files right after deleting many is slower
  // on some file systems (ext4 skips recently freed inodes), which would
  // charge one side for the other's clean-up.
  int run = 0;
  fs::path bundle_dir;
  const auto archive = root / "baseline.tar.zst";
  auto tar_zstd = [&] {
    return shell("tar -cf - -C " + q(root / "files") + " . | zstd -1 -T0 -q -f -o " + q(archive));
  };
  auto export_once = [&] {
    req.out_dir = root / ("media-" + std::to_string(++run));
    fs::create_directories(req.out_dir);
    bundle_dir = req.out_dir / bundle_dir_name("bench", 1);
    return in_child([&] { return write_bundle(req).has_value(); });
  };
  f.tar_zstd = tar_zstd();
  f.exported = export_once();
  f.tar_zstd = std::min(f.tar_zstd, tar_zstd());
  // The export's volumes are durable when it returns; the same for the baseline.
  f.tar_zstd_sync = shell("tar -cf - -C " + q(root / "files") + " . | zstd -1 -T0 -q -f -o " +
                          q(archive) + " && sync " + q(archive));
  f.exported = best(f.exported, export_once());

  auto verify_once = [&] {
    return in_child([&] {
      auto vm = read_manifest(bundle_dir, trust, system_now());
      if (!vm) return false;
      std::vector<fs::path> dirs{bundle_dir};
      if (!check_volumes(vm->manifest, dirs)) return false;
      DiscardSink sink;
      return extract_bundle(vm->manifest, dirs, sink).has_value();
    });
  };
  std::vector<std::string> dgst{"openssl", "dgst", "-sha256"};
  for (const auto& e : fs::directory_iterator(bundle_dir)) {
    if (e.path().filename().string().starts_with("data.")) dgst.push_back(e.path().string());
  }
  f.dgst = bench::time_command(dgst);
  f.verified = verify_once();
  f.dgst = std::min(f.dgst, bench::time_command(dgst));
  f.verified = best(f.verified, verify_once());

  // The two phases apart, to see where the time goes.
  f.phase_volumes = in_child([&] {
    auto vm = read_manifest(bundle_dir, trust, system_now());
    std::vector<fs::path> dirs{bundle_dir};
    return vm && check_volumes(vm->manifest, dirs).has_value();
  });
  f.phase_objects = in_child([&] {
    auto vm = read_manifest(bundle_dir, trust, system_now());
    std::vector<fs::path> dirs{bundle_dir};
    DiscardSink sink;
    return vm && extract_bundle(vm->manifest, dirs, sink).has_value();
  });

  // Import versus unpacking the baseline archive (which verifies nothing)
  // and making it durable.
  auto untar = [&] {
    const auto unpacked = root / ("unpacked-" + std::to_string(++run));
    fs::create_directories(unpacked);
    return shell("zstd -dcq " + q(archive) + " | tar -x -C " + q(unpacked) + " && sync");
  };
  auto import_once = [&] {
    const auto high = root / ("high-" + std::to_string(++run));
    return in_child([&] {
      if (!repo::Home::init(high, "bench")) return false;
      if (!trust.save(high / "trust.json")) return false;
      auto home = repo::Home::open(high);
      if (!home) return false;
      repo::ImportOptions io;
      io.operator_name = "bench";
      io.now = system_now();
      auto r = (*home)->import({bundle_dir}, io);
      if (!r) std::cerr << r.error().message << "\n";
      return r.has_value();
    });
  };
  f.untar = untar();
  f.imported = import_once();
  f.untar = std::min(f.untar, untar());
  f.imported = best(f.imported, import_once());
  return f;
}

void print_case(const char* name, const Figures& f) {
  std::printf("bench_bundle %s: %d objects, %s payload (best of 2 runs each)\n", name, f.objects,
              cli::human_bytes(f.bytes).c_str());
  std::printf("  export (zstd -1, all cores)   %7.2f s   peak RSS %5ld MiB   cpu %5.2f s\n",
              f.exported.seconds, f.exported.max_rss_kib / 1024, f.exported.cpu_seconds);
  std::printf("  tar | zstd -1 -T0             %7.2f s\n", f.tar_zstd);
  std::printf("  ratio export/baseline         %7.2f   (target <= 1.10)\n",
              f.exported.seconds / f.tar_zstd);
  std::printf("  tar | zstd -1 -T0; sync       %7.2f s   ratio %.2f (export fsyncs its volumes)\n",
              f.tar_zstd_sync, f.exported.seconds / f.tar_zstd_sync);
  std::printf("  verify-read                   %7.2f s   peak RSS %5ld MiB\n", f.verified.seconds,
              f.verified.max_rss_kib / 1024);
  std::printf("    of which volume hashes      %7.2f s\n", f.phase_volumes.seconds);
  std::printf("    of which objects            %7.2f s\n", f.phase_objects.seconds);
  std::printf("  openssl dgst -sha256 volumes  %7.2f s\n", f.dgst);
  std::printf("  ratio verify/baseline         %7.2f   (target <= 1.30)\n",
              f.verified.seconds / f.dgst);
  std::printf(
      "  import                        %7.2f s   peak RSS %5ld MiB   cpu %5.2f s   %7.1f MB/s\n",
      f.imported.seconds, f.imported.max_rss_kib / 1024, f.imported.cpu_seconds,
      f.bytes / 1e6 / f.imported.seconds);
  std::printf("  zstd -dc | tar -x; sync       %7.2f s\n", f.untar);
  std::printf("  ratio import/baseline         %7.2f   (target <= 1.20)\n",
              f.imported.seconds / f.untar);
}

std::string random_bytes(std::size_t size, std::mt19937_64& rng) {
  std::string data(size, '\0');
  for (std::size_t j = 0; j + 8 <= size; j += 8) {
    auto w = rng();
    std::memcpy(data.data() + j, &w, 8);
  }
  return data;
}

// A store at dir holding one snapshot of the objects gen() yields (empty
// when done); returns the snapshot id and the counts. The baselines read the
// same objects as files of their own, in files/ beside the store.
template <class Gen>
Digest build_store(const fs::path& dir, Gen&& gen, Figures& f) {
  auto store = Store::open(dir).value();
  const auto files = dir.parent_path() / "files";
  fs::create_directories(files);
  Snapshot snap;
  snap.repo = "bench";
  snap.kind = "files";
  snap.upstream = "bench";
  snap.synced_at = system_now();
  auto batch = store->begin_batch().value();
  for (;;) {
    auto data = gen();
    if (data.empty()) break;
    auto id = batch.put_bytes(data).value();
    std::ofstream(files / id.hex(), std::ios::binary)
        .write(data.data(), std::streamsize(data.size()));
    snap.entries.push_back({"pool/f" + std::to_string(f.objects++), id, data.size()});
    f.bytes += data.size();
  }
  auto id = batch.add_snapshot(snap).value();
  batch.commit().value();
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path();
  std::uint64_t mib = 1024, text_mib = 100, small = 50000;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!std::strcmp(argv[i], "--mib") && i + 1 < argc)
      mib = std::stoull(argv[++i]);
    else if (!std::strcmp(argv[i], "--text-mib") && i + 1 < argc)
      text_mib = std::stoull(argv[++i]);
    else if (!std::strcmp(argv[i], "--small") && i + 1 < argc)
      small = std::stoull(argv[++i]);
    else if (!std::strcmp(argv[i], "--keep"))
      keep = true;
  }
  auto key = PrivateKey::generate().value();
  TrustPolicy trust;
  (void)trust.add({"bench", key.public_key(), {}, {}});
  std::mt19937_64 rng(2026);

  // Large: incompressible objects of .deb-like sizes, then text.
  auto large_root = dir / "airlock-bench-bundle";
  fs::remove_all(large_root);
  std::cerr << "bench_bundle: generating " << mib << " MiB + " << text_mib << " MiB of objects\n";
  Figures large;
  std::uint64_t made = 0, text_made = 0;
  auto large_id = build_store(
      large_root / "store",
      [&]() -> std::string {
        if (made < (mib << 20)) {
          // Mostly small, some large: log-uniform between 10 KiB and 50 MiB.
          double lo = std::log(10.0 * 1024), hi = std::log(50.0 * 1024 * 1024);
          auto size =
              static_cast<std::size_t>(std::exp(lo + (hi - lo) * (rng() % 10000) / 10000.0));
          size = std::min<std::uint64_t>(size, (mib << 20) - made + 1);
          made += size;
          return random_bytes(size, rng);
        }
        if (text_made < (text_mib << 20)) {
          auto data = text_like(256 * 1024 + rng() % (4 << 20), rng);
          text_made += data.size();
          return data;
        }
        return {};
      },
      large);
  {
    auto store = Store::open(large_root / "store").value();
    large = [&] {
      auto f = run_case(large_root, *store, large_id, trust, key);
      f.objects = large.objects;
      f.bytes = large.bytes;
      return f;
    }();
  }
  if (!keep) fs::remove_all(large_root);

  // Small: 4 KiB incompressible objects.
  auto small_root = dir / "airlock-bench-bundle-small";
  fs::remove_all(small_root);
  std::cerr << "bench_bundle: generating " << small << " objects of 4 KiB\n";
  Figures little;
  std::uint64_t small_made = 0;
  auto small_id = build_store(
      small_root / "store",
      [&]() -> std::string {
        if (small_made++ >= small) return {};
        return random_bytes(4096, rng);
      },
      little);
  {
    auto store = Store::open(small_root / "store").value();
    auto f = run_case(small_root, *store, small_id, trust, key);
    f.objects = little.objects;
    f.bytes = little.bytes;
    little = f;
  }
  if (!keep) fs::remove_all(small_root);

  print_case("large", large);
  print_case("small", little);
  const double large_rate = large.bytes / large.imported.seconds;
  const double small_rate = little.bytes / little.imported.seconds;
  std::printf("  import bytes/s small/large    %7.2f   (target >= 0.50)\n",
              small_rate / large_rate);
  std::printf("  export bytes/s small/large    %7.2f\n",
              (little.bytes / little.exported.seconds) / (large.bytes / large.exported.seconds));
  std::printf("  peak memory target            < 256 MiB\n");
  return large.exported.seconds > 0 && large.imported.seconds > 0 && little.imported.seconds > 0
             ? 0
             : 1;
}
