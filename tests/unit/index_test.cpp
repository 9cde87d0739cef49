// Index behaviour: exactness of the flat index, recall of HNSW, get() fidelity, deletes and
// slot reuse, compaction, memory under churn. Recall is correctness here; timings live in bench/.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore {
namespace {

using testing::Matrix;

std::vector<std::string> numbered_ids(std::size_t n, std::size_t first = 0) {
  std::vector<std::string> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back(std::to_string(first + i));
  return ids;
}

std::span<const float> row(const Matrix& m, std::size_t i) { return {m.row(i), m.cols}; }

Namespace make_namespace(VectorStore& store, const std::string& name, std::size_t dim,
                         Metric metric, IndexKind kind, HnswParams hnsw = {}) {
  NamespaceOptions o;
  o.dimension = dim;
  o.metric = metric;
  o.index = kind;
  o.hnsw = hnsw;
  return store.create_namespace(name, o).value();
}

// The ids of the k hits for each query, as integers.
std::vector<std::vector<std::uint32_t>> search_ids(const Namespace& ns, const Matrix& queries,
                                                   std::size_t k, std::size_t ef = 0) {
  SearchOptions so;
  so.k = k;
  so.ef = ef;
  so.include_metadata = false;
  auto batch = ns.search_batch(queries.data, so).value();
  std::vector<std::vector<std::uint32_t>> out(batch.size());
  for (std::size_t q = 0; q < batch.size(); ++q) {
    for (const Hit& h : batch[q]) out[q].push_back(static_cast<std::uint32_t>(std::stoul(h.id)));
  }
  return out;
}

const Metric kAllMetrics[] = {Metric::kL2, Metric::kInnerProduct, Metric::kCosine, Metric::kL1};

// ── flat index: exact ─────────────────────────────────────────────────────────────────────

class FlatExactness : public ::testing::TestWithParam<Metric> {};

TEST_P(FlatExactness, EqualsNaiveReference) {
  const Metric metric = GetParam();
  const std::size_t dim = 37;  // not a multiple of the vector width: exercises the tail loop
  const Matrix base = testing::uniform_random(2000, dim, 7);
  const Matrix queries = testing::uniform_random(50, dim, 8);
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "flat", dim, metric, IndexKind::kFlat);
  ASSERT_TRUE(ns.upsert(numbered_ids(base.rows), base.data).ok());

  const std::size_t k = 15;
  for (std::size_t q = 0; q < queries.rows; ++q) {
    std::vector<std::pair<double, std::size_t>> ref;
    for (std::size_t i = 0; i < base.rows; ++i) {
      ref.emplace_back(testing::reference_distance(metric, queries.row(q), base.row(i), dim), i);
    }
    std::sort(ref.begin(), ref.end());
    SearchOptions so;
    so.k = k;
    auto hits = ns.search(row(queries, q), so).value();
    ASSERT_EQ(hits.size(), k);
    for (std::size_t i = 0; i < k; ++i) {
      const double tol = 1e-4 * std::max(1.0, std::fabs(ref[i].first));
      EXPECT_NEAR(hits[i].distance, ref[i].first, tol) << "query " << q << " rank " << i;
      if (i + 1 < k && ref[i + 1].first - ref[i].first > 2 * tol && i > 0 &&
          ref[i].first - ref[i - 1].first > 2 * tol) {
        EXPECT_EQ(hits[i].id, std::to_string(ref[i].second)) << "query " << q << " rank " << i;
      }
    }
    for (std::size_t i = 1; i < k; ++i) EXPECT_LE(hits[i - 1].distance, hits[i].distance);
  }
}

INSTANTIATE_TEST_SUITE_P(AllMetrics, FlatExactness, ::testing::ValuesIn(kAllMetrics),
                         [](const auto& pi) { return std::string(to_string(pi.param)); });

// ── HNSW recall on embedding-like data ───────────────────────────────────────────────────

class HnswRecall : public ::testing::TestWithParam<Metric> {};

TEST_P(HnswRecall, AtDefaultParametersAgainstFlat) {
  const Metric metric = GetParam();
  const std::size_t dim = 128;
  const Matrix base = testing::embedding_like(10000, dim, 1);
  const Matrix queries = testing::embedding_like(200, dim, 2);
  // One build thread: with the fixed seed the graph, and so the recall, is reproducible.
  auto store = VectorStore::in_memory({.threads = 1});
  auto hnsw = make_namespace(store, "hnsw", dim, metric, IndexKind::kHnsw);
  auto flat = make_namespace(store, "flat", dim, metric, IndexKind::kFlat);
  const auto ids = numbered_ids(base.rows);
  ASSERT_TRUE(hnsw.upsert(ids, base.data).ok());
  ASSERT_TRUE(flat.upsert(ids, base.data).ok());

  const double recall = testing::recall_at_k(search_ids(hnsw, queries, 10),
                                             search_ids(flat, queries, 10), 10);
  const double required = metric == Metric::kInnerProduct ? 0.90 : 0.95;
  EXPECT_GE(recall, required) << "metric " << to_string(metric);
  RecordProperty("recall_at_10", std::to_string(recall));
}

