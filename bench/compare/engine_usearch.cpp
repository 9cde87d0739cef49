// The usearch engine: unum::usearch::index_dense_t (header-only HNSW) with f32 storage.
//
// Compiled to a null factory unless CMake found the usearch headers (HNSWSTORE_BENCH_HAVE_USEARCH,
// set by engines.cmake, which also sets USEARCH_USE_NUMKONG=0 and USEARCH_USE_OPENMP=0: the SIMD
// plugin needs GCC 13, so distances run on usearch's portable loops).
//
// Threads: usearch keeps one scratch context (candidate heaps, visited set, cast buffer) per
// "thread slot", and two concurrent calls must never share a slot. build() passes each of its
// worker threads its own slot id explicitly. search() passes no id, so usearch pops a free slot
// from its own mutex-guarded pool for the duration of the call; a call that finds the pool empty
// fails instead of waiting. The index therefore reserves kSearchSlots slots (twice the hardware
// threads, each a few KB until used), and a semaphore with as many permits makes any extra
// concurrent caller wait for a slot instead of failing.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <semaphore>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine.hpp"

#if HNSWSTORE_BENCH_HAVE_USEARCH
#include <usearch/index_dense.hpp>
#endif

namespace hnswstore::bench {

#if HNSWSTORE_BENCH_HAVE_USEARCH
namespace {

namespace us = unum::usearch;

class UsearchEngine final : public Engine {
 public:
  std::string name() const override { return "usearch"; }

  std::string version() const override {
    return std::to_string(USEARCH_VERSION_MAJOR) + "." + std::to_string(USEARCH_VERSION_MINOR) +
           "." + std::to_string(USEARCH_VERSION_PATCH) + " (no SIMD plugin: needs GCC 13)";
  }

  void build(const Rows& rows, Space space, const BuildParams& p, std::size_t threads) override {
    // Cosine rows arrive normalised, so inner product ranks them by cosine (cos_k would
    // normalise them again in every distance).
    const us::metric_kind_t kind =
        space == Space::kL2 ? us::metric_kind_t::l2sq_k : us::metric_kind_t::ip_k;
    const us::metric_punned_t metric(rows.dim, kind, us::scalar_kind_t::f32_k);
    // usearch draws node levels from a per-slot generator it does not let callers seed, so
    // p.seed has no effect here.
    index_ = take(us::index_dense_t::make(metric, us::index_dense_config_t(p.m, p.ef_construction)),
                  "usearch");
    threads = std::max<std::size_t>(1, threads);
    reserve(rows.n, threads);
    index_.change_expansion_search(ef_);

    // Rows are handed out one at a time from a shared counter; worker t uses slot t.
    std::atomic<std::size_t> next{0};
    std::atomic<const char*> error{nullptr};
    auto work = [&](std::size_t slot) {
      for (std::size_t i = next++; i < rows.n && error.load() == nullptr; i = next++) {
        auto added = index_.add(i, rows.row(i), slot);
        if (!added) error = added.error.release();
      }
    };
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) workers.emplace_back(work, t);
    for (auto& w : workers) w.join();
    if (error.load() != nullptr) throw std::runtime_error(std::string("usearch: ") + error.load());
  }

  void set_ef(std::size_t ef) override {
    ef_ = ef;
    index_.change_expansion_search(ef);
  }

  void search(const float* query, std::size_t k, std::uint32_t* out) const override {
    const SlotPermit permit(free_slots_);
    // The result borrows the slot's buffers and gives the slot back to usearch's pool when
    // destroyed, which happens before the permit's release.
    auto result = index_.search(query, k);
    if (!result) throw std::runtime_error(std::string("usearch: ") + result.error.release());
    const std::size_t found = result.size();
    for (std::size_t i = 0; i < found; ++i) {
      out[i] = static_cast<std::uint32_t>(result[i].member.key);
    }
    std::fill(out + found, out + k, kNoRow);
  }

  bool save(const std::string& dir) override {
    auto saved = index_.save(path(dir).c_str());
    if (!saved) throw std::runtime_error("usearch: " + path(dir) + ": " + saved.error.release());
    return true;
  }

  bool load(const std::string& dir) override {
    index_ = take(us::index_dense_t::make(path(dir).c_str()), "usearch: " + path(dir));
    // A loaded index has one slot per hardware thread; give it the search slots again.
    reserve(index_.size(), 0);
    index_.change_expansion_search(ef_);
    return true;
  }

  std::size_t reported_memory() const override { return index_.memory_usage(); }

 private:
  static std::string path(const std::string& dir) { return dir + "/index.usearch"; }

  // The index in `made`, or its error as an exception. Assigned from a temporary, the new index
  // swaps places with the old one, which the temporary then frees at once.
  static us::index_dense_t take(us::index_dense_t::state_result_t made, const std::string& what) {
    if (!made) throw std::runtime_error(what + ": " + made.error.release());
    return std::move(made.index);
  }

  // Holds one of the kSearchSlots permits for the lifetime of a search.
  class SlotPermit {
   public:
    explicit SlotPermit(std::counting_semaphore<>& permits) : permits_(permits) {
      permits_.acquire();
    }
    ~SlotPermit() { permits_.release(); }
    SlotPermit(const SlotPermit&) = delete;
    SlotPermit& operator=(const SlotPermit&) = delete;

   private:
    std::counting_semaphore<>& permits_;
  };

  // Room for `members` vectors, and slots for `adders` build threads or kSearchSlots searches.
  void reserve(std::size_t members, std::size_t adders) {
    index_.reserve(us::index_limits_t(members, std::max(adders, kSearchSlots)));
  }

  static inline const std::size_t kSearchSlots =
      2 * std::max<std::size_t>(1, std::thread::hardware_concurrency());

  us::index_dense_t index_;
  std::size_t ef_ = us::default_expansion_search();
  mutable std::counting_semaphore<> free_slots_{static_cast<std::ptrdiff_t>(kSearchSlots)};
};

}  // namespace
#endif

std::unique_ptr<Engine> make_usearch_engine() {
#if HNSWSTORE_BENCH_HAVE_USEARCH
  return std::make_unique<UsearchEngine>();
#else
  return nullptr;
#endif
}

}  // namespace hnswstore::bench
