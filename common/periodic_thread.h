// PeriodicThread: one background thread that runs a task at once and then every `interval`,
// until Stop(). Stop() wakes a waiting thread at once, so shutdown never waits out an interval,
// and returns after the task's current run (if any) has finished.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vasgd {

class PeriodicThread {
 public:
  explicit PeriodicThread(std::chrono::milliseconds interval) : interval_(interval) {}
  ~PeriodicThread() { Stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // Starts the thread running `task`. Does nothing once started, or after Stop().
  void Start(std::function<void()> task);
  // Idempotent; joins the thread.
  void Stop();

 private:
  void Loop();

  const std::chrono::milliseconds interval_;
  std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace vasgd
