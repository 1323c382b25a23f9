#include "bench/open_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>

namespace vasgd {
namespace {

constexpr uint64_t kTimerTag = std::numeric_limits<uint64_t>::max();
constexpr size_t kNoLength = std::numeric_limits<size_t>::max();

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Connection {
  int fd = -1;
  bool busy = false;  // a request is out and its answer not whole yet
  int64_t due = 0;    // that request's due time, ns
  std::string out;    // its bytes not written yet
  std::string in;     // answer bytes read so far
  bool watching_out = false;  // registered for EPOLLOUT too
};

int Connect(uint16_t port, std::string* error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    *error = "cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// The length of the whole answer at the start of `in` (status line, headers and a Content-Length
// body); 0 while it is incomplete, kNoLength when it has no Content-Length. *status: its code.
size_t WholeAnswer(const std::string& in, int* status) {
  const size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos || in.size() < 12) return 0;
  *status = std::atoi(in.c_str() + 9);  // "HTTP/1.1 200 OK"
  static constexpr char kName[] = "content-length:";
  constexpr size_t kNameLength = sizeof(kName) - 1;
  for (size_t eol = in.find("\r\n"); eol < head_end; eol = in.find("\r\n", eol + 2)) {
    const size_t line = eol + 2;
    if (line + kNameLength <= head_end && ::strncasecmp(in.c_str() + line, kName, kNameLength) == 0) {
      const size_t total = head_end + 4 + std::strtoull(in.c_str() + line + kNameLength, nullptr, 10);
      return in.size() >= total ? total : 0;
    }
  }
  return kNoLength;
}

class Generator {
 public:
  Generator(const OpenLoopOptions& o, const std::function<std::string(int64_t)>& target, OpenLoopResult* r)
      : o_(o), target_(target), r_(r) {}
  ~Generator() {
    for (Connection& c : conns_)
      if (c.fd >= 0) ::close(c.fd);
    if (timer_ >= 0) ::close(timer_);
    if (epoll_ >= 0) ::close(epoll_);
  }

  bool Run(std::string* error) {
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epoll_ < 0 || timer_ < 0) return Fail("epoll or timerfd: " + std::string(std::strerror(errno)), error);
    Watch(timer_, kTimerTag, EPOLLIN, EPOLL_CTL_ADD);
    conns_.resize(std::max(1, o_.connections));
    for (size_t i = 0; i < conns_.size(); ++i) {
      if ((conns_[i].fd = Connect(o_.port, error)) < 0) return false;
      Watch(conns_[i].fd, i, EPOLLIN, EPOLL_CTL_ADD);
      idle_.push_back(i);
    }
    const int64_t total = std::llround(o_.rate * o_.seconds);
    const double interval_ns = 1e9 / o_.rate;
    const int64_t start = start_ = NowNs() + 10'000'000;  // 10 ms to settle
    const int64_t give_up = start + static_cast<int64_t>((o_.seconds + o_.drain_seconds) * 1e9);
    int64_t next = 0;  // the next request to fall due
    epoll_event events[64];
    for (;;) {
      const int64_t now = NowNs();
      for (; next < total && Due(start, interval_ns, next) <= now; ++next) waiting_.push_back(next);
      while (!waiting_.empty() && !idle_.empty()) {
        Send(idle_.back(), waiting_.front(), Due(start, interval_ns, waiting_.front()));
        idle_.pop_back();
        waiting_.pop_front();
      }
      if (next == total && waiting_.empty() && busy_ == 0) break;
      if (now > give_up) break;
      if (next < total) ArmTimer(Due(start, interval_ns, next));
      const int n = ::epoll_wait(epoll_, events, 64, next < total ? -1 : 50);
      if (n < 0 && errno != EINTR) return Fail("epoll_wait: " + std::string(std::strerror(errno)), error);
      for (int e = 0; e < n; ++e) {
        if (events[e].data.u64 == kTimerTag) {
          uint64_t expirations;
          while (::read(timer_, &expirations, sizeof(expirations)) > 0) {}
          continue;
        }
        const size_t i = events[e].data.u64;
        if (events[e].events & EPOLLOUT) Flush(i);
        if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) Receive(i, error);
      }
    }
    r_->failed += static_cast<int64_t>(waiting_.size()) + busy_ + (total - next);
    r_->seconds = std::max(0.0, static_cast<double>(last_answer_ - start) / 1e9);
    return true;
  }

