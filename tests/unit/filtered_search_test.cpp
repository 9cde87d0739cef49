// Filtered search, remove(Filter), scan and the payload index, checked against a std::map model
// of the records and a naive filter evaluator written from the semantics in filter.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "datasets.hpp"
#include "filter_model.hpp"
#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

using testing::naive_matches;  // filter_model.hpp

using json = nlohmann::json;
using testing::TempDir;

json J(std::string_view text) { return json::parse(text); }

// Whether the filter reads only top-level fields that always hold scalars here (cat, r, s, u,
// zz): those the payload index counts (docs/filters.md).
bool only_scalar_fields(const json& filter) {
  for (const auto& [key, v] : filter.items()) {
    if (key == "$and" || key == "$or") {
      for (const json& f : v) {
        if (!only_scalar_fields(f)) return false;
      }
    } else if (key == "$not") {
      if (!only_scalar_fields(v)) return false;
    } else if (key != "cat" && key != "r" && key != "s" && key != "u" && key != "zz") {
      return false;
    }
  }
  return true;
}

// ── the model of a namespace ─────────────────────────────────────────────────────────────

struct Model {
  std::size_t dim = 16;
  Metric metric = Metric::kL2;
  std::map<std::string, Record> records;  // ordered byte-wise, as scan

  std::vector<std::string> matching(const json& filter) const {
    std::vector<std::string> out;
    for (const auto& [id, r] : records) {
      if (naive_matches(filter, r.metadata)) out.push_back(id);
    }
    return out;
  }
  // The matching records by exact distance to q, closest first.
  std::vector<std::pair<double, std::string>> ranked(const json& filter,
                                                     std::span<const float> q) const {
    std::vector<std::pair<double, std::string>> out;
    for (const auto& [id, r] : records) {
      if (!naive_matches(filter, r.metadata)) continue;
      out.emplace_back(testing::reference_distance(metric, q.data(), r.vector.data(), dim), id);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

// ── random metadata and filters over {"cat", "r", "s", "tags", "n": {"x"}, "u"} ─────────────

class Gen {
 public:
  explicit Gen(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::mt19937_64& rng() { return rng_; }

  // cat 0..9 (now and then a float, a string or a boolean), r 0..999, s one of a few strings,
  // sometimes tags and a nested n.x, and a unique u; any field but u may be missing.
  json metadata(std::uint64_t uid) {
    json md = json::object();
    if (chance(0.92)) {
      const auto c = static_cast<std::int64_t>(below(10));
      if (chance(0.05)) {
        md["cat"] = static_cast<double>(c);
      } else if (chance(0.03)) {
        md["cat"] = std::to_string(c);
      } else if (chance(0.02)) {
        md["cat"] = c % 2 == 0;
      } else {
        md["cat"] = c;
      }
    }
    if (chance(0.9)) {
      const auto r = static_cast<std::int64_t>(below(1000));
      if (chance(0.05)) {
        md["r"] = static_cast<double>(r) + 0.5;
      } else {
        md["r"] = r;
      }
    }
    if (chance(0.85)) md["s"] = strings()[below(strings().size())];
    if (chance(0.3)) {
      json tags = json::array();
      for (const char* t : {"a", "b", "c"}) {
        if (chance(0.5)) tags.push_back(t);
      }
      md["tags"] = tags;
    }
    if (chance(0.25)) md["n"] = json{{"x", static_cast<std::int64_t>(below(5))}};
    if (chance(0.03)) md["zz"] = nullptr;
    md["u"] = uid;
    return md;
  }

  static const std::vector<std::string>& strings() {
    static const std::vector<std::string> s = {"red", "green", "blue", "\xc3\xa9t\xc3\xa9"};
    return s;
  }

  json cat_value() {
    if (chance(0.1)) return 2.5;
    if (chance(0.05)) return "3";
    if (chance(0.03)) return true;
    if (chance(0.1)) return static_cast<double>(below(10));
    return static_cast<std::int64_t>(below(10));
  }

  json leaf(std::uint64_t max_uid) {
    json f = json::object();
    switch (below(8)) {
      case 0: {  // cat
        static const char* ops[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"};
        switch (below(4)) {
          case 0: f["cat"] = cat_value(); break;
          case 1: f["cat"] = json{{chance(0.5) ? "$in" : "$nin", values(3, [&] { return cat_value(); })}}; break;
          default: {
            json v = cat_value();
            while (v.is_boolean()) v = cat_value();
            f["cat"] = json{{ops[below(6)], v}};
          }
        }
        break;
      }
      case 1:
      case 2: {  // r: ranges of every width
        const auto t = static_cast<std::int64_t>(below(1001));
        switch (below(5)) {
          case 0: f["r"] = json{{"$lt", t}}; break;
          case 1: f["r"] = json{{"$gte", t}}; break;
          case 2: f["r"] = json{{"$gt", t}, {"$lte", t + static_cast<std::int64_t>(below(200))}}; break;
          case 3: f["r"] = t; break;
          default: f["r"] = json{{"$in", values(4, [&] { return static_cast<std::int64_t>(below(1000)); })}};
        }
        break;
      }
      case 3: {  // s
        const std::string v = strings()[below(strings().size())];
        static const char* ops[] = {"$eq", "$ne", "$gt", "$lte", "$in", "$nin"};
        const std::string op = ops[below(6)];
        if (op == "$in" || op == "$nin") {
          f["s"] = json{{op, values(2, [&] { return json(strings()[below(strings().size())]); })}};
        } else {
          f["s"] = json{{op, v}};
        }
        break;
      }
      case 4: {  // tags (arrays)
        const char* t = chance(0.5) ? "a" : (chance(0.5) ? "b" : "c");
        switch (below(4)) {
          case 0: f["tags"] = t; break;
          case 1: f["tags"] = json{{"$ne", t}}; break;
          case 2: f["tags"] = json{{"$in", json::array({t, "c"})}}; break;
          default: f["tags"] = json{{"$exists", chance(0.5)}};
        }
        break;
      }
      case 5: {  // n.x (nested)
        const auto x = static_cast<std::int64_t>(below(5));
        switch (below(3)) {
          case 0: f["n.x"] = x; break;
          case 1: f["n.x"] = json{{"$gt", x}}; break;
          default: f["n.x"] = json{{"$exists", chance(0.5)}};
        }
        break;
      }
      case 6: {  // u: a single record, or a few
        const std::uint64_t u = below(max_uid + 1);
        if (chance(0.5)) {
          f["u"] = u;
        } else {
          f["u"] = json{{"$lt", below(40)}};
        }
        break;
      }
      default:  // missing fields
        if (chance(0.5)) {
          f["zz"] = json{{"$exists", chance(0.5)}};
        } else {
          f["cat"] = json{{"$exists", chance(0.8)}};
        }
    }
    return f;
  }

  json filter(int depth, std::uint64_t max_uid) {
    if (depth <= 0 || chance(0.4)) return leaf(max_uid);
    json f = json::object();
    switch (below(5)) {
      case 0:
      case 1: {
        json arr = json::array();
        const std::size_t n = 1 + below(3);
        for (std::size_t i = 0; i < n; ++i) arr.push_back(filter(depth - 1, max_uid));
        f[chance(0.5) ? "$and" : "$or"] = arr;
        break;
      }
      case 2:
        f["$not"] = filter(depth - 1, max_uid);
        break;
      default: {  // several keys in one object
        f = leaf(max_uid);
        json other = leaf(max_uid);
        for (auto& [k, v] : other.items()) {
          if (!f.contains(k)) f[k] = v;
        }
        if (chance(0.5)) {
          f["$or"] = json::array({filter(depth - 1, max_uid), filter(depth - 1, max_uid)});
        }
      }
    }
    return f;
  }

 private:
  template <class F>
  json values(std::size_t max_n, F&& make) {
    json arr = json::array();
    const std::size_t n = below(max_n + 1);
    for (std::size_t i = 0; i < n; ++i) arr.push_back(make());
    return arr;
  }

  std::mt19937_64 rng_;
};

// ── checks ───────────────────────────────────────────────────────────────────────────────

bool close_enough(double a, double b) {
  return std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(b)) + 1e-5;
}

// One search's hits against the model: exactly min(k, matches) hits, every one live, matching
// and with its true distance, sorted; and when `exact`, the exact filtered top k.
void check_hits(const std::vector<Hit>& hits, const Model& model, const json& filter,
                const std::vector<std::pair<double, std::string>>& ranked, std::size_t k,
                bool exact, const std::string& context) {
  SCOPED_TRACE(context);
  const std::size_t want = std::min(k, ranked.size());
  ASSERT_EQ(hits.size(), want) << "filter " << filter.dump() << " matches " << ranked.size();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const Hit& h = hits[i];
    ASSERT_TRUE(seen.insert(h.id).second) << "duplicate hit " << h.id;
    auto it = model.records.find(h.id);
    ASSERT_NE(it, model.records.end()) << "hit " << h.id << " is not a live record";
    ASSERT_TRUE(naive_matches(filter, it->second.metadata))
        << "hit " << h.id << " with " << it->second.metadata.dump() << " fails "
        << filter.dump();
    EXPECT_EQ(h.metadata, it->second.metadata) << h.id;
    if (i > 0) {
      ASSERT_LE(hits[i - 1].distance, h.distance) << "hits not sorted at " << i;
    }
  }
  // Every hit's distance is its true distance (so the ids are right).
  std::map<std::string, double> truth_of;
  for (const auto& [d, id] : ranked) truth_of[id] = d;
  for (const Hit& h : hits) {
    ASSERT_TRUE(close_enough(h.distance, truth_of.at(h.id)))
        << h.id << ": " << h.distance << " vs " << truth_of.at(h.id);
  }
  if (exact) {
    for (std::size_t i = 0; i < want; ++i) {
      ASSERT_TRUE(close_enough(hits[i].distance, ranked[i].first))
          << "not the exact top " << k << " for " << filter.dump() << ": hit " << i << " "
          << hits[i].id << " at " << hits[i].distance << ", exact " << ranked[i].second
          << " at " << ranked[i].first;
    }
  }
}

// scan(filter) against the model: ids ascending, vectors and metadata, pages of 7 (all of them
// when `all_pages`, else the first ten and the rest in one call).
void check_scan(const Namespace& ns, const Model& model, const json& fj, bool exact_vectors,
                bool all_pages = true) {
  SCOPED_TRACE("scan " + fj.dump());
  auto f = Filter::parse(fj);
  ASSERT_TRUE(f.has_value()) << f.error().to_string();
  const std::vector<std::string> expected = model.matching(fj);
  auto all = ns.scan(*f);
  ASSERT_TRUE(all.has_value()) << all.error().to_string();
  ASSERT_EQ(all->size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const Record& got = (*all)[i];
    ASSERT_EQ(got.id, expected[i]) << "position " << i;
    const Record& want = model.records.at(expected[i]);
    EXPECT_EQ(got.metadata, want.metadata) << got.id;
    ASSERT_EQ(got.vector.size(), want.vector.size()) << got.id;
    if (exact_vectors) {
      EXPECT_EQ(got.vector, want.vector) << got.id;
    } else {
      for (std::size_t d = 0; d < want.vector.size(); ++d) {
        EXPECT_NEAR(got.vector[d], want.vector[d], 1e-5 * std::max(1.0f, std::fabs(want.vector[d])));
      }
    }
  }
  // Pages of 7 concatenate to the full scan.
  std::vector<std::string> paged;
  for (std::size_t offset = 0;; offset += 7) {
    const bool last = !all_pages && offset == 70;
    auto page = ns.scan(*f, last ? SIZE_MAX : 7, offset);
    if (last) {
      ASSERT_TRUE(page.has_value()) << page.error().to_string();
      for (const Record& r : *page) paged.push_back(r.id);
      break;
    }
    ASSERT_TRUE(page.has_value()) << page.error().to_string();
    ASSERT_LE(page->size(), 7u);
    for (const Record& r : *page) paged.push_back(r.id);
    if (page->size() < 7) break;
    ASSERT_LE(offset, expected.size()) << "pages never end";
  }
  EXPECT_EQ(paged, expected);
  auto none = ns.scan(*f, 0, 0);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  auto beyond = ns.scan(*f, SIZE_MAX, expected.size());
  ASSERT_TRUE(beyond.has_value());
  EXPECT_TRUE(beyond->empty());
  auto far = ns.scan(*f, 5, SIZE_MAX);
  ASSERT_TRUE(far.has_value());
  EXPECT_TRUE(far->empty());
}

Namespace create(VectorStore& store, const std::string& name, IndexKind kind, Metric metric,
                 std::size_t dim = 16) {
  NamespaceOptions o;
  o.dimension = dim;
  o.metric = metric;
  o.index = kind;
  o.hnsw.graph_threshold = 1;  // the graph from the first record: filtered walks are tested
  return store.create_namespace(name, o).value();
}

StoreOptions one_thread() {
  StoreOptions o;
  o.threads = 1;
  return o;
}

std::vector<float> row_vector(const testing::Matrix& m, std::size_t i) {
  return {m.row(i), m.row(i) + m.cols};
}

// Loads n records (columnar upsert), then churns: removes, metadata updates, replacing upserts
// (single and batch) and new ids that reuse tombstones. Returns the next unused uid.
std::uint64_t load_and_churn(Namespace& ns, Model& model, Gen& gen, std::size_t n,
                             std::uint64_t seed) {
  const std::size_t dim = model.dim;
  auto base = testing::embedding_like(n, dim, seed);
  auto extra = testing::embedding_like(n, dim, seed + 1000);
  std::vector<std::string> ids;
  std::vector<Metadata> mds;
  std::uint64_t uid = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back("v" + std::to_string(i));
    mds.push_back(gen.metadata(uid++));
  }
  EXPECT_TRUE(ns.upsert(ids, base.data, mds).ok());
  for (std::size_t i = 0; i < n; ++i) model.records[ids[i]] = {ids[i], row_vector(base, i), mds[i]};

  std::vector<std::string> live(ids);
  auto pick = [&]() -> std::string { return live[gen.below(live.size())]; };
  for (std::size_t i = 0; i < n / 10; ++i) {  // removes
    const std::string id = pick();
    auto r = ns.remove(id);
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(*r, model.records.erase(id) == 1) << id;
  }
  live.clear();
  for (const auto& [id, r] : model.records) live.push_back(id);
  for (std::size_t i = 0; i < n / 10; ++i) {  // metadata updates (same uid, new fields)
    const std::string id = pick();
    const json& old = model.records.at(id).metadata;
    json md = gen.metadata(old.contains("u") ? old["u"].get<std::uint64_t>() : uid++);
    if (gen.chance(0.05)) md = json::object();
    EXPECT_TRUE(ns.update_metadata(id, md).ok()) << id;
    model.records.at(id).metadata = md;
  }
  for (std::size_t i = 0; i < n / 20; ++i) {  // replacing upserts, one by one
    const std::string id = pick();
    const std::size_t row = gen.below(n);
    json md = gen.metadata(uid++);
    EXPECT_TRUE(ns.upsert(id, std::span<const float>(extra.row(row), dim), md).ok());
    model.records[id] = {id, row_vector(extra, row), md};
  }
  {  // replacing upserts as a batch
    std::vector<Record> batch;
    std::set<std::string> in_batch;
    for (std::size_t i = 0; i < n / 20; ++i) {
      const std::string id = pick();
      if (!in_batch.insert(id).second) continue;
      const std::size_t row = gen.below(n);
      batch.push_back({id, row_vector(extra, row), gen.metadata(uid++)});
    }
    EXPECT_TRUE(ns.upsert(batch).ok());
    for (const Record& r : batch) model.records[r.id] = r;
  }
  for (std::size_t i = 0; i < n / 50; ++i) {  // new ids
    const std::string id = "w" + std::to_string(i);
    const std::size_t row = gen.below(n);
    json md = gen.metadata(uid++);
    EXPECT_TRUE(ns.upsert(id, std::span<const float>(extra.row(row), dim), md).ok());
    model.records[id] = {id, row_vector(extra, row), md};
  }
  EXPECT_EQ(ns.size(), model.records.size());
  return uid;
}

// Filters with selectivities from everything to one record and to none, then random ones.
std::vector<json> filter_suite(Gen& gen, const Model& model, std::uint64_t max_uid,
                               std::size_t random_count) {
  std::vector<json> out = {
      json::object(),
      J(R"({"r": {"$lt": 500}})"),
      J(R"({"r": {"$lt": 100}})"),
      J(R"({"r": {"$lt": 10}})"),
      J(R"({"cat": 3})"),
      J(R"({"cat": {"$in": [1, 2, "3"]}})"),
      J(R"({"cat": 42})"),
      J(R"({"$and": [{"cat": 1}, {"cat": 2}]})"),
      J(R"({"tags": "a"})"),
      J(R"({"tags": {"$ne": "a"}})"),
      J(R"({"n.x": {"$gte": 3}})"),
      J(R"({"s": {"$ne": "red"}, "r": {"$gte": 900}})"),
      J(R"({"$or": [{"cat": 0}, {"s": "\u00e9t\u00e9"}]})"),
      J(R"({"$not": {"r": {"$lt": 990}}})"),
      J(R"({"u": {"$lt": 3}})"),
      J(R"({"zz": {"$exists": true}})"),
      J(R"({"cat": {"$exists": false}})"),
  };
  // Exactly one live record (uids are unique).
  for (int added = 0; added < 3;) {
    auto it = model.records.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(gen.below(model.records.size())));
    if (!it->second.metadata.contains("u")) continue;
    out.push_back(json{{"u", it->second.metadata["u"]}});
    ++added;
  }
  for (std::size_t i = 0; i < random_count; ++i) {
    out.push_back(gen.filter(1 + static_cast<int>(gen.below(3)), max_uid));
  }
  return out;
}

// ── filtered search against the model, for every index and metric ─────────────────────────

class FilteredSearch : public ::testing::TestWithParam<std::tuple<IndexKind, Metric>> {};

TEST_P(FilteredSearch, CountsMatchesOrderAndExactness) {
  const auto [kind, metric] = GetParam();
  auto store = VectorStore::in_memory(one_thread());
  Namespace ns = create(store, "f", kind, metric);
  Model model;
  model.metric = metric;
  Gen gen(1234 + static_cast<std::uint64_t>(kind) * 10 + static_cast<std::uint64_t>(metric));
  const std::uint64_t max_uid = load_and_churn(ns, model, gen, 3000, 77);
  const std::vector<json> filters = filter_suite(gen, model, max_uid, 60);
  auto queries = testing::embedding_like(2 * filters.size(), model.dim, 991);

  const std::size_t thresholds[] = {0, 1, SIZE_MAX};
  const std::size_t ks[] = {1, 10, 100};
  std::size_t searches = 0, exact_checked = 0;
  std::size_t zero = 0, one = 0, all = 0;
  for (std::size_t fi = 0; fi < filters.size(); ++fi) {
    const json& fj = filters[fi];
    auto f = Filter::parse(fj);
    ASSERT_TRUE(f.has_value()) << fj.dump() << ": " << f.error().to_string();
    for (std::size_t qi = 0; qi < 2; ++qi) {
      // One query from the data itself (an exact match exists), one new.
      std::vector<float> q = row_vector(queries, 2 * fi + qi);
      if (qi == 0) {
        auto it = model.records.begin();
        std::advance(it, static_cast<std::ptrdiff_t>(gen.below(model.records.size())));
        q = it->second.vector;
      }
      const auto ranked = model.ranked(fj, q);
      if (qi == 0) {
        zero += ranked.empty();
        one += ranked.size() == 1;
        all += ranked.size() == model.records.size();
      }
      for (std::size_t thr : thresholds) {
        for (std::size_t k : ks) {
          SearchOptions o;
          o.k = k;
          o.filter = *f;
          o.exact_threshold = thr;
          auto hits = ns.search(q, o);
          ASSERT_TRUE(hits.has_value()) << hits.error().to_string();
          const bool exact = kind == IndexKind::kFlat ||
                             (thr == SIZE_MAX && !f->matches_all() && only_scalar_fields(fj));
          exact_checked += exact;
          ++searches;
          check_hits(*hits, model, fj, ranked, k, exact,
                     "filter #" + std::to_string(fi) + " " + fj.dump() + " query " +
                         std::to_string(qi) + " threshold " + std::to_string(thr) + " k " +
                         std::to_string(k));
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
    // search_batch answers each query as search does.
    if (fi % 5 == 0) {
      std::vector<float> batch;
      for (std::size_t qi = 0; qi < 3; ++qi) {
        const float* r = queries.row((fi + qi) % queries.rows);
        batch.insert(batch.end(), r, r + model.dim);
      }
      SearchOptions o;
      o.k = 10;
      o.filter = *f;
      auto results = ns.search_batch(batch, o);
      ASSERT_TRUE(results.has_value()) << results.error().to_string();
      ASSERT_EQ(results->size(), 3u);
      for (std::size_t qi = 0; qi < 3; ++qi) {
        std::span<const float> q(batch.data() + qi * model.dim, model.dim);
        check_hits((*results)[qi], model, fj, model.ranked(fj, q), 10,
                   kind == IndexKind::kFlat, "batch query " + std::to_string(qi) + " " + fj.dump());
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
  EXPECT_GT(zero, 0u);
  EXPECT_GT(one, 0u);
  EXPECT_GT(all, 0u);
  std::cout << "[          ] " << searches << " searches over " << filters.size()
            << " filters (" << exact_checked << " checked exact; " << zero
            << " filters match nothing, " << one << " one record)\n";
}

INSTANTIATE_TEST_SUITE_P(
    IndexAndMetric, FilteredSearch,
    ::testing::Combine(::testing::Values(IndexKind::kHnsw, IndexKind::kFlat),
                       ::testing::Values(Metric::kL2, Metric::kCosine)),
    [](const auto& param_info) {
      return std::string(to_string(std::get<0>(param_info.param))) + "_" +
             std::string(to_string(std::get<1>(param_info.param)));
    });

// ── recall of filtered HNSW searches ─────────────────────────────────────────────────────

TEST(FilteredSearchRecall, AtLeastNinetyPercentAtEf100) {
  const std::size_t n = 4000, dim = 16, k = 10, nq = 100;
  auto store = VectorStore::in_memory(one_thread());
  Namespace ns = create(store, "recall", IndexKind::kHnsw, Metric::kL2, dim);
  auto base = testing::embedding_like(n, dim, 5);
  auto queries = testing::embedding_like(nq, dim, 6);
  // r is a permutation of i % 1000: r < 500, < 100, < 10 select exactly 50 %, 10 %, 1 %.
  std::vector<std::int64_t> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = static_cast<std::int64_t>(i % 1000);
  std::shuffle(r.begin(), r.end(), std::mt19937_64(9));
  std::vector<std::string> ids;
  std::vector<Metadata> mds;
  for (std::size_t i = 0; i < n; ++i) {
    ids.push_back(std::to_string(i));
    mds.push_back(json{{"r", r[i]}, {"cat", static_cast<std::int64_t>(i % 7)}});
  }
  ASSERT_TRUE(ns.upsert(ids, base.data, mds).ok());
  for (std::int64_t limit : {500, 100, 10}) {
    const Filter f = Filter::lt("r", limit);
    ASSERT_TRUE(f.status().ok());
    for (std::size_t thr : {std::size_t{0}, std::size_t{1}}) {
      double sum = 0.0;
      for (std::size_t q = 0; q < nq; ++q) {
        std::vector<std::pair<double, std::size_t>> d;
        for (std::size_t i = 0; i < n; ++i) {
          if (r[i] >= limit) continue;
          d.emplace_back(testing::reference_distance(Metric::kL2, queries.row(q), base.row(i), dim), i);
        }
        std::sort(d.begin(), d.end());
        std::set<std::string> truth;
        for (std::size_t i = 0; i < k; ++i) truth.insert(std::to_string(d[i].second));
        SearchOptions o;
        o.k = k;
        o.ef = 100;
        o.filter = f;
        o.exact_threshold = thr;
        o.include_metadata = false;
        auto hits = ns.search(std::span<const float>(queries.row(q), dim), o).value();
        ASSERT_EQ(hits.size(), k);
        std::size_t found = 0;
        for (const Hit& h : hits) {
          ASSERT_LT(r[std::stoul(h.id)], limit);
          found += truth.count(h.id);
        }
        sum += static_cast<double>(found) / static_cast<double>(k);
      }
      const double recall = sum / static_cast<double>(nq);
      std::cout << "[          ] r < " << limit << " (" << limit / 10 << " %), exact_threshold "
                << thr << ": recall@10 " << recall << "\n";
      EXPECT_GE(recall, 0.9) << "selectivity " << limit / 10 << " %, exact_threshold " << thr;
    }
  }
}

// ── remove(Filter) ───────────────────────────────────────────────────────────────────────

void expect_same_ids(const Namespace& ns, const Model& model, const std::set<std::string>& ever) {
  ASSERT_EQ(ns.size(), model.records.size());
  for (const std::string& id : ever) {
    const bool live = model.records.count(id) == 1;
    EXPECT_EQ(ns.contains(id), live) << id;
    auto got = ns.get(id);
    EXPECT_EQ(got.has_value(), live) << id;
    if (live && got.has_value()) {
      EXPECT_EQ(got->metadata, model.records.at(id).metadata) << id;
    } else if (!live) {
      EXPECT_EQ(got.error().code(), StatusCode::kNotFound) << id;
    }
  }
}

TEST(FilteredRemove, RemovesExactlyTheMatches) {
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kFlat}) {
    SCOPED_TRACE(std::string(to_string(kind)));
    auto store = VectorStore::in_memory(one_thread());
    Namespace ns = create(store, "rm", kind, Metric::kL2);
    Model model;
    Gen gen(42);
    const std::uint64_t max_uid = load_and_churn(ns, model, gen, 1500, 3);
    std::set<std::string> ever;
    for (const auto& [id, r] : model.records) ever.insert(id);
    for (std::size_t i = 0; i < 1500; ++i) ever.insert("v" + std::to_string(i));

    // Invalid filters remove nothing.
    for (const Filter& bad : {Filter::gt("r", true), Filter::eq("cat", 1) && Filter::in("s", 5),
                              !Filter::eq("", 1)}) {
      auto r = ns.remove(bad);
      ASSERT_FALSE(r.has_value());
      EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
      expect_same_ids(ns, model, ever);
    }

    std::vector<json> filters = {
        J(R"({"cat": 3})"),
        J(R"({"$and": [{"r": {"$lt": 200}}, {"s": "red"}]})"),
        J(R"({"tags": "a"})"),
        J(R"({"n.x": {"$gte": 2}})"),
        J(R"({"$not": {"r": {"$lt": 900}}})"),
        J(R"({"cat": 42})"),
    };
    for (int i = 0; i < 6; ++i) filters.push_back(gen.filter(2, max_uid));
    auto queries = testing::embedding_like(5, model.dim, 8);
    for (const json& fj : filters) {
      SCOPED_TRACE(fj.dump());
      auto f = Filter::parse(fj);
      ASSERT_TRUE(f.has_value());
      const std::vector<std::string> doomed = model.matching(fj);
      auto removed = ns.remove(*f);
      ASSERT_TRUE(removed.has_value()) << removed.error().to_string();
      EXPECT_EQ(*removed, doomed.size());
      for (const std::string& id : doomed) model.records.erase(id);
      expect_same_ids(ns, model, ever);
      auto again = ns.remove(*f);
      ASSERT_TRUE(again.has_value());
      EXPECT_EQ(*again, 0u);
      // Searches never return what was removed.
      for (std::size_t q = 0; q < queries.rows; ++q) {
        SearchOptions o;
        o.k = 20;
        const json any = json::object();
        check_hits(ns.search(row_vector(queries, q), o).value(), model, any,
                   model.ranked(any, row_vector(queries, q)), 20, kind == IndexKind::kFlat,
                   "after remove");
        if (::testing::Test::HasFatalFailure()) return;
      }
      check_scan(ns, model, json::object(), true);
    }
    ASSERT_GT(model.records.size(), 0u);
    auto all = ns.remove(Filter());
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(*all, model.records.size());
    model.records.clear();
    expect_same_ids(ns, model, ever);
    EXPECT_EQ(ns.size(), 0u);
    EXPECT_TRUE(ns.search(row_vector(queries, 0)).value().empty());
    EXPECT_TRUE(ns.scan().value().empty());
    EXPECT_EQ(ns.remove(Filter()).value(), 0u);
    // The namespace still works: new records, found by filtered searches.
    for (int i = 0; i < 30; ++i) {
      const std::string id = "new" + std::to_string(i);
      json md = {{"cat", i % 3}};
      ASSERT_TRUE(ns.upsert(id, row_vector(queries, static_cast<std::size_t>(i % 5)), md).ok());
      model.records[id] = {id, row_vector(queries, static_cast<std::size_t>(i % 5)), md};
    }
    SearchOptions o;
    o.k = 100;
    o.filter = Filter::eq("cat", 1);
    check_hits(ns.search(row_vector(queries, 1), o).value(), model, J(R"({"cat": 1})"),
               model.ranked(J(R"({"cat": 1})"), row_vector(queries, 1)), 100, true, "after clear");
  }
}

// ── scan ─────────────────────────────────────────────────────────────────────────────────

TEST(FilteredScan, OrderedPagesSurviveSaveAndReopen) {
  TempDir dir;
  Model model;
  Gen gen(99);
  std::vector<json> filters;
  std::vector<std::string> first_pages;  // of filters[1], taken before the reopen
  {
    auto store = VectorStore::open(dir.path(), one_thread()).value();
    Namespace ns = create(store, "scan", IndexKind::kHnsw, Metric::kL2);
    // Ids that sort differently as signed chars, by length, with NUL, and 1024 bytes long.
    std::vector<std::string> ids = {"A", "Z", "a", "z", "aa", "ab", "a\xff", std::string("a\0b", 3),
                                    "\x01", "\x7f", "\x80", "\xff", "\xff\xff", "0", "00",
                                    std::string(1024, 'm')};
    for (int i = 0; i < 600; ++i) ids.push_back("id" + std::to_string(gen.below(100000)) + "-" + std::to_string(i));
    auto vectors = testing::embedding_like(ids.size(), model.dim, 4);
    std::vector<Metadata> mds;
    for (std::size_t i = 0; i < ids.size(); ++i) mds.push_back(gen.metadata(i));
    ASSERT_TRUE(ns.upsert(ids, vectors.data, mds).ok());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      model.records[ids[i]] = {ids[i], row_vector(vectors, i), mds[i]};
    }
    filters = {json::object(), J(R"({"cat": {"$lt": 5}})"), J(R"({"tags": "b"})"),
               J(R"({"n.x": 1})"), J(R"({"cat": 42})"), J(R"({"u": 3})")};
    for (int i = 0; i < 10; ++i) filters.push_back(gen.filter(2, ids.size()));
    for (const json& fj : filters) {
      check_scan(ns, model, fj, true);
      if (::testing::Test::HasFatalFailure()) return;
    }
    EXPECT_EQ(ns.scan(Filter::gt("r", true)).error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(ns.scan(Filter::eq("cat", json::array()), 5, 5).error().code(),
              StatusCode::kInvalidArgument);
    const Filter f1 = *Filter::parse(filters[1]);
    for (std::size_t offset = 0; offset < 21; offset += 7) {
      for (const Record& r : ns.scan(f1, 7, offset).value()) first_pages.push_back(r.id);
    }
    ASSERT_TRUE(ns.save().ok());
    ASSERT_TRUE(store.close().ok());
  }
  auto store = VectorStore::open(dir.path(), one_thread()).value();
  Namespace ns = store.open_namespace("scan").value();
  ASSERT_EQ(ns.size(), model.records.size());
  for (const json& fj : filters) {
    check_scan(ns, model, fj, true);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // Pages taken before the reopen continue after it without repeat or gap.
  std::vector<std::string> paged = first_pages;
  const Filter f1 = *Filter::parse(filters[1]);
  for (std::size_t offset = 21;; offset += 7) {
    auto page = ns.scan(f1, 7, offset).value();
    for (const Record& r : page) paged.push_back(r.id);
    if (page.size() < 7) break;
  }
  EXPECT_EQ(paged, model.matching(filters[1]));
}

// ── the payload index follows every change ───────────────────────────────────────────────

void check_everything(const Namespace& ns, const Model& model, const std::vector<json>& filters,
                      const testing::Matrix& queries, const std::string& stage) {
  SCOPED_TRACE(stage);
  ASSERT_EQ(ns.size(), model.records.size());
  for (std::size_t fi = 0; fi < filters.size(); ++fi) {
    const json& fj = filters[fi];
    check_scan(ns, model, fj, true, false);
    if (::testing::Test::HasFatalFailure()) return;
    const Filter f = *Filter::parse(fj);
    const std::vector<float> q = row_vector(queries, fi % queries.rows);
    const auto ranked = model.ranked(fj, q);
    for (std::size_t thr : {std::size_t{0}, std::size_t{1}, SIZE_MAX}) {
      SearchOptions o;
      o.k = 50;
      o.filter = f;
      o.exact_threshold = thr;
      auto hits = ns.search(q, o);
      ASSERT_TRUE(hits.has_value()) << hits.error().to_string();
      check_hits(*hits, model, fj, ranked, 50,
                 thr == SIZE_MAX && !f.matches_all() && only_scalar_fields(fj),
                 fj.dump() + " threshold " + std::to_string(thr));
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(PayloadIndex, FollowsUpdatesRemovesUpsertsCompactAndReopen) {
  TempDir dir;
  Model model;
  Gen gen(2025);
  auto queries = testing::embedding_like(20, model.dim, 17);
  auto extra = testing::embedding_like(400, model.dim, 18);
  std::vector<json> filters;
  std::uint64_t uid = 0;
  std::set<std::string> ever;
  auto random_live = [&]() {
    auto it = model.records.begin();
    std::advance(it, static_cast<std::ptrdiff_t>(gen.below(model.records.size())));
    return it->first;
  };
  {
    auto store = VectorStore::open(dir.path(), one_thread()).value();
    Namespace ns = create(store, "p", IndexKind::kHnsw, Metric::kL2);
    uid = load_and_churn(ns, model, gen, 2000, 21);
    for (const auto& [id, r] : model.records) ever.insert(id);
    filters = filter_suite(gen, model, uid, 12);
    check_everything(ns, model, filters, queries, "loaded");
    if (HasFatalFailure()) return;

    // One record moves between categories: the old filter loses it, the new one finds it.
    {
      const std::string id = random_live();
      json md = model.records.at(id).metadata;
      md["cat"] = 7;
      md["r"] = 12345;
      ASSERT_TRUE(ns.update_metadata(id, md).ok());
      model.records.at(id).metadata = md;
      SearchOptions o;
      o.k = 5;
      o.filter = Filter::eq("r", 12345);
      auto hits = ns.search(model.records.at(id).vector, o).value();
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].id, id);
      md["r"] = 54321;
      ASSERT_TRUE(ns.update_metadata(id, md).ok());
      model.records.at(id).metadata = md;
      EXPECT_TRUE(ns.search(model.records.at(id).vector, o).value().empty());
      EXPECT_TRUE(ns.scan(Filter::eq("r", 12345)).value().empty());
      ASSERT_EQ(ns.scan(Filter::eq("r", 54321)).value().size(), 1u);
      ASSERT_TRUE(ns.update_metadata(id, json()).ok());  // null = {}
      model.records.at(id).metadata = json::object();
      EXPECT_TRUE(ns.scan(Filter::eq("r", 54321)).value().empty());
      auto no_u = ns.scan(Filter::exists("u", false)).value();
      EXPECT_EQ(no_u.size(), model.matching(J(R"({"u": {"$exists": false}})")).size());
      EXPECT_TRUE(std::any_of(no_u.begin(), no_u.end(), [&](const Record& r) { return r.id == id; }));
    }

    for (int i = 0; i < 200; ++i) {  // metadata updates
      const std::string id = random_live();
      json md = gen.metadata(uid++);
      ASSERT_TRUE(ns.update_metadata(id, md).ok());
      model.records.at(id).metadata = md;
    }
    check_everything(ns, model, filters, queries, "after update_metadata");
    if (HasFatalFailure()) return;

    std::vector<std::string> removed;
    for (int i = 0; i < 200; ++i) {  // removes
      const std::string id = random_live();
      ASSERT_TRUE(ns.remove(id).value());
      model.records.erase(id);
      removed.push_back(id);
    }
    check_everything(ns, model, filters, queries, "after remove");
    if (HasFatalFailure()) return;

    for (int i = 0; i < 150; ++i) {  // replacing upserts and re-inserted ids
      const std::string id = i % 3 == 0 ? removed[static_cast<std::size_t>(i)] : random_live();
      const std::size_t row = gen.below(extra.rows);
      json md = gen.metadata(uid++);
      ASSERT_TRUE(ns.upsert(id, std::span<const float>(extra.row(row), model.dim), md).ok());
      model.records[id] = {id, row_vector(extra, row), md};
    }
    check_everything(ns, model, filters, queries, "after upsert");
    if (HasFatalFailure()) return;

    ASSERT_TRUE(ns.compact().ok());
    check_everything(ns, model, filters, queries, "after compact");
    if (HasFatalFailure()) return;

    // A batch that replaces records with and without metadata.
    std::vector<Record> batch;
    std::set<std::string> in_batch;
    for (int i = 0; i < 100; ++i) {
      const std::string id = random_live();
      if (!in_batch.insert(id).second) continue;
      const std::size_t row = gen.below(extra.rows);
      batch.push_back({id, row_vector(extra, row),
                       i % 4 == 0 ? json::object() : gen.metadata(uid++)});
    }
    ASSERT_TRUE(ns.upsert(batch).ok());
    for (const Record& r : batch) model.records[r.id] = r;
    check_everything(ns, model, filters, queries, "after batch upsert");
    if (HasFatalFailure()) return;

    ASSERT_TRUE(store.save().ok());
    ASSERT_TRUE(store.close().ok());
  }
  {
    auto store = VectorStore::open(dir.path(), one_thread()).value();
    Namespace ns = store.open_namespace("p").value();
    check_everything(ns, model, filters, queries, "after reopen");
    if (HasFatalFailure()) return;
    EXPECT_GT(ns.stats().payload_index_bytes, 0u);

    // Changes after a load reach the loaded index too.
    for (int i = 0; i < 100; ++i) {
      const std::string id = random_live();
      if (i % 2 == 0) {
        ASSERT_TRUE(ns.remove(id).value());
        model.records.erase(id);
      } else {
        json md = gen.metadata(uid++);
        ASSERT_TRUE(ns.update_metadata(id, md).ok());
        model.records.at(id).metadata = md;
      }
    }
    const auto gone = ns.remove(Filter::eq("cat", 5)).value();
    EXPECT_EQ(gone, model.matching(J(R"({"cat": 5})")).size());
    for (const std::string& id : model.matching(J(R"({"cat": 5})"))) model.records.erase(id);
    check_everything(ns, model, filters, queries, "after changes to the reopened namespace");
    if (HasFatalFailure()) return;
    ASSERT_TRUE(store.save().ok());
    ASSERT_TRUE(store.close().ok());
  }
  {  // read-only reopen of the final state
    StoreOptions o = one_thread();
    o.read_only = true;
    auto store = VectorStore::open(dir.path(), o).value();
    Namespace ns = store.open_namespace("p").value();
    check_everything(ns, model, filters, queries, "read-only reopen");
  }
}

// Values the payload index may get wrong: integers beyond 2^53 (and of both signs and JSON
// flavours), -0.0, floats equal to integers, strings ordered byte-wise, booleans, null, arrays
// and objects in a field that is a scalar elsewhere.
TEST(PayloadIndex, ExoticValuesAgreeWithTheModel) {
  const std::vector<json> values = {
      json(std::int64_t{9007199254740992}), json(std::int64_t{9007199254740993}),
      json(std::uint64_t{9007199254740993}), json(std::numeric_limits<std::uint64_t>::max()),
      json(std::numeric_limits<std::int64_t>::max()), json(std::numeric_limits<std::int64_t>::min()),
      json(-1), json(0), json(-0.0), json(0.0), json(1), json(1.0), json(1.5), json(2),
      json(""), json("a"), json("B"), json("z"), json("\xc3\xa9"), json("\xc3\xa9t\xc3\xa9"),
      json(true), json(false), json(nullptr), json::array({1, "a"}), json::array(),
      json::array({json::array({2})}), json{{"x", 1}}};
  // Scalars the payload index can count exactly (field e).
  const std::vector<json> countable = {
      json(std::int64_t{9007199254740992}), json(std::uint64_t{4503599627370497}), json(-1),
      json(0), json(-0.0), json(1), json(1.0), json(1.5), json(2), json(""), json("a"),
      json("B"), json("z"), json("\xc3\xa9"), json(true), json(false), json(nullptr)};
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kFlat}) {
    SCOPED_TRACE(std::string(to_string(kind)));
    auto store = VectorStore::in_memory(one_thread());
    Namespace ns = create(store, "x", kind, Metric::kL2);
    Model model;
    std::mt19937_64 rng(31);
    const std::size_t n = 1200;
    auto data = testing::embedding_like(n, model.dim, 32);
    std::vector<std::string> ids;
    std::vector<Metadata> mds;
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back("e" + std::to_string(i));
      json md = json::object();
      // Mostly scalars; k is missing in some records.
      if (rng() % 10 != 0) md["k"] = values[rng() % values.size()];
      if (rng() % 10 != 0) md["e"] = countable[rng() % countable.size()];
      md["i"] = i;
      mds.push_back(md);
      model.records[ids.back()] = {ids.back(), row_vector(data, i), md};
    }
    ASSERT_TRUE(ns.upsert(ids, data.data, mds).ok());

    std::vector<json> filters;
    const char* ops[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"};
    for (const char* field : {"k", "e"}) {
      for (const json& v : std::string_view(field) == "k" ? values : countable) {
        if (v.is_null() || v.is_array() || v.is_object()) continue;
        for (const char* op : ops) {
          if (v.is_boolean() && std::string_view(op) != "$eq" && std::string_view(op) != "$ne") {
            continue;
          }
          filters.push_back(json{{field, json{{op, v}}}});
        }
      }
    }
    filters.push_back(J(R"({"e": {"$in": [9007199254740992, "a", false, -0.0]}})"));
    filters.push_back(J(R"({"e": {"$nin": [4503599627370497, 1, ""]}})"));
    filters.push_back(J(R"({"$or": [{"e": {"$lt": -0.5}}, {"e": {"$gt": "z"}}, {"e": true}]})"));
    filters.push_back(J(R"({"$not": {"e": {"$exists": true}}})"));
    filters.push_back(J(R"({"k": {"$in": [9007199254740993, "a", false, -0.0]}})"));
    filters.push_back(J(R"({"k": {"$nin": [9007199254740992, 1, ""]}})"));
    filters.push_back(J(R"({"k": {"$exists": true}})"));
    filters.push_back(J(R"({"k": {"$exists": false}})"));
    filters.push_back(J(R"({"$not": {"k": {"$gt": 1}}})"));
    filters.push_back(J(R"({"$or": [{"k": {"$lt": -1}}, {"k": {"$gte": "z"}}]})"));
    filters.push_back(J(R"({"k.x": 1})"));
    auto queries = testing::embedding_like(filters.size(), model.dim, 33);
    for (std::size_t fi = 0; fi < filters.size(); ++fi) {
      const json& fj = filters[fi];
      SCOPED_TRACE(fj.dump());
      check_scan(ns, model, fj, true, false);
      if (HasFatalFailure()) return;
      const Filter f = *Filter::parse(fj);
      const auto q = row_vector(queries, fi);
      const auto ranked = model.ranked(fj, q);
      for (std::size_t thr : {std::size_t{0}, std::size_t{1}, SIZE_MAX}) {
        SearchOptions o;
        o.k = 30;
        o.filter = f;
        o.exact_threshold = thr;
        // Exact for flat only: with integers beyond 2^53, long strings, arrays or objects in k,
        // the payload index need not count k's matches, and exact_threshold promises exact
        // results only "when the matches can be counted".
        // Field e holds only scalars the index counts: exact at SIZE_MAX on HNSW too.
        const bool countable_filter = fj.dump().find("\"k") == std::string::npos;
        check_hits(ns.search(q, o).value(), model, fj, ranked, 30,
                   kind == IndexKind::kFlat || (thr == SIZE_MAX && countable_filter),
                   "threshold " + std::to_string(thr));
        if (HasFatalFailure()) return;
      }
    }
    // remove(Filter) by exact integers beyond 2^53.
    const json big = J(R"({"k": 9007199254740993})");
    const std::size_t expected = model.matching(big).size();
    ASSERT_GT(expected, 0u);
    EXPECT_EQ(ns.remove(*Filter::parse(big)).value(), expected);
    for (const std::string& id : model.matching(big)) model.records.erase(id);
    EXPECT_EQ(ns.size(), model.records.size());
    check_scan(ns, model, J(R"({"k": {"$gte": 9007199254740992}})"), true, false);
  }
}

// ── errors and stats ─────────────────────────────────────────────────────────────────────

TEST(FilteredSearchErrors, InvalidFilterIsInvalidArgument) {
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kFlat}) {
    auto store = VectorStore::in_memory(one_thread());
    Namespace ns = create(store, "e", kind, Metric::kCosine);
    Model model;
    Gen gen(1);
    load_and_churn(ns, model, gen, 300, 2);
    const std::vector<float> q = model.records.begin()->second.vector;
    std::vector<float> two = q;
    two.insert(two.end(), q.begin(), q.end());
    for (const Filter& bad :
         {Filter::gt("r", true), Filter::eq("", 1), Filter::in("cat", 3),
          Filter::eq("cat", 1) && Filter::lt("r", json()), !Filter::ne("s", json::array()),
          Filter::eq("cat", 1) || Filter::eq("r", std::numeric_limits<double>::infinity())}) {
      ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
      for (std::size_t thr : {std::size_t{0}, std::size_t{1}, SIZE_MAX}) {
        SearchOptions o;
        o.filter = bad;
        o.exact_threshold = thr;
        auto r = ns.search(q, o);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
        auto b = ns.search_batch(two, o);
        ASSERT_FALSE(b.has_value());
        EXPECT_EQ(b.error().code(), StatusCode::kInvalidArgument);
      }
    }
    SearchOptions ok;
    ok.filter = Filter::gte("r", 0);
    EXPECT_TRUE(ns.search(q, ok).has_value());
    EXPECT_TRUE(ns.search_batch(two, ok).has_value());
  }
}

TEST(PayloadIndex, StatsCountIt) {
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kFlat}) {
    SCOPED_TRACE(std::string(to_string(kind)));
    auto store = VectorStore::in_memory(one_thread());
    Namespace ns = create(store, "s", kind, Metric::kL2);
    const std::size_t n = 3000;
    auto data = testing::embedding_like(n, 16, 3);
    std::vector<std::string> ids;
    std::vector<Metadata> mds;
    std::mt19937_64 rng(4);
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back("k" + std::to_string(i));
      mds.push_back(json{{"cat", static_cast<std::int64_t>(rng() % 10)},
                         {"r", static_cast<std::int64_t>(rng() % 1000)}});
    }
    ASSERT_TRUE(ns.upsert(ids, data.data, mds).ok());
    const NamespaceStats s = ns.stats();
    std::cout << "[          ] " << to_string(kind) << ": metadata_bytes " << s.metadata_bytes
              << ", payload_index_bytes " << s.payload_index_bytes << ", memory_bytes "
              << s.memory_bytes << "\n";
    EXPECT_GT(s.payload_index_bytes, 0u);
    EXPECT_LE(s.payload_index_bytes * 4, s.metadata_bytes);
    EXPECT_GE(s.memory_bytes, s.payload_index_bytes + s.metadata_bytes + s.vector_bytes);
    // A filtered search over this metadata is right, too.
    SearchOptions o;
    o.k = 10;
    o.filter = Filter::eq("cat", 3) && Filter::lt("r", 100);
    auto hits = ns.search(std::span<const float>(data.row(0), 16), o).value();
    std::size_t m = 0;
    for (const auto& md : mds) m += md["cat"] == 3 && md["r"].get<std::int64_t>() < 100;
    EXPECT_EQ(hits.size(), std::min<std::size_t>(10, m));
  }
}

