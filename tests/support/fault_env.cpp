#include "fault_env.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace hnswstore::testing {

namespace fs = std::filesystem;

std::string_view to_string(FaultOp op) noexcept {
  switch (op) {
    case FaultOp::kCreate: return "create";
    case FaultOp::kAppend: return "append";
    case FaultOp::kSync: return "fsync";
    case FaultOp::kSyncDir: return "fsync-dir";
    case FaultOp::kRename: return "rename";
    case FaultOp::kRemove: return "remove";
  }
  return "?";
}

// A file open for writing. It refers to its inode, not to its name: as on POSIX, renaming or
// removing the name does not stop the writes.
class FaultEnv::File final : public WritableFile {
 public:
  File(FaultEnv* env, fs::path path, std::shared_ptr<Inode> inode, std::uint64_t epoch)
      : env_(env), path_(std::move(path)), inode_(std::move(inode)), epoch_(epoch) {}

  Status append(std::string_view data) override {
    std::lock_guard<std::mutex> lock(env_->mutex_);
    if (Status s = usable("write"); !s.ok()) return s;
    bool partial = false;
    if (Status s = env_->operation(FaultOp::kAppend, path_, &partial); !s.ok()) {
      if (partial) inode_->current.append(data.substr(0, data.size() / 2));
      return s;
    }
    inode_->current.append(data);
    return Status::Ok();
  }

  Status sync() override {
    std::lock_guard<std::mutex> lock(env_->mutex_);
    if (Status s = usable("fsync"); !s.ok()) return s;
    if (Status s = env_->operation(FaultOp::kSync, path_); !s.ok()) return s;
    inode_->synced = inode_->current;
    return Status::Ok();
  }

  Status close() override {
    std::lock_guard<std::mutex> lock(env_->mutex_);
    closed_ = true;
    return Status::Ok();
  }

 private:
  // mutex_ held.
  Status usable(std::string_view what) const {
    if (closed_) return Status::IOError(std::string(what) + " '" + path_.string() + "': closed");
    if (epoch_ != env_->epoch_) {
      return Status::IOError(std::string(what) + " '" + path_.string() +
                             "': opened before a crash");
    }
    return Status::Ok();
  }

  FaultEnv* env_;
  fs::path path_;
  std::shared_ptr<Inode> inode_;
  std::uint64_t epoch_;
  bool closed_ = false;
};

class FaultEnv::Lock final : public FileLock {
 public:
  Lock(FaultEnv* env, std::string key, std::uint64_t epoch)
      : env_(env), key_(std::move(key)), epoch_(epoch) {}
  ~Lock() override {
    std::lock_guard<std::mutex> lock(env_->mutex_);
    // A crash released it already; the name may be held by a process started since.
    if (epoch_ == env_->epoch_) env_->locks_.erase(key_);
  }

 private:
  FaultEnv* env_;
  std::string key_;
  std::uint64_t epoch_;
};

std::string FaultEnv::key(const fs::path& path) {
  std::string k = path.lexically_normal().string();
  while (k.size() > 1 && k.back() == '/') k.pop_back();
  return k;
}

FaultEnv::Dir* FaultEnv::parent_of(const fs::path& path, std::string* name) {
  const fs::path p(key(path));
  *name = p.filename().string();
  auto it = dirs_.find(key(p.parent_path()));
  return it == dirs_.end() ? nullptr : &it->second;
}

Status FaultEnv::operation(FaultOp op, const fs::path& path, bool* partial) {
  bool fail = powered_off_;
  if (!fail && armed_ != Armed::kNone && !fired_ &&
      (armed_ == Armed::kPowerOff || armed_op_ == op) && --countdown_ == 0) {
    fail = true;
    fired_ = true;
    if (armed_ == Armed::kPowerOff) powered_off_ = true;
  }
  trace_.push_back({op, path.string(), fail});
  if (!fail) return Status::Ok();
  if (partial != nullptr) *partial = partial_appends_ && !powered_off_;
  return Status::IOError("injected fault: " + std::string(to_string(op)) + " '" + path.string() +
                         "'" + (powered_off_ ? " (power off)" : ""));
}

