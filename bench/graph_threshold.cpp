// graph_threshold: where an HNSW graph starts to pay off against an exact scan.
//
//   graph_threshold [--dims 32,64,128,384,784] [--sizes 250,500,...,32000] [--queries 500]
//                   [--m 16] [--ef-construction 200] [--ef 50] [--k 10]
//
// hnswstore serves a small HNSW namespace exactly (a flat scan) and builds its graph once the
// namespace reaches a size (docs/architecture.md, "Small namespaces"). This program measures that
// size: for each dimension and size it times, side by side on the same vectors and queries,
//   - exact: a flat hnswstore namespace (what a small HNSW namespace is served with),
//   - graph: raw hnswlib's searchKnn on a graph of the same vectors (m, ef_construction, ef),
// median per query over --queries queries (cosine, embedding-like data, k 10), and prints the
// ratio exact / graph. The graph pays off where the ratio passes 1; the graph also costs memory
// (hnswlib's 65,536-lock table, about 2.5 MiB, plus the links) and build time, which the table
// shows too.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::size_t> parse_list(const char* text) {
  std::vector<std::size_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v == 0) {
      std::fprintf(stderr, "graph_threshold: bad list item '%s'\n", item.c_str());
      std::exit(2);
    }
    out.push_back(static_cast<std::size_t>(v));
  }
  return out;
}

std::size_t parse_size(const char* flag, const char* text) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (*text == '\0' || *end != '\0' || v == 0) {
    std::fprintf(stderr, "graph_threshold: %s expects a positive integer, got '%s'\n", flag, text);
    std::exit(2);
  }
  return static_cast<std::size_t>(v);
}

template <class Fn>
double median_us(std::size_t queries, Fn&& fn) {
  std::vector<double> t(queries);
  for (std::size_t q = 0; q < queries; ++q) {
    const auto start = Clock::now();
    fn(q);
    t[q] = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  }
  std::sort(t.begin(), t.end());
  return t[queries / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> dims = {32, 64, 128, 384, 784};
  std::vector<std::size_t> sizes = {250, 500, 1000, 2000, 4000, 8000, 16000, 32000};
  std::size_t queries = 500, m = 16, ef_construction = 200, ef = 50, k = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "graph_threshold: %s needs a value\n", a.c_str());
      return 2;
    }
    const char* v = argv[++i];
    if (a == "--dims") {
      dims = parse_list(v);
    } else if (a == "--sizes") {
      sizes = parse_list(v);
    } else if (a == "--queries") {
      queries = parse_size("--queries", v);
    } else if (a == "--m") {
      m = parse_size("--m", v);
    } else if (a == "--ef-construction") {
      ef_construction = parse_size("--ef-construction", v);
    } else if (a == "--ef") {
      ef = parse_size("--ef", v);
    } else if (a == "--k") {
      k = parse_size("--k", v);
    } else {
      std::fprintf(stderr, "graph_threshold: unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  using namespace hnswstore;
  std::printf("# exact scan (flat namespace) vs hnswlib graph search, cosine, k %zu, m %zu, "
              "ef_construction %zu, ef %zu, median of %zu queries\n",
              k, m, ef_construction, ef, queries);
  std::printf("| dim | n | exact µs | graph µs | exact / graph | graph recall@%zu | "
              "graph build ms | vectors KiB | graph extra KiB |\n",
              k);
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const std::size_t dim : dims) {
    const std::size_t max_n = *std::max_element(sizes.begin(), sizes.end());
    const testing::Matrix all = testing::embedding_like(max_n, dim, 1);
    const testing::Matrix q = testing::embedding_like(queries, dim, 2);
    for (const std::size_t n : sizes) {
      auto store = VectorStore::in_memory({.threads = 1});
      NamespaceOptions o;
      o.dimension = dim;
      o.metric = Metric::kCosine;
      o.index = IndexKind::kFlat;
      auto flat = store.create_namespace("flat", o).value();
      std::vector<std::string> ids(n);
      for (std::size_t i = 0; i < n; ++i) ids[i] = std::to_string(i);
      if (!flat.upsert(ids, std::span(all.data).first(n * dim)).ok()) return 1;

      // hnswlib on unit vectors with inner product = cosine, as hnswstore stores them.
      std::vector<float> unit(all.data.begin(), all.data.begin() + static_cast<long>(n * dim));
      std::vector<float> uq(q.data);
      auto normalise = [dim](std::vector<float>& v) {
        for (std::size_t r = 0; r < v.size() / dim; ++r) {
          double s = 0;
          for (std::size_t d = 0; d < dim; ++d) s += double(v[r * dim + d]) * v[r * dim + d];
          const auto inv = static_cast<float>(1.0 / std::sqrt(s));
          for (std::size_t d = 0; d < dim; ++d) v[r * dim + d] *= inv;
        }
      };
      normalise(unit);
      normalise(uq);
      hnswlib::InnerProductSpace space(dim);
      const auto build_start = Clock::now();
      hnswlib::HierarchicalNSW<float> graph(&space, n, m, ef_construction, 100);
      for (std::size_t i = 0; i < n; ++i) graph.addPoint(unit.data() + i * dim, i);
      const double build_ms =
          std::chrono::duration<double, std::milli>(Clock::now() - build_start).count();
      graph.setEf(std::max(ef, k));

      SearchOptions so;
      so.k = k;
      so.include_metadata = false;
      std::vector<std::vector<std::uint32_t>> exact(queries);
      const double exact_us = median_us(queries, [&](std::size_t i) {
        auto hits = flat.search(std::span<const float>(q.row(i), dim), so).value();
        for (const Hit& h : hits) exact[i].push_back(static_cast<std::uint32_t>(std::stoul(h.id)));
      });
      std::vector<std::vector<std::uint32_t>> found(queries);
      const double graph_us = median_us(queries, [&](std::size_t i) {
        auto r = graph.searchKnn(uq.data() + i * dim, k);
        while (!r.empty()) {
          found[i].push_back(static_cast<std::uint32_t>(r.top().second));
          r.pop();
        }
      });
      const double recall = testing::recall_at_k(found, exact, k);
      const std::size_t vector_kib = n * dim * sizeof(float) / 1024;
      const std::size_t level0 = n * (graph.size_links_level0_ + sizeof(std::size_t));
      // The 65,536-lock table (both versions) and one lock per node.
      const std::size_t locks = (65536 + graph.link_list_locks_.size()) * sizeof(std::mutex);
      std::printf("| %zu | %zu | %.1f | %.1f | %.2f | %.3f | %.0f | %zu | %zu |\n", dim, n,
                  exact_us, graph_us, exact_us / graph_us, recall, build_ms, vector_kib,
                  (level0 + locks) / 1024);
      std::fflush(stdout);
    }
  }
  return 0;
}
