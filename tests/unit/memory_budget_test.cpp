// Small namespaces (HnswParams::graph_threshold: scanned exactly until the graph pays off) and
// the store's memory budget (StoreOptions::memory_budget_bytes: least-recently-used namespaces
// are unloaded, dirty ones saved first).
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "datasets.hpp"
#include "fault_env.hpp"
#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HNSWSTORE_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define HNSWSTORE_TEST_SANITIZED 1
#endif
#endif

namespace hnswstore {
namespace {

using testing::Matrix;
using testing::TempDir;

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::vector<std::string> numbered_ids(std::size_t n, const std::string& prefix = "doc-") {
  std::vector<std::string> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = prefix + std::to_string(i);
  return ids;
}

// The ids of the exact k nearest rows of `data` (its first n rows) to each query.
std::vector<std::vector<std::string>> exact_ids(const Matrix& data, std::size_t n,
                                                const Matrix& queries, std::size_t k,
                                                Metric metric) {
  Matrix base;
  base.rows = n;
  base.cols = data.cols;
  base.data.assign(data.data.begin(), data.data.begin() + static_cast<long>(n * data.cols));
  std::vector<std::vector<std::string>> out;
  for (const auto& row : testing::exact_knn(base, queries, k, metric)) {
    std::vector<std::string> ids;
    for (std::uint32_t i : row) ids.push_back("doc-" + std::to_string(i));
    out.push_back(ids);
  }
  return out;
}

std::vector<std::string> hit_ids(const std::vector<Hit>& hits) {
  std::vector<std::string> ids;
  for (const Hit& h : hits) ids.push_back(h.id);
  return ids;
}

// ── small namespaces ─────────────────────────────────────────────────────────────────────────

TEST(SmallNamespaces, AreScannedExactlyUntilTheThresholdThenGetAGraph) {
  const std::size_t dim = 16, k = 10;
  const Matrix data = testing::embedding_like(2600, dim, 3);
  const Matrix queries = testing::embedding_like(40, dim, 4);
  const auto ids = numbered_ids(data.rows);
  std::vector<std::string> stages;
  StoreOptions so;
  so.threads = 2;
  so.progress = [&](std::string_view stage, std::size_t, std::size_t) {
    if (stages.empty() || stages.back() != stage) stages.emplace_back(stage);
  };
  auto store = VectorStore::in_memory(so);
  auto ns = store.create_namespace("small", {.dimension = dim, .metric = Metric::kL2}).value();
  // The automatic threshold at 16 dimensions is 2,048 records (docs/performance.md).
  const std::size_t threshold = 2048;
  ASSERT_TRUE(ns.upsert(std::span(ids).first(threshold - 1),
                        std::span(data.data).first((threshold - 1) * dim))
                  .ok());
  NamespaceStats st = ns.stats();
  EXPECT_EQ(st.graph_bytes, 0u) << "2,047 records must not have a graph";
  // No hnswlib index: the namespace holds little more than its vectors (no 2.5 MiB lock table).
  EXPECT_LT(st.memory_bytes, 2 * st.vector_bytes);
  // Scanned: every search is exact.
  auto truth = exact_ids(data, threshold - 1, queries, k, Metric::kL2);
  for (std::size_t q = 0; q < queries.rows; ++q) {
    auto hits = ns.search(std::span<const float>(queries.row(q), dim), {.k = k}).value();
    ASSERT_EQ(hit_ids(hits), truth[q]) << "query " << q;
  }
  EXPECT_EQ(std::count(stages.begin(), stages.end(), "graph"), 0);

  // The record that reaches the threshold builds the graph; searches stay correct.
  ASSERT_TRUE(
      ns.upsert(ids[threshold - 1], std::span<const float>(data.row(threshold - 1), dim)).ok());
  st = ns.stats();
  EXPECT_GT(st.graph_bytes, 0u);
  EXPECT_EQ(st.count, threshold);
  EXPECT_EQ(std::count(stages.begin(), stages.end(), "graph"), 1);
  // A batch on top goes into the graph.
  ASSERT_TRUE(ns.upsert(std::span(ids).subspan(threshold), std::span(data.data).subspan(threshold * dim))
                  .ok());
  truth = exact_ids(data, data.rows, queries, k, Metric::kL2);
  std::size_t found = 0;
  for (std::size_t q = 0; q < queries.rows; ++q) {
    auto hits = ns.search(std::span<const float>(queries.row(q), dim), {.k = k}).value();
    ASSERT_EQ(hits.size(), k);
    for (const auto& id : hit_ids(hits)) {
      found += std::count(truth[q].begin(), truth[q].end(), id);
    }
  }
  EXPECT_GE(static_cast<double>(found) / static_cast<double>(queries.rows * k), 0.95);

  // Removing below the threshold keeps the graph until compact(), which scans again.
  for (std::size_t i = 1000; i < data.rows; ++i) ASSERT_TRUE(ns.remove(ids[i]).value());
  EXPECT_GT(ns.stats().graph_bytes, 0u);
  ASSERT_TRUE(ns.compact().ok());
  EXPECT_EQ(ns.stats().graph_bytes, 0u);
  truth = exact_ids(data, 1000, queries, k, Metric::kL2);
  for (std::size_t q = 0; q < queries.rows; ++q) {
    auto hits = ns.search(std::span<const float>(queries.row(q), dim), {.k = k}).value();
    ASSERT_EQ(hit_ids(hits), truth[q]) << "query " << q << " after compact";
  }
}

TEST(SmallNamespaces, TheThresholdIsSavedAndDecidesWhetherAGraphFileIsWritten) {
  TempDir dir;
  const std::size_t dim = 8;
  const Matrix data = testing::embedding_like(100, dim, 5);
  const auto ids = numbered_ids(data.rows);
  auto graph_files = [&](const std::string& ns) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      const std::string f = e.path().filename().string();
      if (f.starts_with(ns + ".") && f.ends_with(".graph.bin")) ++n;
    }
    return n;
  };
  const std::map<std::string, std::size_t> thresholds = {{"auto", 0}, {"first", 1}, {"fifty", 50},
                                                         {"hundred-one", 101}};
  {
    auto store = VectorStore::open(dir.path()).value();
    for (const auto& [name, t] : thresholds) {
      NamespaceOptions o{.dimension = dim, .metric = Metric::kCosine};
      o.hnsw.graph_threshold = t;
      auto ns = store.create_namespace(name, o).value();
      ASSERT_TRUE(ns.upsert(ids, data.data).ok());
    }
    ASSERT_TRUE(store.save().ok());
  }
  EXPECT_EQ(graph_files("auto"), 0u);
  EXPECT_EQ(graph_files("first"), 1u);
  EXPECT_EQ(graph_files("fifty"), 1u);
  EXPECT_EQ(graph_files("hundred-one"), 0u);
  auto store = VectorStore::open(dir.path()).value();
  for (const auto& [name, t] : thresholds) {
    SCOPED_TRACE(name);
    auto ns = store.open_namespace(name).value();
    EXPECT_EQ(ns.options().hnsw.graph_threshold, t);
    auto hits = ns.search(std::span<const float>(data.row(7), dim), {.k = 1}).value();
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, "doc-7");
    const bool graph = t == 1 || t == 50;
    EXPECT_EQ(ns.stats().graph_bytes > 0, graph);
  }
}

