// RwLock (src/rw_lock.hpp): glibc's writer-preferring rwlock reports misuse through return
// codes (EDEADLK for a lock the calling thread already holds); RwLock must not ignore them and
// go on as if it held the lock, since the unlock that follows would release a lock it does not
// hold (undefined behaviour). It aborts with a message instead: there is no caller to report
// to inside std::unique_lock, and a lock that is not held corrupts whatever it guards.
#include "rw_lock.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

namespace hnswstore::detail {
namespace {

#if defined(__GLIBC__)

class RwLockDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(RwLockDeathTest, ASecondWriteLockOnTheSameThreadAborts) {
  EXPECT_DEATH(
      {
        RwLock lock;
        lock.lock();
        lock.lock();  // EDEADLK
      },
      "RwLock::lock: .*EDEADLK");
}

TEST_F(RwLockDeathTest, AReadLockWhileHoldingTheWriteLockAborts) {
  EXPECT_DEATH(
      {
        RwLock lock;
        lock.lock();
        lock.lock_shared();  // EDEADLK
      },
      "RwLock::lock_shared: .*EDEADLK");
}

TEST_F(RwLockDeathTest, UnlockingAWriteLockThisThreadDoesNotHoldAborts) {
  EXPECT_DEATH(
      {
        RwLock lock;
        lock.unlock();
      },
      "RwLock::unlock: .*not held");
  EXPECT_DEATH(
      {
        RwLock lock;
        lock.lock_shared();
        lock.unlock();  // a read lock released as a write lock
      },
      "RwLock::unlock: .*not held");
  EXPECT_DEATH(
      {
        RwLock lock;
        lock.lock();
        lock.unlock_shared();  // the write lock released as a read lock
      },
      "RwLock::unlock_shared: .*write lock");
}

#endif

// Correct use still works, including the answers of the try_ variants when the lock is taken.
TEST(RwLock, CorrectUseWorksAndTryLocksReportBusy) {
  RwLock lock;
  {
    std::unique_lock<RwLock> writer(lock);
    EXPECT_FALSE(lock.try_lock());
    EXPECT_FALSE(lock.try_lock_shared());
  }
  {
    std::shared_lock<RwLock> reader(lock);
    EXPECT_FALSE(lock.try_lock());
    std::thread other([&] {
      std::shared_lock<RwLock> second(lock, std::try_to_lock);
      EXPECT_TRUE(second.owns_lock());
    });
    other.join();
  }
  EXPECT_TRUE(lock.try_lock());
  lock.unlock();
  // Writers on several threads take turns.
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        std::unique_lock<RwLock> writer(lock);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 4000);
}

}  // namespace
}  // namespace hnswstore::detail