INSTANTIATE_TEST_SUITE_P(AllMetrics, HnswRecall, ::testing::ValuesIn(kAllMetrics),
                         [](const auto& pi) { return std::string(to_string(pi.param)); });

// ── get() returns the vector as given ────────────────────────────────────────────────────

class GetFidelity : public ::testing::TestWithParam<std::tuple<Metric, IndexKind>> {};

TEST_P(GetFidelity, ReturnsEveryVectorWithinRelativeError) {
  const auto [metric, kind] = GetParam();
  const std::size_t dim = 24;
  Matrix base = testing::uniform_random(500, dim, 3);
  // Scale rows over many orders of magnitude: cosine must give back the norm too.
  for (std::size_t i = 0; i < base.rows; ++i) {
    const float scale = std::pow(10.0f, static_cast<float>(i % 9) - 4.0f);
    for (std::size_t d = 0; d < dim; ++d) base.data[i * dim + d] *= scale;
  }
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", dim, metric, kind);
  ASSERT_TRUE(ns.upsert(numbered_ids(base.rows), base.data).ok());
  for (std::size_t i = 0; i < base.rows; ++i) {
    auto rec = ns.get(std::to_string(i)).value();
    ASSERT_EQ(rec.vector.size(), dim);
    for (std::size_t d = 0; d < dim; ++d) {
      const float want = base.data[i * dim + d];
      EXPECT_LE(std::fabs(rec.vector[d] - want), 1e-6f * std::fabs(want) + 1e-30f)
          << "row " << i << " dim " << d;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllMetricsAndIndexes, GetFidelity,
    ::testing::Combine(::testing::ValuesIn(kAllMetrics),
                       ::testing::Values(IndexKind::kHnsw, IndexKind::kFlat)),
    [](const auto& pi) {
      return std::string(to_string(std::get<0>(pi.param))) + "_" +
             std::string(to_string(std::get<1>(pi.param)));
    });

// ── search semantics shared by both indexes ──────────────────────────────────────────────

class BothIndexes : public ::testing::TestWithParam<IndexKind> {};

TEST_P(BothIndexes, ReturnsMinOfKAndLiveRecordsClosestFirst) {
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", 8, Metric::kL2, GetParam());
  const Matrix base = testing::uniform_random(7, 8, 4);
  std::vector<float> q(8, 0.0f);
  SearchOptions so;
  so.k = 10;
  EXPECT_TRUE(ns.search(q, so).value().empty());
  ASSERT_TRUE(ns.upsert(numbered_ids(7), base.data).ok());
  auto hits = ns.search(q, so).value();
  ASSERT_EQ(hits.size(), 7u);
  for (std::size_t i = 1; i < hits.size(); ++i) EXPECT_LE(hits[i - 1].distance, hits[i].distance);
  so.k = 3;
  EXPECT_EQ(ns.search(q, so).value().size(), 3u);
}

TEST_P(BothIndexes, HitsCarryMetadataAndVectorsOnRequest) {
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", 3, Metric::kCosine, GetParam());
  const std::vector<float> v = {3.0f, 4.0f, 12.0f};
  ASSERT_TRUE(ns.upsert("doc-1", v, {{"lang", "en"}, {"year", 2024}}).ok());
  SearchOptions so;
  so.include_vectors = true;
  auto hits = ns.search(v, so).value();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, "doc-1");
  EXPECT_NEAR(hits[0].distance, 0.0f, 1e-6f);
  EXPECT_EQ(hits[0].metadata["lang"], "en");
  ASSERT_EQ(hits[0].vector.size(), 3u);
  EXPECT_NEAR(hits[0].vector[2], 12.0f, 1e-5f);
  so.include_metadata = false;
  so.include_vectors = false;
  hits = ns.search(v, so).value();
  EXPECT_TRUE(hits[0].metadata.is_null());
  EXPECT_TRUE(hits[0].vector.empty());
}

TEST_P(BothIndexes, MaxDistanceDropsFartherHits) {
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", 1, Metric::kL2, GetParam());
  for (int i = 0; i < 5; ++i) {
    const float x = static_cast<float>(i);
    ASSERT_TRUE(ns.upsert(std::to_string(i), std::span<const float>(&x, 1)).ok());
  }
  SearchOptions so;
  so.max_distance = 4.0f;  // squared L2: 0, 1, 4 pass
  const float zero = 0.0f;
  auto hits = ns.search(std::span<const float>(&zero, 1), so).value();
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits.back().id, "2");
}

