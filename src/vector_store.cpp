// VectorStore: the namespace catalogue.
#include "hnswstore/vector_store.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "guarded.hpp"
#include "hnswstore/version.hpp"
#include "namespace_state.hpp"
#include "persistence.hpp"
#include "validation.hpp"

namespace hnswstore {

const char* version() noexcept { return HNSWSTORE_VERSION_STRING; }

namespace detail {

class StoreState {
 public:
  explicit StoreState(StoreOptions options, std::filesystem::path dir = {})
      : context(std::make_shared<StoreContext>(std::move(options), std::move(dir))) {}
  // Destructors are noexcept: nothing thrown while closing (an allocation, a callback, a
  // lock) may escape, or the process terminates.
  ~StoreState() {
    try {
      if (context->persistent() && !context->closed.load()) {
        if (Status s = close(); !s.ok()) {
          context->log(LogLevel::kError, "closing the store: " + s.message());
        }
      }
    } catch (...) {
    }
  }
  StoreState(const StoreState&) = delete;
  StoreState& operator=(const StoreState&) = delete;

  Status usable() const {
    if (context->closed.load(std::memory_order_acquire)) {
      return Status::InvalidArgument("store: closed");
    }
    return Status::Ok();
  }
  Status writable() const {
    if (Status s = usable(); !s.ok()) return s;
    if (context->options.read_only) {
      return Status::NotSupported("store: opened read_only ('" + context->dir.string() + "')");
    }
    return Status::Ok();
  }

  // Saves every dirty namespace; the first error is returned, the others logged.
  Status save() {
    if (!context->persistent()) {
      return Status::NotSupported("store: in memory; VectorStore::open gives one that saves");
    }
    if (Status s = writable(); !s.ok()) return s;
    return save_all(false);
  }

  Status close() {
    std::lock_guard<std::mutex> once(close_mutex);  // concurrent closes: one saves, all wait
    if (context->closed.load()) return Status::Ok();
    // First the flag, then the saves: every write checks the flag under its namespace's writer
    // lock, and each save below takes that lock, so a write that raced close() either landed
    // before its namespace's save (and is saved) or fails; none is acknowledged and dropped.
    context->closed.store(true, std::memory_order_release);
    Status s;
    if (context->persistent() && !context->options.read_only && context->options.save_on_close) {
      s = save_all(true);
    }
    dir_lock.reset();
    return s;
  }

  // Saves the namespaces; the first error is returned, the others logged. `at_close`: close()
  // has marked the store closed; every namespace is visited (under its writer lock, so that a
  // write in progress finishes first), not only those that look dirty now.
  Status save_all(bool at_close) {
    std::vector<std::shared_ptr<NamespaceState>> all;
    {
      std::shared_lock<std::shared_mutex> lock(mutex);
      for (const auto& [name, ns] : namespaces) all.push_back(ns);
    }
    Status first;
    for (const auto& ns : all) {
      Status s;
      if (at_close) {
        s = ns->save_at_close();
      } else {
        if (!ns->dirty()) continue;
        s = ns->save();
      }
      if (s.ok() || s.code() == StatusCode::kNotFound) continue;  // dropped meanwhile
      if (first.ok()) {
        first = s;
      } else {
        context->log(LogLevel::kError, s.message());
      }
    }
    return first;
  }

