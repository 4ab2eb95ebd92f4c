// TOML files of the home (repo.toml, access.toml) read with toml++.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/repo/config_check.h"

namespace airlock::repo {

// text as a TOML document; invalid_input "<origin>:<line>: <what>" when it
// is not TOML, and the same in *problem when given.
inline Result<toml::table> parse_toml(std::string_view text, const std::string& origin,
                                      ConfigProblem* problem = nullptr) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const int line = static_cast<int>(e.source().begin.line);
    if (problem) *problem = {origin, line, {}, {}, std::string(e.description()), false};
    return fail(Code::invalid_input,
                origin + ":" + std::to_string(line) + ": " + std::string(e.description()));
  }
}

}  // namespace airlock::repo
