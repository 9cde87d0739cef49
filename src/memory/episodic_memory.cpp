// EpisodicMemory: the memory layer over one namespace of a hnswstore store (docs/memory.md).
// Writes go store first, then the lexical index and the session table, under one writer mutex,
// so the three always describe the same entries once a write returns.
// Longer than 600 lines because MemoryState's write, search and load paths share its locks and
// tables; the parts with their own responsibility (codec, BM25, fusion, text, embeddings) live
// in their own files beside it.
#include "hnswstore/memory/episodic_memory.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_set>

#include "entry_codec.hpp"
#include "fusion.hpp"
#include "hnswstore/vector_store.hpp"
#include "latency_histogram.hpp"
#include "lexical_index.hpp"
#include "text.hpp"

namespace hnswstore::memory {
namespace detail {

namespace {
constexpr std::size_t kMaxTopK = 100000;
constexpr std::size_t kPage = 4096;  // entries per scan page when loading and migrating
}  // namespace

// The store names the columns of a batch ("vectors[3]: ..."); the memory names the entry
// ("entries[3].embedding: ...", or "embedding: ..." for a single add).
Status entry_status(const Status& s, bool batch) {
  static const std::pair<std::string_view, std::string_view> kColumns[] = {
      {"ids[", "id"}, {"vectors[", "embedding"}, {"metadata[", "metadata"}};
  const std::string& m = s.message();
  for (const auto& [column, field] : kColumns) {
    if (m.rfind(column, 0) != 0) continue;
    const std::size_t close = m.find(']', column.size());
    if (close == std::string::npos) break;
    const std::string index = m.substr(column.size(), close - column.size());
    std::string rest = m.substr(close + 1);
    std::string head = batch ? "entries[" + index + "]." + std::string(field)
                             : std::string(field);
    return Status(s.code(), head + rest);
  }
  return s;
}

class MemoryState {
 public:
  MemoryConfig config;
  std::shared_ptr<VectorStore> store;  // shared by the memories of one directory
  Namespace ns;
  std::size_t dimension = 0;

  mutable std::mutex write_mu;             // serialises writes
  mutable std::shared_mutex index_mu;      // guards lexical and sessions
  LexicalIndex lexical;
  std::map<std::string, std::size_t, std::less<>> sessions;  // live entries per session

  mutable LatencyHistogram latency;

  MemoryState(MemoryConfig c, std::shared_ptr<VectorStore> s)
      : config(std::move(c)), store(std::move(s)) {}

  void log(LogLevel level, const std::string& line) const {
    if (config.store.logger) config.store.logger(level, line);
  }

  // Lexical index and session table: an entry is in or out.
  void index_add(const EpisodicEntry& e) {
    lexical.add(e.id, e.content);
    ++sessions[e.session_id];
  }
  void index_remove(const EpisodicEntry& e) {
    if (!lexical.remove(e.id)) return;
    auto it = sessions.find(e.session_id);
    if (it != sessions.end() && --it->second == 0) sessions.erase(it);
  }

  // Every entry of the namespace that passes `filter`, page by page (scan copies vectors: a
  // page bounds the memory that takes). fn(records) may stop the walk by returning an error.
  template <class Fn>
  Status for_each_page(const Filter& filter, Fn fn) const {
    for (std::size_t offset = 0;; offset += kPage) {
      auto page = ns.scan(filter, kPage, offset);
      if (!page) return page.error();
      if (Status s = fn(*page); !s.ok()) return s;
      if (page->size() < kPage) return Status::Ok();
    }
  }

