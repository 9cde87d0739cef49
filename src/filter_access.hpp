// FilterAccess: the library's way into a Filter's parsed tree (src/filter_node.hpp), which the
// public header keeps private: the payload index plans with it, and the builders wrap new trees.
#pragma once

#include <memory>
#include <utility>

#include "hnswstore/filter.hpp"

namespace hnswstore::detail {

struct FilterAccess {
  /// The parsed tree; null for Filter() (matches everything).
  static const FilterNode* node(const Filter& f) noexcept { return f.root_.get(); }
  static const std::shared_ptr<const FilterNode>& shared_node(const Filter& f) noexcept {
    return f.root_;
  }
  /// A filter around a tree the library built (null: matches everything).
  static Filter wrap(std::shared_ptr<const FilterNode> root) { return Filter(std::move(root)); }
};

}  // namespace hnswstore::detail
