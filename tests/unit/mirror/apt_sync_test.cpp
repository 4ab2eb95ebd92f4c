// The mirror's own logic: package diffs, the config, and what a sync
// selects (a packages filter and its dependency closure over the sample's
// deps/ graph, a changed selection, a dry run against the sync after it).
#include "airlock/mirror/apt_sync.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "airlock/formats/version.h"
#include "airlock/mirror/config.h"
#include "airlock/mirror/output.h"
#include "mirror_fixture.h"

namespace airlock::mirror {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

TEST(PackageDiff, AddedUpgradedRemoved) {
  std::vector<PackageVersion> a{
      {"openssl", "amd64", "3.0.11-1"}, {"curl", "amd64", "7.88.1-10"}, {"gone", "amd64", "1"}};
  std::vector<PackageVersion> b{{"openssl", "amd64", "3.0.13-1"},
                                {"curl", "amd64", "7.88.1-10"},
                                {"new", "amd64", "0.1"},
                                {"openssl", "amd64", "3.0.11-1"}};
  auto d = diff_packages(a, b);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].package, "gone");
  EXPECT_EQ(d[0].kind, PackageChange::removed);
  EXPECT_EQ(d[1].package, "new");
  EXPECT_EQ(d[1].kind, PackageChange::added);
  EXPECT_EQ(d[2].kind, PackageChange::upgraded);
  EXPECT_EQ(d[2].old_version, "3.0.11-1");
  EXPECT_EQ(d[2].new_version, "3.0.13-1");
}

// The diff as a map of the newest version per (name, architecture) says it.
std::vector<std::string> reference_diff(const std::vector<PackageVersion>& before,
                                        const std::vector<PackageVersion>& after) {
  auto newest = [](const std::vector<PackageVersion>& list) {
    std::map<std::pair<std::string, std::string>, std::string> m;
    for (const auto& p : list) {
      auto& v = m[{p.package, p.architecture}];
      if (v.empty() || apt::compare_versions(v, p.version) < 0) v = p.version;
    }
    return m;
  };
  auto a = newest(before), b = newest(after);
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (const auto& [key, v] : b) {
    auto it = a.find(key);
    if (it == a.end()) {
      out[key] = "added  " + v;
    } else if (int c = apt::compare_versions(it->second, v); c != 0) {
      out[key] = (c < 0 ? "upgraded " : "downgraded ") + it->second + " " + v;
    }
  }
  for (const auto& [key, v] : a) {
    if (!b.contains(key)) out[key] = "removed " + v + " ";
  }
  std::vector<std::string> lines;
  for (const auto& [key, what] : out) lines.push_back(key.first + " " + key.second + " " + what);
  return lines;
}

TEST(PackageDiff, EqualsTheNewestVersionMapOnRandomLists) {
  std::mt19937 rng(7);
  // "0:1.0" and "1.0" compare equal: the first listed counts.
  const std::vector<std::string> versions = {"1.0", "1.0-1", "1:0.9", "2.0~rc1",
                                             "2.0", "1.10",  "0:1.0"};
  for (int round = 0; round < 200; ++round) {
    auto list = [&] {
      std::vector<PackageVersion> out(rng() % 12);
      for (auto& p : out) {
        p = {"p" + std::to_string(rng() % 6), rng() % 4 ? "amd64" : "all",
             versions[rng() % versions.size()]};
      }
      return out;
    };
    auto before = list(), after = list();
    std::vector<std::string> lines;
    for (const auto& c : diff_packages(before, after)) {
      lines.push_back(c.package + " " + c.architecture + " " +
                      std::string(apt::change_name(c.kind)) + " " + c.old_version + " " +
                      c.new_version);
    }
    ASSERT_EQ(lines, reference_diff(before, after)) << round;
  }
}

// The line of key in text (a line starting "key = "); 1, the [[repo]]
// header, when the key is not there.
int line_of(const std::string& text, const std::string& key) {
  int line = 1;
  for (std::size_t at = 0; at < text.size(); ++line) {
    if (text.compare(at, key.size() + 3, key + " = ") == 0) return line;
    auto next = text.find('\n', at);
    if (next == std::string::npos) break;
    at = next + 1;
  }
  return 1;
}

