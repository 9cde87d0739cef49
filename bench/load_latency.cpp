// load_latency: search latency while a bulk load runs on the same namespace.
//
//   load_latency [--dim 128] [--base 10000] [--load 100000] [--queries 1000] [--threads 0]
//                [--searchers 1] [--idle-seconds 3] [--metric cosine|l2] [--seed 1] [--out FILE]
//
// Data: embedding_like(base + load, dim, seed) from tests/support (the first `base` rows are the
// namespace's initial records, the other `load` rows the bulk load); the queries are a separate
// embedding_like draw (seed + 1, same matrix). One HNSW namespace with the default HnswParams
// (m 16, ef_construction 200, ef_search 50), k 10, an in-memory store with
// StoreOptions::threads = --threads (0: all cores). Phases, in this order:
//   - load alone:   a fresh namespace with the `base` records, then ONE columnar
//                   Namespace::upsert(ids, vectors) of the `load` records, no searcher running;
//                   its wall time is the reference for the load under searches. Dropped after.
//   - idle before:  a namespace with the `base` records; one searcher thread runs the queries
//                   round-robin for --idle-seconds and at least 2,000 searches.
//   - during load:  one thread (main) calls the same single bulk upsert on that namespace while
//                   --searchers threads loop over the queries until it returns.
//   - idle after:   as idle before, on the namespace now holding base + load records.
//   - during compact: one record in ten is removed, then compact() runs (it rebuilds the graph
//                   beside the searches and swaps it in) while the searchers loop.
// Every latency is one call of Namespace::search, timed with steady_clock. Prints per phase the
// number of searches, p50/p90/p99/p99.9/max latency in ms and searches/s, and the load times;
// --out also writes them as JSON. Exits 1 if a search failed or returned fewer than
// min(k, size()) hits (size() read just before the search), 2 for bad flags.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

using Clock = std::chrono::steady_clock;
using hnswstore::Metric;
using hnswstore::Namespace;
using hnswstore::VectorStore;
using hnswstore::testing::Matrix;

