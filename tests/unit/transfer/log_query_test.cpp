#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "airlock/transfer/log.h"
#include "airlock/transfer/log_command.h"
#include "test_support.h"

namespace airlock {
namespace {

using json = nlohmann::json;
using testing::TempDir;

const std::string kObject(64, 'a');

// A log with an old-style pull (path stored encoded), a new-style pull
// (decoded path and raw target), an imported and a refused import.
class LogQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = TransferLog::open(dir_ / "log").value();
    std::vector<std::string> pulls = {
        R"("client":"10.0.0.1","method":"GET","path":"/prod/debian/pool/main/o/openssl/openssl_3.0.22-1%7edeb12u2_amd64.deb","object":")" +
            kObject + R"(","status":200,"bytes":10,"duration_ms":1.5)",
        R"("client":"10.0.0.2","method":"GET","path":"/prod/debian/pool/main/t/tzdata/tzdata_1%3a2024a-0_all.deb","target":"/prod/debian/pool/main/t/tzdata/tzdata_1%253a2024a-0_all.deb","object":null,"status":404,"bytes":0,"duration_ms":0.2)",
        R"("client":"10.0.0.2","method":"GET","path":"/=cmd|' /C calc'!A0\u001b[31m\u202e","target":"/=cmd|'%20/C%20calc'!A0%1b[31m%e2%80%ae","object":null,"status":404,"bytes":0,"duration_ms":0.1)"};
    ASSERT_TRUE(log_->append_trusted("pull", pulls));
    ASSERT_TRUE(log_->append("import", json{{"result", "imported"},
                                            {"bundle", "airlock-debian-000001"},
                                            {"signers", {"alice", "bob"}},
                                            {"reason", "=HYPERLINK(\"x\")"},
                                            {"media_label", "usb\tstick"}}
                                           .dump()));
    ASSERT_TRUE(log_->append("import", R"({"result":"refused","reason":"bad signature"})"));
    ASSERT_TRUE(log_->append(
        "custody", json{{"bundle", "b"},
                        {"record", {{"n", 4}, {"time", "2026-11-01T00:00:00Z"}, {"event", "sync"}}},
                        {"novel", 1}}
                       .dump()));
  }

  std::string run(const LogQuery& q, LogFormat format = LogFormat::text) {
    std::ostringstream out;
    auto s = write_log_query(*log_, q, format, out);
    EXPECT_TRUE(s) << s.error().message;
    return out.str();
  }

  std::size_t lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  TempDir dir_;
  std::unique_ptr<TransferLog> log_;
};

TEST_F(LogQueryTest, OldEncodedPullPathsArePresentedDecoded) {
  auto j = presented_record(json::parse(log_->record(0).value()));
  EXPECT_EQ(j["path"], "/prod/debian/pool/main/o/openssl/openssl_3.0.22-1~deb12u2_amd64.deb");
  EXPECT_EQ(j["target"], "/prod/debian/pool/main/o/openssl/openssl_3.0.22-1%7edeb12u2_amd64.deb");
  // A record that names its target is decoded already: never decoded twice.
  auto k = presented_record(json::parse(log_->record(1).value()));
  EXPECT_EQ(k["path"], "/prod/debian/pool/main/t/tzdata/tzdata_1%3a2024a-0_all.deb");
}

TEST_F(LogQueryTest, OldPathsWithInvalidUtf8AreEscapedAsTheLogDoes) {
  auto j = presented_record(json{{"event", "pull"}, {"path", "/a%ff%41"}});
  EXPECT_EQ(j["path"], "/a\\xffA");
}

TEST_F(LogQueryTest, PackageFindsTheDecodedDebWithOrWithoutVersionAndEpoch) {
  LogQuery q;
  q.package = "openssl";
  EXPECT_EQ(lines(run(q)), 1u);
  q.version = "3.0.22-1~deb12u2";
  EXPECT_EQ(lines(run(q)), 1u);
  q.version = "3.0.22-1";
  EXPECT_EQ(lines(run(q)), 0u);
  LogQuery tz;
  tz.package = "tzdata";
  tz.version = "1:2024a-0";
  EXPECT_EQ(lines(run(tz)), 1u);
  tz.version = "2024a-0";
  EXPECT_EQ(lines(run(tz)), 1u);
  tz.package = "tzdat";
  EXPECT_EQ(lines(run(tz)), 0u);
}

