#include "airlock/verify/trust.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "test_support.h"

namespace airlock {
namespace {

TimePoint at(const char* text) { return parse_time(text).value(); }

struct Signer {
  std::string name;
  PrivateKey key;
};

class TrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alice", "bob", "carol"}) {
      signers.push_back({name, PrivateKey::generate().value()});
    }
    policy.threshold = 2;
    for (auto& s : signers) ASSERT_TRUE(policy.add({s.name, s.key.public_key(), {}, {}}));
  }

  // "alice (key 1a2b3c4d5e6f7a8b)"
  static std::string label(const Signer& s) {
    return s.name + " (key " + s.key.public_key().id().hex().substr(0, 16) + ")";
  }
  // Problems as the summary lists them: in key id order.
  static std::string problems(std::vector<std::pair<const Signer*, std::string>> list) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return a.first->key.public_key().id() < b.first->key.public_key().id();
    });
    std::string out;
    for (const auto& [signer, what] : list) out += "; " + label(*signer) + ": " + what;
    return out;
  }

  SignatureEntry sign(const Signer& s, std::string_view msg) {
    auto sig = s.key.sign(msg).value();
    return {s.key.public_key().id(), {sig.begin(), sig.end()}};
  }

  std::vector<Signer> signers;
  TrustPolicy policy;
  const std::string msg = "{\"format\":\"airlock-bundle/1\"}";
  const TimePoint now = at("2026-11-22T12:00:00Z");
};

TEST_F(TrustTest, ThresholdMetByTwoDistinctKeys) {
  auto r = policy.check(msg, {sign(signers[0], msg), sign(signers[1], msg)}, now);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->met());
  EXPECT_EQ(r->signers, (std::vector<std::string>{"alice", "bob"}));
}

TEST_F(TrustTest, ThresholdNotMetByOneSignature) {
  auto r = policy.check(msg, {sign(signers[0], msg)}, now).value();
  EXPECT_FALSE(r.met());
  EXPECT_EQ(r.summary(),
            "1 valid signature of 2 required: " + label(signers[0]) + " signed" +
                problems({{&signers[1], "no signature"}, {&signers[2], "no signature"}}));
}

TEST_F(TrustTest, SameKeyTwiceCountsOnce) {
  auto r = policy.check(msg, {sign(signers[0], msg), sign(signers[0], msg)}, now).value();
  EXPECT_EQ(r.signers.size(), 1u);
  EXPECT_FALSE(r.met());
}

TEST_F(TrustTest, FlippedSignatureByteDoesNotCount) {
  auto bad = sign(signers[1], msg);
  bad.sig[3] ^= 0x80;
  auto r = policy.check(msg, {sign(signers[0], msg), bad}, now).value();
  EXPECT_FALSE(r.met());
  EXPECT_EQ(r.summary(), "1 valid signature of 2 required: " + label(signers[0]) + " signed" +
                             problems({{&signers[1], "signature does not verify"},
                                       {&signers[2], "no signature"}}));
}

TEST_F(TrustTest, SignatureOverOtherBytesDoesNotCount) {
  auto r = policy.check(msg + " ", {sign(signers[0], msg), sign(signers[1], msg)}, now).value();
  EXPECT_TRUE(r.signers.empty());
}

TEST_F(TrustTest, AnUnknownKeyDoesNotCountAndIsNamed) {
  Signer mallory{"mallory", PrivateKey::generate().value()};
  auto r = policy.check(msg, {sign(mallory, msg), sign(signers[2], msg)}, now);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->signers, (std::vector<std::string>{"carol"}));
  EXPECT_EQ(r->untrusted, std::vector<KeyId>{mallory.key.public_key().id()});
  EXPECT_EQ(r->summary(),
            "1 valid signature of 2 required: " + label(signers[2]) + " signed" +
                problems({{&signers[0], "no signature"}, {&signers[1], "no signature"}}) +
                "; key " + mallory.key.public_key().id().hex().substr(0, 16) +
                " signed but is not trusted here");
}

TEST_F(TrustTest, WrongKeyClaimingTrustedIdDoesNotCount) {
  Signer mallory{"mallory", PrivateKey::generate().value()};
  auto forged = sign(mallory, msg);
  forged.keyid = signers[0].key.public_key().id();  // claims to be alice
  auto r = policy.check(msg, {forged, sign(signers[1], msg)}, now).value();
  EXPECT_EQ(r.signers, (std::vector<std::string>{"bob"}));
  EXPECT_FALSE(r.met());
}

