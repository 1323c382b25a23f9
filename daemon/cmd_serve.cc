// vasgd serve: the daemon (daemon/daemon.h) until SIGTERM or SIGINT, then a graceful shutdown.
// --demo: an empty store gets the demo shop, Kafka is off, and the curl calls are printed.
// --role all|trainer|replica and --shared-models DIR override config [cluster] (docs/SCALE.md).
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/log.h"
#include "daemon/commands.h"
#include "daemon/daemon.h"
#include "daemon/demo.h"
#include "common/flags.h"
#include "daemon/retrainer.h"

namespace vasgd {
namespace {

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "vasgd serve: %s\n"
               "usage: vasgd serve --config F [--demo] [--data-dir DIR] [--listen HOST:PORT]\n"
               "                   [--kafka-brokers H:P[,..]] [--kafka-group NAME] [--topics a,b]\n"
               "                   [--role all|trainer|replica] [--shared-models DIR]\n",
               problem.c_str());
  return 2;
}

// 32 random hex digits from the kernel; "" if it cannot be read.
std::string RandomToken() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[16];
  if (!urandom.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) return "";
  static const char* hex = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  return token;
}

// Waits for SIGTERM/SIGINT (blocked in every thread, so only this wait receives them) for at
// most `timeout_ms` (< 0: forever). The signal number, or 0 on timeout.
int WaitForSignal(const sigset_t& set, int timeout_ms) {
  while (true) {
    int sig = 0;
    if (timeout_ms < 0) {
      if (sigwait(&set, &sig) == 0) return sig;
      continue;
    }
    timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;
  }
}

// --role and --shared-models over config [cluster], then what a role needs: a trainer and a
// replica need the shared directory, and the demo is a single process.
Status ApplyRoleFlags(const Flags& flags, bool demo, ClusterOptions* cluster) {
  if (flags.Has("role")) cluster->role = flags.Get("role");
  if (flags.Has("shared-models")) cluster->shared_models = flags.Get("shared-models");
  const std::string& role = cluster->role;
  if (role != "all" && role != "trainer" && role != "replica") {
    return Status::InvalidArgument("--role must be all, trainer or replica, not \"" + role + "\"");
  }
  if (role != "all" && cluster->shared_models.empty()) {
    return Status::InvalidArgument("--role " + role + " needs the shared model directory (--shared-models DIR or "
                                   "cluster.shared_models)");
  }
  if (demo && role != "all") return Status::InvalidArgument("--demo runs one process: --role must be all");
  return Status::Ok();
}

// The main thread's id, for ForwardToMainThread (a signal handler can reach nothing else).
pid_t g_main_tid = 0;

// Threads that libraries start before main() do not block SIGTERM/SIGINT (OpenBLAS starts its
// pool from a constructor). A signal that came while the main thread was not in its sigwait went
// to such a thread and, with the default action, ended the daemon without the graceful stop
// (found by tests/reliability/model_fault_test on a loaded machine). This handler hands it to the
// main thread, which keeps it pending (blocked) until its sigwait. In a forked child before its
// exec there is no such thread (tgkill fails): the default action, as without this handler.
void ForwardToMainThread(int sig) {
  const int saved_errno = errno;
  if (::syscall(SYS_tgkill, ::getpid(), g_main_tid, sig) != 0) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
  errno = saved_errno;
}

}  // namespace

int RunServe(const Args& args) {
  auto flags = Flags::Parse(args, {"role", "shared-models"}, {"demo"});
  if (!flags.ok()) return Usage(flags.status().message());
  DaemonOptions options;
  if (Status s = LoadConfig(*flags, &options.config); !s.ok()) return Usage(s.message());
  options.demo = flags->Has("demo");
  if (Status s = ApplyRoleFlags(*flags, options.demo, &options.config.cluster); !s.ok()) return Usage(s.message());
  Config& config = options.config;
  ConfigureLogging(config.log);

  // Before any thread of ours starts, so that every one inherits the mask and the signals wait for us.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Only now, with them blocked here: the handler must never run on the main thread itself.
  g_main_tid = static_cast<pid_t>(::syscall(SYS_gettid));
  struct sigaction forward {};
  forward.sa_handler = ForwardToMainThread;
  sigemptyset(&forward.sa_mask);
  forward.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &forward, nullptr);
  sigaction(SIGINT, &forward, nullptr);

  // How the printed demo calls name the admin token: never a configured token itself.
  std::string token_shell = std::getenv("VASGD_ADMIN_TOKEN") ? "$VASGD_ADMIN_TOKEN" : "<your admin token>";
  if (options.demo) {
    config.kafka.brokers.clear();  // the demo ingests over HTTP only
    if (config.http.admin_token.empty()) {
      config.http.admin_token = RandomToken();
      token_shell = config.http.admin_token;
      // The operator's own secret for this demo run, shown once; configured tokens never are.
      std::printf("vasgd demo: admin token for this run: %s (set VASGD_ADMIN_TOKEN to choose one)\n",
                  token_shell.c_str());
      std::fflush(stdout);
    }
  }

  Daemon daemon(options);
  if (Status s = daemon.Start(); !s.ok()) {
    std::fprintf(stderr, "vasgd serve: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string host = config.http.listen.substr(0, config.http.listen.rfind(':'));
  const std::string base = "http://" + host + ":" + std::to_string(daemon.port());
  std::printf("vasgd serve: listening on %s\n", base.c_str());
  if (config.dashboard.enabled) {
    std::printf("vasgd serve: operator dashboard at %s/ (sign in with the admin token)\n", base.c_str());
  }
  std::fflush(stdout);

  int sig = 0;
  if (options.demo) {
    if (!daemon.ready()) {
      std::printf("vasgd demo: training the first model (watch %s/v1/admin/status) ...\n", base.c_str());
      std::fflush(stdout);
    }
    int64_t failures_shown = 0;
    while (!daemon.ready() && (sig = WaitForSignal(signals, 200)) == 0) {
      const std::string error = daemon.retrainer()->last_error();
      if (daemon.retrainer()->jobs_finished() > failures_shown && !error.empty() && !daemon.ready()) {
        failures_shown = daemon.retrainer()->jobs_finished();
        std::printf("vasgd demo: the first training failed: %s\n", error.c_str());
        std::fflush(stdout);
      }
    }
    if (sig == 0) {
      const std::string read_shell = config.http.read_token.empty()     ? ""
                                     : std::getenv("VASGD_READ_TOKEN") ? "$VASGD_READ_TOKEN"
                                                                       : "<your read token>";
      std::printf("vasgd demo: ready. Try these:\n\n%s", DemoCurlCalls(base, token_shell, read_shell).c_str());
      std::fflush(stdout);
    }
  }
  // A part that failed for good (the Kafka consumer fenced by a daemon with the same
  // kafka.group_instance_id) ends the daemon with status 1, so that a supervisor and its
  // operator see it instead of a daemon that silently stopped consuming.
  while (sig == 0 && daemon.fatal_error().empty()) sig = WaitForSignal(signals, 200);
  if (sig == 0) {
    const std::string error = daemon.fatal_error();
    Log(LogLevel::kError, "serve.fatal", {{"error", error}});
    std::fprintf(stderr, "vasgd serve: %s\n", error.c_str());
    daemon.Stop();
    return 1;
  }
  Log(LogLevel::kInfo, "serve.signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  daemon.Stop();
  return 0;
}

}  // namespace vasgd
