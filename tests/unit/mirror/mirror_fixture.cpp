#include "mirror_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>

namespace airlock::mirror::testing {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// "YYYY-MM-DD" of today, UTC.
std::string today() { return format_time(system_now()).substr(0, 10); }

fs::path build_sample(const fs::path& cache_root) {
  const fs::path script = fs::path(AIRLOCK_SOURCE_DIR) / "scripts" / "make-sample-upstream";
  const std::string key = sha256(airlock::testing::read_text(script)).hex().substr(0, 12);
  const fs::path dir = cache_root / ("sample-upstream-" + key + "-" + today());
  std::error_code ec;
  if (fs::exists(dir / "keyring.gpg", ec)) return dir;
  const fs::path tmp = cache_root / ("sample-upstream.tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  const std::string cmd = "'" + script.string() + "' '" + tmp.string() + "' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "cannot build the sample upstream: %s\n", cmd.c_str());
    std::abort();
  }
  // Another test process may have been quicker: then its copy serves.
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp, ec);
  // Copies of earlier days go.
  for (fs::directory_iterator it(cache_root, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.starts_with("sample-upstream-") && it->path() != dir) fs::remove_all(it->path(), ec);
  }
  return dir;
}

}  // namespace

const fs::path& sample_upstream() {
  static const fs::path dir = build_sample(AIRLOCK_TEST_CACHE);
  return dir;
}

FetchResult DirFetcher::serve(const FetchJob& job) const {
  FetchResult r;
  r.attempts = 1;
  std::error_code ec;
  const fs::path file =
      job.url.starts_with(base_ + "/") ? root_ / job.url.substr(base_.size() + 1) : fs::path();
  if (file.empty() || !fs::is_regular_file(file, ec)) {
    r.http_status = 404;
    r.missing = true;
    return r;
  }
  const std::string bytes = airlock::testing::read_text(file);
  const Digest sha = sha256(bytes);
  r.etag = "\"" + sha.hex() + "\"";
  if (!job.if_none_match.empty() && job.if_none_match == r.etag) {
    r.http_status = 304;
    r.not_modified = true;
    return r;
  }
  r.http_status = 200;
  if (bytes.size() > job.max_size || (job.expected_size && bytes.size() != *job.expected_size)) {
    r.error = Error{Code::refused,
                    job.url + ": " + std::to_string(bytes.size()) + " bytes, more than expected"};
  } else if (job.expected_sha256 && sha != *job.expected_sha256) {
    r.error = Error{Code::refused, job.url + " does not match the signed index: expected sha256 " +
                                       job.expected_sha256->hex() + ", actual " + sha.hex()};
  } else {
    fs::create_directories(job.dest.parent_path(), ec);
    airlock::testing::write_text(job.dest, bytes);
    r.sha256 = sha;
    r.size = bytes.size();
  }
  return r;
}

std::vector<FetchResult> DirFetcher::fetch(const std::vector<FetchJob>& jobs, const FetchOptions&) {
  std::vector<FetchResult> out;
  for (const auto& job : jobs) {
    requests.push_back(job.url);
    out.push_back(serve(job));
  }
  return out;
}

std::vector<json> log_records(const fs::path& log_file) {
  std::vector<json> out;
  std::ifstream in(log_file);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line, nullptr, false));
  return out;
}

int count_events(const fs::path& log_file, const std::string& event) {
  int n = 0;
  for (const auto& r : log_records(log_file)) n += r.value("event", "") == event;
  return n;
}

void LowSideTest::SetUp() {
  home_dir = dir / "low";
  ASSERT_TRUE(Home::init(home_dir, "tester"));
  configure();
  auto home = open();
  auto key = home->keygen("alice", who);
  ASSERT_TRUE(key) << key.error().message;
}

void LowSideTest::configure(const std::string& packages_glob, const std::string& more) {
  std::string text =
      "[[repo]]\nname = \"sample\"\nkind = \"apt\"\nurl = \"" + std::string(kUpstreamUrl) +
      "\"\nsuites = [\"bookworm\"]\ncomponents = [\"main\"]\narchitectures = [\"amd64\"]\n"
      "keyring = \"" +
      (sample_upstream() / "keyring.gpg").string() + "\"\n";
  if (!packages_glob.empty()) text += "packages = [\"" + packages_glob + "\"]\n";
  airlock::testing::write_text(home_dir / "mirror.toml", text + more);
}

std::unique_ptr<Home> LowSideTest::open(Env* env) {
  auto home = Home::open(home_dir, HomeOptions{env});
  EXPECT_TRUE(home) << home.error().message;
  return home ? std::move(*home) : nullptr;
}

SyncRequest LowSideTest::request() {
  SyncRequest req;
  req.fetcher = &fetcher;
  req.jobs = 2;
  req.now = std::max(system_now(), last_now_ + std::chrono::seconds(1));
  last_now_ = req.now;
  req.operator_name = "tester";
  return req;
}

SyncReport LowSideTest::sync(Home& home) {
  auto results = home.sync({}, request());
  EXPECT_TRUE(results) << results.error().message;
  if (!results || results->size() != 1) return {};
  EXPECT_TRUE(results->front().report) << results->front().report.error().message;
  return results->front().report.value_or(SyncReport{});
}

ExportOptions LowSideTest::export_options(const std::string& media) {
  ExportOptions opt;
  opt.stream = "sample";
  opt.out = dir / media;
  opt.keys = {"alice"};
  opt.operator_name = "tester";
  opt.now = system_now();
  opt.volume_size = 1 << 20;
  return opt;
}

}  // namespace airlock::mirror::testing