  Result<std::vector<EpisodicEntry>> entries_where(const Filter& filter) const {
    std::vector<EpisodicEntry> out;
    Status s = for_each_page(filter, [&](std::vector<Record>& records) {
      for (Record& r : records) {
        auto e = decode(std::move(r.id), std::move(r.metadata));
        if (!e) return e.error();
        e->embedding = std::move(r.vector);
        out.push_back(std::move(*e));
      }
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return out;
  }

  static void sort_chronologically(std::vector<EpisodicEntry>& entries) {
    std::sort(entries.begin(), entries.end(), [](const EpisodicEntry& a, const EpisodicEntry& b) {
      return a.timestamp != b.timestamp ? a.timestamp < b.timestamp : a.id < b.id;
    });
  }

  // add / add_batch / migrate_to: checks, assigns ids and times, embeds, stores, indexes.
  Result<std::vector<std::string>> insert(std::vector<EpisodicEntry> entries, bool batch,
                                          bool keep_ingestion_time) {
    auto where = [&](std::size_t i) {
      return batch ? "entries[" + std::to_string(i) + "]." : std::string();
    };
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (Status s = check_entry(entries[i], dimension, where(i)); !s.ok()) return s;
    }
    for (std::size_t i = 0; i < entries.size(); ++i) {
      EpisodicEntry& e = entries[i];
      if (e.id.empty()) e.id = uuid_v4();
      if (!seen.insert(e.id).second) {
        return Status::InvalidArgument(where(i) + "id: '" + e.id +
                                       "' appears twice in the batch");
      }
    }
    // Embeddings for the entries that came without one.
    std::vector<std::size_t> to_embed;
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].embedding) {
        to_embed.push_back(i);
        texts.push_back(entries[i].content);
      }
    }
    if (!texts.empty()) {
      if (!config.embedding_service) {
        return Status::InvalidArgument(where(to_embed[0]) +
                                       "embedding: none given and the memory has no "
                                       "embedding service to compute it");
      }
      auto vectors = config.embedding_service->embed_batch(texts);
      if (!vectors) return vectors.error();
      for (std::size_t k = 0; k < to_embed.size(); ++k) {
        std::vector<float>& v = (*vectors)[k];
        if (v.size() != dimension) {
          return Status::InvalidArgument(
              where(to_embed[k]) + "embedding: the embedding service gave dimension " +
              std::to_string(v.size()) + ", the memory has " + std::to_string(dimension));
        }
        entries[to_embed[k]].embedding = std::move(v);
      }
    }
    // Times: {} = now; a batch keeps its order (the i-th entry is i ns later).
    const TimePoint now = Clock::now();
    for (std::size_t i = 0; i < entries.size(); ++i) {
      EpisodicEntry& e = entries[i];
      if (e.timestamp == TimePoint{}) {
        e.timestamp = now + std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(i));
      }
      if (!keep_ingestion_time || e.ingestion_time == TimePoint{}) e.ingestion_time = now;
    }
    std::vector<std::string> ids;
    std::vector<float> vectors;
    std::vector<Metadata> metadata;
    ids.reserve(entries.size());
    vectors.reserve(entries.size() * dimension);
    metadata.reserve(entries.size());
    for (const EpisodicEntry& e : entries) {
      ids.push_back(e.id);
      vectors.insert(vectors.end(), e.embedding->begin(), e.embedding->end());
      metadata.push_back(encode(e));
    }

