// rpm's version order, as rpmvercmp (rpm 4.15 and later, with '^').
#include "airlock/formats/rpm.h"

namespace airlock::rpm {
namespace {

// ASCII only, as rpm's risalpha/risdigit: other bytes are separators.
bool digit(char c) { return c >= '0' && c <= '9'; }
bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool alnum(char c) { return digit(c) || alpha(c); }

// The byte at i, or '\0' past the end (rpm walks C strings).
char at(std::string_view s, std::size_t i) { return i < s.size() ? s[i] : '\0'; }

// Compares the segment a[i, i_end) with b[j, j_end) of the same kind.
int compare_segment(std::string_view a, std::size_t i, std::size_t i_end, std::string_view b,
                    std::size_t j, std::size_t j_end, bool numeric) {
  if (numeric) {
    while (i < i_end && a[i] == '0') ++i;
    while (j < j_end && b[j] == '0') ++j;
    // More digits is the larger number.
    if (i_end - i != j_end - j) return i_end - i > j_end - j ? 1 : -1;
  }
  const int c = a.substr(i, i_end - i).compare(b.substr(j, j_end - j));
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  std::size_t i = 0, j = 0;
  auto separator = [](char c) { return c != '\0' && !alnum(c) && c != '~' && c != '^'; };
  while (i < a.size() || j < b.size()) {
    while (separator(at(a, i))) ++i;
    while (separator(at(b, j))) ++j;
    const char x = at(a, i), y = at(b, j);
    // '~' sorts before everything, even the end.
    if (x == '~' || y == '~') {
      if (x != '~') return 1;
      if (y != '~') return -1;
      ++i, ++j;
      continue;
    }
    // '^' sorts after the end but before anything else.
    if (x == '^' || y == '^') {
      if (x == '\0') return -1;
      if (y == '\0') return 1;
      if (x != '^') return 1;
      if (y != '^') return -1;
      ++i, ++j;
      continue;
    }
    if (x == '\0' || y == '\0') break;
    const bool numeric = digit(x);
    auto kind = numeric ? digit : alpha;
    std::size_t i_end = i, j_end = j;
    while (i_end < a.size() && kind(a[i_end])) ++i_end;
    while (j_end < b.size() && kind(b[j_end])) ++j_end;
    // A number is newer than letters.
    if (j_end == j) return numeric ? 1 : -1;
    if (int c = compare_segment(a, i, i_end, b, j, j_end, numeric)) return c;
    i = i_end;
    j = j_end;
  }
  if (i >= a.size() && j >= b.size()) return 0;
  return i >= a.size() ? -1 : 1;
}

int compare_evr(std::string_view epoch_a, std::string_view version_a, std::string_view release_a,
                std::string_view epoch_b, std::string_view version_b, std::string_view release_b) {
  if (epoch_a.empty()) epoch_a = "0";
  if (epoch_b.empty()) epoch_b = "0";
  if (int c = compare_versions(epoch_a, epoch_b)) return c;
  if (int c = compare_versions(version_a, version_b)) return c;
  return compare_versions(release_a, release_b);
}

namespace {

struct Evr {
  std::string_view epoch, version, release;
};

Evr split_evr(std::string_view text) {
  Evr out;
  if (auto colon = text.find(':'); colon != std::string_view::npos) {
    out.epoch = text.substr(0, colon);
    text.remove_prefix(colon + 1);
  }
  auto dash = text.rfind('-');
  out.version = text.substr(0, dash);
  if (dash != std::string_view::npos) out.release = text.substr(dash + 1);
  return out;
}

}  // namespace

int compare_evr(std::string_view a, std::string_view b) {
  const Evr x = split_evr(a), y = split_evr(b);
  return compare_evr(x.epoch, x.version, x.release, y.epoch, y.version, y.release);
}

std::string RpmPackage::evr() const {
  std::string out;
  if (!epoch.empty() && epoch != "0") out = epoch + ":";
  return out + version + "-" + release;
}

}  // namespace airlock::rpm
