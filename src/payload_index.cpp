#include "payload_index.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <optional>

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

void set_all(SlotBits& bits, const std::vector<Slot>& slots) {
  for (const Slot s : slots) bits.set(s);
}

}  // namespace

std::size_t SlotBits::count() const noexcept {
  std::size_t n = 0;
  for (const std::uint64_t w : words_) n += static_cast<std::size_t>(std::popcount(w));
  return n;
}

void PayloadIndex::insert(Posting& p, Slot slot) {
  const std::size_t before = p.capacity();
  if (p.empty() || p.back() < slot) {
    p.push_back(slot);
  } else {
    const auto it = std::lower_bound(p.begin(), p.end(), slot);
    if (it != p.end() && *it == slot) return;
    p.insert(it, slot);
  }
  bytes_ += (p.capacity() - before) * sizeof(Slot);
}

void PayloadIndex::erase(Posting& p, Slot slot) {
  const auto it = std::lower_bound(p.begin(), p.end(), slot);
  if (it != p.end() && *it == slot) p.erase(it);
}

void PayloadIndex::update_value(Field& field, Slot slot, const json& value, bool add) {
  switch (value.type()) {
    case json::value_t::string: {
      const auto& s = value.get_ref<const std::string&>();
      if (s.size() > kMaxIndexedString) {
        field.long_strings += add ? 1 : static_cast<std::size_t>(-1);
        return;
      }
      auto it = field.strings.find(s);
      if (it == field.strings.end()) {
        if (!add) return;
        it = field.strings.emplace(s, Posting()).first;
        bytes_ += kTreeNode + sizeof(std::string) + string_heap(s.size()) + sizeof(Posting);
      }
      if (add) {
        insert(it->second, slot);
      } else {
        erase(it->second, slot);
        if (it->second.empty()) {
          bytes_ -= kTreeNode + sizeof(std::string) + string_heap(s.size()) + sizeof(Posting) +
                    it->second.capacity() * sizeof(Slot);
          field.strings.erase(it);
        }
      }
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
      auto it = field.numbers.find(*d);
      if (it == field.numbers.end()) {
        if (!add) return;
        it = field.numbers.emplace(*d, Posting()).first;
        bytes_ += kTreeNode + sizeof(double) + sizeof(Posting);
      }
      if (add) {
        insert(it->second, slot);
      } else {
        erase(it->second, slot);
        if (it->second.empty()) {
          bytes_ -= kTreeNode + sizeof(double) + sizeof(Posting) +
                    it->second.capacity() * sizeof(Slot);
          field.numbers.erase(it);
        }
      }
      return;
    }
    case json::value_t::boolean: {
      Posting& p = field.bools[value.get<bool>() ? 1 : 0];
      if (add) {
        insert(p, slot);
      } else {
        erase(p, slot);
      }
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
      bytes_ += kTreeNode + sizeof(std::string) + string_heap(key.size()) + sizeof(Field);
    }
    Field& field = it->second;
    if (add) {
      insert(field.present, slot);
    } else {
      erase(field.present, slot);
    }
    update_value(field, slot, value, add);
    if (!add && field.present.empty()) {
      bytes_ -= kTreeNode + sizeof(std::string) + string_heap(key.size()) + sizeof(Field) +
                (field.present.capacity() + field.bools[0].capacity() +
                 field.bools[1].capacity()) * sizeof(Slot);
      fields_.erase(it);
    }
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
  bytes_ = 0;
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
  if (operand.is_string()) {
    const auto& s = operand.get_ref<const std::string&>();
    if (s.size() > kMaxIndexedString && field->long_strings != 0) return false;
    const auto it = field->strings.find(s);
    if (it != field->strings.end()) set_all(out, it->second);
    return true;
  }
  if (operand.is_boolean()) {
    set_all(out, field->bools[operand.get<bool>() ? 1 : 0]);
    return true;
  }
  const auto d = exact_double(operand);
  if (!d || field->inexact_numbers != 0) return false;
  const auto it = field->numbers.find(*d);
  if (it != field->numbers.end()) set_all(out, it->second);
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
      if (field != nullptr) set_all(out, field->present);
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
  auto scan_range = [&](const auto& map, const auto& key) {
    auto first = map.begin(), last = map.end();
    if (lower) {
      first = inclusive ? map.lower_bound(key) : map.upper_bound(key);
    } else {
      last = inclusive ? map.upper_bound(key) : map.lower_bound(key);
    }
    for (auto it = first; it != last; ++it) set_all(out, it->second);
  };
  if (n.value.is_string()) {
    if (field->long_strings != 0) return false;
    scan_range(field->strings, n.value.get_ref<const std::string&>());
    return true;
  }
  const auto d = exact_double(n.value);
  if (!d || field->inexact_numbers != 0) return false;
  scan_range(field->numbers, *d);
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
