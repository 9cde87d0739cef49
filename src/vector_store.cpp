// VectorStore: the namespace catalogue.
#include "hnswstore/vector_store.hpp"

#include <map>
#include <mutex>
#include <shared_mutex>

#include "hnswstore/version.hpp"
#include "namespace_state.hpp"
#include "validation.hpp"

namespace hnswstore {

const char* version() noexcept { return HNSWSTORE_VERSION_STRING; }

namespace detail {

class StoreState {
 public:
  explicit StoreState(StoreOptions options)
      : context(std::make_shared<StoreContext>(std::move(options))) {}

  // Creates and registers a namespace; `mutex` is held exclusively.
  std::shared_ptr<NamespaceState> add(std::string_view name, const NamespaceOptions& options) {
    auto ns = std::make_shared<NamespaceState>(std::string(name), options, context);
    namespaces.emplace(std::string(name), ns);
    return ns;
  }

  const std::shared_ptr<const StoreContext> context;
  mutable std::shared_mutex mutex;
  std::map<std::string, std::shared_ptr<NamespaceState>, std::less<>> namespaces;
};

}  // namespace detail

namespace {

Status moved_from() {
  return Status::InvalidArgument("store: this VectorStore was moved from");
}

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
    return differs("index", std::string(to_string(have.index)),
                   std::string(to_string(want.index)));
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
  return VectorStore(std::make_shared<detail::StoreState>(std::move(options)));
}

const StoreOptions& VectorStore::options() const {
  static const StoreOptions kDefaults;
  return state_ ? state_->context->options : kDefaults;
}

Result<Namespace> VectorStore::create_namespace(std::string_view name,
                                                const NamespaceOptions& options) {
  if (!state_) return moved_from();
  if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
  if (Status s = detail::check_namespace_options(options); !s.ok()) return s;
  std::unique_lock<std::shared_mutex> lock(state_->mutex);
  if (state_->namespaces.count(name) != 0) {
    return Status::AlreadyExists("name: namespace '" + std::string(name) + "' already exists");
  }
  return Namespace(state_->add(name, options));
}

Result<Namespace> VectorStore::open_namespace(std::string_view name) {
  if (!state_) return moved_from();
  if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
  std::shared_lock<std::shared_mutex> lock(state_->mutex);
  auto it = state_->namespaces.find(name);
  if (it == state_->namespaces.end()) {
    return Status::NotFound("name: no namespace '" + std::string(name) + "'");
  }
  return Namespace(it->second);
}

Result<Namespace> VectorStore::get_or_create_namespace(std::string_view name,
                                                       const NamespaceOptions& options) {
  if (!state_) return moved_from();
  if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
  if (Status s = detail::check_namespace_options(options); !s.ok()) return s;
  std::unique_lock<std::shared_mutex> lock(state_->mutex);
  auto it = state_->namespaces.find(name);
  if (it != state_->namespaces.end()) {
    if (Status s = compare_options(it->second->options(), options, name); !s.ok()) return s;
    return Namespace(it->second);
  }
  return Namespace(state_->add(name, options));
}

bool VectorStore::has_namespace(std::string_view name) const {
  if (!state_ || !detail::check_namespace_name(name).ok()) return false;
  std::shared_lock<std::shared_mutex> lock(state_->mutex);
  return state_->namespaces.count(name) != 0;
}

std::vector<std::string> VectorStore::list_namespaces() const {
  std::vector<std::string> names;
  if (!state_) return names;
  std::shared_lock<std::shared_mutex> lock(state_->mutex);
  names.reserve(state_->namespaces.size());
  for (const auto& [name, ns] : state_->namespaces) names.push_back(name);
  return names;
}

Status VectorStore::drop_namespace(std::string_view name) {
  if (!state_) return moved_from();
  if (Status s = detail::check_namespace_name(name); !s.ok()) return s;
  std::shared_ptr<detail::NamespaceState> ns;
  {
    std::unique_lock<std::shared_mutex> lock(state_->mutex);
    auto it = state_->namespaces.find(name);
    if (it == state_->namespaces.end()) {
      return Status::NotFound("name: no namespace '" + std::string(name) + "'");
    }
    ns = std::move(it->second);
    state_->namespaces.erase(it);
  }
  ns->drop();
  return Status::Ok();
}

}  // namespace hnswstore
