// HnswIndex: the one translation unit that includes hnswlib (0.6.2 cannot be included twice,
// see docs/architecture.md). It is compiled for the build machine's best SIMD unless
// HNSWSTORE_PORTABLE is on, because hnswlib picks its distance kernels at compile time.
//
// The search loop is our own, over hnswlib members common to 0.6.2 and 0.8.0: it skips
// tombstones and applies slot filters while walking, and never calls searchBaseLayerST (whose
// template flag means opposite things in the two versions).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif
// hnswlib 0.6.2 defines non-inline functions and globals in its headers. Renaming its namespace
// and its global helpers keeps them from colliding with an application that includes hnswlib
// itself (tests/package proves it for static and shared builds).
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#endif
#define hnswlib hnswstore_private_hnswlib
#define cpuid hnswstore_private_cpuid
#define xgetbv hnswstore_private_xgetbv
#define AVXCapable hnswstore_private_AVXCapable
#define AVX512Capable hnswstore_private_AVX512Capable
#include <hnswlib/hnswlib.h>
#undef cpuid
#undef xgetbv
#undef AVXCapable
#undef AVX512Capable
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "distance.hpp"
#include "format.hpp"
#include "hnswstore/version.hpp"
#include "parallel.hpp"
#include "vector_index.hpp"

#ifndef HNSWSTORE_HNSWLIB_VERSION
#define HNSWSTORE_HNSWLIB_VERSION "unknown"
#endif

namespace hnswstore {

const char* hnswlib_version() noexcept { return HNSWSTORE_HNSWLIB_VERSION; }

namespace detail {
namespace {

using hnswlib::tableint;
constexpr tableint kNoInternal = std::numeric_limits<tableint>::max();

// hnswlib has no L1 space; this one uses the store's vectorised kernel.
class L1Space final : public hnswlib::SpaceInterface<float> {
 public:
  explicit L1Space(std::size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &L1Space::distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  static float distance(const void* a, const void* b, const void* param) {
    return l1(static_cast<const float*>(a), static_cast<const float*>(b),
              *static_cast<const std::size_t*>(param));
  }
  std::size_t dim_;
};

std::unique_ptr<hnswlib::SpaceInterface<float>> make_space(Metric metric, std::size_t dim) {
  switch (metric) {
    case Metric::kL2:
      return std::make_unique<hnswlib::L2Space>(dim);
    case Metric::kInnerProduct:
    case Metric::kCosine:
      return std::make_unique<hnswlib::InnerProductSpace>(dim);
    case Metric::kL1:
      return std::make_unique<L1Space>(dim);
  }
  return nullptr;
}

// Visited marks for the base-layer walk: a generation counter per node, so that clearing is
// O(1) except once every 65,535 searches. A pool hands one array to each concurrent search.
class VisitedPool {
 public:
  struct Marks {
    std::vector<std::uint16_t> mark;
    std::uint16_t epoch = 0;
  };
  class Lease {
   public:
    Lease(VisitedPool& pool, std::unique_ptr<Marks> m) : pool_(pool), m_(std::move(m)) {}
    ~Lease() { pool_.release(std::move(m_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Marks& operator*() { return *m_; }
    Marks* operator->() { return m_.get(); }

   private:
    VisitedPool& pool_;
    std::unique_ptr<Marks> m_;
  };

  Lease acquire(std::size_t n) {
    std::unique_ptr<Marks> m;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        m = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!m) m = std::make_unique<Marks>();
    if (m->mark.size() < n) {
      bytes_.fetch_add((n - m->mark.size()) * sizeof(std::uint16_t), std::memory_order_relaxed);
      m->mark.assign(n, 0);
      m->epoch = 0;
    }
    if (++m->epoch == 0) {
      std::fill(m->mark.begin(), m->mark.end(), std::uint16_t{0});
      m->epoch = 1;
    }
    return Lease(*this, std::move(m));
  }
  std::size_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  void release(std::unique_ptr<Marks> m) {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(std::move(m));
  }
  std::mutex mutex_;
  std::vector<std::unique_ptr<Marks>> free_;
  std::atomic<std::size_t> bytes_{0};
};

// Reusable heaps for one search thread.
struct Scratch {
  std::vector<Neighbor> candidates;  // min-heap on distance (nearest on top)
  std::vector<Neighbor> results;     // max-heap on distance (farthest on top)
};

struct Farther {
  bool operator()(const Neighbor& a, const Neighbor& b) const noexcept { return b < a; }
};

inline void prefetch(const void* p) {
#if defined(__GNUC__)
  __builtin_prefetch(p, 0, 3);
#else
  (void)p;
#endif
}

// Asks the kernel to allocate the pages of [p, p + n), fresh memory about to be written whole,
// in one call: a quarter faster than taking one page fault per 4 KiB page as the writes arrive
// (170 MB of hnswlib memory for 100,000 vectors of 384 floats). Linux 5.14 and later; otherwise,
// or if it fails, the writes fault the pages in as usual.
void populate(void* p, std::size_t n) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  if (p == nullptr || n < (std::size_t{1} << 20)) return;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  // The whole pages holding the range: they belong to the same mapping (the allocation's).
  const std::uintptr_t begin = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + n + page - 1) & ~(page - 1);
  (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)n;
#endif
}

class HnswIndex final : public VectorIndex {
 public:
  explicit HnswIndex(const NamespaceOptions& o)
      : options_(o), space_(make_space(o.metric, o.dimension)) {}

