// Filter: parsing, builders, canonical JSON, errors with the JSON path of the fault, depth limits,
// and a property test against a naive evaluator written from the semantics in filter.hpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "filter_access.hpp"
#include "filter_model.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore {
namespace {

using testing::naive_matches;  // filter_model.hpp

using json = nlohmann::json;

json J(std::string_view text) { return json::parse(text); }

Result<Filter> parse_text(std::string_view text) { return Filter::parse(text); }

// ── builders from a filter's JSON, only through Filter::eq/.../&&/||/! ────────────────────

Filter builder_op(const std::string& path, const std::string& op, const json& operand) {
  if (op == "$eq") return Filter::eq(path, operand);
  if (op == "$ne") return Filter::ne(path, operand);
  if (op == "$gt") return Filter::gt(path, operand);
  if (op == "$gte") return Filter::gte(path, operand);
  if (op == "$lt") return Filter::lt(path, operand);
  if (op == "$lte") return Filter::lte(path, operand);
  if (op == "$in") return Filter::in(path, operand);
  if (op == "$nin") return Filter::nin(path, operand);
  if (op == "$exists") return Filter::exists(path, operand.get<bool>());
  ADD_FAILURE() << "builder_op: unexpected operator " << op;
  return Filter();
}

Filter build(const json& filter) {
  Filter acc;
  bool first = true;
  auto add = [&](Filter f) {
    acc = first ? std::move(f) : (std::move(acc) && std::move(f));
    first = false;
  };
  for (const auto& [key, v] : filter.items()) {
    if (key == "$and" || key == "$or") {
      Filter c = build(v[0]);
      for (std::size_t i = 1; i < v.size(); ++i) {
        c = key == "$and" ? (std::move(c) && build(v[i])) : (std::move(c) || build(v[i]));
      }
      add(std::move(c));
    } else if (key == "$not") {
      add(!build(v));
    } else if (v.is_object()) {
      for (const auto& [op, operand] : v.items()) add(builder_op(key, op, operand));
    } else {
      add(Filter::eq(key, v));
    }
  }
  return acc;
}

std::size_t json_depth(const json& j) {
  if (!j.is_object() && !j.is_array()) return 0;
  std::size_t d = 0;
  for (const json& c : j) d = std::max(d, json_depth(c));
  return d + 1;
}

// ── random filters and metadata ───────────────────────────────────────────────────────────

class Gen {
 public:
  explicit Gen(std::uint64_t seed) : rng_(seed) {}

  std::size_t below(std::size_t n) { return static_cast<std::size_t>(rng_() % n); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  // Numbers of every JSON flavour (signed, unsigned, float, beyond 2^53), strings, booleans.
  json scalar() {
    switch (below(6)) {
      case 0:
      case 1: {
        static const std::int64_t ints[] = {-1, 0, 1, 2, 3, 1, 2};
        return ints[below(std::size(ints))];
      }
      case 2: {
        switch (below(8)) {
          case 0: return std::uint64_t{2};
          case 1: return std::int64_t{9007199254740992};
          case 2: return std::int64_t{9007199254740993};
          case 3: return std::uint64_t{9007199254740993};
          case 4: return std::numeric_limits<std::uint64_t>::max();
          case 5: return std::numeric_limits<std::int64_t>::min();
          case 6: return std::numeric_limits<std::int64_t>::max();
          default: return std::uint64_t{0};
        }
      }
      case 3: {
        static const double floats[] = {0.0, -0.0, 1.0, 2.5, -0.5, 3.0, 1e-9};
        return floats[below(std::size(floats))];
      }
      case 4: {
        static const char* strings[] = {"", "x", "y", "xy", "\xc3\xa9", "Z", "1"};
        return strings[below(std::size(strings))];
      }
      default:
        return chance(0.5);
    }
  }
  json number_or_string() {
    json v = scalar();
    while (v.is_boolean()) v = scalar();
    return v;
  }

  std::string path() {
    static const char* paths[] = {"a", "b", "c", "tags", "n", "n.x", "n.y.z", "n.x.q", "zz"};
    return paths[below(std::size(paths))];
  }

  json field_condition() {
    if (chance(0.3)) return scalar();  // shorthand equality
    static const char* ops[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin",
                                "$exists"};
    json cond = json::object();
    const std::size_t n = 1 + below(2);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string op = ops[below(std::size(ops))];
      if (op == "$eq" || op == "$ne") {
        cond[op] = scalar();
      } else if (op == "$in" || op == "$nin") {
        json arr = json::array();
        const std::size_t m = below(4);
        for (std::size_t j = 0; j < m; ++j) arr.push_back(scalar());
        cond[op] = arr;
      } else if (op == "$exists") {
        cond[op] = chance(0.5);
      } else {
        cond[op] = number_or_string();
      }
    }
    return cond;
  }

  json filter(int depth) {
    json f = json::object();
    if (depth <= 0 || chance(0.35)) {
      if (chance(0.03)) return f;  // {}
      const std::size_t n = 1 + below(2);
      for (std::size_t i = 0; i < n; ++i) f[path()] = field_condition();
      return f;
    }
    switch (below(4)) {
      case 0:
      case 1: {
        json arr = json::array();
        const std::size_t n = 1 + below(3);
        for (std::size_t i = 0; i < n; ++i) arr.push_back(filter(depth - 1));
        f[below(2) == 0 ? "$and" : "$or"] = arr;
        break;
      }
      case 2:
        f["$not"] = filter(depth - 1);
        break;
      default: {  // several keys: a logical operator next to field conditions
        json arr = json::array({filter(depth - 1), filter(depth - 1)});
        f[chance(0.5) ? "$or" : "$and"] = arr;
        f[path()] = field_condition();
        if (chance(0.3)) f["$not"] = filter(depth - 1);
        break;
      }
    }
    return f;
  }

  json metadata_value(int depth) {
    const std::size_t kind = below(10);
    if (kind == 0) return nullptr;
    if (kind <= 5) return scalar();
    if (kind <= 7) {
      json arr = json::array();
      const std::size_t n = below(5);
      for (std::size_t i = 0; i < n; ++i) {
        if (chance(0.1)) {
          arr.push_back(chance(0.5) ? json::array({scalar()}) : json{{"a", scalar()}});
        } else if (chance(0.05)) {
          arr.push_back(nullptr);
        } else {
          arr.push_back(scalar());
        }
      }
      return arr;
    }
    if (depth <= 0) return scalar();
    json obj = json::object();
    for (const char* k : {"x", "y", "z", "q"}) {
      if (chance(0.6)) obj[k] = metadata_value(depth - 1);
    }
    return obj;
  }