TEST(SmallNamespaces, AThousandNamespacesOfAThousandVectorsStayWithinTwiceTheirVectors) {
  const std::size_t namespaces = 1000, n = 1000, dim = 64;
  const Matrix data = testing::embedding_like(n, dim, 9);
  const auto ids = numbered_ids(n);
  malloc_trim(0);
  const std::size_t rss_before = rss_bytes();
  auto store = VectorStore::in_memory({.threads = 1});
  std::vector<Namespace> all;
  std::vector<float> vectors(data.data);
  for (std::size_t t = 0; t < namespaces; ++t) {
    // Each tenant's vectors differ (a tenant-specific shift of one component).
    for (std::size_t i = 0; i < n; ++i) vectors[i * dim + t % dim] += 0.01f;
    auto ns = store.create_namespace("tenant-" + std::to_string(t), {.dimension = dim}).value();
    ASSERT_TRUE(ns.upsert(ids, vectors).ok());
    all.push_back(ns);
  }
  malloc_trim(0);
  const std::size_t rss_growth = rss_bytes() - rss_before;
  const std::size_t vector_bytes = namespaces * n * dim * sizeof(float);
  std::size_t memory = 0, graphs = 0;
  for (const Namespace& ns : all) {
    const NamespaceStats st = ns.stats();
    memory += st.memory_bytes;
    graphs += st.graph_bytes;
    ASSERT_EQ(st.count, n);
  }
  std::printf("1,000 x 1,000 x 64: vectors %zu B, stats memory_bytes %zu B (%.3fx), RSS growth %zu "
              "B (%.3fx)\n",
              vector_bytes, memory, static_cast<double>(memory) / static_cast<double>(vector_bytes),
              rss_growth, static_cast<double>(rss_growth) / static_cast<double>(vector_bytes));
  EXPECT_EQ(graphs, 0u);
  EXPECT_LE(memory, 2 * vector_bytes);
#if !defined(HNSWSTORE_TEST_SANITIZED)
  EXPECT_LE(rss_growth, 2 * vector_bytes);
  // The accounting is honest: it is not far below what the process really grew by.
  EXPECT_GE(static_cast<double>(memory), 0.8 * static_cast<double>(rss_growth));
#endif
  // Every tenant answers with its own records.
  for (std::size_t t = 0; t < namespaces; t += 37) {
    auto rec = all[t].get("doc-5").value();
    auto hits = all[t].search(rec.vector, {.k = 1}).value();
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].id, "doc-5");
  }
}

