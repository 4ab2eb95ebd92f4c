#include "airlock/verify/merkle.h"

#include <bit>

namespace airlock::merkle {
namespace {

// Largest power of two strictly smaller than n (n >= 2).
std::uint64_t split(std::uint64_t n) { return std::bit_floor(n - 1); }

void path(std::span<const Digest> leaves, std::uint64_t m, std::vector<Digest>& out) {
  const std::uint64_t n = leaves.size();
  if (n <= 1) return;
  const std::uint64_t k = split(n);
  if (m < k) {
    path(leaves.first(k), m, out);
    out.push_back(root(leaves.subspan(k)));
  } else {
    path(leaves.subspan(k), m - k, out);
    out.push_back(root(leaves.first(k)));
  }
}

void subproof(std::span<const Digest> leaves, std::uint64_t m, bool complete,
              std::vector<Digest>& out) {
  const std::uint64_t n = leaves.size();
  if (m == n) {
    if (!complete) out.push_back(root(leaves));
    return;
  }
  const std::uint64_t k = split(n);
  if (m <= k) {
    subproof(leaves.first(k), m, complete, out);
    out.push_back(root(leaves.subspan(k)));
  } else {
    subproof(leaves.subspan(k), m - k, false, out);
    out.push_back(root(leaves.first(k)));
  }
}

}  // namespace

Digest leaf_hash(std::string_view data) {
  const std::uint8_t prefix = 0x00;
  return sha256_concat(
      {std::span(&prefix, 1),
       std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size())});
}

Digest node_hash(const Digest& left, const Digest& right) {
  const std::uint8_t prefix = 0x01;
  return sha256_concat({std::span(&prefix, 1), left.span(), right.span()});
}

Digest empty_root() { return sha256(std::string_view()); }

Digest root(std::span<const Digest> leaves) {
  const std::uint64_t n = leaves.size();
  if (n == 0) return empty_root();
  if (n == 1) return leaves[0];
  const std::uint64_t k = split(n);
  return node_hash(root(leaves.first(k)), root(leaves.subspan(k)));
}

std::vector<Digest> inclusion_proof(std::span<const Digest> leaves, std::uint64_t index) {
  std::vector<Digest> out;
  if (index < leaves.size()) path(leaves, index, out);
  return out;
}

std::vector<Digest> consistency_proof(std::span<const Digest> leaves, std::uint64_t m) {
  std::vector<Digest> out;
  if (m > 0 && m < leaves.size()) subproof(leaves, m, true, out);
  return out;
}

bool verify_inclusion(std::uint64_t index, std::uint64_t size, const Digest& leaf,
                      std::span<const Digest> proof, const Digest& root_hash) {
  if (index >= size) return false;
  std::uint64_t fn = index, sn = size - 1;
  Digest r = leaf;
  for (const auto& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      r = node_hash(p, r);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root_hash;
}

bool verify_consistency(std::uint64_t m, std::uint64_t n, const Digest& root_m,
                        const Digest& root_n, std::span<const Digest> proof) {
  if (m > n) return false;
  if (m == n) return proof.empty() && root_m == root_n;
  if (m == 0) return proof.empty();
  if (proof.empty()) return false;
  std::vector<Digest> path;
  if (std::has_single_bit(m)) path.push_back(root_m);
  path.insert(path.end(), proof.begin(), proof.end());
  std::uint64_t fn = m - 1, sn = n - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Digest fr = path[0], sr = path[0];
  for (std::size_t i = 1; i < path.size(); ++i) {
    const Digest& c = path[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == root_m && sr == root_n && sn == 0;
}

void CompactRange::append(const Digest& leaf) {
  // Merge equal-sized subtrees: one merge per trailing one bit of the old size.
  Digest carry = leaf;
  for (std::uint64_t s = size_; s & 1; s >>= 1) {
    carry = node_hash(peaks_.back(), carry);
    peaks_.pop_back();
  }
  peaks_.push_back(carry);
  ++size_;
}

Digest CompactRange::root() const {
  if (peaks_.empty()) return empty_root();
  Digest r = peaks_.back();
  for (auto it = peaks_.rbegin() + 1; it != peaks_.rend(); ++it) r = node_hash(*it, r);
  return r;
}

}  // namespace airlock::merkle
