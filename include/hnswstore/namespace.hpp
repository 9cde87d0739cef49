// Namespace: a handle to one isolated collection of records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/filter.hpp"
#include "hnswstore/options.hpp"
#include "hnswstore/records.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore {

namespace detail {
class NamespaceState;
}

/// A cheap, copyable handle to one namespace of a VectorStore. Every copy refers to the same
/// records. Obtain one from VectorStore::create_namespace / open_namespace /
/// get_or_create_namespace.
///
/// Thread safety: every method may be called from any thread on any copy. Searches and reads
/// share a lock and run in parallel; writes serialise with each other and take the lock
/// exclusively only in bounded chunks, so searches keep flowing during bulk loads. A concurrent
/// reader may observe a batch half-applied; it never observes a half-applied record.
///
/// Errors common to every method returning Status or Result:
/// - kNotFound when the namespace was dropped (VectorStore::drop_namespace) or the handle is
///   default-constructed;
/// - kInvalidArgument for input that breaks the rules below; the namespace is then unchanged;
/// - kResourceExhausted when a quota (max_elements, memory_limit_bytes) or the allocator says
///   no; the namespace is then unchanged;
/// - kNotSupported for every write (upsert, update_metadata, remove, set_ef_search, compact,
///   save) once its store is closed (VectorStore::close() or the destructor of a persistent
///   store), and for changes to a store opened read_only.
///
/// Input rules: ids are 1..1024 bytes; vectors have exactly options().dimension finite floats
/// (no NaN or infinity; for cosine, not all zero and a norm within the float range; for ip, a
/// norm of at most 2^63, so that no dot product overflows); metadata is a JSON object or null
/// (= {}).
/// Messages name the offending field, e.g. `records[3].vector[17]: NaN is not allowed`.
class HNSWSTORE_API Namespace {
 public:
  /// A handle to nothing: every call answers kNotFound (size() 0, contains() false).
  Namespace() = default;

  /// The namespace's name. Complexity O(1).
  const std::string& name() const;
  /// A copy of the options it was created with (ef_search as last set), taken under a lock of
  /// its own: safe while other threads call set_ef_search. Complexity O(1).
  NamespaceOptions options() const;
  /// Live records (0 if dropped). Complexity O(1).
  std::size_t size() const;

  /// Inserts the record, or replaces vector and metadata of an existing id.
  /// Complexity: one HNSW insertion, O(log n) distance computations (flat: O(dimension)).
  Status upsert(std::string_view id, std::span<const float> vector, Metadata metadata = {});
  /// Upserts a batch in parallel over StoreOptions::threads, all or nothing: every record is
  /// validated (and the quota checked) before any is applied, and a failure while applying
  /// (out of memory) rolls back the records already applied. Ids within the batch must be
  /// unique. Progress is reported as stage "upsert".
  Status upsert(std::span<const Record> records);
  /// Columnar bulk load: ids[i] gets vectors[i*dim, (i+1)*dim) and metadata[i] (metadata may be
  /// empty: every record then gets {}). Same semantics as the batch overload.
  Status upsert(std::span<const std::string> ids, std::span<const float> vectors,
                std::span<const Metadata> metadata = {});
  /// Replaces the metadata object of an existing id (kNotFound if there is none).
  /// Complexity O(size of the metadata).
  Status update_metadata(std::string_view id, Metadata metadata);
  /// Deletes the id; true if it existed, false if not. The slot becomes a tombstone that never
  /// appears in results and that a later upsert reuses. Complexity O(1).
  Result<bool> remove(std::string_view id);
  /// Deletes every record whose metadata matches `filter` (Filter() deletes all) and returns how
  /// many. kInvalidArgument for an invalid filter (nothing deleted). Complexity: O(matches) for
  /// filters the payload index answers (docs/filters.md), else O(size()) evaluations.
  Result<std::size_t> remove(const Filter& filter);
  /// The records matching `filter`, in a stable order (ids ascending, byte-wise), skipping the
  /// first `offset` and returning at most `limit`: pages of a scan with the same filter neither
  /// repeat nor miss a record while the namespace does not change, even across save and reopen.
  /// kInvalidArgument for an invalid filter. Complexity: O(matches x log(matches)) plus the
  /// records returned (vectors and metadata are copied).
  Result<std::vector<Record>> scan(const Filter& filter = {}, std::size_t limit = SIZE_MAX,
                                   std::size_t offset = 0) const;
  /// The record as stored: the vector as given (cosine: within float rounding), the metadata.
  /// kNotFound if the id does not exist. Complexity O(dimension + metadata).
  Result<Record> get(std::string_view id) const;
  /// Whether the id exists. Complexity O(1) expected.
  bool contains(std::string_view id) const;

  /// The min(k, m) records closest to query, closest first, where m is the number of live
  /// records that pass options.filter; never a deleted or non-matching record.
  /// HNSW: approximate (recall grows with ef), and completed by an exact scan in the rare case
  /// the graph walk finds fewer than min(k, m) records. With a filter the search is adaptive
  /// (docs/filters.md): few matches are scored exactly, many by a filtered graph walk.
  /// Flat: exact.
  /// Errors: kInvalidArgument for a wrong dimension, NaN/infinity, k outside 1..kMaxK, ef
  /// above kMaxEf, a NaN max_distance, an invalid filter.
  /// Complexity: HNSW about O(max(ef, k * size() / m) * log n) distance computations, or O(m)
  /// when m is small; flat O(n * dimension).
  Result<std::vector<Hit>> search(std::span<const float> query,
                                  const SearchOptions& options = {}) const;
  /// Searches queries.size() / dimension queries in parallel over StoreOptions::threads;
  /// result i answers query i. Errors as search(), naming the query (`queries[2][5]: NaN...`).
  Result<std::vector<std::vector<Hit>>> search_batch(std::span<const float> queries,
                                                     const SearchOptions& options = {}) const;
  /// Sets the namespace's default ef (1..kMaxEf, records.hpp). Complexity O(1).
  Status set_ef_search(std::size_t ef);
  /// Rebuilds the index from the live records only, dropping every tombstone and giving their
  /// memory back. Searches keep running on the old index until the new one is swapped in;
  /// writes wait. Progress is reported as stage "compact". Complexity: a full rebuild.
  Status compact();
  /// Writes the namespace to its store's directory if it changed since its last save: an atomic
  /// commit (docs/format.md), after which a crash at any instant reopens to this state or the
  /// previous one. Only live records are written, so a save also compacts the files. Searches
  /// go on during a save; writers wait for it.
  /// Errors: kNotSupported for an in-memory or read-only store; kIOError / kResourceExhausted
  /// (disk full) from the file system. A failure before the commit (the rename of the config)
  /// leaves the previous commit; a failed directory fsync after it leaves the new state visible
  /// but not yet durable (after a power loss either state may come back). Either way the
  /// namespace stays dirty, and the next save commits it again.
  Status save();
  /// Counts and byte sizes (see NamespaceStats). Never fails; a dropped namespace reports
  /// count 0 and loaded false. Complexity O(1).
  NamespaceStats stats() const;

  /// Whether this handle refers to a namespace (that has not been dropped).
  explicit operator bool() const;

 private:
  friend class VectorStore;
  explicit Namespace(std::shared_ptr<detail::NamespaceState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::NamespaceState> state_;
};

}  // namespace hnswstore
