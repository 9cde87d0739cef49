// FaultEnv: an in-memory file system with power-loss semantics and fault injection, for testing
// that the store's commit protocol survives failed operations and crashes at any point.
//
// The model (what POSIX promises about durability, and no more):
// - every file (inode) has its current bytes and its synced bytes; WritableFile::sync() makes
//   the synced bytes equal the current ones;
// - every directory has a current view (name -> inode) and a durable view; sync_dir(dir) makes
//   the durable view of that directory equal its current view. Creations, renames and removals
//   not followed by a sync_dir of their directory are lost in a crash;
// - crash() replaces the current state by the durable one, every file holding its synced bytes
//   (unsynced appends are gone), and releases the locks: the process that held them is dead.
//   crash_keeping() is a crash in which some unsynced directory changes did reach the disk: a
//   kernel writes directory blocks back on its own, in any order, so a rename may be durable
//   while the creation of a file it depends on is not (on a file system without a journal, for
//   one). File contents are always their synced bytes.
// - a directory made by create_dir() is itself an entry of its parent directory: it survives
//   a crash only once its parent has been synced (sync_dir(parent)), or if the crash keeps it
//   (crash_keeping). A directory that does not survive loses everything in it.
//   create_durable_dir() is for set-up: directories that existed, durably, before the test.
//
// Fault injection: every mutating operation (create, append, file sync, directory sync, rename,
// remove; not close, not create_dir, and not the creation of a lock file) is counted and
// traced. fail_nth(op, n) makes the n-th operation of that kind from now on fail with kIOError,
// once; the failing operation has no effect (except that, with
// set_partial_appends(true), a failing append writes the first half of its data, as a write cut
// short by a full disk would). power_off_at(n) makes the n-th mutating operation of any kind and
// every one after it fail, until crash(): the machine lost power there.
//
// Thread-safe: one mutex guards everything. Files and locks must not outlive their FaultEnv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/env.hpp"

namespace hnswstore::testing {

enum class FaultOp { kCreate, kAppend, kSync, kSyncDir, kRename, kRemove };
inline constexpr FaultOp kAllFaultOps[] = {FaultOp::kCreate, FaultOp::kAppend,
                                           FaultOp::kSync,   FaultOp::kSyncDir,
                                           FaultOp::kRename, FaultOp::kRemove};
/// "create", "append", "fsync", "fsync-dir", "rename", "remove".
std::string_view to_string(FaultOp op) noexcept;

/// One mutating operation as FaultEnv saw it.
struct FaultTraceEntry {
  FaultOp op;
  std::string path;  // the file (rename: the target), or the directory (sync_dir)
  bool failed = false;
};

class FaultEnv final : public Env {
 public:
  FaultEnv() = default;
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  // ── Env ──
  Result<std::unique_ptr<WritableFile>> new_writable_file(
      const std::filesystem::path& path) override;
  Status read_file(const std::filesystem::path& path, std::size_t max_bytes,
                   std::string* out) override;
  bool file_exists(const std::filesystem::path& path) override;
  Result<std::vector<std::string>> list_dir(const std::filesystem::path& dir) override;
  Status create_dir(const std::filesystem::path& dir) override;
  Status rename_file(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Status remove_file(const std::filesystem::path& path) override;
  Status sync_dir(const std::filesystem::path& dir) override;
  Result<std::unique_ptr<FileLock>> lock_file(const std::filesystem::path& path) override;

  // ── set-up ──
  /// create_dir(), with every directory it makes already durable in its parent (as if the
  /// parent had been synced): a directory that existed before the test.
  Status create_durable_dir(const std::filesystem::path& dir);

  // ── counting ──
  /// The mutating operations since construction or the last reset_trace(), in order.
  std::vector<FaultTraceEntry> trace() const;
  /// How many operations of that kind the trace holds.
  std::size_t count(FaultOp op) const;
  void reset_trace();

  // ── faults ──
  /// The n-th (1-based) operation of kind `op` from now on fails once. Replaces any armed fault.
  void fail_nth(FaultOp op, std::uint64_t n);
  /// The n-th (1-based) mutating operation from now on, and every one after it, fails until
  /// crash(). Replaces any armed fault.
  void power_off_at(std::uint64_t n);
  /// Whether the armed fault has triggered.
  bool fault_fired() const;
  /// Disarms faults (a power-off too).
  void clear_faults();
  /// A failing append writes the first half of its data (unsynced) instead of nothing.
  void set_partial_appends(bool on);

  // ── crashes ──
  /// Power loss: the durable state becomes the current one, with every file's synced bytes.
  /// Releases every lock and disarms faults; files opened before the crash refuse every call.
  void crash();
  /// crash(), except that the unsynced directory changes (creations, renames, removals) of the
  /// names in `survivors` (paths, as unsynced_names() gives them) reached the disk.
  void crash_keeping(const std::vector<std::string>& survivors);
  /// The paths of the names whose directory entry differs between the current and the durable
  /// view (created, removed, or renamed onto), and of directories not yet durable, sorted.
  std::vector<std::string> unsynced_names() const;
  /// A deep copy of the file system (current and durable state; no locks, no faults, an empty
  /// trace): what another process would see now, or, after crash() on it, after a power loss now.
  std::shared_ptr<FaultEnv> snapshot() const;

 private:
  struct Inode {
    std::string current;
    std::string synced;
  };
  struct Dir {
    std::map<std::string, std::shared_ptr<Inode>> current;
    std::map<std::string, std::shared_ptr<Inode>> durable;
    bool durable_entry = false;  // its entry in its parent survives a crash (the root's does)
  };
  class File;
  class Lock;
  friend class File;
  friend class Lock;

  // Counts, traces and possibly fails one mutating operation; mutex_ held.
  Status operation(FaultOp op, const std::filesystem::path& path, bool* partial = nullptr);
  // The directory holding `path` and the entry's name; nullptr if the directory does not exist.
  Dir* parent_of(const std::filesystem::path& path, std::string* name);
  static std::string key(const std::filesystem::path& path);
  // The names whose entry differs between the views of `dir`.
  static std::vector<std::string> changed_names(const Dir& dir);
  // Makes `dir` and its missing parents; mutex_ held.
  void make_dirs(const std::filesystem::path& dir, bool durable);

  mutable std::mutex mutex_;
  std::map<std::string, Dir> dirs_;
  std::set<std::string> locks_;
  std::uint64_t epoch_ = 0;  // incremented by crash(): files and locks of older epochs are dead
  std::vector<FaultTraceEntry> trace_;
  // The armed fault.
  enum class Armed { kNone, kOnce, kPowerOff } armed_ = Armed::kNone;
  FaultOp armed_op_ = FaultOp::kCreate;
  std::uint64_t countdown_ = 0;
  bool fired_ = false;
  bool powered_off_ = false;
  bool partial_appends_ = false;
};

}  // namespace hnswstore::testing
