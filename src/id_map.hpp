// IdMap: string id <-> dense slot, holding each id string once.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <xxhash.h>

#include "vector_index.hpp"

namespace hnswstore::detail {

class IdMap {
 public:
  IdMap() : index_(0, Hash{this}, Equal{this}) {}
  IdMap(const IdMap&) = delete;
  IdMap& operator=(const IdMap&) = delete;

  std::size_t size() const noexcept { return index_.size(); }

  std::optional<Slot> find(std::string_view id) const {
    auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    return *it;
  }

  /// Maps a new id (not present) to a free slot.
  void insert(std::string_view id, Slot slot) {
    if (slot >= ids_.size()) ids_.resize(std::size_t{slot} + 1);
    ids_[slot].assign(id.data(), id.size());
    heap_bytes_ += string_heap_bytes(ids_[slot]);
    try {
      index_.insert(slot);
    } catch (...) {
      heap_bytes_ -= string_heap_bytes(ids_[slot]);
      std::string().swap(ids_[slot]);
      throw;
    }
  }

  /// Unmaps the id of a mapped slot.
  void erase(Slot slot) {
    index_.erase(slot);
    heap_bytes_ -= string_heap_bytes(ids_[slot]);
    std::string().swap(ids_[slot]);
  }

  const std::string& id(Slot slot) const { return ids_[slot]; }

  /// Moves every mapped slot s to new_slot[s] (compaction); unmapped slots must map nowhere.
  void renumber(const std::vector<Slot>& new_slot, std::size_t new_size) {
    // Copies, so that a failed allocation leaves the map as it was.
    std::vector<std::string> ids(new_size);
    std::size_t heap = 0;
    for (std::size_t s = 0; s < ids_.size() && s < new_slot.size(); ++s) {
      if (!ids_[s].empty()) {
        ids[new_slot[s]] = ids_[s];
        heap += string_heap_bytes(ids[new_slot[s]]);
      }
    }
    ids_.swap(ids);
    try {
      std::unordered_set<Slot, Hash, Equal> index(new_size, Hash{this}, Equal{this});
      for (std::size_t s = 0; s < ids_.size(); ++s) {
        if (!ids_[s].empty()) index.insert(static_cast<Slot>(s));
      }
      index_.swap(index);
    } catch (...) {
      ids_.swap(ids);
      throw;
    }
    heap_bytes_ = heap;
  }

  /// Bytes memory_bytes() may grow by when the map reaches `slots` slots and `ids` ids (the
  /// slot table and the hash table grow geometrically), not counting the ids themselves.
  std::size_t growth_bytes(std::size_t slots, std::size_t ids) const noexcept {
    std::size_t extra = 0;
    if (slots > ids_.capacity()) {
      extra += (std::max(slots, 2 * ids_.capacity()) - ids_.capacity()) * sizeof(std::string);
    }
    if (static_cast<double>(ids) >
        static_cast<double>(index_.bucket_count()) * static_cast<double>(index_.max_load_factor())) {
      extra += (std::max<std::size_t>(ids, 2 * index_.bucket_count()) + 64) * sizeof(void*);
    }
    return extra;
  }

  std::size_t memory_bytes() const noexcept {
    // Buckets, one node per id (next pointer, slot, cached hash), the slot-indexed strings.
    return index_.bucket_count() * sizeof(void*) + index_.size() * 4 * sizeof(void*) +
           ids_.capacity() * sizeof(std::string) + heap_bytes_;
  }

 private:
  static std::size_t string_heap_bytes(const std::string& s) noexcept {
    return s.capacity() > 15 ? s.capacity() + 1 : 0;
  }
  struct Hash {
    using is_transparent = void;
    const IdMap* map;
    std::size_t operator()(Slot s) const { return (*this)(std::string_view(map->ids_[s])); }
    std::size_t operator()(std::string_view id) const {
      return static_cast<std::size_t>(XXH3_64bits(id.data(), id.size()));
    }
  };
  struct Equal {
    using is_transparent = void;
    const IdMap* map;
    std::string_view view(Slot s) const { return map->ids_[s]; }
    static std::string_view view(std::string_view v) { return v; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return view(a) == view(b);
    }
  };

  std::vector<std::string> ids_;  // by slot; empty = free (ids are never empty)
  std::unordered_set<Slot, Hash, Equal> index_;
  std::size_t heap_bytes_ = 0;
};

}  // namespace hnswstore::detail
