// Raw hnswlib: the very headers the library was built with, used the way hnswlib's own Python
// binding uses them (parallel addPoint over a shared index, searchKnn per query).
//
// search_filtered is the baseline of the filtered benchmark (filtered.cpp): hnswlib 0.8.0's
// filtered search (searchKnn with an isIdAllowed functor, i.e. searchBaseLayerST<false> with
// that functor), written out over the members that 0.6.2 (which has no filters) and 0.8.0 share,
// so that it compiles against either.
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <memory>
#include <queue>
#include <thread>
#include <utility>
#include <vector>

#include "engine.hpp"

#ifndef HNSWSTORE_HNSWLIB_VERSION
#define HNSWSTORE_HNSWLIB_VERSION "unknown"
#endif

namespace hnswstore::bench {
namespace {

class HnswlibEngine final : public Engine {
 public:
  std::string name() const override { return "hnswlib"; }
  std::string version() const override { return HNSWSTORE_HNSWLIB_VERSION; }

  void build(const Rows& rows, Space space, const BuildParams& p, std::size_t threads) override {
    index_.reset();
    make_space(space, rows.dim);
    index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), rows.n, p.m,
                                                               p.ef_construction, p.seed);
    // Rows are handed out in small chunks, as hnswlib's Python binding does.
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (;;) {
        const std::size_t begin = next.fetch_add(64);
        if (begin >= rows.n) return;
        const std::size_t end = std::min(begin + 64, rows.n);
        for (std::size_t i = begin; i < end; ++i) index_->addPoint(rows.row(i), i);
      }
    };
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }

  void set_ef(std::size_t ef) override {
    index_->setEf(ef);
    ef_ = ef;
  }

  void search(const float* query, std::size_t k, std::uint32_t* out) const override {
    auto top = index_->searchKnn(query, k);
    std::size_t n = top.size();
    for (std::size_t i = n; i < k; ++i) out[i] = kNoRow;
    while (!top.empty()) {
      out[--n] = static_cast<std::uint32_t>(top.top().second);
      top.pop();
    }
  }

  // hnswlib 0.8.0's searchKnn(query, k, isIdAllowed): greedy descent through the upper layers
  // (no filter there), then on layer 0 a best-first search from that entry point with
  // ef = max(ef_, k) in which every visited node within the bound enters the candidate queue but
  // only allowed (and not deleted) nodes enter the top-ef result set, the bound is the ef-th
  // allowed result, and the search stops only once ef allowed results are held and the nearest
  // candidate is past the bound. isIdAllowed is one byte per label.
  std::size_t search_filtered(const float* query, std::size_t k, const FilterArg& f,
                              std::uint32_t* out) const override {
    using hnswlib::labeltype;
    using hnswlib::linklistsizeint;
    using hnswlib::tableint;
    using Pair = std::pair<float, tableint>;
    struct ByFirst {
      bool operator()(const Pair& a, const Pair& b) const { return a.first < b.first; }
    };
    using Queue = std::priority_queue<Pair, std::vector<Pair>, ByFirst>;
    const auto& h = *index_;
    std::fill(out, out + k, kNoRow);
    if (h.cur_element_count == 0) return 0;
    auto dist = [&](tableint id) {
      return h.fstdistfunc_(query, h.getDataByInternalId(id), h.dist_func_param_);
    };
    auto allowed = [&](tableint id) {
      return !h.isMarkedDeleted(id) &&
             (f.allowed == nullptr || f.allowed[static_cast<labeltype>(h.getExternalLabel(id))]);
    };

    tableint cur = h.enterpoint_node_;
    float cur_dist = dist(cur);
    for (int level = h.maxlevel_; level > 0; --level) {
      for (bool changed = true; changed;) {
        changed = false;
        linklistsizeint* list = h.get_linklist(cur, level);
        const std::size_t size = h.getListCount(list);
        const tableint* links = reinterpret_cast<const tableint*>(list + 1);
        for (std::size_t i = 0; i < size; ++i) {
          const float d = dist(links[i]);
          if (d < cur_dist) {
            cur_dist = d;
            cur = links[i];
            changed = true;
          }
        }
      }
    }

    const std::size_t ef = std::max(ef_, k);
    auto* visited_list = h.visited_list_pool_->getFreeVisitedList();
    hnswlib::vl_type* visited = visited_list->mass;
    const hnswlib::vl_type tag = visited_list->curV;
    Queue top;         // allowed results, farthest on top
    Queue candidates;  // negated distances: nearest on top
    float bound;
    if (allowed(cur)) {
      const float d = dist(cur);
      bound = d;
      top.emplace(d, cur);
      candidates.emplace(-d, cur);
    } else {
      bound = std::numeric_limits<float>::max();
      candidates.emplace(-bound, cur);
    }
    visited[cur] = tag;
    while (!candidates.empty()) {
      const Pair next = candidates.top();
      if (-next.first > bound && top.size() == ef) break;
      candidates.pop();
      int* data = reinterpret_cast<int*>(h.get_linklist0(next.second));
      const std::size_t size = h.getListCount(reinterpret_cast<linklistsizeint*>(data));
#ifdef USE_SSE
      _mm_prefetch(reinterpret_cast<const char*>(visited + *(data + 1)), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(visited + *(data + 1) + 64), _MM_HINT_T0);
      _mm_prefetch(h.data_level0_memory_ + (*(data + 1)) * h.size_data_per_element_ + h.offsetData_,
                   _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(data + 2), _MM_HINT_T0);
#endif
      for (std::size_t j = 1; j <= size; ++j) {
        const int id = *(data + j);
#ifdef USE_SSE
        _mm_prefetch(reinterpret_cast<const char*>(visited + *(data + j + 1)), _MM_HINT_T0);
        _mm_prefetch(h.data_level0_memory_ + (*(data + j + 1)) * h.size_data_per_element_ +
                         h.offsetData_,
                     _MM_HINT_T0);
#endif
        if (visited[id] == tag) continue;
        visited[id] = tag;
        const float d = dist(static_cast<tableint>(id));
        if (top.size() < ef || bound > d) {
          candidates.emplace(-d, static_cast<tableint>(id));
#ifdef USE_SSE
          _mm_prefetch(h.data_level0_memory_ + candidates.top().second * h.size_data_per_element_ +
                           h.offsetLevel0_,
                       _MM_HINT_T0);
#endif
          if (allowed(static_cast<tableint>(id))) top.emplace(d, static_cast<tableint>(id));
          if (top.size() > ef) top.pop();
          if (!top.empty()) bound = top.top().first;
        }
      }
    }
    h.visited_list_pool_->releaseVisitedList(visited_list);

    while (top.size() > k) top.pop();
    const std::size_t found = top.size();
    for (std::size_t i = found; i-- > 0; top.pop()) {
      out[i] = static_cast<std::uint32_t>(h.getExternalLabel(top.top().second));
    }
    return found;
  }

  bool save(const std::string& dir) override {
    index_->saveIndex(dir + "/index.hnsw");
    return true;
  }

  bool load(const std::string& dir) override {
    index_.reset();
    index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), dir + "/index.hnsw");
    return true;
  }

 private:
  void make_space(Space space, std::size_t dim) {
    if (space == Space::kL2) {
      space_ = std::make_unique<hnswlib::L2Space>(dim);
    } else {
      space_ = std::make_unique<hnswlib::InnerProductSpace>(dim);
    }
  }

  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
  std::size_t ef_ = 10;  // hnswlib's default
};

}  // namespace

std::unique_ptr<Engine> make_hnswlib_engine() { return std::make_unique<HnswlibEngine>(); }

}  // namespace hnswstore::bench
