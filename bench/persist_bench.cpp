// persist_bench: save and load speed, file sizes, and the restart time with and without
// <ns>.graph.bin, measured side by side in one run.
//
//   persist_bench [--n 100000] [--dim 384] [--threads 0] [--repeat 3] [--dir /tmp/x]
//                 [--levels 0,3] [--no-rebuild] [--reuse]
//
// It builds one cosine namespace of embedding-like vectors and, for each zstd level of --levels
// (0 and 3 by default), saves it with that level and then times, median of --repeat runs each:
//   - read:    reading the saved files' bytes (page cache warm), the floor for any load;
//   - graph:   VectorStore::open + first search, graph reloaded from graph.bin;
//   - rebuild: the same with save_graph off (no graph.bin), so the graph is rebuilt in parallel.
// Prints a Markdown table (docs/performance.md keeps the figures). --no-rebuild and --reuse are
// for iterating on the load path: the first skips the slow rebuild variant, the second keeps
// --dir and its built namespace for the next run with the same --n and --dim, which skips the
// build.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using hnswstore::Metadata;
using hnswstore::VectorStore;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::size_t dir_bytes(const fs::path& dir, std::string_view suffix) {
  std::size_t total = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().string().ends_with(suffix)) total += fs::file_size(e.path());
  }
  return total;
}

// Reads every file of the store into memory with plain read(2)-sized chunks: the floor for any
// load from the page cache.
double read_all(const fs::path& dir) {
  const auto start = Clock::now();
  std::size_t sum = 0;
  std::vector<char> buffer;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::size_t size = fs::file_size(e.path());
    buffer.resize(size);
    std::FILE* f = std::fopen(e.path().c_str(), "rb");
    if (f == nullptr) continue;
    sum += std::fread(buffer.data(), 1, size, f);
    std::fclose(f);
  }
  const double s = seconds_since(start);
  if (sum == 0) std::fprintf(stderr, "nothing read\n");
  return s;
}

// Opens the store and runs one search, which loads the namespace.
double open_and_search(const fs::path& dir, const std::vector<float>& query, bool expect_graph) {
  bool rebuilt = false;
  hnswstore::StoreOptions o;
  o.logger = [&](hnswstore::LogLevel, std::string_view line) {
    if (line.find("rebuilding") != std::string_view::npos) rebuilt = true;
    if (line.find("loaded") != std::string_view::npos && std::getenv("PERSIST_BENCH_VERBOSE")) {
      std::fprintf(stderr, "  %.*s\n", static_cast<int>(line.size()), line.data());
    }
  };
  const auto start = Clock::now();
  auto store = VectorStore::open(dir, o).value();
  auto ns = store.open_namespace("bench").value();
  auto hits = ns.search(query, {.k = 10}).value();
  const double s = seconds_since(start);
  if (hits.size() != 10 || rebuilt == expect_graph) {
    std::fprintf(stderr, "unexpected load: %zu hits, rebuilt %d\n", hits.size(), rebuilt ? 1 : 0);
    std::exit(1);
  }
  return s;
}

