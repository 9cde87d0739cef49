#include "namespace_state.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <new>
#include <unordered_map>

#include "parallel.hpp"
#include "validation.hpp"

namespace hnswstore::detail {

// ── StoreContext ─────────────────────────────────────────────────────────────────────────────

StoreContext::StoreContext(StoreOptions o)
    : options(std::move(o)), threads(resolve_threads(options.threads)) {}

void StoreContext::log(LogLevel level, std::string_view message) const {
  if (options.logger) {
    options.logger(level, message);
    return;
  }
  if (level < LogLevel::kWarning) return;
  std::fprintf(stderr, "hnswstore %s: %.*s\n", level == LogLevel::kWarning ? "warning" : "error",
               static_cast<int>(message.size()), message.data());
}

void StoreContext::progress(std::string_view stage, std::size_t done, std::size_t total) const {
  if (options.progress) options.progress(stage, done, total);
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

namespace {

// Writes the unit vector of v into out and returns |v| (v is finite and non-zero: validated).
float normalize_into(const float* v, std::size_t dim, float* out) {
  double norm2 = 0.0;
  for (std::size_t i = 0; i < dim; ++i) norm2 += static_cast<double>(v[i]) * v[i];
  const double norm = std::sqrt(norm2);
  for (std::size_t i = 0; i < dim; ++i) out[i] = static_cast<float>(v[i] / norm);
  return static_cast<float>(norm);
}

std::unique_ptr<VectorIndex> make_index(const NamespaceOptions& o) {
  return o.index == IndexKind::kFlat ? make_flat_index(o) : make_hnsw_index(o);
}

Status from_exception(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) {
    return Status::ResourceExhausted("out of memory: " + std::string(e.what()));
  }
  return Status::Internal(e.what());
}

}  // namespace

// ── NamespaceState ───────────────────────────────────────────────────────────────────────────

NamespaceState::NamespaceState(std::string name, NamespaceOptions options,
                               std::shared_ptr<const StoreContext> context)
    : name_(std::move(name)),
      options_(options),
      context_(std::move(context)),
      index_(make_index(options_)) {}

std::size_t NamespaceState::size() const noexcept {
  return dropped() ? 0 : live_.load(std::memory_order_acquire);
}

Status NamespaceState::not_found() const {
  return Status::NotFound("namespace '" + name_ + "' was dropped");
}

Status NamespaceState::check_input(std::string_view id, std::span<const float> vector,
                                   Metadata& metadata, std::string_view id_field,
                                   std::string_view vector_field,
                                   std::string_view metadata_field) const {
  if (Status s = check_id(id, id_field); !s.ok()) return s;
  if (Status s = check_vector(vector, options_, vector_field); !s.ok()) return s;
  return normalize_metadata(metadata, metadata_field);
}

Status NamespaceState::upsert(std::string_view id, std::span<const float> vector,
                              Metadata metadata) {
  if (Status s = check_input(id, vector, metadata, "id", "vector", "metadata"); !s.ok()) return s;
  std::vector<Input> batch;
  batch.push_back({id, vector.data(), std::move(metadata)});
  return apply(batch, false);
}

namespace {
Status check_unique(const std::vector<std::string_view>& ids, std::string_view field) {
  std::unordered_map<std::string_view, std::size_t> first;
  first.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    auto [it, inserted] = first.emplace(ids[i], i);
    if (!inserted) {
      return Status::InvalidArgument(indexed(field, i) + ": duplicate of " +
                                     indexed(field, it->second) +
                                     "; ids within one batch must be unique");
    }
  }
  return Status::Ok();
}
}  // namespace

Status NamespaceState::upsert(std::span<const Record> records) {
  std::vector<Input> batch;
  batch.reserve(records.size());
  std::vector<std::string_view> ids;
  ids.reserve(records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    const std::string base = indexed("records", i);
    Metadata md = r.metadata;
    if (Status s = check_input(r.id, r.vector, md, base + ".id", base + ".vector",
                               base + ".metadata");
        !s.ok()) {
      return s;
    }
    batch.push_back({r.id, r.vector.data(), std::move(md)});
    ids.push_back(r.id);
  }
  if (Status s = check_unique(ids, "records"); !s.ok()) {
    return Status::InvalidArgument(s.message());
  }
  return apply(batch, true);
}

