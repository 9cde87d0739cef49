// IdMap: string id <-> dense slot, holding each id string once.
//
// The ids live in a vector indexed by slot; the lookup from id to slot is an open-addressing
// table of slots (linear probing, at most half full), 8 to 16 bytes per id where a node-based
// hash set costs about 40. Tenants with many small records pay for every byte here.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <xxhash.h>

#include "vector_index.hpp"

namespace hnswstore::detail {

class IdMap {
 public:
  IdMap() = default;
  IdMap(const IdMap&) = delete;
  IdMap& operator=(const IdMap&) = delete;
  IdMap(IdMap&&) noexcept = default;
  IdMap& operator=(IdMap&&) noexcept = default;

  std::size_t size() const noexcept { return size_; }

  std::optional<Slot> find(std::string_view id) const {
    if (table_.empty()) return std::nullopt;
    for (std::size_t i = home(id);; i = (i + 1) & mask()) {
      const Slot s = table_[i];
      if (s == kEmpty) return std::nullopt;
      if (s != kErased && ids_[s] == id) return s;
    }
  }

  /// Maps `id` (not yet present) to `slot`. Throws std::bad_alloc; on throw nothing changed.
  void insert(std::string_view id, Slot slot) {
    if (2 * (size_ + erased_ + 1) > table_.size()) {
      rehash(std::bit_ceil(std::max<std::size_t>(16, 4 * (size_ + 1))));
    }
    if (slot >= ids_.size()) ids_.resize(std::size_t{slot} + 1);
    ids_[slot].assign(id.data(), id.size());
    heap_bytes_ += string_heap_bytes(ids_[slot]);
    std::size_t i = home(id);
    while (table_[i] != kEmpty && table_[i] != kErased) i = (i + 1) & mask();
    if (table_[i] == kErased) --erased_;
    table_[i] = slot;
    ++size_;
  }

  void erase(Slot slot) {
    const std::string& id = ids_[slot];
    std::size_t i = home(id);
    while (table_[i] != slot) i = (i + 1) & mask();
    table_[i] = kErased;  // keeps the probe chains through this place intact
    ++erased_;
    --size_;
    heap_bytes_ -= string_heap_bytes(id);
    std::string().swap(ids_[slot]);
  }

  const std::string& id(Slot slot) const { return ids_[slot]; }

  /// A copy holding the id of every slot s at new_slot[s], new_size slots (compaction builds it
  /// under the shared lock, beside readers of this one, and swaps it in).
  IdMap renumbered(const std::vector<Slot>& new_slot, std::size_t new_size) const {
    IdMap out;
    out.ids_.resize(new_size);
    for (std::size_t s = 0; s < ids_.size() && s < new_slot.size(); ++s) {
      if (ids_[s].empty()) continue;
      std::string& id = out.ids_[new_slot[s]];
      id = ids_[s];
      out.heap_bytes_ += string_heap_bytes(id);
      ++out.size_;
    }
    out.table_.assign(
        out.size_ == 0 ? 0 : std::bit_ceil(std::max<std::size_t>(16, 4 * out.size_)), kEmpty);
    for (std::size_t s = 0; s < out.ids_.size(); ++s) {
      if (!out.ids_[s].empty()) out.place(static_cast<Slot>(s));
    }
    return out;
  }

  /// Bytes that holding `ids` ids in `slots` slots would add (for quota projections).
  std::size_t growth_bytes(std::size_t slots, std::size_t ids) const noexcept {
    std::size_t extra = 0;
    if (slots > ids_.capacity()) {
      extra += (std::max(slots, 2 * ids_.capacity()) - ids_.capacity()) * sizeof(std::string);
    }
    if (2 * (ids + erased_) > table_.size()) {
      extra += std::bit_ceil(std::max<std::size_t>(16, 4 * ids)) * sizeof(Slot);
    }
    return extra;
  }

  std::size_t memory_bytes() const noexcept {
    return table_.capacity() * sizeof(Slot) + ids_.capacity() * sizeof(std::string) +
           heap_bytes_;
  }

 private:
  static constexpr Slot kEmpty = 0xFFFFFFFFu;   // never used
  static constexpr Slot kErased = 0xFFFFFFFEu;  // used, then erased (above kMaxSlots)

  static std::size_t string_heap_bytes(const std::string& s) noexcept {
    return s.capacity() > 15 ? s.capacity() + 1 : 0;
  }
  std::size_t mask() const noexcept { return table_.size() - 1; }
  std::size_t home(std::string_view id) const noexcept {
    return static_cast<std::size_t>(XXH3_64bits(id.data(), id.size())) & mask();
  }
  void place(Slot slot) {
    std::size_t i = home(ids_[slot]);
    while (table_[i] != kEmpty) i = (i + 1) & mask();
    table_[i] = slot;
  }
  // A table of `buckets` places holding the live ids (erased places are dropped).
  void rehash(std::size_t buckets) {
    std::vector<Slot> table(buckets, kEmpty);  // may throw: nothing changed yet
    for (const Slot s : table_) {
      if (s == kEmpty || s == kErased) continue;
      std::size_t i = static_cast<std::size_t>(XXH3_64bits(ids_[s].data(), ids_[s].size())) &
                      (buckets - 1);
      while (table[i] != kEmpty) i = (i + 1) & (buckets - 1);
      table[i] = s;
    }
    table_.swap(table);
    erased_ = 0;
  }

  std::vector<std::string> ids_;  // by slot; empty = free (ids are never empty)
  std::vector<Slot> table_;       // open addressing; size 0 or a power of two
  std::size_t size_ = 0, erased_ = 0;
  std::size_t heap_bytes_ = 0;
};

}  // namespace hnswstore::detail
