// EpisodicMemory: who said what, in which session, when; with vector, lexical and hybrid
// search (docs/memory.md).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/memory/config.hpp"
#include "hnswstore/memory/consolidation.hpp"
#include "hnswstore/memory/entry.hpp"
#include "hnswstore/namespace.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::memory {

namespace detail {
class MemoryState;
}

/// An episodic memory for an agent, on one namespace of a hnswstore store.
///
/// Both backends (EpisodicBackend) answer every call with the same semantics; only kHnsw's
/// vector searches are approximate. Entries are records whose metadata holds the session,
/// role, times, content and processed flag beside the entry's own metadata, so the store's
/// filters and payload index serve every condition of MemorySearchOptions.
///
/// Bad input never changes anything: an invalid entry (empty or invalid-UTF-8 content, a bad
/// embedding, metadata that is not an object or uses a reserved '@' key) is kInvalidArgument
/// naming the field (`entries[3].content: ...` in a batch), and nothing of the call is stored.
///
/// Movable, not copyable; a moved-from memory answers kInvalidArgument. Thread-safe: any
/// number of threads may search while others add; writes (add, mark_processed, delete_before)
/// are serialised.
class EpisodicMemory {
 public:
  /// Builds a memory from `config`. With a directory, opens (or creates) the store there and
  /// the namespace config.name in it, loading every entry written before (and rebuilding the
  /// lexical index from them).
  /// Memories of one process that name the same directory share one store (a directory has
  /// one writer); the first one's StoreOptions apply, and the store closes with the last.
  /// Errors: kInvalidArgument for kHnsw without an embedding service ("HNSW backend requires
  /// embedding service (use MemoryConfig::for_production)"), for kInMemory without one unless
  /// the namespace already exists in the directory (its dimension comes from there), for a bad
  /// name, or for an existing namespace whose dimension or index differs from the config's; the
  /// store's errors (kBusy when another process holds the directory, kCorruption, kIOError).
  /// Logs at info level through config.store.logger: "Creating HNSW episodic backend
  /// (production mode)" and "HNSW backend using embedding service: {provider}, dimensions: {n}"
  /// (or the InMemory equivalents).
  static Result<EpisodicMemory> create(MemoryConfig config);

  EpisodicMemory(EpisodicMemory&&) noexcept;
  EpisodicMemory& operator=(EpisodicMemory&&) noexcept;
  EpisodicMemory(const EpisodicMemory&) = delete;
  EpisodicMemory& operator=(const EpisodicMemory&) = delete;
  /// Closes the store (saving a directory-backed memory, errors to the logger).
  ~EpisodicMemory();

  /// "InMemory" or "HNSW".
  std::string_view backend_name() const;
  const MemoryConfig& config() const;

  /// Adds one entry and returns its id (assigned when empty). Errors: kInvalidArgument naming
  /// the field; the embedding service's errors. Nothing is stored on error.
  Result<std::string> add(EpisodicEntry entry);
  /// Adds entries, all or nothing: embeddings are computed in parallel batches, then the entries
  /// are inserted as one batch. Duplicate ids within the batch are kInvalidArgument.
  Result<std::vector<std::string>> add_batch(std::vector<EpisodicEntry> entries);
  /// The entry with this id (its embedding filled); kNotFound, or kInvalidArgument for an id
  /// no entry can have (empty, over 1,024 bytes).
  Result<EpisodicEntry> get(std::string_view id) const;

  /// The top_k entries most relevant to `query`, best first, that pass `options`. An empty
  /// memory, or no match, gives an empty list. Errors: kInvalidArgument for an empty query or
  /// one that is not valid UTF-8, top_k outside 1..100,000, a bad filter or bad fusion options;
  /// the embedding service's errors (kVector and kHybrid).
  Result<std::vector<ScoredEntry>> search(std::string_view query, std::size_t top_k,
                                          const MemorySearchOptions& options = {}) const;
  /// kVector search with a query embedding computed by the caller (no embedding call).
  /// options.mode must be kVector (kInvalidArgument otherwise: the other modes need text);
  /// the embedding must have the memory's dimension.
  Result<std::vector<ScoredEntry>> search(std::span<const float> query_embedding,
                                          std::size_t top_k,
                                          const MemorySearchOptions& options = {}) const;

  /// Every entry of the session, chronological (timestamp, then id).
  Result<std::vector<EpisodicEntry>> get_session(std::string_view session_id) const;
  /// The session's unprocessed entries, chronological (timestamp, then id).
  Result<std::vector<EpisodicEntry>> list_unprocessed(std::string_view session_id) const;
  /// Sets the processed flag of these entries and changes nothing else (content, metadata,
  /// times and embedding stay). All or nothing: an unknown id is kNotFound naming it, and no
  /// flag changes. Marking an entry twice is fine.
  Status mark_processed(std::span<const std::string> ids);
  /// Deletes every entry whose timestamp is strictly before t; returns how many.
  Result<std::size_t> delete_before(TimePoint t);
  /// The sessions that have unprocessed entries, ordered by the latest timestamp among each
  /// session's unprocessed entries, newest first (ties: by session id).
  Result<std::vector<std::string>> list_sessions_with_unprocessed() const;
  /// Runs `engine` over the session's unprocessed entries (chronological) and marks processed
  /// the ones it reports. An engine error, or a reported id that was not among the entries
  /// given, leaves every flag unchanged (kInvalidArgument naming `processed_ids[i]`).
  Result<ConsolidationResult> consolidate(std::string_view session_id,
                                          ConsolidationEngine& engine);

  /// Live entries.
  std::size_t size() const;
  MemoryStats stats() const;
  /// Commits the memory to its directory (atomic, like Namespace::save). kNotSupported without
  /// a directory.
  Status save();
  /// A new memory built from `target`, holding every entry of this one with its id, flag and
  /// both timestamps. Vectors are copied when the target's dimension is the same, re-embedded by
  /// the target's service otherwise. The guide's migration (InMemory -> HNSW) and rollback
  /// (HNSW -> InMemory) paths. If it fails, a target namespace that was empty before is
  /// dropped again. This memory is not changed.
  Result<EpisodicMemory> migrate_to(MemoryConfig target) const;

  /// The namespace holding the entries, for inspection and measurement (stats, the store's
  /// own search). Writing to it directly bypasses the lexical index and the session counts:
  /// don't.
  Namespace store_namespace() const;

 private:
  explicit EpisodicMemory(std::unique_ptr<detail::MemoryState> state);
  std::unique_ptr<detail::MemoryState> state_;
};

}  // namespace hnswstore::memory
