// access.toml: rules read strictly (every mistake named with the file, the
// rule and the key), matched by every condition they state, and written
// back as they were read.
#include "airlock/repo/access.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>

#include "test_support.h"

namespace airlock::repo {
namespace {

const std::string kFp(64, 'a');
const std::string kCa(64, 'c');

AccessPolicy parse(const std::string& text) {
  auto p = AccessPolicy::parse(text, "access.toml");
  EXPECT_TRUE(p) << p.error().message;
  return p ? std::move(*p) : AccessPolicy{};
}

ClientIdentity host(std::string cn, std::string address = "10.0.0.5",
                    std::vector<std::string> units = {"servers"}) {
  ClientIdentity c;
  c.address = std::move(address);
  c.subject = "CN=" + cn;
  c.common_name = std::move(cn);
  c.units = std::move(units);
  c.fingerprint = kFp;
  c.issuer_fingerprint = kCa;
  return c;
}

ClientIdentity address_only(std::string address) {
  ClientIdentity c;
  c.address = std::move(address);
  return c;
}

TEST(AccessPolicyTest, NoFileAndNoRulesAllowEverything) {
  testing::TempDir dir;
  auto absent = AccessPolicy::load(dir / "access.toml");
  ASSERT_TRUE(absent) << absent.error().message;
  EXPECT_TRUE(absent->empty());
  EXPECT_FALSE(absent->refuses(address_only("10.0.0.5"), "prod", "debian"));
  testing::write_text(dir / "access.toml", "# nothing yet\n");
  auto none = AccessPolicy::load(dir / "access.toml");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(none->refuses(host("anyone"), "prod", "debian"));
}

TEST(AccessPolicyTest, ReadsEveryKeyAndWritesTheSameRulesBack) {
  auto p = parse(
      "[[rule]]\nname = \"web servers\"\nchannels = [\"prod\"]\nrepos = [\"debian\"]\n"
      "cn = \"web-*\"\nou = \"servers\"\nfingerprint = \"" +
      kFp + "\"\nca = \"" + kCa +
      "\"\naddresses = [\"10.0.0.0/8\", \"fd00::/8\"]\n\n"
      "[[rule]]\nname = \"lab\"\nchannels = [\"*\"]\naddresses = [\"192.168.1.7\"]\n");
  ASSERT_EQ(p.rules().size(), 2u);
  const auto& r = p.rules()[0];
  EXPECT_EQ(r.name, "web servers");
  EXPECT_EQ(r.channels, std::vector<std::string>{"prod"});
  EXPECT_EQ(r.repos, std::vector<std::string>{"debian"});
  EXPECT_EQ(r.cn, "web-*");
  EXPECT_EQ(r.ou, "servers");
  EXPECT_EQ(r.fingerprint, kFp);
  EXPECT_EQ(r.ca, kCa);
  EXPECT_EQ(r.addresses, (std::vector<std::string>{"10.0.0.0/8", "fd00::/8"}));
  EXPECT_EQ(p.rules()[1].repos, std::vector<std::string>{"*"});  // the default
  auto again = AccessPolicy::parse(p.to_toml(), "written");
  ASSERT_TRUE(again) << again.error().message << "\n" << p.to_toml();
  EXPECT_EQ(again->to_toml(), p.to_toml());
  EXPECT_EQ(to_json(again->rules()[0]), to_json(r));
  EXPECT_EQ(to_json(again->rules()[1]), to_json(p.rules()[1]));
  // Any name is written so that it reads back the same.
  AccessPolicy quoted;
  const std::string name = "it's \"quoted\" \\ ünïcode";
  ASSERT_TRUE(quoted.add({name, {"prod"}, {"*"}, "h'*", "", "", "", {}}));
  auto read = AccessPolicy::parse(quoted.to_toml(), "written");
  ASSERT_TRUE(read) << read.error().message << "\n" << quoted.to_toml();
  EXPECT_EQ(read->rules()[0].name, name);
  EXPECT_EQ(read->rules()[0].cn, "h'*");
}

TEST(AccessPolicyTest, RefusesMistakesNamingFileRuleAndKey) {
  const std::string head = "[[rule]]\nname = \"web\"\nchannels = [\"prod\"]\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {head + "cn = \"web-*\"\ncolour = \"red\"\n",
       "access.toml: rule 'web': key 'colour': unknown key (known: name, channels, repos, cn, ou, "
       "fingerprint, ca, addresses)"},
      {head + "cn = \"web-[\"\n",
       "access.toml: rule 'web': key 'cn': 'web-[': '[' at 5 is not closed"},
      {head + "ou = \"\"\n", "access.toml: rule 'web': key 'ou': must be a non-empty string"},
      {head + "addresses = [\"10.0.0.0/33\"]\n",
       "access.toml: rule 'web': key 'addresses': '10.0.0.0/33': expected an IPv4 or IPv6 address "
       "or CIDR range"},
      {head + "addresses = [\"fd00::/129\"]\n", "key 'addresses': 'fd00::/129': expected"},
      {head + "addresses = [\"web1.example\"]\n", "key 'addresses': 'web1.example': expected"},
      {head + "addresses = [\"10.1.2.3/8\"]\n",
       "key 'addresses': '10.1.2.3/8' has bits set after the prefix (did you mean 10.0.0.0/8?)"},
      {head + "addresses = [\"fd00::1/64\"]\n", "(did you mean fd00::/64?)"},
      {head + "addresses = [\"fe80::1%eth0\"]\n",
       "'fe80::1%eth0': a client's address is matched without its interface; give it without %"},
      {head + "addresses = \"10.0.0.0/8\"\n", "key 'addresses': must be a list of strings"},
      {"[[rule]]\nname = \"web\"\nchannels = [\"Prod/x\"]\ncn = \"a\"\n",
       "access.toml: rule 'web': key 'channels': channel name 'Prod/x' must be 1-32 characters of "
       "a-z 0-9 - _, starting with a letter"},
      {"[[rule]]\nname = \"web\"\nchannels = []\ncn = \"a\"\n",
       "key 'channels': name at least one"},
      {"[[rule]]\nname = \"web\"\ncn = \"a\"\n", "key 'channels': name at least one"},
      {head + "repos = [\"../x\"]\ncn = \"a\"\n",
       "key 'repos': repository name '../x' must be 1-128 characters"},
      {head + "fingerprint = \"AB:CD\"\n",
       "key 'fingerprint': 'AB:CD' is not a SHA-256 fingerprint (64 hex digits)"},
      {head + "ca = 7\n", "access.toml: rule 'web': key 'ca': must be a non-empty string"},
      {head, "access.toml: rule 'web': the rule states no condition"},
      {"[[rule]]\nchannels = [\"prod\"]\ncn = \"a\"\n",
       "access.toml: rule 1: key 'name': a rule needs a name"},
      {head + "cn = \"a\"\n" + head + "cn = \"b\"\n",
       "access.toml: rule 'web': key 'name': a second rule with this name"},
      {"channels = [\"prod\"]\n",
       "access.toml: unknown key 'channels' (rules are [[rule]] tables)"},
      {"rule = \"x\"\n", "access.toml: 'rule' must be [[rule]] tables"},
      {"[[rule]]\nname = \"web\nx", "access.toml:2: "},
  };
  for (const auto& [text, message] : cases) {
    auto p = AccessPolicy::parse(text, "access.toml");
    ASSERT_FALSE(p) << text;
    EXPECT_EQ(p.error().code, Code::invalid_input) << text;
    EXPECT_NE(p.error().message.find(message), std::string::npos) << text << "\n"
                                                                  << p.error().message;
    EXPECT_EQ(p.error().message.find('\n'), std::string::npos) << p.error().message;
  }
}

