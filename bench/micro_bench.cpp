// micro_bench: micro-benchmarks of hnswstore's public API, with Google Benchmark.
//
//   micro_bench [--scale=<f>] [--benchmark_filter=<regex>] [--benchmark_min_time=<s>] ...
//
// Data: embedding-like vectors (tests/support/datasets.hpp); every record has a small metadata
// object {"i": n, "tag": "..."}, and queries come from another seed. Row counts are benchmark
// arguments, shown in each name; --scale=<f> multiplies them all (at least 10 rows), e.g.
// --scale=0.05 for the ctest smoke run (bench.micro_smoke) or --scale=5 for a bigger run.
// StoreOptions::threads is left at 0 (hardware concurrency) throughout.
//
// - BM_UpsertOne/rows/dim: Namespace::upsert of one new record at a time into an HNSW (L2)
//   namespace of `rows` records, reloaded from a saved store (with its graph) before each run;
//   items/s = records/s.
// - BM_UpsertBatch/batch/dim: one columnar batch upsert of `batch` records into a fresh, empty
//   HNSW (L2) namespace, created with the timer paused; items/s = records/s.
// - BM_Save/rows/dim: Namespace::save of an HNSW (L2) namespace in a temporary directory
//   (vectors.bin, graph.bin, config, fsyncs); a metadata update with the timer paused makes each
//   save write. bytes/s = store files written, store_bytes = their size, items/s = records.
// - BM_Load/<graph|rebuild>/rows/dim: VectorStore::open + open_namespace + the first search (which
//   loads the namespace) of a store saved with StoreOptions::save_graph on (the graph is read
//   from graph.bin) or off (the graph is rebuilt from the vectors). items/s = records loaded,
//   bytes/s = store files read.
// - BM_SearchHnsw/<ids|metadata>/rows/dim/ef: k = 10 on an HNSW (L2) namespace at the given ef,
//   with SearchOptions::include_metadata off or on; items/s = queries/s.
// - BM_SearchFlat/rows/dim: k = 10, ids only, on a flat (exact) cosine namespace; bytes/s counts
//   the vectors scanned (rows * dim * 4 bytes per search), items/s = queries/s.
//
// Benchmarks that use several threads or wait for the disk (batch upsert, save, load) compute
// their iterations and rates from wall-clock time; the others from CPU time. The data set of the
// last benchmark is kept for the next one, so the benchmarks are registered in an order that
// shares it. The exit status is 1 when a benchmark failed (its line then reads ERROR OCCURRED).
//
// Build: cmake --preset release && cmake --build --preset release --target micro_bench
// Run:   build/release/bench/micro_bench --benchmark_filter=Search
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

namespace {

namespace fs = std::filesystem;
using hnswstore::IndexKind;
using hnswstore::Metadata;
using hnswstore::Metric;
using hnswstore::Namespace;
using hnswstore::Result;
using hnswstore::Status;
using hnswstore::StoreOptions;
using hnswstore::VectorStore;
using hnswstore::testing::Matrix;

constexpr char kNamespace[] = "bench";
constexpr std::size_t kK = 10;
constexpr std::size_t kQueries = 1000;

// Benchmark runs that called Fail(); main's exit status.
int g_failures = 0;

void Fail(benchmark::State& state, const std::string& message) {
  ++g_failures;
  state.SkipWithError(message.c_str());
}

std::size_t Arg(const benchmark::State& state, int index) {
  return static_cast<std::size_t>(state.range(index));
}

std::span<const float> Row(const Matrix& m, std::size_t i) { return {m.row(i), m.cols}; }

// The data set of a benchmark, and where its records live.
struct Spec {
  std::size_t rows = 0, dim = 0;
  Metric metric = Metric::kL2;
  IndexKind index = IndexKind::kHnsw;
  bool on_disk = false;    // saved to a temporary directory and closed, instead of in memory
  bool save_graph = true;  // StoreOptions::save_graph of that save

