// memory_bench: the migration guide's table of the episodic memory (InMemory vs HNSW), measured.
//
//   memory_bench [--sizes 100,1000,10000,100000] [--queries 200] [--dim 384] [--seed 1]
//                [--embed-max 10000] [--passes 3] [--vectors hashing|embedding-like]
//                [--out FILE]
//
// Entries: conversation turns from conversation_data.hpp (sessions of 16..24 user / assistant
// turns on one everyday topic, 60..280 bytes (mean ~170) of generated sentences, 45 s apart,
// metadata {"topic": ...}), ids "s<session>-t<turn>"; a size of N takes the first N turns.
// Embeddings: HashingEmbedder(--dim) of each content, computed ONCE for the largest size (in
// parallel) and passed in EpisodicEntry::embedding. Queries: --queries distinct question-like texts
// over the same vocabulary (none equal to an entry), plus 20 others for warm-up.
// --vectors embedding-like replaces every vector (entries' and queries') by rows of
// tests/support's embedding_like (a 32-dimensional Gaussian latent mapped to --dim dimensions:
// structured like a model's embeddings, unlike the hashing ones, which are nearly orthogonal
// and hard for a graph); the text searches and the add with the embedding call are then left
// out.
//
// Per size and backend (kInMemory = exact flat scan; kHnsw = HnswParams::balanced(), whose
// namespace is an exact scan too below graph_threshold, automatic 1,024 records above 256
// dimensions: the "index" column says which it had, from stats().graph_bytes > 0), each memory
// built with its own EmbeddingService (HashingEmbedder, default options: LRU cache of 10,000):
//   - add, precomputed: add_batch in chunks of 1,000 entries carrying their embedding; entries/s
//     over the add_batch calls only;
//   - add, embedding: the same on min(N, --embed-max) entries without embedding, so the service
//     embeds them (a fresh memory, dropped after);
//   - search with embedding: search(text, 10) once per query text; the texts are distinct and
//     new to the service, so every call embeds (the cache counters are printed to show it);
//   - search without embedding: search(span<const float>, 10) with the precomputed query
//     embeddings; the two run query by query, their order alternating;
//   - the memory layer's own cost: --passes passes over the queries, each query timing
//     memory.search(span, 10) and memory.store_namespace().search(span, {.k = 10}) (metadata
//     included, as the memory requests it) back to back, the order alternating; overhead =
//     p50(memory) - p50(store), printed as a fraction of p50(store), and the trimmed mean (middle
//     80 %) of the per-query differences (whichever runs second finds the caches warm, so the
//     per-query differences are bimodal and their median is no estimate);
//   - recall@10 of HNSW's vector search against InMemory's (same entries, same vectors), by id
//     and counting ties (an HNSW result scoring at least InMemory's 10th score); with a graph,
//     also the store search's recall and p50 at ef 50, 100, 200, 400;
//   - memory: store_namespace().stats().memory_bytes / N; the growth of the process's heap
//     (glibc mallinfo2: bytes in use, after malloc_trim) and of its RSS (/proc/self/statm) from
//     before create() to after the last add_batch, / N, which also counts the lexical index
//     and everything else the memory holds; raw bytes / entry = 4 x dim + content + session id +
//     role + 16 (two timestamps) + metadata JSON text. Printed as ratios to raw.
// Latencies are single calls timed with steady_clock on one thread; p50 / p99 by nearest rank.
// The 1-minute load average is printed at the start and the end: on a shared machine, read the
// latencies with it.
// Prints Markdown tables; --out also writes JSON. Exits 1 if a call fails or a search returns
// fewer than min(10, N) entries.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <nlohmann/json.hpp>

#include "conversation_data.hpp"
#include "datasets.hpp"
#include "hnswstore/memory.hpp"
#include "hnswstore/version.hpp"

namespace hm = hnswstore::memory;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kTopK = 10;
constexpr std::size_t kChunk = 1000;
constexpr std::size_t kWarmup = 20;

