// Env::posix(): the default file system implementation.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "hnswstore/env.hpp"

namespace hnswstore {

WritableFile::~WritableFile() = default;
FileLock::~FileLock() = default;
Env::~Env() = default;

namespace {

Status io_error(std::string_view what, const std::filesystem::path& path, int err) {
  std::string message = std::string(what) + " '" + path.string() + "': " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(std::move(message));
  if (err == ENOSPC || err == EDQUOT) return Status::ResourceExhausted(std::move(message));
  return Status::IOError(std::move(message));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status append(std::string_view data) override {
    if (fd_ < 0) return Status::IOError("write '" + path_.string() + "': file is closed");
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("write", path_, errno);
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return Status::Ok();
  }

  Status sync() override {
    if (fd_ < 0) return Status::IOError("fsync '" + path_.string() + "': file is closed");
    if (::fdatasync(fd_) != 0) return io_error("fsync", path_, errno);
    return Status::Ok();
  }

  Status close() override {
    if (fd_ < 0) return Status::Ok();
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return io_error("close", path_, errno);
    return Status::Ok();
  }

 private:
  std::filesystem::path path_;
  int fd_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> new_writable_file(
      const std::filesystem::path& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("create", path, errno);
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd));
  }

  Status read_file(const std::filesystem::path& path, std::size_t max_bytes,
                   std::string* out) override {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error("open", path, errno);
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return io_error("stat", path, errno);
    if (!S_ISREG(st.st_mode)) return Status::IOError("read '" + path.string() + "': not a file");
    const auto size = static_cast<std::size_t>(st.st_size);
    if (size > max_bytes) {
      return Status::Corruption(path.filename().string() + ": " + std::to_string(size) +
                                " bytes is more than the " + std::to_string(max_bytes) +
                                " this file can hold");
    }
    out->resize(size);
    std::size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd, out->data() + done, size - done, static_cast<off_t>(done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("read", path, errno);
      }
      if (n == 0) break;  // the file shrank while we read it
      done += static_cast<std::size_t>(n);
    }
    out->resize(done);
    return Status::Ok();
  }

  bool file_exists(const std::filesystem::path& path) override {
    return ::access(path.c_str(), F_OK) == 0;
  }

  Result<std::vector<std::string>> list_dir(const std::filesystem::path& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return io_error("list", dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return io_error("list", dir, err);
    return names;
  }

  Status create_dir(const std::filesystem::path& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return io_error("create directory", dir, ec.value());
    if (!std::filesystem::is_directory(dir, ec)) {
      return Status::IOError("create directory '" + dir.string() + "': not a directory");
    }
    return Status::Ok();
  }

  Status rename_file(const std::filesystem::path& from, const std::filesystem::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("rename", from, errno);
    return Status::Ok();
  }

  Status remove_file(const std::filesystem::path& path) override {
    if (::unlink(path.c_str()) != 0) return io_error("remove", path, errno);
    return Status::Ok();
  }

  Status sync_dir(const std::filesystem::path& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error("open directory", dir, errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return io_error("fsync directory", dir, err);
    return Status::Ok();
  }

  Result<std::unique_ptr<FileLock>> lock_file(const std::filesystem::path& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return io_error("open lock file", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::Busy("directory '" + path.parent_path().string() +
                            "' is open for writing by another VectorStore (lock file '" +
                            path.filename().string() + "')");
      }
      return io_error("lock", path, err);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }
};

}  // namespace

std::shared_ptr<Env> Env::posix() {
  static const std::shared_ptr<Env> env = std::make_shared<PosixEnv>();
  return env;
}

}  // namespace hnswstore