  std::size_t slot_count() const override { return internal_of_slot_.size(); }
  std::size_t capacity() const override { return hnsw_ ? hnsw_->max_elements_ : 0; }
  bool has_graph() const override { return true; }

  void reserve(std::size_t slots) override {
    if (slots <= capacity()) return;
    const std::size_t cap = grown_capacity(capacity(), slots);
    try {
      if (!hnsw_) {
        hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
            space_.get(), cap, options_.hnsw.m, options_.hnsw.ef_construction,
            static_cast<std::size_t>(options_.hnsw.seed));
        insert_threads_ = 1;
      } else {
        hnsw_->resizeIndex(cap);
        insert_threads_ = 1;  // resizeIndex starts a new visited-list pool of one list
      }
    } catch (const std::runtime_error& e) {
      // hnswlib reports a failed malloc/realloc as runtime_error("Not enough memory...").
      if (std::string_view(e.what()).find("memory") != std::string_view::npos) {
        throw std::bad_alloc();
      }
      throw;
    }
    internal_of_slot_.reserve(cap);
  }

  void write(std::span<const VectorWrite> writes, std::size_t threads) override {
    const std::size_t old_count = internal_of_slot_.size();
    // Three kinds of write: a slot hnswlib has never seen is inserted (addPoint); a slot it
    // has is re-linked in place like a fresh insertion (relink); the entry point, whose links
    // hold the graph together, is updated with hnswlib's own updatePoint.
    std::vector<const VectorWrite*> inserts;
    std::vector<const VectorWrite*> relinks;
    std::vector<const VectorWrite*> updates;
    std::size_t new_slots = 0;
    for (const auto& w : writes) {
      if (w.slot >= old_count) ++new_slots;
      const tableint id = w.slot < old_count ? internal_of_slot_[w.slot] : kNoInternal;
      if (id == kNoInternal) {
        inserts.push_back(&w);
      } else if (id == hnsw_->enterpoint_node_) {
        updates.push_back(&w);
      } else {
        relinks.push_back(&w);
      }
    }
    reserve(old_count + new_slots);
    internal_of_slot_.resize(old_count + new_slots, kNoInternal);

    // Small batches too: the namespace writes in chunks of a few milliseconds (bounded exclusive
    // sections), and an insert is long (0.1-1 ms) against starting a thread (~20 µs). Two inserts
    // per thread at least, so that one slow insert does not leave a thread idle for long.
    threads = std::min(resolve_threads(threads), std::max<std::size_t>(inserts.size() / 2, 1));
    insert_threads_ = std::max(insert_threads_, threads);
    std::atomic<std::size_t> upper_bytes{0};
    try {
      parallel_for(inserts.size(), threads, 1, [&](std::size_t i) {
        const VectorWrite& w = *inserts[i];
        const tableint id = hnsw_->addPoint(w.vector, w.slot, -1);
        internal_of_slot_[w.slot] = id;
        upper_bytes.fetch_add(upper_link_bytes(id), std::memory_order_relaxed);
      });
    } catch (...) {
      upper_bytes_ += upper_bytes.load();
      // Inserted slots that made it into the graph become tombstones; the others stay
      // kNoInternal, which also reads as removed. The caller frees all of them.
      for (const VectorWrite* w : inserts) {
        const tableint id = internal_of_slot_[w->slot];
        if (id != kNoInternal && !hnsw_->isMarkedDeleted(id)) hnsw_->markDeletedInternal(id);
      }
      throw;
    }
    upper_bytes_ += upper_bytes.load();
    // Re-linking follows in-links left by old vectors, which breaks the top-down order that
    // makes hnswlib's per-node locks deadlock-free, so re-links run one at a time. A node
    // stays marked deleted while it is re-linked, so that it never becomes its own neighbour.
    for (const VectorWrite* w : relinks) {
      const tableint id = internal_of_slot_[w->slot];
      if (!hnsw_->isMarkedDeleted(id)) hnsw_->markDeletedInternal(id);
      relink(id, w->vector);
      hnsw_->unmarkDeletedInternal(id);
    }
    // updatePoint draws from one unsynchronised random generator: one at a time too.
    for (const VectorWrite* w : updates) hnsw_->addPoint(w->vector, w->slot, -1);
  }

