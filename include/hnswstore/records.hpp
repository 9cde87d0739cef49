// Records, search hits, search options and namespace statistics.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hnswstore/filter.hpp"
#include "hnswstore/options.hpp"

namespace hnswstore {

/// Metadata of a record: a JSON object. null is accepted on input and stored as {}.
using Metadata = nlohmann::json;

/// Limits that hold for every namespace (docs/index.md, "Input rules").
inline constexpr std::size_t kMaxIdBytes = 1024;
inline constexpr std::size_t kMaxDimension = 65536;
inline constexpr std::size_t kMaxNamespaceNameBytes = 128;
/// The largest SearchOptions::k, and the largest ef anywhere (SearchOptions::ef,
/// HnswParams::ef_search, HnswParams::ef_construction): 2^24 = 16,777,216. Larger values are
/// kInvalidArgument naming the field. A search keeps up to max(k, ef) candidates in memory, and
/// its planner computes with ef in double precision, which must convert back to an integer.
inline constexpr std::size_t kMaxK = std::size_t{1} << 24;
inline constexpr std::size_t kMaxEf = std::size_t{1} << 24;
/// Metadata objects nest at most this deep ({"a": {"b": 1}} has depth 2); strings and keys are
/// valid UTF-8 (they are saved as JSON text).
inline constexpr std::size_t kMaxMetadataDepth = 64;

/// One stored item: a string id (1..1024 bytes, any bytes), a vector of the namespace's
/// dimension (finite floats) and a metadata object.
struct Record {
  std::string id;
  std::vector<float> vector;
  Metadata metadata;

  friend bool operator==(const Record&, const Record&) = default;
};

/// One search result. `distance` follows the namespace's Metric (smaller is closer):
/// l2 = squared Euclidean, ip = 1 - dot, cosine = 1 - cosine similarity, l1 = sum |a - b|.
/// `metadata` is filled when SearchOptions::include_metadata, `vector` (as given at upsert)
/// when SearchOptions::include_vectors.
struct Hit {
  std::string id;
  float distance = 0.0f;
  Metadata metadata;
  std::vector<float> vector;
};

/// Per-search options.
/// - k: how many hits, 1..kMaxK. A search returns min(k, live records that pass the filter)
///   hits, closest first.
/// - filter: only records whose metadata matches (docs/filters.md); Filter() = all. An invalid
///   filter (Filter::status()) makes the search kInvalidArgument.
/// - ef: HNSW candidate list size, 0..kMaxEf; 0 = the namespace's ef_search; the search uses
///   max(ef, k).
///   Ignored by flat namespaces (always exact).
/// - exact_threshold: filtered HNSW searches score the matching records exactly (exact
///   results) when the payload index counts at most this many, and walk the graph otherwise.
///   0 = automatic: the cost model of docs/filters.md ("Adaptive execution"). SIZE_MAX = always
///   exact when the matches can be counted; 1 = walk unless nothing or one record matches.
/// - max_distance: when set, hits farther than this are dropped (so fewer than k may return).
/// - include_metadata / include_vectors: what each Hit carries besides id and distance.
struct SearchOptions {
  std::size_t k = 10;
  Filter filter = {};
  std::size_t ef = 0;
  std::optional<float> max_distance = {};
  bool include_metadata = true;
  bool include_vectors = false;
  std::size_t exact_threshold = 0;
};

/// A snapshot of one namespace. Byte counts are of memory this process holds for it:
/// - vector_bytes: the vectors (including tombstoned slots awaiting reuse);
/// - graph_bytes: HNSW links (0 for flat);
/// - metadata_bytes: the metadata objects (an estimate of their heap use);
/// - payload_index_bytes: the payload index that answers filters (docs/filters.md), included in
///   memory_bytes (not in metadata_bytes);
/// - memory_bytes: everything the namespace holds: the above, index capacity not yet used,
///   ids and their hash table, norms, hnswlib's locks and visited lists.
struct NamespaceStats {
  std::string name;
  std::size_t dimension = 0;
  Metric metric = Metric::kCosine;
  IndexKind index = IndexKind::kHnsw;
  std::size_t count = 0;    ///< live records
  std::size_t deleted = 0;  ///< tombstoned slots, reused by later upserts
  std::size_t vector_bytes = 0, graph_bytes = 0, metadata_bytes = 0, memory_bytes = 0;
  std::size_t payload_index_bytes = 0;
  bool loaded = false;      ///< resident in memory (always true for in-memory stores)
  bool dirty = false;       ///< changed since the last save (always true once an in-memory
                            ///< namespace has been written to)
};

}  // namespace hnswstore