Status NamespaceState::upsert(std::span<const std::string> ids, std::span<const float> vectors,
                              std::span<const Metadata> metadata) {
  const std::size_t dim = options_.dimension;
  if (vectors.size() != ids.size() * dim) {
    return Status::InvalidArgument("vectors: expected " + std::to_string(ids.size()) + " x " +
                                   std::to_string(dim) + " = " + std::to_string(ids.size() * dim) +
                                   " floats for " + std::to_string(ids.size()) + " ids, got " +
                                   std::to_string(vectors.size()));
  }
  if (!metadata.empty() && metadata.size() != ids.size()) {
    return Status::InvalidArgument("metadata: expected 0 or " + std::to_string(ids.size()) +
                                   " objects (one per id), got " +
                                   std::to_string(metadata.size()));
  }
  std::vector<Input> batch;
  batch.reserve(ids.size());
  std::vector<std::string_view> views(ids.begin(), ids.end());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Metadata md = metadata.empty() ? Metadata::object() : metadata[i];
    if (Status s = check_input(ids[i], vectors.subspan(i * dim, dim), md, indexed("ids", i),
                               indexed("vectors", i), indexed("metadata", i));
        !s.ok()) {
      return s;
    }
    batch.push_back({ids[i], vectors.data() + i * dim, std::move(md)});
  }
  if (Status s = check_unique(views, "ids"); !s.ok()) return s;
  return apply(batch, true);
}

std::size_t NamespaceState::chunk_size() const noexcept {
  // Bounded exclusive sections: a chunk of HNSW inserts takes a few milliseconds.
  if (options_.index == IndexKind::kFlat) return 16384;
  return std::max<std::size_t>(256, 128 * context_->threads);
}

Status NamespaceState::check_quota(const std::vector<Input>& batch, std::size_t& new_ids) const {
  new_ids = 0;
  std::size_t record_bytes = 0;
  std::size_t released_bytes = 0;  // metadata that updates replace
  for (const Input& in : batch) {
    if (auto slot = ids_.find(in.id)) {
      released_bytes += json_heap_bytes(metadata_.get(*slot));
    } else {
      ++new_ids;
      record_bytes += in.id.size() + 4 * sizeof(void*) + sizeof(Metadata) + sizeof(float);
    }
    record_bytes += json_heap_bytes(in.metadata);
  }
  const std::size_t live = live_.load(std::memory_order_relaxed);
  if (options_.max_elements != 0 && live + new_ids > options_.max_elements) {
    return Status::ResourceExhausted(
        "max_elements: the upsert would bring namespace '" + name_ + "' to " +
        std::to_string(live + new_ids) + " records, over its quota of " +
        std::to_string(options_.max_elements));
  }
  if (options_.memory_limit_bytes != 0) {
    const std::size_t reused = std::min(new_ids, free_slots_.size());
    const std::size_t slots_needed = next_slot_ + (new_ids - reused);
    std::size_t index_growth = 0;
    if (slots_needed > index_->capacity()) {
      // Size a scratch index of the capacity the growth policy would pick.
      const std::size_t cap = grown_capacity(index_->capacity(), slots_needed);
      const std::size_t per_slot =
          options_.dimension * sizeof(float) +
          (options_.index == IndexKind::kHnsw
               ? (2 * options_.hnsw.m + 1) * 4 + 8 + sizeof(void*) + sizeof(int) + 40 + 2 + 4
               : 1);
      index_growth = (cap - index_->capacity()) * per_slot;
      if (options_.index == IndexKind::kHnsw && index_->capacity() == 0) {
        index_growth += 65536 * 40;  // hnswlib's fixed lock table
      }
    }
    const std::size_t projected =
        memory_bytes_locked() + index_growth + record_bytes - std::min(record_bytes, released_bytes);
    if (projected > options_.memory_limit_bytes) {
      return Status::ResourceExhausted(
          "memory_limit_bytes: the upsert would bring namespace '" + name_ + "' to about " +
          std::to_string(projected) + " bytes, over its quota of " +
          std::to_string(options_.memory_limit_bytes));
    }
  }
  if (next_slot_ + new_ids > kMaxSlots) {
    return Status::ResourceExhausted("records: a namespace holds at most 4,294,967,280 slots");
  }
  return Status::Ok();
}