TEST(AccessPolicyTest, ARuleMatchesWhenEveryConditionItStatesMatches) {
  auto p = parse(
      "[[rule]]\nname = \"web\"\nchannels = [\"prod\"]\ncn = \"web-*\"\nou = \"serv*\"\n"
      "addresses = [\"10.0.0.0/8\"]\n");
  EXPECT_FALSE(p.refuses(host("web-01"), "prod", "debian"));
  EXPECT_FALSE(p.refuses(host("web-01", "10.0.0.9", {"lab", "servers"}), "prod", "debian"));
  EXPECT_TRUE(p.refuses(host("db-01"), "prod", "debian"));                        // cn
  EXPECT_TRUE(p.refuses(host("web-01", "10.0.0.5", {"desktops"}), "prod", "x"));  // ou
  EXPECT_TRUE(p.refuses(host("web-01", "192.168.0.1"), "prod", "debian"));        // address
  // Without a certificate no CN or OU condition holds, whatever the fields say.
  auto no_cert = host("web-01");
  no_cert.fingerprint.clear();
  EXPECT_TRUE(p.refuses(no_cert, "prod", "debian"));
}

TEST(AccessPolicyTest, AddressRangesHoldForMappedAndLinkLocalClients) {
  auto p = parse(
      "[[rule]]\nname = \"lan\"\nchannels = [\"prod\"]\n"
      "addresses = [\"10.0.0.0/8\", \"fe80::/10\", \"fd00::1\"]\n");
  EXPECT_FALSE(p.refuses(address_only("::ffff:10.1.2.3"), "prod", "debian"));
  EXPECT_FALSE(p.refuses(address_only("fe80::1%lo"), "prod", "debian"));
  EXPECT_FALSE(p.refuses(address_only("fd00::1"), "prod", "debian"));
  EXPECT_TRUE(p.refuses(address_only("fd00::2"), "prod", "debian"));
  EXPECT_TRUE(p.refuses(address_only("11.0.0.1"), "prod", "debian"));
}

