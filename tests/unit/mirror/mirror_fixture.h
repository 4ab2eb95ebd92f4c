// What the mirror's unit tests share: the signed sample upstream that
// scripts/make-sample-upstream builds (once, cached in the build tree), a
// Fetcher that serves it from disk, and a low-side home configured for it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "airlock/mirror/home.h"
#include "test_support.h"

namespace airlock::mirror::testing {

// The sample upstream: keyring.gpg, day1/, day2/, expired/, deps/,
// unsatisfiable/ (scripts/make-sample-upstream describes them). Built on first
// use and cached for a day under the build tree (keyed by the script's
// bytes); aborts the test program when it cannot be built.
const std::filesystem::path& sample_upstream();

// Serves a directory as the upstream at base_url, like an HTTP server with
// ETags: 404 for what is not there, 304 for a matching If-None-Match, and
// the checks a real fetcher makes (size, SHA-256, size limit).
class DirFetcher : public Fetcher {
 public:
  DirFetcher(std::string base_url, std::filesystem::path root)
      : base_(std::move(base_url)), root_(std::move(root)) {}
  void set_root(std::filesystem::path root) { root_ = std::move(root); }
  std::vector<FetchResult> fetch(const std::vector<FetchJob>& jobs,
                                 const FetchOptions& options) override;

  std::vector<std::string> requests;  // every URL asked for, in order

 private:
  FetchResult serve(const FetchJob& job) const;
  std::string base_;
  std::filesystem::path root_;
};

inline constexpr const char* kUpstreamUrl = "http://upstream.test/sample";

// The log's records, parsed.
std::vector<nlohmann::json> log_records(const std::filesystem::path& log_file);
// How many records of event the log holds.
int count_events(const std::filesystem::path& log_file, const std::string& event);

// A low-side home for the sample: init, keygen alice, a [[repo]] "sample"
// over DirFetcher (optionally only packages matching a glob).
class LowSideTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Writes the sample's [[repo]] into mirror.toml, with more lines of its
  // table after it (e.g. "with_dependencies = false\n").
  void configure(const std::string& packages_glob = "", const std::string& more = "");
  std::unique_ptr<Home> open(Env* env = nullptr);
  // Syncs every repository with the fetcher; fails the test on an error.
  SyncReport sync(Home& home);
  // A request at least a second after the one before, as real syncs are:
  // two snapshots of one test never share a synced_at.
  SyncRequest request();
  ExportOptions export_options(const std::string& media = "media");
  std::filesystem::path log_file() const { return home_dir / "log" / "transfer-000001.jsonl"; }
  std::vector<nlohmann::json> records() const { return log_records(log_file()); }

  airlock::testing::TempDir dir;
  std::filesystem::path home_dir;
  DirFetcher fetcher{kUpstreamUrl, sample_upstream() / "day1"};
  ChangeInfo who{"tester", "", ""};

 private:
  TimePoint last_now_{};
};

}  // namespace airlock::mirror::testing