  void remove(Slot slot) override {
    const tableint id = internal_of_slot_[slot];
    if (id != kNoInternal && !hnsw_->isMarkedDeleted(id)) hnsw_->markDeletedInternal(id);
  }

  bool is_removed(Slot slot) const override {
    const tableint id = internal_of_slot_[slot];
    return id == kNoInternal || hnsw_->isMarkedDeleted(id);
  }

  const float* vector(Slot slot) const override {
    return reinterpret_cast<const float*>(hnsw_->getDataByInternalId(internal_of_slot_[slot]));
  }

  void search(const float* query, std::size_t k, std::size_t ef, const SlotFilter* filter,
              std::vector<Neighbor>& out) const override {
    out.clear();
    if (!hnsw_ || internal_of_slot_.empty() || k == 0) return;
    const std::size_t count = hnsw_->cur_element_count;
    if (count == 0) return;
    // Without tombstones (the common case) the walk skips the deleted check, which reads a
    // cache line of each candidate's link list that the distance does not need. Writers hold
    // the namespace's lock exclusively, so the count cannot change during a search.
    const bool deletions = hnsw_->num_deleted_ != 0;
    ef = std::max(ef, k);
    if (filter != nullptr) {
      walk<true, true>(query, k, ef, filter, out);
    } else if (deletions) {
      walk<false, true>(query, k, ef, filter, out);
    } else {
      walk<false, false>(query, k, ef, filter, out);
    }
  }

  bool export_graph(std::span<const Slot> position, GraphImage& g) const override {
    g = GraphImage();
    g.max_m = static_cast<std::uint32_t>(options_.hnsw.m);
    g.max_m0 = static_cast<std::uint32_t>(2 * options_.hnsw.m);
    std::size_t n = 0;
    for (const Slot p : position) n += p != kNoSlot ? 1 : 0;
    if (n == 0) {
      g.entry_point = kNoSlot;
      return true;
    }
    const auto& h = *hnsw_;
    if (static_cast<std::size_t>(h.maxM_) != g.max_m ||
        static_cast<std::size_t>(h.maxM0_) != g.max_m0) {
      return false;
    }
    // Saved nodes in file order.
    std::vector<tableint> node(n, kNoInternal);
    for (std::size_t s = 0; s < position.size(); ++s) {
      if (position[s] != kNoSlot) node[position[s]] = internal_of_slot_[s];
    }
    g.levels.resize(n);
    g.offsets.resize(n + 1);
    g.links.reserve(n * (h.maxM0_ / 2 + 2));
    std::uint32_t entry = kNoSlot;
    for (std::size_t i = 0; i < n; ++i) {
      const tableint id = node[i];
      const int level = h.element_levels_[id];
      if (level > 255) return false;
      g.levels[i] = static_cast<std::uint8_t>(level);
      if (entry == kNoSlot || level > g.levels[entry]) entry = static_cast<std::uint32_t>(i);
      g.offsets[i] = g.links.size();
      for (int l = 0; l <= level; ++l) {
        hnswlib::linklistsizeint* list = l == 0 ? h.get_linklist0(id) : h.get_linklist(id, l);
        const unsigned count = h.getListCount(list);
        const tableint* links = reinterpret_cast<const tableint*>(list + 1);
        const std::size_t at = g.links.size();
        g.links.push_back(0);
        for (unsigned j = 0; j < count; ++j) {
          const auto label = static_cast<std::size_t>(h.getExternalLabel(links[j]));
          if (label >= position.size() || position[label] == kNoSlot) continue;
          g.links.push_back(position[label]);
        }
        g.links[at] = static_cast<std::uint32_t>(g.links.size() - at - 1);
      }
    }
    g.offsets[n] = g.links.size();
    // The entry point stays hnswlib's when it is saved; otherwise a saved node on the highest
    // level takes its place.
    const auto old_entry = static_cast<std::size_t>(h.getExternalLabel(h.enterpoint_node_));
    if (old_entry < position.size() && position[old_entry] != kNoSlot &&
        g.levels[position[old_entry]] >= g.levels[entry]) {
      entry = position[old_entry];
    }
    g.entry_point = entry;
    g.max_level = g.levels[entry];
    return true;
  }