TEST(AccessPolicyTest, RefusalNamesTheClientAndWhatItAskedFor) {
  auto p = parse("[[rule]]\nname = \"web\"\nchannels = [\"test\"]\ncn = \"web-*\"\n");
  EXPECT_EQ(p.refuses(host("web1"), "prod", "debian"),
            "no access rule allows CN=web1 (10.0.0.5) to read prod/debian");
  EXPECT_EQ(p.refuses(address_only("10.0.0.6"), "test", "debian"),
            "no access rule allows 10.0.0.6 to read test/debian");
}

TEST(AccessPolicyTest, AddAndRemoveRefuseWithoutChangingThePolicy) {
  AccessPolicy p;
  AccessRule web{"web", {"prod"}, {"*"}, "web-*", "", "", "", {}};
  ASSERT_TRUE(p.add(web));
  const std::string before = p.to_toml();
  auto again = p.add(web);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::conflict);
  EXPECT_EQ(again.error().message, "an access rule named 'web' exists already");
  AccessRule bad{"lab", {"test"}, {"*"}, "", "", "", "", {"10.0.0.0/8", "10.0.0.0/40"}};
  auto refused = p.add(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::invalid_input);
  EXPECT_NE(refused.error().message.find("access rule 'lab': --address: '10.0.0.0/40'"),
            std::string::npos)
      << refused.error().message;
  AccessRule none{"none", {"test"}, {"*"}, "", "", "", "", {}};
  EXPECT_EQ(p.add(none).error().message,
            "access rule 'none': the rule states no condition (cn, ou, fingerprint, ca or "
            "addresses)");
  auto unknown = p.remove("lab");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::not_found);
  EXPECT_EQ(unknown.error().message, "no access rule named 'lab' (rules: 'web')");
  EXPECT_EQ(p.to_toml(), before);
  // A fingerprint as openssl prints it is stored as lowercase hex.
  std::string colons, lower;
  for (int i = 0; i < 32; ++i) colons += std::string(i ? ":" : "") + "AB", lower += "ab";
  ASSERT_TRUE(p.add({"one host", {"prod"}, {"*"}, "", "", colons, "", {}}));
  EXPECT_EQ(p.rules().back().fingerprint, lower);
  auto removed = p.remove("web");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->name, "web");
  EXPECT_EQ(p.rules().size(), 1u);
}

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

