// The site CA through repo::Home: what ca init and ca issue make is checked
// with OpenSSL's own verifier (a host certificate chains to ca.crt for TLS
// client and server use; after ca revoke the CRL refuses it), and every
// refusal leaves the home exactly as it was.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <memory>

#include "airlock/repo/home.h"
#include "crash_points.h"
#include "test_support.h"

namespace airlock::repo {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TempDir;

using Cert = std::unique_ptr<X509, decltype(&X509_free)>;
using Crl = std::unique_ptr<X509_CRL, decltype(&X509_CRL_free)>;
using Pkey = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using File = std::unique_ptr<FILE, decltype(&fclose)>;

Cert read_cert(const fs::path& file) {
  File f(fopen(file.c_str(), "r"), &fclose);
  EXPECT_TRUE(f) << file;
  return Cert(f ? PEM_read_X509(f.get(), nullptr, nullptr, nullptr) : nullptr, &X509_free);
}

Crl read_crl(const fs::path& file) {
  File f(fopen(file.c_str(), "r"), &fclose);
  EXPECT_TRUE(f) << file;
  return Crl(f ? PEM_read_X509_CRL(f.get(), nullptr, nullptr, nullptr) : nullptr, &X509_CRL_free);
}

mode_t mode_of(const fs::path& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_mode & 07777;
}

class SiteCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Home::init(home_dir, "tester"));
    home = Home::open(home_dir).value();
  }

  fs::path ca() const { return home_dir / "ca"; }
  fs::path host_dir(const std::string& host) const { return ca() / "hosts" / host; }

  // What X509_verify_cert says of cert against ca.crt, for purpose, with
  // ca/crl.pem checked when with_crl.
  int verify(X509* cert, int purpose, bool with_crl) {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  &X509_STORE_free);
    auto root = read_cert(ca() / "ca.crt");
    EXPECT_EQ(X509_STORE_add_cert(store.get(), root.get()), 1);
    if (with_crl) {
      auto crl = read_crl(ca() / "crl.pem");
      EXPECT_EQ(X509_STORE_add_crl(store.get(), crl.get()), 1);
      X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
    }
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        &X509_STORE_CTX_free);
    EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr), 1);
    EXPECT_EQ(X509_STORE_CTX_set_purpose(ctx.get(), purpose), 1);
    const int ok = X509_verify_cert(ctx.get());
    const int err = X509_STORE_CTX_get_error(ctx.get());
    EXPECT_EQ(ok == 1, err == X509_V_OK) << X509_verify_cert_error_string(err);
    return err;
  }

  std::vector<json> ca_records() {
    std::vector<json> out;
    for (auto& r : testing::read_jsonl(home_dir / "log" / "transfer-000001.jsonl"))
      if (r["event"] == "ca") out.push_back(r);
    return out;
  }

  // Every file of the home but the lock files a change touches before it is refused.
  std::map<std::string, std::string> home_state() const {
    auto files = testing::tree_fingerprint(home_dir);
    files.erase("log/commit.lock");
    files.erase("store/index/lock.mdb");
    return files;
  }

  // Runs change, which must be refused with code, exit code and message,
  // and checks that no file of the home changed (the log and ca/ included).
  template <class F>
  void expect_refused(F change, Code want, int exit, const std::string& message) {
    const auto before = home_state();
    auto r = change();
    ASSERT_FALSE(r) << message;
    EXPECT_EQ(r.error().message, message);
    EXPECT_EQ(r.error().code, want) << message;
    EXPECT_EQ(exit_code(r.error()), exit) << message;
    EXPECT_EQ(home_state(), before) << message;
  }

  TempDir dir;
  fs::path home_dir = dir / "high";
  std::unique_ptr<Home> home;
  ChangeInfo who{"olga", "new plant hosts", "CHG-7"};
};

