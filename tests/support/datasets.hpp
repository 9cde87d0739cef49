// Test and benchmark data: the embedding-like generator, Fashion-MNIST, exact ground truth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hnswstore/options.hpp"

namespace hnswstore::testing {

/// n vectors of `dim` floats, row-major.
struct Matrix {
  std::size_t rows = 0, cols = 0;
  std::vector<float> data;
  const float* row(std::size_t i) const { return data.data() + i * cols; }
};

/// "Embedding-like" vectors: a 32-dimensional standard Gaussian latent mapped to `dim` by one
/// fixed random matrix (entries N(0, 1/32), drawn from `matrix_seed`), plus Gaussian noise of
/// sigma `noise`. Rows drawn from the same matrix_seed share one neighbourhood structure, so
/// queries come from a different `seed` with the same `matrix_seed`.
Matrix embedding_like(std::size_t n, std::size_t dim, std::uint64_t seed,
                      std::uint64_t matrix_seed = 42, std::size_t latent = 32, float noise = 0.1f);

/// Uniform [-1, 1) vectors: no neighbourhood structure (the worst case for any index).
Matrix uniform_random(std::size_t n, std::size_t dim, std::uint64_t seed);

/// Fashion-MNIST as Debian's dataset-fashion-mnist installs it (60,000 train and 10,000 test
/// images of 784 pixels, as floats 0..255). std::nullopt when the files are not there.
struct FashionMnist {
  Matrix train, test;
  std::vector<std::uint8_t> train_labels, test_labels;
};
std::optional<FashionMnist> load_fashion_mnist(
    const std::string& dir = "/usr/share/datasets/fashion-mnist");

/// Exact k nearest rows of `base` for each row of `queries` under `metric` (as hnswstore
/// defines the distances), nearest first, computed in parallel.
std::vector<std::vector<std::uint32_t>> exact_knn(const Matrix& base, const Matrix& queries,
                                                  std::size_t k, Metric metric);

/// Mean over queries of |found ∩ truth[:k]| / k.
double recall_at_k(const std::vector<std::vector<std::uint32_t>>& found,
                   const std::vector<std::vector<std::uint32_t>>& truth, std::size_t k);

/// The naive distance hnswstore defines for `metric` (double accumulation).
double reference_distance(Metric metric, const float* a, const float* b, std::size_t dim);

}  // namespace hnswstore::testing
