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
namespace {

// A started child and the parent's read ends of its pipes. Each read end is
// closed once it reaches end of file; status is open only when a status
// descriptor was asked for.
struct Child {
  pid_t pid = 0;
  UniqueFd out, err, status;
};

// A pipe whose ends both close on exec; the child gets its end through dup2.
Status make_pipe(UniqueFd& read_end, UniqueFd& write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe");
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return {};
}

// A null-terminated array of pointers into strings, which must outlive it.
// posix_spawn takes char* but does not write through them.
std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Ours, followed by the extra entries.
std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  for (const auto& e : options.env) env.push_back(e);
  return env;
}

// Starts argv[0] with stdin from /dev/null and stdout, stderr (and
// options.status_fd) on fresh pipes. The write ends are closed in the parent
// on return, so the read ends reach end of file when the child (and anything
// it passed them to) is done. not_found when the program does not exist.
Result<Child> spawn(const std::vector<std::string>& argv, const ProcessOptions& options) {
  Child child;
  UniqueFd out_w, err_w, status_w;
  if (auto s = make_pipe(child.out, out_w); !s) return fail(s.error());
  if (auto s = make_pipe(child.err, err_w); !s) return fail(s.error());
  if (options.status_fd >= 3) {
    if (auto s = make_pipe(child.status, status_w); !s) return fail(s.error());
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  if (status_w) posix_spawn_file_actions_adddup2(&actions, status_w.get(), options.status_fd);

  auto args = c_strings(argv);
  auto env = child_environment(options);
  auto envp = c_strings(env);
  const char* program = argv[0].c_str();
  int rc = argv[0].find('/') == std::string::npos
               ? ::posix_spawnp(&child.pid, program, &actions, nullptr, args.data(), envp.data())
               : ::posix_spawn(&child.pid, program, &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT) return fail(Code::not_found, argv[0] + " is not installed (not found)");
    return fail_errno("start " + argv[0], rc);
  }
  return child;
}

// Reads the child's pipes into result until every one reaches end of file,
// keeping at most options.max_output bytes of each and discarding the rest.
// false when options.timeout passed first: the child has then been sent
// SIGKILL. Also stops, returning true, if poll itself fails.
bool read_output(Child& child, const ProcessOptions& options, ProcessResult& result) {
  struct Stream {
    UniqueFd* fd;
    std::string* text;
  } streams[] = {
      {&child.out, &result.out}, {&child.err, &result.err}, {&child.status, &result.status}};
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
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
    if (fds.empty()) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(child.pid, SIGKILL);
      return false;
    }
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return true;
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
}

// Reaps the child, retrying when interrupted; its wait status.
int wait_for(pid_t pid) {
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  return wstatus;
}

}  // namespace

Result<ProcessResult> run_process(const std::vector<std::string>& argv,
                                  const ProcessOptions& options) {
  if (argv.empty()) return fail(Code::invalid_input, "no program to run");
  auto child = spawn(argv, options);
  if (!child) return fail(child.error());
  ProcessResult result;
  const bool finished = read_output(*child, options, result);
  const int wstatus = wait_for(child->pid);
  if (!finished) {
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
