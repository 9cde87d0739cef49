// MetadataStore: one JSON object per slot, with a running estimate of its heap use, and the
// payload index that answers filters over it (payload_index.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "hnswstore/records.hpp"
#include "payload_index.hpp"
#include "vector_index.hpp"

namespace hnswstore::detail {

/// Approximate heap bytes of a JSON value beyond sizeof(Metadata) (libstdc++ node sizes).
std::size_t json_heap_bytes(const Metadata& value) noexcept;

class MetadataStore {
 public:
  MetadataStore() = default;
  // The payload index points at strings inside values_: a copy would point at the original's.
  MetadataStore(const MetadataStore&) = delete;
  MetadataStore& operator=(const MetadataStore&) = delete;
  MetadataStore(MetadataStore&&) noexcept = default;
  MetadataStore& operator=(MetadataStore&&) noexcept = default;

  /// The metadata of a live slot (an empty object when it has none).
  const Metadata& get(Slot slot) const {
    const Metadata& v = values_[slot];
    return v.is_null() ? empty_object() : v;
  }

  /// Stores `value` at slot (growing the table), which is live from now on, returning the
  /// previous value. An empty object is kept as null, which allocates nothing: an empty nlohmann
  /// object is a heap-allocated std::map, about 64 bytes for every record without metadata.
  Metadata set(Slot slot, Metadata value) {
    if (slot >= values_.size()) values_.resize(std::size_t{slot} + 1);
    if (value.is_object() && value.empty()) value = Metadata();
    const bool was_live = index_.live(slot);
    if (was_live) index_.remove(slot, values_[slot]);
    try {
      index_.add(slot, value);
    } catch (...) {
      // Out of memory part-way: the index must not keep pointers into `value`, which dies
      // with this call; put the old value back (best effort) and let the caller roll back.
      try {
        index_.remove(slot, value);
        if (was_live) index_.add(slot, values_[slot]);
      } catch (...) {
      }
      throw;
    }
    return swap_in(slot, std::move(value));
  }

  /// Frees the slot's value; the slot is no longer live.
  Metadata clear(Slot slot) {
    if (slot >= values_.size()) return Metadata::object();
    if (index_.live(slot)) index_.remove(slot, values_[slot]);
    return swap_in(slot, Metadata());
  }

  /// A copy holding the value of every live slot s at new_slot[s], with its own payload index
  /// (compaction builds it under the shared lock, beside readers of this one, and swaps it in).
  MetadataStore renumbered(const std::vector<Slot>& new_slot, const std::vector<bool>& live,
                           std::size_t new_size) const {
    MetadataStore out;
    out.values_.resize(new_size);
    for (std::size_t s = 0; s < values_.size() && s < new_slot.size(); ++s) {
      if (live[s]) out.values_[new_slot[s]] = values_[s];
    }
    for (std::size_t s = 0; s < out.values_.size(); ++s) {
      out.bytes_ += json_heap_bytes(out.values_[s]);
      out.index_.add(static_cast<Slot>(s), out.values_[s]);
    }
    return out;
  }

  /// The payload index (read under the namespace's shared lock).
  const PayloadIndex& index() const noexcept { return index_; }

  /// Bytes the slot table may grow by when it reaches `slots` slots (it grows geometrically).
  std::size_t growth_bytes(std::size_t slots) const noexcept {
    if (slots <= values_.capacity()) return 0;
    return (std::max(slots, 2 * values_.capacity()) - values_.capacity()) * sizeof(Metadata);
  }

  /// The metadata objects' estimated heap use (the payload index not included).
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t index_bytes() const noexcept { return index_.bytes(); }
  /// How much the payload index may grow when these objects are stored (the memory quota).
  template <class Range, class Get>
  std::size_t index_growth_bytes(const Range& inputs, Get metadata_of, std::size_t slots) const {
    std::map<std::string, std::size_t, std::less<>> values;
    std::size_t records = 0;
    for (const auto& in : inputs) {
      const Metadata& m = metadata_of(in);
      ++records;
      if (!m.is_object()) continue;
      for (const auto& [key, value] : m.items()) {
        values[key] += value.is_array() ? value.size() : 1;
      }
    }
    return index_.growth_bytes(values, records, slots);
  }
  std::size_t memory_bytes() const noexcept {
    return values_.capacity() * sizeof(Metadata) + bytes_ + index_.bytes();
  }

 private:
  Metadata swap_in(Slot slot, Metadata value) {
    bytes_ += json_heap_bytes(value);
    bytes_ -= json_heap_bytes(values_[slot]);
    std::swap(values_[slot], value);
    return value.is_null() ? Metadata::object() : value;
  }

  static const Metadata& empty_object() {
    static const Metadata empty = Metadata::object();
    return empty;
  }

  std::vector<Metadata> values_;  // by slot; null for free slots and for empty metadata
  std::size_t bytes_ = 0;
  PayloadIndex index_;
};

}  // namespace hnswstore::detail
