#include "airlock/verify/gpgv.h"

#include <sstream>
#include <vector>

#include "airlock/base/file.h"
#include "airlock/base/process.h"

namespace airlock {
namespace fs = std::filesystem;

namespace {

// An armored keyring (.asc) is converted once into the binary form gpgv reads.
Result<fs::path> usable_keyring(const fs::path& keyring, const fs::path& workdir) {
  auto head = read_file(keyring, 16 << 20);
  if (!head) return fail(head.error().context("keyring"));
  if (!head->starts_with("-----BEGIN PGP")) return keyring;
  auto out = workdir / "keyring.gpg";
  std::error_code ec;
  fs::remove(out, ec);
  auto r = run_process({"gpg", "--batch", "--homedir", workdir.string(), "--dearmor", "--output",
                        out.string(), keyring.string()});
  if (!r) return fail(r.error());
  if (r->exit_code != 0)
    return fail(Code::invalid_input, "keyring " + keyring.string() + " cannot be dearmored");
  return out;
}

// gpgv reads a keyring given without a slash from its home directory.
std::string absolute_name(const fs::path& path) {
  std::error_code ec;
  auto abs = fs::absolute(path, ec);
  return ec ? path.string() : abs.string();
}

ProcessOptions status_fd3() {
  ProcessOptions o;
  o.status_fd = 3;
  return o;
}

// The fingerprint of the good signature's key, or refused.
Result<std::string> judge(const ProcessResult& r, const fs::path& keyring,
                          const std::string& what) {
  bool valid = false, bad = false;
  std::string fingerprint;
  std::string missing;
  std::istringstream lines(r.status);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("[GNUPG:] ")) continue;
    std::istringstream words(line.substr(9));
    std::string tag, arg;
    words >> tag >> arg;
    if (tag == "VALIDSIG") {
      valid = true;
      // VALIDSIG <signing key fpr> <date> <time> <expire> <version> <reserved>
      // <pubkey algo> <hash algo> <class> [<primary key fpr>]
      std::vector<std::string> rest;
      for (std::string w; words >> w;) rest.push_back(w);
      fingerprint = rest.size() >= 9 ? rest[8] : arg;
    }
    if (tag == "BADSIG") bad = true;
    if (tag == "NO_PUBKEY" || tag == "ERRSIG") missing = arg;
    if (tag == "EXPKEYSIG" || tag == "REVKEYSIG") bad = true;
  }
  if (bad)
    return fail(Code::refused,
                what + " has a bad signature (checked against " + keyring.string() + ")");
  if (valid && r.exit_code == 0) return fingerprint;
  if (!missing.empty()) {
    return fail(Code::refused,
                what + " is not signed by a key in " + keyring.string() + " (key " + missing + ")");
  }
  return fail(Code::refused,
              what + " has no valid signature (checked against " + keyring.string() + ")");
}

}  // namespace

Result<GpgvSignature> gpgv_check_clearsigned(const fs::path& keyring, const fs::path& file,
                                             const fs::path& workdir) {
  if (auto s = make_dirs(workdir); !s) return fail(s.error());
  auto ring = usable_keyring(keyring, workdir);
  if (!ring) return fail(ring.error());
  auto out = workdir / "signed-text";
  std::error_code ec;
  fs::remove(out, ec);
  auto r = run_process({"gpgv", "--homedir", workdir.string(), "--status-fd", "3", "--keyring",
                        absolute_name(*ring), "--output", out.string(), file.string()},
                       status_fd3());
  if (!r) return fail(r.error());
  auto fingerprint = judge(*r, keyring, file.filename().string());
  if (!fingerprint) return fail(fingerprint.error());
  auto text = read_file(out, 256 << 20);
  fs::remove(out, ec);
  if (!text) return fail(text.error());
  return GpgvSignature{std::move(*text), std::move(*fingerprint)};
}

Result<std::string> gpgv_clearsigned(const fs::path& keyring, const fs::path& file,
                                     const fs::path& workdir) {
  auto v = gpgv_check_clearsigned(keyring, file, workdir);
  if (!v) return fail(v.error());
  return std::move(v->text);
}

Result<GpgvSignature> gpgv_check_detached(const fs::path& keyring, const fs::path& signature,
                                          const fs::path& data, const fs::path& workdir) {
  if (auto s = make_dirs(workdir); !s) return fail(s.error());
  auto ring = usable_keyring(keyring, workdir);
  if (!ring) return fail(ring.error());
  auto r = run_process({"gpgv", "--homedir", workdir.string(), "--status-fd", "3", "--keyring",
                        absolute_name(*ring), signature.string(), data.string()},
                       status_fd3());
  if (!r) return fail(r.error());
  auto fingerprint = judge(*r, keyring, data.filename().string());
  if (!fingerprint) return fail(fingerprint.error());
  return GpgvSignature{{}, std::move(*fingerprint)};
}

Status gpgv_detached(const fs::path& keyring, const fs::path& signature, const fs::path& data,
                     const fs::path& workdir) {
  auto v = gpgv_check_detached(keyring, signature, data, workdir);
  if (!v) return fail(v.error());
  return {};
}

}  // namespace airlock