Slot NamespaceState::allocate_slot() {
  if (!free_slots_.empty()) {
    const Slot s = free_slots_.back();
    free_slots_.pop_back();
    return s;
  }
  return static_cast<Slot>(next_slot_++);
}

Status NamespaceState::apply(std::vector<Input>& batch, bool report_progress) {
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return not_found();
  std::size_t new_ids = 0;  // ids of the batch not yet in the namespace
  if (Status s = check_quota(batch, new_ids); !s.ok()) return s;
  // An HNSW graph that is mostly tombstones is slow to insert into (hnswlib's construction
  // search walks tombstones without counting them), so it is rebuilt from the live records
  // first; that also gives the tombstones' memory back.
  const std::size_t live = live_.load(std::memory_order_relaxed);
  if (options_.index == IndexKind::kHnsw && free_slots_.size() >= 64 &&
      free_slots_.size() > live) {
    context_->log(LogLevel::kDebug, "namespace '" + name_ + "': compacting " +
                                        std::to_string(free_slots_.size()) + " tombstones before an upsert");
    if (Status s = compact_locked(); !s.ok()) return s;
  }
  // Room for the whole batch at once: growing chunk by chunk would overshoot the batch by up
  // to the growth step.
  if (new_ids > free_slots_.size()) {
    const std::size_t slots = next_slot_ + (new_ids - free_slots_.size());
    if (slots > index_->capacity()) {
      std::unique_lock<RwLock> exclusive(mutex_);
      try {
        index_->reserve(slots);
      } catch (const std::exception& e) {
        return from_exception(e);
      }
    }
  }

  Undo undo;
  const std::size_t chunk = chunk_size();
  for (std::size_t begin = 0; begin < batch.size(); begin += chunk) {
    const std::size_t end = std::min(batch.size(), begin + chunk);
    {
      std::unique_lock<RwLock> exclusive(mutex_);
      Status s = apply_chunk(batch, begin, end, undo);
      if (!s.ok()) {
        Status r = rollback(undo);
        return r.ok() ? s : r;
      }
      dirty_ = true;
    }
    if (report_progress) context_->progress("upsert", end, batch.size());
  }
  return Status::Ok();
}

