// The comparison driver: the same data, parameters and queries, in one process run, through
// raw hnswlib, hnswstore (HNSW and flat), FAISS IndexHNSWFlat and usearch (the last two when
// they were found at configure time). docs/performance.md explains the output.
//
//   compare [--datasets a,b] [--engines a,b] [--ef 10,16,...] [--n N] [--queries Q]
//           [--flat-queries Q] [--threads T] [--repeat R] [--build1 e1,e2|all] [--no-build1]
//           [--no-scaling] [--m M] [--ef-construction E] [--out DIR] [--cache DIR] [--merge]
//
// --merge keeps the datasets of an existing DIR/compare.json that this run does not measure
// (to re-run one dataset without the others).
//
//   compare --filtered [--datasets a,b] [--filter-ef N | name=N,...] [--n N] [--queries Q]
//           [--overfetch-queries Q] [--filter-seed S] [--repeat R] [--threads T] [--m M]
//           [--ef-construction E] [--out DIR] [--cache DIR] [--merge]
//
// measures filtered search instead (filtered.cpp explains it) and writes DIR/filtered.json and
// DIR/filtered.md.
//
// For every dataset and engine: build time with 1 thread and with T threads, bytes the index
// holds (glibc's mallinfo2 before and after the build, or the engine's own count when larger:
// usearch maps its memory outside malloc), then for each ef: recall@10,
// mean/p50/p99 single-thread latency (medians over R runs over all queries) and QPS with T
// threads; hnswstore also with metadata returned; save and load times and file bytes. Exact
// ground truth is computed once and cached. Output: DIR/compare.json, DIR/compare.md and, when
// gnuplot is installed, DIR/<dataset>.png (recall against single-thread QPS over the ef sweep).
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "datasets.hpp"
#include "driver.hpp"
#include "engine.hpp"

