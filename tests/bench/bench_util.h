// Small helpers shared by the side-by-side benchmarks.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace airlock::bench {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs argv with stdout to /dev/null; returns wall seconds, or -1 on failure.
inline double time_command(const std::vector<std::string>& argv) {
  auto start = std::chrono::steady_clock::now();
  pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  return seconds_since(start);
}

// Writes size bytes of pseudo-random (incompressible) data.
inline void make_random_file(const std::filesystem::path& path, std::uint64_t size,
                             std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::uint64_t> buf(1 << 17);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  while (size > 0) {
    for (auto& w : buf) w = rng();
    auto n = std::min<std::uint64_t>(size, buf.size() * sizeof(std::uint64_t));
    out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(n));
    size -= n;
  }
}

}  // namespace airlock::bench