TEST_F(LogQueryTest, FiltersCombineWithAnd) {
  LogQuery q;
  q.path_glob = "*~deb12u2*";
  EXPECT_EQ(lines(run(q)), 1u);
  q.client = "10.0.0.2";
  EXPECT_EQ(lines(run(q)), 0u);
  LogQuery by_client;
  by_client.client = "10.0.0.2";
  EXPECT_EQ(lines(run(by_client)), 2u);
  by_client.event = "import";
  EXPECT_EQ(lines(run(by_client)), 0u);
  LogQuery by_object;
  by_object.object = Digest::parse(kObject).value();
  EXPECT_EQ(lines(run(by_object)), 1u);
  LogQuery refused;
  refused.result = "refused";
  EXPECT_EQ(lines(run(refused)), 1u);
  EXPECT_NE(run(refused).find("bad signature"), std::string::npos);
}

TEST_F(LogQueryTest, TimeBoundsAreInclusive) {
  auto t = parse_time(json::parse(log_->record(0).value())["time"].get<std::string>()).value();
  LogQuery q;
  q.since = t;
  q.until = t;
  EXPECT_EQ(lines(run(q)), 6u);
  q.since = t + std::chrono::seconds(1);
  EXPECT_EQ(lines(run(q)), 0u);
  LogQuery before;
  before.until = t - std::chrono::seconds(1);
  EXPECT_EQ(lines(run(before)), 0u);
}

TEST_F(LogQueryTest, ShowEscapesControlAndBidiCharacters) {
  LogQuery q;
  q.path_glob = "/=cmd*";
  auto text = run(q);
  EXPECT_EQ(lines(text), 1u);
  EXPECT_EQ(text.find('\x1b'), std::string::npos);
  EXPECT_EQ(text.find("\xe2\x80\xae"), std::string::npos);
  EXPECT_NE(text.find("\\x1b[31m\\u{202e}"), std::string::npos);
}

TEST_F(LogQueryTest, JsonlIsTheStoredLinesFiltered) {
  LogQuery q;
  q.event = "import";
  EXPECT_EQ(run(q, LogFormat::jsonl),
            log_->record(3).value() + "\n" + log_->record(4).value() + "\n");
}

TEST_F(LogQueryTest, CsvCarriesEveryFieldNeutralisedAndEscaped) {
  auto csv = run({}, LogFormat::csv);
  std::string header;
  for (auto c : log_csv_columns()) header += (header.empty() ? "" : ",") + std::string(c);
  EXPECT_TRUE(csv.starts_with(header + "\n"));
  EXPECT_EQ(lines(csv), 7u);  // header and six records: no value breaks a row
  EXPECT_NE(csv.find("\"[\"\"alice\"\",\"\"bob\"\"]\""), std::string::npos);  // signers as JSON
  EXPECT_NE(csv.find("'=HYPERLINK("), std::string::npos);
  EXPECT_NE(csv.find("usb\\x09stick"), std::string::npos);
  EXPECT_NE(csv.find("/=cmd|' /C calc'!A0\\x1b[31m\\u{202e}"), std::string::npos);
  EXPECT_NE(csv.find(",sync,"), std::string::npos);  // record_event of the custody record
  EXPECT_NE(csv.find("\"{\"\"novel\"\":1}\""), std::string::npos);  // a field no column names
  EXPECT_NE(csv.find("openssl_3.0.22-1~deb12u2_amd64.deb"), std::string::npos);
}

TEST(LogQuery, ARecordThatIsNotJsonStopsTheOutputNamingIt) {
  TempDir d;
  // Chained correctly (n, prev_root of the empty tree) but not JSON.
  std::filesystem::create_directories(d / "log");
  testing::write_text(d / "log" / "transfer-000001.jsonl",
                      "{\"n\":0,\"time\":oops,\"prev_root\":"
                      "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}\n");
  auto log = TransferLog::open(d / "log").value();
  std::ostringstream out;
  auto s = write_log_query(*log, {}, LogFormat::csv, out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::corrupt);
  EXPECT_NE(s.error().message.find("record 0 is not a JSON object"), std::string::npos);
  EXPECT_EQ(out.str().find('\n'), out.str().size() - 1);  // the header only
}

}  // namespace
}  // namespace airlock
