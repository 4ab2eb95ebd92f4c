#include "airlock/verify/trust.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "airlock/base/file.h"
#include "airlock/base/json.h"
#include "airlock/base/text.h"

namespace airlock {
namespace {

using json = nlohmann::json;
constexpr std::uint64_t kMaxTrustFile = 4 << 20;

Result<std::optional<TimePoint>> optional_time(const json& obj, const char* field) {
  if (!obj.contains(field) || obj[field].is_null()) return std::optional<TimePoint>{};
  if (!obj[field].is_string()) {
    return fail(Code::invalid_input, std::string(field) + " must be an RFC 3339 string");
  }
  auto t = parse_time(obj[field].get<std::string>());
  if (!t) return fail(t.error());
  return std::optional<TimePoint>(*t);
}

}  // namespace

bool TrustedKey::valid_at(TimePoint now) const {
  if (not_before && now < *not_before) return false;
  if (not_after && now > *not_after) return false;
  return true;
}

namespace {
// "alice (key 1a2b3c4d5e6f7a8b)": a key as people compare it with `trust list`.
std::string key_label(const std::string& name, const KeyId& id) {
  return escape_for_terminal(name) + " (key " + id.hex().substr(0, 16) + ")";
}
}  // namespace

std::string TrustCheck::summary() const {
  std::string out = std::to_string(signers.size()) + " valid signature" +
                    (signers.size() == 1 ? "" : "s") + " of " + std::to_string(threshold) +
                    " required";
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < signers.size() && i < signer_keys.size(); ++i)
    parts.push_back(key_label(signers[i], signer_keys[i]) + " signed");
  parts.insert(parts.end(), problems.begin(), problems.end());
  for (const auto& id : untrusted)
    parts.push_back("key " + id.hex().substr(0, 16) + " signed but is not trusted here");
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : ": ") + parts[i];
  return out;
}

Result<TrustPolicy> TrustPolicy::parse(std::string_view text) {
  auto bad = [](std::string what) { return fail(Code::invalid_input, "trust policy: " + what); };
  auto parsed = parse_json_strict(text);
  if (!parsed) return bad(parsed.error().message);
  json& doc = *parsed;
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("threshold") || !doc["threshold"].is_number_integer()) {
    return bad("threshold must be an integer");
  }
  TrustPolicy policy;
  auto threshold = doc["threshold"].get<long long>();
  if (threshold < 1 || threshold > 1000) return bad("threshold must be between 1 and 1000");
  policy.threshold = static_cast<int>(threshold);
  if (doc.contains("max_validity_days")) {
    const json& days = doc["max_validity_days"];
    if (!days.is_number_integer() || days.get<long long>() < 1 || days.get<long long>() > 3650)
      return bad("max_validity_days must be an integer from 1 to 3650");
    policy.max_validity_days = static_cast<int>(days.get<long long>());
  }
  if (!doc.contains("keys") || !doc["keys"].is_array()) return bad("keys must be an array");
  for (const auto& k : doc["keys"]) {
    if (!k.is_object() || !k.contains("name") || !k["name"].is_string() ||
        !k.contains("public_key") || !k["public_key"].is_string()) {
      return bad("each key needs a name and a public_key (PEM)");
    }
    auto name = k["name"].get<std::string>();
    auto pub = PublicKey::from_pem(k["public_key"].get<std::string>());
    if (!pub) return bad("key '" + name + "': " + pub.error().message);
    if (k.contains("keyid")) {
      if (!k["keyid"].is_string() || k["keyid"].get<std::string>() != pub->id().hex()) {
        return bad("key '" + name + "': keyid does not match its public key (expected " +
                   pub->id().hex() + ")");
      }
    }
    auto nb = optional_time(k, "not_before");
    if (!nb) return bad("key '" + name + "': " + nb.error().message);
    auto na = optional_time(k, "not_after");
    if (!na) return bad("key '" + name + "': " + na.error().message);
    if (auto s = policy.add(TrustedKey{name, *pub, *nb, *na}); !s) return bad(s.error().message);
  }
  return policy;
}