  json metadata() {
    json md = json::object();
    for (const char* k : {"a", "b", "c", "tags", "n"}) {
      if (chance(0.75)) md[k] = metadata_value(std::string_view(k) == "n" ? 3 : 1);
    }
    if (chance(0.5)) {
      json n = json::object();
      if (chance(0.8)) n["x"] = metadata_value(1);
      if (chance(0.5)) n["y"] = json{{"z", metadata_value(1)}};
      md["n"] = n;
    }
    return md;
  }

 private:
  std::mt19937_64 rng_;
};

// Metadata objects that hit the corners of the semantics.
std::vector<json> corner_metadata() {
  return {json(), json::object(), J(R"({"a": 1})"), J(R"({"a": 1.0, "b": "x"})"),
          J(R"({"a": null, "tags": []})"), J(R"({"a": [1, "x", true, null, [2], {"a": 1}]})"),
          J(R"({"a": true, "b": false})"), J(R"({"n": {"x": 2, "y": {"z": "y"}}})"),
          J(R"({"n": [{"x": 2}]})"), J(R"({"n": 2, "a": -1})"),
          J(R"({"a": 9007199254740993, "b": 18446744073709551615})"),
          J(R"({"tags": ["x", "y", "\u00e9"], "c": -0.5})")};
}

// ── hand-written cases ────────────────────────────────────────────────────────────────────

struct Case {
  const char* filter;
  const char* metadata;
  bool expected;
};

void expect_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    auto f = parse_text(c.filter);
    ASSERT_TRUE(f.has_value()) << c.filter << ": " << f.error().to_string();
    const json md = J(c.metadata);
    EXPECT_EQ(f->matches(md), c.expected) << "filter " << c.filter << " metadata " << c.metadata;
    // The test's own model agrees with the hand-written expectation.
    EXPECT_EQ(naive_matches(J(c.filter), md), c.expected)
        << "(model) filter " << c.filter << " metadata " << c.metadata;
  }
}

TEST(FilterParse, Equality) {
  expect_cases({
      {R"({"a": 1})", R"({"a": 1})", true},
      {R"({"a": 1})", R"({"a": 1.0})", true},
      {R"({"a": 1.0})", R"({"a": 1})", true},
      {R"({"a": 1})", R"({"a": 1.5})", false},
      {R"({"a": 1})", R"({"a": "1"})", false},
      {R"({"a": 1})", R"({"a": true})", false},
      {R"({"a": true})", R"({"a": 1})", false},
      {R"({"a": true})", R"({"a": true})", true},
      {R"({"a": false})", R"({"a": true})", false},
      {R"({"a": 1})", R"({})", false},
      {R"({"a": 1})", R"(null)", false},
      {R"({"a": 1})", R"({"a": null})", false},
      {R"({"a": 1})", R"({"a": [3, 1]})", true},
      {R"({"a": 1})", R"({"a": [[1]]})", false},
      {R"({"a": 1})", R"({"a": [{"a": 1}]})", false},
      {R"({"a": 1})", R"({"a": {"b": 1}})", false},
      {R"({"a": 1})", R"({"b": 1})", false},
      {R"({"a": "x"})", R"({"a": "x"})", true},
      {R"({"a": "x"})", R"({"a": "X"})", false},
      {R"({"a": ""})", R"({"a": ""})", true},
      {R"({"a": {"$eq": 2}})", R"({"a": 2})", true},
      {R"({"a": {"$eq": 2}})", R"({"a": 3})", false},
      {R"({"a": -0.0})", R"({"a": 0})", true},
      // Two integers compare exactly, beyond 2^53.
      {R"({"a": 9007199254740993})", R"({"a": 9007199254740992})", false},
      {R"({"a": 9007199254740993})", R"({"a": 9007199254740993})", true},
      {R"({"a": 18446744073709551615})", R"({"a": -1})", false},
      {R"({"a": -9223372036854775808})", R"({"a": -9223372036854775808})", true},
      {R"({"tags": "a"})", R"({"tags": ["a", "b"]})", true},
      {R"({"tags": "c"})", R"({"tags": ["a", "b"]})", false},
      {R"({"tags": "a"})", R"({"tags": []})", false},
  });
}

TEST(FilterParse, NotEqual) {
  expect_cases({
      {R"({"a": {"$ne": 1}})", R"({})", true},
      {R"({"a": {"$ne": 1}})", R"(null)", true},
      {R"({"a": {"$ne": 1}})", R"({"a": null})", true},
      {R"({"a": {"$ne": 1}})", R"({"a": "x"})", true},
      {R"({"a": {"$ne": 1}})", R"({"a": 1})", false},
      {R"({"a": {"$ne": 1}})", R"({"a": 1.0})", false},
      {R"({"a": {"$ne": 1}})", R"({"a": 2})", true},
      {R"({"a": {"$ne": 1}})", R"({"a": [1, 2]})", false},
      {R"({"a": {"$ne": 1}})", R"({"a": [2, 3]})", true},
      {R"({"a": {"$ne": 1}})", R"({"a": []})", true},
      {R"({"a": {"$ne": 1}})", R"({"a": {"b": 1}})", true},
      {R"({"a": {"$ne": true}})", R"({"a": false})", true},
      {R"({"a": {"$ne": true}})", R"({"a": true})", false},
      {R"({"tags": {"$ne": "a"}})", R"({"tags": ["a", "b"]})", false},
      {R"({"tags": {"$ne": "a"}})", R"({"tags": ["b"]})", true},
  });
}

