// Distance kernels for the flat index and the L1 hnswlib space.
//
// Plain loops with independent partial sums so that the compiler vectorises them without
// -ffast-math; the translation units that include this header are compiled for the build
// machine's best instruction set unless HNSWSTORE_PORTABLE is on (see CMakeLists.txt).
#pragma once

#include <cmath>
#include <cstddef>

#include "hnswstore/options.hpp"

namespace hnswstore::detail {

inline constexpr std::size_t kLanes = 16;

inline float dot(const float* a, const float* b, std::size_t n) noexcept {
  float acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  }
  float tail = 0.0f;
  for (; i < n; ++i) tail += a[i] * b[i];
  float sum = 0.0f;
  for (std::size_t l = 0; l < kLanes; ++l) sum += acc[l];
  return sum + tail;
}

inline float l2_squared(const float* a, const float* b, std::size_t n) noexcept {
  float acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      const float d = a[i + l] - b[i + l];
      acc[l] += d * d;
    }
  }
  float tail = 0.0f;
  for (; i < n; ++i) {
    const float d = a[i] - b[i];
    tail += d * d;
  }
  float sum = 0.0f;
  for (std::size_t l = 0; l < kLanes; ++l) sum += acc[l];
  return sum + tail;
}

inline float l1(const float* a, const float* b, std::size_t n) noexcept {
  float acc[kLanes] = {};
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) acc[l] += std::fabs(a[i + l] - b[i + l]);
  }
  float tail = 0.0f;
  for (; i < n; ++i) tail += std::fabs(a[i] - b[i]);
  float sum = 0.0f;
  for (std::size_t l = 0; l < kLanes; ++l) sum += acc[l];
  return sum + tail;
}

/// The store's distance for `metric` between a query and a stored vector, both as the index
/// holds them (unit vectors for cosine).
inline float distance(Metric metric, const float* a, const float* b, std::size_t n) noexcept {
  switch (metric) {
    case Metric::kL2: return l2_squared(a, b, n);
    case Metric::kInnerProduct:
    case Metric::kCosine: return 1.0f - dot(a, b, n);
    case Metric::kL1: return l1(a, b, n);
  }
  return 0.0f;
}

}  // namespace hnswstore::detail