// ── memory budget ────────────────────────────────────────────────────────────────────────────

struct Loaded {
  std::size_t count = 0, bytes = 0;
};

Loaded loaded_set(const VectorStore& store) {
  Loaded l;
  auto& s = const_cast<VectorStore&>(store);
  for (const std::string& name : store.list_namespaces()) {
    const NamespaceStats st = s.open_namespace(name).value().stats();  // never loads
    if (st.loaded) {
      ++l.count;
      l.bytes += st.memory_bytes;
    }
  }
  return l;
}

TEST(MemoryBudget, AThousandNamespacesUnderABudgetThatHoldsFifty) {
  const std::size_t namespaces = 1000, n = 1000, dim = 8;
  const Matrix data = testing::embedding_like(n, dim, 11);
  const auto ids = numbered_ids(n);
  auto vectors_of = [&](std::size_t t) {
    std::vector<float> v(data.data);
    for (std::size_t i = 0; i < n; ++i) v[i * dim] += static_cast<float>(t) * 0.001f;
    return v;
  };
  // What one loaded namespace holds.
  std::size_t one = 0;
  {
    auto probe = VectorStore::in_memory();
    auto ns = probe.create_namespace("probe", {.dimension = dim}).value();
    ASSERT_TRUE(ns.upsert(ids, vectors_of(0)).ok());
    one = ns.stats().memory_bytes;
  }
  const std::size_t budget = 50 * one + one / 2;
  // An in-memory file system: a thousand saves without a thousand fsyncs.
  auto env = std::make_shared<testing::FaultEnv>();
  StoreOptions so;
  so.env = env;
  so.threads = 1;
  so.memory_budget_bytes = budget;
  {
    auto store = VectorStore::open("/store", so).value();
    for (std::size_t t = 0; t < namespaces; ++t) {
      auto ns = store.create_namespace("t" + std::to_string(t), {.dimension = dim}).value();
      ASSERT_TRUE(ns.upsert(ids, vectors_of(t)).ok());
      if (t % 50 == 49) {
        const Loaded l = loaded_set(store);
        ASSERT_LE(l.bytes, budget) << "after creating " << t + 1;
        ASSERT_LE(l.count, 50u);
      }
    }
    // Every namespace answers correctly, in a random order, and the loaded set stays in budget.
    std::mt19937_64 rng(5);
    for (std::size_t step = 0; step < 1500; ++step) {
      const std::size_t t = rng() % namespaces, i = rng() % n;
      auto ns = store.open_namespace("t" + std::to_string(t)).value();
      ASSERT_EQ(ns.size(), n);
      const std::vector<float> want = vectors_of(t);
      auto rec = ns.get(ids[i]);
      ASSERT_TRUE(rec.has_value()) << rec.error().to_string();
      ASSERT_TRUE(std::equal(rec->vector.begin(), rec->vector.end(), want.begin() + i * dim,
                             [](float a, float b) { return std::abs(a - b) <= 1e-5f * std::abs(b); }))
          << "t" << t << "/" << ids[i];
      auto hits = ns.search(std::span<const float>(want.data() + i * dim, dim), {.k = 1}).value();
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].id, ids[i]);
      if (step % 100 == 0) {
        const Loaded l = loaded_set(store);
        ASSERT_LE(l.bytes, budget) << "step " << step;
        ASSERT_GE(l.count, 1u);
      }
    }
    const Loaded l = loaded_set(store);
    std::printf("budget %zu B (50 x %zu B): %zu namespaces loaded, %zu B\n", budget, one, l.count,
                l.bytes);
    EXPECT_GE(l.count, 40u) << "the budget holds about 50";
    EXPECT_LE(l.count, 50u);
    ASSERT_TRUE(store.close().ok());
  }
  // Everything that was unloaded had been saved: a new process sees every record.
  auto store = VectorStore::open("/store", so).value();
  ASSERT_EQ(store.list_namespaces().size(), namespaces);
  for (std::size_t t = 0; t < namespaces; t += 9) {
    auto ns = store.open_namespace("t" + std::to_string(t)).value();
    EXPECT_EQ(ns.size(), n);
    EXPECT_TRUE(ns.contains(ids[n - 1]));
  }
}