TEST_F(SiteCaTest, InitMakesACaCertificateForSigningHostsAndCrlsWithAPrivateKey) {
  auto made = home->ca_init({"Plant 4 CA", 3650}, who);
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(mode_of(ca() / "ca.key"), 0600u);
  auto root = read_cert(ca() / "ca.crt");
  ASSERT_TRUE(root);
  EXPECT_EQ(X509_check_ca(root.get()), 1);
  EXPECT_EQ(X509_get_pathlen(root.get()), 0);
  EXPECT_EQ(X509_get_key_usage(root.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_NE(X509_get0_subject_key_id(root.get()), nullptr);
  EXPECT_EQ(X509_check_issued(root.get(), root.get()), X509_V_OK);
  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(root.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "Plant 4 CA");
  auto crl = read_crl(ca() / "crl.pem");
  ASSERT_TRUE(crl);
  EXPECT_LE(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), 0);  // -1: no list at all
  Pkey ca_pub(X509_get_pubkey(root.get()), &EVP_PKEY_free);
  EXPECT_EQ(X509_CRL_verify(crl.get(), ca_pub.get()), 1);
  EXPECT_TRUE(home->ca_list().value().empty());
  auto records = ca_records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0]["action"], "init");
  EXPECT_EQ(records[0]["subject"], "CN=Plant 4 CA");
  EXPECT_EQ(records[0]["fingerprint"], made->certificates.at(0).fingerprint.hex());
  EXPECT_EQ(records[0]["operator"], "olga");
}

TEST_F(SiteCaTest, AnIssuedCertificateVerifiesAsTlsClientAndServerWithItsNameAndKey) {
  ASSERT_TRUE(home->ca_init({}, who));
  auto issued = home->ca_issue({"Web01.Plant.Example", {}, 825}, who);
  ASSERT_TRUE(issued) << issued.error().message;
  const std::string host = "web01.plant.example";  // DNS names are kept lowercase
  const fs::path d = host_dir(host);
  EXPECT_EQ(mode_of(d / (host + ".key")), 0600u);
  EXPECT_EQ(testing::read_text(d / "ca.crt"), testing::read_text(ca() / "ca.crt"));
  auto cert = read_cert(d / (host + ".crt"));
  ASSERT_TRUE(cert);
  EXPECT_EQ(verify(cert.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_OK);
  EXPECT_EQ(verify(cert.get(), X509_PURPOSE_SSL_SERVER, true), X509_V_OK);
  EXPECT_EQ(X509_check_host(cert.get(), host.c_str(), 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "web02.plant.example", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()),
            static_cast<uint32_t>(XKU_SSL_CLIENT | XKU_SSL_SERVER));
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
  File kf(fopen((d / (host + ".key")).c_str(), "r"), &fclose);
  Pkey key(PEM_read_PrivateKey(kf.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ASSERT_TRUE(key);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);

  unsigned char md[32];
  unsigned int n = 0;
  ASSERT_EQ(X509_digest(cert.get(), EVP_sha256(), md, &n), 1);
  const auto& entry = issued->certificates.at(0);
  EXPECT_EQ(entry.fingerprint, Digest::from_raw(std::span<const std::uint8_t>(md, n)).value());
  EXPECT_EQ(entry.subject, "CN=" + host);
  EXPECT_EQ(entry.host, host);
  EXPECT_GE(entry.serial.size(), 30u);  // 128 random bits
  auto list = home->ca_list().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].serial, entry.serial);
  EXPECT_FALSE(list[0].revoked);
  auto records = ca_records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1]["action"], "issue");
  EXPECT_EQ(records[1]["host"], host);
  EXPECT_EQ(records[1]["serial"], entry.serial);
  EXPECT_EQ(records[1]["fingerprint"], entry.fingerprint.hex());
  EXPECT_EQ(records[1]["subject"], "CN=" + host);
  // Neither the CA's key nor the host's is ever logged.
  const auto log = testing::read_text(home_dir / "log" / "transfer-000001.jsonl");
  EXPECT_EQ(log.find("PRIVATE KEY"), std::string::npos);
  const auto ca_key = testing::read_text(ca() / "ca.key");
  EXPECT_EQ(log.find(ca_key.substr(28, 40)), std::string::npos);
}

