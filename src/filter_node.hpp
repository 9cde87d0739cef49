// The parsed form of a Filter (include/hnswstore/filter.hpp), shared with the payload index.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hnswstore/filter.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::detail {

enum class FilterOp {
  kAll,      // {} inside a tree (a top-level {} is a null root)
  kAnd,
  kOr,
  kNot,
  kEq,
  kNe,
  kGt,
  kGte,
  kLt,
  kLte,
  kIn,
  kNin,
  kExists,
  kInvalid,  // a builder got a bad operand: `error` says which
};

struct FilterNode {
  FilterOp op = FilterOp::kAll;
  std::string path;                   // comparisons: the field as written ("a.b")
  std::vector<std::string> segments;  // the path split at dots
  nlohmann::json value;               // operand: scalar; array for $in/$nin; bool for $exists
  std::vector<std::shared_ptr<const FilterNode>> children;  // $and, $or (>= 1), $not (1)
  std::size_t depth = 1;
  Status error;  // kInvalid only
};

/// The value `segments` reach inside `metadata` through objects only; nullptr when missing.
const nlohmann::json* resolve_path(const nlohmann::json& metadata,
                                   const std::vector<std::string>& segments) noexcept;

/// Three-way comparison of two JSON numbers, exact for any pair of integers and for an integer
/// against a float (as long double, whose 64-bit mantissa holds every int64 and uint64).
int compare_numbers(const nlohmann::json& a, const nlohmann::json& b) noexcept;

/// Whether one node matches (the recursive evaluator behind Filter::matches).
bool node_matches(const FilterNode& node, const nlohmann::json& metadata) noexcept;

/// Whether a scalar stored value satisfies a comparison (eq/gt/gte/lt/lte) with a scalar operand.
bool scalar_satisfies(FilterOp op, const nlohmann::json& stored,
                      const nlohmann::json& operand) noexcept;

}  // namespace hnswstore::detail
