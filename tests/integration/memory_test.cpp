// Memory of a large HNSW namespace: 100,000 x 384 vectors (the migration guide's 100K case).
// Labelled slow: it builds a 100K graph. Requirement: stats().memory_bytes and the process's
// RSS growth both stay within 1.25 x (vector bytes + hnswlib link bytes).
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore {
namespace {

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

TEST(Memory, HundredThousandVectorsOf384DimensionsStayWithinBudget) {
  const std::size_t n = 100000, dim = 384;
  std::vector<std::string> ids;
  ids.reserve(n);
  for (std::size_t i = 0; i < n; ++i) ids.push_back("doc-" + std::to_string(i));
  const testing::Matrix data = testing::embedding_like(n, dim, 11);

  malloc_trim(0);
  const std::size_t rss_before = rss_bytes();
  auto store = VectorStore::in_memory();
  NamespaceOptions o;
  o.dimension = dim;
  o.metric = Metric::kCosine;
  auto ns = store.create_namespace("memory", o).value();
  ASSERT_TRUE(ns.upsert(ids, data.data).ok());
  malloc_trim(0);  // return pages freed by the build's temporaries, as a long-running process would
  const std::size_t rss_growth = rss_bytes() - rss_before;

  const NamespaceStats st = ns.stats();
  const double payload = static_cast<double>(st.vector_bytes + st.graph_bytes);
  std::printf("vectors %zu B, links %zu B, metadata %zu B, memory_bytes %zu B (%.3fx), "
              "RSS growth %zu B (%.3fx)\n",
              st.vector_bytes, st.graph_bytes, st.metadata_bytes, st.memory_bytes,
              static_cast<double>(st.memory_bytes) / payload, rss_growth,
              static_cast<double>(rss_growth) / payload);
  RecordProperty("memory_ratio", std::to_string(static_cast<double>(st.memory_bytes) / payload));
  RecordProperty("rss_ratio", std::to_string(static_cast<double>(rss_growth) / payload));
  EXPECT_EQ(st.vector_bytes, n * dim * sizeof(float));
  EXPECT_LE(static_cast<double>(st.memory_bytes), 1.25 * payload);
  EXPECT_LE(static_cast<double>(rss_growth), 1.25 * payload);
  // The accounting is honest: it is not below what the process really grew by.
  EXPECT_GE(static_cast<double>(st.memory_bytes), 0.9 * static_cast<double>(rss_growth));
}

}  // namespace
}  // namespace hnswstore
