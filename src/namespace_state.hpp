// NamespaceState: one namespace's records, index and locks. Namespace handles point here.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/namespace.hpp"
#include "hnswstore/options.hpp"
#include "hnswstore/records.hpp"
#include "hnswstore/status.hpp"
#include "format.hpp"
#include "hnswstore/env.hpp"
#include "id_map.hpp"
#include "metadata_store.hpp"
#include "rw_lock.hpp"
#include "vector_index.hpp"

namespace hnswstore::detail {

class NamespaceState;

/// StoreOptions::memory_budget_bytes of a persistent store: the bytes of its loaded namespaces
/// (stats().memory_bytes each) and unloading the least recently used ones to fit.
/// Locking: a thread holds no namespace lock when it calls charge(). The budget's mutex guards
/// only the accounting: it is never held while a namespace's lock is taken, a file is written
/// or a user callback runs. Unloading takes the victim's writer lock with try_lock only.
class MemoryBudget {
 public:
  explicit MemoryBudget(std::size_t bytes) : budget_(bytes) {}
  void add(const std::shared_ptr<NamespaceState>& ns);
  void remove(const NamespaceState* ns);
  /// Records what `ns` holds now, then unloads other namespaces, least recently used first
  /// (saving dirty ones first), until the loaded ones fit the budget or none is left to unload.
  void charge(NamespaceState& ns);

 private:
  struct Member {
    std::weak_ptr<NamespaceState> ns;
    std::size_t bytes = 0;
    std::uint64_t charges = 0;  // charges of this member so far: an unload's result is stale
                                // if the namespace was charged while it ran
  };
  const std::size_t budget_;
  std::mutex mutex_;
  std::map<const NamespaceState*, Member> members_;
  std::size_t total_ = 0;  // sum of members_' bytes
};

/// What a store shares with its namespaces: options, logging, progress, its directory.
struct StoreContext {
  StoreOptions options;
  std::size_t threads = 1;  // resolved StoreOptions::threads
  std::filesystem::path dir;  // empty: in memory
  std::shared_ptr<Env> env;   // null: in memory
  mutable std::atomic<bool> closed{false};
  /// Null unless the store is persistent and StoreOptions::memory_budget_bytes > 0.
  std::shared_ptr<MemoryBudget> budget;

  explicit StoreContext(StoreOptions o, std::filesystem::path directory = {});
  bool persistent() const noexcept { return env != nullptr; }
  /// Call the user's logger / progress callback; anything they throw is caught and ignored.
  void log(LogLevel level, std::string_view message) const noexcept;
  void progress(std::string_view stage, std::size_t done, std::size_t total) const noexcept;
};

/// Locking: `write_mutex_` serialises writers; `mutex_` is shared by readers and taken
/// exclusively by a writer only while it changes what readers see (one bounded chunk at a time).
/// State that only writers touch (free_slots_, next_slot_) needs write_mutex_ alone.
class NamespaceState {
 public:
  /// A new namespace (dirty: a persistent store writes it on its first save).
  NamespaceState(std::string name, NamespaceOptions options,
                 std::shared_ptr<const StoreContext> context);
  /// A committed namespace of a persistent store, loaded on first use.
  NamespaceState(NamespaceConfig config, std::shared_ptr<const StoreContext> context);
  NamespaceState(const NamespaceState&) = delete;
  NamespaceState& operator=(const NamespaceState&) = delete;

  const std::string& name() const noexcept { return name_; }
  /// For the fields fixed at creation (dimension, metric, index, m, ef_construction, seed),
  /// which any thread may read; the others change under the locks (see options_).
  const NamespaceOptions& options() const noexcept { return options_; }
  /// Namespace::options(): a copy under options_mutex_.
  NamespaceOptions options_copy() const {
    std::lock_guard<std::mutex> lock(options_mutex_);
    return options_;
  }
  std::size_t size() const noexcept;

