// bench_packages_parse: parsing a generated 60,000-stanza Packages index with
// realistic field sizes. Prints time and peak memory (targets: < 0.5 s,
// < 200 MiB RSS).
#include <sys/resource.h>

#include <cstdio>
#include <random>
#include <string>

#include "airlock/formats/packages.h"
#include "bench_util.h"

int main(int argc, char** argv) {
  int stanzas = argc > 1 ? std::stoi(argv[1]) : 60000;
  std::mt19937 rng(7);
  std::string text;
  text.reserve(static_cast<std::size_t>(stanzas) * 1100);
  const std::string hex = "0123456789abcdef";
  for (int i = 0; i < stanzas; ++i) {
    std::string name = "package-" + std::to_string(i);
    std::string sha(64, '0');
    for (auto& c : sha) c = hex[rng() % 16];
    text +=
        "Package: " + name + "\nSource: src-" + std::to_string(i / 3) +
        "\nVersion: " + std::to_string(rng() % 20) + "." + std::to_string(rng() % 100) + "-" +
        std::to_string(rng() % 9 + 1) +
        "+deb12u1\nInstalled-Size: " + std::to_string(rng() % 100000) +
        "\nMaintainer: Debian Maintainers <maint@lists.debian.org>\nArchitecture: amd64\n"
        "Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0), zlib1g (>= 1:1.2.0), libgcc-s1 (>= 3.0)\n"
        "Description: an example package number " +
        std::to_string(i) +
        "\n This long description goes on for a few lines, as real ones do, explaining\n"
        " what the package is for and why someone would want it on a host.\n .\n"
        " It has paragraphs too.\nHomepage: https://example.org/" +
        name +
        "\nDescription-md5: 0123456789abcdef0123456789abcdef\nSection: utils\nPriority: optional\n"
        "Filename: pool/main/p/" +
        name + "/" + name + "_1.0-1_amd64.deb\nSize: " + std::to_string(rng() % 5000000 + 1000) +
        "\nMD5sum: 0123456789abcdef0123456789abcdef\nSHA256: " + sha + "\n\n";
  }
  struct rusage before {};
  getrusage(RUSAGE_SELF, &before);
  auto start = std::chrono::steady_clock::now();
  auto records = airlock::apt::parse_packages(text);
  double secs = airlock::bench::seconds_since(start);
  struct rusage after {};
  getrusage(RUSAGE_SELF, &after);
  if (!records || static_cast<int>(records->size()) != stanzas) {
    std::fprintf(stderr, "bench_packages_parse: parse failed\n");
    return 1;
  }
  std::printf("bench_packages_parse: %d stanzas, %.1f MiB of text\n", stanzas,
              static_cast<double>(text.size()) / (1 << 20));
  std::printf("  parse time       %7.3f s   (target < 0.5 s)\n", secs);
  std::printf("  peak RSS         %7ld MiB (target < 200 MiB; includes the text itself)\n",
              after.ru_maxrss / 1024);
  return 0;
}