    std::lock_guard write(write_mu);
    // Entries this batch replaces leave the lexical index and the session table.
    std::vector<EpisodicEntry> replaced;
    for (const std::string& id : ids) {
      auto old = ns.get(id);
      if (!old) {
        if (old.error().code() == StatusCode::kNotFound) continue;
        return old.error();
      }
      auto e = decode(std::move(old->id), std::move(old->metadata));
      if (e) replaced.push_back(std::move(*e));
    }
    Status s = ns.upsert(ids, vectors, metadata);
    if (!s.ok()) return entry_status(s, batch);
    std::unique_lock lock(index_mu);
    for (const EpisodicEntry& e : replaced) index_remove(e);
    for (const EpisodicEntry& e : entries) index_add(e);
    return ids;
  }

  Result<std::vector<std::pair<std::string, float>>> vector_ranking(
      std::span<const float> query, std::size_t k, const Filter& filter,
      std::vector<Hit>& hits) const {
    auto r = ns.search(query, {.k = k, .filter = filter, .include_metadata = true});
    if (!r) return r.error();
    hits = std::move(*r);
    std::vector<std::pair<std::string, float>> ranking;
    ranking.reserve(hits.size());
    for (const Hit& h : hits) ranking.emplace_back(h.id, 1.0f - h.distance);
    return ranking;
  }

  // BM25 ranking of the entries that pass `filter`, best first, at most k. The index ranks
  // every entry sharing a word with the query; the filter is then checked on each in turn.
  Result<std::vector<std::pair<std::string, float>>> lexical_ranking(
      std::string_view query, std::size_t k, const Filter& filter,
      std::map<std::string, EpisodicEntry, std::less<>>& fetched) const {
    std::vector<std::pair<std::string, float>> ranked;
    {
      std::shared_lock lock(index_mu);
      ranked = lexical.search(query, filter.matches_all() ? k : lexical.size());
    }
    std::vector<std::pair<std::string, float>> out;
    for (auto& [id, score] : ranked) {
      if (out.size() == k) break;
      auto r = ns.get(id);
      if (!r) {
        if (r.error().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
        return r.error();
      }
      if (!filter.matches(r->metadata)) continue;
      auto e = decode(std::move(r->id), std::move(r->metadata));
      if (!e) return e.error();
      fetched.emplace(id, std::move(*e));
      out.emplace_back(std::move(id), score);
    }
    return out;
  }

  // Every search answered (an empty list included) counts in stats(), with its latency.
  Result<std::vector<ScoredEntry>> search(std::string_view query_text,
                                          std::span<const float> query_vector,
                                          std::size_t top_k,
                                          const MemorySearchOptions& options) const {
    const auto start = std::chrono::steady_clock::now();
    auto r = search_unrecorded(query_text, query_vector, top_k, options);
    if (r) latency.record(std::chrono::steady_clock::now() - start);
    return r;
  }

  Result<std::vector<ScoredEntry>> search_unrecorded(std::string_view query_text,
                                                     std::span<const float> query_vector,
                                                     std::size_t top_k,
                                                     const MemorySearchOptions& options) const {
    if (top_k == 0 || top_k > kMaxTopK) {
      return Status::InvalidArgument("top_k: " + std::to_string(top_k) + ", expected 1.." +
                                     std::to_string(kMaxTopK));
    }
    if (!options.filter.status().ok()) return options.filter.status();
    if (options.vector_weight < 0.0f || options.vector_weight > 1.0f ||
        !(options.vector_weight == options.vector_weight)) {
      return Status::InvalidArgument("vector_weight: expected 0..1");
    }
    if (!(options.rrf_k > 0.0f)) return Status::InvalidArgument("rrf_k: expected > 0");
    const bool by_text = query_vector.empty();
    if (by_text) {
      if (query_text.empty()) return Status::InvalidArgument("query: must not be empty");
      if (auto at = invalid_utf8_at(query_text)) {
        return Status::InvalidArgument("query: invalid UTF-8 at byte " + std::to_string(*at));
      }
    } else if (options.mode != SearchMode::kVector) {
      return Status::InvalidArgument(
          "mode: a search by embedding is kVector only (lexical search needs the query text)");
    }
    std::vector<ScoredEntry> out;
    if (ns.size() == 0) return out;  // empty memory: no embedding call, no error
    const Filter filter = to_filter(options);
    const bool want_vector = options.mode != SearchMode::kLexical;
    const std::size_t candidates =
        options.mode == SearchMode::kHybrid
            ? std::max(top_k, options.candidates != 0 ? options.candidates
                                                      : std::max<std::size_t>(4 * top_k, 40))
            : top_k;

    std::vector<float> embedded;
    if (want_vector && by_text) {
      if (!config.embedding_service) {
        return Status::InvalidArgument(
            "mode: vector and hybrid search need an embedding service (MemoryConfig)");
      }
      auto v = config.embedding_service->embed(query_text);
      if (!v) return v.error();
      embedded = std::move(*v);
      query_vector = embedded;
    }
    if (options.mode == SearchMode::kVector) {  // the store's order is the answer
      auto r = ns.search(query_vector, {.k = top_k, .filter = filter, .include_metadata = true});
      if (!r) return r.error();
      out.reserve(r->size());
      for (Hit& h : *r) {
        const float score = 1.0f - h.distance;
        if (options.min_score && score < *options.min_score) break;  // best first
        auto e = decode(std::move(h.id), std::move(h.metadata));
        if (!e) return e.error();
        out.push_back({std::move(*e), score});
      }
      return out;
    }
    std::vector<Hit> hits;
    std::vector<std::pair<std::string, float>> vector_ranked, lexical_ranked;
    std::map<std::string, EpisodicEntry, std::less<>> fetched;
    if (want_vector) {
      auto r = vector_ranking(query_vector, candidates, filter, hits);
      if (!r) return r.error();
      vector_ranked = std::move(*r);
    }
    auto r = lexical_ranking(query_text, candidates, filter, fetched);
    if (!r) return r.error();
    lexical_ranked = std::move(*r);
    for (Hit& h : hits) {
      if (fetched.count(h.id) != 0) continue;
      std::string id = h.id;
      auto e = decode(std::move(h.id), std::move(h.metadata));
      if (!e) return e.error();
      fetched.emplace(std::move(id), std::move(*e));
    }
    const std::vector<std::pair<std::string, float>> ranking =
        options.mode == SearchMode::kLexical ? std::move(lexical_ranked)
                                             : fuse(vector_ranked, lexical_ranked, options);
    for (const auto& [id, score] : ranking) {
      if (out.size() == top_k) break;
      if (options.min_score && score < *options.min_score) break;  // best first
      auto it = fetched.find(id);
      if (it == fetched.end()) continue;
      out.push_back({std::move(it->second), score});
    }
    return out;
  }

  Status mark_processed(std::span<const std::string> ids) {
    std::lock_guard write(write_mu);
    std::vector<std::pair<std::string, Metadata>> changes;  // id, new metadata
    std::vector<Metadata> before;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto r = ns.get(ids[i]);
      if (!r) {
        if (r.error().code() == StatusCode::kNotFound) {
          return Status::NotFound("ids[" + std::to_string(i) + "]: no entry '" + ids[i] + "'");
        }
        return r.error();
      }
      auto it = r->metadata.find(std::string(kProcessedKey));
      if (it != r->metadata.end() && it->is_boolean() && it->get<bool>()) continue;
      Metadata updated = r->metadata;
      updated[std::string(kProcessedKey)] = true;
      before.push_back(std::move(r->metadata));
      changes.emplace_back(ids[i], std::move(updated));
    }
    for (std::size_t i = 0; i < changes.size(); ++i) {
      Status s = ns.update_metadata(changes[i].first, changes[i].second);
      if (!s.ok()) {  // put back the flags already set (best effort), then report
        for (std::size_t j = 0; j < i; ++j) {
          (void)ns.update_metadata(changes[j].first, before[j]);
        }
        return s;
      }
    }
    return Status::Ok();
  }

  Result<std::size_t> delete_before(TimePoint t) {
    std::lock_guard write(write_mu);
    const Filter filter = Filter::lt(std::string(kTimeKey), to_nanos(t));
    auto doomed = entries_where(filter);
    if (!doomed) return doomed.error();
    auto removed = ns.remove(filter);
    if (!removed) return removed.error();
    std::unique_lock lock(index_mu);
    for (const EpisodicEntry& e : *doomed) index_remove(e);
    return *removed;
  }

  // Rebuilds the lexical index and the session table from the namespace (at open).
  Status load() {
    std::lock_guard write(write_mu);
    std::unique_lock lock(index_mu);
    return for_each_page(Filter(), [&](std::vector<Record>& records) {
      for (Record& r : records) {
        auto e = decode(std::move(r.id), std::move(r.metadata));
        if (!e) return e.error();
        index_add(*e);
      }
      return Status::Ok();
    });
  }
};

}  // namespace detail

