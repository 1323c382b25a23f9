// How long a step took, for the logs and reports that state it: time on the steady clock since an
// instant taken with `Clock::now()`. One definition for every stage timer in the daemon, the
// training job, the ranker's fit and the evaluation.
#pragma once

#include <chrono>

namespace vasgd {

using Clock = std::chrono::steady_clock;

// Seconds elapsed since `start`.
inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Milliseconds elapsed since `start`.
inline double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace vasgd