namespace hnswstore::bench {

std::size_t Engine::saved_bytes(const std::string& dir) const {
  std::size_t bytes = 0;
  for (const auto& e : std::filesystem::directory_iterator(files_dir(dir))) {
    if (e.is_regular_file() && e.path().filename() != "LOCK") bytes += e.file_size();
  }
  return bytes;
}

std::size_t Engine::search_filtered(const float*, std::size_t, const FilterArg&,
                                    std::uint32_t*) const {
  throw std::logic_error(name() + " has no filtered search");
}

namespace fs = std::filesystem;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

namespace {
const Clock::time_point g_start = Clock::now();
}  // namespace

void keep_other_datasets(const std::string& file, const Config& cfg, json& report) {
  std::ifstream in(file);
  if (!in) return;
  const json old = json::parse(in);
  for (const auto& d : old.value("datasets", json::array())) {
    const std::string name = d["name"];
    if (std::find(cfg.datasets.begin(), cfg.datasets.end(), name) == cfg.datasets.end()) {
      report["datasets"].push_back(d);
      progress(name + ": kept from the existing " + fs::path(file).filename().string());
    }
  }
}

void progress(const std::string& what) {
  std::fprintf(stderr, "[%7.1f s] %s\n", seconds_since(g_start), what.c_str());
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}


// ── datasets ────────────────────────────────────────────────────────────────────────────────

namespace {
void normalise(Matrix& m) {
  for (std::size_t i = 0; i < m.rows; ++i) {
    float* r = m.data.data() + i * m.cols;
    double s = 0;
    for (std::size_t j = 0; j < m.cols; ++j) s += double{r[j]} * r[j];
    const float inv = s > 0 ? static_cast<float>(1.0 / std::sqrt(s)) : 0.0f;
    for (std::size_t j = 0; j < m.cols; ++j) r[j] *= inv;
  }
}

}  // namespace

void keep_rows(Matrix& m, std::size_t rows) {
  if (rows == 0 || rows >= m.rows) return;
  m.rows = rows;
  m.data.resize(rows * m.cols);
}

// The benchmark data sets: Fashion-MNIST as ann-benchmarks uses it, embedding-like vectors as
// tests/support/datasets.hpp defines them (base seed 1, query seed 2), and uniform random.
std::optional<Dataset> load_dataset(const std::string& name, const Config& cfg) {
  Dataset d;
  d.name = name;
  const std::size_t n = cfg.n;
  if (name == "fashion-mnist") {
    auto fm = hnswstore::testing::load_fashion_mnist();
    if (!fm) return std::nullopt;
    d.base = std::move(fm->train);
    d.queries = std::move(fm->test);
    d.base_labels = std::move(fm->train_labels);
    d.query_labels = std::move(fm->test_labels);
    d.space = Space::kL2;
    d.description = "Fashion-MNIST (Debian dataset-fashion-mnist), L2";
  } else if (name == "embedding-384") {
    d.base = hnswstore::testing::embedding_like(n ? n : 100000, 384, 1);
    d.queries = hnswstore::testing::embedding_like(cfg.queries, 384, 2);
    d.space = Space::kCosine;
    d.description = "embedding-like (32-d latent, noise 0.1, seeds 1/2), cosine";
  } else if (name == "embedding-128") {
    d.base = hnswstore::testing::embedding_like(n ? n : 100000, 128, 1);
    d.queries = hnswstore::testing::embedding_like(cfg.queries, 128, 2);
    d.space = Space::kL2;
    d.description = "embedding-like (32-d latent, noise 0.1, seeds 1/2), L2";
  } else if (name == "random-128") {
    d.base = hnswstore::testing::uniform_random(n ? n : 100000, 128, 1);
    d.queries = hnswstore::testing::uniform_random(cfg.queries, 128, 2);
    d.space = Space::kL2;
    d.description = "uniform random in [-1, 1) (seeds 1/2), L2: the worst case";
  } else {
    throw std::invalid_argument("unknown dataset '" + name + "'");
  }
  keep_rows(d.base, n);
  keep_rows(d.queries, cfg.queries);
  if (!d.base_labels.empty()) d.base_labels.resize(d.base.rows);
  if (!d.query_labels.empty()) d.query_labels.resize(d.queries.rows);
  if (d.space == Space::kCosine) {
    normalise(d.base);
    normalise(d.queries);
  }
  return d;
}

// Cached in a small file keyed by the data set's name and shape; rows shorter than kK are
// padded with kNoRow in the file.
Truth cached_truth(const std::string& key, std::size_t base_rows, std::size_t queries,
                   const Config& cfg, const std::function<Truth()>& compute) {
  const fs::path file = fs::path(cfg.cache) / (key + ".truth");
  const std::uint64_t header[4] = {0x3031544857534E48ull, base_rows, queries, kK};
  const std::size_t payload = queries * kK * sizeof(std::uint32_t);
  std::error_code ec;
  if (fs::file_size(file, ec) == sizeof(header) + payload) {
    std::ifstream in(file, std::ios::binary);
    std::uint64_t h[4];
    in.read(reinterpret_cast<char*>(h), sizeof(h));
    if (in && std::equal(h, h + 4, header)) {
      Truth t(queries, std::vector<std::uint32_t>(kK));
      for (auto& row : t) {
        in.read(reinterpret_cast<char*>(row.data()), kK * sizeof(row[0]));
        row.erase(std::find(row.begin(), row.end(), kNoRow), row.end());
      }
      if (in) {
        progress(key + ": ground truth from " + file.string());
        return t;
      }
    }
  }
  progress(key + ": computing exact ground truth (" + std::to_string(queries) + " queries)");
  Truth t = compute();
  fs::create_directories(cfg.cache);
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(header), sizeof(header));
  for (auto row : t) {
    row.resize(kK, kNoRow);
    out.write(reinterpret_cast<const char*>(row.data()), kK * sizeof(row[0]));
  }
  return t;
}

// Exact k nearest rows per query, cached under the data set's name and shape.
Truth ground_truth(const Dataset& d, const Config& cfg) {
  const std::string key = d.name + "-" + std::to_string(d.base.rows) + "x" +
                          std::to_string(d.base.cols) + "-q" + std::to_string(d.queries.rows);
  return cached_truth(key, d.base.rows, d.queries.rows, cfg, [&] {
    // Cosine rows are unit vectors: inner product orders them as cosine does.
    const Metric metric = d.space == Space::kL2 ? Metric::kL2 : Metric::kInnerProduct;
    return hnswstore::testing::exact_knn(d.base, d.queries, kK, metric);
  });
}

// ── measurements ────────────────────────────────────────────────────────────────────────────

