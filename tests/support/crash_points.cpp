#include "crash_points.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

namespace airlock::testing {
namespace fs = std::filesystem;

const std::set<std::string>& durable_ops() {
  static const std::set<std::string> ops{"open",   "create", "write",    "truncate",   "sync",
                                         "rename", "link",   "remove",   "remove_all", "mkdir",
                                         "mkdirs", "chmod",  "sync_dir", "sync_fs"};
  return ops;
}

std::vector<CrashPoint> crash_points(const std::function<void(Env&)>& work,
                                     const std::set<std::string>& ops) {
  FaultEnv env;
  work(env);
  std::vector<CrashPoint> out;
  for (const auto& [op, count] : env.counts()) {
    if (!ops.contains(op)) continue;
    for (int n = 1; n <= count; ++n) out.push_back({op, n});
  }
  return out;
}

bool run_killed_at(const CrashPoint& point, const std::function<void(Env&)>& work) {
  pid_t child = ::fork();
  if (child == 0) {
    FaultEnv env;
    env.before = [&](const std::string& op, int n) {
      if (op == point.op && n == point.n) ::raise(SIGKILL);
    };
    work(env);
    ::_exit(0);
  }
  int status = 0;
  if (child < 0 || ::waitpid(child, &status, 0) != child) return false;
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

void restore_tree(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

std::string describe(const CrashPoint& point) { return point.op + " #" + std::to_string(point.n); }

}  // namespace airlock::testing
