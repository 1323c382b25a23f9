#include "daemon/child_process.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vasgd {

namespace {

// What the child reads; prepared before clone and not written while the child runs.
struct ChildSetup {
  char* const* argv;
  int pipe_write;
  int child_fd;
  int nice;
  pid_t parent;
};

// The child until execv: on a stack of its own but in the daemon's memory (CLONE_VM), so system
// calls only: nothing that allocates, locks or writes what the daemon reads.
int ChildMain(void* arg) {
  const ChildSetup& s = *static_cast<const ChildSetup*>(arg);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != s.parent) ::_exit(126);  // the parent died before prctl took effect
  // A handler of the daemon's would run on the daemon's memory: caught signals get the default
  // (the child has its own copy of the table: no CLONE_SIGHAND), ignored ones stay ignored.
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction sa;
    if (::sigaction(sig, nullptr, &sa) != 0 || sa.sa_handler == SIG_IGN || sa.sa_handler == SIG_DFL) continue;
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    ::sigaction(sig, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // blocked around clone; the daemon blocks SIGTERM for sigwait
  if (::dup2(s.pipe_write, s.child_fd) < 0) ::_exit(126);  // dup2 clears FD_CLOEXEC on the copy
  // A failure (a daemon already niced above `nice`, without the right to lower it) leaves the
  // child at the daemon's own priority: it still trains.
  if (s.nice > 0) ::setpriority(PRIO_PROCESS, 0, s.nice);
  // No descriptor of the daemon beyond stdio and the pipe (listening socket, RocksDB files).
  if (::syscall(SYS_close_range, s.child_fd + 1, ~0U, 0) != 0) {
    for (int fd = s.child_fd + 1; fd < 65536; ++fd) ::close(fd);
  }
  ::execv(s.argv[0], s.argv);
  ::_exit(127);
}

}  // namespace

Result<ChildProcess> SpawnWithPipe(const std::vector<std::string>& argv, int child_fd, int nice) {
  if (argv.empty() || child_fd < 3) return Status::InvalidArgument("spawn: empty argv or child fd below 3");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::IoError(std::string("spawn: pipe: ") + std::strerror(errno));
  const ChildSetup setup{args.data(), fds[1], child_fd, nice, ::getpid()};
  // As posix_spawn does: CLONE_VM shares the daemon's memory instead of copying its page tables
  // (a fork of the 5-GiB daemon at 1M products held every query for ~0.1 s), and CLONE_VFORK
  // holds this thread until the child has exec'd. Signals stay blocked until the child has
  // reset their handlers.
  std::vector<char> stack(64 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
  const pid_t pid = ::clone(ChildMain, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD,
                            const_cast<ChildSetup*>(&setup));
  const int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::IoError(std::string("spawn: clone: ") + std::strerror(err));
  }
  ::close(fds[1]);
  return ChildProcess{pid, fds[0]};
}

bool ReadLine(int fd, std::string* buffer, std::string* line) {
  while (true) {
    const size_t nl = buffer->find('\n');
    if (nl != std::string::npos) {
      line->assign(*buffer, 0, nl);
      buffer->erase(0, nl + 1);
      return true;
    }
    char chunk[4096];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (buffer->empty()) return false;
      line->swap(*buffer);
      buffer->clear();
      return true;
    }
    buffer->append(chunk, static_cast<size_t>(n));
  }
}

std::string WaitChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return std::string("waitpid failed: ") + std::strerror(errno);
  }
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status) == 0 ? "" : "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(status);
}

}  // namespace vasgd