namespace {

std::size_t heap_bytes() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

// A plain streaming read of `bytes` bytes (summing floats, 16 independent lanes, one thread):
// what the memory system delivers to one core, the yardstick for the flat scan.
double stream_read_gbps(const Matrix& m, std::size_t repeat) {
  const std::size_t n = m.data.size();
  const float* p = m.data.data();
  std::vector<double> rates;
  volatile float sink = 0;
  for (std::size_t r = 0; r < repeat + 1; ++r) {
    float acc[16] = {};
    const double s = timed([&] {
      std::size_t i = 0;
      for (; i + 16 <= n; i += 16) {
        for (std::size_t l = 0; l < 16; ++l) acc[l] += p[i + l];
      }
    });
    sink = sink + std::accumulate(acc, acc + 16, 0.0f);
    if (r > 0) rates.push_back(static_cast<double>(n * sizeof(float)) / s / 1e9);  // r 0 warms
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0.0;
  const auto i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

namespace {

double recall(const std::vector<std::uint32_t>& found, const Truth& truth, std::size_t queries) {
  std::size_t hits = 0;
  for (std::size_t q = 0; q < queries; ++q) {
    for (std::size_t i = 0; i < kK; ++i) {
      const std::uint32_t f = found[q * kK + i];
      if (f != kNoRow && std::find(truth[q].begin(), truth[q].end(), f) != truth[q].end()) ++hits;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(queries * kK);
}

struct Latency {
  double recall = 0, mean_us = 0, p50_us = 0, p99_us = 0;
};

// One thread, each query timed alone; R runs over all queries after one warm-up pass over the
// first 100; the figures are medians over the runs.
Latency measure_latency(const Engine& e, const Matrix& queries, std::size_t nq,
                        const Truth& truth, std::size_t repeat) {
  std::vector<std::uint32_t> found(nq * kK);
  for (std::size_t q = 0; q < std::min<std::size_t>(nq, 100); ++q) {
    e.search(queries.row(q), kK, found.data() + q * kK);
  }
  std::vector<double> means, p50s, p99s, times(nq);
  for (std::size_t r = 0; r < repeat; ++r) {
    for (std::size_t q = 0; q < nq; ++q) {
      const auto t0 = Clock::now();
      e.search(queries.row(q), kK, found.data() + q * kK);
      times[q] = seconds_since(t0) * 1e6;
    }
    means.push_back(std::accumulate(times.begin(), times.end(), 0.0) / static_cast<double>(nq));
    p50s.push_back(percentile(times, 0.50));
    p99s.push_back(percentile(times, 0.99));
  }
  return {recall(found, truth, nq), median(means), median(p50s), median(p99s)};
}

// All queries split over `threads` threads; median queries per second over R runs.
double measure_qps(const Engine& e, const Matrix& queries, std::size_t nq, std::size_t threads,
                   std::size_t repeat) {
  std::vector<double> rates;
  for (std::size_t r = 0; r < repeat; ++r) {
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      std::uint32_t out[kK];
      for (std::size_t q; (q = next.fetch_add(1)) < nq;) e.search(queries.row(q), kK, out);
    };
    const double s = timed([&] {
      std::vector<std::thread> pool;
      for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
      work();
      for (auto& t : pool) t.join();
    });
    rates.push_back(static_cast<double>(nq) / s);
  }
  return median(rates);
}

// Reads every file of a directory from the page cache (after one warming read): the floor for
// any load of those files.
double read_files_seconds(const fs::path& dir) {
  std::vector<char> buf(1 << 20);
  auto read_all = [&] {
    for (const auto& f : fs::directory_iterator(dir)) {
      if (!f.is_regular_file() || f.path().filename() == "LOCK") continue;
      std::FILE* in = std::fopen(f.path().c_str(), "rb");
      if (!in) continue;
      std::vector<char> whole(f.file_size());
      if (std::fread(whole.data(), 1, whole.size(), in) != whole.size()) whole.clear();
      std::fclose(in);
    }
  };
  read_all();
  std::vector<double> t;
  for (int r = 0; r < 3; ++r) t.push_back(timed(read_all));
  return median(t);
}

// ── engines ─────────────────────────────────────────────────────────────────────────────────

std::unique_ptr<Engine> make_engine(const std::string& name) {
  if (name == "hnswlib") return make_hnswlib_engine();
  if (name == "hnswstore-hnsw") return make_hnswstore_engine(false);
  if (name == "hnswstore-flat") return make_hnswstore_engine(true);
  if (name == "faiss-hnsw") return make_faiss_engine();
  if (name == "usearch") return make_usearch_engine();
  throw std::invalid_argument("unknown engine '" + name + "'");
}

json run_engine(const std::string& name, const Dataset& d, const Truth& truth, const Config& cfg) {
  json r;
  r["engine"] = name;
  auto probe = make_engine(name);
  if (!probe) {
    r["available"] = false;
    progress(d.name + ": " + name + " not built in (not found at configure time)");
    return r;
  }
  r["available"] = true;
  r["version"] = probe->version();
  const bool approximate = probe->approximate();
  const Rows rows{d.base.rows, d.base.cols, d.base.data.data()};
  const std::string tag = d.name + ": " + name;

  const bool build1 = std::find(cfg.build1.begin(), cfg.build1.end(), name) != cfg.build1.end() ||
                      (cfg.build1.size() == 1 && cfg.build1[0] == "all");
  if (build1 && approximate) {
    const double s = timed([&] { probe->build(rows, d.space, cfg.params, 1); });
    r["build_1_thread_s"] = s;
    progress(tag + ": built with 1 thread in " + std::to_string(s) + " s");
  }
  probe.reset();
  malloc_trim(0);
  const std::size_t heap_before = heap_bytes();
  auto e = make_engine(name);
  const double build_s = timed([&] { e->build(rows, d.space, cfg.params, cfg.threads); });
  const std::size_t heap_after = heap_bytes();
  const std::size_t held =
      std::max(heap_after > heap_before ? heap_after - heap_before : 0, e->reported_memory());
  r["build_threads"] = cfg.threads;
  r["build_s"] = build_s;
  r["memory_bytes"] = held;
  r["memory_bytes_per_vector"] = static_cast<double>(held) / static_cast<double>(rows.n);
  r["vector_bytes"] = rows.n * rows.dim * sizeof(float);
  if (const std::size_t g = e->graph_bytes(); g > 0) r["graph_bytes"] = g;
  progress(tag + ": built with " + std::to_string(cfg.threads) + " threads in " +
           std::to_string(build_s) + " s, " + std::to_string(held >> 20) + " MiB");

  const std::size_t nq = approximate ? d.queries.rows : std::min(cfg.flat_queries, d.queries.rows);
  const std::vector<std::size_t> efs = approximate ? cfg.efs : std::vector<std::size_t>{0};
  auto sweep = [&](const char* key, bool with_qps) {
    for (const std::size_t ef : efs) {
      e->set_ef(std::max(ef, kK));
      const Latency l = measure_latency(*e, d.queries, nq, truth, cfg.repeat);
      json p = {{"ef", ef},          {"recall", l.recall}, {"mean_us", l.mean_us},
                {"p50_us", l.p50_us}, {"p99_us", l.p99_us}};
      if (with_qps) p["qps"] = measure_qps(*e, d.queries, nq, cfg.threads, cfg.repeat);
      r[key].push_back(p);
      char line[160];
      std::snprintf(line, sizeof(line), "%s ef %zu: recall %.4f, p50 %.1f us", key, ef, l.recall,
                    l.p50_us);
      progress(tag + ": " + line);
    }
  };
  sweep("points", true);
  if (e->add_metadata()) sweep("points_with_metadata", false);

  const fs::path dir = fs::path(cfg.cache) / ("save-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto t0 = Clock::now();
  if (e->save(dir.string())) {
    r["save_s"] = seconds_since(t0);
    r["file_bytes"] = e->saved_bytes(dir.string());
    r["read_files_s"] = read_files_seconds(e->files_dir(dir.string()));
    r["load_s"] = timed([&] { e->load(dir.string()); });
    e->set_ef(std::max(efs.back(), kK));
    r["recall_after_load"] = measure_latency(*e, d.queries, nq, truth, 1).recall;
    progress(tag + ": save " + std::to_string(r["save_s"].get<double>()) + " s, load " +
             std::to_string(r["load_s"].get<double>()) + " s");
  }
  fs::remove_all(dir);
  return r;
}

// The design's expectations by size (docs/performance.md): HNSW against flat search latency at 100, 1K,
// 10K and 100K entries of 384 dimensions (embedding-like, cosine, default parameters, ef 50).
json run_scaling(const Config& cfg, const json& datasets) {
  json out = json::array();
  // The 100K row comes from the main run when it measured embedding-384 at ef 50.
  std::optional<json> from_main;
  for (const auto& d : datasets) {
    if (d["name"] != "embedding-384" || d["rows"] != 100000) continue;
    json row = {{"entries", 100000}};
    for (const auto& r : d["engines"]) {
      const std::string e = r["engine"];
      if (e != "hnswstore-hnsw" && e != "hnswstore-flat") continue;
      for (const auto& p : r.value("points", json::array())) {
        if (p["ef"] == 50 || e == "hnswstore-flat") {
          row[e == "hnswstore-flat" ? "flat" : "hnsw"] = {
              {"p50_us", p["p50_us"]}, {"mean_us", p["mean_us"]}, {"recall", p["recall"]}};
        }
      }
    }
    if (row.contains("flat") && row.contains("hnsw")) from_main = row;
  }
  Config c = cfg;
  c.n = 100000;
  auto full = load_dataset("embedding-384", c);
  for (const std::size_t n : {100, 1000, 10000, 100000}) {
    Dataset d = *full;
    keep_rows(d.base, n);
    if (cfg.n != 0 && n > cfg.n) break;
    if (n == 100000 && from_main) {
      out.push_back(*from_main);
      break;
    }
    const Truth truth = ground_truth(d, cfg);
    const Rows rows{d.base.rows, d.base.cols, d.base.data.data()};
    json row = {{"entries", n}};
    for (const bool flat : {false, true}) {
      auto e = make_hnswstore_engine(flat);
      e->build(rows, d.space, BuildParams{}, cfg.threads);
      e->set_ef(50);
      const std::size_t nq = flat && n >= 10000 ? cfg.flat_queries : d.queries.rows;
      const Latency l = measure_latency(*e, d.queries, nq, truth, cfg.repeat);
      row[flat ? "flat" : "hnsw"] = {{"p50_us", l.p50_us}, {"mean_us", l.mean_us},
                                     {"recall", l.recall}};
    }
    progress("scaling: " + std::to_string(n) + " entries: hnsw p50 " +
             std::to_string(row["hnsw"]["p50_us"].get<double>()) + " us, flat p50 " +
             std::to_string(row["flat"]["p50_us"].get<double>()) + " us");
    out.push_back(row);
  }
  return out;
}

}  // namespace

// ── output ──────────────────────────────────────────────────────────────────────────────────

namespace {
std::string first_line_of(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prefix, 0) == 0) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) return line;
      const auto value = line.find_first_not_of(" \t", colon + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
  }
  return "unknown";
}

}  // namespace

json machine(const Config& cfg) {
  json m;
  m["cpu"] = first_line_of("/proc/cpuinfo", "model name");
  m["cores"] = std::thread::hardware_concurrency();
  m["memory"] = first_line_of("/proc/meminfo", "MemTotal");
  m["compiler"] = __VERSION__;
#ifdef HNSWSTORE_BENCH_FLAGS
  m["flags"] = HNSWSTORE_BENCH_FLAGS;
#endif
  m["threads"] = cfg.threads;
  m["repeat"] = cfg.repeat;
  m["m"] = cfg.params.m;
  m["ef_construction"] = cfg.params.ef_construction;
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  m["date"] = date;
  return m;
}

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

namespace {

std::string opt_s(const json& r, const char* key, int digits = 2) {
  return r.contains(key) ? fmt(r[key].get<double>(), digits) + " s" : "–";
}

// The p50 latency of an engine at one ef (nullopt if not measured).
std::optional<double> p50_at(const json& r, const char* key, std::size_t ef) {
  if (!r.contains(key)) return std::nullopt;
  for (const auto& p : r[key]) {
    if (p["ef"].get<std::size_t>() == ef) return p["p50_us"].get<double>();
  }
  return std::nullopt;
}

// The single-thread QPS (1 / mean latency) at the smallest ef that reaches `target` recall.
std::optional<json> first_reaching(const json& r, double target) {
  if (!r.contains("points")) return std::nullopt;
  for (const auto& p : r["points"]) {
    if (p["recall"].get<double>() >= target) return p;
  }
  return std::nullopt;
}

void write_markdown(const json& report, const fs::path& file) {
  std::ofstream md(file);
  const json& m = report["machine"];
  md << "# hnswstore comparison run\n\n"
     << "Written by `bench/compare` (docs/performance.md explains every column). Machine: "
     << m["cpu"].get<std::string>() << ", " << m["cores"] << " cores, "
     << m["memory"].get<std::string>() << "; " << m["compiler"].get<std::string>();
  if (m.contains("flags")) md << " `" << m["flags"].get<std::string>() << "`";
  md << "; " << m["date"].get<std::string>() << ". HNSW parameters m " << m["m"]
     << ", ef_construction " << m["ef_construction"] << "; k = 10; latencies are medians of "
     << m["repeat"] << " runs over all queries, one thread; QPS uses " << m["threads"]
     << " threads.\n\n";
  for (const auto& d : report["datasets"]) {
    md << "## " << d["name"].get<std::string>() << "\n\n"
       << d["description"].get<std::string>() << ": " << d["rows"] << " × " << d["dim"] << ", "
       << d["queries"] << " queries. Streaming read, one thread: "
       << fmt(d["stream_read_gbps"].get<double>()) << " GB/s.\n\n"
       << "| engine | version | build, 1 thread | build, " << m["threads"]
       << " threads | memory / vector | save | load | read files | file bytes |\n"
       << "|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : d["engines"]) {
      if (!r["available"].get<bool>()) {
        md << "| " << r["engine"].get<std::string>() << " | not built in | | | | | | | |\n";
        continue;
      }
      md << "| " << r["engine"].get<std::string>() << " | " << r["version"].get<std::string>()
         << " | " << opt_s(r, "build_1_thread_s", 1) << " | " << opt_s(r, "build_s", 1) << " | "
         << fmt(r["memory_bytes_per_vector"].get<double>(), 0) << " B | " << opt_s(r, "save_s")
         << " | " << opt_s(r, "load_s") << " | " << opt_s(r, "read_files_s", 3) << " | "
         << (r.contains("file_bytes") ? fmt(r["file_bytes"].get<double>() / 1e6) + " MB" : "–")
         << " |\n";
    }
    md << "\n| engine | ef | recall@10 | mean µs | p50 µs | p99 µs | QPS, " << m["threads"]
       << " threads | p50 µs with metadata |\n|---|---|---|---|---|---|---|---|\n";
    for (const auto& r : d["engines"]) {
      if (!r.contains("points")) continue;
      for (const auto& p : r["points"]) {
        const auto ef = p["ef"].get<std::size_t>();
        const auto meta = p50_at(r, "points_with_metadata", ef);
        md << "| " << r["engine"].get<std::string>() << " | " << (ef ? std::to_string(ef) : "–")
           << " | " << fmt(p["recall"].get<double>(), 4) << " | "
           << fmt(p["mean_us"].get<double>()) << " | " << fmt(p["p50_us"].get<double>()) << " | "
           << fmt(p["p99_us"].get<double>()) << " | " << fmt(p["qps"].get<double>(), 0) << " | "
           << (meta ? fmt(*meta) : "–") << " |\n";
      }
    }
    md << "\n";
  }
  if (report.contains("targets")) {
    md << "## Targets\n\n| dataset | check | measured | target | met |\n|---|---|---|---|---|\n";
    for (const auto& t : report["targets"]) {
      md << "| " << t["dataset"].get<std::string>() << " | " << t["check"].get<std::string>()
         << " | " << t["measured"].get<std::string>() << " | " << t["target"].get<std::string>()
         << " | " << (t["met"].get<bool>() ? "yes" : "**no**") << " |\n";
    }
    md << "\n";
  }
  if (report.contains("scaling")) {
    md << "## HNSW against flat by size (384 dimensions, cosine, ef 50)\n\n"
       << "| entries | flat p50 µs | HNSW p50 µs | HNSW recall@10 | flat / HNSW |\n"
       << "|---|---|---|---|---|\n";
    for (const auto& s : report["scaling"]) {
      const double f = s["flat"]["p50_us"].get<double>(), h = s["hnsw"]["p50_us"].get<double>();
      md << "| " << s["entries"] << " | " << fmt(f) << " | " << fmt(h) << " | "
         << fmt(s["hnsw"]["recall"].get<double>(), 4) << " | " << fmt(f / h) << "× |\n";
    }
  }
}

// The performance targets (docs/performance.md) that one run can check, as ratios measured side by side.
json check_targets(const json& datasets) {
  json out = json::array();
  auto add = [&](const std::string& d, const std::string& check, const std::string& measured,
                 const std::string& target, bool met) {
    out.push_back({{"dataset", d}, {"check", check}, {"measured", measured}, {"target", target},
                   {"met", met}});
  };
  for (const auto& d : datasets) {
    const std::string name = d["name"];
    std::map<std::string, const json*> by;
    for (const auto& r : d["engines"]) {
      if (r["available"].get<bool>()) by[r["engine"].get<std::string>()] = &r;
    }
    if (by.count("hnswlib") && by.count("hnswstore-hnsw")) {
      const json& raw = *by["hnswlib"];
      const json& own = *by["hnswstore-hnsw"];
      std::vector<double> ids, meta;
      for (const auto& p : raw["points"]) {
        const auto ef = p["ef"].get<std::size_t>();
        const double base = p["p50_us"].get<double>();
        if (auto v = p50_at(own, "points", ef)) ids.push_back(*v / base);
        if (auto v = p50_at(own, "points_with_metadata", ef)) meta.push_back(*v / base);
      }
      const double ri = median(ids), rm = median(meta);
      add(name, "search p50 / raw hnswlib, ids only (median over the ef sweep)", fmt(ri, 3) + "×",
          "≤ 1.05×", ri <= 1.05);
      if (!meta.empty()) {
        add(name, "search p50 / raw hnswlib, metadata returned", fmt(rm, 3) + "×", "≤ 1.15×",
            rm <= 1.15);
      }
      const double rb = own["build_s"].get<double>() / raw["build_s"].get<double>();
      add(name, "build time / raw hnswlib, " + std::to_string(own["build_threads"].get<int>()) +
                    " threads", fmt(rb, 3) + "×", "≤ 1.05×", rb <= 1.05);
      if (own.contains("graph_bytes")) {
        const double payload = own["vector_bytes"].get<double>() + own["graph_bytes"].get<double>();
        const double rm2 = own["memory_bytes"].get<double>() / payload;
        add(name, "HNSW memory / (vector + link bytes)", fmt(rm2, 3) + "×", "≤ 1.25×",
            rm2 <= 1.25);
      }
      if (own.contains("load_s")) {
        const double vs_build = own["build_s"].get<double>() / own["load_s"].get<double>();
        const double vs_read = own["load_s"].get<double>() / own["read_files_s"].get<double>();
        add(name, "restart: rebuild time / load time", fmt(vs_build, 0) + "×", "≥ 10×",
            vs_build >= 10);
        add(name, "restart: load time / reading the files", fmt(vs_read, 2) + "×", "≤ 3×",
            vs_read <= 3);
      }
      if (name == "fashion-mnist") {
        const auto own95 = first_reaching(own, 0.95);
        for (const char* other : {"hnswlib", "faiss-hnsw", "usearch"}) {
          if (!by.count(other)) continue;
          const auto o95 = first_reaching(*by[other], 0.95);
          if (!own95 || !o95) continue;
          const double q_own = 1e6 / (*own95)["mean_us"].get<double>();
          const double q_other = 1e6 / (*o95)["mean_us"].get<double>();
          add(name,
              std::string("1-thread QPS at recall ≥ 0.95 vs ") + other + " (ef " +
                  std::to_string((*own95)["ef"].get<int>()) + " vs " +
                  std::to_string((*o95)["ef"].get<int>()) + ")",
              fmt(q_own, 0) + " vs " + fmt(q_other, 0),
              std::string(other) == "usearch" ? "record" : "≥", q_own >= q_other);
        }
      }
    }
    if (by.count("hnswstore-flat")) {
      const json& flat = *by["hnswstore-flat"];
      const double bytes = flat["vector_bytes"].get<double>();
      const double gbps = bytes / (flat["points"][0]["mean_us"].get<double>() * 1e3);
      const double stream = d["stream_read_gbps"].get<double>();
      add(name, "flat scan GB/s vs streaming read", fmt(gbps) + " vs " + fmt(stream) + " GB/s",
          "≥ 70 %", gbps >= 0.7 * stream);
      const double rm = flat["memory_bytes"].get<double>() / bytes;
      add(name, "flat memory / vector bytes", fmt(rm, 3) + "×", "≤ 1.1×", rm <= 1.1);
    }
  }
  return out;
}

// ann-benchmarks style: recall@10 on x, single-thread QPS (1 / mean latency) on a log y axis,
// one line per engine over the ef sweep.
void write_plots(const json& report, const fs::path& out) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    progress("gnuplot not found: no plots (apt-get install gnuplot-nox)");
    return;
  }
  for (const auto& d : report["datasets"]) {
    const std::string name = d["name"];
    const fs::path script = out / (name + ".gp");
    std::ofstream gp(script);
    gp << "set terminal pngcairo noenhanced size 900,600 font 'sans,11'\n"
       << "set output '" << (out / (name + ".png")).string() << "'\n"
       << "set title '" << name << " (" << d["rows"] << " x " << d["dim"]
       << "): recall@10 vs queries per second, 1 thread, k = 10'\n"
       << "set xlabel 'recall@10'\nset ylabel 'queries per second (1 thread)'\n"
       << "set logscale y\nset grid\nset key bottom left\n";
    std::string plot = "plot ";
    std::string data;
    for (const auto& r : d["engines"]) {
      if (!r.contains("points")) continue;
      const bool exact = r["points"].size() == 1;
      plot += std::string(plot == "plot " ? "" : ", ") + "'-' with " +
              (exact ? "points pt 7 ps 1.5" : "linespoints pt 7") + " title '" +
              r["engine"].get<std::string>() + "'";
      for (const auto& p : r["points"]) {
        data += fmt(p["recall"].get<double>(), 5) + " " + fmt(1e6 / p["mean_us"].get<double>(), 1) +
                "\n";
      }
      data += "e\n";
    }
    gp << plot << "\n" << data;
    gp.close();
    const std::string cmd = "gnuplot '" + script.string() + "'";
    if (std::system(cmd.c_str()) != 0) progress("gnuplot failed on " + script.string());
  }
}

