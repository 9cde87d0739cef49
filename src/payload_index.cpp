#include "payload_index.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>
#include <type_traits>

namespace hnswstore::detail {

using json = nlohmann::json;

namespace {

// libstdc++ sizes, as json_heap_bytes counts them: a red-black tree node's header (colour and
// three pointers), a std::string's heap buffer beyond its 15-byte inline one.
constexpr std::size_t kTreeNode = 4 * sizeof(void*);
std::size_t string_heap(std::size_t length) noexcept { return length > 15 ? length + 1 : 0; }

constexpr double kMaxExact = 9007199254740992.0;  // 2^53

// The value as a double when that is exact (so that the index orders it as compare_numbers does).
std::optional<double> exact_double(const json& v) noexcept {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(kMaxExact)) return std::nullopt;
    return static_cast<double>(u);
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i > static_cast<std::int64_t>(kMaxExact) || i < -static_cast<std::int64_t>(kMaxExact)) {
      return std::nullopt;
    }
    return static_cast<double>(i);
  }
  const double d = v.get<double>();
  if (std::isnan(d)) return std::nullopt;
  return d == 0.0 ? 0.0 : d;  // -0.0 and 0.0 are one key
}

}  // namespace

std::size_t SlotBits::count() const noexcept {
  std::size_t n = 0;
  for (const std::uint64_t w : words_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

// ── Column ──────────────────────────────────────────────────────────────────────────────────

template <class Key, class Less>
std::size_t Column<Key, Less>::find_main(const Key& key, Slot slot) const noexcept {
  std::size_t lo = 0, hi = keys_.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (before(keys_[mid], slots_[mid], key, slot)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < keys_.size() && slots_[lo] == slot && !Less{}(key, keys_[lo]) &&
      !Less{}(keys_[lo], key)) {
    return lo;
  }
  return keys_.size();
}

template <class Key, class Less>
bool Column<Key, Less>::add(Key key, Slot slot) {
  const std::size_t at = find_main(key, slot);
  if (at != keys_.size()) {
    const auto d = std::lower_bound(dead_.begin(), dead_.end(), static_cast<std::uint32_t>(at));
    if (d == dead_.end() || *d != at) return false;  // there, alive
    dead_.erase(d);  // revive it, pointing at the live key again
    keys_[at] = key;
    return true;
  }
  const auto it = std::lower_bound(added_.begin(), added_.end(), Entry{key, slot},
                                   [](const Entry& a, const Entry& b) {
                                     return before(a.key, a.slot, b.key, b.slot);
                                   });
  if (it != added_.end() && it->slot == slot && !Less{}(key, it->key) && !Less{}(it->key, key)) {
    return false;
  }
  added_.insert(it, Entry{key, slot});
  maybe_merge();
  return true;
}

template <class Key, class Less>
void Column<Key, Less>::remove(Key key, Slot slot) {
  const auto it = std::lower_bound(added_.begin(), added_.end(), Entry{key, slot},
                                   [](const Entry& a, const Entry& b) {
                                     return before(a.key, a.slot, b.key, b.slot);
                                   });
  if (it != added_.end() && it->slot == slot && !Less{}(key, it->key) && !Less{}(it->key, key)) {
    added_.erase(it);
    return;
  }
  const std::size_t at = find_main(key, slot);
  if (at == keys_.size()) return;
  const auto d = std::lower_bound(dead_.begin(), dead_.end(), static_cast<std::uint32_t>(at));
  if (d != dead_.end() && *d == at) return;
  dead_.insert(d, static_cast<std::uint32_t>(at));
  if constexpr (std::is_pointer_v<Key>) {
    // The metadata holding the string is about to go: keep the order with a private copy.
    graveyard_.push_back(std::make_unique<std::string>(*keys_[at]));
    graveyard_bytes_ += sizeof(std::string) + string_heap(graveyard_.back()->size());
    keys_[at] = graveyard_.back().get();
  }
  maybe_merge();
}

template <class Key, class Less>
void Column<Key, Less>::maybe_merge() {
  const std::size_t pending = added_.size() + dead_.size();
  const auto limit = std::max<std::size_t>(
      256, static_cast<std::size_t>(4.0 * std::sqrt(static_cast<double>(keys_.size()))));
  // Copies of removed long strings (text) must not outweigh the column: at most 2 bytes per
  // entry on average.
  if (pending <= limit && graveyard_bytes_ <= 2 * keys_.size() + 4096) return;
  std::vector<Key> keys;
  std::vector<Slot> slots;
  const std::size_t n = keys_.size() - dead_.size() + added_.size();
  keys.reserve(n);
  slots.reserve(n);
  std::size_t d = 0, a = 0;
  for (std::size_t i = 0; i <= keys_.size(); ++i) {
    const bool end = i == keys_.size();
    // Additions that sort before main entry i.
    while (a < added_.size() &&
           (end || before(added_[a].key, added_[a].slot, keys_[i], slots_[i]))) {
      keys.push_back(added_[a].key);
      slots.push_back(added_[a].slot);
      ++a;
    }
    if (end) break;
    if (d < dead_.size() && dead_[d] == i) {
      ++d;
      continue;
    }
    keys.push_back(keys_[i]);
    slots.push_back(slots_[i]);
  }
  keys_.swap(keys);
  slots_.swap(slots);
  added_.clear();
  dead_.clear();
  graveyard_.clear();
  graveyard_bytes_ = 0;
}

template <class Key, class Less>
template <class F>
void Column<Key, Less>::for_range(const Key* lo, bool lo_inclusive, const Key* hi,
                                  bool hi_inclusive, F&& f) const {
  auto first_of = [&](const auto& seq, auto key_of) {
    if (lo == nullptr) return std::size_t{0};
    const auto it = std::partition_point(seq.begin(), seq.end(), [&](const auto& e) {
      return lo_inclusive ? Less{}(key_of(e), *lo) : !Less{}(*lo, key_of(e));
    });
    return static_cast<std::size_t>(it - seq.begin());
  };
  auto end_of = [&](const auto& seq, auto key_of) {
    if (hi == nullptr) return seq.size();
    const auto it = std::partition_point(seq.begin(), seq.end(), [&](const auto& e) {
      return hi_inclusive ? !Less{}(*hi, key_of(e)) : Less{}(key_of(e), *hi);
    });
    return static_cast<std::size_t>(it - seq.begin());
  };
  auto same = [](const Key& k) -> const Key& { return k; };
  const std::size_t b = first_of(keys_, same), e = std::max(b, end_of(keys_, same));
  auto d = std::lower_bound(dead_.begin(), dead_.end(), static_cast<std::uint32_t>(b));
  for (std::size_t i = b; i < e; ++i) {
    if (d != dead_.end() && *d == i) {
      ++d;
      continue;
    }
    f(slots_[i]);
  }
  auto entry_key = [](const Entry& x) -> const Key& { return x.key; };
  const std::size_t ab = first_of(added_, entry_key), ae = std::max(ab, end_of(added_, entry_key));
  for (std::size_t i = ab; i < ae; ++i) f(added_[i].slot);
}

template <class Key, class Less>
std::size_t Column<Key, Less>::bytes() const noexcept {
  std::size_t n = keys_.capacity() * sizeof(Key) + slots_.capacity() * sizeof(Slot) +
                  added_.capacity() * sizeof(Entry) + dead_.capacity() * sizeof(std::uint32_t) +
                  graveyard_.capacity() * sizeof(void*);
  return n + graveyard_bytes_;
}

// ── PayloadIndex ────────────────────────────────────────────────────────────────────────────

void PayloadIndex::update_value(Field& field, Slot slot, const json& value, bool add) {
  switch (value.type()) {
    case json::value_t::string: {
      // The column points at the string inside the stored metadata (see Column).
      auto* key = const_cast<std::string*>(&value.get_ref<const std::string&>());
      add ? void(field.strings.add(key, slot)) : field.strings.remove(key, slot);
      return;
    }
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: {
      const auto d = exact_double(value);
      if (!d) {
        field.inexact_numbers += add ? 1 : static_cast<std::size_t>(-1);
        return;
      }
      add ? void(field.numbers.add(*d, slot)) : field.numbers.remove(*d, slot);
      return;
    }
    case json::value_t::boolean: {
      const std::uint8_t b = value.get<bool>() ? 1 : 0;
      add ? void(field.bools.add(b, slot)) : field.bools.remove(b, slot);
      return;
    }
    case json::value_t::array:
      // Elements count as values of the field ({"tags": "a"} matches ["a", "b"]); nested arrays
      // and objects never match a scalar operand, so they are not indexed.
      for (const auto& element : value) {
        if (!element.is_array() && !element.is_object()) update_value(field, slot, element, add);
      }
      return;
    default:
      return;  // null, objects: only "present"
  }
}

void PayloadIndex::update(Slot slot, const Metadata& metadata, bool add) {
  if (!metadata.is_object()) return;
  for (const auto& [key, value] : metadata.get_ref<const json::object_t&>()) {
    auto it = fields_.find(key);
    if (it == fields_.end()) {
      if (!add) continue;
      it = fields_.emplace(key, Field()).first;
    }
    Field& field = it->second;
    add ? void(field.present.add(0, slot)) : field.present.remove(0, slot);
    update_value(field, slot, value, add);
    if (!add && field.present.empty()) fields_.erase(it);
  }
}

void PayloadIndex::add(Slot slot, const Metadata& metadata) {
  live_.ensure(slot);
  live_.set(slot);
  update(slot, metadata, true);
}

void PayloadIndex::remove(Slot slot, const Metadata& metadata) {
  live_.reset(slot);
  update(slot, metadata, false);
}

void PayloadIndex::clear() {
  live_ = SlotBits();
  fields_.clear();
}

std::size_t PayloadIndex::bytes() const noexcept {
  std::size_t n = live_.word_count() * sizeof(std::uint64_t);
  for (const auto& [key, field] : fields_) {
    n += kTreeNode + sizeof(std::string) + string_heap(key.size()) + sizeof(Field) +
         field.strings.bytes() + field.numbers.bytes() + field.bools.bytes() +
         field.present.bytes();
  }
  return n;
}

std::size_t PayloadIndex::growth_bytes(
    const std::map<std::string, std::size_t, std::less<>>& values, std::size_t records,
    std::size_t slots) const {
  std::size_t n = slots / 8 + 64;  // the live bitmap
  for (const auto& [key, count] : values) {
    // Each value (and each record's presence) lands in a column's addition buffer (16 bytes an
    // entry), whose capacity may double, and a merge moves the buffer into main arrays (12).
    // The buffer of every column the field uses may have to grow once to its limit.
    const std::size_t entries = count + records;
    const auto limit = std::max<std::size_t>(
        256, static_cast<std::size_t>(4.0 * std::sqrt(static_cast<double>(slots + entries))));
    n += entries * (2 * 16 + 12) + 4 * 2 * limit * 16;
    if (fields_.find(key) == fields_.end()) {
      n += kTreeNode + sizeof(std::string) + string_heap(key.size()) + sizeof(Field);
    }
  }
  return n;
}

void PayloadIndex::complement(SlotBits& bits) const {
  std::uint64_t* w = bits.data();
  const std::uint64_t* l = live_.data();
  const std::size_t live_words = live_.word_count();
  for (std::size_t i = 0; i < bits.word_count(); ++i) {
    w[i] = (i < live_words ? l[i] : 0) & ~w[i];
  }
}

bool PayloadIndex::eval_eq(const Field* field, const json& operand, SlotBits& out) const {
  if (field == nullptr) return true;  // no record has the field
  auto set = [&](Slot s) { out.set(s); };
  if (operand.is_string()) {
    auto* key = const_cast<std::string*>(&operand.get_ref<const std::string&>());
    field->strings.for_range(&key, true, &key, true, set);
    return true;
  }
  if (operand.is_boolean()) {
    const std::uint8_t b = operand.get<bool>() ? 1 : 0;
    field->bools.for_range(&b, true, &b, true, set);
    return true;
  }
  const auto d = exact_double(operand);
  if (!d || field->inexact_numbers != 0) return false;
  field->numbers.for_range(&*d, true, &*d, true, set);
  return true;
}

bool PayloadIndex::eval_leaf(const FilterNode& n, const Field* field, std::size_t slot_count,
                             SlotBits& out) const {
  out.assign(slot_count);
  switch (n.op) {
    case FilterOp::kEq:
      return eval_eq(field, n.value, out);
    case FilterOp::kNe:
      if (!eval_eq(field, n.value, out)) return false;
      complement(out);
      return true;
    case FilterOp::kIn:
    case FilterOp::kNin:
      for (const auto& operand : n.value) {
        if (!eval_eq(field, operand, out)) return false;
      }
      if (n.op == FilterOp::kNin) complement(out);
      return true;
    case FilterOp::kExists:
      if (field != nullptr) field->present.for_each([&](Slot s) { out.set(s); });
      if (!n.value.get<bool>()) complement(out);
      return true;
    case FilterOp::kGt:
    case FilterOp::kGte:
    case FilterOp::kLt:
    case FilterOp::kLte:
      break;
    default:
      return false;
  }
  if (field == nullptr) return true;
  const bool lower = n.op == FilterOp::kGt || n.op == FilterOp::kGte;
  const bool inclusive = n.op == FilterOp::kGte || n.op == FilterOp::kLte;
  auto set = [&](Slot s) { out.set(s); };
  auto range = [&](const auto& column, const auto& key) {
    if (lower) {
      column.for_range(&key, inclusive, nullptr, false, set);
    } else {
      column.for_range(nullptr, false, &key, inclusive, set);
    }
  };
  if (n.value.is_string()) {
    auto* key = const_cast<std::string*>(&n.value.get_ref<const std::string&>());
    range(field->strings, key);
    return true;
  }
  const auto d = exact_double(n.value);
  if (!d || field->inexact_numbers != 0) return false;
  range(field->numbers, *d);
  return true;
}

bool PayloadIndex::eval(const FilterNode& n, std::size_t slot_count, SlotBits& out) const {
  switch (n.op) {
    case FilterOp::kAll:
      out.assign(slot_count);
      complement(out);
      return true;
    case FilterOp::kAnd:
    case FilterOp::kOr: {
      SlotBits part;
      for (std::size_t c = 0; c < n.children.size(); ++c) {
        SlotBits& target = c == 0 ? out : part;
        if (!eval(*n.children[c], slot_count, target)) return false;
        if (c == 0) continue;
        std::uint64_t* w = out.data();
        const std::uint64_t* p = part.data();
        for (std::size_t i = 0; i < out.word_count(); ++i) {
          w[i] = n.op == FilterOp::kAnd ? (w[i] & p[i]) : (w[i] | p[i]);
        }
      }
      return true;
    }
    case FilterOp::kNot:
      if (!eval(*n.children.front(), slot_count, out)) return false;
      complement(out);
      return true;
    case FilterOp::kInvalid:
      return false;
    default:
      break;
  }
  if (n.segments.size() != 1) return false;  // dotted paths are not indexed
  const auto it = fields_.find(n.segments.front());
  return eval_leaf(n, it == fields_.end() ? nullptr : &it->second, slot_count, out);
}

void PayloadIndex::plan(const FilterNode& root, std::size_t slot_count, FilterPlan& out) const {
  out.indexed = false;
  out.count = 0;
  out.residual.clear();
  if (root.op == FilterOp::kAnd) {
    // Conjuncts the index answers narrow the candidates; the others are checked per record.
    SlotBits part;
    for (const auto& child : root.children) {
      SlotBits& target = out.indexed ? part : out.bits;
      if (!eval(*child, slot_count, target)) {
        out.residual.push_back(child.get());
        continue;
      }
      if (target.data() == part.data()) {
        std::uint64_t* w = out.bits.data();
        for (std::size_t i = 0; i < out.bits.word_count(); ++i) w[i] &= part.data()[i];
      }
      out.indexed = true;
    }
  } else if (eval(root, slot_count, out.bits)) {
    out.indexed = true;
  } else {
    out.residual.push_back(&root);
  }
  if (out.indexed) out.count = out.bits.count();
}

}  // namespace hnswstore::detail