constexpr const char* kUsage =
    "usage: memory_bench [--sizes 100,1000,10000,100000] [--queries 200] [--dim 384]\n"
    "                    [--seed 1] [--embed-max 10000] [--passes 3]\n"
    "                    [--vectors hashing|embedding-like] [--out FILE]\n"
    "  --sizes      entry counts, comma-separated\n"
    "  --queries    distinct query texts (>= 1)\n"
    "  --dim        embedding dimension\n"
    "  --seed       data seed (queries use seed + 1)\n"
    "  --embed-max  entries of the add-with-embedding measurement: min(size, this)\n"
    "  --passes     passes of the interleaved memory / store measurement\n"
    "  --vectors    the entries' vectors: their HashingEmbedder embeddings (default), or\n"
    "               embedding-like vectors (tests/support) that mimic a model's; the latter\n"
    "               skips the text searches and the add with the embedding call\n"
    "  --out        also write the results as JSON to FILE\n";

[[noreturn]] void bad_flag(const std::string& message) {
  std::fprintf(stderr, "memory_bench: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::size_t parse_size(const std::string& flag, const std::string& v, std::size_t lo,
                       std::size_t hi) {
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || end != v.c_str() + v.size() || x < lo || x > hi) {
    bad_flag(flag + ": '" + v + "' is not an integer in " + std::to_string(lo) + ".." +
             std::to_string(hi));
  }
  return static_cast<std::size_t>(x);
}

[[noreturn]] void fail(const std::string& what, const hnswstore::Status& status) {
  std::fprintf(stderr, "memory_bench: %s: %s\n", what.c_str(), status.to_string().c_str());
  std::exit(1);
}

double micros_since(SteadyClock::time_point t) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - t).count();
}

// Nearest rank of a copy.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// The mean of the middle 80 % of the values (robust to load spikes).
double trimmed_mean(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t cut = v.size() / 10;
  double sum = 0;
  for (std::size_t i = cut; i < v.size() - cut; ++i) sum += v[i];
  return sum / static_cast<double>(v.size() - 2 * cut);
}

// Heap bytes in use (glibc: every arena plus mmapped chunks), after returning free memory.
std::size_t heap_bytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  malloc_trim(0);
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

std::size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string m = line.substr(colon + 1);
        m.erase(0, m.find_first_not_of(" \t"));
        return m;
      }
    }
  }
  return "unknown";
}

// The 1-minute load average (the machine may be shared; latencies suffer when it is above the
// number of cores).
double load_average() {
  std::ifstream f("/proc/loadavg");
  double l = -1;
  f >> l;
  return l;
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

// The entries and their precomputed embeddings.
struct Data {
  std::size_t dim = 0;
  std::vector<convdata::Turn> turns;
  std::vector<float> embeddings;           // turns.size() x dim
  std::vector<std::string> metadata_text;  // {"topic": ...} dumped

  hm::EpisodicEntry entry(std::size_t i, bool with_embedding) const {
    const convdata::Turn& t = turns[i];
    hm::EpisodicEntry e;
    e.id = t.id;
    e.session_id = t.session_id;
    e.role = t.role;
    e.content = t.content;
    e.timestamp = t.timestamp;
    e.metadata = {{"topic", t.topic}};
    if (with_embedding) {
      e.embedding.emplace(embeddings.begin() + static_cast<std::ptrdiff_t>(i * dim),
                          embeddings.begin() + static_cast<std::ptrdiff_t>((i + 1) * dim));
    }
    return e;
  }
  // The brief's raw size: vector + content + session id + role + two timestamps + metadata.
  double raw_bytes_per_entry(std::size_t n) const {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      sum += static_cast<double>(4 * dim + turns[i].content.size() + turns[i].session_id.size() +
                                 turns[i].role.size() + 16 + metadata_text[i].size());
    }
    return sum / static_cast<double>(n);
  }
};

std::vector<std::vector<float>> embed_all(const std::vector<std::string>& texts, std::size_t dim) {
  const hm::HashingEmbedder embedder(dim);
  std::vector<std::vector<float>> out(texts.size());
  const std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t i = t; i < texts.size(); i += threads) out[i] = embedder.embed_one(texts[i]);
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

hm::EpisodicMemory make_memory(hm::EpisodicBackend backend, std::size_t dim,
                               std::shared_ptr<hm::EmbeddingService>* service_out) {
  auto service = std::make_shared<hm::EmbeddingService>(std::make_shared<hm::HashingEmbedder>(dim));
  *service_out = service;
  auto memory = hm::EpisodicMemory::create(hm::MemoryConfig{}
                                               .with_backend(backend)
                                               .with_hnsw_config(hnswstore::HnswParams::balanced())
                                               .with_embedding_service(service));
  if (!memory) fail("create", memory.error());
  return std::move(*memory);
}