  friend bool operator==(const Spec&, const Spec&) = default;
};

struct Fixture {
  Spec spec;
  Matrix base, queries;
  std::vector<std::string> ids;
  std::vector<Metadata> metadata;
  VectorStore store = VectorStore::in_memory();      // in memory: holds `ns`
  Namespace ns;                                      // in memory: the records
  std::unique_ptr<hnswstore::testing::TempDir> dir;  // on disk: the saved store
};

// Creates the namespace of f.spec in `store` and upserts f's records into it.
Result<Namespace> Populate(VectorStore& store, const Fixture& f) {
  hnswstore::NamespaceOptions o{.dimension = f.spec.dim, .metric = f.spec.metric, .index = f.spec.index};
  o.hnsw.graph_threshold = 1;  // HNSW benchmarks measure the graph at every size
  auto ns = store.create_namespace(kNamespace, o);
  if (!ns) return ns;
  if (Status s = ns->upsert(f.ids, f.base.data, f.metadata); !s.ok()) return s;
  return ns;
}

Status Build(Fixture& f) {
  const Spec& spec = f.spec;
  f.base = hnswstore::testing::embedding_like(spec.rows, spec.dim, /*seed=*/1);
  f.queries = hnswstore::testing::embedding_like(kQueries, spec.dim, /*seed=*/2);
  for (std::size_t i = 0; i < spec.rows; ++i) {
    f.ids.push_back("doc-" + std::to_string(i));
    f.metadata.push_back({{"i", i}, {"tag", i % 7 == 0 ? "seven" : "other"}});
  }
  if (!spec.on_disk) {
    auto ns = Populate(f.store, f);
    if (!ns) return ns.error();
    f.ns = *ns;
    return Status();
  }
  f.dir = std::make_unique<hnswstore::testing::TempDir>();
  StoreOptions options;
  options.save_graph = spec.save_graph;
  auto store = VectorStore::open(f.dir->path(), options);
  if (!store) return store.error();
  if (auto ns = Populate(*store, f); !ns) return ns.error();
  return store->close();  // saves
}

// The fixture of `spec`, built on first use and kept until a benchmark asks for another one.
// On failure, fails the benchmark and returns null.
const Fixture* GetFixture(const Spec& spec, benchmark::State& state) {
  static std::unique_ptr<Fixture> cached;
  if (cached && cached->spec == spec) return cached.get();
  cached.reset();  // frees the previous data set first
  auto fixture = std::make_unique<Fixture>();
  fixture->spec = spec;
  if (Status s = Build(*fixture); !s.ok()) {
    Fail(state, "building the data set: " + s.to_string());
    return nullptr;
  }
  cached = std::move(fixture);
  return cached.get();
}

// Bytes of every file in the store directory `dir` (only the committed generation is left there
// after a save).
std::size_t StoreBytes(const fs::path& dir) {
  std::size_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) total += entry.file_size();
  }
  return total;
}

struct OpenStore {
  VectorStore store;
  Namespace ns;
};

// VectorStore::open + open_namespace + one search, which loads the namespace from its files.
Result<OpenStore> OpenAndLoad(const fs::path& dir, const StoreOptions& options,
                              std::span<const float> query) {
  auto store = VectorStore::open(dir, options);
  if (!store) return store.error();
  auto ns = store->open_namespace(kNamespace);
  if (!ns) return ns.error();
  auto hits = ns->search(query, {.k = kK});
  if (!hits) return hits.error();
  if (hits->size() != kK) {
    return Status::Internal("first search: " + std::to_string(hits->size()) + " hits");
  }
  return OpenStore{std::move(*store), *ns};
}

