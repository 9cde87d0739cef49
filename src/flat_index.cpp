// FlatIndex: exact search over one contiguous array of vectors.
#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <vector>

#include "distance.hpp"
#include "parallel.hpp"
#include "vector_index.hpp"

namespace hnswstore::detail {
namespace {

// Keeps the k smallest neighbours seen in a max-heap.
class TopK {
 public:
  TopK(std::size_t k, std::vector<Neighbor>& heap) : k_(k), heap_(heap) { heap_.clear(); }
  float bound() const noexcept { return heap_.size() < k_ ? kInf : heap_.front().distance; }
  void push(float d, Slot s) {
    if (heap_.size() < k_) {
      heap_.push_back({d, s});
      std::push_heap(heap_.begin(), heap_.end());
    } else if (Neighbor{d, s} < heap_.front()) {
      std::pop_heap(heap_.begin(), heap_.end());
      heap_.back() = {d, s};
      std::push_heap(heap_.begin(), heap_.end());
    }
  }
  void finish() { std::sort_heap(heap_.begin(), heap_.end()); }

 private:
  static constexpr float kInf = std::numeric_limits<float>::infinity();
  std::size_t k_;
  std::vector<Neighbor>& heap_;
};

template <Metric M>
void scan(const float* data, const std::uint8_t* removed, std::size_t n, std::size_t dim,
          const float* query, const SlotFilter* filter, TopK& top) {
  for (std::size_t s = 0; s < n; ++s) {
    if (removed[s]) continue;
    const float* v = data + s * dim;
    float d;
    if constexpr (M == Metric::kL2) {
      d = l2_squared(query, v, dim);
    } else if constexpr (M == Metric::kL1) {
      d = l1(query, v, dim);
    } else {
      d = 1.0f - dot(query, v, dim);
    }
    if (d > top.bound()) continue;
    if (filter != nullptr && !(*filter)(static_cast<Slot>(s))) continue;
    top.push(d, static_cast<Slot>(s));
  }
}

class FlatIndex final : public VectorIndex {
 public:
  explicit FlatIndex(const NamespaceOptions& o) : metric_(o.metric), dim_(o.dimension) {}

  std::size_t slot_count() const override { return removed_.size(); }
  std::size_t capacity() const override { return capacity_; }

  void reserve(std::size_t slots) override {
    if (slots <= capacity_) return;
    const std::size_t cap = grown_capacity(capacity_, slots);
    // Exact-size allocations keep unused capacity at the growth policy's bound.
    std::vector<float> data;
    data.reserve(cap * dim_);
    data.assign(data_.begin(), data_.end());
    std::vector<std::uint8_t> removed;
    removed.reserve(cap);
    removed.assign(removed_.begin(), removed_.end());
    data_.swap(data);
    removed_.swap(removed);
    capacity_ = cap;
  }

  void write(std::span<const VectorWrite> writes, std::size_t threads) override {
    std::size_t new_count = removed_.size();
    for (const auto& w : writes) new_count = std::max<std::size_t>(new_count, w.slot + 1u);
    reserve(new_count);
    data_.resize(new_count * dim_);
    removed_.resize(new_count, 1);
    parallel_for(writes.size(), threads, 4096, [&](std::size_t i) {
      const auto& w = writes[i];
      std::memcpy(data_.data() + std::size_t{w.slot} * dim_, w.vector, dim_ * sizeof(float));
      removed_[w.slot] = 0;
    });
  }

  void remove(Slot slot) override { removed_[slot] = 1; }
  bool is_removed(Slot slot) const override { return removed_[slot] != 0; }
  const float* vector(Slot slot) const override { return data_.data() + std::size_t{slot} * dim_; }

  void search(const float* query, std::size_t k, std::size_t /*ef*/, const SlotFilter* filter,
              std::vector<Neighbor>& out) const override {
    TopK top(k, out);
    const std::size_t n = removed_.size();
    switch (metric_) {
      case Metric::kL2:
        scan<Metric::kL2>(data_.data(), removed_.data(), n, dim_, query, filter, top);
        break;
      case Metric::kL1:
        scan<Metric::kL1>(data_.data(), removed_.data(), n, dim_, query, filter, top);
        break;
      case Metric::kInnerProduct:
      case Metric::kCosine:
        scan<Metric::kInnerProduct>(data_.data(), removed_.data(), n, dim_, query, filter, top);
        break;
    }
    top.finish();
  }

  std::size_t vector_bytes() const override { return removed_.size() * dim_ * sizeof(float); }
  std::size_t graph_bytes() const override { return 0; }
  std::size_t memory_bytes() const override {
    return sizeof(*this) + data_.capacity() * sizeof(float) + removed_.capacity();
  }

 private:
  Metric metric_;
  std::size_t dim_;
  std::size_t capacity_ = 0;
  std::vector<float> data_;             // slot s at [s * dim_, (s + 1) * dim_)
  std::vector<std::uint8_t> removed_;   // 1 = tombstone
};

}  // namespace

std::unique_ptr<VectorIndex> make_flat_index(const NamespaceOptions& options) {
  return std::make_unique<FlatIndex>(options);
}

void exact_search(const VectorIndex& index, Metric metric, std::size_t dimension,
                  const float* query, std::size_t k, const SlotFilter* filter,
                  std::vector<Neighbor>& out) {
  TopK top(k, out);
  const std::size_t n = index.slot_count();
  for (std::size_t s = 0; s < n; ++s) {
    const auto slot = static_cast<Slot>(s);
    if (index.is_removed(slot)) continue;
    const float d = distance(metric, query, index.vector(slot), dimension);
    if (d > top.bound()) continue;
    if (filter != nullptr && !(*filter)(slot)) continue;
    top.push(d, slot);
  }
  top.finish();
}

void exact_search_slots(const VectorIndex& index, Metric metric, std::size_t dimension,
                        const float* query, std::size_t k, std::span<const Slot> candidates,
                        const SlotFilter* filter, std::vector<Neighbor>& out) {
  TopK top(k, out);
  // Candidates are scattered through memory: fetch whole vectors (every cache line: one line
  // at a time, a 128-d scan waits on memory latency for every vector) about 24 lines ahead.
  const std::size_t lines = (dimension * sizeof(float) + 63) / 64;
  const std::size_t ahead = std::clamp<std::size_t>(24 / lines, 1, 8);
  auto fetch = [&](Slot s) {
    const char* p = reinterpret_cast<const char*>(index.vector(s));
    for (std::size_t l = 0; l < lines; ++l) __builtin_prefetch(p + 64 * l);
  };
  for (std::size_t i = 0; i < std::min(ahead, candidates.size()); ++i) fetch(candidates[i]);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (i + ahead < candidates.size()) fetch(candidates[i + ahead]);
    const Slot slot = candidates[i];
    const float d = distance(metric, query, index.vector(slot), dimension);
    if (d > top.bound()) continue;
    if (filter != nullptr && !(*filter)(slot)) continue;
    top.push(d, slot);
  }
  top.finish();
}

}  // namespace hnswstore::detail
