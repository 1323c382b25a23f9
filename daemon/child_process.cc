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

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace vasgd {

namespace {

// What the child reads; prepared before clone and not written while the child runs.
struct ChildSetup {
  char* const* argv;
  char* const* envp;
  int pipe_write;
  int child_fd;
  int nice;
  pid_t parent;
};

// The kernel's struct for rt_sigaction. Only the handler (first on every architecture) is read,
// and the default is written as all zeros, so the fields after it need not match exactly.
struct KernelSigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)();
  uint64_t mask;
};
constexpr size_t kKernelSigsetBytes = 8;

// Ends the child (alone in its thread group) without libc's exit handlers.
[[noreturn]] void ExitChild(int code) {
  ::syscall(SYS_exit, code);
  __builtin_unreachable();
}

// The child until execve: on a stack of its own but in the daemon's memory (CLONE_VM). Raw system
// calls only, as posix_spawn's child makes them: libc's wrappers may be intercepted (the
// sanitizers keep state in memory the daemon shares), and nothing here may allocate, lock or
// write what the daemon reads.
int ChildMain(void* arg) {
  const ChildSetup& s = *static_cast<const ChildSetup*>(arg);
  ::syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (::syscall(SYS_getppid) != s.parent) ExitChild(126);  // the parent died before prctl took effect
  // A handler of the daemon's would run on the daemon's memory: caught signals get the default
  // (the child has its own copy of the table: no CLONE_SIGHAND), ignored ones stay ignored.
  const KernelSigaction default_action{};
  for (int sig = 1; sig < NSIG; ++sig) {
    KernelSigaction old{};
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    if (::syscall(SYS_rt_sigaction, sig, nullptr, &old, kKernelSigsetBytes) != 0) continue;
    if (old.handler == SIG_IGN || old.handler == SIG_DFL) continue;
    ::syscall(SYS_rt_sigaction, sig, &default_action, nullptr, kKernelSigsetBytes);
  }
  const uint64_t none = 0;  // blocked around clone; the daemon blocks SIGTERM for sigwait
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, kKernelSigsetBytes);
  if (s.pipe_write == s.child_fd) {
    if (::syscall(SYS_fcntl, s.child_fd, F_SETFD, 0) != 0) ExitChild(126);  // keep it across exec
  } else if (::syscall(SYS_dup3, s.pipe_write, s.child_fd, 0) < 0) {  // the copy without O_CLOEXEC
    ExitChild(126);
  }
  // A failure leaves the child at the daemon's own priority: it still trains.
  ::syscall(SYS_setpriority, PRIO_PROCESS, 0, s.nice);
  // No descriptor of the daemon beyond stdio and the pipe (listening socket, RocksDB files).
  if (::syscall(SYS_close_range, s.child_fd + 1, ~0U, 0) != 0) {
    for (int fd = s.child_fd + 1; fd < 65536; ++fd) ::syscall(SYS_close, fd);
  }
  ::syscall(SYS_execve, s.argv[0], s.argv, s.envp);
  ExitChild(127);
}

}  // namespace

Result<ChildProcess> SpawnWithPipe(const std::vector<std::string>& argv, int child_fd, int nice) {
  if (argv.empty() || child_fd < 3) return Status::InvalidArgument("spawn: empty argv or child fd below 3");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::IoError(std::string("spawn: pipe: ") + std::strerror(errno));
  // `nice` is a floor above the daemon's own value, never below it: root may lower a priority,
  // and a daemon started under `nice 10` must not get a training child that competes harder.
  errno = 0;
  const int own_nice = ::getpriority(PRIO_PROCESS, 0);
  if (errno == 0) nice = std::max(nice, own_nice);
  const ChildSetup setup{args.data(), environ, fds[1], child_fd, nice, ::getpid()};
  // As posix_spawn does: CLONE_VM shares the daemon's memory instead of copying its page tables
  // (a fork of the 5-GiB daemon at 1M products held every query for ~0.1 s), and CLONE_VFORK
  // holds this thread until the child has exec'd. Signals stay blocked until the child has
  // reset their handlers.
  std::vector<char> stack(64 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, &old);
#if defined(__SANITIZE_THREAD__)
  // TSan intercepts clone and does its fork bookkeeping in the child, which under CLONE_VM is the
  // daemon's own memory: the daemon then died at its next new thread ("starting new threads
  // after multi-threaded fork is not supported"). A TSan build forks; the child is the same.
  const pid_t pid = ::fork();
  if (pid == 0) ChildMain(const_cast<ChildSetup*>(&setup));
#else
  const pid_t pid = ::clone(ChildMain, stack.data() + stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD,
                            const_cast<ChildSetup*>(&setup));
#endif
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
