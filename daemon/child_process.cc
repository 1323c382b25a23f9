#include "daemon/child_process.h"

#include <fcntl.h>
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

Result<ChildProcess> SpawnWithPipe(const std::vector<std::string>& argv, int child_fd, int nice) {
  if (argv.empty() || child_fd < 3) return Status::InvalidArgument("spawn: empty argv or child fd below 3");
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::IoError(std::string("spawn: pipe: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::IoError(std::string("spawn: fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon blocks SIGTERM for sigwait
    if (::dup2(fds[1], child_fd) < 0) ::_exit(126);  // dup2 clears FD_CLOEXEC on the copy
    // A failure (a daemon already niced above `nice`, without the right to lower it) leaves the
    // child at the daemon's own priority: it still trains.
    if (nice > 0) ::setpriority(PRIO_PROCESS, 0, nice);
    // No descriptor of the daemon beyond stdio and the pipe (listening socket, RocksDB files).
    if (::syscall(SYS_close_range, child_fd + 1, ~0U, 0) != 0) {
      for (int fd = child_fd + 1; fd < 65536; ++fd) ::close(fd);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
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