 private:
  static int64_t Due(int64_t start, double interval_ns, int64_t i) {
    return start + static_cast<int64_t>(static_cast<double>(i) * interval_ns);
  }

  bool Fail(const std::string& why, std::string* error) {
    *error = why;
    return false;
  }

  void Watch(int fd, uint64_t tag, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    ::epoll_ctl(epoll_, op, fd, &ev);
  }

  void ArmTimer(int64_t at_ns) {
    itimerspec spec{};
    spec.it_value.tv_sec = at_ns / 1000000000;
    spec.it_value.tv_nsec = at_ns % 1000000000;
    ::timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void Send(size_t i, int64_t request, int64_t due) {
    Connection& c = conns_[i];
    c.busy = true;
    c.due = due;
    c.out = "GET " + target_(request) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ++busy_;
    ++r_->sent;
    Flush(i);
  }

  void Flush(size_t i) {
    Connection& c = conns_[i];
    while (!c.out.empty()) {
      const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      c.out.erase(0, static_cast<size_t>(n));
    }
    const bool want_out = !c.out.empty();  // a full socket buffer: wait until it drains
    if (want_out != c.watching_out) Watch(c.fd, i, want_out ? EPOLLIN | EPOLLOUT : EPOLLIN, EPOLL_CTL_MOD);
    c.watching_out = want_out;
  }

  void Receive(size_t i, std::string* error) {
    Connection& c = conns_[i];
    char buffer[65536];
    bool closed = false;
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        c.in.append(buffer, static_cast<size_t>(n));
        continue;
      }
      closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      break;
    }
    int status = 0;
    const size_t whole = c.busy ? WholeAnswer(c.in, &status) : 0;
    if (whole == kNoLength) closed = true;  // cannot tell where it ends: count it failed, reconnect
    if (whole > 0 && whole != kNoLength) {
      const int64_t now = NowNs();
      r_->latency_ns.push_back(now - c.due);
      r_->second.push_back(static_cast<int32_t>((c.due - start_) / 1000000000));
      ++r_->answered;
      if (status < 200 || status > 299) ++r_->non_2xx;
      last_answer_ = now;
      c.in.erase(0, whole);
      c.busy = false;
      --busy_;
      idle_.push_back(i);
    }
    if (!closed) return;
    if (c.busy) {
      ++r_->failed;
      --busy_;
    } else {
      idle_.erase(std::remove(idle_.begin(), idle_.end(), i), idle_.end());
    }
    ::close(c.fd);
    c = Connection();
    if ((c.fd = Connect(o_.port, error)) >= 0) {
      Watch(c.fd, i, EPOLLIN, EPOLL_CTL_ADD);
      idle_.push_back(i);
    }
  }

  const OpenLoopOptions& o_;
  const std::function<std::string(int64_t)>& target_;
  OpenLoopResult* r_;
  int epoll_ = -1, timer_ = -1;
  std::vector<Connection> conns_;
  std::vector<size_t> idle_;
  std::deque<int64_t> waiting_;  // requests due but not sent: no connection was idle
  int64_t busy_ = 0;
  int64_t start_ = 0, last_answer_ = 0;
};

}  // namespace

double OpenLoopResult::QuantileMs(double q, int32_t in_second) const {
  std::vector<int64_t> sorted;
  for (size_t i = 0; i < latency_ns.size(); ++i)
    if (in_second < 0 || second[i] == in_second) sorted.push_back(latency_ns[i]);
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  const size_t at = std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<int64_t>(at), sorted.end());
  return static_cast<double>(sorted[at]) / 1e6;
}

bool RunOpenLoop(const OpenLoopOptions& options, const std::function<std::string(int64_t)>& target,
                 OpenLoopResult* result, std::string* error) {
  if (!(options.rate > 0) || !(options.seconds > 0)) {
    *error = "rate and seconds must be positive";
    return false;
  }
  *result = OpenLoopResult();
  Generator generator(options, target, result);
  return generator.Run(error);
}

}  // namespace vasgd
