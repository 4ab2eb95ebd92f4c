// `airlock-mirror config check`: mirror.toml as sync reads it, and what
// reading it cannot tell: the keyrings, the upstreams twice, the keys.
#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "airlock/base/file.h"
#include "airlock/base/process.h"
#include "airlock/base/text.h"
#include "airlock/mirror/home.h"
#include "airlock/verify/ed25519.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A directory of its own for gpg's home while the check runs, removed after.
class Scratch {
 public:
  static Result<Scratch> make() {
    std::error_code ec;
    std::string pattern = (fs::temp_directory_path(ec) / "airlock-check-XXXXXX").string();
    if (ec || ::mkdtemp(pattern.data()) == nullptr)
      return fail_errno("cannot make a scratch directory for gpg");
    return Scratch(pattern);
  }
  Scratch(Scratch&& other) noexcept : dir_(std::exchange(other.dir_, {})) {}
  Scratch& operator=(Scratch&&) = delete;
  ~Scratch() {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

 private:
  explicit Scratch(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

// What is wrong with a keyring (empty when nothing): it must exist, be
// readable and hold an OpenPGP public key that has neither expired nor been
// revoked, as gpg lists them. An error only when gpg cannot be run.
Result<std::string> keyring_problem(const fs::path& keyring, const fs::path& scratch) {
  const std::string name = keyring.string();
  if (auto text = read_file(keyring, 16 << 20); !text) {
    if (text.error().code == Code::not_found)
      return name + ": no such file (expected the upstream's OpenPGP keyring)";
    return name + ": cannot be read (" + text.error().message + ")";
  }
  auto r = run_process({"gpg", "--batch", "--no-autostart", "--homedir", scratch.string(),
                        "--with-colons", "--show-keys", name});
  if (!r) return fail(r.error().context("gpg --show-keys"));
  int keys = 0, usable = 0;
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("pub:")) continue;
    ++keys;
    const char validity = line.size() > 4 ? line[4] : '-';
    if (validity != 'e' && validity != 'r') ++usable;
  }
  if (keys == 0)
    return name + ": holds no OpenPGP public key (expected a keyring that gpg --show-keys lists)";
  if (usable == 0)
    return name + ": every key in it has expired or was revoked (expected the upstream's " +
           "current keyring)";
  return std::string();
}

// A repository's problem at key, as a ConfigProblem.
ConfigProblem about(const std::string& file, const RepoConfig& r, std::string key,
                    std::string message, bool warning = false) {
  return {file, r.line_of(key), 0, r.name, 0, r.line, std::move(key), std::move(message), warning};
}

// Two repositories of one upstream: the same kind and url, and for apt a
// suite in common. The same packages as well is the same repository twice
// (an error); another selection of it is allowed but worth a look.
void check_upstreams(const std::string& file, const MirrorConfig& config,
                     std::vector<ConfigProblem>& out) {
  for (std::size_t j = 0; j < config.repos.size(); ++j) {
    const RepoConfig& b = config.repos[j];
    for (std::size_t i = 0; i < j; ++i) {
      const RepoConfig& a = config.repos[i];
      if (a.kind != b.kind || a.url != b.url) continue;
      const bool common_suite = std::any_of(a.suites.begin(), a.suites.end(), [&](auto& s) {
        return std::find(b.suites.begin(), b.suites.end(), s) != b.suites.end();
      });
      if (a.kind == "apt" && !common_suite) continue;
      const std::string other = "repo '" + a.name + "' at line " + std::to_string(a.line);
      if (a.packages == b.packages && a.components == b.components &&
          a.architectures == b.architectures) {
        out.push_back(about(
            file, b, "url",
            "the same upstream and selection as " + other + " (expected each upstream once)"));
      } else {
        out.push_back(about(file, b, "url", "the same upstream as " + other, true));
      }
    }
  }
}

// Every key pair in keys/ loads: NAME.key (0600) and NAME.pub, of one key.
// Returns how many bundle signing keys (all but the log key) do.
std::size_t check_keys(const fs::path& keys_dir, std::vector<ConfigProblem>& out) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(keys_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".key") names.push_back(it->path().stem().string());
  }
  std::sort(names.begin(), names.end());
  std::size_t loaded = 0;
  for (const auto& name : names) {
    const fs::path key_file = keys_dir / (name + ".key"), pub_file = keys_dir / (name + ".pub");
    auto key = PrivateKey::read_file(key_file);
    if (!key) {
      out.push_back({key_file.string(), 0, 0, {}, 0, 0, {}, key.error().message, false});
      continue;
    }
    auto pub = PublicKey::read_file(pub_file);
    if (!pub) {
      out.push_back({pub_file.string(), 0, 0, {}, 0, 0, {}, pub.error().message, false});
      continue;
    }
    if (pub->id() != key->public_key().id()) {
      out.push_back({pub_file.string(),
                     0,
                     0,
                     {},
                     0,
                     0,
                     {},
                     "not the public half of " + key_file.filename().string() + " (expected key " +
                         key->public_key().id().hex() + ")",
                     false});
      continue;
    }
    if (name != "log") ++loaded;
  }
  return loaded;
}

}  // namespace