using detail::MemoryState;

namespace {

// The memories of one process that name the same directory share its store: a store directory
// has one writer, and several memories (one per agent) live in one directory as namespaces.
// The store closes when the last of them is destroyed. The first memory's StoreOptions apply.
Result<std::shared_ptr<VectorStore>> open_shared_store(const std::filesystem::path& dir,
                                                      const StoreOptions& options) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<VectorStore>> open;
  std::error_code ec;
  std::filesystem::path key = std::filesystem::weakly_canonical(dir, ec);
  if (ec) key = std::filesystem::absolute(dir, ec).lexically_normal();
  std::lock_guard lock(mu);
  std::erase_if(open, [](const auto& entry) { return entry.second.expired(); });
  if (auto it = open.find(key.string()); it != open.end()) {
    if (auto store = it->second.lock()) return store;
  }
  auto store = VectorStore::open(dir, options);
  if (!store) return store.error();
  auto shared = std::make_shared<VectorStore>(std::move(*store));
  open[key.string()] = shared;
  return shared;
}

}  // namespace

Result<EpisodicMemory> EpisodicMemory::create(MemoryConfig config) {
  const bool hnsw = config.backend == EpisodicBackend::kHnsw;
  if (hnsw && !config.embedding_service) {
    return Status::InvalidArgument(
        "HNSW backend requires embedding service (use MemoryConfig::for_production)");
  }
  auto log = [&](LogLevel level, const std::string& line) {
    if (config.store.logger) config.store.logger(level, line);
  };
  log(LogLevel::kInfo, hnsw ? "Creating HNSW episodic backend (production mode)"
                            : "Creating InMemory episodic backend (testing mode)");
  std::size_t dimension = 0;
  if (config.embedding_service) {
    dimension = config.embedding_service->dimensions();
    if (dimension == 0) {  // a provider that learns its dimension from the first answer
      auto probe = config.embedding_service->embed("dimension probe");
      if (!probe) return probe.error();
      dimension = probe->size();
    }
    log(LogLevel::kInfo, std::string(memory::backend_name(config.backend)) +
                             " backend using embedding service: " +
                             std::string(config.embedding_service->provider_name()) +
                             ", dimensions: " + std::to_string(dimension));
  }
  auto store = config.directory.empty()
                   ? Result<std::shared_ptr<VectorStore>>(
                         std::make_shared<VectorStore>(VectorStore::in_memory(config.store)))
                   : open_shared_store(config.directory, config.store);
  if (!store) return store.error();
  auto state = std::make_unique<MemoryState>(std::move(config), std::move(*store));
  MemoryConfig& c = state->config;
  Result<Namespace> ns = Status::NotFound("");
  if (dimension == 0) {
    ns = state->store->open_namespace(c.name);
    if (!ns) {
      if (ns.error().code() != StatusCode::kNotFound) return ns.error();
      return Status::InvalidArgument(
          "embedding_service: a memory without an embedding service must already exist in its "
          "directory (its dimension comes from there)");
    }
    dimension = ns->options().dimension;
  } else {
    NamespaceOptions options;
    options.dimension = dimension;
    options.metric = Metric::kCosine;
    options.index = hnsw ? IndexKind::kHnsw : IndexKind::kFlat;
    options.hnsw = c.hnsw;
    ns = state->store->get_or_create_namespace(c.name, options);
  }
  if (!ns) {
    const Status& e = ns.error();
    return Status(e.code(), "memory '" + c.name + "': " + e.message());
  }
  state->ns = std::move(*ns);
  state->dimension = dimension;
  // The first read loads the namespace's records (the store logs that); then the lexical index
  // and the session table are rebuilt from them, timed on their own.
  if (auto probe = state->ns.get(" "); !probe && probe.error().code() != StatusCode::kNotFound &&
                                        probe.error().code() != StatusCode::kInvalidArgument) {
    return probe.error();
  }
  const auto start = std::chrono::steady_clock::now();
  if (Status s = state->load(); !s.ok()) return s;
  if (state->ns.size() != 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    state->log(LogLevel::kInfo, "memory '" + c.name + "': loaded " +
                                    std::to_string(state->ns.size()) +
                                    " entries, lexical index rebuilt in " +
                                    std::to_string(ms.count()) + " ms");
  }
  return EpisodicMemory(std::move(state));
}

