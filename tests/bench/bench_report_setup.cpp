// bench_report_setup HOME RECORDS HOSTS PACKAGES DAYS: a repository home
// whose transfer log holds RECORDS pull records from HOSTS clients, spread
// evenly over the DAYS days before now, for bench_report.sh.
//
// The store holds two apt snapshots of repository "bench": the first with
// PACKAGES small package files, the second upgrading about one in ten of
// them. Both are published to channel test and promoted to prod through the
// home (logged channel records), the first at the start of the period and
// the second halfway. The pulls are written as the server writes them
// (append_trusted in batches, a signed checkpoint every ~5000 records):
// about one in ten fetches the channel's InRelease (200 or 304), about one
// in a hundred is a 404, the rest download a package file of the snapshot
// prod serves at that time, popular packages more often than others. Two
// refused-import records are added as well. Record times come from a clock
// this program moves. Prints a one-line summary.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "airlock/repo/home.h"

using namespace airlock;

namespace {

// The system environment with a clock this program sets.
class ClockEnv : public Env {
 public:
  TimePoint now() override { return time; }
  TimePoint time{};
};

struct Package {
  std::string name, version, path;
  Digest sha256;
  std::uint64_t size = 0;
};

// One apt snapshot of repo "bench": packages plus an InRelease and a
// Packages index, put into the store with batch.
struct BuiltSnapshot {
  Digest id;
  std::vector<Package> packages;
  Digest in_release;
  std::uint64_t in_release_size = 0;
};

Result<BuiltSnapshot> add_snapshot(Batch& batch, const std::vector<Package>& packages,
                                   TimePoint synced_at, int generation) {
  BuiltSnapshot out;
  out.packages = packages;
  Snapshot snap;
  snap.repo = "bench";
  snap.kind = "apt";
  snap.upstream = "https://deb.example.org/bench";
  snap.synced_at = synced_at;
  snap.release["bookworm/Date"] = format_time(synced_at);
  const std::string index = "dists/bookworm/main/binary-amd64/Packages";
  std::string packages_text;
  for (auto& p : out.packages) {
    // Each package file distinct and small (~1-2 KiB).
    std::string data = "bench package " + p.name + " " + p.version + "\n";
    data.resize(1024 + (std::hash<std::string>{}(p.path) % 1024), 'x');
    auto id = batch.put_bytes(data);
    if (!id) return fail(id.error());
    p.sha256 = *id;
    p.size = data.size();
    snap.entries.push_back({p.path, p.sha256, p.size});
    snap.packages.push_back({p.name, p.version, "amd64", p.name, p.size, p.sha256, p.path, index});
    packages_text += "Package: " + p.name + "\nVersion: " + p.version +
                     "\nArchitecture: amd64\nFilename: " + p.path + "\nSHA256: " + p.sha256.hex() +
                     "\n\n";
  }
  auto packages_id = batch.put_bytes(packages_text);
  if (!packages_id) return fail(packages_id.error());
  snap.entries.push_back({index, *packages_id, packages_text.size()});
  const std::string in_release = "Origin: bench\nSuite: bookworm\nDate: " + format_time(synced_at) +
                                 "\nGeneration: " + std::to_string(generation) + "\nSHA256:\n " +
                                 packages_id->hex() + " " + std::to_string(packages_text.size()) +
                                 " main/binary-amd64/Packages\n";
  auto release_id = batch.put_bytes(in_release);
  if (!release_id) return fail(release_id.error());
  out.in_release = *release_id;
  out.in_release_size = in_release.size();
  snap.entries.push_back({"dists/bookworm/InRelease", *release_id, in_release.size()});
  auto id = batch.add_snapshot(snap);
  if (!id) return fail(id.error());
  out.id = *id;
  return out;
}

int fail_with(const std::string& what, const Error& e) {
  std::cerr << "bench_report_setup: " << what << ": " << e.message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: bench_report_setup HOME RECORDS HOSTS PACKAGES DAYS\n";
    return 2;
  }
  const std::uint64_t records = std::stoull(argv[2]);
  const int hosts = std::stoi(argv[3]), package_count = std::stoi(argv[4]),
            days = std::stoi(argv[5]);
  if (hosts < 1 || hosts > 250 * 250 || package_count < 1 || days < 1) {
    std::cerr << "bench_report_setup: HOSTS must be 1..62500, PACKAGES and DAYS at least 1\n";
    return 2;
  }
  const auto start_wall = std::chrono::steady_clock::now();
  // The period: DAYS whole days ending at the last midnight (UTC) before now.
  const TimePoint end = std::chrono::floor<std::chrono::days>(system_now());
  const TimePoint start = end - std::chrono::days(days);
  ClockEnv env;
  env.time = start;
  if (auto r = repo::Home::init(argv[1], "bench", {&env}); !r) return fail_with("init", r.error());
  auto opened = repo::Home::open(argv[1], {&env});
  if (!opened) return fail_with("open", opened.error());
  repo::Home& home = **opened;

  std::vector<Package> v1;
  for (int i = 0; i < package_count; ++i) {
    std::string name = "pkg" + std::to_string(i);
    std::string version = "1." + std::to_string(i % 7) + "-1";
    Package p;
    p.name = name;
    p.version = version;
    p.path =
        "pool/main/" + name.substr(0, 1) + "/" + name + "/" + name + "_" + version + "_amd64.deb";
    v1.push_back(std::move(p));
  }
  std::vector<Package> v2 = v1;
  for (int i = 0; i < package_count; i += 10) {
    auto& p = v2[i];
    p.version = p.version.substr(0, p.version.size() - 1) + "2";
    p.path = "pool/main/" + p.name.substr(0, 1) + "/" + p.name + "/" + p.name + "_" + p.version +
             "_amd64.deb";
  }
  auto batch = home.store().begin_batch();
  if (!batch) return fail_with("store batch", batch.error());
  auto s1 = add_snapshot(*batch, v1, start, 1);
  if (!s1) return fail_with("snapshot", s1.error());
  auto s2 = add_snapshot(*batch, v2, start + std::chrono::days(days) / 2, 2);
  if (!s2) return fail_with("snapshot", s2.error());
  if (auto s = batch->commit(); !s) return fail_with("store commit", s.error());