  Status upsert(std::string_view id, std::span<const float> vector, Metadata metadata);
  Status upsert(std::span<const Record> records);
  Status upsert(std::span<const std::string> ids, std::span<const float> vectors,
                std::span<const Metadata> metadata);
  Status update_metadata(std::string_view id, Metadata metadata);
  Result<bool> remove(std::string_view id);
  Result<std::size_t> remove(const Filter& filter);
  Result<std::vector<Record>> scan(const Filter& filter, std::size_t limit,
                                   std::size_t offset) const;
  Result<Record> get(std::string_view id) const;
  bool contains(std::string_view id) const;
  Result<std::vector<Hit>> search(std::span<const float> query, const SearchOptions& options) const;
  Result<std::vector<std::vector<Hit>>> search_batch(std::span<const float> queries,
                                                     const SearchOptions& options) const;
  Status set_ef_search(std::size_t ef);
  Status compact();
  /// Commits the namespace to disk if it changed since its last commit (docs/format.md).
  /// kNotSupported once the store is closed.
  Status save();
  /// VectorStore::close(): as save(), after the store was marked closed (so that no write can
  /// follow it); a dropped namespace is skipped.
  Status save_at_close();
  NamespaceStats stats() const;
  bool dirty() const;
  /// Whether the last commit names `file` (used by VectorStore::open only, before sharing).
  bool references(std::string_view file) const noexcept {
    return disk_ && (disk_->vectors.name == file || (disk_->graph && disk_->graph->name == file));
  }

  /// Memory budget: after a call that may have grown the namespace or loaded it, charges its
  /// bytes to the store's budget, which may unload other namespaces. No-op without a budget.
  void charge_budget();
  /// Memory budget: saves the namespace if dirty and frees its records, so that the next call
  /// loads them again, and returns the bytes it still holds. Does nothing (nullopt) if a writer
  /// is busy with it, it is not loaded, or the save fails (logged).
  std::optional<std::size_t> try_unload();
  /// When a call last used the namespace (steady clock ticks), for least-recently-used order.
  std::int64_t last_use() const noexcept { return last_use_.load(std::memory_order_relaxed); }
  /// Every byte it holds now (stats().memory_bytes).
  std::size_t memory_bytes() const;

  /// Removes the namespace's files (persistent stores), then makes every later call answer
  /// kNotFound and frees the records. On an error removing files nothing is dropped.
  Status drop();
  bool dropped() const noexcept { return dropped_.load(std::memory_order_acquire); }

  /// Read-only stores (VectorStore::refresh). Whether `config` is a commit of this namespace,
  /// not of one of the same name that was dropped and created again: the same creation time
  /// and build options.
  bool same_namespace(const NamespaceConfig& config) const noexcept;
  /// Read-only stores: takes in a newer commit of this namespace. A loaded namespace loads it
  /// beside its current records and swaps them at once (each reader sees one generation); an
  /// unloaded one only notes it (size() follows). On an error (a damaged file) the namespace
  /// keeps what it had.
  Status refresh(const NamespaceConfig& config);
  /// Read-only stores: another process dropped the namespace. Every later call answers
  /// kNotFound and the records are freed; nothing is removed from disk.
  void drop_in_memory();

 private:
  // One validated record of a batch; `vector` points at dimension floats owned by the caller.
  struct Input {
    std::string_view id;
    const float* vector;
    Metadata metadata;
  };
  // What a batch changed, so that a failure can put it back.
  struct Undo {
    struct Updated {
      Slot slot;
      std::vector<float> vector;  // index form
      float norm;
      Metadata metadata;
    };
    std::vector<Slot> inserted;
    std::vector<Updated> updated;
  };