namespace {

constexpr std::size_t kK = 10;
constexpr std::size_t kMinIdleSearches = 2000;

constexpr const char* kUsage =
    "usage: load_latency [--dim 128] [--base 10000] [--load 100000] [--queries 1000]\n"
    "                    [--threads 0] [--searchers 1] [--idle-seconds 3] [--metric cosine|l2]\n"
    "                    [--seed 1] [--out FILE]\n"
    "  --dim           vector dimension (1..65536)\n"
    "  --base          records in the namespace before the load (>= 1)\n"
    "  --load          records of the single bulk upsert (>= 1)\n"
    "  --queries       distinct queries, a separate embedding-like draw (>= 1)\n"
    "  --threads       StoreOptions::threads for the bulk upserts; 0 = all cores\n"
    "  --searchers     searcher threads during the load (1..1024)\n"
    "  --idle-seconds  length of each idle phase (at least 2,000 searches are run anyway)\n"
    "  --metric        cosine or l2\n"
    "  --seed          data seed; the queries use seed + 1\n"
    "  --out           also write the results as JSON to FILE\n";

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void bad_flag(const std::string& message) {
  std::fprintf(stderr, "load_latency: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::size_t parse_size(const std::string& flag, const std::string& v, std::size_t lo,
                       std::size_t hi) {
  std::size_t out = 0;
  const char* end = v.data() + v.size();
  const auto [p, ec] = std::from_chars(v.data(), end, out);
  if (v.empty() || ec != std::errc() || p != end) {
    bad_flag(flag + ": '" + v + "' is not a non-negative integer");
  }
  if (out < lo || out > hi) {
    bad_flag(flag + ": " + v + " is out of range " + std::to_string(lo) + ".." +
             std::to_string(hi));
  }
  return out;
}

double parse_seconds(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double out = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !std::isfinite(out) || out < 0 ||
      out > 86400) {
    bad_flag(flag + ": '" + v + "' is not a number of seconds in 0..86400");
  }
  return out;
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

// What the searchers of one phase saw.
struct PhaseResult {
  std::string name;
  std::vector<double> latencies_ms;  // sorted after finish()
  double wall_s = 0;                 // from the start signal until the searchers stopped
  std::size_t errors = 0;            // searches that returned an error
  std::size_t short_results = 0;     // fewer than min(k, size()) hits
  std::string first_problem;

  std::size_t searches() const { return latencies_ms.size(); }
  double percentile(double p) const {  // nearest rank
    if (latencies_ms.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(searches())));
    return latencies_ms[std::min(searches() - 1, rank == 0 ? 0 : rank - 1)];
  }
  double max() const { return latencies_ms.empty() ? 0 : latencies_ms.back(); }
  double mean() const {
    double sum = 0;
    for (const double l : latencies_ms) sum += l;
    return latencies_ms.empty() ? 0 : sum / static_cast<double>(searches());
  }
  double qps() const { return wall_s > 0 ? static_cast<double>(searches()) / wall_s : 0; }
};

// One searcher thread's own record, merged into a PhaseResult afterwards.
struct SearcherLog {
  std::vector<double> latencies_ms;
  std::size_t errors = 0, short_results = 0;
  std::string first_problem;
};

// Runs queries round-robin from `start` until stop() says so (checked before each search).
template <class Stop>
void search_loop(const Namespace& ns, const Matrix& queries, std::size_t start, Stop stop,
                 SearcherLog& log) {
  const hnswstore::SearchOptions options{.k = kK};
  std::size_t q = start % queries.rows;
  while (!stop(log.latencies_ms.size())) {
    const std::span<const float> query(queries.row(q), queries.cols);
    const std::size_t expected = std::min(kK, ns.size());  // the size only grows meanwhile
    const auto t0 = Clock::now();
    auto hits = ns.search(query, options);
    const auto t1 = Clock::now();
    log.latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    if (!hits) {
      if (log.errors++ == 0 && log.first_problem.empty()) {
        log.first_problem = "query " + std::to_string(q) + ": " + hits.error().to_string();
      }
    } else if (hits->size() < expected) {
      if (log.short_results++ == 0 && log.first_problem.empty()) {
        log.first_problem = "query " + std::to_string(q) + ": " + std::to_string(hits->size()) +
                            " hits, expected at least " + std::to_string(expected);
      }
    }
    q = (q + 1) % queries.rows;
  }
}

PhaseResult merge(std::string name, std::vector<SearcherLog>& logs, double wall_s) {
  PhaseResult r;
  r.name = std::move(name);
  r.wall_s = wall_s;
  for (SearcherLog& log : logs) {
    r.latencies_ms.insert(r.latencies_ms.end(), log.latencies_ms.begin(), log.latencies_ms.end());
    r.errors += log.errors;
    r.short_results += log.short_results;
    if (r.first_problem.empty()) r.first_problem = log.first_problem;
  }
  std::sort(r.latencies_ms.begin(), r.latencies_ms.end());
  return r;
}

// One searcher thread for `seconds` and at least kMinIdleSearches searches.
PhaseResult idle_phase(std::string name, const Namespace& ns, const Matrix& queries,
                       double seconds) {
  std::vector<SearcherLog> logs(1);
  logs[0].latencies_ms.reserve(1 << 16);
  const auto start = Clock::now();
  std::thread t([&] {
    search_loop(ns, queries, 0,
                [&](std::size_t done) {
                  return done >= kMinIdleSearches && seconds_since(start) >= seconds;
                },
                logs[0]);
  });
  t.join();
  return merge(std::move(name), logs, seconds_since(start));
}

std::vector<std::string> make_ids(std::size_t begin, std::size_t end) {
  std::vector<std::string> ids;
  ids.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) ids.push_back("doc-" + std::to_string(i));
  return ids;
}

