// Raw hnswlib: the very headers the library was built with, used the way hnswlib's own Python
// binding uses them (parallel addPoint over a shared index, searchKnn per query).
#include <hnswlib/hnswlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <thread>
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

  void set_ef(std::size_t ef) override { index_->setEf(ef); }

  void search(const float* query, std::size_t k, std::uint32_t* out) const override {
    auto top = index_->searchKnn(query, k);
    std::size_t n = top.size();
    for (std::size_t i = n; i < k; ++i) out[i] = kNoRow;
    while (!top.empty()) {
      out[--n] = static_cast<std::uint32_t>(top.top().second);
      top.pop();
    }
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
};

}  // namespace

std::unique_ptr<Engine> make_hnswlib_engine() { return std::make_unique<HnswlibEngine>(); }

}  // namespace hnswstore::bench