Status NamespaceState::apply_chunk(std::vector<Input>& batch, std::size_t begin, std::size_t end,
                                   Undo& undo) {
  const std::size_t dim = options_.dimension;
  const bool cosine = options_.metric == Metric::kCosine;
  try {
    std::vector<VectorWrite> writes;
    writes.reserve(end - begin);
    std::vector<float> unit(cosine ? (end - begin) * dim : 0);
    undo.inserted.reserve(undo.inserted.size() + (end - begin));
    for (std::size_t i = begin; i < end; ++i) {
      Input& in = batch[i];
      Slot slot;
      if (auto existing = ids_.find(in.id)) {
        slot = *existing;
        const float* old = index_->vector(slot);
        undo.updated.push_back({slot, std::vector<float>(old, old + dim),
                                cosine ? norms_[slot] : 0.0f, metadata_.get(slot)});
      } else {
        slot = allocate_slot();
        try {
          ids_.insert(in.id, slot);
        } catch (...) {
          free_slots_.push_back(slot);
          throw;
        }
        undo.inserted.push_back(slot);
        live_.fetch_add(1, std::memory_order_release);
      }
      metadata_.set(slot, std::move(in.metadata));
      const float* v = in.vector;
      if (cosine) {
        float* u = unit.data() + (i - begin) * dim;
        if (slot >= norms_.size()) norms_.resize(std::max<std::size_t>(slot + 1, next_slot_));
        norms_[slot] = normalize_into(v, dim, u);
        v = u;
      }
      writes.push_back({slot, v});
    }
    index_->write(writes, context_->threads);
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  return Status::Ok();
}

Status NamespaceState::rollback(Undo& undo) {
  try {
    for (auto it = undo.inserted.rbegin(); it != undo.inserted.rend(); ++it) {
      const Slot slot = *it;
      ids_.erase(slot);
      metadata_.clear(slot);
      live_.fetch_sub(1, std::memory_order_release);
      if (slot < index_->slot_count()) {
        if (!index_->is_removed(slot)) index_->remove(slot);
        free_slots_.push_back(slot);
      }
    }
    // Slots handed out but never stored in the index are simply not allocated.
    free_slots_.erase(std::remove_if(free_slots_.begin(), free_slots_.end(),
                                     [&](Slot s) { return s >= index_->slot_count(); }),
                      free_slots_.end());
    next_slot_ = index_->slot_count();
    for (auto it = undo.updated.rbegin(); it != undo.updated.rend(); ++it) {
      metadata_.set(it->slot, std::move(it->metadata));
      if (options_.metric == Metric::kCosine) norms_[it->slot] = it->norm;
      const VectorWrite w{it->slot, it->vector.data()};
      index_->write(std::span<const VectorWrite>(&w, 1), 1);
    }
  } catch (const std::exception& e) {
    return Status::Internal("namespace '" + name_ +
                            "': rolling back a failed batch failed too: " + e.what());
  }
  return Status::Ok();
}

Status NamespaceState::update_metadata(std::string_view id, Metadata metadata) {
  if (Status s = check_id(id, "id"); !s.ok()) return s;
  if (Status s = normalize_metadata(metadata, "metadata"); !s.ok()) return s;
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return not_found();
  const auto slot = ids_.find(id);
  if (!slot) return Status::NotFound("id: no record with id '" + std::string(id) + "'");
  if (options_.memory_limit_bytes != 0) {
    const std::size_t old_bytes = json_heap_bytes(metadata_.get(*slot));
    const std::size_t new_bytes = json_heap_bytes(metadata);
    const std::size_t projected = memory_bytes_locked() + new_bytes - std::min(new_bytes, old_bytes);
    if (new_bytes > old_bytes && projected > options_.memory_limit_bytes) {
      return Status::ResourceExhausted(
          "memory_limit_bytes: the new metadata would bring namespace '" + name_ +
          "' to about " + std::to_string(projected) + " bytes, over its quota of " +
          std::to_string(options_.memory_limit_bytes));
    }
  }
  std::unique_lock<RwLock> exclusive(mutex_);
  try {
    metadata_.set(*slot, std::move(metadata));
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  dirty_ = true;
  return Status::Ok();
}

Result<bool> NamespaceState::remove(std::string_view id) {
  if (Status s = check_id(id, "id"); !s.ok()) return s;
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return not_found();
  const auto slot = ids_.find(id);
  if (!slot) return false;
  try {
    free_slots_.reserve(free_slots_.size() + 1);
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  std::unique_lock<RwLock> exclusive(mutex_);
  index_->remove(*slot);
  ids_.erase(*slot);
  metadata_.clear(*slot);
  free_slots_.push_back(*slot);
  live_.fetch_sub(1, std::memory_order_release);
  dirty_ = true;
  return true;
}

std::vector<float> NamespaceState::stored_vector(Slot slot) const {
  const std::size_t dim = options_.dimension;
  const float* v = index_->vector(slot);
  std::vector<float> out(v, v + dim);
  if (options_.metric == Metric::kCosine) {
    const float norm = norms_[slot];
    for (float& x : out) x *= norm;
  }
  return out;
}

Result<Record> NamespaceState::get(std::string_view id) const {
  if (Status s = check_id(id, "id"); !s.ok()) return s;
  std::shared_lock<RwLock> lock(mutex_);
  if (dropped()) return not_found();
  const auto slot = ids_.find(id);
  if (!slot) return Status::NotFound("id: no record with id '" + std::string(id) + "'");
  try {
    return Record{std::string(id), stored_vector(*slot), metadata_.get(*slot)};
  } catch (const std::exception& e) {
    return from_exception(e);
  }
}

bool NamespaceState::contains(std::string_view id) const {
  std::shared_lock<RwLock> lock(mutex_);
  return !dropped() && ids_.find(id).has_value();
}

void NamespaceState::search_locked(const float* query, const SearchOptions& o,
                                   std::vector<Neighbor>& found, std::vector<Hit>& hits) const {
  const std::size_t dim = options_.dimension;
  thread_local std::vector<float> unit;  // no allocation per query
  if (options_.metric == Metric::kCosine) {
    unit.resize(dim);
    normalize_into(query, dim, unit.data());
    query = unit.data();
  }
  const std::size_t ef = o.ef != 0 ? o.ef : options_.hnsw.ef_search;
  index_->search(query, o.k, std::max(ef, o.k), nullptr, found);
  const std::size_t want = std::min(o.k, live_.load(std::memory_order_relaxed));
  if (found.size() < want) {
    // The walk came up short (a region cut off by tombstones): finish exactly.
    exact_search(*index_, options_.metric, dim, query, o.k, nullptr, found);
  }
  hits.clear();
  hits.reserve(found.size());
  for (const Neighbor& n : found) {
    if (o.max_distance && n.distance > *o.max_distance) break;
    Hit hit;
    hit.id = ids_.id(n.slot);
    hit.distance = n.distance;
    if (o.include_metadata) hit.metadata = metadata_.get(n.slot);
    if (o.include_vectors) hit.vector = stored_vector(n.slot);
    hits.push_back(std::move(hit));
  }
}

Result<std::vector<Hit>> NamespaceState::search(std::span<const float> query,
                                                const SearchOptions& o) const {
  if (Status s = check_search_options(o); !s.ok()) return s;
  if (Status s = check_vector(query, options_, "query"); !s.ok()) return s;
  try {
    std::vector<Neighbor> found;
    std::vector<Hit> hits;
    std::shared_lock<RwLock> lock(mutex_);
    if (dropped()) return not_found();
    search_locked(query.data(), o, found, hits);
    return hits;
  } catch (const std::exception& e) {
    return from_exception(e);
  }
}

Result<std::vector<std::vector<Hit>>> NamespaceState::search_batch(std::span<const float> queries,
                                                                   const SearchOptions& o) const {
  if (Status s = check_search_options(o); !s.ok()) return s;
  const std::size_t dim = options_.dimension;
  if (queries.size() % dim != 0) {
    return Status::InvalidArgument("queries: " + std::to_string(queries.size()) +
                                   " floats is not a multiple of the dimension " +
                                   std::to_string(dim));
  }
  const std::size_t n = queries.size() / dim;
  for (std::size_t i = 0; i < n; ++i) {
    if (Status s = check_vector(queries.subspan(i * dim, dim), options_, indexed("queries", i));
        !s.ok()) {
      return s;
    }
  }
  try {
    std::vector<std::vector<Hit>> results(n);
    if (dropped()) return not_found();
    parallel_for(n, context_->threads, 8, [&](std::size_t i) {
      thread_local std::vector<Neighbor> found;
      std::shared_lock<RwLock> lock(mutex_);
      if (dropped()) return;
      search_locked(queries.data() + i * dim, o, found, results[i]);
    });
    if (dropped()) return not_found();
    return results;
  } catch (const std::exception& e) {
    return from_exception(e);
  }
}

Status NamespaceState::set_ef_search(std::size_t ef) {
  if (Status s = check_ef(ef, "ef_search"); !s.ok()) return s;
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return not_found();
  std::unique_lock<RwLock> exclusive(mutex_);
  if (options_.hnsw.ef_search != ef) dirty_ = true;
  options_.hnsw.ef_search = ef;
  return Status::Ok();
}

Status NamespaceState::compact() {
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return not_found();
  return compact_locked();
}

Status NamespaceState::compact_locked() {
  try {
    // Build the new index while searches go on against the old one.
    std::shared_lock<RwLock> shared(mutex_);
    const std::size_t slots = index_->slot_count();
    std::vector<Slot> new_slot(slots, 0);
    std::vector<bool> is_live(slots, false);
    std::vector<VectorWrite> writes;
    writes.reserve(live_.load(std::memory_order_relaxed));
    for (std::size_t s = 0; s < slots; ++s) {
      const auto slot = static_cast<Slot>(s);
      if (index_->is_removed(slot)) continue;
      new_slot[s] = static_cast<Slot>(writes.size());
      is_live[s] = true;
      writes.push_back({new_slot[s], index_->vector(slot)});
    }
    auto fresh = make_index(options_);
    fresh->reserve(writes.size());
    const std::size_t chunk = std::max<std::size_t>(chunk_size() * 16, 4096);
    for (std::size_t begin = 0; begin < writes.size(); begin += chunk) {
      const std::size_t end = std::min(writes.size(), begin + chunk);
      fresh->write(std::span<const VectorWrite>(writes).subspan(begin, end - begin),
                   context_->threads);
      context_->progress("compact", end, writes.size());
    }
    if (writes.empty()) context_->progress("compact", 0, 0);
    std::vector<float> norms;
    if (options_.metric == Metric::kCosine) {
      norms.resize(writes.size());
      for (std::size_t s = 0; s < slots; ++s) {
        if (is_live[s]) norms[new_slot[s]] = norms_[s];
      }
    }
    shared.unlock();

    std::unique_lock<RwLock> exclusive(mutex_);
    ids_.renumber(new_slot, writes.size());
    metadata_.renumber(new_slot, is_live, writes.size());
    norms_.swap(norms);
    index_.swap(fresh);
    free_slots_.clear();
    free_slots_.shrink_to_fit();
    next_slot_ = writes.size();
    dirty_ = true;
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  return Status::Ok();
}

std::size_t NamespaceState::memory_bytes_locked() const noexcept {
  return sizeof(*this) + name_.capacity() + index_->memory_bytes() + ids_.memory_bytes() +
         metadata_.memory_bytes() + norms_.capacity() * sizeof(float) +
         free_slots_.capacity() * sizeof(Slot);
}

NamespaceStats NamespaceState::stats() const {
  NamespaceStats st;
  st.name = name_;
  st.dimension = options_.dimension;
  st.metric = options_.metric;
  st.index = options_.index;
  std::shared_lock<RwLock> lock(mutex_);
  if (dropped()) return st;
  st.count = live_.load(std::memory_order_relaxed);
  st.deleted = index_->slot_count() - st.count;
  st.vector_bytes = index_->vector_bytes();
  st.graph_bytes = index_->graph_bytes();
  st.metadata_bytes = metadata_.bytes();
  st.memory_bytes = memory_bytes_locked();
  st.loaded = true;
  st.dirty = dirty_;
  return st;
}

void NamespaceState::drop() {
  std::unique_lock<std::mutex> writer(write_mutex_);
  std::unique_lock<RwLock> exclusive(mutex_);
  dropped_.store(true, std::memory_order_release);
  live_.store(0, std::memory_order_release);
  index_ = make_index(options_);
  std::vector<float>().swap(norms_);
  std::vector<Slot>().swap(free_slots_);
  next_slot_ = 0;
  metadata_ = MetadataStore();
  ids_.renumber({}, 0);
}

}  // namespace hnswstore::detail