TEST(Config, ParsesAndNamesTheFirstProblem) {
  auto ok = MirrorConfig::parse(R"(
[[repo]]
name = "debian-security"
kind = "apt"
url = "http://deb.example/debian-security/"
suites = ["bookworm-security"]
components = ["main"]
architectures = ["amd64"]
keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
packages = ["openssl", "curl*"]
check_valid_until = false
)",
                                "mirror.toml");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->repos.size(), 1u);
  EXPECT_EQ(ok->repos[0].url, "http://deb.example/debian-security");
  EXPECT_FALSE(ok->repos[0].check_valid_until);
  EXPECT_EQ(ok->repos[0].packages.size(), 2u);
  EXPECT_EQ(ok->repos[0].line, 2);
  EXPECT_EQ(ok->repos[0].line_of("keyring"), 9);
  EXPECT_EQ(ok->repos[0].line_of("translations"), 2);  // not set: the [[repo]] line
  auto bad = MirrorConfig::parse("[[repo]]\nname = \"x\"\nkind = \"rpm\"\n", "m.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "m.toml:1: repo 'x': key 'url': missing (expected an http:// or https:// address)");
  auto syntax = MirrorConfig::parse("[[repo]\n", "m.toml");
  ASSERT_FALSE(syntax);
  EXPECT_TRUE(syntax.error().message.starts_with("m.toml:1:8: ")) << syntax.error().message;
  EXPECT_TRUE(MirrorConfig::parse(config_template(), "template"));  // all commented out
}

TEST(Config, ReadsRpmAndFilesRepositoriesWithTheKeysEachKindTakes) {
  auto ok = MirrorConfig::parse(R"([[repo]]
name = "rocky"
kind = "rpm"
url = "http://rpm.example/9/BaseOS/x86_64/os/"
keyring = "/k.gpg"
packages = ["bash"]

[[repo]]
name = "firmware"
kind = "files"
url = "https://vendor.example/fw"
check_signature = false
)",
                                "m.toml");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->repos.size(), 2u);
  EXPECT_EQ(ok->repos[0].kind, "rpm");
  EXPECT_EQ(ok->repos[0].url, "http://rpm.example/9/BaseOS/x86_64/os");
  EXPECT_TRUE(ok->repos[0].check_signature);
  EXPECT_EQ(ok->repos[0].packages, std::vector<std::string>{"bash"});
  EXPECT_EQ(ok->repos[1].kind, "files");
  EXPECT_FALSE(ok->repos[1].check_signature);
  EXPECT_TRUE(ok->repos[1].keyring.empty());
  struct Refused {
    std::string body, key, what;
  };
  const std::vector<Refused> refused = {
      {"kind = \"rpm\"\nurl = \"http://rpm.example/os\"\n", "keyring",
       "missing (expected the path of the upstream's OpenPGP keyring, or check_signature = false "
       "for an unsigned upstream)"},
      {"kind = \"rpm\"\nurl = \"http://rpm.example/os\"\nkeyring = \"/k\"\nsuites = [\"a\"]\n",
       "suites", "does not apply to kind \"rpm\""},
      {"kind = \"files\"\nurl = \"http://f.example/os\"\nkeyring = \"/k\"\npackages = [\"a\"]\n",
       "packages", "does not apply to kind \"files\""},
      {"kind = \"rpm\"\nurl = \"http://rpm.example/os\"\nkeyring = \"/k\"\ncheck_signature = 1\n",
       "check_signature", "expected true or false"},
      {"kind = \"rpm\"\nurl = \"http://rpm.example/os\"\nkeyring = \"/k\"\nsuite = [\"a\"]\n",
       "suite",
       "unknown key (a rpm repo takes: name, kind, url, keyring, packages, with_dependencies, "
       "check_signature, min_rate, stall_timeout)"},
  };
  for (const auto& [body, key, what] : refused) {
    const std::string text = "[[repo]]\nname = \"x\"\n" + body;
    auto c = MirrorConfig::parse(text, "m.toml");
    ASSERT_FALSE(c) << body;
    EXPECT_EQ(c.error().message, "m.toml:" + std::to_string(line_of(text, key)) +
                                     ": repo 'x': key '" + key + "': " + what)
        << body;
  }
}

// A valid [[repo]] named x with one field set to value; an empty value
// leaves the field out.
std::string repo_with(const std::string& key, const std::string& value) {
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"name", "\"x\""},
      {"kind", "\"apt\""},
      {"url", "\"http://deb.example/debian\""},
      {"suites", "[\"bookworm\"]"},
      {"components", "[\"main\"]"},
      {"architectures", "[\"amd64\"]"},
      {"keyring", "\"/k.gpg\""}};
  std::string out = "[[repo]]\n";
  bool listed = false;
  for (const auto& [k, v] : fields) {
    const bool here = k == key;
    listed = listed || here;
    if (!here) out += k + " = " + v + "\n";
    if (here && !value.empty()) out += k + " = " + value + "\n";
  }
  if (!listed) out += key + " = " + value + "\n";
  return out;
}