[[noreturn]] void fail(const char* what, const hnswstore::Status& s) {
  std::fprintf(stderr, "load_latency: %s: %s\n", what, s.to_string().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t dim = 128, n_base = 10000, n_load = 100000, n_queries = 1000, threads = 0,
              searchers = 1, seed = 1;
  double idle_seconds = 3;
  Metric metric = Metric::kCosine;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::optional<std::string> value;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (const auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a.resize(eq);
    }
    static constexpr std::string_view kKnown[] = {
        "--dim",       "--base",         "--load",   "--queries", "--threads",
        "--searchers", "--idle-seconds", "--metric", "--out",     "--seed"};
    if (std::find(std::begin(kKnown), std::end(kKnown), a) == std::end(kKnown)) {
      bad_flag("unknown option " + a);
    }
    if (!value) {
      if (i + 1 >= argc) bad_flag(a + " needs a value");
      value = argv[++i];
    }
    const std::string& v = *value;
    if (a == "--dim") {
      dim = parse_size(a, v, 1, 65536);
    } else if (a == "--base") {
      n_base = parse_size(a, v, 1, 100'000'000);
    } else if (a == "--load") {
      n_load = parse_size(a, v, 1, 100'000'000);
    } else if (a == "--queries") {
      n_queries = parse_size(a, v, 1, 10'000'000);
    } else if (a == "--threads") {
      threads = parse_size(a, v, 0, 4096);
    } else if (a == "--searchers") {
      searchers = parse_size(a, v, 1, 1024);
    } else if (a == "--idle-seconds") {
      idle_seconds = parse_seconds(a, v);
    } else if (a == "--metric") {
      if (v == "cosine") {
        metric = Metric::kCosine;
      } else if (v == "l2") {
        metric = Metric::kL2;
      } else {
        bad_flag("--metric: '" + v + "' is not cosine or l2");
      }
    } else if (a == "--seed") {
      seed = parse_size(a, v, 0, SIZE_MAX - 1);
    } else if (a == "--out") {
      if (v.empty()) bad_flag("--out needs a file name");
      out = v;
    }
  }

  const unsigned nproc = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t load_threads = threads != 0 ? threads : nproc;
#ifdef HNSWSTORE_BENCH_FLAGS
  const std::string flags = HNSWSTORE_BENCH_FLAGS;
#else
  const std::string flags = "unknown";
#endif
  std::printf("load_latency: search latency during a bulk load on the same namespace\n");
  std::printf("machine: %u hardware threads (nproc), %s\n", nproc, cpu_model().c_str());
  std::printf("build: %s; hnswstore %s, hnswlib %s\n", flags.c_str(), hnswstore::version(),
              hnswstore::hnswlib_version());
  std::printf(
      "parameters: dim %zu, %s, embedding-like seed %zu (queries seed %zu); base %zu, load %zu "
      "(one columnar upsert), %zu queries, k %zu; HNSW m 16, ef_construction 200, ef_search 50; "
      "store threads %zu%s; %zu searcher thread(s) during the load; idle phases %.2f s and at "
      "least %zu searches\n",
      dim, std::string(hnswstore::to_string(metric)).c_str(), seed, seed + 1, n_base, n_load,
      n_queries, kK, load_threads, threads == 0 ? " (0 = all cores)" : "", searchers,
      idle_seconds, kMinIdleSearches);
  std::fflush(stdout);

  const Matrix data = hnswstore::testing::embedding_like(n_base + n_load, dim, seed);
  const Matrix queries = hnswstore::testing::embedding_like(n_queries, dim, seed + 1);
  const std::vector<std::string> base_ids = make_ids(0, n_base);
  const std::vector<std::string> load_ids = make_ids(n_base, n_base + n_load);
  const std::span<const float> base_vectors(data.data.data(), n_base * dim);
  const std::span<const float> load_vectors(data.data.data() + n_base * dim, n_load * dim);

  hnswstore::StoreOptions store_options;
  store_options.threads = threads;
  hnswstore::NamespaceOptions ns_options;
  ns_options.dimension = dim;
  ns_options.metric = metric;
  ns_options.index = hnswstore::IndexKind::kHnsw;
  ns_options.hnsw = hnswstore::HnswParams{};

  // Phase "load alone": the same base, then the same single bulk upsert, nobody searching.
  double base_build_s = 0, load_alone_s = 0;
  {
    auto store = VectorStore::in_memory(store_options);
    auto created = store.create_namespace("alone", ns_options);
    if (!created) fail("create_namespace", created.error());
    Namespace ns = *created;
    if (auto s = ns.upsert(base_ids, base_vectors); !s.ok()) fail("base upsert", s);
    const auto t0 = Clock::now();
    if (auto s = ns.upsert(load_ids, load_vectors); !s.ok()) fail("load upsert (alone)", s);
    load_alone_s = seconds_since(t0);
    if (ns.size() != n_base + n_load) {
      std::fprintf(stderr, "load_latency: %zu records after the load alone, expected %zu\n",
                   ns.size(), n_base + n_load);
      return 1;
    }
  }
  std::printf("load alone: %zu vectors in %.3f s (%.0f vectors/s)\n", n_load, load_alone_s,
              static_cast<double>(n_load) / load_alone_s);
  std::fflush(stdout);

  auto store = VectorStore::in_memory(store_options);
  auto created = store.create_namespace("bench", ns_options);
  if (!created) fail("create_namespace", created.error());
  Namespace ns = *created;
  {
    const auto t0 = Clock::now();
    if (auto s = ns.upsert(base_ids, base_vectors); !s.ok()) fail("base upsert", s);
    base_build_s = seconds_since(t0);
  }

  std::vector<PhaseResult> phases;
  phases.push_back(idle_phase("idle before", ns, queries, idle_seconds));

  // A phase "during <work>": the searchers wait for `go`, main then runs the work and raises
  // `stop` once it returns. Returns the work's time.
  auto run_during = [&](const std::string& name, auto&& work) {
    std::vector<SearcherLog> logs(searchers);
    std::atomic<std::size_t> ready{0};
    std::atomic<bool> go{false}, stop{false};
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < searchers; ++t) {
      logs[t].latencies_ms.reserve(1 << 16);
      pool.emplace_back([&, t] {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        search_loop(ns, queries, t * n_queries / searchers,
                    [&](std::size_t) { return stop.load(std::memory_order_acquire); }, logs[t]);
      });
    }
    while (ready.load() < searchers) std::this_thread::yield();
    const auto t0 = Clock::now();
    go.store(true, std::memory_order_release);
    const hnswstore::Status s = work();
    const double work_s = seconds_since(t0);
    stop.store(true, std::memory_order_release);
    for (auto& th : pool) th.join();
    const double wall = seconds_since(t0);
    if (!s.ok()) fail(name.c_str(), s);
    phases.push_back(merge(name, logs, wall));
    return work_s;
  };
  const double load_during_s =
      run_during("during load", [&] { return ns.upsert(load_ids, load_vectors); });
  if (ns.size() != n_base + n_load) {
    std::fprintf(stderr, "load_latency: %zu records after the load, expected %zu\n", ns.size(),
                 n_base + n_load);
    return 1;
  }
  phases.push_back(idle_phase("idle after", ns, queries, idle_seconds));
  // compact() rebuilds the graph beside the searches and swaps it in under the exclusive lock:
  // one in ten records removed first, so that there is something to drop.
  for (std::size_t i = 0; i < n_base + n_load; i += 10) {
    const std::string id = "doc-" + std::to_string(i);
    if (auto r = ns.remove(id); !r) fail("remove", r.error());
  }
  const double compact_s = run_during("during compact", [&] { return ns.compact(); });

  // Report.
  std::printf("\nbase build: %zu vectors in %.3f s\n", n_base, base_build_s);
  std::printf("\n| phase | searches | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | searches/s |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const PhaseResult& p : phases) {
    std::printf("| %s | %zu | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f |\n", p.name.c_str(),
                p.searches(), p.percentile(0.50), p.percentile(0.90), p.percentile(0.99),
                p.percentile(0.999), p.max(), p.qps());
  }
  const double slowdown = load_during_s / load_alone_s;
  std::printf("\n| load | vectors | seconds | vectors/s |\n|---|---|---|---|\n");
  std::printf("| alone | %zu | %.3f | %.0f |\n", n_load, load_alone_s,
              static_cast<double>(n_load) / load_alone_s);
  std::printf("| with %zu searcher(s) | %zu | %.3f | %.0f |\n", searchers, n_load, load_during_s,
              static_cast<double>(n_load) / load_during_s);
  std::printf("\nload under searches / load alone: %.2fx the time\n", slowdown);
  std::printf("compact of %zu records (one in ten removed) beside the searches: %.3f s\n",
              ns.size(), compact_s);
  const PhaseResult& during = phases[1];
  if (during.searches() < 1000) {
    std::printf("note: %zu searches during the load; p99.9 is not meaningful below 1,000\n",
                during.searches());
  }

  std::size_t errors = 0, short_results = 0;
  for (const PhaseResult& p : phases) {
    errors += p.errors;
    short_results += p.short_results;
    if (!p.first_problem.empty()) {
      std::fprintf(stderr, "load_latency: %s: %zu errors, %zu short results; first: %s\n",
                   p.name.c_str(), p.errors, p.short_results, p.first_problem.c_str());
    }
  }

  if (!out.empty()) {
    nlohmann::json j;
    j["machine"] = {{"nproc", nproc}, {"cpu", cpu_model()}};
    j["build"] = {{"flags", flags},
                  {"hnswstore", hnswstore::version()},
                  {"hnswlib", hnswstore::hnswlib_version()}};
    j["parameters"] = {{"dim", dim},
                       {"metric", std::string(hnswstore::to_string(metric))},
                       {"seed", seed},
                       {"query_seed", seed + 1},
                       {"base", n_base},
                       {"load", n_load},
                       {"queries", n_queries},
                       {"k", kK},
                       {"m", ns_options.hnsw.m},
                       {"ef_construction", ns_options.hnsw.ef_construction},
                       {"ef_search", ns_options.hnsw.ef_search},
                       {"threads", threads},
                       {"load_threads", load_threads},
                       {"searchers", searchers},
                       {"idle_seconds", idle_seconds},
                       {"min_idle_searches", kMinIdleSearches}};
    nlohmann::json ps = nlohmann::json::array();
    for (const PhaseResult& p : phases) {
      ps.push_back({{"phase", p.name},
                    {"searches", p.searches()},
                    {"seconds", p.wall_s},
                    {"searches_per_s", p.qps()},
                    {"mean_ms", p.mean()},
                    {"p50_ms", p.percentile(0.50)},
                    {"p90_ms", p.percentile(0.90)},
                    {"p99_ms", p.percentile(0.99)},
                    {"p99_9_ms", p.percentile(0.999)},
                    {"max_ms", p.max()},
                    {"errors", p.errors},
                    {"short_results", p.short_results}});
    }
    j["phases"] = ps;
    j["load"] = {{"base_build_s", base_build_s},
                 {"alone_s", load_alone_s},
                 {"alone_vectors_per_s", static_cast<double>(n_load) / load_alone_s},
                 {"during_s", load_during_s},
                 {"during_vectors_per_s", static_cast<double>(n_load) / load_during_s},
                 {"during_over_alone", slowdown}};
    j["compact_s"] = compact_s;
    j["ok"] = errors == 0 && short_results == 0;
    std::ofstream f(out);
    f << j.dump(2) << '\n';
    if (!f) {
      std::fprintf(stderr, "load_latency: cannot write %s\n", out.c_str());
      return 1;
    }
    std::printf("wrote %s\n", out.c_str());
  }
  if (errors != 0 || short_results != 0) {
    std::fprintf(stderr, "load_latency: FAILED: %zu search errors, %zu short results\n", errors,
                 short_results);
    return 1;
  }
  return 0;
}
