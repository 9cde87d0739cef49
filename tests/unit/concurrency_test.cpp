// Reads during writes: searches and gets run on several threads while one thread upserts,
// updates and removes. Every answer must be consistent: never a removed id (removed ones are
// never re-added here), always min(k, size) hits, get() of a live id returns its own vector.
// Run under ThreadSanitizer by the tsan preset.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore {
namespace {

class ReadsDuringWrites : public ::testing::TestWithParam<IndexKind> {};

TEST_P(ReadsDuringWrites, SearchersNeverSeeRemovedOrTornRecords) {
  const std::size_t dim = 16, n = 4000;
  const testing::Matrix data = testing::embedding_like(n, dim, 21);
  auto store = VectorStore::in_memory({.threads = 2});
  NamespaceOptions o;
  o.dimension = dim;
  o.metric = Metric::kL2;
  o.index = GetParam();
  auto ns = store.create_namespace("ns", o).value();
  std::vector<std::string> ids;
  std::vector<Metadata> md;
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back(std::to_string(i));
    md.push_back({{"i", i}, {"version", 0}});
  }
  // The first half exists before readers start; the writer adds the second half in batches,
  // rewrites every metadata object, and removes ids divisible by 7 (never added again).
  ASSERT_TRUE(ns.upsert(std::span(ids).first(n / 2), std::span(data.data).first(n / 2 * dim),
                        std::span(md).first(n / 2))
                  .ok());

  std::atomic<bool> done{false};
  std::atomic<std::size_t> failures{0}, searches{0};
  auto reader = [&](std::size_t seed) {
    std::size_t q = seed;
    while (!done.load()) {
      q = (q * 2654435761u + 1) % n;
      SearchOptions so;
      so.k = 10;
      auto hits = ns.search(std::span<const float>(data.row(q), dim), so);
      if (!hits.has_value()) {
        ++failures;
        continue;
      }
      if (hits->size() != 10) ++failures;
      for (const Hit& h : *hits) {
        // A hit always carries its own record's metadata, never another's or a torn one.
        if (h.metadata.value("i", n) != std::stoul(h.id)) ++failures;
      }
      auto rec = ns.get(std::to_string(q));
      if (rec.has_value()) {
        for (std::size_t d = 0; d < dim; ++d) {
          if (rec->vector[d] != data.row(q)[d]) {
            ++failures;
            break;
          }
        }
      }
      ++searches;
    }
  };
  std::vector<std::thread> readers;
  for (std::size_t t = 0; t < 3; ++t) readers.emplace_back(reader, t + 1);

  for (std::size_t begin = n / 2; begin < n; begin += 250) {
    ASSERT_TRUE(ns.upsert(std::span(ids).subspan(begin, 250),
                          std::span(data.data).subspan(begin * dim, 250 * dim),
                          std::span(md).subspan(begin, 250))
                    .ok());
  }
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(ns.update_metadata(ids[i], {{"i", i}, {"version", 1}}).ok());
  }
  std::set<std::string> removed;
  for (std::size_t i = 0; i < n; i += 7) {
    ASSERT_TRUE(ns.remove(ids[i]).value());
    removed.insert(ids[i]);
  }
  ASSERT_TRUE(ns.compact().ok());
  // After every write has returned, no reader may see a removed id.
  std::atomic<std::size_t> stale{0};
  std::thread late([&] {
    for (std::size_t q = 0; q < 200; ++q) {
      for (const Hit& h : ns.search(std::span<const float>(data.row(q * 7 % n), dim)).value()) {
        if (removed.count(h.id) != 0) ++stale;
      }
    }
  });
  late.join();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(stale.load(), 0u);
  EXPECT_GT(searches.load(), 0u);
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(ns.size(), n - removed.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (removed.count(ids[i]) != 0) continue;
    ASSERT_EQ(ns.get(ids[i]).value().metadata["version"], 1);
  }
}

INSTANTIATE_TEST_SUITE_P(HnswAndFlat, ReadsDuringWrites,
                         ::testing::Values(IndexKind::kHnsw, IndexKind::kFlat),
                         [](const auto& pi) { return std::string(to_string(pi.param)); });

// options() while another thread calls set_ef_search: every copy holds one of the values set
// (under ThreadSanitizer: and no data race; options() used to return a reference to them).
TEST(OptionsDuringSetEfSearch, EveryCopyHoldsAValueThatWasSet) {
  auto store = VectorStore::in_memory();
  auto ns = store.create_namespace("docs", {.dimension = 4, .metric = Metric::kL2}).value();
  ASSERT_TRUE(ns.set_ef_search(100).ok());
  std::atomic<bool> stop{false};
  std::thread setter([&] {
    for (std::size_t i = 0; !stop.load(); ++i) ASSERT_TRUE(ns.set_ef_search(100 + i % 50).ok());
  });
  std::size_t wrong = 0;
  for (int i = 0; i < 20000; ++i) {
    const NamespaceOptions o = ns.options();
    if (o.hnsw.ef_search < 100 || o.hnsw.ef_search >= 150 || o.dimension != 4) ++wrong;
  }
  stop = true;
  setter.join();
  EXPECT_EQ(wrong, 0u);
}

}  // namespace
}  // namespace hnswstore