TEST(MemoryBudget, DirtyNamespacesAreSavedBeforeTheyAreUnloaded) {
  TempDir dir;
  StoreOptions so;
  so.save_on_close = false;        // only the budget's unloads save
  so.memory_budget_bytes = 1;      // nothing but the namespace in use stays loaded
  const std::vector<float> v = {1, 2, 3, 4};
  {
    auto store = VectorStore::open(dir.path(), so).value();
    auto a = store.create_namespace("a", {.dimension = 4}).value();
    auto b = store.create_namespace("b", {.dimension = 4}).value();
    ASSERT_TRUE(a.upsert("x", v, {{"n", 1}}).ok());
    EXPECT_TRUE(a.stats().loaded);
    ASSERT_TRUE(b.upsert("y", v).ok());  // charges b: a is saved and unloaded
    EXPECT_FALSE(a.stats().loaded);
    EXPECT_EQ(a.stats().count, 1u);
    EXPECT_TRUE(b.stats().loaded);
    // Using a loads it again, with its record, and unloads b.
    EXPECT_EQ(a.get("x").value().metadata["n"], 1);
    EXPECT_TRUE(a.stats().loaded);
    EXPECT_FALSE(b.stats().loaded);
    ASSERT_TRUE(a.update_metadata("x", {{"n", 2}}).ok());
    EXPECT_TRUE(b.contains("y"));  // a (dirty) is saved, then unloaded
    EXPECT_FALSE(a.stats().loaded);
    ASSERT_TRUE(a.upsert("z", v).ok());  // a is dirty and loaded at close: not saved
  }
  auto store = VectorStore::open(dir.path()).value();
  auto a = store.open_namespace("a").value();
  EXPECT_EQ(a.get("x").value().metadata["n"], 2);
  EXPECT_FALSE(a.contains("z")) << "save_on_close is off: only the unloads saved";
  EXPECT_TRUE(store.open_namespace("b").value().contains("y"));
}

TEST(MemoryBudget, InMemoryStoresAndReadOnlyStores) {
  // An in-memory store has nowhere to unload to: the budget does not apply.
  {
    auto store = VectorStore::in_memory({.memory_budget_bytes = 1});
    auto a = store.create_namespace("a", {.dimension = 2}).value();
    auto b = store.create_namespace("b", {.dimension = 2}).value();
    ASSERT_TRUE(a.upsert("x", std::vector<float>{1, 2}).ok());
    ASSERT_TRUE(b.upsert("y", std::vector<float>{1, 2}).ok());
    EXPECT_TRUE(a.stats().loaded);
    EXPECT_TRUE(a.contains("x"));
  }
  // A read-only store unloads clean namespaces and loads them again on use.
  TempDir dir;
  {
    auto store = VectorStore::open(dir.path()).value();
    for (const char* name : {"a", "b", "c"}) {
      ASSERT_TRUE(store.create_namespace(name, {.dimension = 2})
                      .value()
                      .upsert(std::string(name) + "-id", std::vector<float>{1, 2})
                      .ok());
    }
  }
  StoreOptions so;
  so.read_only = true;
  so.memory_budget_bytes = 1;
  auto store = VectorStore::open(dir.path(), so).value();
  for (int round = 0; round < 3; ++round) {
    for (const char* name : {"a", "b", "c"}) {
      auto ns = store.open_namespace(name).value();
      EXPECT_TRUE(ns.contains(std::string(name) + "-id"));
      EXPECT_EQ(loaded_set(store).count, 1u);
    }
  }
}

}  // namespace
}  // namespace hnswstore
