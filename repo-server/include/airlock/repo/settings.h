// The isolated side's settings file, <home>/repo.toml: defaults for `serve`
// that the command line overrides.
//
//   [serve]
//   listen = "0.0.0.0:8080"   threads = 8   idle_timeout = 30   max_connections = 0
//   [log]
//   syslog = true             syslog_socket = "/dev/log"
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "airlock/base/error.h"
#include "airlock/repo/config_check.h"
#include "airlock/repo/server.h"

namespace airlock::repo {

// What `airlock-repo init` writes when the home has no settings file: every
// setting, commented out at its default.
std::string_view settings_template();

// The serve options repo.toml sets, from defaults. invalid_input naming the
// origin, the line or the key, for text that is not TOML, an unknown table
// or key, or a value of the wrong type or out of range; the same problem in
// *problem, when given, with its line and key (config check).
Result<ServeOptions> parse_settings(std::string_view text, const std::string& origin,
                                    ConfigProblem* problem = nullptr);

// parse_settings of the file; the defaults when it does not exist.
Result<ServeOptions> load_settings(const std::filesystem::path& path);

}  // namespace airlock::repo
