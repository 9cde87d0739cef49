// A fixed-size latency histogram: no allocation per sample, safe from any thread.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace hnswstore::memory::detail {

/// Buckets of 1/16 of a power of two (in nanoseconds), so a percentile is within about 6 %.
class LatencyHistogram {
 public:
  void record(std::chrono::nanoseconds d) noexcept {
    const auto ns = static_cast<std::uint64_t>(d.count() < 0 ? 0 : d.count());
    buckets_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// The q-quantile (0 < q <= 1) of the samples so far (the middle of its bucket); 0 when
  /// there are none.
  std::chrono::microseconds quantile(double q) const noexcept {
    std::array<std::uint64_t, kBuckets> snapshot;
    std::uint64_t total = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      snapshot[b] = buckets_[b].load(std::memory_order_relaxed);
      total += snapshot[b];
    }
    if (total == 0) return std::chrono::microseconds(0);
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total) + 0.999999);
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      seen += snapshot[b];
      if (seen >= rank && snapshot[b] != 0) {
        const double mid = (static_cast<double>(lower_of(b)) + static_cast<double>(lower_of(b + 1))) / 2;
        return std::chrono::microseconds(static_cast<std::int64_t>(mid / 1000.0 + 0.5));
      }
    }
    return std::chrono::microseconds(0);
  }

 private:
  static constexpr std::size_t kSub = 16;                 // buckets per power of two
  static constexpr std::size_t kBuckets = 64 * kSub;

  static std::size_t bucket_of(std::uint64_t ns) noexcept {
    if (ns < kSub) return static_cast<std::size_t>(ns);  // exact below 16 ns
    const int exp = 63 - std::countl_zero(ns);           // >= 4
    const auto sub = static_cast<std::size_t>((ns >> (exp - 4)) & (kSub - 1));
    return static_cast<std::size_t>(exp - 3) * kSub + sub;
  }
  static std::uint64_t lower_of(std::size_t b) noexcept {
    if (b < kSub) return b;
    const std::size_t exp = b / kSub + 3, sub = b % kSub;
    if (exp >= 64) return UINT64_MAX;
    return (std::uint64_t{1} << exp) + (std::uint64_t{sub} << (exp - 4));
  }

  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
};

}  // namespace hnswstore::memory::detail