TEST_P(BothIndexes, UpsertReplacesVectorAndMetadata) {
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", 2, Metric::kL2, GetParam());
  ASSERT_TRUE(ns.upsert("a", std::vector<float>{0, 0}, {{"v", 1}}).ok());
  ASSERT_TRUE(ns.upsert("b", std::vector<float>{10, 10}).ok());
  ASSERT_TRUE(ns.upsert("a", std::vector<float>{20, 20}, {{"v", 2}}).ok());
  EXPECT_EQ(ns.size(), 2u);
  auto rec = ns.get("a").value();
  EXPECT_EQ(rec.vector, (std::vector<float>{20, 20}));
  EXPECT_EQ(rec.metadata["v"], 2);
  auto hits = ns.search(std::vector<float>{21, 21}).value();
  EXPECT_EQ(hits[0].id, "a");
  ASSERT_TRUE(ns.update_metadata("b", {{"tag", "x"}}).ok());
  EXPECT_EQ(ns.get("b").value().metadata, Metadata({{"tag", "x"}}));
}

TEST_P(BothIndexes, DeletedRecordsNeverAppearAndIdsCanReturn) {
  const std::size_t dim = 16;
  const Matrix base = testing::embedding_like(3000, dim, 5);
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", dim, Metric::kL2, GetParam());
  ASSERT_TRUE(ns.upsert(numbered_ids(base.rows), base.data).ok());
  std::set<std::string> deleted;
  for (std::size_t i = 0; i < base.rows; i += 3) {
    ASSERT_TRUE(ns.remove(std::to_string(i)).value());
    deleted.insert(std::to_string(i));
  }
  EXPECT_FALSE(ns.remove("0").value()) << "a second remove reports false";
  EXPECT_EQ(ns.size(), base.rows - deleted.size());
  EXPECT_EQ(ns.stats().deleted, deleted.size());
  EXPECT_FALSE(ns.contains("0"));
  EXPECT_EQ(ns.get("0").error().code(), StatusCode::kNotFound);

  SearchOptions so;
  so.k = 20;
  for (std::size_t q = 0; q < 300; ++q) {
    auto hits = ns.search(row(base, q), so).value();
    ASSERT_EQ(hits.size(), 20u);
    for (const Hit& h : hits) EXPECT_EQ(deleted.count(h.id), 0u) << h.id;
    if (q % 3 != 0) {
      EXPECT_EQ(hits[0].id, std::to_string(q));
    }
  }
  // Re-upserting a deleted id works and reuses a tombstoned slot.
  ASSERT_TRUE(ns.upsert("0", row(base, 0)).ok());
  EXPECT_TRUE(ns.contains("0"));
  EXPECT_EQ(ns.stats().deleted, deleted.size() - 1);
  EXPECT_EQ(ns.search(row(base, 0)).value()[0].id, "0");
}

TEST_P(BothIndexes, SearchReturnsAllSurvivorsWhenNearlyEverythingIsDeleted) {
  const std::size_t dim = 8;
  const Matrix base = testing::uniform_random(2000, dim, 6);
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", dim, Metric::kL2, GetParam());
  ASSERT_TRUE(ns.upsert(numbered_ids(base.rows), base.data).ok());
  for (std::size_t i = 0; i < base.rows; ++i) {
    if (i % 400 != 0) {
      ASSERT_TRUE(ns.remove(std::to_string(i)).value());
    }
  }
  SearchOptions so;
  so.k = 10;
  auto hits = ns.search(row(base, 1), so).value();
  ASSERT_EQ(hits.size(), 5u);  // min(k, live) even when the graph is mostly tombstones
  std::set<std::string> got;
  for (const Hit& h : hits) got.insert(h.id);
  EXPECT_EQ(got, (std::set<std::string>{"0", "400", "800", "1200", "1600"}));
}