  // VectorStore::refresh(): a read-only store takes in what the directory's writer committed.
  // The directory is read and each changed namespace reloaded without the catalogue lock (a
  // reload can take seconds); the catalogue's own changes are made under it at the end.
  Status refresh() {
    if (Status s = usable(); !s.ok()) return s;
    if (!context->persistent()) {
      return Status::NotSupported("store: in memory; there is nothing to refresh from");
    }
    if (!context->options.read_only) return Status::Ok();  // no other process commits here
    std::lock_guard<std::mutex> one_at_a_time(refresh_mutex);
    const StoreContext& ctx = *context;
    auto files = ctx.env->list_dir(ctx.dir);
    if (!files) return files.error();
    std::map<std::string, NamespaceConfig, std::less<>> configs;
    std::map<std::string, Status, std::less<>> unreadable;
    for (const std::string& file : *files) {
      const DirEntryInfo info = classify(file);
      if (info.kind != DirEntryInfo::kConfig) continue;
      NamespaceConfig config;
      Status s = read_config(*ctx.env, ctx.dir, info.ns, &config);
      if (s.ok()) {
        configs.emplace(info.ns, std::move(config));
      } else if (s.code() != StatusCode::kNotFound) {  // kNotFound: dropped since the listing
        unreadable.emplace(info.ns, std::move(s));
      }
    }
    std::map<std::string, std::shared_ptr<NamespaceState>, std::less<>> current;
    {
      std::shared_lock<std::shared_mutex> lock(mutex);
      for (const auto& [name, ns] : namespaces) {
        if (!ns->dropped()) current.emplace(name, ns);
      }
    }
    Status first;
    auto note = [&](const std::string& name, const Status& s) {
      ctx.log(LogLevel::kError, "refresh: namespace '" + name + "': " + s.message());
      if (first.ok()) first = s;
    };
    std::map<std::string, std::shared_ptr<NamespaceState>, std::less<>> fresh;  // new or re-made
    std::vector<std::shared_ptr<NamespaceState>> gone;
    for (auto& [name, config] : configs) {
      auto it = current.find(name);
      if (it != current.end() && it->second->same_namespace(config)) {
        Status s = it->second->refresh(config);
        if (s.code() == StatusCode::kNotFound) {
          gone.push_back(it->second);  // dropped by the writer since the listing
        } else if (!s.ok()) {
          note(name, s);
        }
        continue;
      }
      // New, or dropped and created again: old handles stay with the dropped one.
      if (it != current.end()) gone.push_back(it->second);
      fresh.emplace(name, std::make_shared<NamespaceState>(std::move(config), context));
    }
    for (const auto& [name, ns] : current) {
      if (configs.count(name) != 0) continue;
      if (auto u = unreadable.find(name); u != unreadable.end()) {
        note(name, u->second);  // damaged now: it keeps serving what it has
      } else {
        gone.push_back(ns);  // its config is gone: the writer dropped it
      }
    }
    {
      std::unique_lock<std::shared_mutex> lock(mutex);
      for (auto& [name, ns] : fresh) {
        if (context->budget) context->budget->add(ns);
        namespaces.insert_or_assign(name, std::move(ns));
      }
      for (const auto& ns : gone) {
        auto it = namespaces.find(ns->name());
        if (it != namespaces.end() && it->second == ns) namespaces.erase(it);
      }
      broken.clear();
      for (auto& [name, s] : unreadable) {
        if (namespaces.count(name) == 0) broken.emplace(name, std::move(s));
      }
    }
    for (const auto& ns : gone) {
      if (context->budget) context->budget->remove(ns.get());
      ns->drop_in_memory();
    }
    return first;
  }

  // Creates and registers a namespace (replacing a dropped one that drop_namespace has not
  // taken out yet); `mutex` is held exclusively.
  std::shared_ptr<NamespaceState> add(std::string_view name, const NamespaceOptions& options) {
    auto ns = std::make_shared<NamespaceState>(std::string(name), options, context);
    namespaces.insert_or_assign(std::string(name), ns);
    if (context->budget) context->budget->add(ns);
    return ns;
  }

  // The catalogue entry of a namespace that exists: a dropped one whose drop_namespace call has
  // not erased it yet does not. `mutex` held.
  std::shared_ptr<NamespaceState> find(std::string_view name) const {
    auto it = namespaces.find(name);
    if (it == namespaces.end() || it->second->dropped()) return nullptr;
    return it->second;
  }

