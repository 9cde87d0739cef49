// MetadataStore: one JSON object per slot, with a running estimate of its heap use.
// The payload index for filters will live beside it (ARCHITECTURE.md section 6).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

#include "hnswstore/records.hpp"
#include "vector_index.hpp"

namespace hnswstore::detail {

/// Approximate heap bytes of a JSON value beyond sizeof(Metadata) (libstdc++ node sizes).
std::size_t json_heap_bytes(const Metadata& value) noexcept;

class MetadataStore {
 public:
  const Metadata& get(Slot slot) const { return values_[slot]; }

  /// Stores `value` at slot (growing the table), returning the previous value.
  Metadata set(Slot slot, Metadata value) {
    if (slot >= values_.size()) values_.resize(std::size_t{slot} + 1);
    bytes_ += json_heap_bytes(value);
    bytes_ -= json_heap_bytes(values_[slot]);
    std::swap(values_[slot], value);
    return value;
  }

  /// Frees the slot's value.
  Metadata clear(Slot slot) { return set(slot, Metadata()); }

  /// Moves the value of every slot s to new_slot[s] (compaction).
  void renumber(const std::vector<Slot>& new_slot, const std::vector<bool>& live,
                std::size_t new_size) {
    std::vector<Metadata> values(new_size);
    for (std::size_t s = 0; s < values_.size() && s < new_slot.size(); ++s) {
      if (live[s]) values[new_slot[s]] = std::move(values_[s]);
    }
    values_.swap(values);
    bytes_ = 0;
    for (const auto& v : values_) bytes_ += json_heap_bytes(v);
  }

  /// Bytes the slot table may grow by when it reaches `slots` slots (it grows geometrically).
  std::size_t growth_bytes(std::size_t slots) const noexcept {
    if (slots <= values_.capacity()) return 0;
    return (std::max(slots, 2 * values_.capacity()) - values_.capacity()) * sizeof(Metadata);
  }

  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t memory_bytes() const noexcept {
    return values_.capacity() * sizeof(Metadata) + bytes_;
  }

 private:
  std::vector<Metadata> values_;  // by slot; null for free slots
  std::size_t bytes_ = 0;
};

}  // namespace hnswstore::detail
