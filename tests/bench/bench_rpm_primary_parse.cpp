// bench_rpm_primary_parse: decompressing and parsing a generated
// 60,000-package primary.xml.gz shaped as createrepo_c writes it (each
// package with a summary and description, ~10 provides, ~15 requires and a
// few files), read in order on one thread and then in parts on every core
// as a sync reads it. Prints time and peak memory (targets: < 1 s, < 128 MiB RSS).
//
//   bench_rpm_primary_parse [PACKAGES] [ROUNDS]
//
// The document is generated straight into a gzip stream, so the process
// never holds its text: the peak RSS is the compressed bytes plus what the
// decompression and the parser hold. The callback keeps nothing but a count,
// as a sync keeps one small entry per package.
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "airlock/formats/compress.h"
#include "airlock/formats/rpm.h"
#include "bench_util.h"

namespace {

// gzip (deflate with a gzip header) of what is appended, a piece at a time.
class Gzip {
 public:
  Gzip() { deflateInit2(&z_, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY); }
  ~Gzip() { deflateEnd(&z_); }
  void add(const std::string& text) { run(text, Z_NO_FLUSH); }
  std::string finish() {
    run({}, Z_FINISH);
    return std::move(out_);
  }

 private:
  void run(const std::string& text, int flush) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z_.avail_in = static_cast<uInt>(text.size());
    int rc = Z_OK;
    do {
      unsigned char buf[1 << 16];
      z_.next_out = buf;
      z_.avail_out = sizeof buf;
      rc = deflate(&z_, flush);
      out_.append(reinterpret_cast<char*>(buf), sizeof buf - z_.avail_out);
    } while (z_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }
  z_stream z_{};
  std::string out_;
};

const char* const kWords[] = {"lib",  "core", "tools", "devel", "common", "data",  "utils",
                              "perl", "py3",  "gtk",   "qt",    "server", "client"};

std::string word(std::mt19937& rng) { return kWords[rng() % std::size(kWords)]; }

std::string hex(std::mt19937& rng, int n) {
  static const char digits[] = "0123456789abcdef";
  std::string s(static_cast<std::size_t>(n), '0');
  for (auto& c : s) c = digits[rng() % 16];
  return s;
}

// One <package> as createrepo_c writes it.
std::string package(int i, std::mt19937& rng) {
  const std::string name = word(rng) + "-" + word(rng) + "-" + std::to_string(i);
  const std::string ver = std::to_string(rng() % 20) + "." + std::to_string(rng() % 100) + "." +
                          std::to_string(rng() % 10);
  const std::string rel = std::to_string(rng() % 9 + 1) + ".el9";
  const std::string arch = i % 4 == 0 ? "noarch" : "x86_64";
  const std::string evr = "epoch=\"0\" ver=\"" + ver + "\" rel=\"" + rel + "\"";
  std::string p = "<package type=\"rpm\">\n  <name>" + name + "</name>\n  <arch>" + arch +
                  "</arch>\n  <version " + evr + "/>\n  <checksum type=\"sha256\" pkgid=\"YES\">" +
                  hex(rng, 64) + "</checksum>\n  <summary>The " + name +
                  " package: tools and libraries</summary>\n  <description>" + name +
                  " provides the programs and libraries that other packages of the " + word(rng) +
                  " family use.\nIt is built from the upstream sources with the distribution's "
                  "patches applied, and\nits documentation is in the -doc subpackage.</description>"
                  "\n  <packager>Bench Build System &lt;http://bugz.example.org&gt;</packager>\n"
                  "  <url>https://example.org/projects/" +
                  name +
                  "</url>\n  <time file=\"1700000000\" build=\"1699990000\"/>\n  <size package=\"" +
                  std::to_string(rng() % 5000000 + 2000) + "\" installed=\"" +
                  std::to_string(rng() % 20000000) + "\" archive=\"" +
                  std::to_string(rng() % 20000000) + "\"/>\n  <location href=\"Packages/" +
                  name.substr(0, 1) + "/" + name + "-" + ver + "-" + rel + "." + arch +
                  ".rpm\"/>\n  <format>\n    <rpm:license>GPL-2.0-or-later AND MIT</rpm:license>\n"
                  "    <rpm:vendor>Bench</rpm:vendor>\n    <rpm:group>Unspecified</rpm:group>\n"
                  "    <rpm:buildhost>builder-" +
                  std::to_string(rng() % 64) + ".example.org</rpm:buildhost>\n    <rpm:sourcerpm>" +
                  name + "-" + ver + "-" + rel +
                  ".src.rpm</rpm:sourcerpm>\n    <rpm:header-range start=\"4504\" end=\"" +
                  std::to_string(rng() % 90000 + 5000) + "\"/>\n    <rpm:provides>\n";
  const int provides = 7 + static_cast<int>(rng() % 7);
  for (int k = 0; k < provides; ++k) {
    if (k == 0) {
      p += "      <rpm:entry name=\"" + name + "\" flags=\"EQ\" " + evr + "/>\n";
    } else if (k == 1) {
      p += "      <rpm:entry name=\"" + name + "(x86-64)\" flags=\"EQ\" " + evr + "/>\n";
    } else {
      p += "      <rpm:entry name=\"lib" + word(rng) + std::to_string(i) + ".so." +
           std::to_string(k) + "()(64bit)\"/>\n";
    }
  }
  p += "    </rpm:provides>\n    <rpm:requires>\n";
  const int requires_ = 11 + static_cast<int>(rng() % 9);
  for (int k = 0; k < requires_; ++k) {
    const int dep = static_cast<int>(rng() % 60000);
    switch (k % 4) {
      case 0:
        p += "      <rpm:entry name=\"libc.so.6(GLIBC_2." + std::to_string(20 + k) +
             ")(64bit)\"/>\n";
        break;
      case 1:
        p += "      <rpm:entry name=\"" + word(rng) + "-" + word(rng) + "-" + std::to_string(dep) +
             "\" flags=\"GE\" epoch=\"0\" ver=\"" + std::to_string(rng() % 20) + ".0\"/>\n";
        break;
      case 2:
        p += "      <rpm:entry name=\"/bin/sh\" pre=\"1\"/>\n";
        break;
      default:
        p += "      <rpm:entry name=\"lib" + word(rng) + std::to_string(dep) +
             ".so.1()(64bit)\"/>\n";
    }
  }
  p += "    </rpm:requires>\n";
  const int files = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < files; ++k) {
    p += "    <file>/usr/bin/" + name + (k ? "-" + std::to_string(k) : "") + "</file>\n";
  }
  p += "  </format>\n</package>\n";
  return p;
}

