// The memory budget under threads: several threads use many namespaces of one store whose
// budget holds about two of them, so namespaces are unloaded (and saved) while other threads
// search, read and write them. Every answer must be right. Run under ThreadSanitizer (label
// concurrency).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

std::vector<float> vector_of(std::size_t tenant, std::size_t i, std::size_t version) {
  return {static_cast<float>(tenant) + 1.0f, static_cast<float>(i), static_cast<float>(version),
          1.0f};
}

TEST(BudgetConcurrency, ThreadsOnManyNamespacesUnderATinyBudgetAlwaysSeeTheirRecords) {
  testing::TempDir dir;
  const std::size_t tenants = 8, records = 200, dim = 4;
  StoreOptions so;
  so.threads = 1;
  std::size_t one = 0;
  {
    auto store = VectorStore::open(dir.path()).value();
    for (std::size_t t = 0; t < tenants; ++t) {
      auto ns = store
                    .create_namespace("t" + std::to_string(t),
                                      {.dimension = dim, .metric = Metric::kL2})
                    .value();
      for (std::size_t i = 0; i < records; ++i) {
        ASSERT_TRUE(ns.upsert("r" + std::to_string(i), vector_of(t, i, 0), {{"v", 0}}).ok());
      }
      one = ns.stats().memory_bytes;
    }
  }
  so.memory_budget_bytes = 2 * one + one / 2;
  auto store = VectorStore::open(dir.path(), so).value();
  // Each tenant has one writer thread at most (the tenant's mutex), so the version of every
  // record is known; readers check records against the versions they may see.
  std::vector<std::mutex> tenant_mutex(tenants);
  std::vector<std::vector<std::atomic<std::size_t>>> version(tenants);
  for (auto& v : version) v = std::vector<std::atomic<std::size_t>>(records);
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> failures{0}, calls{0};
  auto worker = [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      const std::size_t t = rng() % tenants, i = rng() % records;
      auto ns = store.open_namespace("t" + std::to_string(t)).value();
      const std::string id = "r" + std::to_string(i);
      switch (rng() % 4) {
        case 0: {  // write a new version
          std::lock_guard<std::mutex> lock(tenant_mutex[t]);
          const std::size_t v = version[t][i].load() + 1;
          if (!ns.upsert(id, vector_of(t, i, v), {{"v", v}}).ok()) ++failures;
          version[t][i].store(v);
          break;
        }
        case 1: {  // get: the vector and the metadata of one version
          const std::size_t before = version[t][i].load();
          auto rec = ns.get(id);
          if (!rec.has_value()) {
            ++failures;
            break;
          }
          const auto v = rec->metadata["v"].get<std::size_t>();
          if (v < before || rec->vector != vector_of(t, i, v)) ++failures;
          break;
        }
        default: {  // search for the record's current vector: it is the nearest
          std::lock_guard<std::mutex> lock(tenant_mutex[t]);
          const std::size_t v = version[t][i].load();
          auto hits = ns.search(vector_of(t, i, v), {.k = 3});
          if (!hits.has_value() || hits->empty() || (*hits)[0].id != id ||
              (*hits)[0].metadata["v"] != v) {
            ++failures;
          }
          break;
        }
      }
      ++calls;
    }
  };
  std::vector<std::thread> threads;
  for (std::uint64_t s = 1; s <= 4; ++s) threads.emplace_back(worker, s);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0u) << "of " << calls.load() << " calls";
  EXPECT_GT(calls.load(), 100u);
  ASSERT_TRUE(store.close().ok());
  // Every version written is there after a reopen (unloads and the close saved them).
  auto reopened = VectorStore::open(dir.path()).value();
  for (std::size_t t = 0; t < tenants; ++t) {
    auto ns = reopened.open_namespace("t" + std::to_string(t)).value();
    ASSERT_EQ(ns.size(), records);
    for (std::size_t i = 0; i < records; ++i) {
      ASSERT_EQ(ns.get("r" + std::to_string(i)).value().metadata["v"], version[t][i].load())
          << "t" << t << " r" << i;
    }
  }
}

}  // namespace
}  // namespace hnswstore
