// Episodic memory: entries, search options and statistics (docs/memory.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "hnswstore/filter.hpp"
#include "hnswstore/records.hpp"

namespace hnswstore::memory {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

/// One thing that happened in a conversation: who (role) said what (content), in which session,
/// when. Entries are stored as records of the memory's namespace (docs/memory.md, "Storage").
/// - id: 1..1024 bytes; empty on add() = a random UUIDv4 is assigned. Adding an id that exists
///   replaces that entry (so a retried add is harmless).
/// - session_id: any string (empty is a session too); role: "user", "assistant", "system",
///   "tool" or anything else.
/// - content: non-empty, valid UTF-8.
/// - timestamp: when it happened; {} (the epoch) = now, at add(). Kept to the nanosecond.
/// - ingestion_time: set by add() to the time of the call (any value given is replaced);
///   migrate_to() keeps it.
/// - metadata: a JSON object (null = {}); its top-level keys must not start with '@', which
///   the memory reserves for its own fields.
/// - processed: set by mark_processed() / consolidate(); an entry is added unprocessed unless
///   this is true.
/// - embedding: used as given when set (dimension and finiteness checked), otherwise computed
///   by the memory's embedding service from content.
struct EpisodicEntry {
  std::string id;
  std::string session_id;
  std::string role;
  std::string content;
  TimePoint timestamp = {};
  TimePoint ingestion_time = {};
  Metadata metadata = Metadata::object();
  bool processed = false;
  std::optional<std::vector<float>> embedding;
};

/// A search result. `score` is higher for more relevant entries; its scale depends on the mode
/// (SearchMode). The entry's `embedding` is not filled.
struct ScoredEntry {
  EpisodicEntry entry;
  float score = 0.0f;
};

/// How search() ranks entries.
/// - kVector: by the cosine similarity of the query's embedding to the entry's (score in
///   [-1, 1]).
/// - kLexical: by BM25 over content (score >= 0; entries that share no word with the query are
///   not returned). docs/memory.md gives the tokeniser's rules.
/// - kHybrid: both, fused (Fusion); the default fusion is the one measured best in
///   docs/memory.md.
enum class SearchMode { kVector, kLexical, kHybrid };

/// How kHybrid fuses the vector and lexical rankings (docs/memory.md, "Hybrid recall").
/// - kAuto: the measured default: kRelativeScore with vector_weight 0.8 (vector_weight as set
///   in the options is not used).
/// - kReciprocalRank: 2 * (vector_weight / (rrf_k + rank_v) + (1 - vector_weight) /
///   (rrf_k + rank_l)), ranks from 1, a missing rank contributing 0 (vector_weight 0.5 is plain
///   RRF).
/// - kRelativeScore: each ranking's scores scaled to [0, 1] over its candidate list (min-max:
///   the best scores 1, the worst 0), then vector_weight * v + (1 - vector_weight) * l, where
///   an entry missing from one list scores 0 there.
enum class Fusion { kAuto, kReciprocalRank, kRelativeScore };

/// Options of EpisodicMemory::search. All conditions must hold (AND).
/// - session_id, role: only entries of this session / role;
/// - after <= timestamp < before;
/// - processed: only entries with this flag;
/// - filter: on the entry's metadata (docs/filters.md); an invalid filter is kInvalidArgument;
/// - min_score: drop results scoring below it (so fewer than top_k may return).
/// - fusion, vector_weight (0..1), rrf_k (> 0), candidates (0 = automatic: max(4 * top_k, 40)):
///   kHybrid's fusion and how many results of each ranking it fuses.
struct MemorySearchOptions {
  SearchMode mode = SearchMode::kVector;
  std::optional<std::string> session_id;
  std::optional<std::string> role;
  std::optional<TimePoint> after, before;
  std::optional<bool> processed;
  Filter filter = {};
  std::optional<float> min_score;
  Fusion fusion = Fusion::kAuto;
  float vector_weight = 0.5f;
  float rrf_k = 60.0f;
  std::size_t candidates = 0;
};

/// Hits and misses of an EmbeddingService's cache.
struct CacheStats {
  std::size_t hits = 0, misses = 0;
};

/// A snapshot of a memory's counters (EpisodicMemory::stats).
/// - entries: live entries; sessions: distinct session ids among them;
/// - searches: search() calls answered since the memory was created or opened;
/// - search_p50/p95/p99: their latency (embedding included), from a fixed histogram with
///   buckets 1/16 of a power of two wide (so within about 6 %);
/// - embedding_cache: the embedding service's cache counters;
/// - lexical_index_bytes: the BM25 index's memory (postings, terms, document table);
/// - memory_bytes: everything the memory holds: its namespace's stats().memory_bytes, the
///   lexical index and the session table (not the embedding cache, which a service may share).
struct MemoryStats {
  std::size_t entries = 0, sessions = 0, searches = 0;
  std::chrono::microseconds search_p50{}, search_p95{}, search_p99{};
  CacheStats embedding_cache;
  std::size_t lexical_index_bytes = 0, memory_bytes = 0;
};

}  // namespace hnswstore::memory