EpisodicMemory::EpisodicMemory(std::unique_ptr<MemoryState> state) : state_(std::move(state)) {}
EpisodicMemory::EpisodicMemory(EpisodicMemory&&) noexcept = default;
EpisodicMemory& EpisodicMemory::operator=(EpisodicMemory&&) noexcept = default;
EpisodicMemory::~EpisodicMemory() = default;

namespace {
const Status& moved_from() {
  static const Status s = Status::InvalidArgument("EpisodicMemory: used after a move");
  return s;
}

// No exception leaves the memory's API: running out of memory is kResourceExhausted, anything
// else (a bug) kInternal.
template <class Fn>
auto guarded(const char* what, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  } catch (...) {
    return Status::Internal(std::string(what) + ": unknown exception");
  }
}
}  // namespace

std::string_view EpisodicMemory::backend_name() const {
  return state_ ? memory::backend_name(state_->config.backend) : std::string_view();
}

const MemoryConfig& EpisodicMemory::config() const {
  static const MemoryConfig empty;
  return state_ ? state_->config : empty;
}

Result<std::string> EpisodicMemory::add(EpisodicEntry entry) {
  return guarded("add", [&]() -> Result<std::string> {
    if (!state_) return moved_from();
    std::vector<EpisodicEntry> one;
    one.push_back(std::move(entry));
    auto ids = state_->insert(std::move(one), /*batch=*/false, /*keep_ingestion_time=*/false);
    if (!ids) return ids.error();
    return std::move(ids->front());
  });
}

