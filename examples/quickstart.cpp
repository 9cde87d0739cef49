// quickstart: the README's demo.
//
// Builds an HNSW namespace and an exact (flat) namespace from the same data, searches both,
// prints a few hits, recall@10 of HNSW against the exact results, and mean search latency.
// Data: Fashion-MNIST from Debian's dataset-fashion-mnist when installed (60,000 train images
// and 1,000 test queries of 784 pixels, L2), otherwise a synthetic embedding-like set.
//
//   quickstart [--limit N] [--queries Q] [--ef EF] [--synthetic]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

const char* kClassNames[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

}  // namespace

int main(int argc, char** argv) {
  std::size_t limit = 0, queries = 1000, ef = 100;
  bool synthetic = false;
  for (int i = 1; i < argc; ++i) {
    auto next = [&] { return i + 1 < argc ? std::strtoull(argv[++i], nullptr, 10) : 0ull; };
    if (!std::strcmp(argv[i], "--limit")) limit = next();
    else if (!std::strcmp(argv[i], "--queries")) queries = next();
    else if (!std::strcmp(argv[i], "--ef")) ef = next();
    else if (!std::strcmp(argv[i], "--synthetic")) synthetic = true;
    else {
      std::fprintf(stderr, "usage: %s [--limit N] [--queries Q] [--ef EF] [--synthetic]\n", argv[0]);
      return 2;
    }
  }

  // ── data ──────────────────────────────────────────────────────────────────────────────
  using hnswstore::testing::Matrix;
  Matrix base, test;
  std::vector<std::uint8_t> labels;
  hnswstore::Metric metric = hnswstore::Metric::kL2;
  std::optional<hnswstore::testing::FashionMnist> fm;
  if (!synthetic) fm = hnswstore::testing::load_fashion_mnist();
  if (fm) {
    std::printf("data: Fashion-MNIST from /usr/share/datasets/fashion-mnist (L2)\n");
    base = std::move(fm->train);
    test = std::move(fm->test);
    labels = std::move(fm->train_labels);
  } else {
    std::printf("data: synthetic embedding-like vectors, 60,000 x 128 (cosine)%s\n",
                synthetic ? "" : " -- install dataset-fashion-mnist for real data");
    base = hnswstore::testing::embedding_like(60000, 128, 1);
    test = hnswstore::testing::embedding_like(1000, 128, 2);
    metric = hnswstore::Metric::kCosine;
  }
  if (limit != 0 && limit < base.rows) {
    base.rows = limit;
    base.data.resize(limit * base.cols);
  }
  queries = std::min(queries, test.rows);
  std::printf("      %zu vectors of %zu dimensions, %zu queries\n", base.rows, base.cols, queries);

  std::vector<std::string> ids;
  std::vector<hnswstore::Metadata> metadata;
  for (std::size_t i = 0; i < base.rows; ++i) {
    ids.push_back("item-" + std::to_string(i));
    metadata.push_back(labels.empty() ? hnswstore::Metadata{{"row", i}}
                                      : hnswstore::Metadata{{"row", i},
                                                            {"label", kClassNames[labels[i]]}});
  }

  // ── store and namespaces ──────────────────────────────────────────────────────────────
  hnswstore::StoreOptions store_options;
  store_options.progress = [](std::string_view stage, std::size_t done, std::size_t total) {
    if (done == total || done % 10000 < 256) {
      std::fprintf(stderr, "\r      %.*s %zu/%zu", static_cast<int>(stage.size()), stage.data(),
                   done, total);
      if (done == total) std::fprintf(stderr, "\n");
    }
  };
  auto store = hnswstore::VectorStore::in_memory(store_options);
  hnswstore::NamespaceOptions options;
  options.dimension = base.cols;
  options.metric = metric;
  options.hnsw = hnswstore::HnswParams::balanced();
  auto hnsw = store.create_namespace("images_hnsw", options).value();
  options.index = hnswstore::IndexKind::kFlat;
  auto flat = store.create_namespace("images_flat", options).value();

  std::fflush(stdout);
  auto t = Clock::now();
  if (auto s = hnsw.upsert(ids, base.data, metadata); !s.ok()) {
    std::fprintf(stderr, "upsert failed: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("build: HNSW (m=16, ef_construction=200, all cores) in %.2f s\n",
              seconds_since(t));
  std::fflush(stdout);
  t = Clock::now();
  if (auto s = flat.upsert(ids, base.data, metadata); !s.ok()) {
    std::fprintf(stderr, "upsert failed: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("       flat (exact) in %.2f s\n", seconds_since(t));

  // ── search ────────────────────────────────────────────────────────────────────────────
  hnswstore::SearchOptions so;
  so.k = 10;
  so.ef = ef;
  so.include_metadata = false;
  std::vector<std::vector<hnswstore::Hit>> approx(queries), exact(queries);
  double hnsw_seconds = 0, flat_seconds = 0;
  for (std::size_t q = 0; q < queries; ++q) {
    std::span<const float> query(test.row(q), test.cols);
    t = Clock::now();
    approx[q] = hnsw.search(query, so).value();
    hnsw_seconds += seconds_since(t);
    t = Clock::now();
    exact[q] = flat.search(query, so).value();
    flat_seconds += seconds_since(t);
  }
  double recall = 0;
  for (std::size_t q = 0; q < queries; ++q) {
    std::set<std::string> truth;
    for (const auto& h : exact[q]) truth.insert(h.id);
    std::size_t found = 0;
    for (const auto& h : approx[q]) found += truth.count(h.id);
    recall += static_cast<double>(found) / static_cast<double>(truth.size());
  }
  recall /= static_cast<double>(queries);

  std::printf("\nquery 0: the 5 nearest items (HNSW, with metadata)\n");
  so.k = 5;
  so.include_metadata = true;
  for (const auto& hit : hnsw.search(std::span<const float>(test.row(0), test.cols), so).value()) {
    std::printf("  %-12s distance %-12.1f %s\n", hit.id.c_str(), hit.distance,
                hit.metadata.dump().c_str());
  }
  std::printf("\nrecall@10 (HNSW vs exact, ef=%zu): %.4f over %zu queries\n", ef, recall, queries);
  std::printf("mean search latency: HNSW %.1f us, flat %.1f us (1 thread, k=10)\n",
              1e6 * hnsw_seconds / static_cast<double>(queries),
              1e6 * flat_seconds / static_cast<double>(queries));
  const auto st = hnsw.stats();
  const auto mib = [](std::size_t bytes) { return static_cast<double>(bytes) / 1048576.0; };
  std::printf("memory: HNSW namespace %.1f MiB (vectors %.1f, links %.1f, metadata %.1f MiB)\n",
              mib(st.memory_bytes), mib(st.vector_bytes), mib(st.graph_bytes),
              mib(st.metadata_bytes));
  return recall >= 0.9 ? 0 : 1;
}
