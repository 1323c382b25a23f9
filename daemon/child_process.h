// A child process with a pipe it writes to, for the training child: the child gets the pipe's
// write end as a chosen fd, no other descriptor of ours (sockets, RocksDB files), all signals
// unblocked, and PR_SET_PDEATHSIG(SIGKILL), so it never outlives the thread that started it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace vasgd {

struct ChildProcess {
  pid_t pid = -1;
  int read_fd = -1;  // the parent's end of the pipe (close it when done)
};

// Starts argv[0] (a path) with `argv`; the pipe's write end becomes `child_fd` (>= 3) there.
// The child dies with SIGKILL when the calling THREAD exits (Linux's PDEATHSIG semantics), so
// call it from the thread that waits for the child. IoError when clone or pipe fails; a failing
// exec shows as exit status 127. The child runs at nice value `nice` (0-19; its threads inherit it),
// or at the caller's own where that is higher: it never competes harder than the daemon.
Result<ChildProcess> SpawnWithPipe(const std::vector<std::string>& argv, int child_fd, int nice = 0);

// Reads one '\n'-terminated line from fd into *line (without the newline), using *buffer for
// bytes read past it. False at end of file (a last unterminated line is still returned once).
bool ReadLine(int fd, std::string* buffer, std::string* line);

// Waits for the child and describes how it ended: "" for exit status 0, else
// "exited with status N" or "killed by signal N (SIGKILL)".
std::string WaitChild(pid_t pid);

}  // namespace vasgd
