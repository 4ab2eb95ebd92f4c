// The `log` command both programs share (show, export, verify, prove,
// checkpoint), as an entry of their command tables.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "airlock/base/cli.h"
#include "airlock/transfer/home.h"

namespace airlock {

using HomeOpener = std::function<Result<std::unique_ptr<HomeBase>>(const cli::Invocation&)>;

// program names the examples ("airlock-repo"); open opens the program's home.
cli::Command log_command(const std::string& program, HomeOpener open);

// The same for a home type with a static open(dir) (mirror::Home, repo::Home).
template <class HomeType>
cli::Command log_command(const std::string& program) {
  return log_command(program, [](const cli::Invocation& inv) -> Result<std::unique_ptr<HomeBase>> {
    auto home = HomeType::open(inv.home);
    if (!home) return fail(home.error());
    return std::unique_ptr<HomeBase>(std::move(*home));
  });
}

}  // namespace airlock
