#include <gtest/gtest.h>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore {
namespace {

TEST(Namespace, Smoke) {
  auto store = VectorStore::in_memory();
  auto ns = store.create_namespace("docs", {.dimension = 16, .metric = Metric::kL2}).value();
  auto data = testing::embedding_like(1000, 16, 1);
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(std::to_string(i));
  ASSERT_TRUE(ns.upsert(ids, data.data).ok());
  EXPECT_EQ(ns.size(), 1000u);
  auto hits = ns.search(std::span<const float>(data.row(5), 16)).value();
  ASSERT_EQ(hits.size(), 10u);
  EXPECT_EQ(hits[0].id, "5");
  EXPECT_FLOAT_EQ(hits[0].distance, 0.0f);
}

}  // namespace
}  // namespace hnswstore
