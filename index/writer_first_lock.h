// A readers-writer lock that lets a waiting writer in before new readers. std::shared_mutex on
// glibc prefers readers: under a steady stream of queries a live update would wait forever.
// Not recursive: a thread holding it shared must not take it shared again (a writer waiting in
// between would deadlock the two). Satisfies SharedMutex, for std::unique_lock/std::shared_lock.
#pragma once

#include <pthread.h>

#include <chrono>
#include <thread>

namespace vasgd {

class WriterFirstLock {
 public:
  WriterFirstLock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~WriterFirstLock() { pthread_rwlock_destroy(&lock_); }
  WriterFirstLock(const WriterFirstLock&) = delete;
  WriterFirstLock& operator=(const WriterFirstLock&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  // lock(), but for up to `patience` without queueing in front of new readers: the lock is taken
  // only at a moment no reader holds it (polled). A waiting writer stops every new reader, so a
  // reader preempted while it holds the lock would stall every other reader behind the writer
  // for as long as it is off the CPU. After `patience` it queues as lock() does, so a writer is
  // never starved for longer.
  void lock_politely(std::chrono::microseconds patience) {
    const auto give_up = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < give_up) {
      if (try_lock()) return;
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    lock();
  }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

}  // namespace vasgd