// A self-signed certificate for subject (name, value) pairs, signed with a
// new Ed25519 key.
X509Ptr self_signed(const std::vector<std::pair<std::string, std::string>>& subject) {
  X509Ptr cert(X509_new(), X509_free);
  EVP_PKEY* raw = nullptr;
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_keygen(ctx.get(), &raw), 1);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(raw, EVP_PKEY_free);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& [field, value] : subject) {
    EXPECT_EQ(X509_NAME_add_entry_by_txt(name, field.c_str(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                         -1, 0),
              1);
  }
  EXPECT_EQ(X509_set_issuer_name(cert.get(), name), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  EXPECT_EQ(X509_set_pubkey(cert.get(), key.get()), 1);
  EXPECT_GT(X509_sign(cert.get(), key.get(), nullptr), 0);
  return cert;
}

void write_pem(const std::filesystem::path& path, X509* cert) {
  std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "w"), std::fclose);
  ASSERT_TRUE(f);
  ASSERT_EQ(PEM_write_X509(f.get(), cert), 1);
}

TEST(AccessPolicyTest, ACaRuleHoldsTheFingerprintOfTheCaCertificateFile) {
  testing::TempDir dir;
  auto ca = self_signed({{"CN", "site CA"}});
  auto host = self_signed({{"O", "plant"}, {"OU", "servers"}, {"OU", "lab"}, {"CN", "web-01"}});
  write_pem(dir / "ca.pem", ca.get());
  write_pem(dir / "host.pem", host.get());
  auto ca_fp = certificate_fingerprint(dir / "ca.pem");
  auto host_fp = certificate_fingerprint(dir / "host.pem");
  ASSERT_TRUE(ca_fp && host_fp);
  unsigned char* der = nullptr;
  const int size = i2d_X509(ca.get(), &der);
  ASSERT_GT(size, 0);
  EXPECT_EQ(*ca_fp, sha256(std::string_view(reinterpret_cast<char*>(der), size)).hex());
  OPENSSL_free(der);
  EXPECT_NE(*ca_fp, *host_fp);

  // What TLS reports of a verified host certificate.
  ClientIdentity who{"10.0.0.5", "CN=web-01,OU=lab,OU=servers,O=plant",
                     "web-01",   {"servers", "lab"},
                     *host_fp,   *ca_fp};
  auto foreign = who;
  foreign.issuer_fingerprint = *host_fp;
  ClientIdentity anonymous{"10.0.0.5", "", "", {}, "", ""};
  // What a rule written from those files matches.
  AccessPolicy p;
  ASSERT_TRUE(p.add({"lab", {"prod"}, {"*"}, "web-*", "lab", "", *ca_fp, {}}));
  EXPECT_FALSE(p.refuses(who, "prod", "debian"));
  EXPECT_TRUE(p.refuses(foreign, "prod", "debian"));
  EXPECT_TRUE(p.refuses(anonymous, "prod", "debian"));
  // A file without a certificate is named.
  auto key = certificate_fingerprint(dir / "missing.pem");
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, Code::not_found);
  testing::write_text(dir / "not.pem",
                      "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  auto not_cert = certificate_fingerprint(dir / "not.pem");
  ASSERT_FALSE(not_cert);
  EXPECT_EQ(not_cert.error().message, (dir / "not.pem").string() +
                                          ": not a PEM certificate (expected a -----BEGIN "
                                          "CERTIFICATE----- block)");
}

}  // namespace
}  // namespace airlock::repo
