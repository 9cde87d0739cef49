// RwLock: a reader-writer lock that lets a waiting writer in ahead of new readers.
//
// std::shared_mutex on glibc prefers readers, so a steady stream of searches can keep a writer
// out indefinitely. glibc's "prefer writer, non-recursive" rwlock lets waiting writers through
// while blocking new readers (a thread must not take the read side twice). Elsewhere it falls
// back to std::shared_mutex. Meets the SharedMutex requirements (std::shared_lock works).
#pragma once

#include <shared_mutex>

#if defined(__GLIBC__)
#include <pthread.h>

#include <system_error>
#endif

namespace hnswstore::detail {

#if defined(__GLIBC__)
class RwLock {
 public:
  RwLock() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    const int rc = pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_rwlock_init");
  }
  ~RwLock() { pthread_rwlock_destroy(&lock_); }
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};
#else
using RwLock = std::shared_mutex;
#endif

}  // namespace hnswstore::detail
