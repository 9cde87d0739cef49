// parallel_for: runs fn(i) for i in [0, n) on up to `threads` threads (the caller's included).
//
// Threads are started per call: the work this is used for (bulk inserts, batch searches,
// rebuilds) is long against the ~20 µs a thread costs, and nothing is shared between calls, so
// concurrent calls from different namespaces cannot deadlock. The first exception thrown by fn
// stops the remaining work and is rethrown in the caller.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace hnswstore::detail {

/// 0 means "all cores".
inline std::size_t resolve_threads(std::size_t threads) noexcept {
  if (threads != 0) return threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : hw;
}

template <class Fn>
void parallel_for(std::size_t n, std::size_t threads, std::size_t grain, Fn&& fn) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  threads = std::min(resolve_threads(threads), (n + grain - 1) / grain);
  if (threads <= 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  // Hand out small chunks so that uneven items (HNSW inserts vary a lot) balance.
  const std::size_t chunk = std::clamp<std::size_t>(n / (threads * 16), 1, grain);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    try {
      while (!failed.load(std::memory_order_relaxed)) {
        const std::size_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
        if (begin >= n) break;
        const std::size_t end = std::min(n, begin + chunk);
        for (std::size_t i = begin; i < end; ++i) fn(i);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  try {
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  } catch (...) {
    // Could not start a thread: the threads that did start and the caller finish the work.
  }
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace hnswstore::detail