// The payload index's budget (docs/filters.md): at most a quarter of the metadata's own bytes, for the
// shapes applications use, also after churn (removes and replacements leave column buffers).
TEST(PayloadIndex, CostsAtMostAQuarterOfTheMetadata) {
  const std::size_t n = 20000;
  const char* shapes[] = {"label and r", "unique 36-byte doc id", "RAG chunk", "unique number",
                          "tags array"};
  for (int shape = 0; shape < 5; ++shape) {
    SCOPED_TRACE(shapes[shape]);
    auto store = VectorStore::in_memory(one_thread());
    Namespace ns = create(store, "b", IndexKind::kFlat, Metric::kL2);
    std::mt19937_64 rng(11 + static_cast<unsigned>(shape));
    auto make = [&](std::size_t i) {
      char uuid[40];
      std::snprintf(uuid, sizeof uuid, "%08x-%04x-%04x-%04x-%012llx",
                    static_cast<unsigned>(rng()), static_cast<unsigned>(rng() & 0xffff),
                    static_cast<unsigned>(rng() & 0xffff), static_cast<unsigned>(rng() & 0xffff),
                    static_cast<unsigned long long>(rng() & 0xffffffffffffULL));
      switch (shape) {
        case 0: return json{{"label", rng() % 10}, {"r", rng() % 10000}};
        case 1: return json{{"doc_id", uuid}};
        case 2:
          return json{{"doc_id", uuid},
                      {"source", "https://example.com/docs/" + std::to_string(rng() % 50)},
                      {"page", rng() % 500},
                      {"text", std::string(300, 'x')}};
        case 3: return json{{"ts", static_cast<std::int64_t>(rng() % 1000000000) * 1000 +
                                       static_cast<std::int64_t>(i)}};
        default: return json{{"tags", {"t" + std::to_string(rng() % 20), "t" + std::to_string(rng() % 20)}}};
      }
    };
    auto data = testing::embedding_like(n, 16, 5);
    std::vector<std::string> ids;
    std::vector<Metadata> mds;
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back("k" + std::to_string(i));
      mds.push_back(make(i));
    }
    ASSERT_TRUE(ns.upsert(ids, data.data, mds).ok());
    // Churn: a quarter of the records removed, another quarter's metadata replaced.
    for (std::size_t i = 0; i < n; i += 4) ASSERT_TRUE(ns.remove(ids[i]).value_or(false));
    for (std::size_t i = 1; i < n; i += 4) ASSERT_TRUE(ns.update_metadata(ids[i], make(i)).ok());
    const NamespaceStats st = ns.stats();
    const double ratio =
        static_cast<double>(st.payload_index_bytes) / static_cast<double>(st.metadata_bytes);
    std::cout << "[          ] " << shapes[shape] << ": metadata " << st.metadata_bytes
              << " B, payload index " << st.payload_index_bytes << " B (" << 100 * ratio
              << " %)\n";
    EXPECT_LE(ratio, 0.25);
  }
}

}  // namespace
}  // namespace hnswstore