// Adds entries [0, n) in chunks; returns the seconds spent inside add_batch.
double fill(hm::EpisodicMemory& memory, const Data& data, std::size_t n, bool with_embedding) {
  double seconds = 0;
  for (std::size_t b = 0; b < n; b += kChunk) {
    std::vector<hm::EpisodicEntry> batch;
    batch.reserve(kChunk);
    for (std::size_t i = b; i < std::min(n, b + kChunk); ++i) {
      batch.push_back(data.entry(i, with_embedding));
    }
    const auto start = SteadyClock::now();
    auto ids = memory.add_batch(std::move(batch));
    seconds += std::chrono::duration<double>(SteadyClock::now() - start).count();
    if (!ids) fail("add_batch", ids.error());
  }
  if (memory.size() != n) {
    std::fprintf(stderr, "memory_bench: memory holds %zu entries, expected %zu\n", memory.size(),
                 n);
    std::exit(1);
  }
  return seconds;
}

struct BackendResult {
  hm::EpisodicBackend backend = hm::EpisodicBackend::kInMemory;
  std::string index;  // "flat", "scan" or "graph"
  double add_precomputed_per_s = 0, add_embedding_per_s = 0;
  std::size_t add_embedding_n = 0;
  std::vector<double> text_us, vector_us, memory_us, store_us, paired_diff_us;
  std::vector<std::vector<std::string>> vector_ids;  // per query, from search(span)
  std::vector<std::vector<float>> vector_scores;     // their scores
  hm::CacheStats text_cache;                         // during the text searches
  std::size_t ns_memory_bytes = 0, graph_bytes = 0;
  std::ptrdiff_t heap_growth = 0, rss_growth = 0;
  hm::MemoryStats reported;
  double recall_vs_inmemory = 1.0, recall_ties_vs_inmemory = 1.0;
  // HNSW with a graph: the store search's recall (by id, against InMemory) and p50 by ef.
  struct EfPoint {
    std::size_t ef;
    double recall, p50_us;
  };
  std::vector<EfPoint> ef_sweep;
  std::size_t short_results = 0;

  double overhead_us() const { return percentile(memory_us, 0.5) - percentile(store_us, 0.5); }
  double overhead_ratio() const { return overhead_us() / percentile(store_us, 0.5); }
};

