// Bundle signing keys and co-signatures: keygen, loading a key, sign.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "airlock/base/file.h"
#include "airlock/mirror/home.h"

namespace airlock::mirror {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool valid_key_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name == "log") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// "airlock-s-000001" for ".../airlock-s-000001/" as well.
std::string bundle_name(const fs::path& dir) {
  auto name = dir.filename();
  return name.empty() ? dir.parent_path().filename().string() : name.string();
}

SignReport report_of(const fs::path& bundle_dir, const PrivateKey& key, const Cosignature& c) {
  return SignReport{bundle_dir, key.public_key().id(), c.manifest_sha256, c.signers, false, {}};
}

}  // namespace

Result<PrivateKey> load_signing_key(const fs::path& keys_dir, const std::string& name_or_path) {
  fs::path p = name_or_path;
  if (!path_exists(p) && !keys_dir.empty()) p = keys_dir / (name_or_path + ".key");
  if (!path_exists(p))
    return fail(Code::not_found, "no key '" + name_or_path + "' (looked for " + p.string() + ")");
  return PrivateKey::read_file(p);
}

Result<PrivateKey> Home::load_key(const std::string& name_or_path) const {
  return load_signing_key(keys_dir(), name_or_path);
}

std::vector<std::string> Home::key_names() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(keys_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() == ".key" && p.stem() != "log") out.push_back(p.stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<KeyReport> Home::keygen(const std::string& name, const ChangeInfo& who) {
  if (!valid_key_name(name)) {
    return fail(Code::invalid_input,
                "key name '" + name +
                    "' must be 1-64 characters of A-Z a-z 0-9 . _ -, not starting with '.', "
                    "and not 'log'");
  }
  KeyReport report{name, keys_dir() / (name + ".key"), keys_dir() / (name + ".pub"), {}};
  auto key = PrivateKey::generate();
  if (!key) return fail(key.error());
  report.keyid = key->public_key().id();
  json rec = who.fields();
  rec.update({{"name", name}, {"keyid", report.keyid.hex()}});
  auto change = ledger().begin();
  if (!change) return fail(change.error());
  // Checked under the change lock that every keygen of this home takes,
  // before the public half is written; the key itself is created only if
  // absent, never replaced.
  if (path_exists(report.key_file)) {
    return fail(Code::conflict,
                "a key named '" + name + "' exists already (" + report.key_file.string() + ")");
  }
  // The private key is the commit point.
  std::vector<FileWrite> files{{report.public_file, key->public_key().to_pem(), 0644, false},
                               {report.key_file, key->to_pem(), 0600, true}};
  if (auto s = change->commit_files(std::move(files), {{"keygen", std::move(rec)}}); !s)
    return fail(s.error());
  return report;
}

namespace {

// The public keys in dir (NAME.pub, the log key left out), named by NAME.
std::vector<TrustedKey> known_keys(const fs::path& dir) {
  std::vector<TrustedKey> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() != ".pub" || p.stem() == "log") continue;
    if (auto k = PublicKey::read_file(p)) out.push_back({p.stem().string(), *k, {}, {}});
  }
  return out;
}

// The review, the approval, and the new signatures; writes nothing.
Result<SignReport> prepare_signature(const fs::path& bundle_dir, const PrivateKey& key,
                                     const fs::path& keys_dir, const SignApproval& approve,
                                     std::string& signatures_json) {
  auto review = review_bundle(bundle_dir, known_keys(keys_dir), system_now());
  if (!review) return fail(review.error());
  for (const auto& s : review->signers) {
    if (s.keyid == key.public_key().id()) {
      return fail(Code::conflict, "bundle is already signed by key " + s.keyid.hex());
    }
  }
  if (!approve) return fail(Code::refused, "not signed: nobody approved the co-signature");
  if (auto s = approve(*review); !s) return fail(s.error());
  auto c = cosign_manifest(bundle_dir, key);
  if (!c) return fail(c.error());
  signatures_json = std::move(c->signatures_json);
  SignReport report = report_of(bundle_dir, key, *c);
  report.review = std::move(*review);
  return report;
}

}  // namespace

Result<SignReport> Home::sign(const fs::path& bundle_dir, const PrivateKey& key,
                              const ChangeInfo& who, const SignApproval& approve) {
  // Under the change lock: no other co-signature of this home lands between
  // reading the signatures and writing them back.
  auto change = ledger().begin();
  if (!change) return fail(change.error());
  std::string signatures;
  auto report = prepare_signature(bundle_dir, key, keys_dir(), approve, signatures);
  if (!report) return fail(report.error());
  json rec{{"bundle", bundle_name(bundle_dir)},
           {"keyid", report->keyid.hex()},
           {"manifest", report->manifest_sha256.hex()}};
  rec.update(who.fields());
  std::vector<FileWrite> files{
      {bundle_dir / "manifest.sig.json", std::move(signatures), 0644, false}};
  if (auto s = change->commit_files(std::move(files), {{"cosign", std::move(rec)}}); !s)
    return fail(s.error());
  report->logged = true;
  return report;
}

Result<SignReport> sign_bundle(const fs::path& bundle_dir, const PrivateKey& key,
                               const fs::path& key_dir, const SignApproval& approve, Env& env) {
  std::string signatures;
  auto report = prepare_signature(bundle_dir, key, key_dir, approve, signatures);
  if (!report) return fail(report.error());
  if (auto s = env.write_file_atomic(bundle_dir / "manifest.sig.json", signatures, 0644); !s) {
    return fail(s.error());
  }
  return report;
}

}  // namespace airlock::mirror
