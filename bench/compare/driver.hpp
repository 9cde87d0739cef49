// What the comparison driver's modes share (compare.cpp defines it): the configuration, the data
// sets, cached exact ground truth, timing and percentile helpers, the machine description.
// filtered.cpp (the --filtered mode) builds on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "datasets.hpp"
#include "engine.hpp"

namespace hnswstore::bench {

using Clock = std::chrono::steady_clock;
using hnswstore::testing::Matrix;
using json = nlohmann::json;

inline constexpr std::size_t kK = 10;

struct Config {
  std::vector<std::string> datasets = {"fashion-mnist", "embedding-384", "embedding-128",
                                       "random-128"};
  bool datasets_given = false;  // --datasets was on the command line
  std::vector<std::string> engines = {"hnswlib", "hnswstore-hnsw", "hnswstore-flat", "faiss-hnsw",
                                      "usearch"};
  // 30, 50 and 100 are the presets' ef_search (fast, balanced, high_recall).
  std::vector<std::size_t> efs = {10, 16, 24, 30, 50, 64, 100, 150, 200, 300};
  std::size_t n = 0;  // 0 = the dataset's own size
  std::size_t queries = 1000;
  std::size_t flat_queries = 200;
  std::size_t threads = std::max(1u, std::thread::hardware_concurrency());
  std::size_t repeat = 3;
  // Engines also built with one thread (FAISS and usearch builds are slow, so by default only
  // the two whose ratio is a target; "all" for every engine, "" for none).
  std::vector<std::string> build1 = {"hnswlib", "hnswstore-hnsw"};
  bool scaling = true;
  bool merge = false;  // keep the other datasets of an existing DIR/compare.json
  std::string out = "compare-results";
  std::string cache = "compare-cache";
  BuildParams params;

  // --filtered mode (filtered.cpp).
  bool filtered = false;
  // ef of the filtered runs per dataset ("" = any dataset not named); --filter-ef N or
  // --filter-ef name=N,name=N.
  std::map<std::string, std::size_t> filter_ef;
  std::uint64_t filter_seed = 7;         // the "r" field and the per-query random classes
  std::size_t overfetch_queries = 200;   // the over-fetch baseline runs on the first Q queries
};

struct Dataset {
  std::string name, description;
  Space space = Space::kL2;
  Matrix base, queries;
  // Class labels (Fashion-MNIST: its own 0..9 per image; empty for generated data).
  std::vector<std::uint8_t> base_labels, query_labels;
};

// Exact nearest rows per query, nearest first (a row may be shorter than k: fewer candidates).
using Truth = std::vector<std::vector<std::uint32_t>>;

double seconds_since(Clock::time_point t0);

template <class Fn>
double timed(Fn&& fn) {
  const auto t0 = Clock::now();
  fn();
  return seconds_since(t0);
}

// Progress goes to stderr with the time since start, so that a long run shows where it is.
void progress(const std::string& what);
std::vector<std::string> split(const std::string& s);
std::string fmt(double v, int digits = 1);

// The benchmark data sets by name; std::nullopt when Fashion-MNIST is not installed.
std::optional<Dataset> load_dataset(const std::string& name, const Config& cfg);
void keep_rows(Matrix& m, std::size_t rows);

// Exact k nearest rows of every query (cached in cfg.cache under the data set's name and shape).
Truth ground_truth(const Dataset& d, const Config& cfg);
// `compute()`'s result, cached in cfg.cache/<key>.truth (rows of up to kK ids); a cache file of
// the wrong size or shape is recomputed.
Truth cached_truth(const std::string& key, std::size_t base_rows, std::size_t queries,
                   const Config& cfg, const std::function<Truth()>& compute);

double median(std::vector<double> v);
double percentile(std::vector<double> v, double p);

// CPU, cores, memory, compiler, flags, threads, repeat, HNSW parameters, date.
json machine(const Config& cfg);

// --merge: appends to report["datasets"] the data sets of an earlier report at `file` that this
// run does not measure.
void keep_other_datasets(const std::string& file, const Config& cfg, json& report);

// The --filtered mode: filtered search against its baselines (filtered.cpp). Returns the exit
// code: 1 when a search broke an invariant.
int run_filtered(const Config& cfg);

}  // namespace hnswstore::bench
