// A fixed set of worker threads that run one parallel loop at a time. The trainer calls
// Run() many times per epoch (once per segment), so threads are started once, not per call.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace vasgd {

class WorkerPool {
 public:
  // threads <= 0 means std::thread::hardware_concurrency().
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(worker, item) for every item in [0, items), items handed out in chunks of `grain`
  // to whichever worker is free; worker is in [0, size()) (the calling thread is worker 0).
  // Returns when all items are done. Not reentrant.
  void Run(int64_t items, int64_t grain, const std::function<void(int worker, int64_t item)>& fn);

 private:
  void WorkerLoop(int worker);
  void Drain(int worker);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(int, int64_t)>* fn_ = nullptr;
  int64_t items_ = 0, grain_ = 1;
  int64_t next_ = 0;        // next item to hand out (guarded by mu_)
  uint64_t generation_ = 0; // bumped per Run()
  int busy_ = 0;            // workers still inside the current Run()
  bool stop_ = false;
};

}  // namespace vasgd