void BM_UpsertOne(benchmark::State& state) {
  const std::size_t rows = Arg(state, 0), dim = Arg(state, 1);
  const Fixture* f = GetFixture({.rows = rows, .dim = dim, .on_disk = true}, state);
  if (f == nullptr) return;
  const Matrix fresh = hnswstore::testing::embedding_like(rows, dim, /*seed=*/3);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < rows; ++i) ids.push_back("new-" + std::to_string(i));
  const Metadata metadata = {{"i", 0}, {"tag", "new"}};
  StoreOptions options;
  options.save_on_close = false;  // the saved store stays as it is for the next run
  auto opened = OpenAndLoad(f->dir->path(), options, Row(f->queries, 0));
  if (!opened) return Fail(state, "open: " + opened.error().to_string());
  std::size_t next = 0;
  for (auto _ : state) {
    if (next == rows) {  // every fresh vector is in: start again from the saved namespace
      state.PauseTiming();
      if (Status s = opened->store.close(); !s.ok()) return Fail(state, "close: " + s.to_string());
      opened = OpenAndLoad(f->dir->path(), options, Row(f->queries, 0));
      if (!opened) return Fail(state, "reopen: " + opened.error().to_string());
      next = 0;
      state.ResumeTiming();
    }
    if (Status s = opened->ns.upsert(ids[next], Row(fresh, next), metadata); !s.ok()) {
      return Fail(state, "upsert: " + s.to_string());
    }
    ++next;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_UpsertBatch(benchmark::State& state) {
  const std::size_t batch = Arg(state, 0), dim = Arg(state, 1);
  const Matrix data = hnswstore::testing::embedding_like(batch, dim, /*seed=*/1);
  std::vector<std::string> ids;
  std::vector<Metadata> metadata;
  for (std::size_t i = 0; i < batch; ++i) {
    ids.push_back("doc-" + std::to_string(i));
    metadata.push_back({{"i", i}, {"tag", "batch"}});
  }
  VectorStore store = VectorStore::in_memory();
  Namespace ns;
  for (auto _ : state) {
    state.PauseTiming();
    if (ns) {
      ns = {};
      if (Status s = store.drop_namespace(kNamespace); !s.ok()) {
        return Fail(state, "drop: " + s.to_string());
      }
    }
    auto created = store.create_namespace(kNamespace, {.dimension = dim, .metric = Metric::kL2});
    if (!created) return Fail(state, "create: " + created.error().to_string());
    ns = *created;
    state.ResumeTiming();
    if (Status s = ns.upsert(ids, data.data, metadata); !s.ok()) {
      return Fail(state, "upsert: " + s.to_string());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

void BM_Save(benchmark::State& state) {
  const std::size_t rows = Arg(state, 0), dim = Arg(state, 1);
  const Fixture* f = GetFixture({.rows = rows, .dim = dim, .on_disk = true}, state);
  if (f == nullptr) return;
  auto opened = OpenAndLoad(f->dir->path(), StoreOptions{}, Row(f->queries, 0));
  if (!opened) return Fail(state, "open: " + opened.error().to_string());
  std::size_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::size_t i = n++ % rows;
    if (Status s = opened->ns.update_metadata(f->ids[i], {{"i", i}, {"saves", n}}); !s.ok()) {
      return Fail(state, "update_metadata: " + s.to_string());
    }
    if (!opened->ns.stats().dirty) {
      return Fail(state, "the update did not make the namespace dirty");
    }
    state.ResumeTiming();
    if (Status s = opened->ns.save(); !s.ok()) return Fail(state, "save: " + s.to_string());
  }
  const std::size_t bytes = StoreBytes(f->dir->path());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows));
  state.counters["store_bytes"] = static_cast<double>(bytes);
}

void BM_Load(benchmark::State& state, bool graph) {
  const std::size_t rows = Arg(state, 0), dim = Arg(state, 1);
  const Fixture* f =
      GetFixture({.rows = rows, .dim = dim, .on_disk = true, .save_graph = graph}, state);
  if (f == nullptr) return;
  std::atomic<bool> rebuilt = false;
  StoreOptions options;
  options.save_graph = graph;     // a rebuilt graph is not written either
  options.save_on_close = false;  // the saved store stays as it is for the next iteration
  options.logger = [&rebuilt](hnswstore::LogLevel level, std::string_view line) {
    if (line.find("rebuilding the HNSW graph") != std::string_view::npos) {
      rebuilt = true;
    } else if (level >= hnswstore::LogLevel::kWarning) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
    }
  };
  const std::size_t bytes = StoreBytes(f->dir->path());
  for (auto _ : state) {
    {
      auto opened = OpenAndLoad(f->dir->path(), options, Row(f->queries, 0));
      state.PauseTiming();
      if (!opened) return Fail(state, "open: " + opened.error().to_string());
      if (rebuilt == graph) {
        return Fail(state, graph ? "the graph was rebuilt" : "the graph was not rebuilt");
      }
      rebuilt = false;
    }  // closes the store with the timer paused
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(rows));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
  state.counters["store_bytes"] = static_cast<double>(bytes);
}

