#include "airlock/verify/merkle.h"

#include <gtest/gtest.h>

#include "airlock/verify/checkpoint.h"

namespace airlock {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

Digest d(std::string_view hex) { return Digest::parse(hex).value(); }

// RFC 6962 reference leaves (transparency-dev/merkle testonly constants).
std::vector<Digest> reference_leaves() {
  std::vector<Digest> out;
  for (auto hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                   "606162636465666768696a6b6c6d6e6f"}) {
    out.push_back(merkle::leaf_hash(unhex(hex)));
  }
  return out;
}

const char* kRoots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

TEST(Merkle, ReferenceRootsForSizes0To8) {
  auto leaves = reference_leaves();
  merkle::CompactRange range;
  EXPECT_EQ(range.root().hex(), kRoots[0]);
  for (std::size_t n = 0; n <= leaves.size(); ++n) {
    EXPECT_EQ(merkle::root(std::span(leaves).first(n)).hex(), kRoots[n]) << n;
    if (n > 0) {
      range.append(leaves[n - 1]);
      EXPECT_EQ(range.root().hex(), kRoots[n]) << n;
    }
  }
}

TEST(Merkle, ReferenceInclusionProofs) {
  auto leaves = reference_leaves();
  struct {
    std::uint64_t index;
    std::vector<const char*> proof;
  } cases[] = {
      {0,
       {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {5,
       {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
  };
  for (const auto& c : cases) {
    std::vector<Digest> want;
    for (auto h : c.proof) want.push_back(d(h));
    EXPECT_EQ(merkle::inclusion_proof(leaves, c.index), want) << c.index;
    EXPECT_TRUE(merkle::verify_inclusion(c.index, 8, leaves[c.index], want, d(kRoots[8])));
  }
}

TEST(Merkle, ReferenceConsistencyProofs) {
  auto leaves = reference_leaves();
  struct {
    std::uint64_t m, n;
    std::vector<const char*> proof;
  } cases[] = {
      {2,
       8,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
      {6,
       8,
       {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
      {2,
       5,
       {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
  };
  for (const auto& c : cases) {
    std::vector<Digest> want;
    for (auto h : c.proof) want.push_back(d(h));
    auto tree = std::span(leaves).first(c.n);
    EXPECT_EQ(merkle::consistency_proof(tree, c.m), want) << c.m << "->" << c.n;
    EXPECT_TRUE(merkle::verify_consistency(c.m, c.n, d(kRoots[c.m]), d(kRoots[c.n]), want));
  }
}

// Every shape of tree up to 37 leaves: every proof verifies, and every
// tampering with index, leaf, root or path is rejected.
TEST(Merkle, AllProofsVerifyAndTamperingIsRejected) {
  std::vector<Digest> many;
  for (int i = 0; i < 37; ++i)
    many.push_back(merkle::leaf_hash(std::string(1, static_cast<char>(i))));
  for (std::uint64_t n = 1; n <= many.size(); ++n) {
    auto tree = std::span(many).first(n);
    auto root = merkle::root(tree);
    for (std::uint64_t i = 0; i < n; ++i) {
      auto proof = merkle::inclusion_proof(tree, i);
      ASSERT_TRUE(merkle::verify_inclusion(i, n, tree[i], proof, root)) << i << "/" << n;
      EXPECT_FALSE(merkle::verify_inclusion(i, n, merkle::leaf_hash("x"), proof, root));
      EXPECT_FALSE(merkle::verify_inclusion(n, n, tree[i], proof, root));
      if (n > 1) {
        EXPECT_FALSE(merkle::verify_inclusion((i + 1) % n, n, tree[i], proof, root));
        auto bad = proof;
        bad[0] = merkle::leaf_hash("tampered");
        EXPECT_FALSE(merkle::verify_inclusion(i, n, tree[i], bad, root));
        auto shorter = proof;
        shorter.pop_back();
        EXPECT_FALSE(merkle::verify_inclusion(i, n, tree[i], shorter, root));
      }
    }
    for (std::uint64_t m = 0; m <= n; ++m) {
      auto root_m = merkle::root(tree.first(m));
      auto proof = merkle::consistency_proof(tree, m);
      ASSERT_TRUE(merkle::verify_consistency(m, n, root_m, root, proof)) << m << "->" << n;
      if (m > 0 && m < n) {
        EXPECT_FALSE(merkle::verify_consistency(m, n, merkle::leaf_hash("x"), root, proof));
        EXPECT_FALSE(merkle::verify_consistency(m, n, root_m, merkle::leaf_hash("x"), proof));
        auto bad = proof;
        bad.back() = merkle::leaf_hash("tampered");
        EXPECT_FALSE(merkle::verify_consistency(m, n, root_m, root, bad));
        EXPECT_FALSE(merkle::verify_consistency(m, n, root_m, root, {}));
      }
    }
  }
}

TEST(Checkpoint, SignAndVerifyRoundTrip) {
  auto key = PrivateKey::generate().value();
  Checkpoint cp{"airlock/test-log", 42, merkle::leaf_hash("x")};
  auto note = sign_checkpoint(cp, key, "airlock-log").value();
  EXPECT_TRUE(note.starts_with("airlock/test-log\n42\n"));
  EXPECT_NE(note.find("\n\n\xE2\x80\x94 airlock-log "), std::string::npos);
  std::vector<PublicKey> keys{key.public_key()};
  auto v = verify_checkpoint(note, keys);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->checkpoint, cp);
  EXPECT_EQ(v->signer, "airlock-log");
}

TEST(Checkpoint, ForgedOrForeignCheckpointsAreRefused) {
  auto key = PrivateKey::generate().value();
  auto other = PrivateKey::generate().value();
  Checkpoint cp{"airlock/test-log", 42, merkle::leaf_hash("x")};
  auto note = sign_checkpoint(cp, key, "airlock-log").value();
  std::vector<PublicKey> keys{key.public_key()};
  // Signed by a different key.
  auto foreign = sign_checkpoint(cp, other, "airlock-log").value();
  auto r = verify_checkpoint(foreign, keys);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::refused);
  EXPECT_EQ(r.error().message,
            "checkpoint for tree size 42 has no valid signature by a trusted log key");
  // Body edited after signing: a larger tree size.
  auto forged = note;
  forged.replace(forged.find("\n42\n"), 4, "\n43\n");
  EXPECT_EQ(verify_checkpoint(forged, keys).error().code, Code::refused);
  // Malformed notes.
  EXPECT_EQ(verify_checkpoint("no blank line\n", keys).error().code, Code::invalid_input);
  EXPECT_EQ(verify_checkpoint(note.substr(0, note.size() - 1), keys).error().code,
            Code::invalid_input);
  auto leading_zero = note;
  leading_zero.replace(leading_zero.find("\n42\n"), 4, "\n042\n");
  EXPECT_EQ(verify_checkpoint(leading_zero, keys).error().code, Code::invalid_input);
}

}  // namespace
}  // namespace airlock