TEST(FilterParse, Ranges) {
  expect_cases({
      {R"({"a": {"$gt": 1}})", R"({"a": 2})", true},
      {R"({"a": {"$gt": 1}})", R"({"a": 1})", false},
      {R"({"a": {"$gt": 1}})", R"({"a": 1.5})", true},
      {R"({"a": {"$gt": 1.5}})", R"({"a": 2})", true},
      {R"({"a": {"$gt": 1}})", R"({"a": "2"})", false},
      {R"({"a": {"$gt": 1}})", R"({"a": true})", false},
      {R"({"a": {"$gt": 1}})", R"({"a": null})", false},
      {R"({"a": {"$gt": 1}})", R"({})", false},
      {R"({"a": {"$gt": 1}})", R"({"a": [0, 5]})", true},
      {R"({"a": {"$gt": 1}})", R"({"a": [0, 1]})", false},
      {R"({"a": {"$gte": 1}})", R"({"a": 1})", true},
      {R"({"a": {"$gte": 1}})", R"({"a": 1.0})", true},
      {R"({"a": {"$gte": 1}})", R"({"a": 0.999})", false},
      {R"({"a": {"$lt": 1}})", R"({"a": 0.999})", true},
      {R"({"a": {"$lt": 1}})", R"({"a": 1})", false},
      {R"({"a": {"$lt": 1}})", R"({"a": -5})", true},
      {R"({"a": {"$lte": 1}})", R"({"a": 1})", true},
      {R"({"a": {"$lte": 1}})", R"({"a": 2})", false},
      {R"({"a": {"$lte": -1}})", R"({"a": 18446744073709551615})", false},
      {R"({"a": {"$gt": -1}})", R"({"a": 18446744073709551615})", true},
      {R"({"a": {"$gt": 9007199254740992}})", R"({"a": 9007199254740993})", true},
      {R"({"a": {"$lt": 9007199254740993}})", R"({"a": 9007199254740992})", true},
      {R"({"a": {"$gte": 9007199254740993}})", R"({"a": 9007199254740992})", false},
      // Strings, byte-wise.
      {R"({"s": {"$gt": "a"}})", R"({"s": "b"})", true},
      {R"({"s": {"$gt": "a"}})", R"({"s": "a"})", false},
      {R"({"s": {"$gt": "a"}})", R"({"s": "ab"})", true},
      {R"({"s": {"$gt": "a"}})", R"({"s": "B"})", false},
      {R"({"s": {"$gt": "z"}})", R"({"s": "\u00e9"})", true},
      {R"({"s": {"$lt": ""}})", R"({"s": ""})", false},
      {R"({"s": {"$gte": ""}})", R"({"s": ""})", true},
      {R"({"s": {"$gt": "a"}})", R"({"s": 5})", false},
      {R"({"s": {"$gt": 1}})", R"({"s": "5"})", false},
      {R"({"s": {"$lte": "b"}})", R"({"s": ["c", "a"]})", true},
  });
}

TEST(FilterParse, Membership) {
  expect_cases({
      {R"({"a": {"$in": [1, "x", true]}})", R"({"a": 1.0})", true},
      {R"({"a": {"$in": [1, "x", true]}})", R"({"a": "x"})", true},
      {R"({"a": {"$in": [1, "x", true]}})", R"({"a": true})", true},
      {R"({"a": {"$in": [1, "x", true]}})", R"({"a": false})", false},
      {R"({"a": {"$in": [1, "x", true]}})", R"({"a": ["y", "x"]})", true},
      {R"({"a": {"$in": [1, "x", true]}})", R"({"a": ["y", [1]]})", false},
      {R"({"a": {"$in": [1, "x", true]}})", R"({})", false},
      {R"({"a": {"$in": [1, "x", true]}})", R"({"a": null})", false},
      {R"({"a": {"$in": []}})", R"({"a": 1})", false},
      {R"({"a": {"$in": []}})", R"({})", false},
      {R"({"a": {"$nin": [1, "x"]}})", R"({})", true},
      {R"({"a": {"$nin": [1, "x"]}})", R"({"a": null})", true},
      {R"({"a": {"$nin": [1, "x"]}})", R"({"a": 2})", true},
      {R"({"a": {"$nin": [1, "x"]}})", R"({"a": 1})", false},
      {R"({"a": {"$nin": [1, "x"]}})", R"({"a": [2, "x"]})", false},
      {R"({"a": {"$nin": [1, "x"]}})", R"({"a": [2, "y"]})", true},
      {R"({"a": {"$nin": []}})", R"({"a": 1})", true},
      {R"({"a": {"$nin": []}})", R"({})", true},
  });
}

TEST(FilterParse, ExistsAndPaths) {
  expect_cases({
      {R"({"a": {"$exists": true}})", R"({"a": null})", true},
      {R"({"a": {"$exists": true}})", R"({"a": []})", true},
      {R"({"a": {"$exists": true}})", R"({"a": {}})", true},
      {R"({"a": {"$exists": true}})", R"({"a": 0})", true},
      {R"({"a": {"$exists": true}})", R"({})", false},
      {R"({"a": {"$exists": true}})", R"(null)", false},
      {R"({"a": {"$exists": false}})", R"({"a": null})", false},
      {R"({"a": {"$exists": false}})", R"({})", true},
      {R"({"a": {"$exists": false}})", R"({"b": 1})", true},
      {R"({"n.x": {"$exists": true}})", R"({"n": {"x": null}})", true},
      {R"({"n.x": {"$exists": true}})", R"({"n": [{"x": 1}]})", false},
      {R"({"n.x": {"$exists": true}})", R"({"n": 1})", false},
      {R"({"n.x": {"$exists": true}})", R"({"n": {"y": 1}})", false},
      {R"({"n.x": 1})", R"({"n": {"x": 1}})", true},
      {R"({"n.x": 1})", R"({"n": {"x": [0, 1]}})", true},
      {R"({"n.x": 1})", R"({"n": [{"x": 1}]})", false},
      {R"({"n.x": 1})", R"({"n": {"x": {"y": 1}}})", false},
      {R"({"n.x": 1})", R"({"x": 1})", false},
      {R"({"n.x.y": "deep"})", R"({"n": {"x": {"y": "deep"}}})", true},
      {R"({"n.x.y": {"$gt": 1}})", R"({"n": {"x": {"y": 2}}})", true},
      {R"({"n.x.y": {"$gt": 1}})", R"({"n": {"x": 2}})", false},
      {R"({"author.name": "ann"})", R"({"author": {"name": "ann", "age": 3}})", true},
  });
}

