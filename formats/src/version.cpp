#include "airlock/formats/version.h"

#include <charconv>
#include <cstdint>

namespace airlock::apt {
namespace {

// dpkg's ordering of a single character in the non-digit parts: '~' sorts
// before everything, even the end; letters before non-letters.
int order(char c) {
  if (c >= '0' && c <= '9') return 0;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return c;
  if (c == '~') return -1;
  if (c) return c + 256;
  return 0;
}

int verrevcmp(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !(a[i] >= '0' && a[i] <= '9')) ||
           (j < b.size() && !(b[j] >= '0' && b[j] <= '9'))) {
      int ac = i < a.size() ? order(a[i]) : 0;
      int bc = j < b.size() ? order(b[j]) : 0;
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && a[i] >= '0' && a[i] <= '9' && j < b.size() && b[j] >= '0' &&
           b[j] <= '9') {
      if (!first_diff) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && a[i] >= '0' && a[i] <= '9') return 1;
    if (j < b.size() && b[j] >= '0' && b[j] <= '9') return -1;
    if (first_diff) return first_diff;
  }
  return 0;
}

struct Version {
  std::uint64_t epoch = 0;
  std::string_view upstream, revision;
};

Version split(std::string_view v) {
  Version out;
  auto colon = v.find(':');
  if (colon != std::string_view::npos) {
    std::from_chars(v.data(), v.data() + colon, out.epoch);
    v.remove_prefix(colon + 1);
  }
  auto dash = v.rfind('-');
  if (dash != std::string_view::npos) {
    out.upstream = v.substr(0, dash);
    out.revision = v.substr(dash + 1);
  } else {
    out.upstream = v;
  }
  return out;
}

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto va = split(a), vb = split(b);
  if (va.epoch != vb.epoch) return va.epoch < vb.epoch ? -1 : 1;
  int r = verrevcmp(va.upstream, vb.upstream);
  if (r) return r < 0 ? -1 : 1;
  r = verrevcmp(va.revision, vb.revision);
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

}  // namespace airlock::apt