Result<std::unique_ptr<WritableFile>> FaultEnv::new_writable_file(const fs::path& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string name;
  Dir* dir = parent_of(path, &name);
  if (dir == nullptr) return Status::NotFound("create '" + path.string() + "': no directory");
  if (dirs_.count(key(path)) != 0) {
    return Status::IOError("create '" + path.string() + "': is a directory");
  }
  if (Status s = operation(FaultOp::kCreate, path); !s.ok()) return s;
  auto& entry = dir->current[name];
  if (entry) {
    entry->current.clear();  // O_TRUNC: durable only once the file is synced
  } else {
    entry = std::make_shared<Inode>();
  }
  return std::unique_ptr<WritableFile>(std::make_unique<File>(this, path, entry, epoch_));
}

Status FaultEnv::read_file(const fs::path& path, std::size_t max_bytes, std::string* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string name;
  Dir* dir = parent_of(path, &name);
  if (dir == nullptr || dir->current.count(name) == 0) {
    return Status::NotFound("open '" + path.string() + "': no such file");
  }
  const std::string& bytes = dir->current.at(name)->current;
  if (bytes.size() > max_bytes) {
    return Status::Corruption(name + ": " + std::to_string(bytes.size()) +
                              " bytes is more than the " + std::to_string(max_bytes) +
                              " this file can hold");
  }
  *out = bytes;
  return Status::Ok();
}

bool FaultEnv::file_exists(const fs::path& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (dirs_.count(key(path)) != 0) return true;
  std::string name;
  Dir* dir = parent_of(path, &name);
  return dir != nullptr && dir->current.count(name) != 0;
}

Result<std::vector<std::string>> FaultEnv::list_dir(const fs::path& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string k = key(dir);
  auto it = dirs_.find(k);
  if (it == dirs_.end()) return Status::NotFound("list '" + dir.string() + "': no directory");
  std::vector<std::string> names;
  for (const auto& [name, inode] : it->second.current) names.push_back(name);
  for (const auto& [path, d] : dirs_) {
    const fs::path p(path);
    if (path != k && key(p.parent_path()) == k) names.push_back(p.filename().string());
  }
  return names;
}

void FaultEnv::make_dirs(const fs::path& dir, bool durable) {
  for (fs::path p(key(dir)); !p.empty(); p = p.parent_path()) {
    auto [it, created] = dirs_.try_emplace(key(p));
    const bool root = p == p.parent_path();
    if (created || durable) it->second.durable_entry = it->second.durable_entry || durable || root;
    if (root) break;
  }
}

Status FaultEnv::create_dir(const fs::path& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  make_dirs(dir, false);
  return Status::Ok();
}

Status FaultEnv::create_durable_dir(const fs::path& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  make_dirs(dir, true);
  return Status::Ok();
}

Status FaultEnv::rename_file(const fs::path& from, const fs::path& to) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string from_name, to_name;
  Dir* from_dir = parent_of(from, &from_name);
  Dir* to_dir = parent_of(to, &to_name);
  if (from_dir == nullptr || from_dir->current.count(from_name) == 0) {
    return Status::NotFound("rename '" + from.string() + "': no such file");
  }
  if (to_dir == nullptr) return Status::NotFound("rename to '" + to.string() + "': no directory");
  if (Status s = operation(FaultOp::kRename, to); !s.ok()) return s;
  auto node = from_dir->current[from_name];
  from_dir->current.erase(from_name);
  to_dir->current[to_name] = std::move(node);
  return Status::Ok();
}

Status FaultEnv::remove_file(const fs::path& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string name;
  Dir* dir = parent_of(path, &name);
  if (dir == nullptr || dir->current.count(name) == 0) {
    return Status::NotFound("remove '" + path.string() + "': no such file");
  }
  if (Status s = operation(FaultOp::kRemove, path); !s.ok()) return s;
  dir->current.erase(name);
  return Status::Ok();
}

Status FaultEnv::sync_dir(const fs::path& dir) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = dirs_.find(key(dir));
  if (it == dirs_.end()) return Status::NotFound("open directory '" + dir.string() + "'");
  if (Status s = operation(FaultOp::kSyncDir, dir); !s.ok()) return s;
  it->second.durable = it->second.current;
  // The directories in it are entries too.
  for (auto& [path, d] : dirs_) {
    if (path != it->first && key(fs::path(path).parent_path()) == it->first) d.durable_entry = true;
  }
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> FaultEnv::lock_file(const fs::path& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string name;
  Dir* dir = parent_of(path, &name);
  if (dir == nullptr) return Status::NotFound("open lock file '" + path.string() + "'");
  const std::string k = key(path);
  if (!locks_.insert(k).second) {
    return Status::Busy("directory '" + path.parent_path().string() +
                        "' is open for writing by another VectorStore (lock file '" + name +
                        "')");
  }
  // As open(O_CREAT) does; not a traced operation: the lock file's contents never matter.
  auto& entry = dir->current[name];
  if (!entry) entry = std::make_shared<Inode>();
  return std::unique_ptr<FileLock>(std::make_unique<Lock>(this, k, epoch_));
}

