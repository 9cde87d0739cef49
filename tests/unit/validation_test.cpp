// The input rules (docs/index.md, "Input rules"): bad input never changes state.
//
// Every test here makes a call that breaks one rule and checks three things:
//   1. the status code (kInvalidArgument, kResourceExhausted, kNotFound, kAlreadyExists);
//   2. that the message names the offending field: it starts with the field's name
//      (validation.hpp: `records[3].vector[17]: NaN is not allowed`);
//   3. that the namespace is exactly as before, via Snapshot: size(), options(), get() of every
//      id the test used (bit for bit), contains(), search results for fixed queries (ids,
//      distance bits, metadata, vectors) and stats() counters and byte sizes.
//
// The fixture runs every test for HNSW and flat, each with the cosine and the L2 metric.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/hnswstore.hpp"

namespace hnswstore {
namespace {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

constexpr std::size_t kDim = 24;
const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// ── status checks ──────────────────────────────────────────────────────────────────────────

// A printable, bounded form of an id or message (some ids here are 1025 bytes long).
std::string shorten(std::string_view s, std::size_t max = 60) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// The message names `field` when it starts with it and the field is not just the prefix of a
// longer name ("vector" must not match "vectors: ..."). A sub-field or an index may follow:
// "records[3]" is named by "records[3].vector[17]: ...", "vectors[2]" by "vectors[2][5]: ...".
bool names_field(const std::string& message, std::string_view field) {
  if (!message.starts_with(field)) return false;
  if (message.size() == field.size()) return true;
  const auto next = static_cast<unsigned char>(message[field.size()]);
  return !(std::isalnum(next) || next == '_');
}

AssertionResult IsError(const Status& s, StatusCode code, std::string_view field) {
  if (s.code() != code) {
    return AssertionFailure() << "expected " << status_code_name(code) << " naming '" << field
                              << "', got " << s.to_string();
  }
  if (!names_field(s.message(), field)) {
    return AssertionFailure() << "the message does not start with the field '" << field
                              << "': " << s.to_string();
  }
  return AssertionSuccess();
}

template <class T>
AssertionResult IsError(const Result<T>& r, StatusCode code, std::string_view field) {
  if (r.has_value()) {
    return AssertionFailure() << "expected " << status_code_name(code) << " naming '" << field
                              << "', got a value";
  }
  return IsError(r.error(), code, field);
}

AssertionResult IsCode(const Status& s, StatusCode code) {
  if (s.code() != code) {
    return AssertionFailure() << "expected " << status_code_name(code) << ", got " << s.to_string();
  }
  return AssertionSuccess();
}

template <class T>
AssertionResult IsCode(const Result<T>& r, StatusCode code) {
  if (r.has_value()) {
    return AssertionFailure() << "expected " << status_code_name(code) << ", got a value";
  }
  return IsCode(r.error(), code);
}

AssertionResult IsOk(const Status& s) {
  if (!s.ok()) return AssertionFailure() << s.to_string();
  return AssertionSuccess();
}

// ── snapshots ──────────────────────────────────────────────────────────────────────────────

std::vector<std::uint32_t> bits(std::span<const float> v) {
  std::vector<std::uint32_t> out;
  out.reserve(v.size());
  for (float x : v) out.push_back(std::bit_cast<std::uint32_t>(x));
  return out;
}

// get(id) and contains(id) in a form that compares bit for bit.
struct RecordState {
  bool contains = false;
  StatusCode code = StatusCode::kOk;
  std::string id;
  std::vector<std::uint32_t> vector;
  std::string metadata;  // JSON text (objects print their keys sorted)
  friend bool operator==(const RecordState&, const RecordState&) = default;
};

struct HitState {
  std::string id;
  std::uint32_t distance = 0;
  std::string metadata;
  std::vector<std::uint32_t> vector;
  friend bool operator==(const HitState&, const HitState&) = default;
};

struct SearchState {
  StatusCode code = StatusCode::kOk;
  std::vector<HitState> hits;
  friend bool operator==(const SearchState&, const SearchState&) = default;
};

struct Snapshot {
  std::size_t size = 0;
  bool valid = false;  // operator bool of the handle
  NamespaceOptions options;
  std::map<std::string, RecordState> records;
  std::vector<SearchState> searches;
  NamespaceStats stats;
};

// Searches first, then stats: the first search may create hnswlib's visited list, which
// memory_bytes counts, so this order keeps memory_bytes comparable between two snapshots.
Snapshot take_snapshot(const Namespace& ns, const std::set<std::string>& ids,
                       const std::vector<std::vector<float>>& queries) {
  Snapshot s;
  for (const auto& q : queries) {
    SearchState st;
    auto r =
        ns.search(q, SearchOptions{.k = 40, .include_metadata = true, .include_vectors = true});
    if (r) {
      for (const Hit& h : *r) {
        st.hits.push_back(
            {h.id, std::bit_cast<std::uint32_t>(h.distance), h.metadata.dump(), bits(h.vector)});
      }
    } else {
      st.code = r.error().code();
    }
    s.searches.push_back(std::move(st));
  }
  for (const auto& id : ids) {
    RecordState rs;
    rs.contains = ns.contains(id);
    auto r = ns.get(id);
    if (r) {
      rs.id = r->id;
      rs.vector = bits(r->vector);
      rs.metadata = r->metadata.dump();
    } else {
      rs.code = r.error().code();
    }
    s.records.emplace(id, std::move(rs));
  }
  s.size = ns.size();
  s.valid = static_cast<bool>(ns);
  s.options = ns.options();
  s.stats = ns.stats();
  return s;
}

std::string describe(const RecordState& r) {
  std::ostringstream o;
  o << "{contains " << r.contains << ", " << status_code_name(r.code);
  if (r.code == StatusCode::kOk) {
    o << ", " << r.vector.size() << " floats, first bits " << std::hex
      << (r.vector.empty() ? 0u : r.vector[0]) << std::dec << ", metadata " << shorten(r.metadata);
  }
  return o.str() + "}";
}

// "" when the snapshots are equal, otherwise every difference, one per line.
std::string diff(const Snapshot& a, const Snapshot& b) {
  std::ostringstream o;
  if (a.size != b.size) o << "size() " << a.size << " -> " << b.size << "\n";
  if (a.valid != b.valid) o << "operator bool " << a.valid << " -> " << b.valid << "\n";
  if (!(a.options == b.options)) {
    o << "options() changed (dimension " << a.options.dimension << " -> " << b.options.dimension
      << ", ef_search " << a.options.hnsw.ef_search << " -> " << b.options.hnsw.ef_search << ")\n";
  }
  std::set<std::string> ids;
  for (const auto& [id, r] : a.records) ids.insert(id);
  for (const auto& [id, r] : b.records) ids.insert(id);
  for (const auto& id : ids) {
    auto ia = a.records.find(id);
    auto ib = b.records.find(id);
    if (ia == a.records.end() || ib == b.records.end()) {
      o << "id '" << shorten(id) << "' is in one snapshot only\n";
    } else if (!(ia->second == ib->second)) {
      o << "record '" << shorten(id) << "': " << describe(ia->second) << " -> "
        << describe(ib->second) << "\n";
    }
  }
  if (a.searches.size() != b.searches.size()) {
    o << "number of searches " << a.searches.size() << " -> " << b.searches.size() << "\n";
  } else {
    for (std::size_t q = 0; q < a.searches.size(); ++q) {
      const auto& sa = a.searches[q];
      const auto& sb = b.searches[q];
      if (sa == sb) continue;
      o << "search " << q << ": " << status_code_name(sa.code) << " " << sa.hits.size()
        << " hits -> " << status_code_name(sb.code) << " " << sb.hits.size() << " hits";
      for (std::size_t i = 0; i < sa.hits.size() && i < sb.hits.size(); ++i) {
        if (!(sa.hits[i] == sb.hits[i])) {
          o << "; first difference at hit " << i << " ('" << shorten(sa.hits[i].id) << "' -> '"
            << shorten(sb.hits[i].id) << "')";
          break;
        }
      }
      o << "\n";
    }
  }
  const auto& x = a.stats;
  const auto& y = b.stats;
  auto field = [&](const char* name, std::size_t u, std::size_t v) {
    if (u != v) o << "stats()." << name << " " << u << " -> " << v << "\n";
  };
  field("count", x.count, y.count);
  field("deleted", x.deleted, y.deleted);
  field("vector_bytes", x.vector_bytes, y.vector_bytes);
  field("graph_bytes", x.graph_bytes, y.graph_bytes);
  field("metadata_bytes", x.metadata_bytes, y.metadata_bytes);
  field("memory_bytes", x.memory_bytes, y.memory_bytes);
  if (x.loaded != y.loaded) o << "stats().loaded " << x.loaded << " -> " << y.loaded << "\n";
  if (x.dirty != y.dirty) o << "stats().dirty " << x.dirty << " -> " << y.dirty << "\n";
  return o.str();
}

// ── data ───────────────────────────────────────────────────────────────────────────────────

// Deterministic floats in [-1, 1), never an all-zero vector.
std::vector<float> make_vector(std::uint64_t seed, std::size_t dim = kDim) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  std::vector<float> v(dim);
  for (float& f : v) {
    x += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    f = static_cast<float>(static_cast<double>(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  if (!v.empty()) v[0] += 2.0f;  // keeps the norm well away from zero
  return v;
}

Metadata make_metadata(std::size_t i) {
  return Metadata{{"i", i}, {"group", i % 3}, {"name", "rec-" + std::to_string(i)}};
}

struct Config {
  IndexKind index;
  Metric metric;
};

void PrintTo(const Config& c, std::ostream* os) {
  *os << to_string(c.index) << "/" << to_string(c.metric);
}

std::string config_name(const ::testing::TestParamInfo<Config>& info) {
  std::string s = info.param.index == IndexKind::kHnsw ? "Hnsw" : "Flat";
  s += info.param.metric == Metric::kCosine ? "Cosine" : "L2";
  return s;
}

// ids: new-0 .. new-4 and the existing rec-3 (an update); vectors 6 x kDim.
struct Columns {
  std::vector<std::string> ids;
  std::vector<float> vectors;
  std::vector<Metadata> metadata;
};

Columns valid_columns() {
  Columns c;
  for (std::size_t i = 0; i < 6; ++i) {
    c.ids.push_back(i < 5 ? "new-" + std::to_string(i) : "rec-3");
    auto v = make_vector(600 + i);
    c.vectors.insert(c.vectors.end(), v.begin(), v.end());
    c.metadata.push_back(Metadata{{"col", i}});
  }
  return c;
}

// ── fixture ────────────────────────────────────────────────────────────────────────────────

// Namespace "rules": rec-0 .. rec-19 inserted, rec-5 and rec-11 removed (18 live records and 2
// tombstones, so a wrongly applied insert would also change stats().deleted).
class RuleTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    ns_ = store_.create_namespace("rules", options()).value();
    for (std::size_t i = 0; i < 20; ++i) {
      const std::string id = "rec-" + std::to_string(i);
      ASSERT_TRUE(IsOk(ns_.upsert(id, make_vector(i), make_metadata(i))));
      track(id);
    }
    ASSERT_TRUE(ns_.remove("rec-5").value());
    ASSERT_TRUE(ns_.remove("rec-11").value());
    ASSERT_EQ(ns_.size(), 18u);
    // A few queries: random ones and one equal to a stored vector.
    queries_ = {make_vector(1000), make_vector(1001), make_vector(1002), make_vector(3)};
    // Ids that tests try to insert; none exists yet.
    for (std::size_t i = 0; i < 10; ++i) track("new-" + std::to_string(i));
  }

  NamespaceOptions options() const {
    return NamespaceOptions{.dimension = kDim,
                            .metric = GetParam().metric,
                            .index = GetParam().index,
                            .hnsw = HnswParams::balanced()};
  }
  bool cosine() const { return GetParam().metric == Metric::kCosine; }
  bool hnsw() const { return GetParam().index == IndexKind::kHnsw; }

  // Snapshots include every tracked id: ids set up, and ids a bad call tries to create.
  void track(const std::string& id) { tracked_.insert(id); }
  Snapshot snap() const { return take_snapshot(ns_, tracked_, queries_); }
  Snapshot snap(const Namespace& ns) const { return take_snapshot(ns, tracked_, queries_); }

  // A valid batch of 10: records[0] and [1] update rec-0 and rec-1, records[2..9] insert
  // new-2 .. new-9.
  std::vector<Record> valid_batch() const {
    std::vector<Record> batch;
    for (std::size_t i = 0; i < 10; ++i) {
      batch.push_back({i < 2 ? "rec-" + std::to_string(i) : "new-" + std::to_string(i),
                       make_vector(500 + i), Metadata{{"batch", i}}});
    }
    return batch;
  }

  VectorStore store_ = VectorStore::in_memory(StoreOptions{.threads = 4});
  Namespace ns_;
  std::set<std::string> tracked_;
  std::vector<std::vector<float>> queries_;
};

#define EXPECT_UNCHANGED(before) EXPECT_EQ(diff((before), snap()), "")

INSTANTIATE_TEST_SUITE_P(AllIndexes, RuleTest,
                         ::testing::Values(Config{IndexKind::kHnsw, Metric::kCosine},
                                           Config{IndexKind::kFlat, Metric::kCosine},
                                           Config{IndexKind::kHnsw, Metric::kL2},
                                           Config{IndexKind::kFlat, Metric::kL2}),
                         config_name);

// The helper itself must see every kind of change, or "unchanged" would prove nothing.
TEST_P(RuleTest, SnapshotSeesEveryKindOfChange) {
  Snapshot s = snap();
  EXPECT_EQ(diff(s, snap()), "") << "two snapshots of an untouched namespace differ";

  auto v = make_vector(0);
  v[17] += 0.25f;
  ASSERT_TRUE(IsOk(ns_.upsert("rec-0", v, make_metadata(0))));  // vector of an existing id
  EXPECT_NE(diff(s, snap()), "");
  s = snap();
  ASSERT_TRUE(IsOk(ns_.update_metadata("rec-1", Metadata{{"x", 1}})));
  EXPECT_NE(diff(s, snap()), "");
  s = snap();
  ASSERT_TRUE(IsOk(ns_.upsert("new-0", make_vector(900))));  // reuses a tombstone
  EXPECT_NE(diff(s, snap()), "");
  s = snap();
  ASSERT_TRUE(ns_.remove("rec-2").value());
  EXPECT_NE(diff(s, snap()), "");
  s = snap();
  ASSERT_TRUE(IsOk(ns_.set_ef_search(ns_.options().hnsw.ef_search + 1)));
  EXPECT_NE(diff(s, snap()), "");
}

// ── single upsert ──────────────────────────────────────────────────────────────────────────

TEST_P(RuleTest, UpsertWithWrongDimensionIsRejectedNamingVector) {
  const Snapshot before = snap();
  for (std::size_t dim : {std::size_t{0}, std::size_t{1}, kDim - 1, kDim + 1, 2 * kDim}) {
    for (const char* id : {"rec-0", "new-0"}) {  // an update and an insert
      SCOPED_TRACE("dimension " + std::to_string(dim) + ", id " + id);
      EXPECT_TRUE(IsError(ns_.upsert(id, make_vector(77, dim), Metadata{{"a", 1}}),
                          StatusCode::kInvalidArgument, "vector"));
      EXPECT_UNCHANGED(before);
    }
  }
}

TEST_P(RuleTest, UpsertWithNaNOrInfinityIsRejectedNamingTheComponent) {
  const Snapshot before = snap();
  struct Case {
    std::size_t position;
    float value;
  };
  for (const Case& c : {Case{17, kNaN}, Case{0, kInf}, Case{kDim - 1, -kInf}, Case{9, -kNaN}}) {
    for (const char* id : {"rec-0", "new-0"}) {
      const std::string field = "vector[" + std::to_string(c.position) + "]";
      SCOPED_TRACE(field + " = " + std::to_string(c.value) + ", id " + id);
      auto v = make_vector(77);
      v[c.position] = c.value;
      EXPECT_TRUE(
          IsError(ns_.upsert(id, v, Metadata{{"a", 1}}), StatusCode::kInvalidArgument, field));
      EXPECT_UNCHANGED(before);
    }
  }
}

TEST_P(RuleTest, UpsertWithEmptyIdIsRejectedNamingId) {
  track("");
  const Snapshot before = snap();
  EXPECT_TRUE(IsError(ns_.upsert("", make_vector(77), Metadata{{"a", 1}}),
                      StatusCode::kInvalidArgument, "id"));
  EXPECT_TRUE(
      IsError(ns_.upsert(std::string_view(), make_vector(77)), StatusCode::kInvalidArgument, "id"));
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, UpsertWithIdOver1024BytesIsRejectedAnd1024BytesIsAccepted) {
  const std::string too_long(kMaxIdBytes + 1, 'x');
  const std::string much_too_long(5000, 'y');
  const std::string longest(kMaxIdBytes, 'z');
  track(too_long);
  track(much_too_long);
  track(longest);
  const Snapshot before = snap();
  EXPECT_TRUE(IsError(ns_.upsert(too_long, make_vector(77)), StatusCode::kInvalidArgument, "id"));
  EXPECT_TRUE(
      IsError(ns_.upsert(much_too_long, make_vector(77)), StatusCode::kInvalidArgument, "id"));
  EXPECT_UNCHANGED(before);

  // 1024 bytes, any bytes (a NUL and non-ASCII included) are a valid id.
  std::string odd = longest;
  odd[10] = '\0';
  odd[500] = '\xff';
  track(odd);
  ASSERT_TRUE(IsOk(ns_.upsert(longest, make_vector(78), Metadata{{"long", true}})));
  ASSERT_TRUE(IsOk(ns_.upsert(odd, make_vector(79))));
  EXPECT_EQ(ns_.size(), before.size + 2);
  auto r = ns_.get(longest);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(r->id, longest);
  EXPECT_EQ(r->metadata, (Metadata{{"long", true}}));
  EXPECT_TRUE(ns_.contains(odd));
  EXPECT_FALSE(ns_.contains(too_long));
}

TEST_P(RuleTest, UpsertWithNonObjectMetadataIsRejectedAndNullBecomesAnEmptyObject) {
  const Snapshot before = snap();
  const std::vector<Metadata> bad = {Metadata::array({1, 2}), Metadata::array(),
                                     Metadata("text"),        Metadata(42),
                                     Metadata(-1.5),          Metadata(true)};
  for (const Metadata& m : bad) {
    for (const char* id : {"rec-0", "new-0"}) {
      SCOPED_TRACE("metadata " + m.dump() + ", id " + id);
      EXPECT_TRUE(
          IsError(ns_.upsert(id, make_vector(77), m), StatusCode::kInvalidArgument, "metadata"));
      EXPECT_UNCHANGED(before);
    }
  }

  // null (also the default argument) is accepted and stored as {}.
  ASSERT_TRUE(IsOk(ns_.upsert("new-0", make_vector(80), Metadata(nullptr))));
  ASSERT_TRUE(IsOk(ns_.upsert("new-1", make_vector(81))));
  ASSERT_TRUE(IsOk(ns_.upsert("rec-0", make_vector(0), Metadata(nullptr))));
  for (const char* id : {"new-0", "new-1", "rec-0"}) {
    auto r = ns_.get(id);
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_TRUE(r->metadata.is_object()) << id << ": " << r->metadata.dump();
    EXPECT_TRUE(r->metadata.empty()) << id << ": " << r->metadata.dump();
  }
}

TEST_P(RuleTest, UpsertOfZeroVectorIsRejectedForCosineOnly) {
  const std::vector<float> zero(kDim, 0.0f);
  const Snapshot before = snap();
  if (cosine()) {
    EXPECT_TRUE(IsError(ns_.upsert("new-0", zero), StatusCode::kInvalidArgument, "vector"));
    EXPECT_TRUE(IsError(ns_.upsert("rec-0", zero), StatusCode::kInvalidArgument, "vector"));
    std::vector<float> negative_zero(kDim, -0.0f);
    EXPECT_TRUE(
        IsError(ns_.upsert("new-0", negative_zero), StatusCode::kInvalidArgument, "vector"));
    EXPECT_UNCHANGED(before);
  } else {
    ASSERT_TRUE(IsOk(ns_.upsert("new-0", zero)));
    auto r = ns_.get("new-0");
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_EQ(r->vector, zero);
  }
}

// Finite components whose norm is beyond the float range: cosine keeps each norm as a float,
// so it must refuse them (it used to store an infinite norm and get() returned infinities);
// the other metrics store the vector as given.
TEST_P(RuleTest, UpsertOfVectorWithNormBeyondFloatRangeIsRejectedForCosineOnly) {
  const std::vector<float> huge(kDim, 3e38f);
  std::vector<float> largest_fitting(kDim, 0.0f);
  largest_fitting[4] = std::numeric_limits<float>::max();  // norm exactly FLT_MAX
  if (cosine()) {
    const Snapshot before = snap();
    EXPECT_TRUE(IsError(ns_.upsert("new-0", huge), StatusCode::kInvalidArgument, "vector"));
    EXPECT_TRUE(IsError(ns_.upsert("rec-0", huge), StatusCode::kInvalidArgument, "vector"));
    auto batch = valid_batch();
    batch[3].vector = huge;
    EXPECT_TRUE(IsError(ns_.upsert(batch), StatusCode::kInvalidArgument, "records[3].vector"));
    auto c = valid_columns();
    std::fill_n(c.vectors.begin() + 2 * kDim, kDim, 3e38f);
    EXPECT_TRUE(IsError(ns_.upsert(c.ids, c.vectors), StatusCode::kInvalidArgument, "vectors[2]"));
    EXPECT_UNCHANGED(before);
  } else {
    ASSERT_TRUE(IsOk(ns_.upsert("new-0", huge)));
    EXPECT_EQ(bits(ns_.get("new-0").value().vector), bits(huge));
  }
  ASSERT_TRUE(IsOk(ns_.upsert("new-1", largest_fitting)));
  EXPECT_EQ(bits(ns_.get("new-1").value().vector), bits(largest_fitting));
}

// ── batch upsert of Records ────────────────────────────────────────────────────────────────

TEST_P(RuleTest, BatchWithOneBadRecordAppliesNothing) {
  // The batch is valid as it stands (checked on a fresh namespace), so each failure below comes
  // from the one spoiled record.
  {
    auto other = store_.create_namespace("batch-check", options()).value();
    ASSERT_TRUE(IsOk(other.upsert(valid_batch())));
  }
  struct Bad {
    const char* what;
    std::string field;  // after "records[p]."
    void (*spoil)(Record&);
    bool cosine_only;
  };
  const std::vector<Bad> bads = {
      {"NaN", "vector[17]", [](Record& r) { r.vector[17] = kNaN; }, false},
      {"+inf", "vector[0]", [](Record& r) { r.vector[0] = kInf; }, false},
      {"-inf", "vector[23]", [](Record& r) { r.vector[23] = -kInf; }, false},
      {"short vector", "vector", [](Record& r) { r.vector.pop_back(); }, false},
      {"long vector", "vector", [](Record& r) { r.vector.push_back(1.0f); }, false},
      {"empty id", "id", [](Record& r) { r.id.clear(); }, false},
      {"1025-byte id", "id", [](Record& r) { r.id = std::string(kMaxIdBytes + 1, 'q'); }, false},
      {"array metadata", "metadata", [](Record& r) { r.metadata = Metadata::array({1}); }, false},
      {"string metadata", "metadata", [](Record& r) { r.metadata = "s"; }, false},
      {"zero vector", "vector", [](Record& r) { r.vector.assign(kDim, 0.0f); }, true},
  };
  track(std::string(kMaxIdBytes + 1, 'q'));
  const Snapshot before = snap();
  // In the middle, first (an update of rec-0) and last (after nine valid records).
  for (std::size_t p : {std::size_t{3}, std::size_t{0}, std::size_t{9}}) {
    for (const Bad& b : bads) {
      if (b.cosine_only && !cosine()) continue;
      SCOPED_TRACE(std::string(b.what) + " at records[" + std::to_string(p) + "]");
      auto batch = valid_batch();
      b.spoil(batch[p]);
      const std::string field = "records[" + std::to_string(p) + "]." + b.field;
      EXPECT_TRUE(IsError(ns_.upsert(batch), StatusCode::kInvalidArgument, field));
      EXPECT_UNCHANGED(before);
      for (const Record& r : batch) EXPECT_FALSE(r.id.starts_with("new-") && ns_.contains(r.id));
    }
  }
}

TEST_P(RuleTest, BatchWithDuplicateIdsIsRejectedNamingBothPositions) {
  const Snapshot before = snap();
  struct Dup {
    std::size_t first, second;
  };
  // Two new records with one id, two updates of rec-1, and an update of rec-0 repeated last.
  for (const Dup& d : {Dup{2, 6}, Dup{1, 7}, Dup{0, 9}}) {
    auto batch = valid_batch();
    batch[d.second].id = batch[d.first].id;
    const std::string a = "records[" + std::to_string(d.first) + "]";
    const std::string b = "records[" + std::to_string(d.second) + "]";
    SCOPED_TRACE(a + " and " + b + " both '" + batch[d.first].id + "'");
    const Status s = ns_.upsert(batch);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
    EXPECT_TRUE(s.message().starts_with("records[")) << s.to_string();
    EXPECT_NE(s.message().find(a), std::string::npos) << s.to_string();
    EXPECT_NE(s.message().find(b), std::string::npos) << s.to_string();
    EXPECT_UNCHANGED(before);
  }
}

// ── columnar upsert ────────────────────────────────────────────────────────────────────────

TEST_P(RuleTest, ColumnarWithVectorsNotIdsTimesDimIsRejectedNamingVectors) {
  {
    auto other = store_.create_namespace("columns-check", options()).value();
    auto c = valid_columns();
    ASSERT_TRUE(IsOk(other.upsert(c.ids, c.vectors, c.metadata)));
  }
  const Snapshot before = snap();
  for (long delta : {-1L, 1L, -static_cast<long>(kDim), static_cast<long>(kDim)}) {
    SCOPED_TRACE("vectors.size() = 6 * dim + " + std::to_string(delta));
    auto c = valid_columns();
    c.vectors.resize(static_cast<std::size_t>(static_cast<long>(c.vectors.size()) + delta), 0.5f);
    EXPECT_TRUE(
        IsError(ns_.upsert(c.ids, c.vectors, c.metadata), StatusCode::kInvalidArgument, "vectors"));
    EXPECT_TRUE(IsError(ns_.upsert(c.ids, c.vectors), StatusCode::kInvalidArgument, "vectors"));
    EXPECT_UNCHANGED(before);
  }
  auto c = valid_columns();
  EXPECT_TRUE(IsError(ns_.upsert(c.ids, std::span<const float>()), StatusCode::kInvalidArgument,
                      "vectors"));
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, ColumnarWithMetadataCountMismatchIsRejectedNamingMetadata) {
  const Snapshot before = snap();
  for (std::size_t n : {std::size_t{1}, std::size_t{5}, std::size_t{7}}) {
    SCOPED_TRACE(std::to_string(n) + " metadata objects for 6 ids");
    auto c = valid_columns();
    c.metadata.resize(n, Metadata::object());
    EXPECT_TRUE(IsError(ns_.upsert(c.ids, c.vectors, c.metadata), StatusCode::kInvalidArgument,
                        "metadata"));
    EXPECT_UNCHANGED(before);
  }
}

TEST_P(RuleTest, ColumnarWithNaNInRowIsRejectedNamingTheRow) {
  const Snapshot before = snap();
  {
    auto c = valid_columns();
    c.vectors[2 * kDim + 5] = kNaN;
    EXPECT_TRUE(IsError(ns_.upsert(c.ids, c.vectors, c.metadata), StatusCode::kInvalidArgument,
                        "vectors[2][5]"));
    EXPECT_UNCHANGED(before);
  }
  {
    auto c = valid_columns();
    c.vectors[5 * kDim] = -kInf;  // the last row, the update of rec-3
    EXPECT_TRUE(
        IsError(ns_.upsert(c.ids, c.vectors), StatusCode::kInvalidArgument, "vectors[5][0]"));
    EXPECT_UNCHANGED(before);
  }
  if (cosine()) {
    auto c = valid_columns();
    std::fill_n(c.vectors.begin() + 3 * kDim, kDim, 0.0f);
    EXPECT_TRUE(IsError(ns_.upsert(c.ids, c.vectors, c.metadata), StatusCode::kInvalidArgument,
                        "vectors[3]"));
    EXPECT_UNCHANGED(before);
  }
}

TEST_P(RuleTest, ColumnarWithBadIdMetadataOrDuplicateIsRejectedNamingTheRow) {
  const Snapshot before = snap();
  {
    auto c = valid_columns();
    c.ids[1].clear();
    EXPECT_TRUE(
        IsError(ns_.upsert(c.ids, c.vectors, c.metadata), StatusCode::kInvalidArgument, "ids[1]"));
    EXPECT_UNCHANGED(before);
  }
  {
    auto c = valid_columns();
    c.ids[4] = std::string(kMaxIdBytes + 1, 'c');
    track(c.ids[4]);
    const Snapshot with_long = snap();
    EXPECT_TRUE(
        IsError(ns_.upsert(c.ids, c.vectors, c.metadata), StatusCode::kInvalidArgument, "ids[4]"));
    EXPECT_UNCHANGED(with_long);
  }
  const Snapshot before2 = snap();
  {
    auto c = valid_columns();
    c.metadata[4] = Metadata::array({"x"});
    EXPECT_TRUE(IsError(ns_.upsert(c.ids, c.vectors, c.metadata), StatusCode::kInvalidArgument,
                        "metadata[4]"));
    EXPECT_UNCHANGED(before2);
  }
  {
    auto c = valid_columns();
    c.ids[4] = c.ids[0];
    const Status s = ns_.upsert(c.ids, c.vectors, c.metadata);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
    EXPECT_TRUE(s.message().starts_with("ids[")) << s.to_string();
    EXPECT_NE(s.message().find("ids[0]"), std::string::npos) << s.to_string();
    EXPECT_NE(s.message().find("ids[4]"), std::string::npos) << s.to_string();
    EXPECT_UNCHANGED(before2);
  }
}

// ── quotas ─────────────────────────────────────────────────────────────────────────────────

TEST_P(RuleTest, MaxElementsOverrunIsRejectedAndAppliesNothing) {
  auto o = options();
  o.max_elements = 5;
  auto q = store_.create_namespace("quota", o).value();
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(IsOk(q.upsert("rec-" + std::to_string(i), make_vector(i), make_metadata(i))));
  }
  Snapshot before = snap(q);

