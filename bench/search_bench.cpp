// Search and insert, hnswstore next to raw hnswlib on the same data and parameters.
//
// The raw side includes the same hnswlib headers the library was built with (this binary's own
// copy; the library's is renamed), so the ratio of the two is the wrapper's cost. Data:
// embedding-like 20,000 x 128 (L2) and, when installed, Fashion-MNIST (60,000 x 784).
#include <benchmark/benchmark.h>

#include <hnswlib/hnswlib.h>

#include <memory>
#include <string>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace {

using hnswstore::testing::Matrix;

struct Fixture {
  Matrix base, queries;
  std::unique_ptr<hnswlib::L2Space> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> raw;
  hnswstore::VectorStore store = hnswstore::VectorStore::in_memory();
  hnswstore::Namespace ns;
};

Fixture& fixture(bool fashion) {
  static std::unique_ptr<Fixture> cached[2];
  auto& f = cached[fashion ? 1 : 0];
  if (f) return *f;
  f = std::make_unique<Fixture>();
  if (fashion) {
    auto fm = hnswstore::testing::load_fashion_mnist();
    if (!fm) return *f;
    f->base = std::move(fm->train);
    f->queries = std::move(fm->test);
    f->queries.rows = 1000;
  } else {
    f->base = hnswstore::testing::embedding_like(20000, 128, 1);
    f->queries = hnswstore::testing::embedding_like(1000, 128, 2);
  }
  const std::size_t dim = f->base.cols;
  f->space = std::make_unique<hnswlib::L2Space>(dim);
  f->raw = std::make_unique<hnswlib::HierarchicalNSW<float>>(f->space.get(), f->base.rows, 16, 200, 100);
  for (std::size_t i = 0; i < f->base.rows; ++i) f->raw->addPoint(f->base.row(i), i);
  hnswstore::NamespaceOptions o;
  o.dimension = dim;
  o.metric = hnswstore::Metric::kL2;
  o.hnsw.graph_threshold = 1;  // a graph at any size, as raw hnswlib
  f->ns = f->store.create_namespace("bench", o).value();
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < f->base.rows; ++i) ids.push_back(std::to_string(i));
  if (!f->ns.upsert(ids, f->base.data).ok()) std::abort();
  return *f;
}

void BM_RawHnswlibSearch(benchmark::State& state, bool fashion) {
  auto& f = fixture(fashion);
  if (!f.raw) return state.SkipWithError("dataset not installed");
  f.raw->setEf(static_cast<std::size_t>(state.range(0)));
  std::size_t q = 0;
  for (auto _ : state) {
    auto r = f.raw->searchKnn(f.queries.row(q), 10);
    benchmark::DoNotOptimize(r);
    q = (q + 1) % f.queries.rows;
  }
}

void BM_HnswstoreSearch(benchmark::State& state, bool fashion, bool metadata) {
  auto& f = fixture(fashion);
  if (!f.raw) return state.SkipWithError("dataset not installed");
  hnswstore::SearchOptions so;
  so.k = 10;
  so.ef = static_cast<std::size_t>(state.range(0));
  so.include_metadata = metadata;
  std::size_t q = 0;
  for (auto _ : state) {
    auto r = f.ns.search(std::span<const float>(f.queries.row(q), f.queries.cols), so);
    benchmark::DoNotOptimize(r);
    q = (q + 1) % f.queries.rows;
  }
}

BENCHMARK_CAPTURE(BM_RawHnswlibSearch, embedding128, false)->Arg(10)->Arg(50)->Arg(100);
BENCHMARK_CAPTURE(BM_HnswstoreSearch, embedding128_ids, false, false)->Arg(10)->Arg(50)->Arg(100);
BENCHMARK_CAPTURE(BM_RawHnswlibSearch, fashion784, true)->Arg(10)->Arg(50)->Arg(100);
BENCHMARK_CAPTURE(BM_HnswstoreSearch, fashion784_ids, true, false)->Arg(10)->Arg(50)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