TEST(FilterParse, CombinationsAreAnd) {
  expect_cases({
      // Several keys in one object.
      {R"({"a": 1, "b": 2})", R"({"a": 1, "b": 2})", true},
      {R"({"a": 1, "b": 2})", R"({"a": 1})", false},
      {R"({"a": 1, "b": 2})", R"({"a": 1, "b": 3})", false},
      {R"({"a": 1, "$or": [{"b": 1}, {"c": 1}]})", R"({"a": 1, "c": 1})", true},
      {R"({"a": 1, "$or": [{"b": 1}, {"c": 1}]})", R"({"a": 2, "c": 1})", false},
      {R"({"a": 1, "$or": [{"b": 1}, {"c": 1}]})", R"({"a": 1})", false},
      // Several operators on one field.
      {R"({"y": {"$gte": 2000, "$lt": 2010}})", R"({"y": 2000})", true},
      {R"({"y": {"$gte": 2000, "$lt": 2010}})", R"({"y": 2009.5})", true},
      {R"({"y": {"$gte": 2000, "$lt": 2010}})", R"({"y": 2010})", false},
      {R"({"y": {"$gte": 2000, "$lt": 2010}})", R"({"y": 1999})", false},
      // Each operator independently on an array (as MongoDB).
      {R"({"y": {"$gte": 2000, "$lt": 2010}})", R"({"y": [1000, 3000]})", true},
      {R"({"y": {"$ne": 1, "$exists": true}})", R"({"y": 2})", true},
      {R"({"y": {"$ne": 1, "$exists": true}})", R"({})", false},
      // Logical operators.
      {R"({"$and": [{"a": 1}, {"b": 2}]})", R"({"a": 1, "b": 2})", true},
      {R"({"$and": [{"a": 1}, {"b": 2}]})", R"({"a": 1, "b": 1})", false},
      {R"({"$and": [{"a": 1}]})", R"({"a": 1})", true},
      {R"({"$or": [{"a": 1}, {"b": 2}]})", R"({"b": 2})", true},
      {R"({"$or": [{"a": 1}, {"b": 2}]})", R"({"a": 2})", false},
      {R"({"$or": [{"a": 1}]})", R"({})", false},
      {R"({"$not": {"a": 1}})", R"({})", true},
      {R"({"$not": {"a": 1}})", R"({"a": 1})", false},
      {R"({"$not": {"a": 1}})", R"({"a": 2})", true},
      {R"({"$not": {"a": {"$gt": 1}}})", R"({"a": "x"})", true},
      {R"({"$not": {"$not": {"a": 1}}})", R"({"a": 1})", true},
      {R"({"$and": [{"a": 1}, {"b": 2}, {"year": {"$gte": "x"}}]})",
       R"({"a": 1, "b": 2, "year": "y"})", true},
      {R"({"$and": [{}, {"a": 1}]})", R"({"a": 1})", true},
      {R"({"$or": [{}, {"a": 1}]})", R"({})", true},
      {R"({})", R"({})", true},
      {R"({})", R"(null)", true},
      {R"({})", R"({"a": [1]})", true},
  });
}

TEST(FilterParse, MatchesAllAndDefault) {
  Filter all;
  EXPECT_TRUE(all.status().ok());
  EXPECT_TRUE(all.matches_all());
  EXPECT_EQ(all.to_json(), json::object());
  EXPECT_TRUE(all.matches(json()));
  EXPECT_TRUE(all.matches(J(R"({"a": 1})")));
  auto parsed = parse_text("{}");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->matches_all());
  EXPECT_TRUE(*parsed == all);
  auto parsed_json = Filter::parse(json::object());
  ASSERT_TRUE(parsed_json.has_value());
  EXPECT_TRUE(parsed_json->matches_all());
  EXPECT_FALSE(Filter::parse(J(R"({"a": 1})"))->matches_all());
  EXPECT_FALSE(Filter::eq("a", 1).matches_all());
}

TEST(FilterBuilders, SameAsParsed) {
  const std::vector<std::pair<Filter, const char*>> pairs = {
      {Filter::eq("a", 1), R"({"a": 1})"},
      {Filter::eq("a", "x"), R"({"a": {"$eq": "x"}})"},
      {Filter::eq("a", true), R"({"a": true})"},
      {Filter::ne("a", 1), R"({"a": {"$ne": 1}})"},
      {Filter::gt("a", 1), R"({"a": {"$gt": 1}})"},
      {Filter::gte("a", 2.5), R"({"a": {"$gte": 2.5}})"},
      {Filter::lt("s", "y"), R"({"s": {"$lt": "y"}})"},
      {Filter::lte("a", -1), R"({"a": {"$lte": -1}})"},
      {Filter::in("a", json::array({1, "x", true})), R"({"a": {"$in": [1, "x", true]}})"},
      {Filter::in("a", json::array()), R"({"a": {"$in": []}})"},
      {Filter::nin("a", json::array({1, "x"})), R"({"a": {"$nin": [1, "x"]}})"},
      {Filter::nin("a", json::array()), R"({"a": {"$nin": []}})"},
      {Filter::exists("a"), R"({"a": {"$exists": true}})"},
      {Filter::exists("a", false), R"({"a": {"$exists": false}})"},
      {Filter::eq("n.x", 2), R"({"n.x": 2})"},
      {Filter::eq("a", 1) && Filter::eq("b", 2), R"({"a": 1, "b": 2})"},
      {Filter::eq("a", 1) && Filter::eq("b", 2), R"({"$and": [{"a": 1}, {"b": 2}]})"},
      {Filter::eq("a", 1) || Filter::eq("b", 2), R"({"$or": [{"a": 1}, {"b": 2}]})"},
      {!Filter::eq("a", 1), R"({"$not": {"a": 1}})"},
      {!!Filter::eq("a", 1), R"({"$not": {"$not": {"a": 1}}})"},
      {Filter::gte("y", 2000) && Filter::lt("y", 2010), R"({"y": {"$gte": 2000, "$lt": 2010}})"},
      {(Filter::eq("a", 1) || !Filter::exists("b")) && Filter::in("c", json::array({2, "x"})),
       R"({"$and": [{"$or": [{"a": 1}, {"b": {"$exists": false}}]}, {"c": {"$in": [2, "x"]}}]})"},
      {Filter() && Filter::eq("a", 1), R"({"a": 1})"},
      {Filter::eq("a", 1) && Filter(), R"({"a": 1})"},
      {Filter() || Filter::eq("a", 1), R"({})"},
  };
  Gen gen(7);
  std::vector<json> mds = corner_metadata();
  for (int i = 0; i < 300; ++i) mds.push_back(gen.metadata());
  for (const auto& [built, text] : pairs) {
    ASSERT_TRUE(built.status().ok()) << text << ": " << built.status().to_string();
    auto parsed = parse_text(text);
    ASSERT_TRUE(parsed.has_value()) << text << ": " << parsed.error().to_string();
    for (const json& md : mds) {
      EXPECT_EQ(built.matches(md), parsed->matches(md)) << text << " on " << md.dump();
      EXPECT_EQ(built.matches(md), naive_matches(J(text), md)) << text << " on " << md.dump();
    }
  }
  // A single comparison has one canonical form, however it was written.
  EXPECT_TRUE(Filter::eq("a", 1) == *parse_text(R"({"a": 1})"));
  EXPECT_TRUE(Filter::eq("a", 1) == *parse_text(R"({"a": {"$eq": 1}})"));
  EXPECT_EQ(Filter::eq("a", 1).to_json(), parse_text(R"({"a": 1})")->to_json());
  EXPECT_TRUE(Filter::gt("a", 1) == *parse_text(R"({"a": {"$gt": 1}})"));
  EXPECT_FALSE(Filter::gt("a", 1) == *parse_text(R"({"a": {"$gt": 2}})"));
  EXPECT_FALSE(Filter::gt("a", 1) == Filter::gte("a", 1));
  EXPECT_TRUE(Filter::exists("n.x") == *parse_text(R"({"n.x": {"$exists": true}})"));
  // Canonical form: every comparison written with its operator.
  EXPECT_EQ(parse_text(R"({"year": 2000})")->to_json(), J(R"({"year": {"$eq": 2000}})"));
}