TEST(Config, EveryRefusalNamesTheFileTheLineTheRepoAndTheKey) {
  const std::string name_rule = "1-64 characters of a-z 0-9 - _ ., not starting with '-'";
  const std::vector<std::pair<std::string, std::string>> documents = {
      {"x = 1\n", "m.toml:1: key 'x': unknown top-level key (expected [[repo]] tables)"},
      {"repo = 1\n",
       "m.toml:1: key 'repo': expected [[repo]] tables, each begun by a line [[repo]]"},
      {"repo = [1]\n",
       "m.toml:1: key 'repo': expected [[repo]] tables, each begun by a line [[repo]]"},
      {repo_with("suite", "[\"a\"]"),
       "m.toml:9: repo 'x': key 'suite': unknown key (did you mean 'suites'?)"},
      // The suites the misspelt key was meant as are not said to be missing.
      {"[[repo]]\nname = \"x\"\nkind = \"apt\"\nurl = \"http://deb.example/d\"\nsuite = [\"a\"]\n"
       "components = [\"main\"]\narchitectures = [\"amd64\"]\nkeyring = \"/k.gpg\"\n",
       "m.toml:5: repo 'x': key 'suite': unknown key (did you mean 'suites'?)"},
      {repo_with("arch", "[\"amd64\"]"),
       "m.toml:9: repo 'x': key 'arch': unknown key (an apt repo takes: name, kind, url, suites, "
       "components, architectures, keyring, packages, with_dependencies, check_valid_until, "
       "translations, min_rate, stall_timeout)"},
      {repo_with("name", ""),
       "m.toml:1: [[repo]] #1 (line 1): key 'name': missing (expected " + name_rule + ")"},
      {repo_with("name", "\"-x\""),
       "m.toml:2: [[repo]] #1 (line 1): key 'name': expected " + name_rule},
      {repo_with("name", "\"x\"") + "\n" + repo_with("name", ""),
       "m.toml:10: [[repo]] #2 (line 10): key 'name': missing (expected " + name_rule + ")"},
      {repo_with("name", "\"x\"") + repo_with("name", "\"x\""),
       "m.toml:10: repo 'x': key 'name': already names the repo at line 2"},
  };
  // One field of repo x set to a value (empty: left out), the key the
  // problem is about, and what is said.
  struct Field {
    std::string key, value, problem_key, what;
  };
  const std::vector<Field> fields = {
      {"kind", "\"files\"", "suites", "does not apply to kind \"files\""},
      {"kind", "\"yum\"", "kind", "expected \"apt\", \"rpm\" or \"files\""},
      {"kind", "", "kind", "missing (expected \"apt\", \"rpm\" or \"files\")"},
      {"check_signature", "false", "check_signature", "does not apply to kind \"apt\""},
      {"url", "\"ftp://deb.example/debian\"", "url", "expected an http:// or https:// address"},
      {"url", "\"http://a\"", "url", "expected an http:// or https:// address"},
      {"suites", "\"bookworm\"", "suites", "expected a list of strings, e.g. [\"a\", \"b\"]"},
      {"components", "[1]", "components", "expected a list of strings, e.g. [\"a\", \"b\"]"},
      {"packages", "[\"a\", 2]", "packages", "expected a list of strings, e.g. [\"a\", \"b\"]"},
      {"suites", "", "suites", "missing (expected a list of at least one suite)"},
      {"components", "[]", "components", "expected at least one component"},
      {"architectures", "", "architectures",
       "missing (expected a list of at least one architecture)"},
      {"architectures", "[\"../amd64\"]", "architectures",
       "'../amd64' is not a valid architecture (expected letters, digits and - _ . / +, without "
       "'..')"},
      {"keyring", "", "keyring", "missing (expected the path of the upstream's OpenPGP keyring)"},
      {"keyring", "\"\"", "keyring", "expected the path of the upstream's OpenPGP keyring"},
      {"check_valid_until", "\"no\"", "check_valid_until", "expected true or false"},
      {"translations", "[true]", "translations", "expected true or false"},
      {"with_dependencies", "\"yes\"", "with_dependencies", "expected true or false"},
      {"min_rate", "0", "min_rate", "expected a whole number from 1 to 1073741824"},
      {"min_rate", "1.5", "min_rate", "expected a whole number from 1 to 1073741824"},
      {"stall_timeout", "\"30\"", "stall_timeout", "expected a whole number from 1 to 86400"},
      {"stall_timeout", "86401", "stall_timeout", "expected a whole number from 1 to 86400"},
  };
  auto cases = documents;
  for (const auto& f : fields) {
    const std::string text = repo_with(f.key, f.value);
    cases.emplace_back(text, "m.toml:" + std::to_string(line_of(text, f.problem_key)) +
                                 ": repo 'x': key '" + f.problem_key + "': " + f.what);
  }
  for (const auto& [text, message] : cases) {
    auto c = MirrorConfig::parse(text, "m.toml");
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().code, Code::invalid_input) << text;
    EXPECT_EQ(c.error().message, message) << text;
  }
}