TEST_F(TrustTest, ExpiredAndNotYetValidKeysDoNotCount) {
  policy.keys[0].not_after = at("2026-01-01T00:00:00Z");
  policy.keys[1].not_before = at("2027-01-01T00:00:00Z");
  auto r = policy.check(msg, {sign(signers[0], msg), sign(signers[1], msg)}, now).value();
  EXPECT_TRUE(r.signers.empty());
  EXPECT_EQ(r.summary(), "0 valid signatures of 2 required" +
                             problems({{&signers[0], "key not valid at 2026-11-22T12:00:00Z"},
                                       {&signers[1], "key not valid at 2026-11-22T12:00:00Z"},
                                       {&signers[2], "no signature"}})
                                 .replace(0, 1, ":"));
  // Within the window they count again.
  auto later = policy.check(msg, {sign(signers[1], msg)}, at("2027-06-01T00:00:00Z")).value();
  EXPECT_EQ(later.signers, (std::vector<std::string>{"bob"}));
}

TEST_F(TrustTest, SaveLoadRoundTrip) {
  testing::TempDir dir;
  policy.keys[2].not_after = at("2030-01-01T00:00:00Z");
  ASSERT_TRUE(policy.save(dir / "trust.json"));
  auto loaded = TrustPolicy::load(dir / "trust.json");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->threshold, 2);
  ASSERT_EQ(loaded->keys.size(), 3u);
  EXPECT_EQ(loaded->keys[2].name, "carol");
  EXPECT_EQ(loaded->keys[2].key, signers[2].key.public_key());
  EXPECT_EQ(loaded->keys[2].not_after, at("2030-01-01T00:00:00Z"));
  EXPECT_FALSE(loaded->keys[0].not_after);
}

TEST_F(TrustTest, ParseRefusesBadPolicies) {
  auto pem = signers[0].key.public_key().to_pem();
  nlohmann::json key{{"name", "alice"}, {"public_key", pem}};
  auto try_parse = [](const nlohmann::json& doc) { return TrustPolicy::parse(doc.dump()); };
  EXPECT_FALSE(try_parse({{"threshold", 0}, {"keys", {key}}}));
  EXPECT_FALSE(try_parse({{"threshold", "2"}, {"keys", {key}}}));
  EXPECT_FALSE(try_parse({{"threshold", 1}}));
  EXPECT_FALSE(TrustPolicy::parse("{not json"));
  auto wrong_id = key;
  wrong_id["keyid"] = signers[1].key.public_key().id().hex();
  auto r = try_parse({{"threshold", 1}, {"keys", {wrong_id}}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("keyid does not match"), std::string::npos);
  auto dup = try_parse({{"threshold", 1}, {"keys", {key, key}}});
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("already trusted"), std::string::npos);
}

TEST_F(TrustTest, MaxValidityDefaultsTo90DaysAndRoundTrips) {
  EXPECT_EQ(TrustPolicy::parse(policy.to_json())->max_validity_days, 90);
  EXPECT_EQ(policy.to_json().find("max_validity_days"), std::string::npos);  // old files stay
  policy.max_validity_days = 30;
  auto back = TrustPolicy::parse(policy.to_json());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->max_validity_days, 30);
  for (std::string bad : {"0", "3651", "\"30\"", "1.5"}) {
    auto text = policy.to_json();
    const std::string field = "\"max_validity_days\": 30";
    text.replace(text.find(field), field.size(), "\"max_validity_days\": " + bad);
    auto r = TrustPolicy::parse(text);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message,
              "trust policy: max_validity_days must be an integer from 1 to 3650");
  }
}

TEST_F(TrustTest, ParseRefusesADuplicateKeyNamingIt) {
  auto text = policy.to_json();
  // A second threshold, lower than the real one.
  text.insert(text.find('{') + 1, "\"threshold\": 1,");
  auto r = TrustPolicy::parse(text);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
  EXPECT_EQ(r.error().message, "trust policy: duplicate key \"threshold\"");
}

TEST_F(TrustTest, RemoveKey) {
  ASSERT_TRUE(policy.remove(signers[1].key.public_key().id()));
  EXPECT_EQ(policy.keys.size(), 2u);
  auto again = policy.remove(signers[1].key.public_key().id());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::not_found);
}

}  // namespace
}  // namespace airlock
