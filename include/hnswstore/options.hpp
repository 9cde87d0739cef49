// Options of a store and of its namespaces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "hnswstore/detail/export.hpp"

namespace hnswstore {

class Env;

/// Distance between two vectors; smaller is always closer.
/// - kL2: squared Euclidean distance, sum (a_i - b_i)^2 (as hnswlib's L2Space).
/// - kInnerProduct: 1 - dot(a, b) (as hnswlib's InnerProductSpace); meaningful for vectors the
///   caller has scaled, for example maximum-inner-product recommendation. Vectors whose norm
///   exceeds 2^63 are refused: a dot product of two of them could overflow to infinity (NaN).
/// - kCosine: 1 - cos(a, b). The index stores the unit vector and the store keeps each norm, so
///   get() returns the vector as given. A zero vector has no direction and is refused.
/// - kL1: sum |a_i - b_i| (Manhattan).
/// kL2 and kL1 report a distance beyond the float range as +infinity (never NaN).
/// JSON and config files spell them "l2", "ip", "cosine", "l1".
enum class Metric { kL2, kInnerProduct, kCosine, kL1 };

/// How a namespace answers searches.
/// - kHnsw: hnswlib's approximate HNSW graph; sub-linear search, recall below 1.
/// - kFlat: an exact scan over one contiguous array ("InMemory"); recall 1, O(n) per query.
enum class IndexKind { kHnsw, kFlat };

/// "l2", "ip", "cosine", "l1". Complexity O(1).
HNSWSTORE_API std::string_view to_string(Metric metric) noexcept;
/// "hnsw", "flat".
HNSWSTORE_API std::string_view to_string(IndexKind kind) noexcept;
/// Parses the names above (exactly, lower case); std::nullopt for anything else.
HNSWSTORE_API std::optional<Metric> metric_from_string(std::string_view name) noexcept;
HNSWSTORE_API std::optional<IndexKind> index_kind_from_string(std::string_view name) noexcept;

/// HNSW graph parameters (docs/tuning.md explains the trade-offs).
/// - m: links per node on the upper layers (2 * m on the bottom layer); 2..2048.
///   More links: higher recall, more memory (4 bytes per link), slower build.
/// - ef_construction: candidate list size while inserting; 1..kMaxEf (records.hpp: 2^24;
///   hnswlib raises it to m).
/// - ef_search: candidate list size while searching, the default for SearchOptions::ef;
///   1..kMaxEf.
///   A search always uses at least k.
/// - seed: seeds the random level generator (runs with one thread are reproducible).
/// - graph_threshold: a namespace is served by an exact scan, with no graph, until an upsert
///   brings it to this many records; then its graph is built (once, while searches go on against
///   the scan) and kept. 0 = automatic: 2,048 records up to 256 dimensions, 1,024 above, where
///   the graph starts to search faster than the scan (docs/performance.md, "Small namespaces").
///   A small namespace so costs only its records, not hnswlib's fixed 2.5 MiB of locks, and its
///   searches are exact. 1 = build the graph from the first record (hnswlib's behaviour).
///   compact() and loading pick the scan again for a namespace that has shrunk below it.
struct HnswParams {
  std::size_t m = 16;
  std::size_t ef_construction = 200;
  std::size_t ef_search = 50;
  std::uint64_t seed = 100;
  std::size_t graph_threshold = 0;

  /// 16 / 200 / 50: the default.
  static HnswParams balanced() noexcept { return {16, 200, 50, 100}; }
  /// 32 / 400 / 100: higher recall, about twice the link memory and build time.
  static HnswParams high_recall() noexcept { return {32, 400, 100, 100}; }
  /// 8 / 100 / 30: faster build and search, lower recall.
  static HnswParams fast() noexcept { return {8, 100, 30, 100}; }

  friend bool operator==(const HnswParams&, const HnswParams&) = default;
};

/// How one namespace stores and searches its records. Fixed at creation, except
/// hnsw.ef_search (Namespace::set_ef_search).
struct NamespaceOptions {
  std::size_t dimension = 0;             ///< required, 1..65536
  Metric metric = Metric::kCosine;
  IndexKind index = IndexKind::kHnsw;
  HnswParams hnsw = {};                  ///< ignored by kFlat except ef_search
  std::size_t max_elements = 0;          ///< quota on live records; 0 = unlimited (the index grows)
  std::size_t memory_limit_bytes = 0;    ///< quota on stats().memory_bytes; 0 = unlimited

  friend bool operator==(const NamespaceOptions&, const NamespaceOptions&) = default;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };
/// Receives the store's log lines. Called from whichever thread did the work; must be
/// thread-safe. The default writes warnings and errors to stderr. Whatever it throws is caught
/// and ignored (it may run inside destructors and in the middle of a write).
using Logger = std::function<void(LogLevel, std::string_view)>;
/// Progress of long work (bulk upserts, loads, graph rebuilds, compaction): `stage` names the
/// work ("upsert", "compact", ...), `done` of `total` items are finished. Called from the thread
/// that started the work, at most once per chunk, with done == total last. The callback may
/// read (search, get) but must not write to, save or drop the namespace that reports, whose
/// writer lock the reporting thread holds, nor save or close the store (which saves it). Whatever it throws is caught and ignored: it cannot stop the work.
using Progress =
    std::function<void(std::string_view stage, std::size_t done, std::size_t total)>;

/// Options of a VectorStore; they apply to every namespace in it.
struct StoreOptions {
  bool create_if_missing = true;          ///< persistence (VectorStore::open), see docs/format.md
  bool read_only = false;                 ///< persistence
  bool save_graph = true;                 ///< persistence: also write <ns>.<gen>.graph.bin
  int zstd_level = 3;                     ///< persistence: 0 = sections uncompressed
  std::size_t threads = 0;                ///< worker threads for batches; 0 = hardware concurrency
  std::size_t memory_budget_bytes = 0;    ///< >0: unload least-recently-used clean namespaces
  bool save_on_close = true;              ///< persistence: destructor saves dirty namespaces
  Logger logger = {};                     ///< default: warnings and errors to stderr
  Progress progress = {};                 ///< default: none
  /// persistence: the file system; default (null) Env::posix(). Tests inject faults here.
  std::shared_ptr<Env> env = {};
};

}  // namespace hnswstore
