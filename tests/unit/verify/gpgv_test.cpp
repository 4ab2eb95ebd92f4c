// gpgv as apt's Signed-By uses it: a good signature by a key in the keyring
// reports the fingerprint of that key, anything else is refused.
#include "airlock/verify/gpgv.h"

#include <gtest/gtest.h>

#include <sstream>

#include "airlock/base/process.h"
#include "test_support.h"

namespace airlock {
namespace {

namespace fs = std::filesystem;

// A throwaway GnuPG home with one signing key, its public keyring, and a
// Release signed both ways.
class GpgvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir / "gnupg");
    fs::permissions(dir / "gnupg", fs::perms::owner_all, fs::perm_options::replace);
    gpg({"--passphrase", "", "--quick-gen-key", "Vendor <vendor@example.invalid>", "ed25519",
         "sign", "never"});
    keyring = dir / "keyring.gpg";
    gpg({"--output", keyring.string(), "--export"});
    std::istringstream keys(gpg({"--with-colons", "--list-keys"}));
    for (std::string line; std::getline(keys, line) && fingerprint.empty();) {
      if (line.starts_with("fpr:")) fingerprint = line.substr(12, 40);
    }
    testing::write_text(dir / "Release", "Suite: stable\nDate: Sun, 22 Nov 2026 08:00:00 UTC\n");
    gpg({"--output", (dir / "InRelease").string(), "--clearsign", (dir / "Release").string()});
    gpg({"--output", (dir / "Release.gpg").string(), "--detach-sign", (dir / "Release").string()});
  }

  // The agent that key generation started goes with the home.
  void TearDown() override {
    (void)run_process({"gpgconf", "--homedir", (dir / "gnupg").string(), "--kill", "all"});
  }

  std::string gpg(std::vector<std::string> args) {
    std::vector<std::string> argv{"gpg", "--homedir", (dir / "gnupg").string(), "--batch"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_process(argv);
    EXPECT_TRUE(r && r->exit_code == 0) << argv.back();
    return r ? r->out : std::string();
  }

  testing::TempDir dir;
  fs::path keyring;
  std::string fingerprint;
};

TEST_F(GpgvTest, ReportsTheFingerprintOfTheSigningKey) {
  ASSERT_EQ(fingerprint.size(), 40u);
  auto clear = gpgv_check_clearsigned(keyring, dir / "InRelease", dir / "work");
  ASSERT_TRUE(clear) << clear.error().message;
  EXPECT_EQ(clear->fingerprint, fingerprint);
  EXPECT_EQ(clear->text, testing::read_text(dir / "Release"));
  auto detached = gpgv_check_detached(keyring, dir / "Release.gpg", dir / "Release", dir / "work");
  ASSERT_TRUE(detached) << detached.error().message;
  EXPECT_EQ(detached->fingerprint, fingerprint);
}

TEST_F(GpgvTest, RefusesASignatureByAKeyOutsideTheKeyring) {
  const auto empty = dir / "empty.gpg";
  testing::write_text(empty, "");
  auto r = gpgv_check_clearsigned(empty, dir / "InRelease", dir / "work");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  testing::write_text(dir / "Release", "Suite: stable\nDate: changed\n");
  auto d = gpgv_check_detached(keyring, dir / "Release.gpg", dir / "Release", dir / "work");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Code::refused);
}

}  // namespace
}  // namespace airlock
