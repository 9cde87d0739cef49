// Filter: parsing, builders, evaluation and the canonical JSON form (docs/filters.md).
//
// Parsing recurses only into $and / $or / $not and refuses a node deeper than kMaxFilterDepth
// before descending, so a hostile filter cannot exhaust the stack; every tree that exists is at
// most that deep, so evaluation and destruction are bounded too.
#include "hnswstore/filter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "filter_access.hpp"
#include "guarded.hpp"
#include "filter_node.hpp"

namespace hnswstore {

using detail::FilterAccess;
using detail::FilterNode;
using detail::FilterOp;
using json = nlohmann::json;
using NodePtr = std::shared_ptr<const FilterNode>;

namespace {

constexpr std::size_t kMaxDepth = Filter::kMaxFilterDepth;

std::string where(const std::string& path) { return path.empty() ? "filter" : path; }

std::string join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

Status invalid(const std::string& path, std::string_view problem) {
  return Status::InvalidArgument(where(path) + ": " + std::string(problem));
}

Status check_level(std::size_t level, const std::string& path) {
  if (level <= kMaxDepth) return Status::Ok();
  return invalid(path, "the filter nests deeper than " + std::to_string(kMaxDepth) + " levels");
}

bool finite_number(const json& v) {
  return !v.is_number_float() || std::isfinite(v.get<double>());
}

bool is_scalar_operand(const json& v) {
  return v.is_string() || v.is_boolean() || (v.is_number() && finite_number(v));
}

struct OpName {
  std::string_view name;
  FilterOp op;
};
constexpr OpName kFieldOps[] = {
    {"$eq", FilterOp::kEq},   {"$ne", FilterOp::kNe},   {"$gt", FilterOp::kGt},
    {"$gte", FilterOp::kGte}, {"$lt", FilterOp::kLt},   {"$lte", FilterOp::kLte},
    {"$in", FilterOp::kIn},   {"$nin", FilterOp::kNin}, {"$exists", FilterOp::kExists},
};

std::string_view op_name(FilterOp op) {
  switch (op) {
    case FilterOp::kAnd: return "$and";
    case FilterOp::kOr: return "$or";
    case FilterOp::kNot: return "$not";
    default: break;
  }
  for (const auto& o : kFieldOps) {
    if (o.op == op) return o.name;
  }
  return "";
}

// Splits and checks a field path: non-empty segments, not starting with '$'.
Status split_path(const std::string& field, const std::string& path,
                  std::vector<std::string>& segments) {
  segments.clear();
  if (field.empty()) return invalid(path, "a field name must not be empty");
  if (field.front() == '$') {
    return invalid(path, "unknown operator (expected $and, $or, $not or a field name)");
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = field.find('.', start);
    const std::size_t end = dot == std::string::npos ? field.size() : dot;
    if (end == start) {
      return invalid(path, "empty segment in the field path '" + field + "'");
    }
    segments.emplace_back(field.substr(start, end - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return Status::Ok();
}

// One comparison node: `field` (already split into `segments`), operator, operand; `path` names
// the operator in messages ("year.$gte").
Status make_comparison(FilterOp op, const std::string& field, std::vector<std::string> segments,
                       const json& operand, const std::string& path, NodePtr& out) {
  switch (op) {
    case FilterOp::kEq:
    case FilterOp::kNe:
      if (operand.is_number() && !finite_number(operand)) {
        return invalid(path, "expected a finite number");
      }
      if (operand.is_null()) {
        return invalid(path, "null is not a filter value (use {\"$exists\": false})");
      }
      if (!is_scalar_operand(operand)) return invalid(path, "expected a string, number or boolean");
      break;
    case FilterOp::kGt:
    case FilterOp::kGte:
    case FilterOp::kLt:
    case FilterOp::kLte:
      if (operand.is_number() && !finite_number(operand)) {
        return invalid(path, "expected a finite number");
      }
      if (!operand.is_string() && !operand.is_number()) {
        return invalid(path, "expected a number or a string");
      }
      break;
    case FilterOp::kIn:
    case FilterOp::kNin:
      if (!operand.is_array()) return invalid(path, "expected an array");
      for (std::size_t i = 0; i < operand.size(); ++i) {
        if (!is_scalar_operand(operand[i])) {
          return invalid(path + "[" + std::to_string(i) + "]",
                         operand[i].is_number() ? "expected a finite number"
                                                : "expected a string, number or boolean");
        }
      }
      break;
    case FilterOp::kExists:
      if (!operand.is_boolean()) return invalid(path, "expected true or false");
      break;
    default:
      return Status::Internal("make_comparison: not a comparison");
  }
  auto node = std::make_shared<FilterNode>();
  node->op = op;
  node->path = field;
  node->segments = std::move(segments);
  node->value = operand;
  out = std::move(node);
  return Status::Ok();
}

NodePtr make_logical(FilterOp op, std::vector<NodePtr> children) {
  auto node = std::make_shared<FilterNode>();
  node->op = op;
  std::size_t depth = 0;
  for (const auto& c : children) depth = std::max(depth, c->depth);
  node->depth = depth + 1;
  node->children = std::move(children);
  return node;
}

NodePtr make_all() { return std::make_shared<FilterNode>(); }

Status parse_object(const json& j, const std::string& path, std::size_t level, NodePtr& out);

// A field's value: a scalar (equality) or an object of operators.
Status parse_field(const std::string& field, const json& v, const std::string& path,
                   std::size_t level, NodePtr& out) {
  std::vector<std::string> segments;
  if (Status s = split_path(field, path, segments); !s.ok()) return s;
  if (v.is_array()) {
    return invalid(path, "an array is not a filter value (use {\"$in\": [...]})");
  }
  if (!v.is_object()) return make_comparison(FilterOp::kEq, field, segments, v, path, out);
  if (v.empty()) return invalid(path, "expected at least one operator, such as {\"$eq\": 1}");
  const std::size_t op_level = v.size() > 1 ? level + 1 : level;
  if (Status s = check_level(op_level, path); !s.ok()) return s;
  std::vector<NodePtr> parts;
  for (const auto& [key, operand] : v.items()) {
    const std::string op_path = path + "." + key;
    if (key.empty() || key.front() != '$') {
      return invalid(op_path, "expected an operator such as $eq; to compare a nested field write "
                              "the path \"" + field + "." + key + "\"");
    }
    if (key == "$and" || key == "$or" || key == "$not") {
      return invalid(op_path, "logical operators combine filters, not values: write {\"" + key +
                                  "\": ...} at the level of the fields");
    }
    const auto found = std::find_if(std::begin(kFieldOps), std::end(kFieldOps),
                                    [&](const OpName& o) { return o.name == key; });
    if (found == std::end(kFieldOps)) {
      return invalid(op_path,
                     "unknown operator (expected $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin or "
                     "$exists)");
    }
    NodePtr part;
    if (Status s = make_comparison(found->op, field, segments, operand, op_path, part); !s.ok()) {
      return s;
    }
    parts.push_back(std::move(part));
  }
  out = parts.size() == 1 ? std::move(parts.front()) : make_logical(FilterOp::kAnd, std::move(parts));
  return Status::Ok();
}

Status parse_object(const json& j, const std::string& path, std::size_t level, NodePtr& out) {
  if (Status s = check_level(level, path); !s.ok()) return s;
  if (!j.is_object()) return invalid(path, "expected an object (a filter)");
  if (j.empty()) {
    out = make_all();
    return Status::Ok();
  }
  const std::size_t child_level = j.size() > 1 ? level + 1 : level;
  if (Status s = check_level(child_level, path); !s.ok()) return s;
  std::vector<NodePtr> parts;
  for (const auto& [key, v] : j.items()) {
    const std::string key_path = join(path, key);
    NodePtr part;
    if (key == "$and" || key == "$or") {
      if (!v.is_array() || v.empty()) return invalid(key_path, "expected a non-empty array of filters");
      std::vector<NodePtr> children;
      children.reserve(v.size());
      for (std::size_t i = 0; i < v.size(); ++i) {
        NodePtr child;
        if (Status s = parse_object(v[i], key_path + "[" + std::to_string(i) + "]",
                                    child_level + 1, child);
            !s.ok()) {
          return s;
        }
        children.push_back(std::move(child));
      }
      part = make_logical(key == "$and" ? FilterOp::kAnd : FilterOp::kOr, std::move(children));
    } else if (key == "$not") {
      NodePtr child;
      if (Status s = parse_object(v, key_path, child_level + 1, child); !s.ok()) return s;
      part = make_logical(FilterOp::kNot, {std::move(child)});
    } else if (!key.empty() && key.front() == '$') {
      return invalid(key_path, "unknown operator (expected $and, $or, $not or a field name)");
    } else if (Status s = parse_field(key, v, key_path, child_level, part); !s.ok()) {
      return s;
    }
    parts.push_back(std::move(part));
  }
  out = parts.size() == 1 ? std::move(parts.front()) : make_logical(FilterOp::kAnd, std::move(parts));
  return Status::Ok();
}

NodePtr make_invalid(Status error) {
  auto node = std::make_shared<FilterNode>();
  node->op = FilterOp::kInvalid;
  node->error = std::move(error);
  return node;
}

json node_to_json(const FilterNode& n) {
  switch (n.op) {
    case FilterOp::kAll:
      return json::object();
    case FilterOp::kAnd:
    case FilterOp::kOr: {
      json children = json::array();
      for (const auto& c : n.children) children.push_back(node_to_json(*c));
      return json{{std::string(op_name(n.op)), std::move(children)}};
    }
    case FilterOp::kNot:
      return json{{"$not", node_to_json(*n.children.front())}};
    case FilterOp::kInvalid:
      return nullptr;
    default:
      return json{{n.path, json{{std::string(op_name(n.op)), n.value}}}};
  }
}

bool value_satisfies(FilterOp op, const json& stored, const json& operand) noexcept {
  if (!stored.is_array()) return detail::scalar_satisfies(op, stored, operand);
  for (const auto& element : stored) {
    if (detail::scalar_satisfies(op, element, operand)) return true;
  }
  return false;
}

bool in_set(const json& stored, const json& operands) noexcept {
  for (const auto& operand : operands) {
    if (value_satisfies(FilterOp::kEq, stored, operand)) return true;
  }
  return false;
}

}  // namespace

namespace detail {

const json* resolve_path(const json& metadata, const std::vector<std::string>& segments) noexcept {
  const json* cur = &metadata;
  for (const auto& segment : segments) {
    if (!cur->is_object()) return nullptr;
    const auto& object = cur->get_ref<const json::object_t&>();
    const auto it = object.find(segment);
    if (it == object.end()) return nullptr;
    cur = &it->second;
  }
  return cur;
}

namespace {
long double as_long_double(const json& v) noexcept {
  if (v.is_number_unsigned()) return static_cast<long double>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return static_cast<long double>(v.get<std::int64_t>());
  return static_cast<long double>(v.get<double>());
}
}  // namespace

// -1, 0, 1; 2 when unordered (a NaN).
int compare_numbers(const json& a, const json& b) noexcept {
  if (a.is_number_integer() && b.is_number_integer()) {
    const bool au = a.is_number_unsigned(), bu = b.is_number_unsigned();
    if (!au && !bu) {
      const auto x = a.get<std::int64_t>(), y = b.get<std::int64_t>();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (!au && a.get<std::int64_t>() < 0) return -1;
    if (!bu && b.get<std::int64_t>() < 0) return 1;
    const auto x = au ? a.get<std::uint64_t>() : static_cast<std::uint64_t>(a.get<std::int64_t>());
    const auto y = bu ? b.get<std::uint64_t>() : static_cast<std::uint64_t>(b.get<std::int64_t>());
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  const long double x = as_long_double(a), y = as_long_double(b);
  if (x < y) return -1;
  if (x > y) return 1;
  if (x == y) return 0;
  return 2;
}

bool scalar_satisfies(FilterOp op, const json& stored, const json& operand) noexcept {
  int c;
  if (operand.is_number()) {
    if (!stored.is_number()) return false;
    c = compare_numbers(stored, operand);
    if (c == 2) return false;
  } else if (operand.is_string()) {
    if (!stored.is_string()) return false;
    const int r = stored.get_ref<const std::string&>().compare(operand.get_ref<const std::string&>());
    c = r < 0 ? -1 : (r > 0 ? 1 : 0);
  } else if (operand.is_boolean()) {
    return op == FilterOp::kEq && stored.is_boolean() && stored.get<bool>() == operand.get<bool>();
  } else {
    return false;
  }
  switch (op) {
    case FilterOp::kEq: return c == 0;
    case FilterOp::kGt: return c > 0;
    case FilterOp::kGte: return c >= 0;
    case FilterOp::kLt: return c < 0;
    case FilterOp::kLte: return c <= 0;
    default: return false;
  }
}

bool node_matches(const FilterNode& n, const json& metadata) noexcept {
  switch (n.op) {
    case FilterOp::kAll:
      return true;
    case FilterOp::kAnd:
      for (const auto& c : n.children) {
        if (!node_matches(*c, metadata)) return false;
      }
      return true;
    case FilterOp::kOr:
      for (const auto& c : n.children) {
        if (node_matches(*c, metadata)) return true;
      }
      return false;
    case FilterOp::kNot:
      return !node_matches(*n.children.front(), metadata);
    case FilterOp::kInvalid:
      return false;
    default:
      break;
  }
  const json* v = resolve_path(metadata, n.segments);
  switch (n.op) {
    case FilterOp::kExists:
      return (v != nullptr) == n.value.get<bool>();
    case FilterOp::kNe:
      return v == nullptr || !value_satisfies(FilterOp::kEq, *v, n.value);
    case FilterOp::kIn:
      return v != nullptr && in_set(*v, n.value);
    case FilterOp::kNin:
      return v == nullptr || !in_set(*v, n.value);
    default:
      return v != nullptr && value_satisfies(n.op, *v, n.value);
  }
}

}  // namespace detail

// ── Filter ───────────────────────────────────────────────────────────────────────────────────

Filter::Filter() = default;
Filter::Filter(std::shared_ptr<const FilterNode> root) : root_(std::move(root)) {}

Result<Filter> Filter::parse(const json& filter) {
  return detail::guarded([&]() -> Result<Filter> {
    NodePtr root;
    if (Status s = parse_object(filter, "", 1, root); !s.ok()) return s;
    if (root->op == FilterOp::kAll) root.reset();
    return Filter(std::move(root));
  });
}

Result<Filter> Filter::parse(std::string_view json_text) {
  return detail::guarded([&]() -> Result<Filter> {
    json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status::InvalidArgument("filter: not valid JSON");
    return parse(j);
  });
}

namespace {
Filter comparison(FilterOp op, std::string path, json value) {
  const std::string op_path = path + "." + std::string(op_name(op));
  std::vector<std::string> segments;
  NodePtr node;
  Status s = split_path(path, path.empty() ? op_path : path, segments);
  if (s.ok()) s = make_comparison(op, path, std::move(segments), value, op_path, node);
  return FilterAccess::wrap(s.ok() ? std::move(node) : make_invalid(std::move(s)));
}
}  // namespace

Filter Filter::eq(std::string path, json value) {
  return comparison(FilterOp::kEq, std::move(path), std::move(value));
}
Filter Filter::ne(std::string path, json value) {
  return comparison(FilterOp::kNe, std::move(path), std::move(value));
}
Filter Filter::gt(std::string path, json value) {
  return comparison(FilterOp::kGt, std::move(path), std::move(value));
}
Filter Filter::gte(std::string path, json value) {
  return comparison(FilterOp::kGte, std::move(path), std::move(value));
}
Filter Filter::lt(std::string path, json value) {
  return comparison(FilterOp::kLt, std::move(path), std::move(value));
}
Filter Filter::lte(std::string path, json value) {
  return comparison(FilterOp::kLte, std::move(path), std::move(value));
}
Filter Filter::in(std::string path, json values) {
  return comparison(FilterOp::kIn, std::move(path), std::move(values));
}
Filter Filter::nin(std::string path, json values) {
  return comparison(FilterOp::kNin, std::move(path), std::move(values));
}
Filter Filter::exists(std::string path, bool exists) {
  return comparison(FilterOp::kExists, std::move(path), json(exists));
}

namespace {
// The root of a filter inside a tree: Filter() is a null root, {} inside a tree.
NodePtr tree_node(const Filter& f) {
  return FilterAccess::node(f) != nullptr ? FilterAccess::shared_node(f) : make_all();
}

Filter combine(FilterOp op, Filter a, Filter b) {
  if (!a.status().ok()) return a;
  if (!b.status().ok()) return b;
  std::vector<NodePtr> children;
  for (const Filter* f : {&a, &b}) {
    const NodePtr n = tree_node(*f);
    if (n->op == op) {  // (a && b) && c is one $and of three
      children.insert(children.end(), n->children.begin(), n->children.end());
    } else {
      children.push_back(n);
    }
  }
  NodePtr node = make_logical(op, std::move(children));
  if (node->depth > kMaxDepth) {
    return FilterAccess::wrap(make_invalid(check_level(node->depth, std::string(op_name(op)))));
  }
  return FilterAccess::wrap(std::move(node));
}
}  // namespace

Filter operator&&(Filter a, Filter b) {
  if (a.matches_all() && a.status().ok()) return b;
  if (b.matches_all() && b.status().ok()) return a;
  return combine(FilterOp::kAnd, std::move(a), std::move(b));
}

Filter operator||(Filter a, Filter b) { return combine(FilterOp::kOr, std::move(a), std::move(b)); }

Filter operator!(Filter f) {
  if (!f.status().ok()) return f;
  NodePtr node = make_logical(FilterOp::kNot, {tree_node(f)});
  if (node->depth > kMaxDepth) {
    return FilterAccess::wrap(make_invalid(check_level(node->depth, "$not")));
  }
  return FilterAccess::wrap(std::move(node));
}

bool Filter::matches(const json& metadata) const {
  return root_ == nullptr || detail::node_matches(*root_, metadata);
}

json Filter::to_json() const { return root_ == nullptr ? json::object() : node_to_json(*root_); }

const Status& Filter::status() const {
  static const Status ok = Status::Ok();
  return root_ != nullptr && root_->op == FilterOp::kInvalid ? root_->error : ok;
}

bool Filter::matches_all() const noexcept { return root_ == nullptr; }

bool operator==(const Filter& a, const Filter& b) {
  if (FilterAccess::node(a) == FilterAccess::node(b)) return true;
  if (!a.status().ok() || !b.status().ok()) return a.status().message() == b.status().message() &&
                                                   a.status().code() == b.status().code();
  return a.to_json() == b.to_json();
}

}  // namespace hnswstore