Result<TrustPolicy> TrustPolicy::load(const std::filesystem::path& path) {
  auto text = read_file(path, kMaxTrustFile);
  if (!text) return fail(text.error());
  auto policy = parse(*text);
  if (!policy) return fail(policy.error().context(path.string()));
  return policy;
}

std::string TrustPolicy::to_json() const {
  json keys_json = json::array();
  for (const auto& k : keys) {
    json entry{{"name", k.name}, {"keyid", k.key.id().hex()}, {"public_key", k.key.to_pem()}};
    entry["not_before"] = k.not_before ? json(format_time(*k.not_before)) : json(nullptr);
    entry["not_after"] = k.not_after ? json(format_time(*k.not_after)) : json(nullptr);
    keys_json.push_back(std::move(entry));
  }
  json doc{{"threshold", threshold}, {"keys", std::move(keys_json)}};
  if (max_validity_days != kDefaultMaxValidityDays) doc["max_validity_days"] = max_validity_days;
  return doc.dump(2) + "\n";
}

Status TrustPolicy::save(const std::filesystem::path& path, Env& env) const {
  return env.write_file_atomic(path, to_json(), 0644);
}

Status TrustPolicy::add(TrustedKey key) {
  for (const auto& k : keys) {
    if (k.key.id() == key.key.id()) {
      return fail(Code::conflict,
                  "key " + key.key.id().hex() + " is already trusted as '" + k.name + "'");
    }
    if (k.name == key.name) {
      return fail(Code::conflict, "a key named '" + key.name + "' is already trusted");
    }
  }
  keys.push_back(std::move(key));
  return {};
}

Status TrustPolicy::remove(const KeyId& id) {
  for (auto it = keys.begin(); it != keys.end(); ++it) {
    if (it->key.id() == id) {
      keys.erase(it);
      return {};
    }
  }
  return fail(Code::not_found, "no trusted key with id " + id.hex());
}

const TrustedKey* TrustPolicy::find(const KeyId& id) const {
  for (const auto& k : keys) {
    if (k.key.id() == id) return &k;
  }
  return nullptr;
}

Result<TrustCheck> TrustPolicy::check(std::string_view message,
                                      const std::vector<SignatureEntry>& signatures,
                                      TimePoint now) const {
  TrustCheck out;
  out.threshold = threshold;
  std::set<KeyId> counted;
  std::map<KeyId, std::string> problems;  // only for keys that never produced a valid signature
  for (const auto& k : keys)
    problems.emplace(k.key.id(), key_label(k.name, k.key.id()) + ": no signature");
  for (const auto& entry : signatures) {
    const TrustedKey* key = find(entry.keyid);
    if (key == nullptr) {
      if (std::find(out.untrusted.begin(), out.untrusted.end(), entry.keyid) == out.untrusted.end())
        out.untrusted.push_back(entry.keyid);
      continue;
    }
    if (counted.contains(entry.keyid)) continue;
    const std::string label = key_label(key->name, entry.keyid);
    if (!key->valid_at(now)) {
      problems[entry.keyid] = label + ": key not valid at " + format_time(now);
      continue;
    }
    auto verdict = key->key.verify(message, entry.sig);
    if (!verdict) return fail(verdict.error());
    if (*verdict == Verdict::valid) {
      counted.insert(entry.keyid);
      problems.erase(entry.keyid);
      out.signers.push_back(key->name);
      out.signer_keys.push_back(entry.keyid);
    } else if (problems[entry.keyid].ends_with(": no signature")) {
      problems[entry.keyid] = label + ": signature does not verify";
    }
  }
  for (auto& [id, text] : problems) out.problems.push_back(std::move(text));
  return out;
}

}  // namespace airlock
