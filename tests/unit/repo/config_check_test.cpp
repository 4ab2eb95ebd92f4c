// airlock-repo config check: a set of broken configurations (trust.json,
// repo.toml, access.toml, the site CA), each named with its exact line.
#include <gtest/gtest.h>

#include <sstream>

#include "airlock/repo/home.h"
#include "test_support.h"

namespace airlock::repo {
namespace {

namespace fs = std::filesystem;
using airlock::testing::read_text;
using airlock::testing::write_text;

class ConfigCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    home_dir = dir / "high";
    ASSERT_TRUE(Home::init(home_dir, "tester"));
    trust(1, {{"alice", {}, {}}});
  }

  struct KeySpec {
    std::string name;
    std::optional<TimePoint> not_before, not_after;
  };
  void trust(int threshold, const std::vector<KeySpec>& keys) {
    TrustPolicy policy;
    policy.threshold = threshold;
    for (const auto& k : keys) {
      auto key = PrivateKey::generate();
      ASSERT_TRUE(key);
      ASSERT_TRUE(policy.add({k.name, key->public_key(), k.not_before, k.not_after}));
    }
    ASSERT_TRUE(policy.save(home_dir / "trust.json"));
  }

  ConfigCheck check() {
    auto home = Home::open(home_dir);
    EXPECT_TRUE(home) << home.error().message;
    if (!home) return {};
    auto c = (*home)->check_config(now);
    EXPECT_TRUE(c) << c.error().message;
    return c ? *c : ConfigCheck{};
  }
  std::vector<std::string> lines() {
    std::vector<std::string> out;
    for (const auto& p : check().problems) out.push_back(p.text());
    return out;
  }
  // The line of the first "key" in trust.json.
  int trust_line(const std::string& key) {
    const std::string text = read_text(home_dir / "trust.json");
    auto at = text.find("\"" + key + "\"");
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
  }
  std::string file(const std::string& name) const { return (home_dir / name).string(); }

  airlock::testing::TempDir dir;
  fs::path home_dir;
  TimePoint now = parse_time("2026-06-01T00:00:00Z").value();
  ChangeInfo who{"tester", "", ""};
};

TEST_F(ConfigCheckTest, AFreshHomeWithOneSignerIsOk) {
  auto c = check();
  EXPECT_TRUE(c.problems.empty()) << c.problems.front().text();
  EXPECT_TRUE(c.ok());
  std::ostringstream text;
  print_config_check(text, c);
  EXPECT_EQ(text.str(), "ok: 1 trusted key, threshold 1, 0 access rules, no site CA\n");
}

TEST_F(ConfigCheckTest, AThresholdNoKeysCanMeetIsNamedAtItsLine) {
  trust(2, {{"alice", {}, {}}});
  EXPECT_EQ(lines(), std::vector<std::string>{
                         file("trust.json") + ":" + std::to_string(trust_line("threshold")) +
                         ": key 'threshold': needs 2 signatures but 1 key is trusted: no bundle "
                         "can be imported (expected at most 1; add keys with 'trust add' or "
                         "lower it with 'trust threshold')"});
  trust(1, {});
  EXPECT_EQ(lines(), std::vector<std::string>{
                         file("trust.json") + ":" + std::to_string(trust_line("threshold")) +
                         ": key 'threshold': needs 1 signature but no key is trusted: no bundle "
                         "can be imported (expected a signer's key: add it with 'trust add')"});
}

TEST_F(ConfigCheckTest, ExpiredKeysWarnAndCountOnlyWhileValid) {
  const TimePoint ended = parse_time("2026-01-01T00:00:00Z").value();
  trust(1, {{"old", {}, ended}});
  auto c = check();
  std::vector<std::string> said;
  for (const auto& p : c.problems) said.push_back(p.text());
  EXPECT_EQ(said, (std::vector<std::string>{
                      file("trust.json") + ":" + std::to_string(trust_line("name")) +
                          ": warning: key 'old': key 'not_after': expired on "
                          "2026-01-01T00:00:00Z: its signatures do not count",
                      file("trust.json") + ":" + std::to_string(trust_line("threshold")) +
                          ": key 'threshold': needs 1 signature but only 0 keys are valid now: no "
                          "bundle can be imported until more are",
                  }));
  EXPECT_FALSE(c.ok());
}

