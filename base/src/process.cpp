#include "airlock/base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "airlock/base/file.h"

extern char** environ;

namespace airlock {

Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) return fail(Code::invalid_input, "no program to run");
  int out_pipe[2], err_pipe[2], status_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return fail_errno("pipe");
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return fail_errno("pipe");
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  UniqueFd status_r, status_w;
  if (options.status_fd >= 3) {
    if (::pipe2(status_pipe, O_CLOEXEC) != 0) return fail_errno("pipe");
    status_r.reset(status_pipe[0]);
    status_w.reset(status_pipe[1]);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  if (status_w) posix_spawn_file_actions_adddup2(&actions, status_w.get(), options.status_fd);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) env_store.emplace_back(*e);
  for (const auto& e : options.env) env_store.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = argv[0].find('/') == std::string::npos
               ? ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data())
               : ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT) return fail(Code::not_found, argv[0] + " is not installed (not found)");
    return fail_errno("start " + argv[0], rc);
  }
  out_w.reset();
  err_w.reset();
  status_w.reset();

  ProcessResult result;
  struct Stream {
    UniqueFd* fd;
    std::string* text;
  } streams[] = {{&out_r, &result.out}, {&err_r, &result.err}, {&status_r, &result.status}};
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool timed_out = false;
  char buf[65536];
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Stream*> which;
    for (auto& s : streams) {
      if (*s.fd) {
        fds.push_back({s.fd->get(), POLLIN, 0});
        which.push_back(&s);
      }
    }
    if (fds.empty()) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got <= 0) {
        which[i]->fd->reset();
        continue;
      }
      auto room = options.max_output - std::min(options.max_output, which[i]->text->size());
      which[i]->text->append(buf, std::min<std::size_t>(room, static_cast<std::size_t>(got)));
    }
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return fail(Code::limit, argv[0] + " did not finish within " +
                                 std::to_string(options.timeout.count()) + " s and was stopped");
  }
  if (WIFEXITED(wstatus)) {
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.signal = WTERMSIG(wstatus);
  }
  return result;
}

}  // namespace airlock
