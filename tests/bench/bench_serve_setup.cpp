// bench_serve_setup HOME DOCROOT SMALL LARGE: a repository home whose channel
// prod/bench serves SMALL files of 4 KiB and LARGE files of 1 MiB, and the
// same files under DOCROOT/prod/bench/ for nginx. Prints nothing on success.
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>

#include "airlock/repo/channels.h"
#include "airlock/repo/home.h"

using namespace airlock;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: bench_serve_setup HOME DOCROOT SMALL LARGE\n";
    return 2;
  }
  if (!repo::Home::init(argv[1], "bench")) return 1;
  auto home = repo::Home::open(argv[1]);
  if (!home) return 1;
  fs::path docroot = fs::path(argv[2]) / "prod" / "bench";
  int small = std::stoi(argv[3]), large = std::stoi(argv[4]);
  auto batch = (*home)->store().begin_batch().value();
  Snapshot snap;
  snap.repo = "bench";
  snap.kind = "files";
  snap.upstream = "bench";
  snap.synced_at = system_now();
  std::mt19937_64 rng(9);
  auto add = [&](const std::string& path, std::size_t size) {
    std::string data(size, '\0');
    for (std::size_t i = 0; i + 8 <= size; i += 8) {
      auto w = rng();
      std::memcpy(data.data() + i, &w, 8);
    }
    auto id = batch.put_bytes(data).value();
    snap.entries.push_back({path, id, size});
    fs::create_directories((docroot / path).parent_path());
    std::ofstream(docroot / path, std::ios::binary) << data;
  };
  for (int i = 0; i < small; ++i) add("small/f" + std::to_string(i), 4096);
  for (int i = 0; i < large; ++i) add("large/f" + std::to_string(i), 1 << 20);
  auto id = batch.add_snapshot(snap).value();
  batch.set_ref("channel/prod/bench", id, "{\"action\":\"publish\"}");
  if (!batch.commit()) return 1;
  return 0;
}