// The gzipped document, and the size of its text.
std::pair<std::string, std::size_t> make_primary(int packages) {
  std::mt19937 rng(11);
  Gzip gz;
  std::string head =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata "
      "xmlns=\"http://linux.duke.edu/metadata/common\" "
      "xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"" +
      std::to_string(packages) + "\">\n";
  std::size_t text = head.size();
  gz.add(head);
  for (int i = 0; i < packages; ++i) {
    std::string p = package(i, rng);
    text += p.size();
    gz.add(p);
  }
  gz.add("</metadata>\n");
  return {gz.finish(), text + 12};
}

long peak_mib() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024;
}

// Seconds of CPU (user and system) this process has used: on a shared
// machine the wall time also counts the time other processes had the cores.
double cpu_seconds() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// Wall and CPU seconds of rounds runs of fn, each sorted.
struct Times {
  std::vector<double> wall, cpu;
  double median(const std::vector<double>& v) const { return v[v.size() / 2]; }
};
template <typename Fn>
Times run(int rounds, Fn fn) {
  Times t;
  for (int r = 0; r < rounds; ++r) {
    const double cpu_start = cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    fn(r);
    t.wall.push_back(airlock::bench::seconds_since(start));
    t.cpu.push_back(cpu_seconds() - cpu_start);
  }
  std::sort(t.wall.begin(), t.wall.end());
  std::sort(t.cpu.begin(), t.cpu.end());
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const int packages = argc > 1 ? std::stoi(argv[1]) : 60000;
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 5;
  auto [gz, text_size] = make_primary(packages);
  std::printf("bench_rpm_primary_parse: %d packages, %.1f MiB of XML, %.1f MiB gzipped\n", packages,
              static_cast<double>(text_size) / (1 << 20),
              static_cast<double>(gz.size()) / (1 << 20));
  const long before = peak_mib();
  bool ok = true;
  const Times inflate = run(rounds, [&](int) {
    ok = ok && airlock::formats::decompress_index_to(
                   gz, [](std::string_view) -> airlock::Status { return {}; });
  });
  std::uint64_t relations = 0;
  // threads 1: read in order on this thread; 0: in parts on every core.
  auto parse_with = [&](std::size_t threads) {
    return run(rounds, [&](int) {
      std::uint64_t seen = 0;
      relations = 0;
      airlock::rpm::PrimaryParser parser(
          [&](airlock::rpm::RpmPackage&& p) -> airlock::Status {
            ++seen;
            relations += p.provides.size() + p.requirements.size();
            return {};
          },
          {.threads = threads});
      auto s = airlock::formats::decompress_index_to(
          gz, [&](std::string_view piece) { return parser.feed(piece); });
      if (s) s = parser.finish();
      if (!s) std::fprintf(stderr, "bench_rpm_primary_parse: %s\n", s.error().message.c_str());
      ok = ok && s && seen == static_cast<std::uint64_t>(packages);
    });
  };
  const Times in_order = parse_with(1);
  const Times parse = parse_with(0);
  if (!ok) {
    std::fprintf(stderr, "bench_rpm_primary_parse: the document did not parse whole\n");
    return 1;
  }
  std::printf("  %llu relations; %d rounds, medians (CPU time: the machine may be shared)\n",
              static_cast<unsigned long long>(relations), rounds);
  std::printf("  decompress alone    %7.3f s   CPU %.3f s\n", inflate.median(inflate.wall),
              inflate.median(inflate.cpu));
  std::printf("  parse in order      %7.3f s   CPU %.3f s   best %.3f s   (one thread)\n",
              in_order.median(in_order.wall), in_order.median(in_order.cpu), in_order.wall.front());
  std::printf(
      "  parse in parts      %7.3f s   CPU %.3f s   best %.3f s   (%u cores; target < 1 s)\n",
      parse.median(parse.wall), parse.median(parse.cpu), parse.wall.front(),
      std::thread::hardware_concurrency());
  std::printf("  ratio in parts / in order  %.2f\n",
              parse.median(parse.wall) / in_order.median(in_order.wall));
  std::printf(
      "  peak RSS            %7ld MiB (target < 128 MiB; %ld MiB before the parse, the "
      "gzipped document included)\n",
      peak_mib(), before);
  return 0;
}
