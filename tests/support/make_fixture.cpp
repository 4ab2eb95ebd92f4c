// airlock-test-fixture DIR: writes a small, complete set of the files that
// cross boundaries — keys, a store with a snapshot, a signed bundle, a trust
// policy, a transfer log with checkpoints and an inclusion proof — for the
// command-line and schema tests.
#include <iostream>
#include <nlohmann/json.hpp>

#include "airlock/transfer/bundle.h"
#include "airlock/transfer/log.h"
#include "bundle_fixture.h"
#include "test_support.h"

using namespace airlock;
namespace fs = std::filesystem;

namespace {
PrivateKey make_key(const fs::path& dir, const std::string& name) {
  auto key = PrivateKey::generate().value();
  if (!key.write_file(dir / (name + ".key")) ||
      !key.public_key().write_file(dir / (name + ".pub"))) {
    std::abort();
  }
  return key;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: airlock-test-fixture DIR\n";
    return 2;
  }
  fs::path dir = argv[1];
  fs::create_directories(dir / "keys");
  fs::create_directories(dir / "media");
  auto alice = make_key(dir / "keys", "alice");
  auto bob = make_key(dir / "keys", "bob");
  auto log_key = make_key(dir / "keys", "log");
  auto repo = testing::make_sample_repo(dir / "store", 12, 200 * 1024, 5, "demo");
  testing::write_text(dir / "snapshot.json", repo.store->read(repo.snapshot).value());

  TrustPolicy trust;
  trust.threshold = 1;
  if (!trust.add({"alice", alice.public_key(), parse_time("2026-01-01T00:00:00Z").value(), {}}) ||
      !trust.add({"bob", bob.public_key(), {}, {}}) || !trust.save(dir / "trust.json")) {
    return 1;
  }

  auto log = TransferLog::open(dir / "log").value();
  nlohmann::json sync{{"repo", "demo"}, {"snapshot", repo.snapshot.hex()}, {"objects", 12}};
  if (!log->append("sync", sync.dump()) || !log->checkpoint(log_key)) return 1;

  ExportRequest req;
  req.store = repo.store.get();
  req.snapshots = {repo.snapshot};
  req.stream = "demo";
  req.created = system_now();
  req.expires = req.created + std::chrono::hours(24 * 30);
  req.producer = "airlock-test-fixture";
  req.volume_size = 512 * 1024;
  req.keys = {&alice};
  req.out_dir = dir / "media";
  req.log_json = "[" + log->record(0).value() + "]";
  auto res = write_bundle(req);
  if (!res) {
    std::cerr << res.error().message << "\n";
    return 1;
  }
  nlohmann::json exp{{"stream", "demo"}, {"sequence", 1}, {"manifest", res->manifest_sha256.hex()}};
  if (!log->append("export", exp.dump()) || !log->checkpoint(log_key)) return 1;
  for (int i = 0; i < 5; ++i) {
    nlohmann::json pull{{"client", "127.0.0.1"},
                        {"path", "/prod/demo/pool/p" + std::to_string(i)},
                        {"status", 200}};
    if (!log->append("pull", pull.dump())) return 1;
  }
  if (!log->checkpoint(log_key)) return 1;
  testing::write_text(dir / "proof.json", prove_record(dir / "log", 4).value());
  testing::write_text(dir / "checkpoint", log->latest_checkpoint()->second);
  std::cout << res->dir.string() << "\n";
  return 0;
}
