// RwLock: a reader-writer lock that lets a waiting writer in ahead of new readers.
//
// std::shared_mutex on glibc prefers readers, so a steady stream of searches can keep a writer
// out indefinitely. glibc's "prefer writer, non-recursive" rwlock lets waiting writers through
// while blocking new readers (a thread must not take the read side twice). Elsewhere it falls
// back to std::shared_mutex. Meets the SharedMutex requirements (std::shared_lock works).
//
// Misuse aborts the process with a message on stderr (`hnswstore: RwLock::lock: ...`): every
// pthread return code is checked (EDEADLK when the thread already holds the lock for writing,
// EAGAIN when the reader count overflows, ...), and so is an unlock() by a thread that does not
// hold the write lock, which glibc does not detect (it would release whatever is held). The
// callers are std::unique_lock / std::shared_lock, which cannot report an error, and going on
// without the lock would corrupt the namespace it guards: a crash with the reason is the only
// honest outcome. The try_ variants return false only for EBUSY.
#pragma once

#include <shared_mutex>

#if defined(__GLIBC__)
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#endif

namespace hnswstore::detail {

#if defined(__GLIBC__)
class RwLock {
 public:
  RwLock() {
    pthread_rwlockattr_t attr;
    check(pthread_rwlockattr_init(&attr), "pthread_rwlockattr_init");
    check(pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP),
          "pthread_rwlockattr_setkind_np");
    const int rc = pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_rwlock_init");
  }
  ~RwLock() { check(pthread_rwlock_destroy(&lock_), "~RwLock: pthread_rwlock_destroy"); }
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock() {
    check(pthread_rwlock_wrlock(&lock_), "RwLock::lock: pthread_rwlock_wrlock");
    writer_.store(pthread_self(), std::memory_order_relaxed);
  }
  bool try_lock() {
    if (!try_check(pthread_rwlock_trywrlock(&lock_), "RwLock::try_lock")) return false;
    writer_.store(pthread_self(), std::memory_order_relaxed);
    return true;
  }
  void unlock() {
    // Only this thread ever stores its own id here, so a relaxed load that sees it is exact.
    if (!pthread_equal(writer_.load(std::memory_order_relaxed), pthread_self())) {
      die("RwLock::unlock: the write lock is not held by this thread");
    }
    writer_.store(pthread_t{}, std::memory_order_relaxed);
    check(pthread_rwlock_unlock(&lock_), "RwLock::unlock: pthread_rwlock_unlock");
  }
  void lock_shared() {
    check(pthread_rwlock_rdlock(&lock_), "RwLock::lock_shared: pthread_rwlock_rdlock");
  }
  bool try_lock_shared() {
    return try_check(pthread_rwlock_tryrdlock(&lock_), "RwLock::try_lock_shared");
  }
  void unlock_shared() {
    // glibc's unlock releases the write lock when the caller holds it: not what was asked.
    if (pthread_equal(writer_.load(std::memory_order_relaxed), pthread_self())) {
      die("RwLock::unlock_shared: this thread holds the write lock, not a read lock");
    }
    check(pthread_rwlock_unlock(&lock_), "RwLock::unlock_shared: pthread_rwlock_unlock");
  }

 private:
  [[noreturn]] static void die(const char* what, int rc = 0) noexcept {
    if (rc == 0) {
      std::fprintf(stderr, "hnswstore: %s\n", what);
    } else {
      std::fprintf(stderr, "hnswstore: %s failed: %s (%s)\n", what, std::strerror(rc),
                   rc == EDEADLK  ? "EDEADLK: this thread holds the lock for writing already"
                   : rc == EAGAIN ? "EAGAIN: too many readers"
                                  : "unexpected error");
    }
    std::abort();
  }
  static void check(int rc, const char* what) noexcept {
    if (rc != 0) die(what, rc);
  }
  // true: acquired; false: EBUSY (taken); anything else aborts.
  static bool try_check(int rc, const char* what) noexcept {
    if (rc == EBUSY) return false;
    check(rc, what);
    return true;
  }

  pthread_rwlock_t lock_;
  std::atomic<pthread_t> writer_{};  // the thread holding the write lock, or pthread_t{}
};
#else
using RwLock = std::shared_mutex;
#endif

}  // namespace hnswstore::detail
