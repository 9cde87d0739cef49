// The naive filter model: filter.hpp's semantics read literally, written independently of
// src/filter.cpp, for tests to check Filter::matches and filtered searches against.
#pragma once

#include <cstdint>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace hnswstore::testing {

using json = nlohmann::json;


// -1, 0, 1 for two integers (signed or unsigned, compared exactly).
inline int compare_integers(const json& a, const json& b) {
  const bool au = a.is_number_unsigned(), bu = b.is_number_unsigned();
  if (au && bu) {
    const auto x = a.get<std::uint64_t>(), y = b.get<std::uint64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (!au && !bu) {
    const auto x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (au) {  // a unsigned, b signed
    const auto y = b.get<std::int64_t>();
    if (y < 0) return 1;
    const auto x = a.get<std::uint64_t>();
    const auto yu = static_cast<std::uint64_t>(y);
    return x < yu ? -1 : (x > yu ? 1 : 0);
  }
  return -compare_integers(b, a);
}

// Compares two scalars of comparable types; false when the types do not compare under `op`.
inline bool naive_compare(const json& stored, const std::string& op, const json& operand) {
  int c = 0;
  if (stored.is_number() && operand.is_number()) {
    if (stored.is_number_integer() && operand.is_number_integer()) {
      c = compare_integers(stored, operand);
    } else {
      const double x = stored.get<double>(), y = operand.get<double>();
      c = x < y ? -1 : (x > y ? 1 : 0);
    }
  } else if (stored.is_string() && operand.is_string()) {
    // std::string::compare is byte-wise (char_traits<char> compares as unsigned char).
    const int r = stored.get_ref<const std::string&>().compare(operand.get_ref<const std::string&>());
    c = r < 0 ? -1 : (r > 0 ? 1 : 0);
  } else if (stored.is_boolean() && operand.is_boolean()) {
    if (op != "$eq") return false;
    return stored.get<bool>() == operand.get<bool>();
  } else {
    return false;
  }
  if (op == "$eq") return c == 0;
  if (op == "$gt") return c > 0;
  if (op == "$gte") return c >= 0;
  if (op == "$lt") return c < 0;
  if (op == "$lte") return c <= 0;
  ADD_FAILURE() << "naive_compare: unexpected operator " << op;
  return false;
}

// The value at a dotted path, through objects only; nullptr when it does not resolve.
inline const json* naive_resolve(const json& metadata, const std::string& path) {
  const json* cur = &metadata;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos
                                                                         : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

inline bool naive_op(const json* value, const std::string& op, const json& operand) {
  if (op == "$exists") return (value != nullptr) == operand.get<bool>();
  if (op == "$ne") return !naive_op(value, "$eq", operand);
  if (op == "$nin") return !naive_op(value, "$in", operand);
  if (op == "$in") {
    for (const json& o : operand) {
      if (naive_op(value, "$eq", o)) return true;
    }
    return false;
  }
  if (value == nullptr) return false;
  if (value->is_array()) {
    for (const json& e : *value) {
      if (e.is_array() || e.is_object() || e.is_null()) continue;
      if (naive_compare(e, op, operand)) return true;
    }
    return false;
  }
  if (value->is_object() || value->is_null()) return false;
  return naive_compare(*value, op, operand);
}

inline bool naive_matches(const json& filter, const json& metadata) {
  // Null metadata is {}: naive_resolve finds nothing in it either way.
  for (const auto& [key, v] : filter.items()) {
    bool ok = true;
    if (key == "$and") {
      for (const json& f : v) ok = ok && naive_matches(f, metadata);
    } else if (key == "$or") {
      ok = false;
      for (const json& f : v) ok = ok || naive_matches(f, metadata);
    } else if (key == "$not") {
      ok = !naive_matches(v, metadata);
    } else {
      const json* value = naive_resolve(metadata, key);
      if (v.is_object()) {
        for (const auto& [op, operand] : v.items()) ok = ok && naive_op(value, op, operand);
      } else {
        ok = naive_op(value, "$eq", v);
      }
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace hnswstore::testing
