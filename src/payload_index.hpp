// PayloadIndex: inverted lists over the top-level scalar fields of the metadata, so that the
// records matching a filter can be counted exactly and enumerated without reading every record
// (docs/filters.md, "Payload index").
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "filter_node.hpp"
#include "hnswstore/records.hpp"
#include "vector_index.hpp"

namespace hnswstore::detail {

/// One bit per slot.
class SlotBits {
 public:
  void assign(std::size_t slots) { words_.assign((slots + 63) / 64, 0); }
  std::size_t word_count() const noexcept { return words_.size(); }
  void set(Slot s) noexcept { words_[s >> 6] |= std::uint64_t{1} << (s & 63); }
  void reset(Slot s) noexcept {
    if ((s >> 6) < words_.size()) words_[s >> 6] &= ~(std::uint64_t{1} << (s & 63));
  }
  /// Grows (with zeros) so that slot s fits.
  void ensure(Slot s) {
    if ((s >> 6) >= words_.size()) words_.resize((std::size_t{s} >> 6) + 1, 0);
  }
  bool test(Slot s) const noexcept {
    return (s >> 6) < words_.size() && ((words_[s >> 6] >> (s & 63)) & 1) != 0;
  }
  std::uint64_t* data() noexcept { return words_.data(); }
  const std::uint64_t* data() const noexcept { return words_.data(); }
  std::size_t count() const noexcept;
  /// Calls f(slot) for every set bit, in increasing order.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t w = 0; w < words_.size(); ++w) {
      for (std::uint64_t bits = words_[w]; bits != 0; bits &= bits - 1) {
        f(static_cast<Slot>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))));
      }
    }
  }

 private:
  std::vector<std::uint64_t> words_;
};

/// What the payload index can say about a filter: `bits` holds every slot that passes the
/// indexed part (a superset of the matches unless `residual` is empty, then exactly them), and
/// `residual` lists the conditions it could not answer; each must hold as well (all ANDed).
/// When `indexed` is false nothing was answered: every live slot is a candidate.
struct FilterPlan {
  bool indexed = false;
  SlotBits bits;
  std::size_t count = 0;  // set bits
  std::vector<const FilterNode*> residual;

  bool exact() const noexcept { return indexed && residual.empty(); }
};

/// A sorted set of (key, slot) pairs that takes inserts and removes in O(sqrt n) amortised and
/// answers key ranges in O(log n + matches): a sorted main array (keys and slots in parallel
/// arrays, 12 bytes per entry for 8-byte keys), a small sorted buffer of additions, and a small
/// sorted list of main positions that were removed; both are merged into the main array when
/// they outgrow 4 sqrt(n). String keys point at the strings inside the stored metadata (no
/// copies); a removed main entry's key is repointed at a private copy until the next merge, so
/// that no key ever dangles.
template <class Key, class Less>
class Column {
 public:
  /// Adds the pair; false if it is there already.
  bool add(Key key, Slot slot);
  /// Removes the pair if it is there.
  void remove(Key key, Slot slot);
  bool empty() const noexcept { return keys_.size() == dead_.size() && added_.empty(); }
  /// Calls f(slot) for every pair whose key lies in the range: `lo` / `hi` null = unbounded.
  template <class F>
  void for_range(const Key* lo, bool lo_inclusive, const Key* hi, bool hi_inclusive, F&& f) const;
  template <class F>
  void for_each(F&& f) const { for_range(nullptr, false, nullptr, false, f); }
  std::size_t bytes() const noexcept;

 private:
  struct Entry {
    Key key;
    Slot slot;
  };
  static bool before(const Key& a, Slot as, const Key& b, Slot bs) noexcept {
    return Less{}(a, b) || (!Less{}(b, a) && as < bs);
  }
  std::size_t find_main(const Key& key, Slot slot) const noexcept;  // keys_.size() if absent
  void maybe_merge();

  std::vector<Key> keys_;             // main array, sorted by (key, slot)
  std::vector<Slot> slots_;
  std::vector<Entry> added_;          // sorted by (key, slot), not in main
  std::vector<std::uint32_t> dead_;   // sorted positions in main that were removed
  std::vector<std::unique_ptr<std::string>> graveyard_;  // copies for dead string keys
  std::size_t graveyard_bytes_ = 0;
};

struct StringLess {
  bool operator()(const std::string* a, const std::string* b) const noexcept { return *a < *b; }
};

class PayloadIndex {
 public:
  /// Marks the slot live with this metadata (an object, or null = {}). The metadata must stay
  /// at the same address until remove() (the index points at its strings); MetadataStore moves
  /// nlohmann values, which keeps their strings in place.
  void add(Slot slot, const Metadata& metadata);
  /// Forgets a live slot whose metadata is `metadata` (the object given to add).
  void remove(Slot slot, const Metadata& metadata);
  bool live(Slot slot) const noexcept { return live_.test(slot); }
  void clear();

  /// Answers what it can of `root` over slots [0, slot_count).
  void plan(const FilterNode& root, std::size_t slot_count, FilterPlan& out) const;

  /// Estimated heap bytes (libstdc++ node and vector sizes, as json_heap_bytes).
  std::size_t bytes() const noexcept;

  /// An upper bound of how much bytes() can grow when objects with these top-level fields are
  /// added: `values[field]` counts the field's values (array elements count one each) and
  /// `records` the objects (the memory quota's projection).
  std::size_t growth_bytes(const std::map<std::string, std::size_t, std::less<>>& values,
                           std::size_t records, std::size_t slots) const;

 private:
  struct Field {
    Column<std::string*, StringLess> strings;  // really const; Column needs one key type
    Column<double, std::less<double>> numbers;  // exactly representable as double
    Column<std::uint8_t, std::less<std::uint8_t>> bools;
    Column<std::uint8_t, std::less<std::uint8_t>> present;  // key 0: slots that have the field
    std::size_t inexact_numbers = 0;  // integers beyond 2^53, NaN: numeric conditions go residual
  };

  void update(Slot slot, const Metadata& metadata, bool add);
  void update_value(Field& field, Slot slot, const Metadata& value, bool add);
  bool eval(const FilterNode& node, std::size_t slot_count, SlotBits& out) const;
  bool eval_leaf(const FilterNode& node, const Field* field, std::size_t slot_count,
                 SlotBits& out) const;
  bool eval_eq(const Field* field, const nlohmann::json& operand, SlotBits& out) const;
  void complement(SlotBits& bits) const;  // live & ~bits

  SlotBits live_;
  std::map<std::string, Field, std::less<>> fields_;
};

}  // namespace hnswstore::detail
