#include <gtest/gtest.h>

#include <memory>
#include <type_traits>
#include <utility>

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

// ── the public API gives no access to state other threads change ────────────────────────────

// options() returns a copy: a reference would change under its holder (a data race when another
// thread calls set_ef_search).
TEST(PublicApi, OptionsIsACopyThatSetEfSearchDoesNotChange) {
  auto store = VectorStore::in_memory();
  auto ns = store.create_namespace("docs", {.dimension = 4, .metric = Metric::kL2}).value();
  const NamespaceOptions& held = ns.options();  // a copy, kept alive by the reference
  const std::size_t before = held.hnsw.ef_search;
  ASSERT_TRUE(ns.set_ef_search(before + 73).ok());
  EXPECT_EQ(held.hnsw.ef_search, before) << "options() handed out the namespace's own state";
  EXPECT_EQ(ns.options().hnsw.ef_search, before + 73);
}

static_assert(std::is_same_v<decltype(std::declval<const Namespace&>().options()), NamespaceOptions>,
              "Namespace::options() returns NamespaceOptions by value");

// Filter's parsed tree is internal (src/filter_access.hpp): the public header offers no way to
// reach or forge it.
template <class F>
concept ExposesNode = requires(const F& f) { f.node(); };
template <class F>
concept ExposesSharedNode = requires(const F& f) { f.shared_node(); };
template <class F>
concept ExposesWrap = requires { F::wrap(std::shared_ptr<const detail::FilterNode>{}); };
static_assert(!ExposesNode<Filter>, "Filter::node() is internal");
static_assert(!ExposesSharedNode<Filter>, "Filter::shared_node() is internal");
static_assert(!ExposesWrap<Filter>, "Filter::wrap() is internal");

}  // namespace
}  // namespace hnswstore