std::string us(double v) {
  char buf[32];
  if (std::isnan(v)) return "-";
  if (v >= 1000) {
    std::snprintf(buf, sizeof buf, "%.2f ms", v / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f µs", v);
  }
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes = {100, 1000, 10000, 100000};
  std::size_t n_queries = 200, dim = 384, embed_max = 10000, passes = 3;
  std::uint64_t seed = 1;
  std::string out;
  bool hashing_vectors = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) bad_flag(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--sizes") {
      sizes.clear();
      for (std::size_t pos = 0; pos <= v.size();) {
        const std::size_t comma = std::min(v.find(',', pos), v.size());
        sizes.push_back(parse_size(a, v.substr(pos, comma - pos), 1, 10000000));
        pos = comma + 1;
      }
    } else if (a == "--queries") {
      n_queries = parse_size(a, v, 1, 1000000);
    } else if (a == "--dim") {
      dim = parse_size(a, v, 8, 65536);
    } else if (a == "--seed") {
      seed = parse_size(a, v, 0, SIZE_MAX);
    } else if (a == "--embed-max") {
      embed_max = parse_size(a, v, 1, 10000000);
    } else if (a == "--passes") {
      passes = parse_size(a, v, 1, 1000);
    } else if (a == "--vectors") {
      if (v != "hashing" && v != "embedding-like") bad_flag("--vectors: hashing or embedding-like");
      hashing_vectors = v == "hashing";
    } else if (a == "--out") {
      out = v;
    } else {
      bad_flag("unknown option " + a);
    }
  }
  const std::size_t max_n = *std::max_element(sizes.begin(), sizes.end());
  const unsigned nproc = std::max(1u, std::thread::hardware_concurrency());

  // Data: enough sessions for the largest size, embedded once.
  const auto t0 = SteadyClock::now();
  convdata::GeneratorOptions gen;
  gen.sessions = max_n / 20 + 2;
  gen.min_turns = 16;
  gen.max_turns = 24;
  gen.facts_per_session = 0;
  gen.distractors_per_fact = 0;
  gen.seed = seed;
  Data data;
  data.dim = dim;
  data.turns = convdata::generate(gen).turns;
  while (data.turns.size() < max_n) {  // cannot happen with >= 16 turns a session; kept safe
    gen.sessions *= 2;
    data.turns = convdata::generate(gen).turns;
  }
  data.turns.resize(max_n);
  std::vector<std::string> contents;
  contents.reserve(max_n);
  for (const auto& t : data.turns) {
    contents.push_back(t.content);
    data.metadata_text.push_back(hnswstore::Metadata{{"topic", t.topic}}.dump());
  }
  if (hashing_vectors) {
    auto rows = embed_all(contents, dim);
    data.embeddings.reserve(max_n * dim);
    for (const auto& r : rows) data.embeddings.insert(data.embeddings.end(), r.begin(), r.end());
  } else {
    data.embeddings = hnswstore::testing::embedding_like(max_n, dim, seed).data;
  }
  const std::set<std::string> content_set(contents.begin(), contents.end());
  std::vector<std::string> all_queries = convdata::question_texts(n_queries + kWarmup, seed + 1);
  for (const std::string& q : all_queries) {
    if (content_set.count(q) != 0) {
      std::fprintf(stderr, "memory_bench: a query equals an entry: %s\n", q.c_str());
      return 1;
    }
  }
  const std::vector<std::string> warm_texts(
      all_queries.begin(), all_queries.begin() + static_cast<std::ptrdiff_t>(kWarmup));
  const std::vector<std::string> queries(all_queries.begin() + static_cast<std::ptrdiff_t>(kWarmup),
                                         all_queries.end());
  auto rows_of = [dim](const hnswstore::testing::Matrix& m) {
    std::vector<std::vector<float>> rows;
    for (std::size_t i = 0; i < m.rows; ++i) rows.emplace_back(m.row(i), m.row(i) + dim);
    return rows;
  };
  const auto query_vectors =
      hashing_vectors ? embed_all(queries, dim)
                      : rows_of(hnswstore::testing::embedding_like(queries.size(), dim, seed + 1));
  const auto warm_vectors =
      hashing_vectors ? embed_all(warm_texts, dim)
                      : rows_of(hnswstore::testing::embedding_like(kWarmup, dim, seed + 2));
  double content_bytes = 0;
  for (const auto& c : contents) content_bytes += static_cast<double>(c.size());
  const double prep_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();

  const double load_start = load_average();
  std::printf(
      "memory_bench: EpisodicMemory, InMemory vs HNSW, %s, hnswstore %s, %u threads (%s), "
      "load average %.2f at the start\n",
      today().c_str(), hnswstore::version(), nproc, cpu_model().c_str(), load_start);
  if (hashing_vectors) {
    std::printf(
        "entries: generated conversation turns (mean %.0f bytes, sessions of 16..24 turns, "
        "metadata {\"topic\"}), HashingEmbedder(%zu) embeddings precomputed once (%.1f s with "
        "the data); %zu distinct query texts, new to each memory's embedding cache, k = %zu; "
        "HNSW = HnswParams::balanced()\n",
        content_bytes / static_cast<double>(max_n), dim, prep_s, queries.size(), kTopK);
  } else {
    std::printf(
        "entries: generated conversation turns (mean %.0f bytes, sessions of 16..24 turns, "
        "metadata {\"topic\"}) with EMBEDDING-LIKE vectors instead of their embeddings "
        "(tests/support: a 32-dimensional Gaussian latent mapped to %zu dimensions, seed %llu; "
        "queries seed %llu), %.1f s with the data; %zu queries, k = %zu; HNSW = "
        "HnswParams::balanced(). No text search and no add with the embedding call in this "
        "mode (the embedder's vectors would not match the entries' distribution)\n",
        content_bytes / static_cast<double>(max_n), dim, static_cast<unsigned long long>(seed),
        static_cast<unsigned long long>(seed + 1), prep_s, queries.size(), kTopK);
  }
  std::fflush(stdout);

  nlohmann::json jsizes = nlohmann::json::array();
  struct SizeResult {
    std::size_t n;
    double raw;
    BackendResult r[2];
  };
  std::vector<SizeResult> results;
  std::size_t short_total = 0;
  for (const std::size_t n : sizes) {
    SizeResult sr{n, data.raw_bytes_per_entry(n), {}};
    std::vector<hm::EpisodicMemory> memories;
    memories.reserve(2);
    std::vector<std::shared_ptr<hm::EmbeddingService>> services(2);
    for (int b = 0; b < 2; ++b) {
      BackendResult& r = sr.r[b];
      r.backend = b == 0 ? hm::EpisodicBackend::kInMemory : hm::EpisodicBackend::kHnsw;
      const std::size_t heap0 = heap_bytes(), rss0 = rss_bytes();
      memories.push_back(make_memory(r.backend, dim, &services[b]));
      hm::EpisodicMemory& memory = memories.back();
      const double s = fill(memory, data, n, true);
      r.add_precomputed_per_s = static_cast<double>(n) / s;
      const std::size_t heap1 = heap_bytes(), rss1 = rss_bytes();
      r.heap_growth = static_cast<std::ptrdiff_t>(heap1) - static_cast<std::ptrdiff_t>(heap0);
      r.rss_growth = static_cast<std::ptrdiff_t>(rss1) - static_cast<std::ptrdiff_t>(rss0);
      const auto st = memory.store_namespace().stats();
      r.ns_memory_bytes = st.memory_bytes;
      r.graph_bytes = st.graph_bytes;
      r.index = st.index == hnswstore::IndexKind::kFlat ? "flat"
                : st.graph_bytes > 0                    ? "graph"
                                                        : "scan";
    }
    const std::size_t expect = std::min(kTopK, n);
    for (int b = 0; b < 2; ++b) {
      BackendResult& r = sr.r[b];
      const hm::EpisodicMemory& memory = memories[b];
      const hnswstore::Namespace ns = memory.store_namespace();
      auto check = [&](std::size_t got) {
        if (got < expect) ++r.short_results;
      };
      for (std::size_t i = 0; i < kWarmup; ++i) {
        if (hashing_vectors) check(memory.search(warm_texts[i], kTopK).value().size());
        check(memory.search(std::span<const float>(warm_vectors[i]), kTopK).value().size());
        check(ns.search(warm_vectors[i], {.k = kTopK}).value().size());
      }
      // With and without the embedding call, query by query, the order alternating (so that
      // drift of the machine's load hits both alike).
      const hm::CacheStats before = services[b]->cache_stats();
      r.vector_ids.resize(queries.size());
      r.vector_scores.resize(queries.size());
      for (std::size_t i = 0; i < queries.size(); ++i) {
        for (int step = 0; step < 2; ++step) {
          if ((step == 0) == (i % 2 == 0)) {
            if (!hashing_vectors) continue;
            const auto start = SteadyClock::now();
            auto hits = memory.search(queries[i], kTopK);
            r.text_us.push_back(micros_since(start));
            if (!hits) fail("search(text)", hits.error());
            check(hits->size());
          } else {
            const auto start = SteadyClock::now();
            auto hits = memory.search(std::span<const float>(query_vectors[i]), kTopK);
            r.vector_us.push_back(micros_since(start));
            if (!hits) fail("search(vector)", hits.error());
            check(hits->size());
            for (const auto& h : *hits) {
              r.vector_ids[i].push_back(h.entry.id);
              r.vector_scores[i].push_back(h.score);
            }
          }
        }
      }
      const hm::CacheStats after = services[b]->cache_stats();
      r.text_cache = {after.hits - before.hits, after.misses - before.misses};
      // The memory's vector search against the store search it issues, interleaved.
      for (std::size_t p = 0; p < passes; ++p) {
        for (std::size_t i = 0; i < query_vectors.size(); ++i) {
          const std::span<const float> qv(query_vectors[i]);
          double tm = 0, ts = 0;
          for (int step = 0; step < 2; ++step) {
            const bool memory_turn = (step == 0) == ((i + p) % 2 == 0);
            const auto start = SteadyClock::now();
            if (memory_turn) {
              auto hits = memory.search(qv, kTopK);
              tm = micros_since(start);
              if (!hits) fail("search(vector)", hits.error());
              check(hits->size());
            } else {
              auto hits = ns.search(qv, {.k = kTopK});
              ts = micros_since(start);
              if (!hits) fail("store search", hits.error());
              check(hits->size());
            }
          }
          r.memory_us.push_back(tm);
          r.store_us.push_back(ts);
          r.paired_diff_us.push_back(tm - ts);
        }
      }
      r.reported = memory.stats();
      short_total += r.short_results;
    }
    // HNSW's recall against InMemory's exact answer: by id, and counting ties (an HNSW result
    // scoring at least the exact 10th score, within float rounding, is as good as any).
    double recall = 0, recall_ties = 0;
    for (std::size_t q = 0; q < queries.size(); ++q) {
      const auto& truth = sr.r[0].vector_ids[q];
      const auto& got = sr.r[1].vector_ids[q];
      if (truth.empty()) {
        recall += 1;
        recall_ties += 1;
        continue;
      }
      const float last = sr.r[0].vector_scores[q].back();
      std::size_t found = 0, good = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        found += std::count(truth.begin(), truth.end(), got[i]) > 0;
        good += sr.r[1].vector_scores[q][i] >= last - 1e-5f;
      }
      const auto t = static_cast<double>(truth.size());
      recall += static_cast<double>(found) / t;
      recall_ties += static_cast<double>(std::min(good, truth.size())) / t;
    }
    sr.r[1].recall_vs_inmemory = recall / static_cast<double>(queries.size());
    sr.r[1].recall_ties_vs_inmemory = recall_ties / static_cast<double>(queries.size());
    if (sr.r[1].index == "graph") {
      const hnswstore::Namespace ns = memories[1].store_namespace();
      for (const std::size_t ef :
           {std::size_t{50}, std::size_t{100}, std::size_t{200}, std::size_t{400}}) {
        double found = 0;
        std::vector<double> lat;
        for (std::size_t q = 0; q < queries.size(); ++q) {
          const auto start = SteadyClock::now();
          auto hits = ns.search(query_vectors[q], {.k = kTopK, .ef = ef});
          lat.push_back(micros_since(start));
          if (!hits) fail("store search", hits.error());
          const auto& truth = sr.r[0].vector_ids[q];
          for (const auto& h : *hits) {
            found += std::count(truth.begin(), truth.end(), h.id) > 0 ? 1.0 : 0.0;
          }
        }
        sr.r[1].ef_sweep.push_back(
            {ef, found / static_cast<double>(queries.size() * expect), percentile(lat, 0.5)});
      }
    }
    memories.clear();
    services = {};

    // Add throughput with the embedding call, on a fresh memory per backend.
    const std::size_t m = hashing_vectors ? std::min(n, embed_max) : 0;
    for (int b = 0; b < 2 && m > 0; ++b) {
      std::shared_ptr<hm::EmbeddingService> service;
      hm::EpisodicMemory memory = make_memory(sr.r[b].backend, dim, &service);
      sr.r[b].add_embedding_n = m;
      sr.r[b].add_embedding_per_s = static_cast<double>(m) / fill(memory, data, m, false);
    }
    std::fprintf(stderr, "memory_bench: %zu entries done\n", n);
    results.push_back(std::move(sr));
  }

  const double load_end = load_average();
  // ---- Tables ----
  struct Guide {
    std::size_t n;
    const char *inmemory, *hnsw, *speedup;
  };
  const Guide guide[] = {{100, "~47µs", "~3µs", "15x"},
                         {1000, "~470µs", "~5µs", "94x"},
                         {10000, "~4.7ms", "~10µs", "470x"},
                         {100000, "~47ms", "~20µs", "2,350x"}};
  auto guide_for = [&](std::size_t n) -> const Guide* {
    for (const Guide& g : guide) {
      if (g.n == n) return &g;
    }
    return nullptr;
  };

  std::printf(
      "\n### The guide's table, measured (vector search p50, k = 10, no embedding call)\n\n");
  std::printf(
      "| entries | InMemory | HNSW | HNSW index | speed-up | HNSW recall@10 (ties counted) | "
      "guide InMemory | guide HNSW | guide speed-up |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const SizeResult& sr : results) {
    const double a = percentile(sr.r[0].vector_us, 0.5), h = percentile(sr.r[1].vector_us, 0.5);
    const Guide* g = guide_for(sr.n);
    std::printf("| %zu | %s | %s | %s | %.1fx | %.3f (%.3f) | %s | %s | %s |\n", sr.n,
                us(a).c_str(), us(h).c_str(), sr.r[1].index.c_str(), a / h,
                sr.r[1].recall_vs_inmemory, sr.r[1].recall_ties_vs_inmemory, g ? g->inmemory : "-",
                g ? g->hnsw : "-", g ? g->speedup : "-");
  }

  bool any_sweep = false;
  for (const SizeResult& sr : results) any_sweep |= !sr.r[1].ef_sweep.empty();
  if (any_sweep) {
    std::printf(
        "\nHNSW with a graph, the store's own search at other ef (recall@10 by id against "
        "InMemory, p50):\n\n| entries | ef | recall@10 | p50 |\n|---|---|---|---|\n");
    for (const SizeResult& sr : results) {
      for (const auto& e : sr.r[1].ef_sweep) {
        std::printf("| %zu | %zu | %.3f | %s |\n", sr.n, e.ef, e.recall, us(e.p50_us).c_str());
      }
    }
  }

  std::printf(
      "\n### Search latency (k = 10; with embedding = search(text), the query embedded by "
      "HashingEmbedder on each call)\n\n");
  std::printf(
      "| entries | backend | index | with embedding p50 | p99 | without p50 | p99 | store "
      "search p50 | memory overhead p50 | overhead / store | paired difference, trimmed mean | "
      "text-search cache hits/misses |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const SizeResult& sr : results) {
    for (const BackendResult& r : sr.r) {
      std::printf("| %zu | %s | %s | %s | %s | %s | %s | %s | %s | %.1f %% | %s | %zu/%zu |\n",
                  sr.n, std::string(hm::backend_name(r.backend)).c_str(), r.index.c_str(),
                  us(r.text_us.empty() ? NAN : percentile(r.text_us, 0.5)).c_str(),
                  us(r.text_us.empty() ? NAN : percentile(r.text_us, 0.99)).c_str(),
                  us(percentile(r.vector_us, 0.5)).c_str(),
                  us(percentile(r.vector_us, 0.99)).c_str(),
                  us(percentile(r.store_us, 0.5)).c_str(), us(r.overhead_us()).c_str(),
                  100 * r.overhead_ratio(), us(trimmed_mean(r.paired_diff_us)).c_str(),
                  r.text_cache.hits, r.text_cache.misses);
    }
  }

  std::printf("\n### Add throughput (add_batch, chunks of %zu)\n\n", kChunk);
  std::printf(
      "| entries | backend | precomputed embeddings, entries/s | with the embedding call, "
      "entries/s | (on entries) |\n|---|---|---|---|---|\n");
  for (const SizeResult& sr : results) {
    for (const BackendResult& r : sr.r) {
      if (r.add_embedding_n == 0) {
        std::printf("| %zu | %s | %.0f | - | - |\n", sr.n,
                    std::string(hm::backend_name(r.backend)).c_str(), r.add_precomputed_per_s);
        continue;
      }
      std::printf("| %zu | %s | %.0f | %.0f | %zu |\n", sr.n,
                  std::string(hm::backend_name(r.backend)).c_str(), r.add_precomputed_per_s,
                  r.add_embedding_per_s, r.add_embedding_n);
    }
  }

  std::printf(
      "\n### Memory per entry (raw = 4 x %zu + content + session id + role + 16 + metadata "
      "JSON)\n\n",
      dim);
  std::printf(
      "| entries | backend | raw B | namespace B | / raw | heap growth B | / raw | RSS growth "
      "B | / raw | heap beyond the %zu B vector | guide beyond the vector |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n",
      4 * dim);
  for (const SizeResult& sr : results) {
    for (const BackendResult& r : sr.r) {
      const double n = static_cast<double>(sr.n);
      const double nsb = static_cast<double>(r.ns_memory_bytes) / n;
      const double hb = static_cast<double>(r.heap_growth) / n;
      const double rb = static_cast<double>(r.rss_growth) / n;
      std::printf("| %zu | %s | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f | %.2f | %.0f | %s |\n",
                  sr.n, std::string(hm::backend_name(r.backend)).c_str(), sr.raw, nsb, nsb / sr.raw,
                  hb, hb / sr.raw, rb, rb / sr.raw, hb - static_cast<double>(4 * dim),
                  r.backend == hm::EpisodicBackend::kHnsw ? "~300 B" : "~200 B");
    }
  }
  std::printf("\nLoad average %.2f at the end (%u cores).\n", load_end, nproc);
  std::printf(
      "Heap and RSS growth include the memory's fixed costs (store, service, hnswlib's "
      "locks once a graph exists), which dominate at small sizes.\n");
  std::printf(
      "Targets: memory overhead <= 10 %% of the store search at 10K and 100K; memory per "
      "entry <= 1.3 x raw.\n");
  for (const SizeResult& sr : results) {
    if (sr.n < 10000) continue;
    for (const BackendResult& r : sr.r) {
      const double hb = static_cast<double>(r.heap_growth) / static_cast<double>(sr.n);
      std::printf("- %zu %s: overhead %.1f %% (%s), memory %.2f x raw by heap growth (%s)\n", sr.n,
                  std::string(hm::backend_name(r.backend)).c_str(), 100 * r.overhead_ratio(),
                  r.overhead_ratio() <= 0.10 ? "met" : "NOT met", hb / sr.raw,
                  hb / sr.raw <= 1.3 ? "met" : "NOT met");
    }
  }

  if (!out.empty()) {
    nlohmann::json j;
    j["date"] = today();
    j["machine"] = {{"nproc", nproc},
                    {"cpu", cpu_model()},
                    {"load_average_start", load_start},
                    {"load_average_end", load_end}};
    j["hnswstore"] = hnswstore::version();
    j["parameters"] = {
        {"sizes", sizes},   {"queries", queries.size()},
        {"dim", dim},       {"seed", seed},
        {"k", kTopK},       {"vectors", hashing_vectors ? "hashing" : "embedding-like"},
        {"chunk", kChunk},  {"embed_max", embed_max},
        {"passes", passes}, {"mean_content_bytes", content_bytes / static_cast<double>(max_n)}};
    for (const SizeResult& sr : results) {
      nlohmann::json backends = nlohmann::json::array();
      for (const BackendResult& r : sr.r) {
        auto lat = [](const std::vector<double>& v) {
          return nlohmann::json{{"p50_us", percentile(v, 0.5)},
                                {"p99_us", percentile(v, 0.99)},
                                {"samples", v.size()}};
        };
        const double n = static_cast<double>(sr.n);
        backends.push_back(
            {{"backend", hm::backend_name(r.backend)},
             {"index", r.index},
             {"add_precomputed_per_s", r.add_precomputed_per_s},
             {"add_embedding_per_s", r.add_embedding_per_s},
             {"add_embedding_entries", r.add_embedding_n},
             {"search_with_embedding", lat(r.text_us)},
             {"search_without_embedding", lat(r.vector_us)},
             {"interleaved_memory_search", lat(r.memory_us)},
             {"interleaved_store_search", lat(r.store_us)},
             {"overhead_p50_us", r.overhead_us()},
             {"overhead_ratio", r.overhead_ratio()},
             {"paired_difference_trimmed_mean_us", trimmed_mean(r.paired_diff_us)},
             {"ef_sweep",
              [&] {
                nlohmann::json a = nlohmann::json::array();
                for (const auto& e : r.ef_sweep) {
                  a.push_back({{"ef", e.ef}, {"recall_at_10", e.recall}, {"p50_us", e.p50_us}});
                }
                return a;
              }()},
             {"text_search_cache", {{"hits", r.text_cache.hits}, {"misses", r.text_cache.misses}}},
             {"recall_at_10_vs_inmemory", r.recall_vs_inmemory},
             {"recall_at_10_vs_inmemory_ties", r.recall_ties_vs_inmemory},
             {"namespace_memory_bytes", r.ns_memory_bytes},
             {"graph_bytes", r.graph_bytes},
             {"heap_growth_bytes", r.heap_growth},
             {"rss_growth_bytes", r.rss_growth},
             {"namespace_bytes_per_entry", static_cast<double>(r.ns_memory_bytes) / n},
             {"heap_bytes_per_entry", static_cast<double>(r.heap_growth) / n},
             {"rss_bytes_per_entry", static_cast<double>(r.rss_growth) / n},
             {"memory_reported",
              {{"entries", r.reported.entries},
               {"sessions", r.reported.sessions},
               {"searches", r.reported.searches},
               {"search_p50_us", r.reported.search_p50.count()},
               {"search_p95_us", r.reported.search_p95.count()},
               {"search_p99_us", r.reported.search_p99.count()}}},
             {"short_results", r.short_results}});
      }
      jsizes.push_back(
          {{"entries", sr.n}, {"raw_bytes_per_entry", sr.raw}, {"backends", backends}});
    }
    j["sizes"] = jsizes;
    j["ok"] = short_total == 0;
    std::ofstream f(out);
    f << j.dump(2) << '\n';
    if (!f) {
      std::fprintf(stderr, "memory_bench: cannot write %s\n", out.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", out.c_str());
  }
  if (short_total != 0) {
    std::fprintf(stderr, "memory_bench: FAILED: %zu searches returned fewer than min(10, N)\n",
                 short_total);
    return 1;
  }
  return 0;
}
