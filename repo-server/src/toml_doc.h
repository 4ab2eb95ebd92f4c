// TOML files of the home (repo.toml, access.toml) read with toml++.
#pragma once

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "airlock/base/error.h"

namespace airlock::repo {

// text as a TOML document; invalid_input "<origin>:<line>: <what>" when it
// is not TOML.
inline Result<toml::table> parse_toml(std::string_view text, const std::string& origin) {
  try {
    return toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return fail(Code::invalid_input, origin + ":" + std::to_string(e.source().begin.line) + ": " +
                                         std::string(e.description()));
  }
}

}  // namespace airlock::repo
