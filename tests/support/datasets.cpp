#include "datasets.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

namespace hnswstore::testing {

Matrix embedding_like(std::size_t n, std::size_t dim, std::uint64_t seed,
                      std::uint64_t matrix_seed, std::size_t latent, float noise) {
  std::mt19937_64 mrng(matrix_seed);
  std::normal_distribution<float> entry(0.0f, 1.0f / std::sqrt(static_cast<float>(latent)));
  std::vector<float> projection(latent * dim);
  for (float& x : projection) x = entry(mrng);

  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 1);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  Matrix m{n, dim, std::vector<float>(n * dim)};
  std::vector<float> z(latent);
  for (std::size_t i = 0; i < n; ++i) {
    for (float& x : z) x = gauss(rng);
    float* out = m.data.data() + i * dim;
    for (std::size_t d = 0; d < dim; ++d) {
      float acc = 0.0f;
      for (std::size_t l = 0; l < latent; ++l) acc += z[l] * projection[l * dim + d];
      out[d] = acc + noise * gauss(rng);
    }
  }
  return m;
}

Matrix uniform_random(std::size_t n, std::size_t dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Matrix m{n, dim, std::vector<float>(n * dim)};
  for (float& x : m.data) x = u(rng);
  return m;
}

namespace {

std::optional<std::vector<unsigned char>> gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int got;
  while ((got = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + got);
  const bool ok = got == 0;
  gzclose(f);
  if (!ok) return std::nullopt;
  return out;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::optional<Matrix> read_images(const std::string& path) {
  auto bytes = gunzip(path);
  if (!bytes || bytes->size() < 16 || be32(bytes->data()) != 0x00000803) return std::nullopt;
  const std::size_t n = be32(bytes->data() + 4);
  const std::size_t dim = std::size_t{be32(bytes->data() + 8)} * be32(bytes->data() + 12);
  if (bytes->size() != 16 + n * dim) return std::nullopt;
  Matrix m{n, dim, std::vector<float>(n * dim)};
  for (std::size_t i = 0; i < n * dim; ++i) m.data[i] = static_cast<float>((*bytes)[16 + i]);
  return m;
}

std::optional<std::vector<std::uint8_t>> read_labels(const std::string& path) {
  auto bytes = gunzip(path);
  if (!bytes || bytes->size() < 8 || be32(bytes->data()) != 0x00000801) return std::nullopt;
  const std::size_t n = be32(bytes->data() + 4);
  if (bytes->size() != 8 + n) return std::nullopt;
  return std::vector<std::uint8_t>(bytes->begin() + 8, bytes->end());
}

}  // namespace

std::optional<FashionMnist> load_fashion_mnist(const std::string& dir) {
  auto train = read_images(dir + "/train-images-idx3-ubyte.gz");
  auto test = read_images(dir + "/t10k-images-idx3-ubyte.gz");
  auto train_labels = read_labels(dir + "/train-labels-idx1-ubyte.gz");
  auto test_labels = read_labels(dir + "/t10k-labels-idx1-ubyte.gz");
  if (!train || !test || !train_labels || !test_labels) return std::nullopt;
  return FashionMnist{std::move(*train), std::move(*test), std::move(*train_labels),
                      std::move(*test_labels)};
}

double reference_distance(Metric metric, const float* a, const float* b, std::size_t dim) {
  double acc = 0.0;
  switch (metric) {
    case Metric::kL2:
      for (std::size_t i = 0; i < dim; ++i) acc += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
      return acc;
    case Metric::kL1:
      for (std::size_t i = 0; i < dim; ++i) acc += std::fabs(double(a[i]) - b[i]);
      return acc;
    case Metric::kInnerProduct:
      for (std::size_t i = 0; i < dim; ++i) acc += double(a[i]) * b[i];
      return 1.0 - acc;
    case Metric::kCosine: {
      double na = 0.0, nb = 0.0;
      for (std::size_t i = 0; i < dim; ++i) {
        acc += double(a[i]) * b[i];
        na += double(a[i]) * a[i];
        nb += double(b[i]) * b[i];
      }
      return 1.0 - acc / (std::sqrt(na) * std::sqrt(nb));
    }
  }
  return 0.0;
}

std::vector<std::vector<std::uint32_t>> exact_knn(const Matrix& base, const Matrix& queries,
                                                  std::size_t k, Metric metric) {
  std::vector<std::vector<std::uint32_t>> out(queries.rows);
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<std::pair<double, std::uint32_t>> d(base.rows);
      for (std::size_t q = t; q < queries.rows; q += threads) {
        for (std::size_t i = 0; i < base.rows; ++i) {
          d[i] = {reference_distance(metric, queries.row(q), base.row(i), base.cols),
                  static_cast<std::uint32_t>(i)};
        }
        const std::size_t kk = std::min(k, d.size());
        std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(kk), d.end());
        for (std::size_t i = 0; i < kk; ++i) out[q].push_back(d[i].second);
      }
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

double recall_at_k(const std::vector<std::vector<std::uint32_t>>& found,
                   const std::vector<std::vector<std::uint32_t>>& truth, std::size_t k) {
  if (truth.empty()) return 0.0;
  double sum = 0.0;
  for (std::size_t q = 0; q < truth.size(); ++q) {
    const std::size_t kk = std::min(k, truth[q].size());
    std::size_t hit = 0;
    for (std::size_t i = 0; i < kk; ++i) {
      if (std::find(found[q].begin(), found[q].end(), truth[q][i]) != found[q].end()) ++hit;
    }
    sum += kk == 0 ? 1.0 : static_cast<double>(hit) / static_cast<double>(kk);
  }
  return sum / static_cast<double>(truth.size());
}

}  // namespace hnswstore::testing