constexpr const char* kUsage =
    "usage: persist_bench [--n 100000] [--dim 384] [--threads 0] [--repeat 3] [--dir DIR]\n"
    "                     [--levels 0,3] [--no-rebuild] [--reuse]\n"
    "  --levels      zstd levels to measure, comma-separated\n"
    "  --no-rebuild  skip the variant without graph.bin (its rebuild takes about as long as\n"
    "                the initial build, per level and repeat)\n"
    "  --reuse       keep DIR afterwards, and reuse the namespace an earlier run with --reuse\n"
    "                built there if it has the same --n and --dim (skips the build)\n";

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 100000, dim = 384, threads = 0, repeat = 3;
  fs::path dir = fs::temp_directory_path() / "hnswstore-persist-bench";
  std::vector<int> levels = {0, 3};
  bool rebuild = true;
  bool reuse = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--no-rebuild") {
      rebuild = false;
      continue;
    }
    if (a == "--reuse") {
      reuse = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n%s", a.c_str(), kUsage);
      return 2;
    }
    const std::string v = argv[++i];
    if (a == "--n")
      n = std::stoul(v);
    else if (a == "--dim")
      dim = std::stoul(v);
    else if (a == "--threads")
      threads = std::stoul(v);
    else if (a == "--repeat")
      repeat = std::max<std::size_t>(1, std::stoul(v));
    else if (a == "--dir")
      dir = v;
    else if (a == "--levels") {
      levels.clear();
      for (std::size_t pos = 0; pos < v.size();) {
        std::size_t used = 0;
        levels.push_back(std::stoi(v.substr(pos), &used));
        pos += used + 1;  // the comma
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  const std::size_t hw = threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  std::printf(
      "persist_bench: %zu x %zu cosine, embedding-like, metadata {\"i\": n, \"tag\": ...}, "
      "%zu threads, median of %zu\n",
      n, dim, hw, repeat);

  auto data = hnswstore::testing::embedding_like(n, dim, 1);
  std::vector<std::string> ids(n);
  std::vector<Metadata> md(n);
  for (std::size_t i = 0; i < n; ++i) {
    ids[i] = "doc-" + std::to_string(i);
    md[i] = {{"i", i}, {"tag", i % 7 == 0 ? "seven" : "other"}};
  }
  const std::vector<float> query(data.row(0), data.row(0) + dim);
  const double raw_mb = static_cast<double>(n * dim * sizeof(float)) / 1e6;

  std::printf(
      "\n| zstd | vectors.bin MB | graph.bin MB | save s | save MB/s | read files s | "
      "open with graph s | open rebuilding s | rebuild / graph | graph / read |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  // One build; every other variant is the same namespace re-saved with other store options
  // (opening a saved store reloads its graph, so no variant rebuilds it).
  const fs::path built = dir / "built";
  double build_s = 0;
  bool have_build = false;
  if (reuse && fs::exists(built / "bench.config.json")) {
    // Reused only if it is the namespace this run would build (stats() reads the config alone).
    auto store = VectorStore::open(built, {}).value();
    const auto st = store.open_namespace("bench").value().stats();
    have_build = st.count == n && st.dimension == dim;
  }
  if (!have_build) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    hnswstore::StoreOptions o;
    o.threads = threads;
    auto store = VectorStore::open(built, o).value();
    auto ns = store.create_namespace("bench", {.dimension = dim}).value();
    const auto b = Clock::now();
    if (!ns.upsert(ids, data.data, md).ok()) return 1;
    build_s = seconds_since(b);
  }
  // Saves `repeat` times (touching one record in between, so that each save writes) into a
  // copy of the built store with the given options; returns the median save time.
  auto variant = [&](const fs::path& d, int level, bool graph) {
    fs::remove_all(d);
    fs::copy(built, d);
    hnswstore::StoreOptions o;
    o.threads = threads;
    o.zstd_level = level;
    o.save_graph = graph;
    auto store = VectorStore::open(d, o).value();
    auto ns = store.open_namespace("bench").value();
    std::vector<double> times;
    for (std::size_t r = 0; r < repeat; ++r) {
      if (!ns.update_metadata(ids[r], md[r]).ok()) std::exit(1);
      const auto s = Clock::now();
      if (!ns.save().ok()) std::exit(1);
      times.push_back(seconds_since(s));
    }
    return median(times);
  };
  for (const int level : levels) {
    const fs::path d = dir / ("zstd" + std::to_string(level));
    const fs::path d_nograph = dir / ("zstd" + std::to_string(level) + "-nograph");
    const double sv = variant(d, level, true);
    if (rebuild) (void)variant(d_nograph, level, false);
    std::vector<double> read_s, graph_s, rebuild_s;
    for (std::size_t r = 0; r < repeat; ++r) {
      read_s.push_back(read_all(d));
      graph_s.push_back(open_and_search(d, query, true));
      if (rebuild) rebuild_s.push_back(open_and_search(d_nograph, query, false));
    }
    const double vb = static_cast<double>(dir_bytes(d, ".vectors.bin")) / 1e6;
    const double gb = static_cast<double>(dir_bytes(d, ".graph.bin")) / 1e6;
    const double rd = median(read_s);
    const double gr = median(graph_s);
    if (rebuild) {
      const double rb = median(rebuild_s);
      std::printf("| %d | %.1f | %.1f | %.3f | %.0f | %.3f | %.3f | %.2f | %.1fx | %.1fx |\n",
                  level, vb, gb, sv, (vb + gb) / sv, rd, gr, rb, rb / gr, gr / rd);
    } else {
      std::printf("| %d | %.1f | %.1f | %.3f | %.0f | %.3f | %.3f | - | - | %.1fx |\n", level, vb,
                  gb, sv, (vb + gb) / sv, rd, gr, gr / rd);
    }
    std::fflush(stdout);
  }
  if (have_build) {
    std::printf("\nraw vectors %.1f MB; initial build reused from %s\n", raw_mb, built.c_str());
  } else {
    std::printf("\nraw vectors %.1f MB; initial build (upsert, %zu threads) %.2f s\n", raw_mb, hw,
                build_s);
  }
  if (!reuse) fs::remove_all(dir);
  return 0;
}
