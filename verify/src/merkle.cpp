#include "airlock/verify/merkle.h"

#include <bit>

namespace airlock::merkle {
namespace {

// Largest power of two strictly smaller than n (n >= 2).
std::uint64_t split(std::uint64_t n) { return std::bit_floor(n - 1); }

// The hash of leaves [lo, lo + n) as RFC 6962 splits them: every range the
// recursion meets is either a perfect subtree aligned to its size or is
// split again, so subtree is asked only for aligned perfect subtrees.
Result<Digest> range_hash(std::uint64_t lo, std::uint64_t n, const SubtreeHash& subtree) {
  if (n == 0) return empty_root();
  if (std::has_single_bit(n)) {
    const auto h = static_cast<unsigned>(std::countr_zero(n));
    return subtree(h, lo >> h);
  }
  const std::uint64_t k = split(n);
  auto left = range_hash(lo, k, subtree);
  if (!left) return left;
  auto right = range_hash(lo + k, n - k, subtree);
  if (!right) return right;
  return node_hash(*left, *right);
}

// RFC 6962 PATH(m, D[lo : lo + n]).
Status path(std::uint64_t lo, std::uint64_t n, std::uint64_t m, const SubtreeHash& subtree,
            std::vector<Digest>& out) {
  if (n <= 1) return {};
  const std::uint64_t k = split(n);
  const bool left = m < k;
  if (auto s = left ? path(lo, k, m, subtree, out) : path(lo + k, n - k, m - k, subtree, out); !s)
    return s;
  auto sibling = left ? range_hash(lo + k, n - k, subtree) : range_hash(lo, k, subtree);
  if (!sibling) return fail(sibling.error());
  out.push_back(*sibling);
  return {};
}

// RFC 6962 SUBPROOF(m, D[lo : lo + n], complete).
Status subproof(std::uint64_t lo, std::uint64_t n, std::uint64_t m, bool complete,
                const SubtreeHash& subtree, std::vector<Digest>& out) {
  if (m == n) {
    if (complete) return {};
    auto r = range_hash(lo, n, subtree);
    if (!r) return fail(r.error());
    out.push_back(*r);
    return {};
  }
  const std::uint64_t k = split(n);
  const bool left = m <= k;
  if (auto s = left ? subproof(lo, k, m, complete, subtree, out)
                    : subproof(lo + k, n - k, m - k, false, subtree, out);
      !s)
    return s;
  auto sibling = left ? range_hash(lo + k, n - k, subtree) : range_hash(lo, k, subtree);
  if (!sibling) return fail(sibling.error());
  out.push_back(*sibling);
  return {};
}

SubtreeHash over(std::span<const Digest> leaves) {
  return [leaves](unsigned h, std::uint64_t i) -> Result<Digest> {
    return root(leaves.subspan(i << h, std::uint64_t{1} << h));
  };
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
  return inclusion_proof(index, leaves.size(), over(leaves)).value_or(std::vector<Digest>());
}

std::vector<Digest> consistency_proof(std::span<const Digest> leaves, std::uint64_t m) {
  return consistency_proof(m, leaves.size(), over(leaves)).value_or(std::vector<Digest>());
}

Result<Digest> root(std::uint64_t size, const SubtreeHash& subtree) {
  return range_hash(0, size, subtree);
}

Result<std::vector<Digest>> inclusion_proof(std::uint64_t index, std::uint64_t size,
                                            const SubtreeHash& subtree) {
  std::vector<Digest> out;
  if (index >= size) return out;
  if (auto s = path(0, size, index, subtree, out); !s) return fail(s.error());
  return out;
}

Result<std::vector<Digest>> consistency_proof(std::uint64_t m, std::uint64_t n,
                                              const SubtreeHash& subtree) {
  std::vector<Digest> out;
  if (m == 0 || m >= n) return out;
  if (auto s = subproof(0, n, m, true, subtree, out); !s) return fail(s.error());
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

std::optional<CompactRange> CompactRange::from_peaks(std::uint64_t size,
                                                     std::vector<Digest> peaks) {
  if (peaks.size() != static_cast<std::size_t>(std::popcount(size))) return std::nullopt;
  CompactRange r;
  r.size_ = size;
  r.peaks_ = std::move(peaks);
  return r;
}

Result<CompactRange> CompactRange::at(std::uint64_t size, const SubtreeHash& subtree) {
  std::vector<Digest> peaks;
  std::uint64_t lo = 0;
  for (int h = 63; h >= 0; --h) {
    const std::uint64_t width = std::uint64_t{1} << h;
    if (!(size & width)) continue;
    auto d = subtree(static_cast<unsigned>(h), lo >> h);
    if (!d) return fail(d.error());
    peaks.push_back(*d);
    lo += width;
  }
  return *from_peaks(size, std::move(peaks));
}

void CompactRange::append(const Digest& leaf) { append(leaf, nullptr); }

void CompactRange::append(const Digest& leaf, const OnNode& on_node) {
  // Merge equal-sized subtrees: one merge per trailing one bit of the old size.
  const std::uint64_t index = size_;
  if (on_node) on_node(0, index, leaf);
  Digest carry = leaf;
  unsigned height = 0;
  for (std::uint64_t s = size_; s & 1; s >>= 1) {
    carry = node_hash(peaks_.back(), carry);
    peaks_.pop_back();
    ++height;
    if (on_node) on_node(height, index >> height, carry);
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
