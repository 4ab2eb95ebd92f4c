// Crash testing by enumeration: learn every durable operation a piece of
// work makes through an Env, then run it again and again in a child process
// killed right before each one in turn.
#pragma once

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "airlock/base/env.h"

namespace airlock::testing {

struct CrashPoint {
  std::string op;  // a FaultEnv operation name: "write", "rename", "sync", ...
  int n = 0;       // its n-th call
};

// Every call that creates, writes, moves, removes or makes a file durable.
const std::set<std::string>& durable_ops();

// Runs work once with a counting Env and returns every (op, n) it made of ops.
std::vector<CrashPoint> crash_points(const std::function<void(Env&)>& work,
                                     const std::set<std::string>& ops = durable_ops());

// Runs work in a child process killed right before point; false when the
// child finished without reaching it.
bool run_killed_at(const CrashPoint& point, const std::function<void(Env&)>& work);

// Replaces to with a copy of the tree from (a pristine home before each run).
void restore_tree(const std::filesystem::path& from, const std::filesystem::path& to);

std::string describe(const CrashPoint& point);

}  // namespace airlock::testing