TEST(FilterBuilders, CopiesShareAndAreThreadSafe) {
  const Filter f = (Filter::gt("a", 1) && Filter::in("s", json::array({"x", "y"}))) ||
                   !Filter::exists("b");
  const json yes = J(R"({"a": 2, "s": "x", "b": 1})");
  const json no = J(R"({"a": 0, "s": "x", "b": 1})");
  Filter copy = f;
  EXPECT_TRUE(copy == f);
  EXPECT_EQ(detail::FilterAccess::node(copy), detail::FilterAccess::node(f));  // one tree
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      const Filter mine = t == 0 ? f : copy;
      for (int i = 0; i < 20000; ++i) {
        if (!mine.matches(yes) || mine.matches(no)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

// ── errors ───────────────────────────────────────────────────────────────────────────────

// The JSON is refused by parse(json) and, when it has a text form, by parse(text), both with
// kInvalidArgument and a message that starts with `prefix`.
void expect_invalid(const json& filter, std::string_view prefix, bool also_text = true) {
  SCOPED_TRACE(filter.dump());
  auto r = Filter::parse(filter);
  ASSERT_FALSE(r.has_value()) << "accepted: " << filter.dump();
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().to_string();
  EXPECT_TRUE(r.error().message().starts_with(prefix))
      << "message `" << r.error().message() << "` should start with `" << prefix << "`";
  if (also_text) {
    const std::string text = filter.dump();
    auto t = Filter::parse(std::string_view(text));
    ASSERT_FALSE(t.has_value()) << "accepted as text: " << text;
    EXPECT_EQ(t.error().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(t.error().message().starts_with(prefix))
        << "message `" << t.error().message() << "` should start with `" << prefix << "`";
  }
}

TEST(FilterErrors, AcceptedExample) {
  auto ok = parse_text(R"({"$and":[{"a":1},{"b":2},{"year":{"$gte":"x"}}]})");
  EXPECT_TRUE(ok.has_value()) << ok.error().to_string();
}

TEST(FilterErrors, PathOfTheFault) {
  expect_invalid(J(R"({"$and":[{"a":1},{"b":2},{"year":{"$gte":true}}]})"), "$and[2].year.$gte:");
  expect_invalid(J(R"({"$and":[{"a":1},{"$or":[{"b":{"$foo":1}}]}]})"), "$and[1].$or[0].b.$foo:");
  expect_invalid(J(R"({"$not":{"$and":[{"a":{"$in":[1,{"x":1}]}}]}})"),
                 "$not.$and[0].a.$in[1]:");
  expect_invalid(J(R"({"n.x":{"$gt":null}})"), "n.x.$gt:");
}

TEST(FilterErrors, UnknownOperators) {
  expect_invalid(J(R"({"$foo": 1})"), "$foo:");
  expect_invalid(J(R"({"$regex": "a.*"})"), "$regex:");
  expect_invalid(J(R"({"$foo": [{"a": 1}]})"), "$foo:");
  expect_invalid(J(R"({"a": {"$foo": 1}})"), "a.$foo:");
  expect_invalid(J(R"({"a": {"$regex": "x.*"}})"), "a.$regex:");
  expect_invalid(J(R"({"a": {"$gt": 1, "$foo": 2}})"), "a.$foo:");
  expect_invalid(J(R"({"a": 1, "$foo": 2})"), "$foo:");
  // Field operators are not filters, and filters are not field operators.
  expect_invalid(J(R"({"$gt": 1})"), "$gt:");
  expect_invalid(J(R"({"a": {"$and": [{"b": 1}]}})"), "a.$and:");
}

TEST(FilterErrors, LogicalOperands) {
  expect_invalid(J(R"({"$and": 1})"), "$and:");
  expect_invalid(J(R"({"$and": {"a": 1}})"), "$and:");
  expect_invalid(J(R"({"$and": []})"), "$and:");
  expect_invalid(J(R"({"$or": "x"})"), "$or:");
  expect_invalid(J(R"({"$or": []})"), "$or:");
  expect_invalid(J(R"({"$or": null})"), "$or:");
  expect_invalid(J(R"({"$and": [1]})"), "$and[0]:");
  expect_invalid(J(R"({"$or": [{"a": 1}, [{"b": 1}]]})"), "$or[1]:");
  expect_invalid(J(R"({"$not": 1})"), "$not:");
  expect_invalid(J(R"({"$not": [{"a": 1}]})"), "$not:");
  expect_invalid(J(R"({"$not": null})"), "$not:");
}

TEST(FilterErrors, MembershipOperands) {
  expect_invalid(J(R"({"tags": {"$in": "a"}})"), "tags.$in:");
  expect_invalid(J(R"({"tags": {"$in": {"a": 1}}})"), "tags.$in:");
  expect_invalid(J(R"({"tags": {"$nin": 1}})"), "tags.$nin:");
  expect_invalid(J(R"({"tags": {"$in": ["a", {"b": 1}]}})"), "tags.$in[1]:");
  expect_invalid(J(R"({"tags": {"$in": ["a", ["b"]]}})"), "tags.$in[1]:");
  expect_invalid(J(R"({"tags": {"$nin": [1, 2, {"b": 1}]}})"), "tags.$nin[2]:");
}

TEST(FilterErrors, NullInMembershipList) {
  // filter.hpp: `values` is an array of strings, numbers and booleans; null is none of them.
  expect_invalid(J(R"({"tags": {"$in": ["a", null]}})"), "tags.$in[1]:");
}

TEST(FilterErrors, ExistsOperand) {
  expect_invalid(J(R"({"a": {"$exists": 1}})"), "a.$exists:");
  expect_invalid(J(R"({"a": {"$exists": "true"}})"), "a.$exists:");
  expect_invalid(J(R"({"a": {"$exists": null}})"), "a.$exists:");
}

TEST(FilterErrors, EqualityAndRangeOperands) {
  expect_invalid(J(R"({"a": [1, 2]})"), "a:");
  expect_invalid(J(R"({"a": []})"), "a:");
  expect_invalid(J(R"({"a": null})"), "a:");
  expect_invalid(J(R"({"a": {"$eq": null}})"), "a.$eq:");
  expect_invalid(J(R"({"a": {"$eq": [1]}})"), "a.$eq:");
  expect_invalid(J(R"({"a": {"$ne": {"x": 1}}})"), "a.$ne:");
  expect_invalid(J(R"({"a": {"$gt": true}})"), "a.$gt:");
  expect_invalid(J(R"({"a": {"$gte": false}})"), "a.$gte:");
  expect_invalid(J(R"({"a": {"$lt": null}})"), "a.$lt:");
  expect_invalid(J(R"({"a": {"$lte": [1]}})"), "a.$lte:");
  expect_invalid(J(R"({"a": {"$gt": {}}})"), "a.$gt:");
  // An object without operators, or with none at all.
  expect_invalid(J(R"({"a": {"b": 1}})"), "a");
  expect_invalid(J(R"({"a": {"$gt": 1, "b": 2}})"), "a");
  expect_invalid(J(R"({"a": {}})"), "a:");
}

TEST(FilterErrors, NotAnObject) {
  for (const char* text : {"[]", "[{\"a\": 1}]", "1", "\"a\"", "true", "null"}) {
    SCOPED_TRACE(text);
    auto r = Filter::parse(J(text));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    auto t = parse_text(text);
    ASSERT_FALSE(t.has_value());
    EXPECT_EQ(t.error().code(), StatusCode::kInvalidArgument);
  }
}

TEST(FilterErrors, NotJson) {
  for (const char* text : {"", "{", "{\"a\": }", "nope", "{'a': 1}", "{\"a\": 1} x", "{\"a\": NaN}",
                           "{\"a\": 1,}"}) {
    SCOPED_TRACE(text);
    auto r = parse_text(text);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(r.error().message().empty());
  }
}

TEST(FilterErrors, BadPaths) {
  for (const char* path : {"", "a..b", ".a", "a.", "."}) {
    SCOPED_TRACE(std::string("path `") + path + "`");
    json f = json::object();
    f[path] = 1;
    auto r = Filter::parse(f);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    json g = json::object();
    g["$and"] = json::array({json{{"a", 1}}, json{{path, json{{"$gt", 1}}}}});
    auto r2 = Filter::parse(g);
    ASSERT_FALSE(r2.has_value());
    EXPECT_EQ(r2.error().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(r2.error().message().starts_with("$and[1]")) << r2.error().message();
    Filter b = Filter::eq(path, 1);
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(Filter::exists(path).status().code(), StatusCode::kInvalidArgument);
  }
}

TEST(FilterErrors, NonFiniteNumbers) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Through parse(json): JSON text cannot hold them, a json value can.
  expect_invalid(json{{"a", nan}}, "a", false);
  expect_invalid(json{{"a", json{{"$gt", inf}}}}, "a.$gt:", false);
  expect_invalid(json{{"a", json{{"$lte", -inf}}}}, "a.$lte:", false);
  expect_invalid(json{{"a", json{{"$in", json::array({1, nan})}}}}, "a.$in[1]:", false);
  // Through the builders.
  for (const Filter& f : {Filter::eq("a", nan), Filter::ne("a", inf), Filter::gt("a", nan),
                          Filter::gte("a", -inf), Filter::lt("a", inf), Filter::lte("a", nan),
                          Filter::in("a", json::array({1.0, nan})),
                          Filter::nin("a", json::array({inf}))}) {
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(f.matches(J(R"({"a": 1})")));
    EXPECT_FALSE(f.matches(json::object()));
  }
}

TEST(FilterErrors, BuilderWithBadOperandIsInvalidEverywhere) {
  const std::vector<Filter> bad = {
      Filter::eq("a", json()),
      Filter::eq("a", json::array({1})),
      Filter::eq("a", json::object()),
      Filter::ne("a", json::array()),
      Filter::gt("year", true),
      Filter::gte("a", json()),
      Filter::lt("a", json::array({1})),
      Filter::lte("a", json::object()),
      Filter::in("a", 1),
      Filter::in("a", "x"),
      Filter::in("a", json::array({1, json::object({{"x", 1}})})),
      Filter::nin("a", json::array({json::array({1})})),
      Filter::nin("a", json()),
      Filter::eq("", 1),
      Filter::gt("a..b", 1),
  };
  Gen gen(11);
  std::vector<json> mds = corner_metadata();
  for (int i = 0; i < 200; ++i) mds.push_back(gen.metadata());
  mds.push_back(J(R"({"year": true, "a": 1})"));
  const Filter good = Filter::eq("a", 1);
  for (std::size_t i = 0; i < bad.size(); ++i) {
    SCOPED_TRACE("bad filter #" + std::to_string(i));
    const Filter& b = bad[i];
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(b.status().message().empty());
    EXPECT_TRUE(b.to_json().is_null()) << b.to_json().dump();
    EXPECT_FALSE(b.matches_all());
    const std::vector<Filter> combined = {!b,
                                          !!b,
                                          b && good,
                                          good && b,
                                          b || good,
                                          good || b,
                                          Filter() && b,
                                          b && Filter(),
                                          Filter() || b,
                                          b || Filter(),
                                          !(good || (good && !b))};
    for (const json& md : mds) {
      EXPECT_FALSE(b.matches(md)) << md.dump();
      for (const Filter& c : combined) EXPECT_FALSE(c.matches(md)) << md.dump();
    }
    for (std::size_t j = 0; j < combined.size(); ++j) {
      EXPECT_EQ(combined[j].status().code(), StatusCode::kInvalidArgument) << "combination " << j;
      EXPECT_TRUE(combined[j].to_json().is_null()) << "combination " << j;
    }
  }
  // The status names the path.
  EXPECT_NE(Filter::gt("year", true).status().message().find("year"), std::string::npos)
      << Filter::gt("year", true).status().message();
  const Filter combo = Filter::eq("a", 1) && Filter::gt("year", true);
  EXPECT_NE(combo.status().message().find("year"), std::string::npos) << combo.status().message();
}

// ── depth ────────────────────────────────────────────────────────────────────────────────

std::string nest(const std::string& open, const std::string& close, std::size_t n,
                 const std::string& core) {
  std::string s;
  s.reserve(n * (open.size() + close.size()) + core.size());
  for (std::size_t i = 0; i < n; ++i) s += open;
  s += core;
  for (std::size_t i = 0; i < n; ++i) s += close;
  return s;
}

std::string nest_not(std::size_t n, const std::string& core) {
  return nest("{\"$not\":", "}", n, core);
}

TEST(FilterDepth, BoundaryByLevelsOfTheTree) {
  static_assert(Filter::kMaxFilterDepth == 64);
  // The rule of filter.hpp: a comparison or {} is one level; each $and, $or, $not, and each
  // object combining several keys or operators, adds one.
  struct Probe {
    std::string text;
    std::size_t levels;
  };
  const std::vector<Probe> probes = {
      {nest_not(63, R"({"a":{"$gt":1}})"), 64},
      {nest_not(64, R"({"a":{"$gt":1}})"), 65},
      {nest_not(63, R"({"a":1})"), 64},
      {nest_not(64, R"({"a":1})"), 65},
      {nest_not(62, R"({"a":{"$gt":1,"$lt":5}})"), 64},  // two operators: an implicit $and
      {nest_not(63, R"({"a":{"$gt":1,"$lt":5}})"), 65},
      {nest_not(62, R"({"a":1,"b":2})"), 64},  // two keys: an implicit $and
      {nest_not(63, R"({"a":1,"b":2})"), 65},
      {nest_not(63, R"({"a":{"$in":[1]}})"), 64},
      {nest_not(64, R"({"a":{"$in":[1]}})"), 65},
      {nest("{\"$and\":[", "]}", 63, R"({"a":{"$gt":1}})"), 64},
      {nest("{\"$and\":[", "]}", 64, R"({"a":{"$gt":1}})"), 65},
      {nest("{\"$or\":[{\"b\":2},", "]}", 63, R"({"a":{"$gt":1}})"), 64},
      {nest("{\"$or\":[{\"b\":2},", "]}", 64, R"({"a":{"$gt":1}})"), 65},
  };
  for (const Probe& p : probes) {
    SCOPED_TRACE(std::to_string(p.levels) + " levels: " + p.text.substr(0, 60) + "...");
    auto r = parse_text(p.text);
    auto rj = Filter::parse(J(p.text));
    if (p.levels <= Filter::kMaxFilterDepth) {
      ASSERT_TRUE(r.has_value()) << r.error().to_string();
      ASSERT_TRUE(rj.has_value()) << rj.error().to_string();
      EXPECT_TRUE(*r == *rj);
    } else {
      EXPECT_FALSE(r.has_value()) << "parse(text) accepted " << p.levels << " levels";
      if (!r.has_value()) {
        EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(r.error().message().find("deeper than 64"), std::string::npos)
            << r.error().message();
      }
      EXPECT_FALSE(rj.has_value()) << "parse(json) accepted " << p.levels << " levels";
      if (!rj.has_value()) {
        EXPECT_EQ(rj.error().code(), StatusCode::kInvalidArgument);
      }
    }
  }
  // The builders follow the same rule.
  Filter f = Filter::gt("a", 1);
  for (int i = 0; i < 63; ++i) f = !f;
  EXPECT_TRUE(f.status().ok()) << f.status().to_string();
  EXPECT_FALSE((!f).status().ok());
  EXPECT_TRUE(parse_text(nest_not(30, R"({"a":1})")).has_value());
  EXPECT_FALSE(parse_text(nest_not(100, R"({"a":1})")).has_value());
}

TEST(FilterDepth, AcceptedFiltersAtTheLimitStillWork) {
  for (std::size_t n : {62u, 63u}) {
    auto r = parse_text(nest_not(n, R"({"a":{"$gt":1}})"));
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    const bool odd = n % 2 == 1;
    EXPECT_EQ(r->matches(J(R"({"a": 2})")), !odd);
    EXPECT_EQ(r->matches(J(R"({"a": 0})")), odd);
  }
}

// parse(f.to_json()) gives an equal filter for every f, also one written at the depth limit in
// the short form ({"a": 1}) whose canonical form ({"a": {"$eq": 1}}) has one level more.
TEST(FilterDepth, CanonicalFormOfAFilterAtTheLimitParses) {
  const std::vector<std::string> texts = {
      nest_not(63, R"({"a":1})"), nest_not(62, R"({"a":1,"b":2})"),
      nest("{\"$and\":[", "]}", 31, R"({"a":1})"), nest_not(62, R"({"a":{"$in":[1]}})")};
  for (const std::string& text : texts) {
    auto f = parse_text(text);
    ASSERT_TRUE(f.has_value()) << f.error().to_string();
    SCOPED_TRACE(text.substr(0, 80));
    const json canonical = f->to_json();
    auto again = Filter::parse(canonical);
    ASSERT_TRUE(again.has_value()) << "canonical form (" << json_depth(canonical)
                                   << " levels) refused: " << again.error().to_string();
    EXPECT_TRUE(*again == *f);
  }
}

TEST(FilterDepth, HundredThousandNestedTextIsAnErrorNotACrash) {
  const std::size_t n = 100000;
  {
    auto r = parse_text(nest_not(n, R"({"a":1})"));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  {
    auto r = parse_text(nest("{\"$and\":[", "]}", n, R"({"a":1})"));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  {
    auto r = parse_text(nest("[", "]", n, "1"));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  {
    auto r = parse_text(nest("{\"a\":", "}", n, "1"));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  {
    auto r = parse_text(nest(R"({"a":{"$in":)", "}}", 1, nest("[", "]", n, "1")));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
  {  // The same through parse(json) (nlohmann parses and destroys deep values iteratively).
    const json deep = J(nest_not(n, R"({"a":1})"));
    auto r = Filter::parse(deep);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  }
}

// The builders refuse the 64th nested ! (65 levels with its comparison), keep refusing, never
// crash; up to there each filter keeps meaning what was built and its canonical form parses.
TEST(FilterDepth, HundredThousandNotOperatorsDoNotCrash) {
  const json two = J(R"({"a": 2})");
  const json zero = J(R"({"a": 0})");
  Filter f = Filter::gt("a", 1);
  bool refused = false;
  for (std::size_t i = 1; i <= 100000; ++i) {
    f = !f;
    const bool odd = i % 2 == 1;
    if (i <= 300 || i % 9973 == 0 || i == 100000) {
      if (f.status().ok()) {
        ASSERT_FALSE(refused) << "a refused filter became valid again at " << i;
        const json j = f.to_json();
        EXPECT_LT(i, Filter::kMaxFilterDepth) << "valid at " << i << " nots (65 levels)";
        ASSERT_EQ(f.matches(two), !odd) << i;
        ASSERT_EQ(f.matches(zero), odd) << i;
        auto again = Filter::parse(j);
        ASSERT_TRUE(again.has_value()) << i << ": " << again.error().to_string();
      } else {
        if (!refused) {
          EXPECT_EQ(i, Filter::kMaxFilterDepth) << "refused too early";
        }
        refused = true;
        ASSERT_EQ(f.status().code(), StatusCode::kInvalidArgument) << i;
        ASSERT_FALSE(f.matches(two));
        ASSERT_FALSE(f.matches(zero));
      }
    }
  }
  // A chain no sane simplification flattens: a || !(b || !(c || ...)).
  Filter g = Filter::eq("x", 0);
  for (int i = 1; i <= 100000; ++i) {
    g = Filter::eq("x", i) || !g;
    if (i == 15) {
      EXPECT_TRUE(g.status().ok()) << "15 steps refused: " << g.status().to_string();
    }
    if (i == 100) {
      EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument) << "100 steps accepted";
    }
  }
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(g.matches(J(R"({"x": 100000})")));
  // And conjunctions a && (b && (c && ...)) nested on the right.
  Filter h = Filter::eq("x", 0);
  for (int i = 1; i <= 100000; ++i) h = Filter::eq("x", i) && (h || Filter::eq("y", i));
  if (h.status().ok()) {
    EXPECT_LE(json_depth(h.to_json()), Filter::kMaxFilterDepth);
  }
}

// ── canonical JSON and the property test ─────────────────────────────────────────────────

TEST(FilterProperty, AgreesWithNaiveEvaluatorAndRoundTrips) {
  Gen gen(20240611);
  std::vector<json> pool = corner_metadata();
  while (pool.size() < 600) pool.push_back(gen.metadata());
  const std::size_t kFilters = 10000, kPerFilter = 20;
  std::size_t evaluated = 0, true_count = 0;
  int failures = 0;
  for (std::size_t i = 0; i < kFilters && failures < 20; ++i) {
    const json fj = gen.filter(1 + static_cast<int>(gen.below(4)));
    auto parsed = Filter::parse(fj);
    if (!parsed.has_value()) {
      ADD_FAILURE() << "valid filter refused: " << fj.dump() << ": " << parsed.error().to_string();
      ++failures;
      continue;
    }
    const std::string text = fj.dump();
    auto from_text = Filter::parse(std::string_view(text));
    ASSERT_TRUE(from_text.has_value()) << text << ": " << from_text.error().to_string();
    const Filter built = build(fj);
    if (!built.status().ok()) {
      ADD_FAILURE() << "builders refused " << text << ": " << built.status().to_string();
      ++failures;
      continue;
    }
    // Canonical: parse(to_json) is equal, and to_json is a fixed point.
    const json canonical = parsed->to_json();
    auto reparsed = Filter::parse(canonical);
    if (!reparsed.has_value()) {
      ADD_FAILURE() << "canonical form refused: " << text << " -> " << canonical.dump() << ": "
                    << reparsed.error().to_string();
      ++failures;
      continue;
    }
    EXPECT_TRUE(*reparsed == *parsed) << text << " -> " << canonical.dump();
    EXPECT_EQ(reparsed->to_json(), canonical) << text;
    EXPECT_TRUE(*from_text == *parsed) << text;
    const json built_canonical = built.to_json();
    auto built_reparsed = Filter::parse(built_canonical);
    ASSERT_TRUE(built_reparsed.has_value())
        << text << " built -> " << built_canonical.dump() << ": "
        << built_reparsed.error().to_string();
    EXPECT_EQ(built_reparsed->to_json(), built_canonical) << text;

    for (std::size_t m = 0; m < kPerFilter; ++m) {
      const json& md = m < 3 ? pool[gen.below(12)] : pool[gen.below(pool.size())];
      const bool expected = naive_matches(fj, md);
      ++evaluated;
      true_count += expected ? 1 : 0;
      const bool got = parsed->matches(md);
      const bool got_text = from_text->matches(md);
      const bool got_built = built.matches(md);
      const bool got_canonical = reparsed->matches(md);
      const bool got_built_canonical = built_reparsed->matches(md);
      if (got != expected || got_text != expected || got_built != expected ||
          got_canonical != expected || got_built_canonical != expected) {
        ADD_FAILURE() << "filter   " << text << "\nmetadata " << md.dump() << "\nexpected "
                      << expected << ", parse " << got << ", parse(text) " << got_text
                      << ", builders " << got_built << ", canonical " << got_canonical
                      << ", builders' canonical " << got_built_canonical
                      << "\ncanonical " << canonical.dump()
                      << "\nbuilders' canonical " << built_canonical.dump();
        if (++failures >= 20) break;
      }
    }
  }
  EXPECT_GE(evaluated, kFilters * kPerFilter);
  // The generator is useful: neither almost always true nor almost always false.
  EXPECT_GT(true_count, evaluated / 10);
  EXPECT_LT(true_count, evaluated * 9 / 10);
  std::cout << "[          ] " << evaluated << " (filter, metadata) pairs, " << true_count
            << " matches\n";
}

// Null metadata is {}.
TEST(FilterProperty, NullMetadataIsEmptyObject) {
  Gen gen(5);
  for (int i = 0; i < 2000; ++i) {
    const json fj = gen.filter(3);
    auto f = Filter::parse(fj);
    ASSERT_TRUE(f.has_value()) << fj.dump();
    EXPECT_EQ(f->matches(json()), f->matches(json::object())) << fj.dump();
    EXPECT_EQ(f->matches(json()), naive_matches(fj, json::object())) << fj.dump();
  }
}

}  // namespace
}  // namespace hnswstore