  const std::shared_ptr<const StoreContext> context;
  mutable std::shared_mutex mutex;
  std::map<std::string, std::shared_ptr<NamespaceState>, std::less<>> namespaces;
  // Namespaces whose config file cannot be read: listed, not opened (the error says why),
  // droppable. Their files are never cleaned up.
  std::map<std::string, Status, std::less<>> broken;
  std::unique_ptr<FileLock> dir_lock;  // writers only
  std::mutex close_mutex;
  std::mutex refresh_mutex;  // one refresh() at a time
};

}  // namespace detail

namespace {

Status moved_from() { return Status::InvalidArgument("store: this VectorStore was moved from"); }

// Names the first build option that differs (ef_search and quotas may differ).
Status compare_options(const NamespaceOptions& have, const NamespaceOptions& want,
                       std::string_view name) {
  auto differs = [&](std::string_view field, const std::string& a, const std::string& b) {
    return Status::InvalidArgument(std::string(field) + ": namespace '" + std::string(name) +
                                   "' exists with " + a + ", the call asks for " + b);
  };
  if (have.dimension != want.dimension) {
    return differs("dimension", std::to_string(have.dimension), std::to_string(want.dimension));
  }
  if (have.metric != want.metric) {
    return differs("metric", std::string(to_string(have.metric)),
                   std::string(to_string(want.metric)));
  }
  if (have.index != want.index) {
    return differs("index", std::string(to_string(have.index)), std::string(to_string(want.index)));
  }
  if (have.index == IndexKind::kHnsw) {
    if (have.hnsw.m != want.hnsw.m) {
      return differs("hnsw.m", std::to_string(have.hnsw.m), std::to_string(want.hnsw.m));
    }
    if (have.hnsw.ef_construction != want.hnsw.ef_construction) {
      return differs("hnsw.ef_construction", std::to_string(have.hnsw.ef_construction),
                     std::to_string(want.hnsw.ef_construction));
    }
    if (have.hnsw.seed != want.hnsw.seed) {
      return differs("hnsw.seed", std::to_string(have.hnsw.seed), std::to_string(want.hnsw.seed));
    }
  }
  return Status::Ok();
}

}  // namespace

VectorStore::VectorStore(std::shared_ptr<detail::StoreState> state) : state_(std::move(state)) {}
VectorStore::VectorStore(VectorStore&&) noexcept = default;
VectorStore& VectorStore::operator=(VectorStore&&) noexcept = default;
VectorStore::~VectorStore() = default;

VectorStore VectorStore::in_memory(StoreOptions options) {
  options.env = nullptr;
  return VectorStore(std::make_shared<detail::StoreState>(std::move(options)));
}

namespace {

// A writer's open removes what crashes and drops left behind: temporary configs, data files of
// generations no config names, data files of namespaces with no config. Files of namespaces
// whose config is unreadable are kept.
void remove_leftovers(detail::StoreState& store, const std::vector<std::string>& names) {
  const auto& ctx = *store.context;
  for (const std::string& file : names) {
    const detail::DirEntryInfo info = detail::classify(file);
    bool garbage = false;
    switch (info.kind) {
      case detail::DirEntryInfo::kTemp:
        garbage = true;
        break;
      case detail::DirEntryInfo::kVectors:
      case detail::DirEntryInfo::kGraph: {
        if (store.broken.count(info.ns) != 0) break;
        auto it = store.namespaces.find(info.ns);
        garbage = it == store.namespaces.end() || !it->second->references(file);
        break;
      }
      default:
        break;
    }
    if (!garbage) continue;
    if (Status s = ctx.env->remove_file(ctx.dir / file); !s.ok()) {
      ctx.log(LogLevel::kWarning, "removing a leftover file: " + s.message());
    } else {
      ctx.log(LogLevel::kInfo, "removed leftover file '" + file + "'");
    }
  }
}

// Creates the store's directory and any missing parents, and makes their entries durable: a
// new directory is an entry of its parent, lost in a power failure until the parent is synced,
// and with it every commit inside it.
Status create_store_dir(Env& env, const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;  // deepest first
  for (std::filesystem::path p = dir.lexically_normal(); !p.empty() && !env.file_exists(p);
       p = p.parent_path()) {
    if (p.has_filename()) missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  if (Status s = env.create_dir(dir); !s.ok()) return s;
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    const std::filesystem::path parent = it->has_parent_path() ? it->parent_path() : ".";
    if (Status s = env.sync_dir(parent); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

Result<VectorStore> VectorStore::open(const std::filesystem::path& dir, StoreOptions options) {
  try {
    if (dir.empty()) return Status::InvalidArgument("dir: empty path");
    std::shared_ptr<Env> env = options.env ? options.env : Env::posix();
    options.env = env;
    const bool read_only = options.read_only;
    if (!env->file_exists(dir)) {
      if (!options.create_if_missing || read_only) {
        return Status::NotFound(
            "dir: no store at '" + dir.string() + "'" +
            (read_only ? " (read_only never creates one)" : " and create_if_missing is off"));
      }
      if (Status s = create_store_dir(*env, dir); !s.ok()) return s;
    }
    auto state = std::make_shared<detail::StoreState>(std::move(options), dir);
    const auto& ctx = *state->context;
    if (!read_only) {
      auto lock = env->lock_file(dir / std::string(detail::kLockFile));
      if (!lock) {
        state->context->closed.store(true);  // nothing to save
        return lock.error();
      }
      state->dir_lock = std::move(*lock);
    }
    auto names = env->list_dir(dir);
    if (!names) {
      state->context->closed.store(true);
      return names.error();
    }
    for (const std::string& file : *names) {
      const detail::DirEntryInfo info = detail::classify(file);
      if (info.kind != detail::DirEntryInfo::kConfig) continue;
      detail::NamespaceConfig config;
      Status s = detail::read_config(*env, dir, info.ns, &config);
      if (s.ok()) {
        auto ns = std::make_shared<detail::NamespaceState>(std::move(config), state->context);
        if (ctx.budget) ctx.budget->add(ns);
        state->namespaces.emplace(info.ns, std::move(ns));
      } else if (s.code() != StatusCode::kNotFound) {  // removed since the listing
        ctx.log(LogLevel::kError, "namespace '" + info.ns + "' cannot be opened: " + s.message());
        state->broken.emplace(info.ns, s);
      }
    }
    if (!read_only) remove_leftovers(*state, *names);
    return VectorStore(std::move(state));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory opening '" + dir.string() + "'");
  } catch (const std::exception& e) {
    return Status::Internal(e.what());
  } catch (...) {
    return Status::Internal("an exception that is not a std::exception");
  }
}

Status VectorStore::save() {
  return detail::guarded([&]() -> Status {
    if (!state_) return moved_from();
    return state_->save();
  });
}

Status VectorStore::close() {
  return detail::guarded([&]() -> Status {
    if (!state_) return moved_from();
    return state_->close();
  });
}

Status VectorStore::refresh() {
  if (!state_) return moved_from();
  return detail::guarded([&] { return state_->refresh(); });
}

const StoreOptions& VectorStore::options() const {
  static const StoreOptions kDefaults;
  return state_ ? state_->context->options : kDefaults;
}

Result<Namespace> VectorStore::create_namespace(std::string_view name,
                                                const NamespaceOptions& options) {
  return detail::guarded([&]() -> Result<Namespace> {
    if (!state_) return moved_from();
    if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
    if (Status s = detail::check_namespace_options(options); !s.ok()) return s;
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    // Under the catalogue lock: close() marks the store closed before it lists the namespaces
    // to save, so a namespace created here is either saved by it or never created.
    if (Status s = state_->writable(); !s.ok()) return s;
    if (state_->find(name) || state_->broken.count(name) != 0) {
      return Status::AlreadyExists("name: namespace '" + std::string(name) + "' already exists");
    }
    return Namespace(state_->add(name, options));
  });
}

Result<Namespace> VectorStore::open_namespace(std::string_view name) {
  return detail::guarded([&]() -> Result<Namespace> {
    if (!state_) return moved_from();
    if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
    if (Status s = state_->usable(); !s.ok()) return s;
    std::shared_lock<std::shared_mutex> lock(state_->mutex);
    auto ns = state_->find(name);
    if (!ns) {
      if (auto b = state_->broken.find(name); b != state_->broken.end()) return b->second;
      return Status::NotFound("name: no namespace '" + std::string(name) + "'");
    }
    return Namespace(std::move(ns));
  });
}

Result<Namespace> VectorStore::get_or_create_namespace(std::string_view name,
                                                       const NamespaceOptions& options) {
  return detail::guarded([&]() -> Result<Namespace> {
    if (!state_) return moved_from();
    if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
    if (Status s = detail::check_namespace_options(options); !s.ok()) return s;
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    if (Status s = state_->usable(); !s.ok()) return s;  // under the lock, as in create_namespace
    if (auto ns = state_->find(name)) {
      if (Status s = compare_options(ns->options(), options, name); !s.ok()) return s;
      return Namespace(std::move(ns));
    }
    if (auto b = state_->broken.find(name); b != state_->broken.end()) return b->second;
    if (Status s = state_->writable(); !s.ok()) return s;
    return Namespace(state_->add(name, options));
  });
}

bool VectorStore::has_namespace(std::string_view name) const {
  if (!state_ || !detail::check_namespace_name(name).ok()) return false;
  std::shared_lock<std::shared_mutex> lock(state_->mutex);
  return state_->find(name) || state_->broken.count(name) != 0;
}

std::vector<std::string> VectorStore::list_namespaces() const {
  std::vector<std::string> names;
  if (!state_) return names;
  std::shared_lock<std::shared_mutex> lock(state_->mutex);
  names.reserve(state_->namespaces.size());
  for (const auto& [name, ns] : state_->namespaces) {
    if (!ns->dropped()) names.push_back(name);
  }
  for (const auto& [name, status] : state_->broken) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

Status VectorStore::drop_namespace(std::string_view name) {
  return detail::guarded([&]() -> Status {
    if (!state_) return moved_from();
    if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
    if (Status s = state_->writable(); !s.ok()) return s;
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    std::shared_ptr<detail::NamespaceState> ns = state_->find(name);
    if (!ns) {
      auto b = state_->broken.find(name);
      if (b == state_->broken.end()) {
        return Status::NotFound("name: no namespace '" + std::string(name) + "'");
      }
      // An unreadable namespace: its config goes first, then whatever data files it had.
      const auto& ctx = *state_->context;
      if (Status s = detail::remove_namespace_files(*ctx.env, ctx.dir, name, nullptr); !s.ok()) {
        return s;
      }
      if (auto files = ctx.env->list_dir(ctx.dir)) {
        for (const std::string& file : *files) {
          const detail::DirEntryInfo info = detail::classify(file);
          if ((info.kind == detail::DirEntryInfo::kVectors ||
               info.kind == detail::DirEntryInfo::kGraph) &&
              info.ns == name) {
            (void)ctx.env->remove_file(ctx.dir / file);
          }
        }
      }
      state_->broken.erase(b);
      return Status::Ok();
    }
    // NamespaceState::drop() waits for the namespace's writer (a bulk load, a save's fsync, a
    // callback) and removes its files: outside the catalogue lock, so that the other namespaces
    // stay usable meanwhile, and so that a callback of that writer may call the store. The entry
    // stays in the catalogue until the drop has happened (a failed drop leaves it as it was, and
    // its name cannot be created again while its files are being removed); from then on lookups
    // skip it, and it is erased below unless a new namespace of that name has replaced it.
    lock.unlock();
    if (Status s = ns->drop(); !s.ok()) {
      if (s.code() == StatusCode::kNotFound) {  // another drop_namespace call was first
        return Status::NotFound("name: no namespace '" + std::string(name) + "'");
      }
      return s;
    }
    if (state_->context->budget) state_->context->budget->remove(ns.get());
    lock.lock();
    auto it = state_->namespaces.find(name);
    if (it != state_->namespaces.end() && it->second == ns) state_->namespaces.erase(it);
    return Status::Ok();
  });
}

}  // namespace hnswstore