// A text that is not TOML: the line and column, and toml++'s terse words
// said plainly where they are cryptic.
TEST(Config, SyntaxErrorsKeepLineAndColumnInPlainWords) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[[repo]]\nname = \"a\nb\"\n",
       "m.toml:2:10: a string holds a control character (such as a line break) that TOML does "
       "not allow as it is: write \\n for a line break and \\t for a tab, or use ''' for a "
       "multi-line string"},
      {"[[repo]]\nkeyring = \"C:\\keys\"\n",
       "m.toml:2:15: a string holds an unknown escape sequence '\\k': in \"...\" a backslash "
       "starts an escape such as \\n, \\t or \\\\ (write \\\\ for a backslash), or use '...' for "
       "text without escapes"},
      {"[[repo]]\nname = debian\n",
       "m.toml:2:8: not a value: put text in quotes (name = \"debian\"), lists in brackets "
       "(suites = [\"bookworm\"])"},
      {"[[repo]]\nsuites = [\"a\",\n",
       "m.toml:2:16: the file ends inside a list that is not closed"},
  };
  for (const auto& [text, message] : cases) {
    auto c = MirrorConfig::parse(text, "m.toml");
    ASSERT_FALSE(c) << text;
    EXPECT_EQ(c.error().message, message) << text;
  }
}

// read() finds every problem of every [[repo]], in the order of their
// lines, and keeps the repositories without one.
TEST(Config, ReadFindsEveryProblemOfEveryRepo) {
  const std::string text =
      repo_with("suite", "[\"a\"]") + "min_rate = 0\n" + repo_with("name", "\"y\"") +
      "[[repo]]\nname = \"z\"\nkind = \"yum\"\nurl = \"http://deb.example/d\"\n";
  auto reading = MirrorConfig::read(text, "m.toml");
  std::vector<std::string> said;
  for (const auto& p : reading.problems) said.push_back(p.text());
  EXPECT_EQ(said, (std::vector<std::string>{
                      "m.toml:9: repo 'x': key 'suite': unknown key (did you mean 'suites'?)",
                      "m.toml:10: repo 'x': key 'min_rate': expected a whole number from 1 to "
                      "1073741824",
                      "m.toml:21: repo 'z': key 'kind': expected \"apt\", \"rpm\" or \"files\"",
                  }))
      << text;
  ASSERT_EQ(reading.config.repos.size(), 1u);
  EXPECT_EQ(reading.config.repos[0].name, "y");
  const ConfigProblem& first = reading.problems.at(0);
  EXPECT_EQ(first.file, "m.toml");
  EXPECT_EQ(first.line, 9);
  EXPECT_EQ(first.repo, "x");
  EXPECT_EQ(first.entry, 1);
  EXPECT_EQ(first.key, "suite");
  EXPECT_EQ(first.message, "unknown key (did you mean 'suites'?)");
}

TEST(Config, OptionalFieldsKeepTheirDefaultsUnlessSet) {
  auto plain = MirrorConfig::parse(repo_with("url", "\"https://deb.example/debian//\""), "m.toml");
  ASSERT_TRUE(plain) << plain.error().message;
  const RepoConfig& r = plain->repos.at(0);
  EXPECT_EQ(r.url, "https://deb.example/debian");
  EXPECT_EQ(r.keyring, "/k.gpg");
  EXPECT_TRUE(r.packages.empty());
  EXPECT_TRUE(r.check_valid_until);
  EXPECT_TRUE(r.translations);
  EXPECT_TRUE(r.with_dependencies);
  EXPECT_EQ(r.min_rate, 1024u);
  EXPECT_EQ(r.stall_timeout, 30);
  auto set = MirrorConfig::parse(repo_with("translations", "false") +
                                     "check_valid_until = false\nwith_dependencies = false\n"
                                     "min_rate = 50000\nstall_timeout = 5\n"
                                     "[[repo]]\nname = \"y\"\n" +
                                     repo_with("name", "").substr(9),
                                 "m.toml");
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ(set->repos.size(), 2u);
  EXPECT_FALSE(set->repos[0].translations);
  EXPECT_FALSE(set->repos[0].check_valid_until);
  EXPECT_FALSE(set->repos[0].with_dependencies);
  EXPECT_EQ(set->repos[0].min_rate, 50000u);
  EXPECT_EQ(set->repos[0].stall_timeout, 5);
  EXPECT_TRUE(set->repos[1].with_dependencies);
  EXPECT_EQ(set->repos[1].min_rate, 1024u);
  EXPECT_EQ(set->repos[1].name, "y");
  EXPECT_TRUE(set->repos[1].translations);
  EXPECT_EQ(set->find("y"), &set->repos[1]);
  EXPECT_EQ(set->find("z"), nullptr);
}

