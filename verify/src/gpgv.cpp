#include "airlock/verify/gpgv.h"

#include <sstream>

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

Status judge(const ProcessResult& r, const fs::path& keyring, const std::string& what) {
  bool valid = false, bad = false;
  std::string missing;
  std::istringstream lines(r.status);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("[GNUPG:] ")) continue;
    std::istringstream words(line.substr(9));
    std::string tag, arg;
    words >> tag >> arg;
    if (tag == "VALIDSIG") valid = true;
    if (tag == "BADSIG") bad = true;
    if (tag == "NO_PUBKEY" || tag == "ERRSIG") missing = arg;
    if (tag == "EXPKEYSIG" || tag == "REVKEYSIG") bad = true;
  }
  if (bad)
    return fail(Code::refused,
                what + " has a bad signature (checked against " + keyring.string() + ")");
  if (valid && r.exit_code == 0) return {};
  if (!missing.empty()) {
    return fail(Code::refused,
                what + " is not signed by a key in " + keyring.string() + " (key " + missing + ")");
  }
  return fail(Code::refused,
              what + " has no valid signature (checked against " + keyring.string() + ")");
}

}  // namespace

Result<std::string> gpgv_clearsigned(const fs::path& keyring, const fs::path& file,
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
  if (auto s = judge(*r, keyring, file.filename().string()); !s) return fail(s.error());
  auto text = read_file(out, 256 << 20);
  fs::remove(out, ec);
  if (!text) return fail(text.error());
  return text;
}

Status gpgv_detached(const fs::path& keyring, const fs::path& signature, const fs::path& data,
                     const fs::path& workdir) {
  if (auto s = make_dirs(workdir); !s) return s;
  auto ring = usable_keyring(keyring, workdir);
  if (!ring) return fail(ring.error());
  auto r = run_process({"gpgv", "--homedir", workdir.string(), "--status-fd", "3", "--keyring",
                        absolute_name(*ring), signature.string(), data.string()},
                       status_fd3());
  if (!r) return fail(r.error());
  return judge(*r, keyring, data.filename().string());
}

}  // namespace airlock
