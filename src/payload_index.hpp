// PayloadIndex: inverted lists over the top-level scalar fields of the metadata, so that the
// records matching a filter can be counted exactly and enumerated without reading every record
// (ARCHITECTURE.md section 6, docs/filters.md "Payload index").
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
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

class PayloadIndex {
 public:
  /// Strings longer than this are not indexed (a field holding long text would otherwise cost as
  /// much as the text); conditions they could satisfy are evaluated on the records.
  static constexpr std::size_t kMaxIndexedString = 64;

  /// Marks the slot live with this metadata (an object, or null = {}).
  void add(Slot slot, const Metadata& metadata);
  /// Forgets a live slot whose metadata is `metadata` (as given to add).
  void remove(Slot slot, const Metadata& metadata);
  bool live(Slot slot) const noexcept { return live_.test(slot); }
  void clear();

  /// Answers what it can of `root` over slots [0, slot_count).
  void plan(const FilterNode& root, std::size_t slot_count, FilterPlan& out) const;

  /// Estimated heap bytes (libstdc++ node and vector sizes, as json_heap_bytes).
  std::size_t bytes() const noexcept { return bytes_ + live_.word_count() * 8; }

 private:
  using Posting = std::vector<Slot>;  // sorted, unique
  struct Field {
    std::map<std::string, Posting, std::less<>> strings;  // up to kMaxIndexedString bytes
    std::map<double, Posting> numbers;  // exactly representable as double
    Posting bools[2];
    Posting present;                    // every slot that has the field
    std::size_t long_strings = 0;       // string values not indexed (their number)
    std::size_t inexact_numbers = 0;    // integers beyond 2^53, NaN
  };

  void update(Slot slot, const Metadata& metadata, bool add);
  void update_value(Field& field, Slot slot, const Metadata& value, bool add);
  void insert(Posting& p, Slot slot);
  void erase(Posting& p, Slot slot);
  bool eval(const FilterNode& node, std::size_t slot_count, SlotBits& out) const;
  bool eval_leaf(const FilterNode& node, const Field* field, std::size_t slot_count,
                 SlotBits& out) const;
  bool eval_eq(const Field* field, const nlohmann::json& operand, SlotBits& out) const;
  void complement(SlotBits& bits) const;  // live & ~bits

  SlotBits live_;
  std::map<std::string, Field, std::less<>> fields_;
  std::size_t bytes_ = 0;
};

}  // namespace hnswstore::detail