TEST(Fetcher, TheDeadlineOfATransferScalesWithItsSize) {
  FetchOptions o;
  o.min_rate = 1000;
  o.stall_timeout = std::chrono::seconds(5);
  EXPECT_EQ(transfer_deadline(0, o), std::chrono::seconds(5));
  EXPECT_EQ(transfer_deadline(999, o), std::chrono::seconds(5));
  EXPECT_EQ(transfer_deadline(60'000, o), std::chrono::seconds(65));
  EXPECT_EQ(transfer_deadline(1ull << 40, o), std::chrono::seconds(5 + (1ull << 40) / 1000));
  o.min_rate = 0;  // counts as 1 byte a second, never a division by zero
  EXPECT_EQ(transfer_deadline(10, o), std::chrono::seconds(15));
}

// --- selection: the sample's deps/ graph (scripts/make-sample-upstream) ------

// "name version arch", for readable comparisons.
std::vector<std::string> names(const std::vector<PackageVersion>& list) {
  std::vector<std::string> out;
  for (const auto& p : list) out.push_back(p.package + " " + p.version + " " + p.architecture);
  return out;
}

const std::vector<std::string> kAppClosure = {"airlock-app 2.0-1 amd64",
                                              "airlock-base 1.0-1 amd64",
                                              "airlock-data 1.0-1 all",
                                              "airlock-syslog 1.0-1 amd64",
                                              "airlock-transport-https 1.0-1 amd64",
                                              "libairlock-common 1.2-1 amd64",
                                              "libairlock-core 1.2-1 amd64"};

class SelectionTest : public testing::LowSideTest {
 protected:
  void SetUp() override {
    LowSideTest::SetUp();
    fetcher.set_root(testing::sample_upstream() / "deps");
  }
  SyncReport dry_run(Home& home) {
    SyncRequest req = request();
    req.dry_run = true;
    auto r = home.sync({}, req);
    EXPECT_TRUE(r && r->size() == 1 && r->front().report);
    return r && r->size() == 1 ? r->front().report.value_or(SyncReport{}) : SyncReport{};
  }
  // The pool files fetched since the last clear, sorted.
  std::vector<std::string> pool_requests() const {
    std::vector<std::string> out;
    const std::string pool = std::string(testing::kUpstreamUrl) + "/pool/";
    for (const auto& url : fetcher.requests) {
      if (url.starts_with(pool)) out.push_back(fs::path(url).filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // The package list of the snapshot the home recorded last.
  std::vector<std::string> snapshot_names(Home& home, const Digest& id) {
    auto snap = home.store().get_snapshot(id);
    EXPECT_TRUE(snap) << snap.error().message;
    if (!snap) return {};
    auto list = snapshot_packages(home.store(), *snap);
    std::sort(list->begin(), list->end());
    return names(*list);
  }
};

TEST_F(SelectionTest, AFilterCarriesItsMatchesAndTheirDependencyClosure) {
  configure("airlock-app");
  auto home = open();
  auto r = sync(*home);
  ASSERT_TRUE(r.snapshot);
  EXPECT_TRUE(r.filtered);
  EXPECT_EQ(snapshot_names(*home, *r.snapshot), kAppClosure);
  EXPECT_EQ(r.packages_selected, 1u);
  EXPECT_EQ(names(r.added), (std::vector<std::string>{
                                "airlock-base 1.0-1 amd64", "airlock-data 1.0-1 all",
                                "airlock-syslog 1.0-1 amd64", "airlock-transport-https 1.0-1 amd64",
                                "libairlock-common 1.2-1 amd64", "libairlock-core 1.2-1 amd64"}));
  EXPECT_TRUE(r.unsatisfied.empty());
  EXPECT_EQ(snapshot_names(*home, *r.snapshot), kAppClosure);
  EXPECT_TRUE(home->store().get_snapshot(*r.snapshot)->filtered);
  // Exactly the closure's files were fetched: not the second alternative,
  // the older libairlock-core or what nothing depends on.
  EXPECT_EQ(pool_requests(),
            (std::vector<std::string>{
                "airlock-app_2.0-1_amd64.deb", "airlock-base_1.0-1_amd64.deb",
                "airlock-data_1.0-1_all.deb", "airlock-syslog_1.0-1_amd64.deb",
                "airlock-transport-https_1.0-1_amd64.deb", "libairlock-common_1.2-1_amd64.deb",
                "libairlock-core_1.2-1_amd64.deb"}));
  json rec = testing::log_records(log_file()).at(records().size() - 2);
  EXPECT_EQ(rec["event"], "sync");
  EXPECT_EQ(rec["packages"], 7);
  EXPECT_EQ(rec["packages_selected"], 1);
  EXPECT_EQ(rec["packages_added"], 6);
  EXPECT_EQ(rec["unsatisfied"], 0);
}

TEST_F(SelectionTest, WithoutDependenciesOnlyTheMatchesAreCarried) {
  configure("airlock-*", "with_dependencies = false\n");
  auto home = open();
  auto r = sync(*home);
  EXPECT_EQ(snapshot_names(*home, *r.snapshot),
            (std::vector<std::string>{
                "airlock-app 2.0-1 amd64", "airlock-base 1.0-1 amd64", "airlock-data 1.0-1 all",
                "airlock-doc 1.0-1 all", "airlock-syslog 1.0-1 amd64",
                "airlock-transport-http 1.0-1 amd64", "airlock-transport-https 1.0-1 amd64"}));
  EXPECT_EQ(r.packages_selected, 7u);
  EXPECT_TRUE(r.added.empty());
  configure("airlock-app", "with_dependencies = false\n");
  r = sync(*home);
  EXPECT_EQ(snapshot_names(*home, *r.snapshot),
            std::vector<std::string>{"airlock-app 2.0-1 amd64"});
  EXPECT_EQ(pool_requests().size(), 7u);  // nothing new to fetch
}

TEST_F(SelectionTest, WithoutAFilterEveryPackageIsCarriedAndNothingCountsAsAdded) {
  auto home = open();
  auto r = sync(*home);
  EXPECT_FALSE(r.filtered);
  EXPECT_EQ(r.packages, 10u);
  EXPECT_EQ(snapshot_names(*home, *r.snapshot).size(), 10u);
  EXPECT_EQ(r.packages_selected, 10u);
  EXPECT_TRUE(r.added.empty());
  EXPECT_FALSE(home->store().get_snapshot(*r.snapshot)->filtered);

  // Unchanged, the report comes from the last snapshot, and says the same.
  for (const auto& again : {dry_run(*home), sync(*home)}) {
    EXPECT_TRUE(again.unchanged);
    EXPECT_EQ(again.snapshot, r.snapshot);
    EXPECT_EQ(again.packages, r.packages);
    EXPECT_EQ(again.packages_selected, r.packages_selected);
    EXPECT_EQ(again.pool_files, r.pool_files);
    EXPECT_EQ(again.pool_bytes, r.pool_bytes);
    EXPECT_EQ(again.pool_missing, 0u);
    EXPECT_TRUE(again.added.empty() && again.unsatisfied.empty());
  }
  json rec = testing::log_records(log_file()).at(records().size() - 2);
  EXPECT_EQ(rec["unchanged"], true);
  EXPECT_EQ(rec["packages"], 10);
}

TEST_F(SelectionTest, AStoredIndexWhoseBytesChangedIsReportedAsCorruptAndNothingRecorded) {
  auto home = open();
  auto first = sync(*home);
  ASSERT_TRUE(first.snapshot);
  // Every stored variant of the Packages index gets one byte changed.
  std::vector<std::string> indices;
  auto snap = home->store().get_snapshot(*first.snapshot);
  ASSERT_TRUE(snap);
  for (const auto& e : snap->entries) {
    if (e.path.find("/Packages") == std::string::npos) continue;
    indices.push_back(e.path);
    fs::path file = home->store().dir() / "objects" / e.sha256.hex().substr(0, 2) / e.sha256.hex();
    fs::permissions(file, fs::perms::owner_write, fs::perm_options::add);
    auto bytes = airlock::testing::read_text(file);
    bytes[bytes.size() / 2] ^= 1;
    airlock::testing::write_text(file, bytes);
  }
  ASSERT_FALSE(indices.empty());
  configure("airlock-syslog");  // a new selection reads the indices again
  auto results = home->sync({}, request());
  ASSERT_TRUE(results);
  const auto& r = results->front().report;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::corrupt) << r.error().message;
  EXPECT_TRUE(std::any_of(indices.begin(), indices.end(), [&](const std::string& path) {
    return r.error().message.starts_with(path + ": object ") &&
           r.error().message.find(" is corrupt: expected sha256 ") != std::string::npos;
  })) << r.error().message;
  EXPECT_EQ(home->snapshots()->size(), 1u);
  EXPECT_EQ(testing::count_events(log_file(), "sync"), 1);
}

TEST_F(SelectionTest, ASignedIndexThatCannotBeTrustedIsRefusedAndNothingRecorded) {
  const fs::path same = testing::sample_upstream() / "same-path";
  const std::string hello = "pool/main/h/hello-airlock/hello-airlock_1.0-1_amd64.deb";
  auto a = sha256(airlock::testing::read_text(same / hello));
  auto b = sha256(airlock::testing::read_text(same / "pool/main/a/airlock-tools" /
                                              "airlock-tools_2.3-1_amd64.deb"));
  if (b < a) std::swap(a, b);
  const std::string index = "dists/bookworm/main/binary-amd64/Packages";
  const std::vector<std::tuple<const char*, Code, std::string>> cases = {
      {"unsafe-path", Code::refused,
       "sample: " + index +
           " names an unsafe pool path 'pool/../../hello-airlock_1.0-1_amd64.deb'"},
      {"same-path", Code::refused,
       "sample: the indices list " + hello + " with two contents (sha256 " + a.hex() + " and " +
           b.hex() + ")"},
      {"no-sha256", Code::invalid_input,
       "sample " + index + ": Packages: airlock-tools lacks Filename, Size or SHA256"},
      {"meta-path", Code::refused,
       "sample: " + index +
           " names a package at dists/bookworm/InRelease, where the signed metadata has a file "
           "of other bytes (sha256 " +
           sha256(airlock::testing::read_text(testing::sample_upstream() /
                                              "meta-path/dists/bookworm/InRelease"))
               .hex() +
           ", the package's " +
           sha256(airlock::testing::read_text(same / "pool/main/a/airlock-tools" /
                                              "airlock-tools_2.3-1_amd64.deb"))
               .hex() +
           ")"},
  };
  auto home = open();
  for (const auto& [root, code, message] : cases) {
    fetcher.set_root(testing::sample_upstream() / root);
    auto results = home->sync({}, request());
    ASSERT_TRUE(results);
    const auto& r = results->front().report;
    ASSERT_FALSE(r) << root;
    EXPECT_EQ(r.error().code, code) << root;
    EXPECT_EQ(r.error().message, message);
  }
  EXPECT_TRUE(home->snapshots()->empty());
  EXPECT_EQ(testing::count_events(log_file(), "sync"), 0);
  EXPECT_TRUE(home->verify_log());
}

TEST_F(SelectionTest, AChangedSelectionRecordsANewSnapshotOfAnUnchangedUpstream) {
  configure("airlock-syslog");
  auto home = open();
  auto first = sync(*home);
  EXPECT_EQ(snapshot_names(*home, *first.snapshot),
            (std::vector<std::string>{"airlock-data 1.0-1 all", "airlock-syslog 1.0-1 amd64"}));
  // The same selection, written differently: unchanged.
  configure("", "packages = [\"airlock-syslog\", \"airlock-syslog\"]\n");
  EXPECT_TRUE(sync(*home).unchanged);

  configure("airlock-app");
  fetcher.requests.clear();
  auto second = sync(*home);
  EXPECT_FALSE(second.unchanged);
  EXPECT_TRUE(second.selection_changed);
  ASSERT_TRUE(second.snapshot && first.snapshot);
  EXPECT_NE(*second.snapshot, *first.snapshot);
  EXPECT_EQ(snapshot_names(*home, *second.snapshot), kAppClosure);
  // The upstream answered 304; its indices were in the store: only the
  // five packages new to the selection were fetched.
  EXPECT_EQ(second.metadata_fetched, 0u);
  EXPECT_EQ(second.pool_fetched, 5u);
  EXPECT_EQ(fetcher.requests.size(), 6u);
  EXPECT_EQ(home->snapshots()->size(), 2u);
  EXPECT_EQ(testing::log_records(log_file()).at(records().size() - 2)["selection_changed"], true);

  // Back to the first selection: its snapshot's content again, nothing fetched.
  configure("airlock-syslog");
  auto third = sync(*home);
  EXPECT_TRUE(third.selection_changed);
  EXPECT_EQ(third.pool_fetched, 0u);
  EXPECT_EQ(snapshot_names(*home, *third.snapshot), snapshot_names(*home, *first.snapshot));
  EXPECT_TRUE(sync(*home).unchanged);
  // with_dependencies, components, architectures and translations count too.
  for (const char* more : {"with_dependencies = false\n", "translations = false\n"}) {
    configure("airlock-syslog", more);
    auto r = sync(*home);
    EXPECT_TRUE(r.selection_changed) << more;
    EXPECT_FALSE(r.unchanged) << more;
  }
  EXPECT_EQ(home->snapshots()->size(), 5u);
  EXPECT_TRUE(home->verify_log());
}

// Everything a dry run reports equals what the sync after it does.
void expect_same(const SyncReport& dry, const SyncReport& real) {
  EXPECT_TRUE(dry.dry_run);
  EXPECT_EQ(dry.unchanged, real.unchanged);
  EXPECT_EQ(dry.selection_changed, real.selection_changed);
  EXPECT_EQ(dry.pool_missing, real.pool_fetched);
  EXPECT_EQ(dry.bytes_missing + dry.bytes_fetched, real.bytes_fetched);
  EXPECT_EQ(dry.metadata_fetched, real.metadata_fetched);
  EXPECT_EQ(dry.pool_files, real.pool_files);
  EXPECT_EQ(dry.pool_bytes, real.pool_bytes);
  EXPECT_EQ(dry.packages, real.packages);
  EXPECT_EQ(names(dry.added), names(real.added));
  EXPECT_EQ(dry.packages_selected, real.packages_selected);
  EXPECT_EQ(dry.unsatisfied, real.unsatisfied);
  if (dry.unchanged) {
    EXPECT_EQ(dry.snapshot, real.snapshot);
  }
}

TEST_F(SelectionTest, ADryRunReportsExactlyWhatTheSyncAfterItDoes) {
  auto home = open();
  // A first sync, a new upstream, a new filter, the same again, the filter
  // widened, a patch day upstream, and the filter dropped.
  struct Step {
    std::string glob;
    std::string root;
  };
  // (The upstreams in the order of their Release dates: day1, deps, day2.)
  const std::vector<Step> steps = {{"hello-*", "day1"},
                                   {"airlock-syslog", "deps"},
                                   {"airlock-app", "deps"},
                                   {"airlock-app", "deps"},
                                   {"airlock-*", "deps"},
                                   {"hello-*", "day2"},
                                   {"", "day2"}};
  for (const auto& step : steps) {
    SCOPED_TRACE(step.glob + " " + step.root);
    configure(step.glob);
    fetcher.set_root(testing::sample_upstream() / step.root);
    const auto store_before = airlock::testing::store_fingerprint(home_dir / "store");
    const auto log_before = airlock::testing::read_text(log_file());
    auto dry = dry_run(*home);
    EXPECT_EQ(airlock::testing::store_fingerprint(home_dir / "store"), store_before);
    EXPECT_EQ(airlock::testing::read_text(log_file()), log_before);
    fetcher.requests.clear();
    auto real = sync(*home);
    expect_same(dry, real);
    EXPECT_EQ(pool_requests().size(), dry.pool_missing);
  }
}

TEST_F(SelectionTest, AnUnsatisfiableDependencyIsReportedAndTheRestCarried) {
  fetcher.set_root(testing::sample_upstream() / "unsatisfiable");
  configure("airlock-orphan");
  auto home = open();
  auto results = home->sync({}, request());
  ASSERT_TRUE(results && results->front().report) << results->front().report.error().message;
  const SyncReport& r = *results->front().report;
  ASSERT_TRUE(r.snapshot);
  EXPECT_EQ(snapshot_names(*home, *r.snapshot),
            (std::vector<std::string>{"airlock-data 1.0-1 all", "airlock-orphan 1.0-1 amd64"}));
  ASSERT_EQ(r.unsatisfied.size(), 1u);
  EXPECT_EQ(r.unsatisfied[0],
            (apt::UnsatisfiedDependency{"airlock-orphan", "1.0-1", "amd64", "amd64", "Depends",
                                        "airlock-gone (>= 1)"}));
  std::ostringstream err, out;
  EXPECT_EQ(print_sync_problems(err, "airlock-mirror", *results), 0);
  EXPECT_EQ(err.str(),
            "airlock-mirror: warning: sample: airlock-orphan 1.0-1 (amd64) Depends: airlock-gone "
            "(>= 1): nothing in the indices satisfies it\n");
  print_sync(out, *results);
  EXPECT_NE(out.str().find("\n  filter: 1 matched, 1 added as dependencies, 1 not satisfiable\n"),
            std::string::npos)
      << out.str();
  json j = to_json(*results)[0];
  EXPECT_EQ(j["packages_added"], 1);
  EXPECT_EQ(j["unsatisfied"][0]["relation"], "airlock-gone (>= 1)");
  EXPECT_EQ(testing::log_records(log_file()).at(records().size() - 2)["unsatisfied"], 1);
}

TEST_F(SelectionTest, TheOutputSaysWhatTheFilterMatchedAndTheClosureAdded) {
  configure("airlock-app");
  auto home = open();
  auto results = home->sync({}, request());
  ASSERT_TRUE(results);
  std::ostringstream out;
  print_sync(out, *results);
  EXPECT_NE(out.str().find("\n  7 packages ("), std::string::npos) << out.str();
  EXPECT_TRUE(out.str().ends_with("\n  filter: 1 matched, 6 added as dependencies\n")) << out.str();
  json j = to_json(*results)[0];
  EXPECT_EQ(j["filtered"], true);
  EXPECT_EQ(j["packages"], 7);
  EXPECT_EQ(j["packages_selected"], 1);
  EXPECT_EQ(j["packages_added"], 6);
  EXPECT_EQ(j["added"][0],
            (json{{"name", "airlock-base"}, {"architecture", "amd64"}, {"version", "1.0-1"}}));
  EXPECT_TRUE(j["unsatisfied"].empty());
}

}  // namespace
}  // namespace airlock::mirror
