// Debian version ordering, as dpkg compares "[epoch:]upstream[-revision]".
#pragma once

#include <string_view>

namespace airlock::apt {

// dpkg's comparison: <0, 0, >0 as a is older than, equal to, or newer than b.
// Total over all strings (never fails): a missing or non-numeric epoch counts
// as 0, '~' sorts before everything, even the end of the string.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace airlock::apt
