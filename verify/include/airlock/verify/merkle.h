// RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.
//
// leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right); the
// root of the empty tree is SHA-256(""). Trees are split at the largest power
// of two smaller than the size, as the RFC requires.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "airlock/base/error.h"
#include "airlock/verify/digest.h"

namespace airlock::merkle {

Digest leaf_hash(std::string_view data);
Digest node_hash(const Digest& left, const Digest& right);
Digest empty_root();

// Root of the tree over the given leaf hashes. O(n) hashes.
Digest root(std::span<const Digest> leaves);

// Audit path for leaves[index] in the tree over all of leaves (RFC 6962 PATH).
// Precondition: index < leaves.size().
std::vector<Digest> inclusion_proof(std::span<const Digest> leaves, std::uint64_t index);
// Proof that the tree over leaves[0..m) is a prefix of the tree over all of
// leaves (RFC 6962 PROOF). Precondition: m <= leaves.size().
std::vector<Digest> consistency_proof(std::span<const Digest> leaves, std::uint64_t m);

// RFC 9162 2.1.3.2. False for any proof that does not prove inclusion.
bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Digest& leaf,
                      std::span<const Digest> proof, const Digest& root);
// RFC 9162 2.1.4.2, with the trivial cases: m == n (empty proof, equal roots)
// and m == 0 (empty proof).
bool verify_consistency(std::uint64_t m, std::uint64_t n, const Digest& root_m,
                        const Digest& root_n, std::span<const Digest> proof);

// The hash of the perfect subtree of 2^height leaves starting at leaf
// index * 2^height, from wherever a tree keeps its interior (e.g. tiles).
using SubtreeHash = std::function<Result<Digest>(unsigned height, std::uint64_t index)>;

// The same functions over a tree of size leaves whose perfect subtrees come
// from subtree: O(log n) calls each. Errors from subtree are passed on.
Result<Digest> root(std::uint64_t size, const SubtreeHash& subtree);
Result<std::vector<Digest>> inclusion_proof(std::uint64_t index, std::uint64_t size,
                                            const SubtreeHash& subtree);
Result<std::vector<Digest>> consistency_proof(std::uint64_t m, std::uint64_t n,
                                              const SubtreeHash& subtree);

// The root of an append-only sequence in O(log n) memory: the roots of the
// perfect subtrees that make up the tree so far (its frontier).
class CompactRange {
 public:
  // Called for every perfect subtree an append completes: the leaf itself
  // (height 0) and each node it merges into, lowest first.
  using OnNode = std::function<void(unsigned height, std::uint64_t index, const Digest& hash)>;

  CompactRange() = default;
  // The range of a tree of size leaves from its frontier (largest subtree
  // first); nullopt unless there is one peak for each bit set in size.
  static std::optional<CompactRange> from_peaks(std::uint64_t size, std::vector<Digest> peaks);
  // The frontier of the tree of size leaves whose subtrees come from subtree.
  static Result<CompactRange> at(std::uint64_t size, const SubtreeHash& subtree);

  void append(const Digest& leaf);
  void append(const Digest& leaf, const OnNode& on_node);
  Digest root() const;
  std::uint64_t size() const { return size_; }
  const std::vector<Digest>& peaks() const { return peaks_; }

 private:
  std::uint64_t size_ = 0;
  std::vector<Digest> peaks_;  // largest subtree first
};

}  // namespace airlock::merkle