TEST_F(ConfigCheckTest, TrustJsonThatDoesNotReadIsNamed) {
  write_text(home_dir / "trust.json", "{\"threshold\": \"two\", \"keys\": []}\n");
  auto c = check();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].file, file("trust.json"));
  EXPECT_EQ(c.problems[0].message, "trust policy: threshold must be an integer");
}

TEST_F(ConfigCheckTest, TrustJsonThatIsNotJsonIsNamedByTheLineWhereItStops) {
  write_text(home_dir / "trust.json", "{\n  \"threshold\": 1,\n  \"keys\": [,]\n}\n");
  auto c = check();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].file, file("trust.json"));
  EXPECT_EQ(c.problems[0].line, 3);
  EXPECT_FALSE(c.ok());
}

TEST_F(ConfigCheckTest, EveryBrokenRepoTomlIsNamedByLineAndKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[log]\nsislog = true\n",
       ":2: key 'log.sislog': unknown key (the [log] table takes: syslog, syslog_socket)"},
      {"[serve]\nthreads = -1\n", ":2: key 'serve.threads': must be a whole number from 0 to 1024"},
      {"[logs]\n", ":1: key 'logs': unknown table (known: [serve], [log])"},
      {"[serve]\nlisten = \"localhost:80\"\n",
       ":2: key 'serve.listen': expected HOST:PORT with HOST an IP address ([::1]:8080 for "
       "IPv6), got 'localhost:80'"},
      {"[serve]\nlisten_tls = \"0.0.0.0:8443\"\n",
       ":2: key 'serve.listen_tls': needs serve.tls_cert and serve.tls_key"},
      {"[serve]\nlisten = \"127.0.0.1:8080\"\ntls_cert = \"/c.crt\"\n",
       ":3: key 'serve.tls_cert': goes with serve.listen_tls (serve refuses it alone)"},
      {"[serve]\nlisten_tls = \"0.0.0.0:8443\"\ntls_cert = \"/c\"\ntls_key = \"/k\"\ncrl = "
       "\"/r\"\n",
       ":5: key 'serve.crl': goes with serve.client_ca"},
  };
  for (const auto& [text, said] : cases) {
    write_text(home_dir / "repo.toml", text);
    EXPECT_EQ(lines(), std::vector<std::string>{file("repo.toml") + said}) << text;
  }
}

TEST_F(ConfigCheckTest, TlsFilesMustBeThereAndAPair) {
  {
    auto home = Home::open(home_dir).value();
    ASSERT_TRUE(home->ca_init({}, who));
    ASSERT_TRUE(home->ca_issue({"a.example", {}, 30}, who));
    ASSERT_TRUE(home->ca_issue({"b.example", {}, 30}, who));
  }
  const fs::path hosts = home_dir / "ca" / "hosts";
  const std::string cert = (hosts / "a.example" / "a.example.crt").string();
  const std::string key_a = (hosts / "a.example" / "a.example.key").string();
  const std::string key_b = (hosts / "b.example" / "b.example.key").string();
  const std::string ca = (home_dir / "ca" / "ca.crt").string();
  auto settings = [&](const std::string& key) {
    write_text(home_dir / "repo.toml", "[serve]\nlisten_tls = \"0.0.0.0:8443\"\ntls_cert = \"" +
                                           cert + "\"\ntls_key = \"" + key + "\"\nclient_ca = \"" +
                                           ca + "\"\n");
  };
  settings(key_a);
  auto good = check();
  EXPECT_TRUE(good.problems.empty()) << good.problems.front().text();
  EXPECT_TRUE(good.site_ca);
  settings(key_b);
  EXPECT_EQ(lines(),
            std::vector<std::string>{file("repo.toml") + ":4: key 'serve.tls_key': --tls-key " +
                                     key_b + " does not belong to the certificate in " + cert});
  settings((dir / "gone.key").string());
  auto gone = check();
  ASSERT_EQ(gone.problems.size(), 1u);
  EXPECT_EQ(gone.problems[0].line, 4);
  EXPECT_EQ(gone.problems[0].key, "serve.tls_key");
}