// k nearest of one query after another from f's queries; fails on an error or a short result.
void SearchLoop(benchmark::State& state, const Fixture& f,
                const hnswstore::SearchOptions& options) {
  std::size_t q = 0;
  for (auto _ : state) {
    auto hits = f.ns.search(Row(f.queries, q), options);
    if (!hits) return Fail(state, "search: " + hits.error().to_string());
    if (hits->size() != kK) return Fail(state, std::to_string(hits->size()) + " hits");
    benchmark::DoNotOptimize(hits);
    q = (q + 1) % f.queries.rows;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_SearchHnsw(benchmark::State& state, bool metadata) {
  const Fixture* f = GetFixture({.rows = Arg(state, 0), .dim = Arg(state, 1)}, state);
  if (f == nullptr) return;
  SearchLoop(state, *f, {.k = kK, .ef = Arg(state, 2), .include_metadata = metadata});
}

void BM_SearchFlat(benchmark::State& state) {
  const std::size_t rows = Arg(state, 0), dim = Arg(state, 1);
  const Fixture* f = GetFixture(
      {.rows = rows, .dim = dim, .metric = Metric::kCosine, .index = IndexKind::kFlat}, state);
  if (f == nullptr) return;
  SearchLoop(state, *f, {.k = kK, .include_metadata = false});
  state.SetBytesProcessed(state.iterations() *
                          static_cast<std::int64_t>(rows * dim * sizeof(float)));
}

void RegisterBenchmarks(double scale) {
  const auto rows = [scale](double n) {
    return std::max<std::int64_t>(kK, std::llround(n * scale));
  };
  constexpr std::int64_t kDim = 128, kFlatDim = 384;
  const std::int64_t hnsw_rows = rows(20000);
  benchmark::RegisterBenchmark("BM_UpsertOne", BM_UpsertOne)
      ->ArgNames({"rows", "dim"})
      ->Args({hnsw_rows, kDim})
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_Save", BM_Save)
      ->ArgNames({"rows", "dim"})
      ->Args({hnsw_rows, kDim})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (const bool graph : {true, false}) {
    benchmark::RegisterBenchmark(graph ? "BM_Load/graph" : "BM_Load/rebuild", BM_Load, graph)
        ->ArgNames({"rows", "dim"})
        ->Args({hnsw_rows, kDim})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("BM_UpsertBatch", BM_UpsertBatch)
      ->ArgNames({"batch", "dim"})
      ->Args({rows(1000), kDim})
      ->Args({rows(10000), kDim})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (const bool metadata : {false, true}) {
    auto* b =
        benchmark::RegisterBenchmark(metadata ? "BM_SearchHnsw/metadata" : "BM_SearchHnsw/ids",
                                     BM_SearchHnsw, metadata)
            ->ArgNames({"rows", "dim", "ef"})
            ->Unit(benchmark::kMicrosecond);
    for (const std::int64_t ef : {10, 50, 100, 200}) b->Args({hnsw_rows, kDim, ef});
  }
  benchmark::RegisterBenchmark("BM_SearchFlat", BM_SearchFlat)
      ->ArgNames({"rows", "dim"})
      ->Args({rows(1000), kFlatDim})
      ->Args({rows(10000), kFlatDim})
      ->Args({rows(100000), kFlatDim})
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  // Takes --scale=<f> out of argv; Google Benchmark parses the rest.
  double scale = 1.0;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--scale=")) {
      argv[kept++] = argv[i];
      continue;
    }
    char* end = nullptr;
    scale = std::strtod(argv[i] + 8, &end);
    if (*end != '\0' || !(scale > 0)) {
      std::fprintf(stderr, "micro_bench: --scale wants a positive number, not '%s'\n", argv[i] + 8);
      return 2;
    }
  }
  argc = kept;
  RegisterBenchmarks(scale);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (g_failures > 0) {
    std::fprintf(stderr, "micro_bench: %d benchmark run(s) failed\n", g_failures);
    return 1;
  }
  return 0;
}