std::vector<std::size_t> parse_sizes(const std::string& s) {
  std::vector<std::size_t> out;
  for (const auto& item : split(s)) out.push_back(std::stoul(item));
  return out;
}

Config parse_args(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--datasets") {
      c.datasets = split(next());
      c.datasets_given = true;
    }
    else if (a == "--engines") c.engines = split(next());
    else if (a == "--ef") c.efs = parse_sizes(next());
    else if (a == "--n") c.n = std::stoul(next());
    else if (a == "--queries") c.queries = std::stoul(next());
    else if (a == "--flat-queries") c.flat_queries = std::stoul(next());
    else if (a == "--threads") c.threads = std::stoul(next());
    else if (a == "--repeat") c.repeat = std::stoul(next());
    else if (a == "--build1") c.build1 = split(next());
    else if (a == "--no-build1") c.build1.clear();
    else if (a == "--no-scaling") c.scaling = false;
    else if (a == "--merge") c.merge = true;
    else if (a == "--out") c.out = next();
    else if (a == "--cache") c.cache = next();
    else if (a == "--m") c.params.m = std::stoul(next());
    else if (a == "--ef-construction") c.params.ef_construction = std::stoul(next());
    else if (a == "--filtered") c.filtered = true;
    else if (a == "--filter-ef") {
      for (const auto& item : split(next())) {
        const auto eq = item.find('=');
        if (eq == std::string::npos) c.filter_ef[""] = std::stoul(item);
        else c.filter_ef[item.substr(0, eq)] = std::stoul(item.substr(eq + 1));
      }
    }
    else if (a == "--filter-seed") c.filter_seed = std::stoull(next());
    else if (a == "--overfetch-queries") c.overfetch_queries = std::stoul(next());
    else throw std::invalid_argument("unknown argument '" + a + "' (see the top of compare.cpp)");
  }
  if (c.efs.empty() || c.queries == 0 || c.threads == 0 || c.repeat == 0) {
    throw std::invalid_argument("--ef, --queries, --threads and --repeat must be non-empty/positive");
  }
  return c;
}