  // A batch of three new records would bring it to 6 (with an update of rec-0 in front).
  std::vector<Record> batch = {{"rec-0", make_vector(700), Metadata{{"u", 1}}},
                               {"new-0", make_vector(701), {}},
                               {"new-1", make_vector(702), {}},
                               {"new-2", make_vector(703), {}}};
  EXPECT_TRUE(IsError(q.upsert(batch), StatusCode::kResourceExhausted, "max_elements"));
  EXPECT_EQ(diff(before, snap(q)), "");
  {
    Columns c;
    for (std::size_t i = 0; i < 3; ++i) {
      c.ids.push_back("new-" + std::to_string(i));
      auto v = make_vector(710 + i);
      c.vectors.insert(c.vectors.end(), v.begin(), v.end());
    }
    EXPECT_TRUE(
        IsError(q.upsert(c.ids, c.vectors), StatusCode::kResourceExhausted, "max_elements"));
    EXPECT_EQ(diff(before, snap(q)), "");
  }

  // Fill it to exactly 5, then one more new id is refused, single or in a batch.
  batch.pop_back();
  ASSERT_TRUE(IsOk(q.upsert(batch)));
  ASSERT_EQ(q.size(), 5u);
  before = snap(q);
  EXPECT_TRUE(
      IsError(q.upsert("new-2", make_vector(720)), StatusCode::kResourceExhausted, "max_elements"));
  EXPECT_EQ(diff(before, snap(q)), "");
  std::vector<Record> updates_and_one_new;
  for (const char* id : {"rec-0", "rec-1", "rec-2", "new-0", "new-1", "new-3"}) {
    updates_and_one_new.push_back({id, make_vector(730), Metadata{{"u", 2}}});
  }
  EXPECT_TRUE(
      IsError(q.upsert(updates_and_one_new), StatusCode::kResourceExhausted, "max_elements"));
  EXPECT_EQ(diff(before, snap(q)), "");
}

TEST_P(RuleTest, MaxElementsStillAllowsUpdatesAtTheQuota) {
  auto o = options();
  o.max_elements = 5;
  auto q = store_.create_namespace("quota", o).value();
  std::vector<Record> five;
  for (std::size_t i = 0; i < 5; ++i) {
    five.push_back({"rec-" + std::to_string(i), make_vector(i), make_metadata(i)});
  }
  ASSERT_TRUE(IsOk(q.upsert(five)));
  ASSERT_EQ(q.size(), 5u);

  // A batch that updates all five, a single update and a metadata update are all allowed.
  for (std::size_t i = 0; i < five.size(); ++i) five[i].vector = make_vector(800 + i);
  ASSERT_TRUE(IsOk(q.upsert(five)));
  ASSERT_TRUE(IsOk(q.upsert("rec-2", make_vector(850), Metadata{{"u", 3}})));
  ASSERT_TRUE(IsOk(q.update_metadata("rec-3", Metadata{{"u", 4}})));
  EXPECT_EQ(q.size(), 5u);
  auto r = q.get("rec-2").value();
  EXPECT_EQ(r.metadata, (Metadata{{"u", 3}}));
  EXPECT_EQ(q.get("rec-3").value().metadata, (Metadata{{"u", 4}}));

  // The quota counts live records: after a removal there is room for one new id again.
  ASSERT_TRUE(q.remove("rec-4").value());
  ASSERT_TRUE(IsOk(q.upsert("new-0", make_vector(860))));
  EXPECT_EQ(q.size(), 5u);
  EXPECT_TRUE(
      IsError(q.upsert("new-1", make_vector(861)), StatusCode::kResourceExhausted, "max_elements"));
}

TEST_P(RuleTest, MemoryLimitOfOneByteRejectsTheFirstInsert) {
  auto o = options();
  o.memory_limit_bytes = 1;
  auto q = store_.create_namespace("tiny", o).value();
  const Snapshot before = snap(q);
  EXPECT_TRUE(IsError(q.upsert("new-0", make_vector(1)), StatusCode::kResourceExhausted,
                      "memory_limit_bytes"));
  EXPECT_EQ(diff(before, snap(q)), "");
  EXPECT_TRUE(
      IsError(q.upsert(valid_batch()), StatusCode::kResourceExhausted, "memory_limit_bytes"));
  EXPECT_EQ(diff(before, snap(q)), "");
  auto c = valid_columns();
  EXPECT_TRUE(IsError(q.upsert(c.ids, c.vectors, c.metadata), StatusCode::kResourceExhausted,
                      "memory_limit_bytes"));
  EXPECT_EQ(diff(before, snap(q)), "");
  EXPECT_EQ(q.size(), 0u);
  EXPECT_EQ(q.stats().count, 0u);
}

TEST_P(RuleTest, MemoryLimitJustAboveUsageRejectsAnInsert) {
  constexpr std::size_t kLimit = 8u << 20;  // room for HNSW's lock table and a few records
  auto o = options();
  o.memory_limit_bytes = kLimit;
  auto q = store_.create_namespace("limited", o).value();
  for (std::size_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(IsOk(q.upsert("rec-" + std::to_string(i), make_vector(i), make_metadata(i))));
  }
  const std::size_t used = q.stats().memory_bytes;
  ASSERT_LT(used, kLimit);
  const std::size_t headroom = kLimit - used;
  const Snapshot before = snap(q);

  // A record whose metadata alone is one byte larger than the headroom: a new id, an update
  // of an existing one, and the same record inside a batch.
  const Metadata big{{"blob", std::string(headroom + 1, 'b')}};
  EXPECT_TRUE(IsError(q.upsert("new-0", make_vector(900), big), StatusCode::kResourceExhausted,
                      "memory_limit_bytes"));
  EXPECT_EQ(diff(before, snap(q)), "");
  // An update gives the old metadata's bytes back, so it must be larger by those too.
  const Metadata bigger{{"blob", std::string(headroom + 4096, 'b')}};
  EXPECT_TRUE(IsError(q.upsert("rec-0", make_vector(900), bigger),
                      StatusCode::kResourceExhausted, "memory_limit_bytes"));
  EXPECT_EQ(diff(before, snap(q)), "");
  auto batch = valid_batch();
  batch[3].metadata = bigger;
  EXPECT_TRUE(IsError(q.upsert(batch), StatusCode::kResourceExhausted, "memory_limit_bytes"));
  EXPECT_EQ(diff(before, snap(q)), "");

  // The limit is a limit, not a refusal of everything: a small record still fits.
  ASSERT_TRUE(IsOk(q.upsert("new-0", make_vector(901), Metadata{{"small", true}})));
  EXPECT_LE(q.stats().memory_bytes, kLimit);
}

TEST_P(RuleTest, MemoryLimitIsNeverExceededByAcceptedUpserts) {
  // Fill a namespace one record at a time, then in batches of 50, until the quota refuses:
  // after every accepted upsert stats().memory_bytes is within the limit, and the refusal
  // changes nothing.
  const std::size_t limit = (hnsw() ? std::size_t{3} << 20 : std::size_t{0}) + (192u << 10);
  auto o = options();
  o.memory_limit_bytes = limit;
  for (const bool batches : {false, true}) {
    SCOPED_TRACE(batches ? "batches of 50" : "one record at a time");
    auto q = store_.create_namespace(batches ? "fill-batches" : "fill-single", o).value();
    Status refused;
    std::size_t n = 0;
    while (n < 100000) {
      if (batches) {
        std::vector<Record> batch;
        for (std::size_t i = 0; i < 50; ++i, ++n) {
          batch.push_back({"r" + std::to_string(n), make_vector(n), make_metadata(n)});
        }
        refused = q.upsert(batch);
      } else {
        refused = q.upsert("r" + std::to_string(n), make_vector(n), make_metadata(n));
        ++n;
      }
      if (!refused.ok()) break;
      ASSERT_LE(q.stats().memory_bytes, limit)
          << "after an accepted upsert, " << q.size() << " records";
    }
    EXPECT_TRUE(IsError(refused, StatusCode::kResourceExhausted, "memory_limit_bytes"));
    EXPECT_GT(q.size(), 0u);
    EXPECT_LE(q.stats().memory_bytes, limit);
  }
}

// memory_limit_bytes is a quota on stats().memory_bytes (options.hpp) and every write answers
// kResourceExhausted when a quota says no (namespace.hpp), update_metadata included.
TEST_P(RuleTest, UpdateMetadataOverTheMemoryLimitIsRejected) {
  constexpr std::size_t kLimit = 8u << 20;
  auto o = options();
  o.memory_limit_bytes = kLimit;
  auto q = store_.create_namespace("limited", o).value();
  for (std::size_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(IsOk(q.upsert("rec-" + std::to_string(i), make_vector(i), make_metadata(i))));
  }
  const std::size_t used = q.stats().memory_bytes;
  ASSERT_LT(used, kLimit);
  const Snapshot before = snap(q);
  // An object larger than the headroom plus the metadata it replaces, so that both upsert and
  // update_metadata (which count the bytes the old object gives back) must refuse it.
  const Metadata big{{"blob", std::string(kLimit - used + 4096, 'b')}};
  ASSERT_TRUE(IsError(q.upsert("rec-0", make_vector(0), big), StatusCode::kResourceExhausted,
                      "memory_limit_bytes"));
  EXPECT_TRUE(IsError(q.update_metadata("rec-0", big), StatusCode::kResourceExhausted,
                      "memory_limit_bytes"));
  EXPECT_EQ(diff(before, snap(q)), "");
  EXPECT_LE(q.stats().memory_bytes, kLimit);
}

// ── search ─────────────────────────────────────────────────────────────────────────────────

TEST_P(RuleTest, SearchWithZeroKIsRejectedNamingK) {
  const Snapshot before = snap();
  EXPECT_TRUE(
      IsError(ns_.search(queries_[0], SearchOptions{.k = 0}), StatusCode::kInvalidArgument, "k"));
  std::vector<float> two(queries_[0]);
  two.insert(two.end(), queries_[1].begin(), queries_[1].end());
  EXPECT_TRUE(
      IsError(ns_.search_batch(two, SearchOptions{.k = 0}), StatusCode::kInvalidArgument, "k"));
  EXPECT_UNCHANGED(before);
}

// k and ef are bounded (kMaxK, kMaxEf): beyond, `ceil(double(ef) * beam)` in the filtered
// planner no longer fits a size_t, and no search needs a beam or a result of that size.
TEST_P(RuleTest, SearchWithKOrEfBeyondTheirBoundIsRejectedNamingTheField) {
  const Snapshot before = snap();
  std::vector<float> two(queries_[0]);
  two.insert(two.end(), queries_[1].begin(), queries_[1].end());
  const Filter some = Filter::lt("i", 10);  // a filtered search plans with ef too
  for (const Filter& filter : {Filter(), some}) {
    SCOPED_TRACE(filter.to_json().dump());
    for (std::size_t k : {kMaxK + 1, std::numeric_limits<std::size_t>::max() / 2,
                          std::numeric_limits<std::size_t>::max()}) {
      SCOPED_TRACE("k " + std::to_string(k));
      EXPECT_TRUE(IsError(ns_.search(queries_[0], SearchOptions{.k = k, .filter = filter}),
                          StatusCode::kInvalidArgument, "k"));
      EXPECT_TRUE(IsError(ns_.search_batch(two, SearchOptions{.k = k, .filter = filter}),
                          StatusCode::kInvalidArgument, "k"));
    }
    for (std::size_t ef : {kMaxEf + 1, std::numeric_limits<std::size_t>::max() - 1,
                           std::numeric_limits<std::size_t>::max()}) {
      SCOPED_TRACE("ef " + std::to_string(ef));
      EXPECT_TRUE(IsError(ns_.search(queries_[0], SearchOptions{.filter = filter, .ef = ef}),
                          StatusCode::kInvalidArgument, "ef"));
      EXPECT_TRUE(IsError(ns_.search_batch(two, SearchOptions{.filter = filter, .ef = ef}),
                          StatusCode::kInvalidArgument, "ef"));
    }
    // The bounds themselves are accepted and answer as usual: every live record.
    for (const SearchOptions& o : {SearchOptions{.k = kMaxK, .filter = filter},
                                   SearchOptions{.k = 5, .filter = filter, .ef = kMaxEf}}) {
      auto hits = ns_.search(queries_[0], o);
      ASSERT_TRUE(hits.has_value()) << hits.error().to_string();
      const std::size_t matching = filter.matches_all() ? 18 : 9;  // live records with i < 10
      EXPECT_EQ(hits->size(), std::min(o.k, matching));
    }
  }
  // ef_search, set or at creation, has the same bound.
  EXPECT_TRUE(IsError(ns_.set_ef_search(kMaxEf + 1), StatusCode::kInvalidArgument, "ef_search"));
  EXPECT_TRUE(IsError(ns_.set_ef_search(std::numeric_limits<std::size_t>::max()),
                      StatusCode::kInvalidArgument, "ef_search"));
  EXPECT_UNCHANGED(before);
  auto o = options();
  o.hnsw.ef_search = kMaxEf + 1;
  EXPECT_TRUE(IsError(store_.create_namespace("big-ef", o), StatusCode::kInvalidArgument,
                      "hnsw.ef_search"));
  o = options();
  o.hnsw.ef_construction = std::numeric_limits<std::size_t>::max();
  EXPECT_TRUE(IsError(store_.create_namespace("big-ef", o), StatusCode::kInvalidArgument,
                      "hnsw.ef_construction"));
  EXPECT_FALSE(store_.has_namespace("big-ef"));
  o = options();
  o.hnsw.ef_search = kMaxEf;
  o.hnsw.ef_construction = kMaxEf;
  EXPECT_TRUE(store_.create_namespace("max-ef", o).has_value());
  ASSERT_TRUE(IsOk(ns_.set_ef_search(kMaxEf)));
  EXPECT_EQ(ns_.options().hnsw.ef_search, kMaxEf);
}

TEST_P(RuleTest, SearchWithWrongQueryDimensionIsRejectedNamingQuery) {
  const Snapshot before = snap();
  for (std::size_t dim : {std::size_t{0}, kDim - 1, kDim + 1, 2 * kDim}) {
    SCOPED_TRACE("query of " + std::to_string(dim) + " floats");
    EXPECT_TRUE(IsError(ns_.search(make_vector(5, dim)), StatusCode::kInvalidArgument, "query"));
  }
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, SearchWithNaNOrInfinityIsRejectedNamingTheComponent) {
  const Snapshot before = snap();
  auto q = queries_[0];
  q[5] = kNaN;
  EXPECT_TRUE(IsError(ns_.search(q), StatusCode::kInvalidArgument, "query[5]"));
  q = queries_[0];
  q[0] = kInf;
  EXPECT_TRUE(IsError(ns_.search(q), StatusCode::kInvalidArgument, "query[0]"));
  q = queries_[0];
  q[kDim - 1] = -kInf;
  EXPECT_TRUE(IsError(ns_.search(q), StatusCode::kInvalidArgument, "query[23]"));
  if (cosine()) {
    EXPECT_TRUE(
        IsError(ns_.search(std::vector<float>(kDim, 0.0f)), StatusCode::kInvalidArgument, "query"));
  }
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, SearchWithNaNMaxDistanceIsRejectedNamingMaxDistance) {
  const Snapshot before = snap();
  EXPECT_TRUE(IsError(ns_.search(queries_[0], SearchOptions{.max_distance = kNaN}),
                      StatusCode::kInvalidArgument, "max_distance"));
  EXPECT_TRUE(IsError(ns_.search_batch(queries_[0], SearchOptions{.max_distance = kNaN}),
                      StatusCode::kInvalidArgument, "max_distance"));
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, SearchBatchWithSizeNotMultipleOfDimIsRejectedNamingQueries) {
  const Snapshot before = snap();
  std::vector<float> three;
  for (std::size_t i = 0; i < 3; ++i)
    three.insert(three.end(), queries_[i].begin(), queries_[i].end());
  for (std::size_t size : {3 * kDim + 1, 3 * kDim - 1, kDim - 1, std::size_t{1}}) {
    SCOPED_TRACE(std::to_string(size) + " floats");
    std::vector<float> qs = three;
    qs.resize(size, 0.5f);
    EXPECT_TRUE(IsError(ns_.search_batch(qs), StatusCode::kInvalidArgument, "queries"));
  }
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, SearchBatchWithNaNInOneQueryIsRejectedNamingTheQuery) {
  const Snapshot before = snap();
  std::vector<float> four;
  for (const auto& q : queries_) four.insert(four.end(), q.begin(), q.end());
  auto qs = four;
  qs[2 * kDim + 7] = kNaN;
  EXPECT_TRUE(IsError(ns_.search_batch(qs), StatusCode::kInvalidArgument, "queries[2][7]"));
  qs = four;
  qs[3 * kDim] = kInf;
  EXPECT_TRUE(IsError(ns_.search_batch(qs), StatusCode::kInvalidArgument, "queries[3][0]"));
  if (cosine()) {
    qs = four;
    std::fill_n(qs.begin() + kDim, kDim, 0.0f);
    EXPECT_TRUE(IsError(ns_.search_batch(qs), StatusCode::kInvalidArgument, "queries[1]"));
  }
  EXPECT_UNCHANGED(before);
}

// ── ef_search ──────────────────────────────────────────────────────────────────────────────

TEST_P(RuleTest, SetEfSearchZeroIsRejectedAndTheEfIsKept) {
  ASSERT_TRUE(IsOk(ns_.set_ef_search(77)));
  const Snapshot before = snap();
  EXPECT_TRUE(IsError(ns_.set_ef_search(0), StatusCode::kInvalidArgument, "ef_search"));
  EXPECT_EQ(ns_.options().hnsw.ef_search, 77u);
  EXPECT_UNCHANGED(before);
}

// ── update_metadata ────────────────────────────────────────────────────────────────────────

TEST_P(RuleTest, UpdateMetadataOfMissingIdIsNotFound) {
  const Snapshot before = snap();
  EXPECT_TRUE(IsCode(ns_.update_metadata("new-0", Metadata{{"a", 1}}), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(ns_.update_metadata("rec-5", Metadata{{"a", 1}}), StatusCode::kNotFound))
      << "rec-5 was removed";
  EXPECT_TRUE(
      IsError(ns_.update_metadata("", Metadata{{"a", 1}}), StatusCode::kInvalidArgument, "id"));
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, UpdateMetadataWithNonObjectIsRejectedNamingMetadata) {
  const Snapshot before = snap();
  for (const Metadata& m : {Metadata::array({1}), Metadata("x"), Metadata(3), Metadata(false)}) {
    SCOPED_TRACE(m.dump());
    EXPECT_TRUE(IsError(ns_.update_metadata("rec-0", m), StatusCode::kInvalidArgument, "metadata"));
    EXPECT_UNCHANGED(before);
  }
  // null replaces the object by {}.
  ASSERT_TRUE(IsOk(ns_.update_metadata("rec-0", nullptr)));
  EXPECT_EQ(ns_.get("rec-0").value().metadata, Metadata::object());
}

// ── namespace catalogue ────────────────────────────────────────────────────────────────────

TEST_P(RuleTest, GetOrCreateWithOtherOptionsIsRejectedNamingTheField) {
  const auto names = store_.list_namespaces();
  const Snapshot before = snap();
  struct Case {
    std::string field;
    NamespaceOptions options;
  };
  std::vector<Case> cases;
  auto o = options();
  o.dimension = kDim + 1;
  cases.push_back({"dimension", o});
  o = options();
  o.metric = cosine() ? Metric::kL2 : Metric::kCosine;
  cases.push_back({"metric", o});
  o = options();
  o.index = hnsw() ? IndexKind::kFlat : IndexKind::kHnsw;
  cases.push_back({"index", o});
  if (hnsw()) {
    o = options();
    o.hnsw.m = 32;
    cases.push_back({"hnsw.m", o});
    o = options();
    o.hnsw.ef_construction = 100;
    cases.push_back({"hnsw.ef_construction", o});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_TRUE(IsError(store_.get_or_create_namespace("rules", c.options),
                        StatusCode::kInvalidArgument, c.field));
    EXPECT_EQ(store_.list_namespaces(), names);
    EXPECT_UNCHANGED(before);
  }
  // ef_search and quotas may differ: the existing namespace is returned with its own.
  o = options();
  o.hnsw.ef_search = 99;
  o.max_elements = 1;
  auto same = store_.get_or_create_namespace("rules", o);
  ASSERT_TRUE(same.has_value()) << same.error().to_string();
  EXPECT_EQ(same->options(), options());
  EXPECT_EQ(diff(before, snap(*same)), "");
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, CreateNamespaceOnExistingNameIsAlreadyExists) {
  const auto names = store_.list_namespaces();
  const Snapshot before = snap();
  EXPECT_TRUE(
      IsError(store_.create_namespace("rules", options()), StatusCode::kAlreadyExists, "name"));
  auto o = options();
  o.dimension = 3;
  EXPECT_TRUE(IsError(store_.create_namespace("rules", o), StatusCode::kAlreadyExists, "name"));
  EXPECT_EQ(store_.list_namespaces(), names);
  EXPECT_EQ(ns_.options(), options());
  EXPECT_UNCHANGED(before);
}

TEST_P(RuleTest, BadNamespaceOptionsCreateNothing) {
  const auto names = store_.list_namespaces();
  struct Case {
    std::string field;
    NamespaceOptions options;
  };
  std::vector<Case> cases;
  auto o = options();
  o.dimension = 0;
  cases.push_back({"dimension", o});
  o.dimension = kMaxDimension + 1;
  cases.push_back({"dimension", o});
  o = options();
  o.hnsw.ef_search = 0;
  cases.push_back({"hnsw.ef_search", o});
  o = options();
  o.metric = static_cast<Metric>(42);
  cases.push_back({"metric", o});
  o = options();
  o.index = static_cast<IndexKind>(42);
  cases.push_back({"index", o});
  if (hnsw()) {  // the HNSW build parameters (a flat namespace ignores them)
    for (std::size_t m : {std::size_t{0}, std::size_t{1}, std::size_t{2049}}) {
      o = options();
      o.hnsw.m = m;
      cases.push_back({"hnsw.m", o});
    }
    o = options();
    o.hnsw.ef_construction = 0;
    cases.push_back({"hnsw.ef_construction", o});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field + " (dimension " + std::to_string(c.options.dimension) + ", m " +
                 std::to_string(c.options.hnsw.m) + ")");
    EXPECT_TRUE(IsError(store_.create_namespace("fresh", c.options), StatusCode::kInvalidArgument,
                        c.field));
    EXPECT_TRUE(IsError(store_.get_or_create_namespace("fresh", c.options),
                        StatusCode::kInvalidArgument, c.field));
    EXPECT_FALSE(store_.has_namespace("fresh"));
    EXPECT_EQ(store_.list_namespaces(), names);
  }

  // The edges of the valid ranges are accepted.
  o = options();
  o.dimension = 1;
  EXPECT_TRUE(store_.create_namespace("dim-1", o).has_value());
  o.dimension = kMaxDimension;
  EXPECT_TRUE(store_.create_namespace("dim-65536", o).has_value());
  if (hnsw()) {
    o = options();
    o.hnsw.m = 2;
    o.hnsw.ef_construction = 1;
    o.hnsw.ef_search = 1;
    EXPECT_TRUE(store_.create_namespace("m-2", o).has_value());
    o.hnsw.m = 2048;
    EXPECT_TRUE(store_.create_namespace("m-2048", o).has_value());
  }
}

// ── dropped and empty handles ──────────────────────────────────────────────────────────────

// Every method of a handle to nothing answers kNotFound.
void ExpectEveryCallNotFound(Namespace& h, std::span<const float> query) {
  const std::vector<float> v(query.begin(), query.end());
  const std::vector<Record> batch = {{"new-0", v, {}}};
  const std::vector<std::string> ids = {"new-1"};
  EXPECT_TRUE(IsCode(h.upsert("new-0", v), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.upsert("rec-0", v, Metadata{{"a", 1}}), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.upsert(batch), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.upsert(ids, v), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.get("rec-0"), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.search(query), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.search_batch(query), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.remove("rec-0"), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.update_metadata("rec-0", Metadata{{"a", 1}}), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.compact(), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.set_ef_search(10), StatusCode::kNotFound));
  EXPECT_EQ(h.size(), 0u);
  EXPECT_FALSE(h.contains("rec-0"));
  EXPECT_FALSE(static_cast<bool>(h));
  const NamespaceStats st = h.stats();
  EXPECT_EQ(st.count, 0u);
  EXPECT_FALSE(st.loaded);
}

TEST_P(RuleTest, DroppedNamespaceAnswersNotFoundOnEveryMethod) {
  Namespace copy = ns_;
  ASSERT_TRUE(IsOk(store_.drop_namespace("rules")));
  {
    SCOPED_TRACE("the handle it was created with");
    ExpectEveryCallNotFound(ns_, queries_[0]);
  }
  {
    SCOPED_TRACE("a copy of that handle");
    ExpectEveryCallNotFound(copy, queries_[0]);
  }
  EXPECT_FALSE(store_.has_namespace("rules"));
  EXPECT_TRUE(IsCode(store_.open_namespace("rules"), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(store_.drop_namespace("rules"), StatusCode::kNotFound));

  // A new namespace of the same name is a different one: old handles stay dropped.
  auto fresh = store_.create_namespace("rules", options()).value();
  ASSERT_TRUE(IsOk(fresh.upsert("rec-0", make_vector(0))));
  SCOPED_TRACE("after the name was reused");
  ExpectEveryCallNotFound(ns_, queries_[0]);
  EXPECT_EQ(fresh.size(), 1u);
}

// ── extreme finite values ──────────────────────────────────────────────────────────────────

// Finite vectors near the float range on every metric and index: each upsert and each query is
// either refused (kInvalidArgument naming the field, by a documented rule) or answered with
// min(k, n) hits in ascending order of distance, none of them NaN. (A NaN distance breaks the
// heaps' ordering: results come back unsorted, or records go missing.)
TEST(ExtremeValues, NoMetricGivesANaNDistanceForFiniteVectors) {
  constexpr std::size_t kDimX = 8;
  constexpr float kBig = 3e38f;
  std::vector<std::vector<float>> vectors;
  vectors.push_back(std::vector<float>(kDimX, kBig));
  vectors.push_back(std::vector<float>(kDimX, -kBig));
  vectors.push_back({kBig, -kBig, kBig, -kBig, kBig, -kBig, kBig, -kBig});
  vectors.push_back({-kBig, kBig, 0, 0, kBig, kBig, -kBig, 1});
  vectors.push_back({kBig, 0, 0, 0, 0, 0, 0, 0});
  vectors.push_back(std::vector<float>(kDimX, 3e18f));   // norm 8.5e18: ip accepts it
  vectors.push_back(std::vector<float>(kDimX, -3e18f));
  vectors.push_back({3e18f, -3e18f, 3e18f, -3e18f, 3e18f, -3e18f, 3e18f, -3e18f});
  for (std::size_t i = 0; i < 24; ++i) {  // ordinary vectors
    std::vector<float> v(kDimX);
    for (std::size_t d = 0; d < kDimX; ++d) v[d] = std::sin(static_cast<float>(i * 8 + d) + 1);
    vectors.push_back(v);
  }
  const std::size_t extremes = 5;  // the first five have components of 3e38

  for (const Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine, Metric::kL1}) {
    for (const IndexKind index : {IndexKind::kHnsw, IndexKind::kFlat}) {
      SCOPED_TRACE(std::string(to_string(metric)) + "/" + std::string(to_string(index)));
      auto store = VectorStore::in_memory(StoreOptions{.threads = 2});
      NamespaceOptions o{.dimension = kDimX, .metric = metric, .index = index};
      o.hnsw.graph_threshold = 1;  // a graph from the first record
      auto ns = store.create_namespace("x", o).value();
      std::size_t accepted = 0;
      for (std::size_t i = 0; i < vectors.size(); ++i) {
        const Status s = ns.upsert("v" + std::to_string(i), vectors[i]);
        if (s.ok()) {
          ++accepted;
          continue;
        }
        EXPECT_TRUE(IsError(s, StatusCode::kInvalidArgument, "vector")) << "vector " << i;
        EXPECT_LT(i, extremes) << "an ordinary vector was refused: " << s.to_string();
      }
      // ip refuses the vectors whose dot products can overflow (norm above 2^63), as cosine
      // refuses norms beyond the float range; l2 and l1 accept them (the distance saturates at
      // infinity, which orders correctly).
      if (metric == Metric::kInnerProduct || metric == Metric::kCosine) {
        EXPECT_EQ(accepted, vectors.size() - (metric == Metric::kCosine ? 4 : extremes));
      } else {
        EXPECT_EQ(accepted, vectors.size());
      }
      ASSERT_EQ(ns.size(), accepted);

      std::vector<float> batch;
      std::size_t batch_queries = 0;
      auto check = [&](const std::vector<Hit>& hits, std::size_t k, const std::string& what) {
        EXPECT_EQ(hits.size(), std::min(k, accepted)) << what;
        for (std::size_t h = 0; h < hits.size(); ++h) {
          EXPECT_FALSE(std::isnan(hits[h].distance)) << what << ": hit " << h << " " << hits[h].id;
          if (h > 0) {
            EXPECT_LE(hits[h - 1].distance, hits[h].distance) << what << ": hit " << h;
          }
        }
      };
      for (std::size_t q = 0; q < vectors.size(); ++q) {
        for (const std::size_t k : {std::size_t{5}, vectors.size()}) {
          auto hits = ns.search(vectors[q], {.k = k, .include_metadata = false});
          if (!hits) {
            EXPECT_TRUE(IsError(hits.status(), StatusCode::kInvalidArgument, "query"))
                << "query " << q;
            EXPECT_LT(q, extremes) << hits.error().to_string();
            continue;
          }
          check(*hits, k, "query " + std::to_string(q) + ", k " + std::to_string(k));
        }
        if (ns.search(vectors[q]).has_value()) {
          batch.insert(batch.end(), vectors[q].begin(), vectors[q].end());
          ++batch_queries;
        }
      }
      auto results = ns.search_batch(batch, {.k = 7, .include_metadata = false});
      ASSERT_TRUE(results.has_value()) << results.error().to_string();
      ASSERT_EQ(results->size(), batch_queries);
      for (std::size_t q = 0; q < batch_queries; ++q) {
        check((*results)[q], 7, "batch query " + std::to_string(q));
      }
    }
  }
}

TEST(EmptyHandle, DefaultConstructedNamespaceAnswersNotFound) {
  Namespace h;
  ExpectEveryCallNotFound(h, make_vector(1));
}

// ── namespace names ────────────────────────────────────────────────────────────────────────

TEST(NamespaceNames, BadNamesAreRejectedNamingNameAndCreateNothing) {
  auto store = VectorStore::in_memory();
  const NamespaceOptions o{.dimension = 4};
  ASSERT_TRUE(store.create_namespace("existing", o).has_value());
  const auto names = store.list_namespaces();
  using namespace std::string_view_literals;
  const std::vector<std::string_view> bad = {
      ""sv,          "."sv,       ".."sv,    "../x"sv,  "a/b"sv, "a\\b"sv,
      ".hidden"sv,   "-x"sv,      "_x"sv,    "a\0b"sv,  "\0"sv,  "existing\0"sv,
      "\xc3\xa9"sv,  "a b"sv,     "a\nb"sv,  "/abs"sv,  "a:b"sv, "x*"sv,
      "..\\..\\w"sv, "a/../.."sv, " lead"sv, "trail "sv};
  std::vector<std::string> cases(bad.begin(), bad.end());
  cases.push_back(std::string(kMaxNamespaceNameBytes + 1, 'n'));
  cases.push_back(std::string(1000, 'n'));
  for (const std::string& name : cases) {
    SCOPED_TRACE("name '" + shorten(name) + "' (" + std::to_string(name.size()) + " bytes)");
    EXPECT_TRUE(IsError(store.create_namespace(name, o), StatusCode::kInvalidArgument, "name"));
    EXPECT_TRUE(
        IsError(store.get_or_create_namespace(name, o), StatusCode::kInvalidArgument, "name"));
    EXPECT_TRUE(IsError(store.open_namespace(name), StatusCode::kInvalidArgument, "name"));
    EXPECT_TRUE(IsError(store.drop_namespace(name), StatusCode::kInvalidArgument, "name"));
    EXPECT_FALSE(store.has_namespace(name));
    EXPECT_EQ(store.list_namespaces(), names);
  }
  // "existing\0" must not have dropped or aliased "existing".
  EXPECT_TRUE(store.has_namespace("existing"));
}

TEST(NamespaceNames, EdgeNamesAreAccepted) {
  auto store = VectorStore::in_memory();
  const NamespaceOptions o{.dimension = 4};
  const std::vector<std::string> good = {
      "a", "A-b_c.d", "0", "Z9", "a..b", "a.", "x-_.y", std::string(kMaxNamespaceNameBytes, 'n')};
  for (const std::string& name : good) {
    SCOPED_TRACE("name '" + shorten(name) + "'");
    auto ns = store.create_namespace(name, o);
    ASSERT_TRUE(ns.has_value()) << ns.error().to_string();
    EXPECT_EQ(ns->name(), name);
    EXPECT_TRUE(store.has_namespace(name));
  }
  EXPECT_EQ(store.list_namespaces().size(), good.size());
}

}  // namespace
}  // namespace hnswstore
