// An open-loop HTTP load generator: requests are sent at a fixed rate whatever the server's pace,
// and each latency is measured from the moment its request was due, not from when it could be
// sent. wrk is a closed loop (each connection waits for its answer before asking again): it
// measures latency at whatever rate the server saturates at, and a stalled server also stalls
// the requests that would have seen the stall. Open-loop latency at a given rate answers "what
// does a user see at this much traffic" (Gil Tene's "coordinated omission").
//
// One thread, epoll, keep-alive HTTP/1.1 connections without pipelining (as browsers and most
// clients): a due request goes out on an idle connection, or waits for one, its wait counted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vasgd {

struct OpenLoopOptions {
  uint16_t port = 8080;         // on 127.0.0.1
  double rate = 5000;           // requests per second, spread evenly
  double seconds = 20;          // how long requests are sent
  int connections = 64;         // keep-alive connections; a due request waits for an idle one
  double drain_seconds = 5;     // after the last request is due, answers are awaited this long
};

struct OpenLoopResult {
  int64_t sent = 0, answered = 0, non_2xx = 0, failed = 0;  // failed: no answer (closed, timed out)
  double seconds = 0;                                       // from the first due time to the last answer
  std::vector<int64_t> latency_ns;                          // of every answer, from its due time
  std::vector<int32_t> second;                              // and the second (from the start) it fell due in
  // The q-quantile (0..1) of latency_ns in ms (nearest rank); 0 when there is none. With `in_second`
  // >= 0, of the answers to requests due in that second only (where the tail came from).
  double QuantileMs(double q, int32_t in_second = -1) const;
};

// Sends `options.rate` × `options.seconds` GET requests, the i-th for target(i) (a path like
// "/v1/users/u7/recommendations?k=20"), and waits for their answers. An error (the server not
// listening) is returned as a message in *error with false.
bool RunOpenLoop(const OpenLoopOptions& options, const std::function<std::string(int64_t)>& target,
                 OpenLoopResult* result, std::string* error);

}  // namespace vasgd