  void import_graph(const float* vectors, std::size_t n, const GraphImage& g) override {
    if (n == 0) return;
    reserve(n);
    auto& h = *hnsw_;
    const std::size_t dim = options_.dimension;
    h.label_lookup_.reserve(n);  // one allocation instead of a rehash at every doubling
    populate(h.data_level0_memory_, h.max_elements_ * h.size_data_per_element_);
    std::size_t upper = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto id = static_cast<tableint>(i);
      const int level = g.levels[i];
      char* base = h.data_level0_memory_ + i * h.size_data_per_element_;
      std::memset(base, 0, h.size_links_level0_);
      std::memcpy(h.getDataByInternalId(id), vectors + i * dim, h.data_size_);
      h.setExternalLabel(id, static_cast<hnswlib::labeltype>(i));
      h.element_levels_[i] = level;
      if (level > 0) {
        const std::size_t bytes = h.size_links_per_element_ * static_cast<std::size_t>(level);
        h.linkLists_[i] = static_cast<char*>(std::malloc(bytes + 1));
        if (h.linkLists_[i] == nullptr) throw std::bad_alloc();
        std::memset(h.linkLists_[i], 0, bytes + 1);
        upper += bytes;
      }
      // Counted from here, so that hnswlib's destructor frees what was allocated on a throw.
      h.cur_element_count = i + 1;
      std::size_t pos = g.offsets[i];
      for (int l = 0; l <= level; ++l) {
        const std::uint32_t count = g.links[pos++];
        hnswlib::linklistsizeint* list = l == 0 ? h.get_linklist0(id) : h.get_linklist(id, l);
        h.setListCount(list, static_cast<unsigned short>(count));
        std::memcpy(list + 1, g.links.data() + pos, count * sizeof(tableint));
        pos += count;
      }
      h.label_lookup_[static_cast<hnswlib::labeltype>(i)] = id;
    }
    h.enterpoint_node_ = g.entry_point;
    h.maxlevel_ = static_cast<int>(g.max_level);
    internal_of_slot_.resize(n);
    for (std::size_t i = 0; i < n; ++i) internal_of_slot_[i] = static_cast<tableint>(i);
    upper_bytes_ = upper;
  }

  std::size_t vector_bytes() const override {
    return internal_of_slot_.size() * options_.dimension * sizeof(float);
  }
  std::size_t graph_bytes() const override {
    if (!hnsw_) return 0;
    return internal_of_slot_.size() * hnsw_->size_links_level0_ + upper_bytes_;
  }
  std::size_t memory_bytes() const override {
    std::size_t bytes =
        sizeof(*this) + internal_of_slot_.capacity() * sizeof(tableint) + visited_.bytes();
    if (!hnsw_) return bytes;
    const auto& h = *hnsw_;
    const std::size_t cap = h.max_elements_;
    bytes += sizeof(h);
    bytes += cap * h.size_data_per_element_;                    // level 0: links, vector, label
    bytes += cap * sizeof(void*);                               // linkLists_
    bytes += upper_bytes_;                                      // upper-layer link lists
    bytes += cap * sizeof(int);                                 // element_levels_
    bytes += cap * sizeof(std::mutex);                          // link_list_locks_
    bytes += 65536 * sizeof(std::mutex);                        // per-label / update locks
    bytes += insert_threads_ * cap * sizeof(hnswlib::vl_type);  // hnswlib's visited lists
    // label_lookup_: buckets plus one heap node (next pointer, key, value) per element.
    bytes += h.label_lookup_.bucket_count() * sizeof(void*) +
             h.label_lookup_.size() * (3 * sizeof(void*) + 8);
    return bytes;
  }

