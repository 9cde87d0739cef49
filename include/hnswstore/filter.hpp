// Filter: a predicate on metadata in the Chroma / MongoDB "where" language (docs/filters.md).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hnswstore/status.hpp"

namespace hnswstore {

namespace detail {
struct FilterNode;
struct FilterAccess;  // the library's access to the parsed tree (src/filter_access.hpp)
}

/// A predicate on a record's metadata, used by SearchOptions::filter, Namespace::remove(Filter)
/// and Namespace::scan. Immutable and cheap to copy (copies share one tree); safe to use from
/// several threads at once.
///
/// Grammar (JSON, as Chroma and MongoDB write it; docs/filters.md has the full table):
///
///     {}                                        matches every record
///     {"field": v}                              equality ($eq); v a string, number or boolean
///     {"field": {"$eq"|"$ne": v}}
///     {"field": {"$gt"|"$gte"|"$lt"|"$lte": v}} v a number or a string
///     {"field": {"$in"|"$nin": [v, ...]}}       an array of strings, numbers, booleans
///     {"field": {"$exists": true|false}}
///     {"$and": [f, ...]}, {"$or": [f, ...]}     non-empty arrays of filters
///     {"$not": f}
///
/// Several keys in one object are combined with AND, and so are several operators on one field
/// (`{"year": {"$gte": 2000, "$lt": 2010}}`). A field is a top-level key or a dotted path into
/// nested objects (`"author.name"`); a path never descends into arrays.
///
/// Semantics (`matches`):
/// - Numbers compare as numbers, integers and floats alike (1 == 1.0); two integers compare
///   exactly, even beyond 2^53. Strings compare as strings, byte-wise. Booleans compare only by
///   equality ($eq, $ne, $in, $nin).
/// - A missing field, null, or a value of another type makes $eq, $gt, $gte, $lt, $lte and $in
///   false, never an error.
/// - `$ne` is exactly `$not` of `$eq`, and `$nin` of `$in` (as in MongoDB): they are true for a
///   record without the field or with a value of another type.
/// - A stored array matches $eq, $gt, $gte, $lt, $lte or $in when one of its elements (strings,
///   numbers, booleans; nested arrays and objects are skipped) does: `{"tags": "a"}` matches
///   `{"tags": ["a", "b"]}`. So `{"tags": {"$ne": "a"}}` matches only arrays without "a".
/// - `$exists: true` is true when the path resolves to any value, null included.
///
/// Limits: filters nest at most kMaxFilterDepth levels: a comparison or {} is one level, and each
/// $and, $or, $not (and each object that combines several keys or operators) adds one. Number
/// operands are finite.
///
/// Errors: parse() and the builders check everything up front. A malformed filter is
/// kInvalidArgument whose message starts with the JSON path of the fault, for example
/// `$and[2].year.$gte: expected a number or a string`. The builders (eq, gt, ..., &&, ||, !)
/// cannot return an error: a builder given a bad operand returns a filter whose status() holds
/// the error, that matches nothing, and that search, scan and remove reject with that status.
class HNSWSTORE_API Filter {
 public:
  /// The deepest nesting parse() and the builders accept.
  static constexpr std::size_t kMaxFilterDepth = 64;

  /// Matches everything (to_json() is {}).
  Filter();

  /// Parses a filter from JSON (grammar above). kInvalidArgument with the path of the fault.
  static Result<Filter> parse(const nlohmann::json& filter);
  /// Parses JSON text, then as above; text that is not JSON is kInvalidArgument too.
  static Result<Filter> parse(std::string_view json_text);
  /// Text too (these overloads make a string literal or std::string mean JSON text, not a JSON
  /// string value).
  static Result<Filter> parse(const char* json_text) { return parse(std::string_view(json_text)); }
  static Result<Filter> parse(const std::string& json_text) {
    return parse(std::string_view(json_text));
  }

  /// Comparisons of the value at `path` (a top-level key or a dotted path) with `value`:
  /// eq/ne take a string, number or boolean; gt/gte/lt/lte a number or a string.
  static Filter eq(std::string path, nlohmann::json value);
  static Filter ne(std::string path, nlohmann::json value);
  static Filter gt(std::string path, nlohmann::json value);
  static Filter gte(std::string path, nlohmann::json value);
  static Filter lt(std::string path, nlohmann::json value);
  static Filter lte(std::string path, nlohmann::json value);
  /// Membership: `values` is an array of strings, numbers and booleans (may be empty: `in`
  /// then matches nothing and `nin` everything).
  static Filter in(std::string path, nlohmann::json values);
  static Filter nin(std::string path, nlohmann::json values);
  /// Whether the path resolves to a value (null included), or not.
  static Filter exists(std::string path, bool exists = true);

  /// Whether a metadata object (or null, = {}) satisfies the filter. An invalid filter matches
  /// nothing. Complexity: O(size of the filter x path lengths), no allocation.
  bool matches(const nlohmann::json& metadata) const;

  /// The canonical JSON form: every comparison written with its operator
  /// (`{"year": {"$gte": 2000}}`), several conditions as `$and`. Parsing it gives an equal filter,
  /// and parse(f.to_json())->to_json() == f.to_json(). An invalid filter gives null.
  nlohmann::json to_json() const;

  /// Ok, or the error a builder recorded (kInvalidArgument naming the path).
  const Status& status() const;
  /// True for Filter() and for filters that parse to it ({}).
  bool matches_all() const noexcept;

 private:
  friend struct detail::FilterAccess;
  explicit Filter(std::shared_ptr<const detail::FilterNode> root);
  std::shared_ptr<const detail::FilterNode> root_;  // null: matches everything
};

/// Both / either / not (`$and`, `$or`, `$not`). Combining an invalid filter gives an invalid
/// filter (its status); a result nested deeper than Filter::kMaxFilterDepth is invalid too.
/// `Filter() && f` is f.
HNSWSTORE_API Filter operator&&(Filter a, Filter b);
HNSWSTORE_API Filter operator||(Filter a, Filter b);
HNSWSTORE_API Filter operator!(Filter f);
/// Equal when the canonical JSON forms are equal (invalid filters: the same error).
HNSWSTORE_API bool operator==(const Filter& a, const Filter& b);

}  // namespace hnswstore
