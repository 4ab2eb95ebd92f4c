#include "airlock/repo/site_key.h"

#include <random>
#include <sstream>

#include "airlock/base/file.h"
#include "airlock/base/process.h"

namespace airlock::repo {
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxSigned = 64 << 20;

// gpg on the key's home, never asking anything: the key has no passphrase
// because it lives in a home only the service account can read.
Result<ProcessResult> gpg(const fs::path& home, std::vector<std::string> args) {
  std::vector<std::string> argv{"gpg",          "--homedir", home.string(),     "--batch",
                                "--no-tty",     "--quiet",   "--pinentry-mode", "loopback",
                                "--passphrase", ""};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv);
  // An agent stopped a moment ago may still hold its socket: gpg then finds
  // it closing and gives up. The next try starts a fresh one.
  for (int retry = 0; retry < 3 && r && r->exit_code != 0 &&
                      r->err.find("can't connect to the agent") != std::string::npos;
       ++retry) {
    r = run_process(argv);
  }
  if (!r) return fail(r.error().context("gpg"));
  if (r->exit_code != 0) {
    std::string first = r->err.substr(0, r->err.find('\n'));
    return fail(Code::io, "gpg " + args.front() + " failed" + (first.empty() ? "" : ": " + first));
  }
  return r;
}

// The agent gpg started for this home: stopped when the work is done.
void stop_agent(const fs::path& home) {
  (void)run_process({"gpgconf", "--homedir", home.string(), "--kill", "gpg-agent"});
}

// The fingerprint and user id of the one secret key in home.
Result<std::pair<std::string, std::string>> secret_key(const fs::path& home) {
  auto r = gpg(home, {"--with-colons", "--list-secret-keys"});
  if (!r) return fail(r.error());
  std::string fpr, uid;
  std::istringstream lines(r->out);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f;
    std::istringstream cells(line);
    for (std::string c; std::getline(cells, c, ':');) f.push_back(c);
    if (f.size() > 9 && f[0] == "fpr" && fpr.empty()) fpr = f[9];
    if (f.size() > 9 && f[0] == "uid" && uid.empty()) uid = f[9];
  }
  if (fpr.empty()) return fail(Code::not_found, "no site key in " + home.string());
  return std::pair{fpr, uid};
}

}  // namespace

Result<SiteKey> SiteKey::create(const fs::path& dir, const std::string& uid, Env& env) {
  if (path_exists(dir)) return fail(Code::invalid_input, "a site key exists at " + dir.string());
  if (auto s = env.make_dirs(dir.parent_path()); !s) return fail(s.error());
  std::random_device rd;
  const fs::path tmp = dir.parent_path() / (".gnupg-" + std::to_string(rd()));
  if (auto s = env.make_dir(tmp, 0700); !s) return fail(s.error());
  auto made = gpg(tmp, {"--quick-generate-key", uid, "ed25519", "sign", "never"});
  stop_agent(tmp);
  Result<std::pair<std::string, std::string>> key = fail(Code::io, "");
  if (made) {
    key = secret_key(tmp);
    stop_agent(tmp);
  } else {
    key = fail(made.error());
  }
  if (key) {
    if (auto s = env.rename(tmp, dir); !s) key = fail(s.error());
  }
  if (!key) {
    (void)env.remove_all(tmp);
    return fail(key.error().context("site key"));
  }
  if (auto s = env.sync_dir(dir.parent_path()); !s) return fail(s.error());
  return SiteKey(dir, key->first, key->second);
}

Result<SiteKey> SiteKey::open(const fs::path& dir) {
  if (!path_exists(dir)) return fail(Code::not_found, "no site key in " + dir.string());
  auto key = secret_key(dir);
  stop_agent(dir);
  if (!key) return fail(key.error());
  return SiteKey(dir, key->first, key->second);
}

Result<std::string> SiteKey::export_public(bool armor) const {
  std::vector<std::string> args{"--export"};
  if (armor) args.push_back("--armor");
  args.push_back(fingerprint_);
  auto r = gpg(dir_, args);
  if (!r) return fail(r.error());
  if (r->out.empty()) return fail(Code::io, "gpg exported nothing for " + fingerprint_);
  return std::move(r->out);
}

Result<std::string> SiteKey::sign(std::string_view text, const std::string& mode) const {
  auto scratch = ScratchDir::make(dir_, ".scratch-");
  if (!scratch) return fail(scratch.error());
  const fs::path in = scratch->path() / "in", out = scratch->path() / "out";
  if (auto s = Env::system().write_file_atomic(in, text); !s) return fail(s.error());
  std::vector<std::string> args{mode,     "--local-user", fingerprint_ + "!", "--digest-algo",
                                "SHA512", "--output",     out.string()};
  if (mode == "--detach-sign") args.push_back("--armor");
  args.push_back(in.string());
  auto r = gpg(dir_, args);
  stop_agent(dir_);
  if (!r) return fail(r.error().context("site key"));
  return read_file(out, kMaxSigned);
}

Result<std::string> SiteKey::clearsign(std::string_view text) const {
  return sign(text, "--clearsign");
}

Result<std::string> SiteKey::detach_sign(std::string_view text) const {
  return sign(text, "--detach-sign");
}

}  // namespace airlock::repo