TEST_F(ConfigCheckTest, AccessRulesAreCheckedAsServeReadsThem) {
  write_text(home_dir / "access.toml",
             "[[rule]]\nname = \"lab\"\nchannels = [\"*\"]\naddresses = [\"10.0.0.1/8\"]\n");
  EXPECT_EQ(lines(), std::vector<std::string>{
                         file("access.toml") +
                         ":4: rule 'lab': key 'addresses': '10.0.0.1/8' has bits set after the "
                         "prefix (did you mean 10.0.0.0/8?)"});
  write_text(home_dir / "access.toml",
             "[[rule]]\nname = \"lab\"\nchannels = [\"*\"]\ncolour = \"red\"\n");
  auto unknown = check();
  ASSERT_EQ(unknown.problems.size(), 1u);
  EXPECT_EQ(unknown.problems[0].line, 4);
  EXPECT_EQ(unknown.problems[0].item, "rule 'lab'");
  EXPECT_EQ(unknown.problems[0].key, "colour");
}

// A rule may be written before its channel exists: a warning, not an error.
TEST_F(ConfigCheckTest, ARuleForAChannelNotPublishedYetIsAWarning) {
  write_text(home_dir / "access.toml",
             "[[rule]]\nname = \"web\"\nchannels = [\"prod\"]\nrepos = [\"debian\"]\n"
             "cn = \"web-*\"\n");
  auto c = check();
  std::vector<std::string> said;
  for (const auto& p : c.problems) said.push_back(p.text());
  EXPECT_EQ(said, (std::vector<std::string>{
                      file("access.toml") +
                          ":3: warning: rule 'web': key 'channels': no channel 'prod' exists yet: "
                          "the rule grants nothing there until something is published to it",
                      file("access.toml") +
                          ":4: warning: rule 'web': key 'repos': no channel serves a repository "
                          "'debian' yet",
                  }));
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.access_rules, 1u);
}

TEST_F(ConfigCheckTest, ASiteCaKeyThatIsNotTheCasIsNamed) {
  {
    auto home = Home::open(home_dir).value();
    ASSERT_TRUE(home->ca_init({}, who));
    ASSERT_TRUE(home->ca_issue({"a.example", {}, 30}, who));
  }
  const fs::path ca = home_dir / "ca";
  fs::copy_file(ca / "hosts" / "a.example" / "a.example.crt", ca / "ca.crt",
                fs::copy_options::overwrite_existing);
  auto c = check();
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].file, (ca / "ca.key").string());
  EXPECT_FALSE(c.ok());
  EXPECT_FALSE(c.site_ca);
  fs::remove(ca / "ca.crt");
  EXPECT_EQ(lines(), std::vector<std::string>{
                         (ca / "ca.crt").string() + ": missing while " + (ca / "ca.key").string() +
                         " is there (expected both, as 'ca init' makes them)"});
}

TEST_F(ConfigCheckTest, JsonListsEachProblemByFileLineItemAndKey) {
  write_text(home_dir / "repo.toml", "[serve]\nthreads = -1\n");
  auto j = to_json(check());
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["trusted_keys"], 1);
  ASSERT_EQ(j["problems"].size(), 1u);
  const auto& p = j["problems"][0];
  EXPECT_EQ(p["file"], file("repo.toml"));
  EXPECT_EQ(p["line"], 2);
  EXPECT_EQ(p["key"], "serve.threads");
  EXPECT_EQ(p["message"], "must be a whole number from 0 to 1024");
  EXPECT_EQ(p["severity"], "error");
}

}  // namespace
}  // namespace airlock::repo
