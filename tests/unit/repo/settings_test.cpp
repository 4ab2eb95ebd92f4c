// repo.toml: the template reads as the defaults, every setting is read, and
// every mistake is named with the file and the key.
#include "airlock/repo/settings.h"

#include <gtest/gtest.h>

namespace airlock::repo {
namespace {

TEST(SettingsTest, TemplateReadsAsTheDefaults) {
  auto o = parse_settings(settings_template(), "repo.toml");
  ASSERT_TRUE(o) << o.error().message;
  const ServeOptions d;
  EXPECT_EQ(o->listen, d.listen);
  EXPECT_EQ(o->threads, d.threads);
  EXPECT_EQ(o->idle_timeout, d.idle_timeout);
  EXPECT_EQ(o->max_connections, d.max_connections);
  EXPECT_EQ(o->syslog_socket, "");
}

TEST(SettingsTest, ReadsEverySetting) {
  auto o = parse_settings(
      "[serve]\nlisten = \"0.0.0.0:9000\"\nthreads = 8\nidle_timeout = 5\nmax_connections = 300\n"
      "[log]\nsyslog = true\n",
      "repo.toml");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->listen, "0.0.0.0:9000");
  EXPECT_EQ(o->threads, 8);
  EXPECT_EQ(o->idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(o->max_connections, 300u);
  EXPECT_EQ(o->syslog_socket, "/dev/log");
  auto socket = parse_settings("[log]\nsyslog_socket = \"/run/x.sock\"\n", "repo.toml");
  ASSERT_TRUE(socket);
  EXPECT_EQ(socket->syslog_socket, "/run/x.sock");
  auto off = parse_settings("[log]\nsyslog = false\n", "repo.toml");
  ASSERT_TRUE(off);
  EXPECT_EQ(off->syslog_socket, "");
}

// HTTPS settings; listen_tls without listen serves HTTPS alone.
TEST(SettingsTest, ReadsTheHttpsSettings) {
  auto tls_only = parse_settings(
      "[serve]\nlisten_tls = \"0.0.0.0:8443\"\ntls_cert = \"/c.crt\"\ntls_key = \"/c.key\"\n"
      "client_ca = \"/ca.crt\"\ncrl = \"/ca.crl\"\n",
      "repo.toml");
  ASSERT_TRUE(tls_only) << tls_only.error().message;
  EXPECT_EQ(tls_only->listen_tls, "0.0.0.0:8443");
  EXPECT_EQ(tls_only->listen, "");
  EXPECT_FALSE(tls_only->listen_set);
  EXPECT_EQ(tls_only->tls_cert, "/c.crt");
  EXPECT_EQ(tls_only->tls_key, "/c.key");
  EXPECT_EQ(tls_only->client_ca, "/ca.crt");
  EXPECT_EQ(tls_only->crl, "/ca.crl");
  auto both = parse_settings("[serve]\nlisten = \"127.0.0.1:80\"\nlisten_tls = \"127.0.0.1:443\"\n",
                             "repo.toml");
  ASSERT_TRUE(both) << both.error().message;
  EXPECT_EQ(both->listen, "127.0.0.1:80");
  EXPECT_TRUE(both->listen_set);
  auto bad = parse_settings("[serve]\ntls_cert = 1\n", "repo.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "repo.toml: serve.tls_cert must be a non-empty string");
}

TEST(SettingsTest, RefusesMistakesNamingFileAndKey) {
  const std::pair<const char*, const char*> cases[] = {
      {"[log]\nsyslog = 1\n", "repo.toml: log.syslog must be true or false"},
      {"[log]\nsislog = true\n", "repo.toml: unknown key 'log.sislog'"},
      {"[logs]\nsyslog = true\n", "repo.toml: unknown table [logs] (known: [serve], [log])"},
      {"log = 1\n", "repo.toml: 'log' must be a table, [log]"},
      {"[serve]\nthreads = -1\n", "repo.toml: serve.threads must be a whole number from 0 to 1024"},
      {"[serve]\nidle_timeout = 0\n",
       "repo.toml: serve.idle_timeout must be a whole number from 1 to 86400"},
      {"[serve]\nlisten = 8080\n", "repo.toml: serve.listen must be a non-empty string"},
      {"[serve]\nmax_connections = -1\n",
       "repo.toml: serve.max_connections must be a whole number from 0 to 1000000"},
      {"[log]\nsyslog_socket = \"\"\n", "repo.toml: log.syslog_socket must be a non-empty string"},
  };
  for (const auto& [text, message] : cases) {
    auto o = parse_settings(text, "repo.toml");
    ASSERT_FALSE(o) << text;
    EXPECT_EQ(o.error().code, Code::invalid_input);
    EXPECT_EQ(o.error().message, message);
  }
  auto broken = parse_settings("[log\n", "repo.toml");
  ASSERT_FALSE(broken);
  EXPECT_TRUE(broken.error().message.starts_with("repo.toml:1: ")) << broken.error().message;
}

TEST(SettingsTest, AMissingFileGivesTheDefaults) {
  auto o = load_settings("/nonexistent/repo.toml");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->listen, ServeOptions{}.listen);
}

}  // namespace
}  // namespace airlock::repo