TEST_F(SiteCaTest, AnAddressGetsAnIpSubjectAltNameAndAnotherDirectory) {
  ASSERT_TRUE(home->ca_init({}, who));
  auto issued = home->ca_issue({"10.1.2.3", dir / "usb", 30}, who);
  ASSERT_TRUE(issued) << issued.error().message;
  auto cert = read_cert(dir / "usb" / "10.1.2.3.crt");
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(verify(cert.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_OK);
  EXPECT_EQ(mode_of(dir / "usb" / "10.1.2.3.key"), 0600u);
  EXPECT_TRUE(fs::exists(dir / "usb" / "ca.crt"));
  EXPECT_EQ(issued->certificates.at(0).not_after - issued->certificates.at(0).not_before,
            std::chrono::days(30) + std::chrono::hours(1));
}

TEST_F(SiteCaTest, RevokingAHostPutsEveryCertificateOfItOnTheCrlAndVerificationFails) {
  ASSERT_TRUE(home->ca_init({}, who));
  auto first = home->ca_issue({"web01", {}, 825}, who).value().certificates.at(0);
  auto old_cert = read_cert(host_dir("web01") / "web01.crt");
  auto second = home->ca_issue({"web01", {}, 825}, who).value().certificates.at(0);  // rotated
  auto cert = read_cert(host_dir("web01") / "web01.crt");
  ASSERT_TRUE(home->ca_issue({"web02", {}, 825}, who));
  auto other = read_cert(host_dir("web02") / "web02.crt");
  EXPECT_NE(first.serial, second.serial);
  EXPECT_EQ(home->ca_list().value().size(), 3u);
  EXPECT_EQ(verify(old_cert.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_OK);
  EXPECT_EQ(verify(cert.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_OK);

  auto revoked = home->ca_revoke("web01", who);
  ASSERT_TRUE(revoked) << revoked.error().message;
  EXPECT_EQ(revoked->certificates.size(), 2u);
  EXPECT_EQ(revoked->crl_number, 2u);
  auto crl = read_crl(ca() / "crl.pem");
  ASSERT_TRUE(crl);
  EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get())), 2);
  X509_REVOKED* entry = nullptr;
  EXPECT_EQ(X509_CRL_get0_by_serial(crl.get(), &entry, X509_get_serialNumber(cert.get())), 1);
  EXPECT_EQ(X509_CRL_get0_by_serial(crl.get(), &entry, X509_get_serialNumber(old_cert.get())), 1);
  EXPECT_EQ(X509_CRL_get0_by_serial(crl.get(), &entry, X509_get_serialNumber(other.get())), 0);
  std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> number(
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)),
      &ASN1_INTEGER_free);
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 2);

  EXPECT_EQ(verify(cert.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verify(old_cert.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(verify(other.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_OK);
  EXPECT_EQ(verify(cert.get(), X509_PURPOSE_SSL_CLIENT, false), X509_V_OK);  // the CRL did it

  auto list = home->ca_list().value();
  EXPECT_TRUE(list[0].revoked && list[1].revoked);
  EXPECT_FALSE(list[2].revoked);
  auto records = ca_records();
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(records[4]["action"], "revoke");
  EXPECT_EQ(records[4]["serial"], first.serial);
  EXPECT_EQ(records[5]["serial"], second.serial);
  EXPECT_EQ(records[5]["fingerprint"], second.fingerprint.hex());
  EXPECT_EQ(records[5]["crl_number"], 2);

  // Signing the CRL again keeps its entries under a new number.
  auto resigned = home->ca_crl(who);
  ASSERT_TRUE(resigned) << resigned.error().message;
  EXPECT_EQ(resigned->crl_number, 3u);
  EXPECT_EQ(verify(cert.get(), X509_PURPOSE_SSL_CLIENT, true), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(ca_records().back()["action"], "crl");
}

TEST_F(SiteCaTest, InitTwiceIsRefusedAndKeepsTheCa) {
  ASSERT_TRUE(home->ca_init({}, who));
  expect_refused(
      [&] {
        return home->ca_init({"another", 10}, who);
      },
      Code::conflict, 1,
      "a site CA exists already in " + ca().string() + " (ca list shows its certificates)");
}

TEST_F(SiteCaTest, InitKeepsAKeyAnInterruptedInitLeftAndSaysWhatToDo) {
  fs::create_directories(ca());
  testing::write_text(ca() / "ca.key", "left by a killed init\n");
  expect_refused([&] { return home->ca_init({}, who); }, Code::conflict, 1,
                 (ca() / "ca.key").string() +
                     " exists without issued.json (an interrupted ca init?): move " +
                     ca().string() + " aside and run ca init again");
}

TEST_F(SiteCaTest, IssueAndRevokeBeforeInitAreRefusedNamingInit) {
  const std::string message = "this home has no site CA (run 'airlock-repo --home " +
                              home_dir.string() + " ca init' first)";
  expect_refused(
      [&] {
        return home->ca_issue({"web01", {}, 825}, who);
      },
      Code::not_found, 1, message);
  expect_refused([&] { return home->ca_revoke("web01", who); }, Code::not_found, 1, message);
  expect_refused([&] { return home->ca_list(); }, Code::not_found, 1, message);
  EXPECT_FALSE(fs::exists(ca()));
}

TEST_F(SiteCaTest, AHostThatIsNeitherADnsNameNorAnAddressIsAUsageError) {
  ASSERT_TRUE(home->ca_init({}, who));
  for (const std::string& bad : std::vector<std::string>{
           "web_01", "-web", "web-.example", "a..b", ".example", "web01.", "", "1.2.3",
           "10.0.0.256", "x/../../etc", "web 01", std::string(65, 'a')}) {
    expect_refused(
        [&] {
          return home->ca_issue({bad, {}, 825}, who);
        },
        Code::invalid_input, 2,
        "host '" + bad +
            "' is neither a DNS name (letters, digits and hyphens in dot-separated "
            "labels, at most 64 characters) nor an IPv4 or IPv6 address");
  }
  expect_refused(
      [&] {
        return home->ca_issue({"web01", {}, 0}, who);
      },
      Code::invalid_input, 2, "--days for a host must be from 1 to 36500, not 0");
}

TEST_F(SiteCaTest, RevokingAnUnknownHostOrTwiceIsRefused) {
  ASSERT_TRUE(home->ca_init({}, who));
  ASSERT_TRUE(home->ca_issue({"web01", {}, 825}, who));
  expect_refused([&] { return home->ca_revoke("web02", who); }, Code::not_found, 1,
                 "the site CA has issued no certificate for host 'web02' (ca list shows the "
                 "hosts)");
  ASSERT_TRUE(home->ca_revoke("web01", who));
  expect_refused([&] { return home->ca_revoke("WEB01", who); }, Code::conflict, 1,
                 "every certificate of host 'web01' is revoked already (1)");
}

TEST_F(SiteCaTest, AnIndexThatIsNotTheFormatIsCorruptNamingTheFile) {
  ASSERT_TRUE(home->ca_init({}, who));
  const fs::path index = ca() / "issued.json";
  for (const char* text : {R"({"format": 1})", R"({"format": null})", "[]", "{"}) {
    SCOPED_TRACE(text);
    testing::write_text(index, text);
    const std::string message = index.string() + ": expected JSON of format airlock-ca-index/1";
    expect_refused([&] { return home->ca_list(); }, Code::corrupt, 3, message);
    expect_refused(
        [&] {
          return home->ca_issue({"web01", {}, 825}, who);
        },
        Code::corrupt, 3, message);
  }
}

// Killed before every durable operation of a CA change in turn: afterwards
// the index shows the change exactly when the log holds its `ca` record.
class SiteCaCrashTest : public SiteCaTest {
 protected:
  template <class Work, class Changed>
  void enumerate(Work work, Changed changed) {
    const std::size_t records_before = ca_records().size();
    home.reset();
    const fs::path pristine = dir / "pristine";
    testing::restore_tree(home_dir, pristine);
    auto run = [&](Env& env) {
      if (auto h = Home::open(home_dir, {.env = &env})) (void)work(**h);
    };
    const auto points = testing::crash_points(run);
    ASSERT_GE(points.size(), 5u);
    for (const auto& point : points) {
      SCOPED_TRACE(testing::describe(point));
      testing::restore_tree(pristine, home_dir);
      ASSERT_TRUE(testing::run_killed_at(point, run));
      auto h = Home::open(home_dir).value();
      EXPECT_EQ(changed(*h), ca_records().size() > records_before);
      auto v = h->verify_log();
      EXPECT_TRUE(v) << v.error().message;
    }
  }
};

TEST_F(SiteCaCrashTest, Issue) {
  ASSERT_TRUE(home->ca_init({}, who));
  enumerate(
      [&](Home& h) {
        return h.ca_issue({"web01", {}, 825}, who);
      },
      [](Home& h) { return !h.ca_list().value().empty(); });
}

TEST_F(SiteCaCrashTest, Revoke) {
  ASSERT_TRUE(home->ca_init({}, who));
  ASSERT_TRUE(home->ca_issue({"web01", {}, 825}, who));
  enumerate([&](Home& h) { return h.ca_revoke("web01", who); },
            [](Home& h) { return h.ca_list().value().at(0).revoked.has_value(); });
}

}  // namespace
}  // namespace airlock::repo