  Status not_found() const;
  /// Loads a committed namespace on first use; kCorruption etc. if its files are damaged.
  Status ensure_loaded() const;
  /// write_mutex_ held. Loads the commit `config` names (a read-only store follows newer ones
  /// if its files were replaced meanwhile) and swaps it in; on an error nothing changes.
  Status load_locked(NamespaceConfig config);
  /// Takes `lock` (shared) on a loaded namespace, loading it first; retries if the memory
  /// budget unloaded it in between. kNotFound if dropped.
  Status lock_loaded(std::shared_lock<RwLock>& lock) const;
  /// Takes the writer lock on a loaded namespace (loading it if the budget unloaded it).
  /// kNotFound if dropped, kNotSupported once the store is closed: every writer calls this.
  Status lock_writer(std::unique_lock<std::mutex>& writer);
  void touch() const noexcept;
  Status load_from(const NamespaceConfig& config);
  Status writable() const;  // kNotSupported in a read-only store
  Status closed() const;    // the kNotSupported of every write after VectorStore::close()
  /// write_mutex_ held. `at_close`: called by close(), which has marked the store closed.
  Status save_locked(bool at_close);
  Status check_input(std::string_view id, std::span<const float> vector, Metadata& metadata,
                     std::string_view id_field, std::string_view vector_field,
                     std::string_view metadata_field) const;
  Status apply(std::vector<Input>& batch, bool report_progress);
  /// Also counts the batch's ids that are not in the namespace yet.
  Status check_quota(const std::vector<Input>& batch, std::size_t& new_ids) const;
  Status apply_chunk(std::vector<Input>& batch, std::size_t begin, std::size_t end, Undo& undo);
  Status rollback(Undo& undo);
  Status compact_locked();  // write_mutex_ held
  /// Frees every record (drop, unload): an empty index, ids and metadata. Both locks held.
  void free_records_locked();
  /// Marks the namespace dropped and frees its records; write_mutex_ held.
  void drop_records_locked();
  /// Rebuilds the index from the live records (graph or flat), dropping tombstones and
  /// renumbering slots; searches go on against the old index until the swap. write_mutex_ held.
  Status rebuild_locked(bool graph, std::string_view stage);
  /// Whether adding `new_ids` records brings a scanned HNSW namespace to its graph threshold.
  bool needs_graph(std::size_t new_ids) const noexcept;
  Slot allocate_slot();
  std::size_t chunk_size() const noexcept;
  /// How long a writer holds the exclusive lock per chunk of a batch, about, while searches
  /// wait for it: the longest a search waits for a bulk load (docs/performance.md, "Searches
  /// during a bulk load").
  static constexpr std::chrono::microseconds kExclusiveTarget{3000};
  /// The same while no search had to wait during the previous chunk: longer chunks lose less to
  /// the threads' idle tails, and a search that arrives waits at most this long.
  static constexpr std::chrono::microseconds kUncontendedTarget{12000};
  /// The size of a batch's next chunk, from the time the last one (`written` records) took.
  static std::size_t next_chunk(std::size_t chunk, std::size_t written,
                                std::chrono::steady_clock::duration took,
                                std::chrono::microseconds target) noexcept;
  std::size_t memory_bytes_locked() const noexcept;
  void search_locked(const float* query, const SearchOptions& options,
                     std::vector<Neighbor>& scratch, std::vector<Hit>& hits) const;
  std::vector<float> stored_vector(Slot slot) const;
  /// The neighbours of a search with a filter (adaptive: exact or a filtered walk).
  void filtered_search(const float* query, const SearchOptions& options,
                       std::vector<Neighbor>& found) const;
  /// Every live slot that matches the filter, in slot order (a lock held).
  void matching_slots(const Filter& filter, std::vector<Slot>& out) const;

  const std::string name_;
  // ef_search (set_ef_search, loads, unloads) and the quotas (loads in a read-only store) change
  // under write_mutex_, the exclusive mutex_ and options_mutex_; options_copy() needs only the
  // last.
  NamespaceOptions options_;
  mutable std::mutex options_mutex_;
  const std::shared_ptr<const StoreContext> context_;

  mutable RwLock mutex_;
  std::mutex write_mutex_;
  std::atomic<bool> dropped_{false};
  std::atomic<bool> loaded_{true};
  mutable std::atomic<std::int64_t> last_use_{0};
  /// Readers that found mutex_ taken (a writer holds or awaits it) since a writer last looked.
  mutable std::atomic<std::uint32_t> readers_waited_{0};
  std::optional<NamespaceConfig> disk_;  // the last commit (write_mutex_)
  std::string created_;                  // when the namespace was created (ISO 8601 UTC)
  std::uint64_t last_generation_ = 0;    // highest generation a save has tried (write_mutex_)
  std::atomic<std::size_t> live_{0};
  bool dirty_ = false;

  IdMap ids_;
  MetadataStore metadata_;
  std::vector<float> norms_;  // by slot, cosine only: the length of the vector as given
  std::unique_ptr<VectorIndex> index_;
  std::vector<Slot> free_slots_;  // tombstoned slots, reused by later inserts
  std::size_t next_slot_ = 0;     // slots allocated so far == index_->slot_count() at rest
};

}  // namespace hnswstore::detail