 private:
  // Gives an existing node (marked deleted, not the entry point) a new vector and links it
  // into the graph as addPoint links a new node: greedy descent, then on each of its levels a
  // beam search of width ef_construction and hnswlib's neighbour heuristic, which also adds
  // the reverse links. In-links left over from the old vector stay until pruning replaces them:
  // they cost a little search quality, never correctness. Runs alone (see write()).
  void relink(tableint id, const float* vector) {
    auto& h = *hnsw_;
    const int level = h.element_levels_[id];
    for (int l = 0; l <= level; ++l) {
      hnswlib::linklistsizeint* list = l == 0 ? h.get_linklist0(id) : h.get_linklist(id, l);
      h.setListCount(list, 0);  // keeps the deleted mark, which shares the header word
      std::memset(list + 1, 0, (l == 0 ? h.maxM0_ : h.maxM_) * sizeof(tableint));
    }
    std::memcpy(h.getDataByInternalId(id), vector, h.data_size_);

    const int max_level = h.maxlevel_;
    const tableint entry = h.enterpoint_node_;
    const hnswlib::DISTFUNC<float> dist = h.fstdistfunc_;
    tableint cur = entry;
    float cur_dist = dist(vector, h.getDataByInternalId(cur), h.dist_func_param_);
    descend(vector, max_level, level, cur, cur_dist);
    const bool entry_deleted = h.isMarkedDeleted(entry);
    for (int l = std::min(level, max_level); l >= 0; --l) {
      auto top = h.searchBaseLayer(cur, vector, l);
      if (entry_deleted && entry != id) {
        top.emplace(dist(vector, h.getDataByInternalId(entry), h.dist_func_param_), entry);
        if (top.size() > h.ef_construction_) top.pop();
      }
      if (top.empty()) continue;  // every other node is deleted
      cur = h.mutuallyConnectNewElement(vector, id, top, l, true);
    }
  }

  std::size_t upper_link_bytes(tableint id) const {
    const int level = hnsw_->element_levels_[id];
    return level > 0 ? static_cast<std::size_t>(level) * hnsw_->size_links_per_element_ : 0;
  }

  const float* data(tableint id) const {
    return reinterpret_cast<const float*>(hnsw_->getDataByInternalId(id));
  }

  template <bool kFiltered, bool kDeletions>
  bool accepted(tableint id, const SlotFilter* filter) const {
    if constexpr (kDeletions) {
      if (hnsw_->isMarkedDeleted(id)) return false;
    }
    if constexpr (kFiltered) {
      return (*filter)(static_cast<Slot>(hnsw_->getExternalLabel(id)));
    } else {
      return true;
    }
  }

  // Greedy descent from layer `from` down to layer `to` + 1: on each layer, move to the nearest
  // neighbour of the current node until none is nearer (tombstones count as stepping stones).
  void descend(const float* query, int from, int to, tableint& cur, float& cur_dist) const {
    const auto& h = *hnsw_;
    const hnswlib::DISTFUNC<float> dist = h.fstdistfunc_;
    for (int level = from; level > to; --level) {
      bool moved = true;
      while (moved) {
        moved = false;
        hnswlib::linklistsizeint* list = h.get_linklist(cur, level);
        const unsigned n = h.getListCount(list);
        const tableint* links = reinterpret_cast<const tableint*>(list + 1);
        for (unsigned i = 0; i < n; ++i) {
          const float d = dist(query, data(links[i]), h.dist_func_param_);
          if (d < cur_dist) {
            cur_dist = d;
            cur = links[i];
            moved = true;
          }
        }
      }
    }
  }