TEST_P(BothIndexes, CompactDropsTombstonesAndKeepsRecords) {
  const std::size_t dim = 16;
  const Matrix base = testing::embedding_like(2000, dim, 9);
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "ns", dim, Metric::kCosine, GetParam());
  std::vector<Metadata> md;
  for (std::size_t i = 0; i < base.rows; ++i) md.push_back({{"i", i}});
  ASSERT_TRUE(ns.upsert(numbered_ids(base.rows), base.data, md).ok());
  for (std::size_t i = 0; i < base.rows; i += 2) {
    ASSERT_TRUE(ns.remove(std::to_string(i)).value());
  }
  const auto before = ns.stats();
  std::vector<std::pair<std::string, std::size_t>> progress;
  ASSERT_TRUE(ns.compact().ok());
  const auto after = ns.stats();
  EXPECT_EQ(after.count, 1000u);
  EXPECT_EQ(after.deleted, 0u);
  EXPECT_LT(after.vector_bytes, before.vector_bytes);
  for (std::size_t i = 1; i < base.rows; i += 2) {
    auto rec = ns.get(std::to_string(i)).value();
    EXPECT_EQ(rec.metadata["i"], i);
    for (std::size_t d = 0; d < dim; ++d) {
      EXPECT_NEAR(rec.vector[d], base.data[i * dim + d], 1e-5f * std::fabs(base.data[i * dim + d]) + 1e-7f);
    }
    EXPECT_EQ(ns.search(row(base, i)).value()[0].id, std::to_string(i));
  }
  EXPECT_FALSE(ns.contains("0"));
}

INSTANTIATE_TEST_SUITE_P(HnswAndFlat, BothIndexes,
                         ::testing::Values(IndexKind::kHnsw, IndexKind::kFlat),
                         [](const auto& pi) { return std::string(to_string(pi.param)); });

// ── churn: deleted slots are reused, memory stays bounded ────────────────────────────────

TEST(Churn, MemoryStaysWithinOneAndAHalfTimesOneRound) {
  const std::size_t dim = 32, round = 5000;
  auto store = VectorStore::in_memory();
  auto ns = make_namespace(store, "churn", dim, Metric::kL2, IndexKind::kHnsw);
  std::size_t first_round_bytes = 0;
  std::size_t next = 0;
  std::vector<std::string> live;
  for (int r = 0; r < 10; ++r) {
    const Matrix batch = testing::embedding_like(round, dim, 100 + r);
    const auto ids = numbered_ids(round, next);
    next += round;
    ASSERT_TRUE(ns.upsert(ids, batch.data).ok());
    const std::size_t peak = ns.stats().memory_bytes;
    if (r == 0) first_round_bytes = peak;
    EXPECT_LE(peak, first_round_bytes * 3 / 2) << "round " << r;
    // The round's records are findable before they go.
    EXPECT_EQ(ns.search(row(batch, 17)).value()[0].id, ids[17]) << "round " << r;
    for (const auto& id : ids) ASSERT_TRUE(ns.remove(id).value());
    EXPECT_EQ(ns.size(), 0u);
  }
  EXPECT_EQ(ns.stats().deleted, round);
}

// The id table under churn: ids of many lengths inserted, removed and re-inserted in random
// order (tombstoned places in the table, rehashes, slot reuse), checked against a std::map.
TEST(IdTable, ChurnAgreesWithAModel) {
  VectorStore store = VectorStore::in_memory();
  Namespace ns = make_namespace(store, "ids", 2, Metric::kL2, IndexKind::kFlat);
  std::map<std::string, float> model;
  std::mt19937_64 rng(7);
  auto id_of = [](std::uint64_t k) {
    // Short ids (inline strings) and long ones (heap strings) alike.
    return k % 3 == 0 ? "long-identifier-of-record-" + std::to_string(k) : std::to_string(k);
  };
  for (int step = 1; step <= 20000; ++step) {
    const std::string id = id_of(rng() % 3000);
    if (rng() % 3 == 0) {
      const bool removed = ns.remove(id).value();
      EXPECT_EQ(removed, model.erase(id) == 1) << id;
    } else {
      const float x = static_cast<float>(step);
      const float v[2] = {x, 1.0f};
      ASSERT_TRUE(ns.upsert(id, v).ok()) << id;
      model[id] = x;
    }
    if (step % 2000 == 0) {
      ASSERT_EQ(ns.size(), model.size());
      for (std::uint64_t k = 0; k < 3000; ++k) {
        const std::string probe = id_of(k);
        const auto it = model.find(probe);
        ASSERT_EQ(ns.contains(probe), it != model.end()) << probe << " at step " << step;
        if (it != model.end()) {
          EXPECT_EQ(ns.get(probe).value().vector[0], it->second) << probe;
        }
      }
    }
  }
}

}  // namespace
}  // namespace hnswstore