bool ConfigCheck::ok() const {
  return std::none_of(problems.begin(), problems.end(),
                      [](const ConfigProblem& p) { return !p.warning; });
}

Result<ConfigCheck> check_config(const fs::path& dir) {
  if (!Home::is_home(dir)) {
    return fail(Code::not_found, "no mirror home at " + dir.string() +
                                     " (run 'airlock-mirror --home " + dir.string() + " init')");
  }
  const fs::path file = dir / "mirror.toml";
  auto text = read_file(file, 1 << 20);
  if (!text) return fail(text.error());
  auto reading = MirrorConfig::read(*text, file.string());
  ConfigCheck out;
  out.problems = std::move(reading.problems);
  out.repositories = reading.config.repos.size();
  auto scratch = Scratch::make();
  if (!scratch) return fail(scratch.error());
  for (const auto& r : reading.config.repos) {
    if (r.keyring.empty()) continue;
    auto problem = keyring_problem(r.keyring, scratch->dir());
    if (!problem) return fail(problem.error());
    if (!problem->empty()) out.problems.push_back(about(file.string(), r, "keyring", *problem));
  }
  check_upstreams(file.string(), reading.config, out.problems);
  out.signing_keys = check_keys(dir / "keys", out.problems);
  std::stable_sort(out.problems.begin(), out.problems.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) {
                     return std::tie(a.file, a.line) < std::tie(b.file, b.line);
                   });
  return out;
}

Result<ConfigCheck> Home::check_config() const { return mirror::check_config(dir()); }

json to_json(const ConfigProblem& p) {
  json out{{"file", p.file},  {"line", p.line},       {"repo", p.repo},
           {"key", p.key},    {"message", p.message}, {"severity", p.warning ? "warning" : "error"},
           {"text", p.text()}};
  if (p.column > 0) out["column"] = p.column;
  if (p.entry > 0) out["entry"] = p.entry;
  return out;
}

json to_json(const ConfigCheck& check) {
  json problems = json::array();
  for (const auto& p : check.problems) problems.push_back(to_json(p));
  return {{"ok", check.ok()},
          {"repositories", check.repositories},
          {"signing_keys", check.signing_keys},
          {"problems", std::move(problems)}};
}

void print_config_check(std::ostream& out, const ConfigCheck& check) {
  for (const auto& p : check.problems) out << escape_for_terminal(p.text()) << "\n";
  if (check.ok()) {
    out << "ok: " << check.repositories
        << (check.repositories == 1 ? " repository, " : " repositories, ") << check.signing_keys
        << (check.signing_keys == 1 ? " signing key" : " signing keys") << "\n";
  }
}

}  // namespace airlock::mirror