Result<std::vector<std::string>> EpisodicMemory::add_batch(std::vector<EpisodicEntry> entries) {
  return guarded("add_batch", [&]() -> Result<std::vector<std::string>> {
    if (!state_) return moved_from();
    if (entries.empty()) return std::vector<std::string>();
    return state_->insert(std::move(entries), /*batch=*/true, /*keep_ingestion_time=*/false);
  });
}

Result<EpisodicEntry> EpisodicMemory::get(std::string_view id) const {
  return guarded("get", [&]() -> Result<EpisodicEntry> {
    if (!state_) return moved_from();
    auto r = state_->ns.get(id);
    if (!r) {
      if (r.error().code() == StatusCode::kNotFound) {
        return Status::NotFound("no entry '" + std::string(id) + "'");
      }
      return r.error();
    }
    auto e = detail::decode(std::move(r->id), std::move(r->metadata));
    if (!e) return e.error();
    e->embedding = std::move(r->vector);
    return e;
  });
}

Result<std::vector<ScoredEntry>> EpisodicMemory::search(std::string_view query,
                                                        std::size_t top_k,
                                                        const MemorySearchOptions& options) const {
  return guarded("search", [&]() -> Result<std::vector<ScoredEntry>> {
    if (!state_) return moved_from();
    return state_->search(query, {}, top_k, options);
  });
}

Result<std::vector<ScoredEntry>> EpisodicMemory::search(std::span<const float> query_embedding,
                                                        std::size_t top_k,
                                                        const MemorySearchOptions& options) const {
  return guarded("search", [&]() -> Result<std::vector<ScoredEntry>> {
    if (!state_) return moved_from();
    if (query_embedding.empty()) {
      return Status::InvalidArgument("query_embedding: must not be empty");
    }
    return state_->search({}, query_embedding, top_k, options);
  });
}

Result<std::vector<EpisodicEntry>> EpisodicMemory::get_session(std::string_view session_id) const {
  return guarded("get_session", [&]() -> Result<std::vector<EpisodicEntry>> {
    if (!state_) return moved_from();
    auto r = state_->entries_where(
        Filter::eq(std::string(detail::kSessionKey), std::string(session_id)));
    if (r) MemoryState::sort_chronologically(*r);
    return r;
  });
}

Result<std::vector<EpisodicEntry>> EpisodicMemory::list_unprocessed(
    std::string_view session_id) const {
  return guarded("list_unprocessed", [&]() -> Result<std::vector<EpisodicEntry>> {
    if (!state_) return moved_from();
    auto r = state_->entries_where(
        Filter::eq(std::string(detail::kSessionKey), std::string(session_id)) &&
        Filter::ne(std::string(detail::kProcessedKey), true));
    if (r) MemoryState::sort_chronologically(*r);
    return r;
  });
}

Status EpisodicMemory::mark_processed(std::span<const std::string> ids) {
  return guarded("mark_processed", [&]() -> Status {
    if (!state_) return moved_from();
    return state_->mark_processed(ids);
  });
}

Result<std::size_t> EpisodicMemory::delete_before(TimePoint t) {
  return guarded("delete_before", [&]() -> Result<std::size_t> {
    if (!state_) return moved_from();
    return state_->delete_before(t);
  });
}

Result<std::vector<std::string>> EpisodicMemory::list_sessions_with_unprocessed() const {
  return guarded("list_sessions_with_unprocessed", [&]() -> Result<std::vector<std::string>> {
    if (!state_) return moved_from();
    std::map<std::string, TimePoint, std::less<>> latest;
    Status s = state_->for_each_page(
        Filter::ne(std::string(detail::kProcessedKey), true), [&](std::vector<Record>& records) {
          for (Record& r : records) {
            auto e = detail::decode(std::move(r.id), std::move(r.metadata));
            if (!e) return e.error();
            auto [it, inserted] = latest.emplace(e->session_id, e->timestamp);
            if (!inserted) it->second = std::max(it->second, e->timestamp);
          }
          return Status::Ok();
        });
    if (!s.ok()) return s;
    std::vector<std::pair<std::string, TimePoint>> order(latest.begin(), latest.end());
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    std::vector<std::string> out;
    out.reserve(order.size());
    for (auto& [session, t] : order) out.push_back(std::move(session));
    return out;
  });
}

