#include "airlock/verify/ed25519.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include "airlock/base/file.h"
#include "test_support.h"

namespace airlock {
namespace {

using testing::TempDir;

std::vector<std::uint8_t> unhex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

struct Rfc8032Vector {
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1-3.
const Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b"
     "46b"
     "d25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11"
     "d8c"
     "387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc"
     "659"
     "4a7c15e9716ed28dc027beceea1ec40a"},
};

TEST(Ed25519, Rfc8032KnownAnswers) {
  for (const auto& v : kVectors) {
    auto key = PrivateKey::from_seed(unhex(v.secret));
    ASSERT_TRUE(key);
    EXPECT_EQ(to_hex(key->public_key().raw()), v.public_key);
    auto msg = unhex(v.message);
    auto sig = key->sign(msg);
    ASSERT_TRUE(sig);
    EXPECT_EQ(to_hex(*sig), v.signature);
    auto pub = PublicKey::from_raw(unhex(v.public_key));
    ASSERT_TRUE(pub);
    EXPECT_EQ(pub->verify(msg, unhex(v.signature)).value(), Verdict::valid);
  }
}

TEST(Ed25519, KeyIdIsSha256OfRawPublicKey) {
  auto pub = PublicKey::from_raw(unhex(kVectors[0].public_key));
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->id().hex(), sha256(std::span(pub->raw())).hex());
}

TEST(Ed25519, FlippedSignatureByteIsInvalid) {
  auto key = PrivateKey::generate().value();
  auto sig = key.sign(std::string_view("manifest")).value();
  sig[17] ^= 0x01;
  EXPECT_EQ(key.public_key().verify(std::string_view("manifest"), sig).value(), Verdict::invalid);
}

TEST(Ed25519, WrongKeyOrMessageIsInvalid) {
  auto a = PrivateKey::generate().value();
  auto b = PrivateKey::generate().value();
  auto sig = a.sign(std::string_view("manifest")).value();
  EXPECT_EQ(a.public_key().verify(std::string_view("manifest"), sig).value(), Verdict::valid);
  EXPECT_EQ(b.public_key().verify(std::string_view("manifest"), sig).value(), Verdict::invalid);
  EXPECT_EQ(a.public_key().verify(std::string_view("manifesT"), sig).value(), Verdict::invalid);
}

TEST(Ed25519, WrongLengthSignatureIsInvalidNotAnError) {
  auto key = PrivateKey::generate().value();
  auto sig = key.sign(std::string_view("m")).value();
  std::vector<std::uint8_t> shortsig(sig.begin(), sig.end() - 1);
  std::vector<std::uint8_t> longsig(sig.begin(), sig.end());
  longsig.push_back(0);
  EXPECT_EQ(key.public_key().verify(std::string_view("m"), shortsig).value(), Verdict::invalid);
  EXPECT_EQ(key.public_key().verify(std::string_view("m"), longsig).value(), Verdict::invalid);
  EXPECT_EQ(key.public_key().verify(std::string_view("m"), std::vector<std::uint8_t>{}).value(),
            Verdict::invalid);
}

TEST(Ed25519, PemRoundTripAndPermissions) {
  TempDir dir;
  auto key = PrivateKey::generate().value();
  ASSERT_TRUE(key.write_file(dir / "k.key"));
  ASSERT_TRUE(key.public_key().write_file(dir / "k.pub"));
  struct stat st;
  ASSERT_EQ(::stat((dir / "k.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = PrivateKey::read_file(dir / "k.key");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->public_key(), key.public_key());
  auto pub = PublicKey::read_file(dir / "k.pub");
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->id(), key.public_key().id());
  // The reloaded key signs what the original verifies.
  auto sig = again->sign(std::string_view("x")).value();
  EXPECT_EQ(key.public_key().verify(std::string_view("x"), sig).value(), Verdict::valid);
}

TEST(Ed25519, RefusesToOverwriteAKeyFile) {
  TempDir dir;
  auto key = PrivateKey::generate().value();
  ASSERT_TRUE(key.write_file(dir / "k.key"));
  auto before = testing::read_text(dir / "k.key");
  auto other = PrivateKey::generate().value();
  auto s = other.write_file(dir / "k.key");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, Code::conflict);  // exit 1: not a verification
  EXPECT_EQ(testing::read_text(dir / "k.key"), before);
}

TEST(Ed25519, RefusesGroupOrWorldReadablePrivateKey) {
  TempDir dir;
  auto key = PrivateKey::generate().value();
  ASSERT_TRUE(key.write_file(dir / "k.key"));
  for (mode_t mode : {0640, 0604, 0660}) {
    ASSERT_EQ(::chmod((dir / "k.key").c_str(), mode), 0);
    auto r = PrivateKey::read_file(dir / "k.key");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Code::refused);
    EXPECT_NE(r.error().message.find("chmod 600"), std::string::npos) << r.error().message;
  }
}

TEST(Ed25519, RefusesNonEd25519AndMalformedPem) {
  // An EC P-256 public key, well-formed PEM of the wrong type.
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio, ec), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string ec_pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  auto r = PublicKey::from_pem(ec_pem);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::invalid_input);
  EXPECT_EQ(r.error().message, "public key is not an Ed25519 key");
  EXPECT_FALSE(PublicKey::from_pem("not a key"));
  auto key = PrivateKey::generate().value();
  auto two = key.public_key().to_pem() + key.public_key().to_pem();
  EXPECT_FALSE(PublicKey::from_pem(two));
  EXPECT_FALSE(PrivateKey::from_pem(key.public_key().to_pem()));
  EXPECT_FALSE(PublicKey::from_raw(std::vector<std::uint8_t>(31)));
}

}  // namespace
}  // namespace airlock
