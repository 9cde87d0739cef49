// VectorStore: the catalogue of namespaces.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/namespace.hpp"
#include "hnswstore/options.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore {

namespace detail {
class StoreState;
}

/// A set of namespaces, each with its own dimension, metric, index and records.
///
/// Namespace names match `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}` (and are not `.` or `..`); anything
/// else is kInvalidArgument naming the `name` field.
///
/// Movable, not copyable. A moved-from store answers every call with kInvalidArgument
/// (has_namespace false, list_namespaces empty). Namespace handles keep their namespace alive
/// after the store is destroyed.
///
/// Thread safety: every method may be called from any thread.
///
/// A store opened with open() lives in a directory (docs/format.md): each namespace is a
/// config file plus its data files, loaded on first use and written by save(), atomically.
class HNSWSTORE_API VectorStore {
 public:
  /// Opens (or with create_if_missing, creates) the store in directory `dir`.
  /// - A writer takes the directory's LOCK file: a second writer, in this process or another,
  ///   gets kBusy naming the directory. read_only stores take no lock, refuse every change
  ///   (kNotSupported) and read the last committed state even while a writer works.
  /// - Every namespace's config is read and checked now; its records load on first use. A
  ///   namespace whose config is damaged is listed and droppable, and open_namespace returns its
  ///   kCorruption (or kNotSupported for a newer format); the others open normally.
  /// - A writer removes files that crashes or drops left behind (docs/format.md).
  /// Errors: kNotFound (no directory and create_if_missing off, or read_only), kBusy, kIOError.
  static Result<VectorStore> open(const std::filesystem::path& dir, StoreOptions options = {});

  /// A store that lives in memory only. Never fails.
  static VectorStore in_memory(StoreOptions options = {});

  VectorStore(VectorStore&&) noexcept;
  VectorStore& operator=(VectorStore&&) noexcept;
  VectorStore(const VectorStore&) = delete;
  VectorStore& operator=(const VectorStore&) = delete;
  ~VectorStore();

  /// Creates an empty namespace. Errors: kInvalidArgument for a bad name or bad options (the
  /// message names the field: `dimension`, `hnsw.m`, ...); kAlreadyExists if the name is taken.
  /// Complexity O(1); the index allocates on the first upsert.
  Result<Namespace> create_namespace(std::string_view name, const NamespaceOptions& options);
  /// A handle to an existing namespace; kNotFound if there is none. Complexity O(log n).
  Result<Namespace> open_namespace(std::string_view name);
  /// Opens the namespace if it exists, otherwise creates it. If it exists with other options
  /// (dimension, metric, index or HNSW build parameters) the result is kInvalidArgument naming
  /// the first option that differs; ef_search and quotas of the existing namespace are kept.
  Result<Namespace> get_or_create_namespace(std::string_view name, const NamespaceOptions& options);
  /// Whether a namespace of that name exists (false for invalid names).
  bool has_namespace(std::string_view name) const;
  /// Every namespace name, sorted.
  std::vector<std::string> list_namespaces() const;
  /// Deletes the namespace and its records. Every handle to it then answers kNotFound.
  /// Waits for a write in progress on that namespace (its writer lock) without blocking calls
  /// on the store or on other namespaces meanwhile; until the drop happens the namespace is
  /// still there (listed, openable, its name taken), and a failed drop leaves it so.
  /// Errors: kNotFound if there is none; kInvalidArgument for a bad name; kIOError from
  /// removing its config (nothing is dropped then).
  Status drop_namespace(std::string_view name);

  /// Saves every namespace changed since its last save (Namespace::save). Returns the first
  /// error; the other namespaces are still saved. kNotSupported in memory or read_only.
  Status save();
  /// Closes the store: from the moment close() starts, every write through any Namespace handle
  /// of this store (upsert, update_metadata, remove, set_ef_search, compact, save) fails with
  /// kNotSupported (`namespace '...': its store was closed`); then, if save_on_close, every
  /// namespace with unsaved changes is saved (errors returned), and the directory lock is
  /// released. A write racing close() either lands before its namespace's save and is saved, or
  /// fails: none is acknowledged and then dropped. Later calls on the store answer
  /// kInvalidArgument (`store: closed`); handles still answer reads. The destructor closes a
  /// persistent store not yet closed, logging errors. Idempotent; in-memory stores close too.
  Status close();

  /// Read-only stores: takes in what the directory's writer committed since the store was
  /// opened or last refreshed. The directory is listed and every config read again:
  /// - a namespace with a newer commit is, if loaded, loaded again beside its current records
  ///   and swapped in at once: each search, get or scan sees the previous generation or the new
  ///   one, never a mix, and its handles keep working. An unloaded one loads the new commit on
  ///   first use. ef_search and the quotas follow the commit (a set_ef_search is undone).
  /// - a namespace created since can be listed and opened;
  /// - a namespace dropped since: its handles answer kNotFound. One dropped and created again is
  ///   a new namespace: old handles answer kNotFound, open_namespace gives the new one.
  /// Without refresh(), a read-only store keeps serving the generations it has loaded (one not
  /// loaded yet loads the newest commit when first used) and the catalogue it opened.
  /// Errors: the first one met, after refreshing everything else: a damaged new commit or
  /// config (kCorruption; that namespace keeps what it had); kIOError if the directory cannot be
  /// listed; kInvalidArgument once closed; kNotSupported in memory. A writer's refresh() does
  /// nothing and returns ok: no other process commits to its directory.
  /// Complexity: the listing and the configs, plus one load of each changed, loaded namespace.
  /// Concurrent refresh() calls run one at a time; every other call may run beside them.
  Status refresh();

  /// The options the store was opened with.
  const StoreOptions& options() const;

 private:
  explicit VectorStore(std::shared_ptr<detail::StoreState> state);
  std::shared_ptr<detail::StoreState> state_;
};

}  // namespace hnswstore