Result<ConsolidationResult> EpisodicMemory::consolidate(std::string_view session_id,
                                                        ConsolidationEngine& engine) {
  return guarded("consolidate", [&]() -> Result<ConsolidationResult> {
    if (!state_) return moved_from();
    const auto start = std::chrono::steady_clock::now();
    auto entries = list_unprocessed(session_id);
    if (!entries) return entries.error();
    ConsolidationResult result;
    result.entries_examined = entries->size();
    if (!entries->empty()) {
      auto r = engine.consolidate(*entries);
      if (!r) return r.error();
      std::set<std::string_view> given;
      for (const EpisodicEntry& e : *entries) given.insert(e.id);
      for (std::size_t i = 0; i < r->processed_ids.size(); ++i) {
        if (given.count(r->processed_ids[i]) == 0) {
          return Status::InvalidArgument(
              "processed_ids[" + std::to_string(i) + "]: '" + r->processed_ids[i] +
              "' is not one of the unprocessed entries of session '" + std::string(session_id) +
              "' given to the engine");
        }
      }
      if (Status s = mark_processed(r->processed_ids); !s.ok()) return s;
      result.processed_ids = std::move(r->processed_ids);
    }
    result.duration = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    return result;
  });
}

std::size_t EpisodicMemory::size() const { return state_ ? state_->ns.size() : 0; }

MemoryStats EpisodicMemory::stats() const {
  MemoryStats s;
  if (!state_) return s;
  s.entries = state_->ns.size();
  const NamespaceStats ns = state_->ns.stats();
  {
    std::shared_lock lock(state_->index_mu);
    s.sessions = state_->sessions.size();
    s.lexical_index_bytes = state_->lexical.bytes();
    std::size_t session_bytes = 0;
    for (const auto& [id, n] : state_->sessions) {
      session_bytes += 80 + (id.size() > 15 ? id.size() + 1 : 0);
    }
    s.memory_bytes = ns.memory_bytes + s.lexical_index_bytes + session_bytes;
  }
  s.searches = state_->latency.count();
  s.search_p50 = state_->latency.quantile(0.50);
  s.search_p95 = state_->latency.quantile(0.95);
  s.search_p99 = state_->latency.quantile(0.99);
  if (state_->config.embedding_service) {
    s.embedding_cache = state_->config.embedding_service->cache_stats();
  }
  return s;
}

Status EpisodicMemory::save() {
  return guarded("save", [&]() -> Status {
    if (!state_) return moved_from();
    if (state_->config.directory.empty()) {
      return Status::NotSupported(
          "save: this memory has no directory (MemoryConfig::with_directory)");
    }
    std::lock_guard write(state_->write_mu);
    return state_->ns.save();
  });
}

Result<EpisodicMemory> EpisodicMemory::migrate_to(MemoryConfig target) const {
  return guarded("migrate_to", [&]() -> Result<EpisodicMemory> {
    if (!state_) return moved_from();
    auto created = EpisodicMemory::create(std::move(target));
    if (!created) return created.error();
    EpisodicMemory out = std::move(*created);
    const bool was_empty = out.size() == 0;
    const bool keep_vectors = out.state_->dimension == state_->dimension;
    std::lock_guard write(state_->write_mu);  // a consistent snapshot of this memory
    Status s = state_->for_each_page(Filter(), [&](std::vector<Record>& records) {
      std::vector<EpisodicEntry> batch;
      batch.reserve(records.size());
      for (Record& r : records) {
        auto e = detail::decode(std::move(r.id), std::move(r.metadata));
        if (!e) return e.error();
        if (keep_vectors) e->embedding = std::move(r.vector);
        batch.push_back(std::move(*e));
      }
      auto ids = out.state_->insert(std::move(batch), /*batch=*/true,
                                    /*keep_ingestion_time=*/true);
      return ids ? Status::Ok() : ids.error();
    });
    if (!s.ok()) {
      if (was_empty) {  // leave no half-migrated memory behind
        const std::string name = out.state_->config.name;
        out.state_->ns = Namespace();
        (void)out.state_->store->drop_namespace(name);
      }
      return Status(s.code(), "migrate_to: " + s.message());
    }
    return out;
  });
}

Namespace EpisodicMemory::store_namespace() const { return state_ ? state_->ns : Namespace(); }

}  // namespace hnswstore::memory
