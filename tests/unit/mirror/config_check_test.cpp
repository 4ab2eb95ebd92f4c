// airlock-mirror config check: a set of broken configurations, each named
// with its exact line (file, line, repo, key), and a clean one.
#include <sstream>

#include "airlock/mirror/home.h"
#include "mirror_fixture.h"

namespace airlock::mirror {
namespace {

namespace fs = std::filesystem;
using testing::kUpstreamUrl;
using testing::sample_upstream;

// The sample repository as a [[repo]] table (8 lines: keyring on the 8th).
std::string sample_repo(const std::string& name, const fs::path& keyring,
                        const std::string& more = "", const std::string& suite = "bookworm",
                        const std::string& url = kUpstreamUrl) {
  return "[[repo]]\nname = \"" + name + "\"\nkind = \"apt\"\nurl = \"" + url + "\"\nsuites = [\"" +
         suite + "\"]\ncomponents = [\"main\"]\narchitectures = [\"amd64\"]\nkeyring = \"" +
         keyring.string() + "\"\n" + more;
}

class ConfigCheckTest : public testing::LowSideTest {
 protected:
  // The check's lines, as the program prints them.
  std::vector<std::string> lines(const ConfigCheck& check) {
    std::vector<std::string> out;
    for (const auto& p : check.problems) out.push_back(p.text());
    return out;
  }
  ConfigCheck check(const std::string& mirror_toml) {
    airlock::testing::write_text(config(), mirror_toml);
    auto c = check_config(home_dir);
    EXPECT_TRUE(c) << c.error().message;
    return c ? *c : ConfigCheck{};
  }
  std::string config() const { return (home_dir / "mirror.toml").string(); }
  fs::path keyring() const { return sample_upstream() / "keyring.gpg"; }
};

TEST_F(ConfigCheckTest, ACleanHomeIsOkAndCountsRepositoriesAndKeys) {
  auto c = check(sample_repo("sample", keyring()));
  EXPECT_TRUE(c.problems.empty()) << lines(c).front();
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.repositories, 1u);
  EXPECT_EQ(c.signing_keys, 1u);  // alice; the log key is not counted
  std::ostringstream text;
  print_config_check(text, c);
  EXPECT_EQ(text.str(), "ok: 1 repository, 1 signing key\n");
  auto home = open();
  auto same = home->check_config();
  ASSERT_TRUE(same);
  EXPECT_TRUE(same->ok());
}

TEST_F(ConfigCheckTest, NamesEveryBrokenKeyring) {
  const fs::path text_file = dir / "not-a-keyring.gpg";
  airlock::testing::write_text(text_file, "not OpenPGP\n");
  auto c = check(sample_repo("gone", dir / "gone.gpg") +
                 sample_repo("text", text_file, "", "bookworm", "http://other.test/debian"));
  EXPECT_EQ(lines(c),
            (std::vector<std::string>{
                config() + ":8: repo 'gone': key 'keyring': " + (dir / "gone.gpg").string() +
                    ": no such file (expected the upstream's OpenPGP keyring)",
                config() + ":16: repo 'text': key 'keyring': " + text_file.string() +
                    ": holds no OpenPGP public key (expected a keyring that gpg "
                    "--show-keys lists)",
            }));
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(c.repositories, 2u);  // both read; their keyrings do not work
}

TEST_F(ConfigCheckTest, MirrorTomlProblemsComeFirstWithTheirLines) {
  auto c =
      check(sample_repo("sample", keyring(), "suite = [\"trixie\"]\n") + "[[repo]]\nkind = 1\n");
  EXPECT_EQ(
      lines(c),
      (std::vector<std::string>{
          config() + ":9: repo 'sample': key 'suite': unknown key (did you mean 'suites'?)",
          config() + ":10: [[repo]] #2 (line 10): key 'name': missing (expected 1-64 characters of "
                     "a-z 0-9 - _ ., not starting with '-')",
          config() + ":10: [[repo]] #2 (line 10): key 'url': missing (expected an http:// "
                     "or https:// address)",
          config() + ":11: [[repo]] #2 (line 10): key 'kind': expected \"apt\", \"rpm\" or "
                     "\"files\"",
      }));
  EXPECT_EQ(c.repositories, 0u);
}

TEST_F(ConfigCheckTest, OneUpstreamTwiceIsAnErrorAndAnotherSelectionOfItAWarning) {
  auto twice = check(sample_repo("a", keyring()) + sample_repo("b", keyring()));
  EXPECT_EQ(lines(twice), (std::vector<std::string>{
                              config() + ":12: repo 'b': key 'url': the same upstream and "
                                         "selection as repo 'a' at line 1 (expected each "
                                         "upstream once)",
                          }));
  EXPECT_FALSE(twice.ok());
  auto filtered =
      check(sample_repo("a", keyring()) + sample_repo("b", keyring(), "packages = [\"hello\"]\n"));
  EXPECT_EQ(lines(filtered),
            (std::vector<std::string>{
                config() + ":12: warning: repo 'b': key 'url': the same upstream as repo 'a' at "
                           "line 1",
            }));
  EXPECT_TRUE(filtered.ok());
  auto other_suite = check(sample_repo("a", keyring()) + sample_repo("b", keyring(), "", "trixie"));
  EXPECT_TRUE(other_suite.problems.empty()) << lines(other_suite).front();
}

TEST_F(ConfigCheckTest, AKeyWhosePublicHalfIsAnotherKeysIsNamed) {
  auto home = open();
  ASSERT_TRUE(home->keygen("bob", who));
  fs::copy_file(home_dir / "keys" / "alice.pub", home_dir / "keys" / "bob.pub",
                fs::copy_options::overwrite_existing);
  auto bob = PrivateKey::read_file(home_dir / "keys" / "bob.key");
  ASSERT_TRUE(bob);
  auto c = check(sample_repo("sample", keyring()));
  EXPECT_EQ(lines(c), (std::vector<std::string>{
                          (home_dir / "keys" / "bob.pub").string() +
                              ": not the public half of bob.key (expected key " +
                              bob->public_key().id().hex() + ")",
                      }));
  EXPECT_EQ(c.signing_keys, 1u);
}

TEST_F(ConfigCheckTest, JsonListsEachProblemByFileLineRepoAndKey) {
  auto c = check(sample_repo("sample", dir / "gone.gpg"));
  auto j = to_json(c);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["repositories"], 1);
  ASSERT_EQ(j["problems"].size(), 1u);
  const auto& p = j["problems"][0];
  EXPECT_EQ(p["file"], config());
  EXPECT_EQ(p["line"], 8);
  EXPECT_EQ(p["repo"], "sample");
  EXPECT_EQ(p["key"], "keyring");
  EXPECT_EQ(p["severity"], "error");
  EXPECT_EQ(p["message"], (dir / "gone.gpg").string() +
                              ": no such file (expected the upstream's OpenPGP keyring)");
}

TEST_F(ConfigCheckTest, ADirectoryThatIsNoHomeIsNotFound) {
  auto c = check_config(dir / "nowhere");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Code::not_found);
}

}  // namespace
}  // namespace airlock::mirror
