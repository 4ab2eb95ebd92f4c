// bench_bundle: export and verify-read of a bundle of 2 GiB of incompressible
// objects (10 KiB - 50 MiB, like .deb files) plus 200 MiB of text-like
// objects, each side by side in one run with its baseline:
//   export       vs  tar -cf - ... | zstd -1 -T0 > file      (target <= 1.3x)
//   verify-read  vs  openssl dgst -sha256 over the volumes    (target <= 1.3x)
// Peak memory of each of our runs is measured in a child process (target
// < 256 MiB).
//
//   bench_bundle [--dir DIR] [--mib N] [--text-mib N] [--keep]
#include <sys/resource.h>
#include <sys/wait.h>

#include <cstring>
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

}  // namespace

int main(int argc, char** argv) {
  fs::path dir = fs::temp_directory_path();
  std::uint64_t mib = 2048, text_mib = 200;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!std::strcmp(argv[i], "--mib") && i + 1 < argc)
      mib = std::stoull(argv[++i]);
    else if (!std::strcmp(argv[i], "--text-mib") && i + 1 < argc)
      text_mib = std::stoull(argv[++i]);
    else if (!std::strcmp(argv[i], "--keep"))
      keep = true;
  }
  auto root = dir / "airlock-bench-bundle";
  fs::remove_all(root);
  fs::create_directories(root / "media");
  auto store = Store::open(root / "store").value();

  // Build the repository: incompressible objects of .deb-like sizes, then text.
  std::mt19937_64 rng(2026);
  Snapshot snap;
  snap.repo = "bench";
  snap.kind = "files";
  snap.upstream = "bench";
  snap.synced_at = system_now();
  std::uint64_t total = 0;
  int n = 0;
  std::cerr << "bench_bundle: generating " << mib << " MiB + " << text_mib << " MiB of objects\n";
  auto batch = store->begin_batch().value();
  auto add = [&](const std::string& data) {
    auto id = batch.put_bytes(data).value();
    snap.entries.push_back({"pool/f" + std::to_string(n++), id, data.size()});
    total += data.size();
  };
  while (total < (mib << 20)) {
    // Mostly small, some large: log-uniform between 10 KiB and 50 MiB.
    double lo = std::log(10.0 * 1024), hi = std::log(50.0 * 1024 * 1024);
    auto size = static_cast<std::size_t>(std::exp(lo + (hi - lo) * (rng() % 10000) / 10000.0));
    size = std::min<std::uint64_t>(size, (mib << 20) - total + 1);
    std::string data(size, '\0');
    for (std::size_t j = 0; j + 8 <= size; j += 8) {
      auto w = rng();
      std::memcpy(data.data() + j, &w, 8);
    }
    add(data);
  }
  std::uint64_t text_total = 0;
  while (text_total < (text_mib << 20)) {
    auto data = text_like(256 * 1024 + rng() % (4 << 20), rng);
    text_total += data.size();
    add(data);
  }
  auto snap_id = batch.add_snapshot(snap).value();
  if (!batch.commit()) return 1;
  auto key = PrivateKey::generate().value();
  TrustPolicy trust;
  (void)trust.add({"bench", key.public_key(), {}, {}});
  std::cerr << "bench_bundle: " << n << " objects, " << cli::human_bytes(total) << "\n";

  // Export versus tar | zstd over the same files.
  ExportRequest req;
  req.store = store.get();
  req.snapshots = {snap_id};
  req.stream = "bench";
  req.created = system_now();
  req.expires = req.created + std::chrono::hours(24);
  req.zstd_level = 1;
  req.zstd_threads = 0;
  req.keys = {&key};
  req.out_dir = root / "media";
  // Each side runs twice, alternating, and the best time counts: page-cache
  // and write-back effects hit both sides alike.
  auto bundle_dir = root / "media" / bundle_dir_name("bench", 1);
  auto best = [](Measured a, Measured b) {
    if (a.seconds < 0 || (b.seconds >= 0 && b.seconds < a.seconds)) std::swap(a, b);
    a.max_rss_kib = std::max(a.max_rss_kib, b.max_rss_kib);
    return a;
  };
  auto tar_zstd = [&] {
    return bench::time_command({"sh", "-c",
                                "tar -cf - -C '" + (root / "store" / "objects").string() +
                                    "' . | zstd -1 -T0 -q -f -o '" +
                                    (root / "baseline.tar.zst").string() + "'"});
  };
  auto export_once = [&] {
    fs::remove_all(bundle_dir);
    return in_child([&] { return write_bundle(req).has_value(); });
  };
  double baseline = tar_zstd();
  Measured ours = export_once();
  baseline = std::min(baseline, tar_zstd());
  ours = best(ours, export_once());

  // Verify-read versus hashing the same volume bytes.
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
  double hash_baseline = bench::time_command(dgst);
  Measured verify = verify_once();
  hash_baseline = std::min(hash_baseline, bench::time_command(dgst));
  verify = best(verify, verify_once());

  // The two phases apart, to see where the time goes.
  Measured phase_volumes = in_child([&] {
    auto vm = read_manifest(bundle_dir, trust, system_now());
    std::vector<fs::path> dirs{bundle_dir};
    return vm && check_volumes(vm->manifest, dirs).has_value();
  });
  Measured phase_objects = in_child([&] {
    auto vm = read_manifest(bundle_dir, trust, system_now());
    std::vector<fs::path> dirs{bundle_dir};
    DiscardSink sink;
    return vm && extract_bundle(vm->manifest, dirs, sink).has_value();
  });

  // Import (issue target: <= 1.3x reading and hashing the volumes).
  auto import_once = [&] {
    fs::remove_all(root / "high");
    return in_child([&] {
      if (!repo::Home::init(root / "high", "bench")) return false;
      if (!trust.save(root / "high" / "trust.json")) return false;
      auto home = repo::Home::open(root / "high");
      if (!home) return false;
      repo::ImportOptions io;
      io.operator_name = "bench";
      io.now = system_now();
      auto r = (*home)->import({bundle_dir}, io);
      if (!r) std::cerr << r.error().message << "\n";
      return r.has_value();
    });
  };
  Measured imported = import_once();
  imported = best(imported, import_once());

  std::printf("bench_bundle: %d objects, %s payload (best of 2 runs each)\n", n,
              cli::human_bytes(total).c_str());
  std::printf("  export (zstd -1, all cores)   %7.2f s   peak RSS %5ld MiB\n", ours.seconds,
              ours.max_rss_kib / 1024);
  std::printf("  tar | zstd -1 -T0             %7.2f s\n", baseline);
  std::printf("  ratio export/baseline         %7.2f   (target <= 1.30)\n",
              ours.seconds / baseline);
  std::printf("  verify-read                   %7.2f s   peak RSS %5ld MiB\n", verify.seconds,
              verify.max_rss_kib / 1024);
  std::printf("    of which volume hashes      %7.2f s\n", phase_volumes.seconds);
  std::printf("    of which objects            %7.2f s\n", phase_objects.seconds);
  std::printf("  openssl dgst -sha256 volumes  %7.2f s\n", hash_baseline);
  std::printf("  ratio verify/baseline         %7.2f   (target <= 1.30)\n",
              verify.seconds / hash_baseline);
  std::printf("  import                        %7.2f s   peak RSS %5ld MiB\n", imported.seconds,
              imported.max_rss_kib / 1024);
  std::printf("  ratio import/baseline         %7.2f   (target <= 1.30)\n",
              imported.seconds / hash_baseline);
  std::printf("  peak memory target            < 256 MiB\n");
  store.reset();
  if (!keep) fs::remove_all(root);
  return ours.seconds > 0 && verify.seconds > 0 ? 0 : 1;
}
