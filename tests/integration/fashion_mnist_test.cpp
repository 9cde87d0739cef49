// HNSW recall on real data: Fashion-MNIST (Debian's dataset-fashion-mnist), 60,000 training
// images indexed, 1,000 test images as queries, L2, default parameters, ef = 100; the truth is
// the flat (exact) namespace. Recall is correctness here: a regression in the search loop, the
// distance kernels or slot handling shows up as lost recall.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore {
namespace {

TEST(FashionMnist, RecallAt10IsAtLeast097AtEf100) {
  // HNSWSTORE_FASHION_MNIST_DIR points at the files where they are not installed by Debian.
  const char* env = std::getenv("HNSWSTORE_FASHION_MNIST_DIR");
  const std::string dir = env != nullptr ? env : "/usr/share/datasets/fashion-mnist";
  auto fm = testing::load_fashion_mnist(dir);
  if (!fm.has_value()) {
    // The dataset is optional (README, "Dependencies"): without it this test is reported as
    // skipped, with the reason, instead of failing the suite.
    GTEST_SKIP() << "Fashion-MNIST not found in " << dir
                 << ": install Debian's dataset-fashion-mnist (cmake/bootstrap.sh does), or set "
                    "HNSWSTORE_FASHION_MNIST_DIR to where its four .gz files are";
  }
  ASSERT_EQ(fm->train.rows, 60000u);
  ASSERT_EQ(fm->train.cols, 784u);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < fm->train.rows; ++i) ids.push_back(std::to_string(i));

  auto store = VectorStore::in_memory();
  NamespaceOptions o;
  o.dimension = 784;
  o.metric = Metric::kL2;
  auto hnsw = store.create_namespace("hnsw", o).value();
  o.index = IndexKind::kFlat;
  auto flat = store.create_namespace("flat", o).value();
  ASSERT_TRUE(hnsw.upsert(ids, fm->train.data).ok());
  ASSERT_TRUE(flat.upsert(ids, fm->train.data).ok());

  const std::size_t queries = 1000;
  std::span<const float> q(fm->test.data.data(), queries * 784);
  SearchOptions so;
  so.k = 10;
  so.ef = 100;
  so.include_metadata = false;
  const auto approx = hnsw.search_batch(q, so).value();
  const auto exact = flat.search_batch(q, so).value();
  double recall = 0;
  for (std::size_t i = 0; i < queries; ++i) {
    ASSERT_EQ(approx[i].size(), 10u);
    ASSERT_EQ(exact[i].size(), 10u);
    std::set<std::string> truth;
    for (const Hit& h : exact[i]) truth.insert(h.id);
    for (const Hit& h : approx[i]) recall += truth.count(h.id) != 0 ? 0.1 : 0.0;
  }
  recall /= static_cast<double>(queries);
  std::printf("Fashion-MNIST recall@10 at ef=100: %.4f\n", recall);
  RecordProperty("recall_at_10", std::to_string(recall));
  EXPECT_GE(recall, 0.97);
}

}  // namespace
}  // namespace hnswstore
