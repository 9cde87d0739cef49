#include "namespace_state.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "filter_access.hpp"
#include "filter_node.hpp"
#include "hnswstore/version.hpp"
#include "parallel.hpp"
#include "persistence.hpp"
#include "validation.hpp"

namespace hnswstore::detail {

// ── StoreContext ─────────────────────────────────────────────────────────────────────────────

StoreContext::StoreContext(StoreOptions o, std::filesystem::path directory)
    : options(std::move(o)), threads(resolve_threads(options.threads)), dir(std::move(directory)) {
  if (!dir.empty()) env = options.env ? options.env : Env::posix();
  // An in-memory store cannot unload (nothing to load again from): the budget needs a directory.
  if (!dir.empty() && options.memory_budget_bytes > 0) {
    budget = std::make_shared<MemoryBudget>(options.memory_budget_bytes);
  }
}

// The user's callbacks run in the middle of the store's work (under its locks, inside
// destructors): whatever they throw is caught here and ignored, so that it can neither
// interrupt a write half-way nor escape a destructor (std::terminate).
void StoreContext::log(LogLevel level, std::string_view message) const noexcept {
  if (options.logger) {
    try {
      options.logger(level, message);
    } catch (...) {
    }
    return;
  }
  if (level < LogLevel::kWarning) return;
  std::fprintf(stderr, "hnswstore %s: %.*s\n", level == LogLevel::kWarning ? "warning" : "error",
               static_cast<int>(message.size()), message.data());
}

void StoreContext::progress(std::string_view stage, std::size_t done,
                            std::size_t total) const noexcept {
  if (!options.progress) return;
  try {
    options.progress(stage, done, total);
  } catch (...) {
  }
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

// The index a namespace of `records` records is served with: an HNSW namespace below its graph
// threshold is scanned exactly (no hnswlib index, whose lock table alone is 2.5 MiB).
std::unique_ptr<VectorIndex> make_index(const NamespaceOptions& o, std::size_t records) {
  const bool graph = o.index == IndexKind::kHnsw && records >= graph_threshold(o);
  return graph ? make_hnsw_index(o) : make_flat_index(o);
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
      created_(utc_now()),
      index_(make_index(options_, 0)) {
  dirty_ = true;
}

NamespaceState::NamespaceState(NamespaceConfig config, std::shared_ptr<const StoreContext> context)
    : name_(config.name),
      options_(config.options),
      context_(std::move(context)),
      created_(config.created),
      index_(make_index(options_, 0)) {
  loaded_.store(false, std::memory_order_relaxed);
  live_.store(static_cast<std::size_t>(config.count), std::memory_order_relaxed);
  last_generation_ = config.generation;
  disk_ = std::move(config);
}

std::size_t NamespaceState::size() const noexcept {
  return dropped() ? 0 : live_.load(std::memory_order_acquire);
}

Status NamespaceState::not_found() const {
  return Status::NotFound("namespace '" + name_ + "' was dropped");
}

Status NamespaceState::closed() const {
  return Status::NotSupported("namespace '" + name_ + "': its store was closed");
}

Status NamespaceState::writable() const {
  if (context_->options.read_only) {
    return Status::NotSupported("namespace '" + name_ + "': the store was opened read_only");
  }
  return Status::Ok();
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
    if (Status s =
            check_input(r.id, r.vector, md, base + ".id", base + ".vector", base + ".metadata");
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
                                   " objects (one per id), got " + std::to_string(metadata.size()));
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
  // The unit of work of remove(Filter)'s exclusive sections (a removal is cheap) and of a
  // rebuild's progress reports; upserts size their chunks by time instead (apply()).
  if (!index_->has_graph()) return 16384;
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
    return Status::ResourceExhausted("max_elements: the upsert would bring namespace '" + name_ +
                                     "' to " + std::to_string(live + new_ids) +
                                     " records, over its quota of " +
                                     std::to_string(options_.max_elements));
  }
  if (options_.memory_limit_bytes != 0) {
    const std::size_t reused = std::min(new_ids, free_slots_.size());
    // Reaching the graph threshold replaces the flat index by a graph of every live record
    // (apply() builds it first; tombstones are dropped).
    const bool promote = needs_graph(new_ids);
    const bool graph = promote || index_->has_graph();
    const std::size_t slots_needed = promote ? live + new_ids : next_slot_ + (new_ids - reused);
    const std::size_t per_slot =
        options_.dimension * sizeof(float) +
        (graph ? (2 * options_.hnsw.m + 1) * 4 + 8 + sizeof(void*) + sizeof(int) + 40 + 2 + 4
               : 1);
    std::size_t index_growth = 0;
    std::size_t index_released = 0;
    if (promote) {
      // A scratch graph of the capacity apply() reserves, and hnswlib's fixed lock table.
      index_growth = grown_capacity(live, slots_needed) * per_slot + 65536 * 40;
      index_released = index_->memory_bytes();
    } else if (slots_needed > index_->capacity()) {
      // Size a scratch index of the capacity the growth policy would pick.
      const std::size_t cap = grown_capacity(index_->capacity(), slots_needed);
      index_growth = (cap - index_->capacity()) * per_slot;
    }
    // A new HNSW node draws its level at random: P(level >= l) = m^-l, each upper level costs
    // one link list. Projected: twice the expected upper bytes per new node (every record is new
    // to a graph being built), plus room for one node of level 4 (exceeding that has a
    // probability of about m^-5 per insert).
    const std::size_t new_nodes = promote ? live + new_ids : new_ids;
    if (graph && new_nodes > 0) {
      const std::size_t list = options_.hnsw.m * 4 + 4;
      index_growth +=
          2 * new_nodes * list / std::max<std::size_t>(options_.hnsw.m - 1, 1) + 4 * list;
    }
    // The slot-indexed tables grow geometrically too.
    std::size_t table_growth =
        ids_.growth_bytes(slots_needed, live + new_ids) + metadata_.growth_bytes(slots_needed) +
        metadata_.index_growth_bytes(
            batch, [](const Input& in) -> const Metadata& { return in.metadata; }, slots_needed);
    if (options_.metric == Metric::kCosine && slots_needed > norms_.capacity()) {
      table_growth +=
          (std::max(slots_needed, 2 * norms_.capacity()) - norms_.capacity()) * sizeof(float);
    }
    const std::size_t projected = memory_bytes_locked() - index_released + index_growth +
                                  table_growth + record_bytes -
                                  std::min(record_bytes, released_bytes);
    if (projected > options_.memory_limit_bytes) {
      return Status::ResourceExhausted("memory_limit_bytes: the upsert would bring namespace '" +
                                       name_ + "' to about " + std::to_string(projected) +
                                       " bytes, over its quota of " +
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
  if (Status s = writable(); !s.ok()) return s;
  std::unique_lock<std::mutex> writer;
  if (Status s = lock_writer(writer); !s.ok()) return s;
  std::size_t new_ids = 0;  // ids of the batch not yet in the namespace
  if (Status s = check_quota(batch, new_ids); !s.ok()) return s;
  // An HNSW graph that is mostly tombstones is slow to insert into (hnswlib's construction
  // search walks tombstones without counting them), so it is rebuilt from the live records
  // first; that also gives the tombstones' memory back.
  const std::size_t live = live_.load(std::memory_order_relaxed);
  if (needs_graph(new_ids)) {
    // The batch brings a scanned namespace to its graph threshold: the graph of the records it
    // has is built first (searches go on against the scan meanwhile), then the batch goes in.
    context_->log(LogLevel::kDebug, "namespace '" + name_ + "': " + std::to_string(live) + " + " +
                                        std::to_string(new_ids) +
                                        " records reach the graph threshold; building the graph");
    if (Status s = rebuild_locked(true, "graph"); !s.ok()) return s;
  } else if (index_->has_graph() && free_slots_.size() >= 64 && free_slots_.size() > live) {
    context_->log(LogLevel::kDebug, "namespace '" + name_ + "': compacting " +
                                        std::to_string(free_slots_.size()) +
                                        " tombstones before an upsert");
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
  // Searches wait while a chunk is written: each chunk is sized from the time the previous ones
  // took per record so that it holds the lock for about kExclusiveTarget while searches wait,
  // kUncontendedTarget while none does (an HNSW insert slows down as the graph grows; a flat
  // write is a copy).
  using Clock = std::chrono::steady_clock;
  std::size_t chunk = index_->has_graph() ? 8 * context_->threads : 1024;
  for (std::size_t begin = 0; begin < batch.size();) {
    const std::size_t end = std::min(batch.size(), begin + chunk);
    const auto start = Clock::now();
    {
      std::unique_lock<RwLock> exclusive(mutex_);
      Status s = apply_chunk(batch, begin, end, undo);
      if (!s.ok()) {
        Status r = rollback(undo);
        return r.ok() ? s : r;
      }
      dirty_ = true;
    }
    // Searches that had to wait for this chunk make the next one short again.
    const bool contended = readers_waited_.exchange(0, std::memory_order_relaxed) != 0;
    chunk = next_chunk(chunk, end - begin, Clock::now() - start,
                       contended ? kExclusiveTarget : kUncontendedTarget);
    begin = end;
    if (report_progress) context_->progress("upsert", end, batch.size());
  }
  return Status::Ok();
}

std::size_t NamespaceState::next_chunk(std::size_t chunk, std::size_t written,
                                       std::chrono::steady_clock::duration took,
                                       std::chrono::microseconds target_time) noexcept {
  const double seconds = std::chrono::duration<double>(took).count();
  if (written < chunk || seconds <= 0.0) return chunk;  // the last chunk, or too fast to time
  const double per_record = seconds / static_cast<double>(written);
  const double target = std::chrono::duration<double>(target_time).count();
  const auto fit = static_cast<std::size_t>(target / per_record);
  // At most double per step (one fast chunk is no proof), and within [16, 65536]: a parallel
  // insert needs a few records per thread.
  return std::clamp<std::size_t>(std::min(fit, 2 * chunk), 16, 65536);
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
  if (Status s = writable(); !s.ok()) return s;
  std::unique_lock<std::mutex> writer;
  if (Status s = lock_writer(writer); !s.ok()) return s;
  const auto slot = ids_.find(id);
  if (!slot) return Status::NotFound("id: no record with id '" + std::string(id) + "'");
  if (options_.memory_limit_bytes != 0) {
    const std::size_t old_bytes = json_heap_bytes(metadata_.get(*slot));
    const std::size_t new_bytes = json_heap_bytes(metadata);
    const Metadata* const replacement[] = {&metadata};
    const std::size_t index_growth = metadata_.index_growth_bytes(
        replacement, [](const Metadata* m) -> const Metadata& { return *m; },
        index_->slot_count());
    const std::size_t now = memory_bytes_locked();
    const std::size_t projected = now + new_bytes - std::min(new_bytes, old_bytes) + index_growth;
    if (projected > options_.memory_limit_bytes && new_bytes + index_growth > old_bytes) {
      return Status::ResourceExhausted(
          "memory_limit_bytes: the new metadata would bring namespace '" + name_ + "' to about " +
          std::to_string(projected) + " bytes, over its quota of " +
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
  if (Status s = writable(); !s.ok()) return s;
  std::unique_lock<std::mutex> writer;
  if (Status s = lock_writer(writer); !s.ok()) return s;
  const auto slot = ids_.find(id);
  if (!slot) return false;
  // Exclusive before the reserve: stats() reads free_slots_'s capacity under the shared lock.
  std::unique_lock<RwLock> exclusive(mutex_);
  try {
    free_slots_.reserve(free_slots_.size() + 1);  // the only allocation: nothing changed yet
  } catch (const std::exception& e) {
    return from_exception(e);
  }
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
  std::shared_lock<RwLock> lock;
  if (Status s = lock_loaded(lock); !s.ok()) return s;
  const auto slot = ids_.find(id);
  if (!slot) return Status::NotFound("id: no record with id '" + std::string(id) + "'");
  try {
    return Record{std::string(id), stored_vector(*slot), metadata_.get(*slot)};
  } catch (const std::exception& e) {
    return from_exception(e);
  }
}

bool NamespaceState::contains(std::string_view id) const {
  std::shared_lock<RwLock> lock;
  if (!lock_loaded(lock).ok()) return false;
  return ids_.find(id).has_value();
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
  if (!o.filter.matches_all()) {
    filtered_search(query, o, found);
  } else {
    const std::size_t ef = o.ef != 0 ? o.ef : options_.hnsw.ef_search;
    index_->search(query, o.k, std::max(ef, o.k), nullptr, found);
    const std::size_t want = std::min(o.k, live_.load(std::memory_order_relaxed));
    if (found.size() < want) {
      // The walk came up short (a region cut off by tombstones): finish exactly.
      exact_search(*index_, options_.metric, dim, query, o.k, nullptr, found);
    }
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

namespace {

// What a filtered search tests per slot: the payload index's bitmap (when it answered part of
// the filter), then the conditions it could not answer, on the record's metadata.
struct FilterContext {
  const SlotBits* bits;
  const std::vector<const FilterNode*>* residual;
  const MetadataStore* metadata;
};

bool accept_slot(const void* p, Slot slot) {
  const auto& c = *static_cast<const FilterContext*>(p);
  if (c.bits != nullptr && !c.bits->test(slot)) return false;
  if (c.residual->empty()) return true;
  const Metadata& m = c.metadata->get(slot);
  for (const FilterNode* n : *c.residual) {
    if (!node_matches(*n, m)) return false;
  }
  return true;
}

// The cost model of adaptive filtered search (docs/filters.md, "Adaptive execution"). With a
// selectivity s = m / n (m matches among n live records), a filtered walk keeps sqrt(s) * ef
// matches in its beam (at least k) and so explores about max(ef / sqrt(s), k / s) nodes; scoring
// the matches exactly computes m distances. One node of a walk costs as much as about
// walk_node_cost(dimension) exact distances: its fixed work per node (heaps, visited marks,
// scattered reads of links) weighs more the cheaper a distance is. Fitted with
// `compare --filtered` (forced-walk and forced-exact rows): 11 at 784 dimensions
// (Fashion-MNIST), 77 at 128 (embedding-128), about 10,000 / dimension.
double walk_node_cost(std::size_t dimension) {
  return std::clamp(10000.0 / static_cast<double>(dimension), 4.0, 100.0);
}

// Live slots sampled to estimate the selectivity of a filter the payload index cannot answer.
constexpr std::size_t kSelectivitySample = 512;

}  // namespace

void NamespaceState::filtered_search(const float* query, const SearchOptions& o,
                                     std::vector<Neighbor>& found) const {
  found.clear();
  const std::size_t dim = options_.dimension;
  const std::size_t k = o.k;
  const auto live = static_cast<double>(live_.load(std::memory_order_relaxed));
  if (live == 0) return;
  const std::size_t slots = index_->slot_count();
  thread_local FilterPlan plan;  // no allocation per query once warm
  thread_local std::vector<Slot> candidates;
  metadata_.index().plan(*FilterAccess::node(o.filter), slots, plan);
  FilterContext ctx{plan.indexed ? &plan.bits : nullptr, &plan.residual, &metadata_};
  SlotFilter filter{accept_slot, &ctx};
  const SlotFilter* residual_filter = plan.residual.empty() ? nullptr : &filter;

  auto score_candidates = [&] {
    candidates.clear();
    plan.bits.for_each([&](Slot s) { candidates.push_back(s); });
    ctx.bits = nullptr;  // every candidate is in the bitmap
    exact_search_slots(*index_, options_.metric, dim, query, k, candidates, residual_filter, found);
  };
  auto score_all = [&] { exact_search(*index_, options_.metric, dim, query, k, &filter, found); };

  if (plan.indexed && plan.count == 0) return;
  if (!index_->has_graph()) {
    plan.indexed ? score_candidates() : score_all();
    return;
  }
  const std::size_t ef = std::max(o.ef != 0 ? o.ef : options_.hnsw.ef_search, k);
  double matches;  // counted by the payload index (an upper bound with residual conditions)
  if (plan.indexed) {
    matches = static_cast<double>(plan.count);
  } else {
    // Nothing indexed: estimate from a sample of live slots.
    std::size_t sampled = 0, hits = 0;
    const std::size_t step = std::max<std::size_t>(1, slots / kSelectivitySample);
    for (std::size_t s = 0; s < slots && sampled < kSelectivitySample; s += step) {
      if (!metadata_.index().live(static_cast<Slot>(s))) continue;
      ++sampled;
      hits += accept_slot(&ctx, static_cast<Slot>(s)) ? 1 : 0;
    }
    if (hits == 0) {  // rare: a scan that tests the filter only near the top k is cheapest
      score_all();
      return;
    }
    matches = live * static_cast<double>(hits) / static_cast<double>(sampled);
  }
  const double selectivity = std::min(1.0, matches / live);
  const double beam = std::sqrt(selectivity);  // share of ef the walk keeps as matches
  const double walk_cost =
      walk_node_cost(dim) *
      std::max(beam * static_cast<double>(ef), static_cast<double>(k)) / selectivity;
  const double exact_work = plan.indexed ? matches : live;
  const bool exact = o.exact_threshold != 0
                         ? plan.indexed && matches <= static_cast<double>(o.exact_threshold)
                         : exact_work <= walk_cost;
  if (exact) {
    plan.indexed ? score_candidates() : score_all();
    return;
  }
  // Walk the graph keeping matches only, sqrt(s) * ef of them: with ef * s (as many nodes explored
  // as an unfiltered search) the few matches in the beam stop the walk early too often (recall@10
  // 0.92 instead of 0.98 at 10 % on embedding-128); with ef (hnswlib 0.8's way) the walk explores
  // ef / s nodes, twice the work at 50 %. sqrt(s): 0.99 at 10 %, 1.0-1.4x the work at 50 %.
  const auto ef_walk = std::max<std::size_t>(
      k, static_cast<std::size_t>(std::ceil(static_cast<double>(ef) * beam)));
  // In automatic mode the walk gets the exact plan's cost as its budget: a walk that needs more
  // (the matches lie far from the query, which the model cannot see) gives up and the matches
  // are scored exactly, so that a search costs at most about twice the cheaper plan.
  if (o.exact_threshold == 0) {
    filter.max_expansions =
        static_cast<std::size_t>(std::ceil(exact_work / walk_node_cost(dim))) + 1;
  }
  index_->search(query, k, ef_walk, &filter, found);
  if (filter.gave_up) {
    filter.max_expansions = 0;
    plan.indexed ? score_candidates() : score_all();
    return;
  }
  const std::size_t want = plan.exact() ? std::min(k, plan.count) : k;
  if (found.size() >= want) return;
  // The walk came up short (a region of matches it could not reach): finish exactly.
  plan.indexed ? score_candidates() : score_all();
}

void NamespaceState::matching_slots(const Filter& filter, std::vector<Slot>& out) const {
  out.clear();
  const std::size_t slots = index_->slot_count();
  const PayloadIndex& index = metadata_.index();
  if (filter.matches_all()) {
    for (std::size_t s = 0; s < slots; ++s) {
      if (index.live(static_cast<Slot>(s))) out.push_back(static_cast<Slot>(s));
    }
    return;
  }
  FilterPlan plan;
  index.plan(*FilterAccess::node(filter), slots, plan);
  FilterContext ctx{nullptr, &plan.residual, &metadata_};
  if (plan.indexed) {
    plan.bits.for_each([&](Slot s) {
      if (accept_slot(&ctx, s)) out.push_back(s);
    });
    return;
  }
  for (std::size_t s = 0; s < slots; ++s) {
    const auto slot = static_cast<Slot>(s);
    if (index.live(slot) && accept_slot(&ctx, slot)) out.push_back(slot);
  }
}

Result<std::size_t> NamespaceState::remove(const Filter& filter) {
  if (!filter.status().ok()) return filter.status();
  if (Status s = writable(); !s.ok()) return s;
  std::unique_lock<std::mutex> writer;
  if (Status s = lock_writer(writer); !s.ok()) return s;
  std::vector<Slot> doomed;
  try {
    matching_slots(filter, doomed);  // only writers change what it reads, and we are the writer
    // Exclusive for the reserve: stats() reads free_slots_'s capacity under the shared lock.
    std::unique_lock<RwLock> exclusive(mutex_);
    free_slots_.reserve(free_slots_.size() + doomed.size());
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  // Exclusive in chunks, so that searches keep flowing through a large delete.
  const std::size_t chunk = chunk_size();
  for (std::size_t begin = 0; begin < doomed.size(); begin += chunk) {
    const std::size_t end = std::min(doomed.size(), begin + chunk);
    std::unique_lock<RwLock> exclusive(mutex_);
    for (std::size_t i = begin; i < end; ++i) {
      const Slot slot = doomed[i];
      index_->remove(slot);
      ids_.erase(slot);
      metadata_.clear(slot);
      free_slots_.push_back(slot);
      live_.fetch_sub(1, std::memory_order_release);
    }
    dirty_ = true;
  }
  return doomed.size();
}

Result<std::vector<Record>> NamespaceState::scan(const Filter& filter, std::size_t limit,
                                                 std::size_t offset) const {
  if (!filter.status().ok()) return filter.status();
  try {
    std::shared_lock<RwLock> lock;
    if (Status s = lock_loaded(lock); !s.ok()) return s;
    std::vector<Slot> slots;
    matching_slots(filter, slots);
    std::vector<std::pair<std::string_view, Slot>> order;
    order.reserve(slots.size());
    for (const Slot s : slots) order.emplace_back(ids_.id(s), s);
    const std::size_t first = std::min(offset, order.size());
    const std::size_t last = first + std::min(limit, order.size() - first);
    // Only the page is sorted: everything before it is split off in linear time, so paging
    // through n records costs O(n) per page, not O(n log n).
    const auto page_begin = order.begin() + static_cast<std::ptrdiff_t>(first);
    if (first > 0 && first < order.size()) std::nth_element(order.begin(), page_begin, order.end());
    std::partial_sort(page_begin, order.begin() + static_cast<std::ptrdiff_t>(last), order.end());
    std::vector<Record> records;
    records.reserve(last - first);
    for (std::size_t i = first; i < last; ++i) {
      const Slot s = order[i].second;
      records.push_back(Record{std::string(order[i].first), stored_vector(s), metadata_.get(s)});
    }
    return records;
  } catch (const std::exception& e) {
    return from_exception(e);
  }
}

Result<std::vector<Hit>> NamespaceState::search(std::span<const float> query,
                                                const SearchOptions& o) const {
  if (Status s = check_search_options(o); !s.ok()) return s;
  if (Status s = check_vector(query, options_, "query"); !s.ok()) return s;
  try {
    thread_local std::vector<Neighbor> found;  // no allocation per query
    std::vector<Hit> hits;
    std::shared_lock<RwLock> lock;
    if (Status s = lock_loaded(lock); !s.ok()) return s;
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
  if (Status s = ensure_loaded(); !s.ok()) return s;
  for (std::size_t i = 0; i < n; ++i) {
    if (Status s = check_vector(queries.subspan(i * dim, dim), options_, indexed("queries", i));
        !s.ok()) {
      return s;
    }
  }
  try {
    std::vector<std::vector<Hit>> results(n);
    std::mutex error_mutex;
    Status error;  // the first query's that could not lock a loaded namespace
    parallel_for(n, context_->threads, 8, [&](std::size_t i) {
      thread_local std::vector<Neighbor> found;
      std::shared_lock<RwLock> lock;
      if (Status s = lock_loaded(lock); !s.ok()) {
        std::lock_guard<std::mutex> guard(error_mutex);
        if (error.ok()) error = s;
        return;
      }
      search_locked(queries.data() + i * dim, o, found, results[i]);
    });
    if (!error.ok()) return error;
    return results;
  } catch (const std::exception& e) {
    return from_exception(e);
  }
}

Status NamespaceState::set_ef_search(std::size_t ef) {
  if (Status s = check_ef(ef, "ef_search"); !s.ok()) return s;
  std::unique_lock<std::mutex> writer;
  if (Status s = lock_writer(writer); !s.ok()) return s;
  std::unique_lock<RwLock> exclusive(mutex_);
  if (options_.hnsw.ef_search != ef) dirty_ = true;
  std::lock_guard<std::mutex> options(options_mutex_);
  options_.hnsw.ef_search = ef;
  return Status::Ok();
}

Status NamespaceState::compact() {
  if (Status s = writable(); !s.ok()) return s;
  std::unique_lock<std::mutex> writer;
  if (Status s = lock_writer(writer); !s.ok()) return s;
  return compact_locked();
}

bool NamespaceState::needs_graph(std::size_t new_ids) const noexcept {
  return options_.index == IndexKind::kHnsw && !index_->has_graph() &&
         live_.load(std::memory_order_relaxed) + new_ids >= graph_threshold(options_);
}

Status NamespaceState::compact_locked() {
  // The index kind follows the live count: a namespace that shrank below its graph threshold is
  // scanned again.
  const std::size_t live = live_.load(std::memory_order_relaxed);
  return rebuild_locked(options_.index == IndexKind::kHnsw && live >= graph_threshold(options_),
                        "compact");
}

Status NamespaceState::rebuild_locked(bool graph, std::string_view stage) {
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
    auto fresh = graph ? make_hnsw_index(options_) : make_flat_index(options_);
    fresh->reserve(writes.size());
    const std::size_t chunk = std::max<std::size_t>(chunk_size() * 16, 4096);
    for (std::size_t begin = 0; begin < writes.size(); begin += chunk) {
      const std::size_t end = std::min(writes.size(), begin + chunk);
      fresh->write(std::span<const VectorWrite>(writes).subspan(begin, end - begin),
                   context_->threads);
      context_->progress(stage, end, writes.size());
    }
    if (writes.empty() && graph == index_->has_graph()) context_->progress(stage, 0, 0);
    std::vector<float> norms;
    if (options_.metric == Metric::kCosine) {
      norms.resize(writes.size());
      for (std::size_t s = 0; s < slots; ++s) {
        if (is_live[s]) norms[new_slot[s]] = norms_[s];
      }
    }
    // The ids and the metadata (with its payload index) are renumbered into copies here too, so
    // that the exclusive section below only swaps: renumbering 100,000 records in place would
    // hold searches for tens of milliseconds. The old tables are freed after the unlock.
    IdMap ids = ids_.renumbered(new_slot, writes.size());
    MetadataStore metadata = metadata_.renumbered(new_slot, is_live, writes.size());
    shared.unlock();

    std::unique_lock<RwLock> exclusive(mutex_);
    std::swap(ids_, ids);
    std::swap(metadata_, metadata);
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
  if (!loaded_.load(std::memory_order_acquire)) {
    st.memory_bytes = memory_bytes_locked();
    return st;  // never loads; loaded and dirty are false
  }
  st.deleted = index_->slot_count() - st.count;
  st.vector_bytes = index_->vector_bytes();
  st.graph_bytes = index_->graph_bytes();
  st.metadata_bytes = metadata_.bytes();
  st.payload_index_bytes = metadata_.index_bytes();
  st.memory_bytes = memory_bytes_locked();
  st.loaded = true;
  st.dirty = dirty_;
  return st;
}

Status NamespaceState::drop() {
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return not_found();
  // As every writer (lock_writer): a drop that waited for this lock while the store closed must
  // not remove files once close() has released the directory.
  if (context_->closed.load(std::memory_order_acquire)) {
    return Status::InvalidArgument("store: closed");
  }
  if (context_->persistent()) {
    if (Status s = writable(); !s.ok()) return s;
    if (Status s =
            remove_namespace_files(*context_->env, context_->dir, name_, disk_ ? &*disk_ : nullptr);
        !s.ok()) {
      return s;
    }
    disk_.reset();
  }
  drop_records_locked();
  return Status::Ok();
}

void NamespaceState::drop_records_locked() {
  std::unique_lock<RwLock> exclusive(mutex_);
  dropped_.store(true, std::memory_order_release);
  live_.store(0, std::memory_order_release);
  free_records_locked();
  loaded_.store(true, std::memory_order_release);
}

bool NamespaceState::same_namespace(const NamespaceConfig& config) const noexcept {
  const NamespaceOptions& o = config.options;
  return config.created == created_ && o.dimension == options_.dimension &&
         o.metric == options_.metric && o.index == options_.index &&
         o.hnsw.m == options_.hnsw.m && o.hnsw.ef_construction == options_.hnsw.ef_construction &&
         o.hnsw.seed == options_.hnsw.seed;
}

Status NamespaceState::refresh(const NamespaceConfig& config) {
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped() || !disk_) return Status::Ok();
  if (disk_->generation == config.generation &&
      disk_->vectors.checksum == config.vectors.checksum) {
    return Status::Ok();  // the commit this namespace has (or will load)
  }
  if (!loaded_.load(std::memory_order_acquire)) {
    // Nothing to replace: the next call that needs the records loads this commit.
    disk_ = config;
    live_.store(static_cast<std::size_t>(config.count), std::memory_order_release);
    return Status::Ok();
  }
  // Loads beside the records that searches use and swaps at the end (load_from); on an error
  // the namespace keeps serving the generation it has.
  if (Status s = load_locked(config); !s.ok()) return s;
  writer.unlock();
  charge_budget();
  return Status::Ok();
}

void NamespaceState::drop_in_memory() {
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return;
  drop_records_locked();
}

void NamespaceState::free_records_locked() {
  index_ = make_index(options_, 0);
  std::vector<float>().swap(norms_);
  std::vector<Slot>().swap(free_slots_);
  next_slot_ = 0;
  metadata_ = MetadataStore();
  ids_ = IdMap();
}

// ── persistence ──────────────────────────────────────────────────────────────────────────────

bool NamespaceState::dirty() const {
  std::shared_lock<RwLock> lock(mutex_);
  return dirty_ && loaded_.load(std::memory_order_acquire) && !dropped();
}

void NamespaceState::touch() const noexcept {
  if (!context_->budget) return;  // the order of use matters only to the memory budget
  last_use_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                  std::memory_order_relaxed);
}

Status NamespaceState::ensure_loaded() const {
  touch();
  if (loaded_.load(std::memory_order_acquire)) return Status::Ok();
  // Loading changes the namespace's members; callers of const methods see a namespace that
  // was always loaded, so this is logically const.
  auto* self = const_cast<NamespaceState*>(this);
  {
    std::unique_lock<std::mutex> writer(self->write_mutex_);
    if (dropped()) return not_found();
    if (loaded_.load(std::memory_order_acquire)) return Status::Ok();
    if (Status s = self->load_locked(*self->disk_); !s.ok()) return s;
  }
  self->charge_budget();
  return Status::Ok();
}

Status NamespaceState::lock_loaded(std::shared_lock<RwLock>& lock) const {
  for (;;) {
    if (Status s = ensure_loaded(); !s.ok()) return s;
    lock = std::shared_lock<RwLock>(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {  // a writer holds the lock or waits for it: tell it, then wait
      readers_waited_.fetch_add(1, std::memory_order_relaxed);
      lock.lock();
    }
    if (dropped()) return not_found();
    if (loaded_.load(std::memory_order_acquire)) return Status::Ok();
    lock.unlock();  // the memory budget unloaded it meanwhile: load it again
  }
}

Status NamespaceState::lock_writer(std::unique_lock<std::mutex>& writer) {
  touch();
  writer = std::unique_lock<std::mutex>(write_mutex_);
  if (dropped()) return not_found();
  // Checked under the writer lock: close() sets the flag first and then saves every namespace
  // under its writer lock, so a write either lands before that save (and is saved) or fails.
  if (context_->closed.load(std::memory_order_acquire)) return closed();
  if (!loaded_.load(std::memory_order_acquire)) return load_locked(*disk_);
  return Status::Ok();
}

std::size_t NamespaceState::memory_bytes() const {
  std::shared_lock<RwLock> lock(mutex_);
  return memory_bytes_locked();
}

void NamespaceState::charge_budget() {
  if (context_->budget) context_->budget->charge(*this);
}

std::optional<std::size_t> NamespaceState::try_unload() {
  std::unique_lock<std::mutex> writer(write_mutex_, std::try_to_lock);
  // A closed store saves nothing more (close() saved what it had to).
  if (!writer.owns_lock() || dropped() || !loaded_.load(std::memory_order_acquire) ||
      !context_->persistent() || context_->closed.load(std::memory_order_acquire)) {
    return std::nullopt;
  }
  // A read-only store has nothing to save (only ef_search can differ, and it is not kept).
  if ((dirty_ || !disk_) && !context_->options.read_only) {
    if (Status s = save_locked(false); !s.ok()) {
      context_->log(LogLevel::kWarning, "memory budget: namespace '" + name_ +
                                            "' stays loaded: saving it failed: " + s.message());
      return std::nullopt;
    }
  }
  if (!disk_) return std::nullopt;
  std::unique_lock<RwLock> exclusive(mutex_);
  free_records_locked();
  live_.store(static_cast<std::size_t>(disk_->count), std::memory_order_release);
  {
    std::lock_guard<std::mutex> options(options_mutex_);
    options_.hnsw.ef_search = disk_->options.hnsw.ef_search;
  }
  dirty_ = false;
  loaded_.store(false, std::memory_order_release);
  const std::size_t bytes = memory_bytes_locked();
  exclusive.unlock();
  context_->log(LogLevel::kDebug, "memory budget: unloaded namespace '" + name_ + "'");
  return bytes;
}

// ── MemoryBudget ─────────────────────────────────────────────────────────────────────────────

void MemoryBudget::add(const std::shared_ptr<NamespaceState>& ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  members_[ns.get()] = Member{ns, 0};
}

void MemoryBudget::remove(const NamespaceState* ns) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = members_.find(ns);
  if (it == members_.end()) return;
  total_ -= it->second.bytes;
  members_.erase(it);
}

void MemoryBudget::charge(NamespaceState& ns) {
  // An unload below saves a dirty namespace, and the save's progress callback or logger may
  // call the store on this thread: that call records its namespace's bytes but unloads nothing
  // (this thread holds the victim's writer lock, which a nested unload could try to take).
  thread_local bool unloading = false;
  const std::size_t bytes = ns.memory_bytes();
  std::vector<std::pair<std::int64_t, std::shared_ptr<NamespaceState>>> lru;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = members_.find(&ns);
    if (it == members_.end()) return;  // dropped meanwhile
    total_ = total_ - it->second.bytes + bytes;
    it->second.bytes = bytes;
    ++it->second.charges;
    if (total_ <= budget_ || unloading) return;
    for (auto& [key, member] : members_) {
      if (key == &ns) continue;
      if (auto other = member.ns.lock()) lru.emplace_back(other->last_use(), std::move(other));
    }
  }
  std::sort(lru.begin(), lru.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  struct Flag {
    bool& b;
    explicit Flag(bool& f) : b(f) { b = true; }
    ~Flag() { b = false; }
  } flag(unloading);
  // The unloads (a save: encoding, writes, fsyncs; then freeing) run without the budget's mutex,
  // so that other tenants' writes, which charge the budget too, never wait for this one's disk.
  // try_unload() takes the victim's writer lock with try_lock only: a busy namespace is skipped.
  for (auto& [last_use, other] : lru) {
    std::uint64_t charges = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (total_ <= budget_) break;
      auto m = members_.find(other.get());
      if (m == members_.end()) continue;  // dropped meanwhile
      charges = m->second.charges;
    }
    const std::optional<std::size_t> after = other->try_unload();
    if (!after) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    auto m = members_.find(other.get());
    // A charge of that namespace since (it was loaded again) recorded fresher bytes.
    if (m == members_.end() || m->second.charges != charges) continue;
    total_ = total_ - m->second.bytes + *after;
    m->second.bytes = *after;
  }
}

Status NamespaceState::load_locked(NamespaceConfig config) {
  for (int attempt = 0;; ++attempt) {
    Status s = load_from(config);
    if (s.ok()) return s;
    // Only a writer changes the directory. A writer's own files do not change under it, but a
    // read-only store shares the directory with one: the files its config named may have been
    // replaced by a newer commit (removed, or, after a drop and a re-create, rewritten). If the
    // config changed since it was read, load what it names now.
    if (!context_->options.read_only) {
      if (s.code() == StatusCode::kNotFound) {
        return Status::Corruption(s.message() + " (a file the config names is missing)");
      }
      return s;
    }
    NamespaceConfig fresh;
    const Status r = read_config(*context_->env, context_->dir, name_, &fresh);
    if (r.code() == StatusCode::kNotFound) {
      return Status::NotFound("namespace '" + name_ + "' was dropped by another process");
    }
    if (!r.ok()) return r;
    const bool changed = fresh.generation != config.generation ||
                         fresh.vectors.checksum != config.vectors.checksum ||
                         fresh.created != config.created;
    if (!changed || attempt == 8) {
      if (s.code() == StatusCode::kNotFound) {
        return Status::Corruption(s.message() + " (a file the config names is missing)");
      }
      return s;
    }
    config = std::move(fresh);
  }
}

namespace {

// A job for a second thread while the caller goes on with other work. join() waits for it and
// rethrows what it threw. Without a second thread (one thread configured, or none could be
// started) the job runs inside join() instead, which is the sequential order. The destructor
// waits, so that the job never outlives what it references; a job never joined and never
// started does not run.
class SideJob {
 public:
  SideJob(std::function<void()> job, bool own_thread) : job_(std::move(job)) {
    if (!own_thread) return;
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error&) {
      // Runs in join().
    }
  }
  SideJob(const SideJob&) = delete;
  SideJob& operator=(const SideJob&) = delete;
  ~SideJob() {
    if (thread_.joinable()) thread_.join();
  }

  // Whether the job has a thread of its own (until join()).
  bool threaded() const noexcept { return thread_.joinable(); }

  void join() {
    if (thread_.joinable()) {
      thread_.join();
    } else if (!ran_) {
      run();
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void run() {
    ran_ = true;
    try {
      job_();
    } catch (...) {
      error_ = std::current_exception();
    }
  }

  std::function<void()> job_;
  std::thread thread_;
  bool ran_ = false;
  std::exception_ptr error_;
};

// The decoded vectors as floats an index can read. A raw VECS payload starts wherever the ids
// before it end, so it is often not aligned for float; it is then moved down inside the file's
// bytes to the aligned address below it. That overwrites at most 3 bytes of the VECS header's
// checksum, which has been checked, and nothing that is read later, and costs one pass over the
// vectors instead of a second buffer of their size (whose first-touch page faults cost more than
// the copy). A decompressed payload is in its own, aligned, buffer.
const float* aligned_vectors(std::string& bytes, VectorsImage& image) {
  const std::string_view v = image.vector_bytes;
  if (v.empty()) return nullptr;
  const std::size_t misaligned = reinterpret_cast<std::uintptr_t>(v.data()) % alignof(float);
  if (misaligned == 0) return reinterpret_cast<const float*>(v.data());
  // Only a view into `bytes` can be misaligned: new char[] aligns for any fundamental type.
  const std::size_t offset = static_cast<std::size_t>(v.data() - bytes.data());
  char* to = bytes.data() + offset - misaligned;
  std::memmove(to, v.data(), v.size());
  image.vector_bytes = {};  // it moved
  return reinterpret_cast<const float*>(to);
}

}  // namespace

Status NamespaceState::load_from(const NamespaceConfig& config) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto since = [](Clock::time_point t) {
    return std::to_string(static_cast<long long>(
        std::chrono::duration<double, std::milli>(Clock::now() - t).count()));
  };
  std::string phases;  // for the log line
  bool graph_loaded = false;
  Env& env = *context_->env;
  const std::filesystem::path& dir = context_->dir;
  const NamespaceOptions& o = config.options;
  const std::size_t dim = o.dimension;
  // read_config checked count <= kMaxSlots; decode_vectors checks the file against it.
  const auto n = static_cast<std::size_t>(config.count);
  // A namespace below its graph threshold is scanned: its graph file, if any, is not read.
  const bool hnsw = o.index == IndexKind::kHnsw && n > 0 && n >= graph_threshold(o);
  try {
    // An HNSW namespace's graph file is read and checked on a second thread while this one reads
    // and decodes the vectors file. The graph file is only a cache: a failure there becomes
    // `graph_problem` (a rebuild), never the load's error, and it is logged only once the
    // vectors file has passed every check.
    GraphImage graph;
    std::string graph_problem;
    SideJob graph_job(
        [&] {
          if (!hnsw) return;
          if (!config.graph) {
            graph_problem = "no graph file was saved";
            return;
          }
          std::string bytes;
          Status s = read_referenced_file(env, dir, *config.graph, &bytes);
          if (s.ok() && xxh3(bytes) != config.graph->checksum) {
            s = Status::Corruption(config.graph->name + ": checksum mismatch");
          }
          if (s.ok()) {
            s = decode_graph(bytes, config.graph->name, config.vectors.checksum, n, o.hnsw.m,
                             &graph);
          }
          if (!s.ok()) graph_problem = s.message();
        },
        hnsw && context_->threads > 1);

    VectorsImage image;
    std::string bytes;
    if (Status s = read_referenced_file(env, dir, config.vectors, &bytes); !s.ok()) return s;
    phases += "read " + since(start) + " ms";
    const auto decode_start = Clock::now();
    if (Status s = decode_vectors(bytes, config.vectors.name, o, n, &image,
                                  {.threads = context_->threads,
                                   .copy_vectors = false,
                                   .hash_file = true,
                                   .parse_metadata = false});
        !s.ok()) {
      return s;
    }
    phases += ", decode " + since(decode_start) + " ms";
    // docs/format.md orders the checks: the metadata texts, then the whole file's checksum, then
    // (a read-only store's concern) the options. The vectors are used only if the checksum
    // matches, but a mismatch is reported after the texts.
    const bool file_matches = image.file_checksum == config.vectors.checksum;
    graph_job.join();
    // Sized by the records only now that the vectors file has proven them: a config or a graph
    // file alone cannot make the load reserve memory for them.
    auto index = make_index(o, n);
    const bool reload = hnsw && graph_problem.empty() && file_matches;
    const std::size_t threads = context_->threads;
    const auto graph_start = Clock::now();
    // Reloading the graph, hnswlib's memory is filled on a second thread (the longest step: one
    // pass of first-touch page faults and copies) while this one parses the metadata and
    // installs the ids and metadata.
    std::string import_ms;
    SideJob import_job(
        [&] {
          if (!reload) return;
          const auto import_start = Clock::now();
          index->import_graph(aligned_vectors(bytes, image), n, graph);
          import_ms = since(import_start);
        },
        reload && threads > 1);
    if (Status s = parse_metadata_texts(&image, config.vectors.name,
                                        import_job.threaded() ? threads - 1 : threads);
        !s.ok()) {
      return s;  // import_job's destructor waits for it
    }
    phases += ", metadata parsed " + since(graph_start) + " ms";
    if (!file_matches) {
      return Status::Corruption(config.vectors.name +
                                ": the file's checksum differs from the one in " +
                                config_file_name(name_));
    }
    const NamespaceOptions& mine = options_;
    if (o.dimension != mine.dimension || o.metric != mine.metric || o.index != mine.index ||
        o.hnsw.m != mine.hnsw.m || o.hnsw.ef_construction != mine.hnsw.ef_construction ||
        o.hnsw.seed != mine.hnsw.seed) {
      // Only possible in a read-only store whose writer dropped and re-created the namespace.
      return Status::NotSupported("namespace '" + name_ +
                                  "' was dropped and created again with other options by "
                                  "another process; open the store again");
    }
    if (reload) {
      graph_loaded = true;
      // Without a second thread the import runs here, before the lock below is taken.
      if (!import_job.threaded()) import_job.join();
    } else {
      if (hnsw) {
        context_->log(LogLevel::kWarning, "namespace '" + name_ +
                                              "': rebuilding the HNSW graph from the vectors (" +
                                              graph_problem + ")");
      }
      if (n > 0) {
        const float* vectors = aligned_vectors(bytes, image);
        index->reserve(n);
        std::vector<VectorWrite> writes(n);
        for (std::size_t i = 0; i < n; ++i) {
          writes[i] = {static_cast<Slot>(i), vectors + i * dim};
        }
        const std::size_t chunk = hnsw ? std::max<std::size_t>(4096, n / 64) : n;
        for (std::size_t begin = 0; begin < n; begin += chunk) {
          const std::size_t end = std::min(n, begin + chunk);
          index->write(std::span<const VectorWrite>(writes).subspan(begin, end - begin), threads);
          context_->progress("load", end, n);
        }
        phases += ", graph built " + since(graph_start) + " ms";
      }
    }

    // The ids and the metadata go into their tables under the exclusive lock: on two threads
    // when no import holds the second one. A graph import still running keeps the lock held a
    // little longer, which delays only stats() and dirty(): every call that needs the records
    // waits for the load anyway.
    const auto install_start = Clock::now();
    IdMap ids;
    MetadataStore metadata;
    {
      SideJob ids_job(
          [&] {
            for (std::size_t i = 0; i < n; ++i) ids.insert(image.ids[i], static_cast<Slot>(i));
          },
          threads > 1 && n > 0 && !import_job.threaded());
      for (std::size_t i = 0; i < n; ++i) {
        metadata.set(static_cast<Slot>(i), std::move(image.metadata[i]));
      }
      ids_job.join();
    }
    phases += ", ids and metadata " + since(install_start) + " ms";
    import_job.join();
    if (graph_loaded) {
      phases += ", graph reloaded " + import_ms + " ms (alongside)";
      context_->progress("load", n, n);
    } else if (n == 0) {
      context_->progress("load", 0, 0);
    }
    std::vector<float> norms = std::move(image.norms);
    std::vector<Slot> no_free_slots;
    // Everything was built beside what readers use (a refresh() reloads a loaded namespace while
    // its searches go on) and is swapped in at once: a reader sees one generation or the next,
    // never a mix. The previous tables are freed after the unlock.
    std::unique_lock<RwLock> exclusive(mutex_);
    std::swap(ids_, ids);
    std::swap(metadata_, metadata);
    norms_.swap(norms);
    index_.swap(index);
    free_slots_.swap(no_free_slots);
    next_slot_ = n;
    live_.store(n, std::memory_order_release);
    // Only what may change between commits; the rest is read without locks by validation.
    {
      std::lock_guard<std::mutex> options(options_mutex_);
      options_.hnsw.ef_search = o.hnsw.ef_search;
      options_.max_elements = o.max_elements;
      options_.memory_limit_bytes = o.memory_limit_bytes;
    }
    last_generation_ = std::max(last_generation_, config.generation);
    disk_ = config;
    dirty_ = false;
    loaded_.store(true, std::memory_order_release);
    exclusive.unlock();
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  context_->log(LogLevel::kInfo, "namespace '" + name_ + "': loaded " +
                                     std::to_string(config.count) + " records in " + since(start) +
                                     " ms (" + phases + ")");
  return Status::Ok();
}

Status NamespaceState::save() {
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return not_found();
  return save_locked(false);
}

Status NamespaceState::save_at_close() {
  std::unique_lock<std::mutex> writer(write_mutex_);
  if (dropped()) return Status::Ok();
  return save_locked(true);
}

Status NamespaceState::save_locked(bool at_close) {
  if (!context_->persistent()) {
    return Status::NotSupported("namespace '" + name_ +
                                "': the store lives in memory; VectorStore::open gives one "
                                "that saves");
  }
  if (Status s = writable(); !s.ok()) return s;
  if (!at_close && context_->closed.load(std::memory_order_acquire)) return closed();
  if (!loaded_.load(std::memory_order_acquire) || !dirty_) return Status::Ok();
  const StoreOptions& so = context_->options;
  try {
    NamespaceConfig config;
    std::string vectors;
    std::string graph;
    bool with_graph = false;
    {
      // Readers go on; writers wait on write_mutex_, which the caller holds.
      std::shared_lock<RwLock> shared(mutex_);
      const std::size_t slots = index_->slot_count();
      std::vector<Slot> position(slots, kNoSlot);
      std::vector<Slot> order;
      order.reserve(live_.load(std::memory_order_relaxed));
      for (std::size_t s = 0; s < slots; ++s) {
        if (index_->is_removed(static_cast<Slot>(s))) continue;
        position[s] = static_cast<Slot>(order.size());
        order.push_back(static_cast<Slot>(s));
      }
      VectorsSource source;
      source.count = order.size();
      source.dimension = options_.dimension;
      source.metric = options_.metric;
      source.id = [&](std::size_t i) { return std::string_view(ids_.id(order[i])); };
      source.vector = [&](std::size_t i) { return index_->vector(order[i]); };
      source.norm = [&](std::size_t i) { return norms_[order[i]]; };
      source.metadata = [&](std::size_t i) -> const Metadata& { return metadata_.get(order[i]); };
      vectors = encode_vectors(source, so.zstd_level);
      config.vectors.checksum = xxh3(vectors);
      if (options_.index == IndexKind::kHnsw && so.save_graph) {
        GraphImage g;
        if (index_->export_graph(position, g)) {
          graph = encode_graph(g, config.vectors.checksum, so.zstd_level);
          with_graph = true;
        }
      }
      config.options = options_;
      config.count = order.size();
    }
    context_->progress("save", 1, 2);
    config.name = name_;
    config.generation = ++last_generation_;
    config.library_version = version();
    config.created = created_;
    config.saved = utc_now();
    config.vectors.name = vectors_file_name(name_, config.generation);
    if (with_graph) config.graph = FileRef{graph_file_name(name_, config.generation), 0, 0};
    CommitResult result;
    if (Status s =
            commit_namespace(*context_->env, context_->dir, config, vectors,
                             with_graph ? &graph : nullptr, disk_ ? &*disk_ : nullptr, &result);
        !s.ok()) {
      return s;
    }
    if (!result.cleanup.ok()) {
      context_->log(LogLevel::kWarning, "namespace '" + name_ +
                                            "': saved, but removing the previous files failed: " +
                                            result.cleanup.message());
    }
    disk_ = std::move(config);
    std::unique_lock<RwLock> exclusive(mutex_);
    dirty_ = false;
  } catch (const std::exception& e) {
    return from_exception(e);
  }
  context_->progress("save", 2, 2);
  return Status::Ok();
}

}  // namespace hnswstore::detail