std::vector<FaultTraceEntry> FaultEnv::trace() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return trace_;
}

std::size_t FaultEnv::count(FaultOp op) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t n = 0;
  for (const auto& e : trace_) n += e.op == op ? 1 : 0;
  return n;
}

void FaultEnv::reset_trace() {
  std::lock_guard<std::mutex> lock(mutex_);
  trace_.clear();
}

void FaultEnv::fail_nth(FaultOp op, std::uint64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = n == 0 ? Armed::kNone : Armed::kOnce;
  armed_op_ = op;
  countdown_ = n;
  fired_ = false;
}

void FaultEnv::power_off_at(std::uint64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = n == 0 ? Armed::kNone : Armed::kPowerOff;
  countdown_ = n;
  fired_ = false;
}

bool FaultEnv::fault_fired() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fired_;
}

void FaultEnv::clear_faults() {
  std::lock_guard<std::mutex> lock(mutex_);
  armed_ = Armed::kNone;
  fired_ = false;
  powered_off_ = false;
}

void FaultEnv::set_partial_appends(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  partial_appends_ = on;
}

void FaultEnv::crash() { crash_keeping({}); }

void FaultEnv::crash_keeping(const std::vector<std::string>& survivors) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::set<std::string> keep(survivors.begin(), survivors.end());
  // Directories whose entry never reached the disk are gone, with everything below them.
  for (auto& [path, dir] : dirs_) {
    if (keep.count(path) != 0) dir.durable_entry = true;
  }
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    bool lost = false;
    for (fs::path p(it->first);; p = p.parent_path()) {
      auto d = dirs_.find(key(p));
      if (d == dirs_.end() || !d->second.durable_entry) {
        lost = true;
        break;
      }
      if (p == p.parent_path()) break;
    }
    it = lost ? dirs_.erase(it) : std::next(it);
  }
  for (auto& [path, dir] : dirs_) {
    for (const auto& name : changed_names(dir)) {
      if (keep.count(key(fs::path(path) / name)) == 0) continue;
      auto it = dir.current.find(name);
      if (it == dir.current.end()) {
        dir.durable.erase(name);
      } else {
        dir.durable[name] = it->second;
      }
    }
    dir.current = dir.durable;
    for (auto& [name, inode] : dir.current) inode->current = inode->synced;
  }
  locks_.clear();
  ++epoch_;
  armed_ = Armed::kNone;
  fired_ = false;
  powered_off_ = false;
}

std::vector<std::string> FaultEnv::changed_names(const Dir& dir) {
  std::vector<std::string> names;
  for (const auto& [name, inode] : dir.current) {
    auto it = dir.durable.find(name);
    if (it == dir.durable.end() || it->second != inode) names.push_back(name);
  }
  for (const auto& [name, inode] : dir.durable) {
    if (dir.current.count(name) == 0) names.push_back(name);
  }
  return names;
}

std::vector<std::string> FaultEnv::unsynced_names() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> paths;
  for (const auto& [path, dir] : dirs_) {
    for (const auto& name : changed_names(dir)) paths.push_back(key(fs::path(path) / name));
    if (!dir.durable_entry) paths.push_back(path);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::shared_ptr<FaultEnv> FaultEnv::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto copy = std::make_shared<FaultEnv>();
  // Inodes are shared between views (and between names after a rename): copy each once.
  std::map<const Inode*, std::shared_ptr<Inode>> copied;
  auto clone = [&](const std::shared_ptr<Inode>& inode) {
    auto& c = copied[inode.get()];
    if (!c) c = std::make_shared<Inode>(*inode);
    return c;
  };
  for (const auto& [path, dir] : dirs_) {
    Dir& d = copy->dirs_[path];
    d.durable_entry = dir.durable_entry;
    for (const auto& [name, inode] : dir.current) d.current[name] = clone(inode);
    for (const auto& [name, inode] : dir.durable) d.durable[name] = clone(inode);
  }
  copy->partial_appends_ = partial_appends_;
  return copy;
}

}  // namespace hnswstore::testing