  const ChangeInfo who{"bench", "benchmark", "BENCH-1"};
  auto publish = [&](const BuiltSnapshot& s, TimePoint at) -> Status {
    env.time = at;
    if (auto r = home.publish("bench", s.id, "test", who, true); !r) return fail(r.error());
    if (auto r = home.promote("test", "prod", {}, who, true); !r) return fail(r.error());
    return {};
  };
  if (auto s = publish(*s1, start); !s) return fail_with("publish", s.error());
  // Two refused imports, as a wrong or replayed bundle leaves them.
  for (int i = 0; i < 2; ++i) {
    env.time = start + std::chrono::days(days) / 3 + std::chrono::hours(i);
    nlohmann::json refused{{"result", "refused"},
                           {"bundle", "airlock-bench-00000" + std::to_string(i + 2)},
                           {"operator", "bench"},
                           {"media_label", "USB-" + std::to_string(i)},
                           {"reason", i == 0 ? "signature: not enough trusted signers (0 of 1)"
                                             : "sequence 1 is not after the stream's 1"}};
    if (auto n = home.log().append("import", refused.dump()); !n)
      return fail_with("refused import", n.error());
  }
  if (auto s = home.log().sync(); !s) return fail_with("sync", s.error());

  // The pulls, in batches as the server's logger writes them.
  const TimePoint upgrade = start + std::chrono::days(days) / 2;
  bool upgraded = false;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto period = std::chrono::duration_cast<std::chrono::seconds>(end - start).count();
  constexpr std::uint64_t kBatch = 250, kCheckpointEvery = 5000;
  std::vector<std::string> batch_fields;
  batch_fields.reserve(kBatch);
  std::uint64_t since_checkpoint = 0, written = 0;
  const std::string prefix = "/prod/bench/";
  while (written < records) {
    const std::uint64_t count = std::min<std::uint64_t>(kBatch, records - written);
    // The batch's time: where its first record falls in the period.
    const auto offset = static_cast<std::int64_t>(
        static_cast<double>(period) * static_cast<double>(written) / static_cast<double>(records));
    env.time = start + std::chrono::seconds(offset);
    if (!upgraded && env.time >= upgrade) {
      if (auto s = publish(*s2, env.time); !s) return fail_with("publish", s.error());
      upgraded = true;
    }
    const BuiltSnapshot& serving = upgraded ? *s2 : *s1;
    batch_fields.clear();
    for (std::uint64_t i = 0; i < count; ++i) {
      const int h = static_cast<int>(rng() % static_cast<std::uint64_t>(hosts));
      const std::string client =
          "10.0." + std::to_string(h / 250) + "." + std::to_string(h % 250 + 1);
      const double kind = unit(rng);
      std::string path, object = "null";
      int status = 200;
      std::uint64_t bytes = 0;
      if (kind < 0.10) {
        path = prefix + "dists/bookworm/InRelease";
        object = "\"" + serving.in_release.hex() + "\"";
        if (unit(rng) < 0.5) {
          status = 304;
        } else {
          bytes = serving.in_release_size;
        }
      } else if (kind < 0.11) {
        path = prefix + "pool/main/m/missing/missing_" + std::to_string(rng() % 100) + "_amd64.deb";
        status = 404;
        bytes = 10;
      } else {
        // Popular packages more often: index = PACKAGES * u^2.
        const double u = unit(rng);
        const auto& p =
            serving.packages[static_cast<std::size_t>(u * u * package_count) % package_count];
        path = prefix + p.path;
        object = "\"" + p.sha256.hex() + "\"";
        bytes = p.size;
      }
      char duration[32];
      std::snprintf(duration, sizeof duration, "%.3f", 0.05 + unit(rng) * 2.0);
      std::string rec;
      rec.reserve(256);
      rec += "\"client\":\"" + client + "\",\"method\":\"GET\",\"path\":\"" + path +
             "\",\"object\":" + object + ",\"status\":" + std::to_string(status) +
             ",\"bytes\":" + std::to_string(bytes) + ",\"duration_ms\":" + duration;
      batch_fields.push_back(std::move(rec));
    }
    if (auto n = home.log().append_trusted("pull", batch_fields); !n)
      return fail_with("append", n.error());
    written += count;
    since_checkpoint += count;
    if (since_checkpoint >= kCheckpointEvery || written == records) {
      if (auto c = home.log().checkpoint(home.log_key()); !c)
        return fail_with("checkpoint", c.error());
      since_checkpoint = 0;
    }
  }
  if (records == 0 || !upgraded) {
    if (!upgraded) {
      if (auto s = publish(*s2, upgrade); !s) return fail_with("publish", s.error());
    }
    if (auto c = home.log().checkpoint(home.log_key()); !c)
      return fail_with("checkpoint", c.error());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_wall).count();
  std::cout << "bench_report_setup: " << home.log().size() << " log records (" << records
            << " pulls) from " << hosts << " hosts over " << days << " days, " << package_count
            << " packages, in " << seconds << " s\n";
  return 0;
}