  // Greedy descent through the upper layers, then a beam search of width ef on layer 0 that
  // walks through tombstones and rejected nodes but keeps only accepted ones.
  template <bool kFiltered, bool kDeletions>
  void walk(const float* query, std::size_t k, std::size_t ef, const SlotFilter* filter,
            std::vector<Neighbor>& out) const {
    const auto& h = *hnsw_;
    const hnswlib::DISTFUNC<float> dist = h.fstdistfunc_;
    const void* param = h.dist_func_param_;

    tableint cur = h.enterpoint_node_;
    float cur_dist = dist(query, data(cur), param);
    descend(query, h.maxlevel_, 0, cur, cur_dist);

    auto lease = visited_.acquire(h.max_elements_);
    std::uint16_t* mark = lease->mark.data();
    const std::uint16_t epoch = lease->epoch;
    thread_local Scratch scratch;
    auto& cand = scratch.candidates;
    auto& res = scratch.results;
    cand.clear();
    res.clear();

    constexpr float kInf = std::numeric_limits<float>::infinity();
    float bound = kInf;  // distance of the farthest kept result once ef are kept
    mark[cur] = epoch;
    cand.push_back({cur_dist, cur});
    if (accepted<kFiltered, kDeletions>(cur, filter)) {
      res.push_back({cur_dist, cur});
      if (res.size() >= ef) bound = cur_dist;
    }
    std::size_t expansions = 0;
    while (!cand.empty()) {
      const Neighbor c = cand.front();
      if (c.distance > bound) break;
      if constexpr (kFiltered) {
        if (filter->max_expansions != 0 && ++expansions > filter->max_expansions) {
          filter->gave_up = true;
          out.clear();
          return;
        }
      }
      std::pop_heap(cand.begin(), cand.end(), Farther{});
      cand.pop_back();

      hnswlib::linklistsizeint* list = h.get_linklist0(c.slot);
      const unsigned n = h.getListCount(list);
      const tableint* links = reinterpret_cast<const tableint*>(list + 1);
      if (n > 0) {
        prefetch(mark + links[0]);
        prefetch(data(links[0]));
      }
      for (unsigned i = 0; i < n; ++i) {
        const tableint id = links[i];
        if (i + 1 < n) {
          prefetch(mark + links[i + 1]);
          prefetch(data(links[i + 1]));
        }
        if (mark[id] == epoch) continue;
        mark[id] = epoch;
        const float d = dist(query, data(id), param);
        if (d >= bound && res.size() >= ef) continue;
        cand.push_back({d, id});
        std::push_heap(cand.begin(), cand.end(), Farther{});
        if (!accepted<kFiltered, kDeletions>(id, filter)) continue;
        res.push_back({d, id});
        std::push_heap(res.begin(), res.end());
        if (res.size() > ef) {
          std::pop_heap(res.begin(), res.end());
          res.pop_back();
        }
        if (res.size() >= ef) bound = res.front().distance;
      }
    }

    std::sort_heap(res.begin(), res.end());
    const std::size_t keep = std::min(k, res.size());
    out.resize(keep);
    for (std::size_t i = 0; i < keep; ++i) {
      out[i] = {res[i].distance, static_cast<Slot>(h.getExternalLabel(res[i].slot))};
    }
  }

  NamespaceOptions options_;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;  // outlives hnsw_
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
  std::vector<tableint> internal_of_slot_;  // slot (= hnswlib label) -> internal id
  std::size_t upper_bytes_ = 0;
  std::size_t insert_threads_ = 1;
  mutable VisitedPool visited_;
};

}  // namespace

std::unique_ptr<VectorIndex> make_hnsw_index(const NamespaceOptions& options) {
  return std::make_unique<HnswIndex>(options);
}

// Measured with bench/graph_threshold (docs/performance.md, "Small namespaces"): the largest
// power of two at which the exact scan is still no slower than hnswlib's graph search at the
// default parameters (k 10, ef 50). The scan's cost grows with n * dimension, the graph's far
// more slowly; the crossover (a quiet run) was ~2,700 records at 64 dimensions, ~2,500 at 128,
// ~1,800 at 384 and ~2,000 at 784 (a run beside a build: 1,300-1,400 at 384 and 784).
std::size_t graph_threshold(const NamespaceOptions& options) noexcept {
  if (options.hnsw.graph_threshold != 0) return options.hnsw.graph_threshold;
  return options.dimension <= 256 ? 2048 : 1024;
}

}  // namespace detail
}  // namespace hnswstore
