// Env: every file operation a persistent store performs goes through one of these, so that tests
// can inject faults (a failed write, fsync or rename; a crash that loses unsynced data) and so
// that applications can route I/O elsewhere. The default is Env::posix().
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/detail/export.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore {

/// A file opened for writing from its start. Not thread-safe; one writer at a time.
class HNSWSTORE_API WritableFile {
 public:
  virtual ~WritableFile();
  /// Appends bytes. kIOError names the file and the system error.
  virtual Status append(std::string_view data) = 0;
  /// Makes everything appended so far durable (fsync).
  virtual Status sync() = 0;
  /// Closes the file; later calls fail. The destructor closes a file not yet closed.
  virtual Status close() = 0;
};

/// A held lock; destroying it releases the lock.
class HNSWSTORE_API FileLock {
 public:
  virtual ~FileLock();
};

/// File system operations, all thread-safe. Paths are absolute or relative to the working
/// directory; the store only ever passes paths inside its own directory.
class HNSWSTORE_API Env {
 public:
  virtual ~Env();

  /// The process-wide POSIX implementation (open/write/fsync/rename/flock).
  static std::shared_ptr<Env> posix();

  /// Creates `path`, or truncates it if it exists, for writing.
  virtual Result<std::unique_ptr<WritableFile>> new_writable_file(
      const std::filesystem::path& path) = 0;
  /// Reads a whole file into `out`. kNotFound if it does not exist, kIOError otherwise.
  /// Reads at most `max_bytes` (a larger file is kCorruption: its size is impossible).
  virtual Status read_file(const std::filesystem::path& path, std::size_t max_bytes,
                           std::string* out) = 0;
  virtual bool file_exists(const std::filesystem::path& path) = 0;
  /// The names (not paths) of the entries of a directory, in no particular order.
  virtual Result<std::vector<std::string>> list_dir(const std::filesystem::path& dir) = 0;
  /// Creates a directory (and its parents); ok if it exists.
  virtual Status create_dir(const std::filesystem::path& dir) = 0;
  /// Atomically replaces `to` with `from` (rename(2)).
  virtual Status rename_file(const std::filesystem::path& from,
                             const std::filesystem::path& to) = 0;
  /// Removes a file; kNotFound if it does not exist.
  virtual Status remove_file(const std::filesystem::path& path) = 0;
  /// Makes the directory's entries (creations, renames, removals) durable (fsync of the
  /// directory).
  virtual Status sync_dir(const std::filesystem::path& dir) = 0;
  /// Takes an exclusive advisory lock on `path` (created if missing) without waiting: kBusy if
  /// another holder has it, in this process or another (flock(2) on POSIX).
  virtual Result<std::unique_ptr<FileLock>> lock_file(const std::filesystem::path& path) = 0;
};

}  // namespace hnswstore