int run(int argc, char** argv) {
  const Config cfg = parse_args(argc, argv);
  fs::create_directories(cfg.out);
  if (cfg.filtered) return run_filtered(cfg);
  json report;
  report["machine"] = machine(cfg);
  report["datasets"] = json::array();
  if (cfg.merge) keep_other_datasets((fs::path(cfg.out) / "compare.json").string(), cfg, report);
  for (const auto& name : cfg.datasets) {
    auto d = load_dataset(name, cfg);
    if (!d) {
      progress(name + ": not installed, skipped (apt-get install dataset-fashion-mnist)");
      continue;
    }
    progress(name + ": " + std::to_string(d->base.rows) + " x " + std::to_string(d->base.cols));
    const Truth truth = ground_truth(*d, cfg);
    json dj = {{"name", name},
               {"description", d->description},
               {"rows", d->base.rows},
               {"dim", d->base.cols},
               {"queries", d->queries.rows},
               {"stream_read_gbps", stream_read_gbps(d->base, cfg.repeat)}};
    for (const auto& engine : cfg.engines) dj["engines"].push_back(run_engine(engine, *d, truth, cfg));
    report["datasets"].push_back(dj);
    std::ofstream(fs::path(cfg.out) / "compare.json") << report.dump(2) << "\n";  // partial
  }
  if (cfg.scaling) report["scaling"] = run_scaling(cfg, report["datasets"]);
  report["targets"] = check_targets(report["datasets"]);
  std::ofstream(fs::path(cfg.out) / "compare.json") << report.dump(2) << "\n";
  write_markdown(report, fs::path(cfg.out) / "compare.md");
  write_plots(report, cfg.out);
  progress("wrote " + (fs::path(cfg.out) / "compare.md").string());
  return 0;
}

}  // namespace
}  // namespace hnswstore::bench

int main(int argc, char** argv) {
  try {
    return hnswstore::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare: %s\n", e.what());
    return 1;
  }
}
