// Persistence: round trips, graph reload vs rebuild, locking, read-only stores, drops, lazy loads.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Collects log lines so that tests can see which load path ran.
struct LogCapture {
  std::mutex mutex;
  std::vector<std::string> lines;
  Logger logger() {
    return [this](LogLevel, std::string_view line) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.emplace_back(line);
    };
  }
  bool contains(std::string_view text) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

std::vector<std::string> make_ids(std::size_t n, std::string_view prefix = "doc-") {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < n; ++i) ids.push_back(std::string(prefix) + std::to_string(i));
  return ids;
}

std::vector<Metadata> make_metadata(std::size_t n) {
  std::vector<Metadata> md;
  for (std::size_t i = 0; i < n; ++i) {
    md.push_back({{"i", i},
                  {"even", i % 2 == 0},
                  {"title", "t\xc3\xa9xt " + std::to_string(i)},
                  {"nested", {{"x", static_cast<double>(i) / 3.0}, {"tags", {"a", "b"}}}}});
  }
  return md;
}

// Every id, vector (bit for bit) and metadata object of `a` is in `b` and vice versa.
void expect_same_records(const Namespace& a, const Namespace& b,
                         const std::vector<std::string>& ids) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& id : ids) {
    auto ra = a.get(id);
    auto rb = b.get(id);
    ASSERT_EQ(ra.has_value(), rb.has_value()) << id;
    if (!ra) continue;
    ASSERT_EQ(ra->vector.size(), rb->vector.size());
    EXPECT_EQ(std::memcmp(ra->vector.data(), rb->vector.data(), ra->vector.size() * 4), 0) << id;
    EXPECT_EQ(ra->metadata, rb->metadata) << id;
  }
}

std::vector<std::vector<Hit>> run_searches(const Namespace& ns, const testing::Matrix& queries) {
  std::vector<std::vector<Hit>> out;
  for (std::size_t q = 0; q < queries.rows; ++q) {
    out.push_back(ns.search(std::span<const float>(queries.row(q), queries.cols)).value());
  }
  return out;
}

TEST(Persistence, RoundTripReloadsGraphAndSearchesIdentically) {
  TempDir dir;
  const std::size_t n = 3000, dim = 24;
  auto data = testing::embedding_like(n, dim, 7);
  auto queries = testing::embedding_like(100, dim, 99);
  auto ids = make_ids(n);
  auto md = make_metadata(n);
  for (Metric metric : {Metric::kCosine, Metric::kL2, Metric::kInnerProduct, Metric::kL1}) {
    SCOPED_TRACE(std::string(to_string(metric)));
    const std::string name = "ns-" + std::string(to_string(metric));
    std::vector<std::vector<Hit>> before;
    {
      auto store = VectorStore::open(dir.path()).value();
      auto ns = store.create_namespace(name, {.dimension = dim, .metric = metric}).value();
      ASSERT_TRUE(ns.upsert(ids, data.data, md).ok());
      ASSERT_TRUE(ns.set_ef_search(77).ok());
      ASSERT_TRUE(ns.save().ok());
      EXPECT_FALSE(ns.stats().dirty);
      before = run_searches(ns, queries);
    }
    LogCapture log;
    auto store = VectorStore::open(dir.path(), {.logger = log.logger()}).value();
    auto ns = store.open_namespace(name).value();
    EXPECT_FALSE(ns.stats().loaded);  // lazy
    EXPECT_EQ(ns.size(), n);          // known from the config without loading
    EXPECT_EQ(ns.options().hnsw.ef_search, 77u);
    auto after = run_searches(ns, queries);
    EXPECT_TRUE(ns.stats().loaded);
    EXPECT_FALSE(log.contains("rebuilding")) << "the graph file should have been used";
    ASSERT_EQ(before.size(), after.size());
    for (std::size_t q = 0; q < before.size(); ++q) {
      ASSERT_EQ(before[q].size(), after[q].size());
      for (std::size_t i = 0; i < before[q].size(); ++i) {
        EXPECT_EQ(before[q][i].id, after[q][i].id);
        EXPECT_EQ(before[q][i].distance, after[q][i].distance);
        EXPECT_EQ(before[q][i].metadata, after[q][i].metadata);
      }
    }
    // Bit-exact records: compare against a fresh in-memory copy of the input.
    auto mem = VectorStore::in_memory();
    auto ref = mem.create_namespace(name, {.dimension = dim, .metric = metric}).value();
    ASSERT_TRUE(ref.upsert(ids, data.data, md).ok());
    expect_same_records(ref, ns, ids);
  }
}

TEST(Persistence, RebuildWithoutGraphFileReachesHighOverlap) {
  TempDir dir;
  const std::size_t n = 5000, dim = 32;
  auto data = testing::embedding_like(n, dim, 3);
  auto queries = testing::embedding_like(100, dim, 5);
  auto ids = make_ids(n);
  std::vector<std::vector<Hit>> before;
  {
    auto store = VectorStore::open(dir.path(), {.save_graph = false}).value();
    auto ns = store.create_namespace("a", {.dimension = dim}).value();
    ASSERT_TRUE(ns.upsert(ids, data.data).ok());
    before = run_searches(ns, queries);
  }  // saved on close
  for (const auto& e : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().string().find(".graph.bin"), std::string::npos) << e.path();
  }
  LogCapture log;
  auto store = VectorStore::open(dir.path(), {.logger = log.logger()}).value();
  auto ns = store.open_namespace("a").value();
  auto after = run_searches(ns, queries);
  EXPECT_TRUE(log.contains("rebuilding the HNSW graph"));
  std::size_t same = 0, total = 0;
  for (std::size_t q = 0; q < before.size(); ++q) {
    for (const auto& h : before[q]) {
      ++total;
      for (const auto& g : after[q]) same += g.id == h.id ? 1 : 0;
    }
  }
  const double overlap = static_cast<double>(same) / static_cast<double>(total);
  RecordProperty("overlap_after_rebuild", std::to_string(overlap));
  std::printf("overlap of 100 searches' results after a rebuild from vectors alone: %.4f\n",
              overlap);
  EXPECT_GE(overlap, 0.95);
}

TEST(Persistence, SaveWritesOnlyLiveRecordsAndKeepsWorking) {
  TempDir dir;
  const std::size_t n = 2000, dim = 8;
  auto data = testing::embedding_like(n, dim, 11);
  auto ids = make_ids(n);
  {
    auto store = VectorStore::open(dir.path(), {.zstd_level = 0}).value();
    auto ns = store.create_namespace("c", {.dimension = dim, .metric = Metric::kL2}).value();
    ASSERT_TRUE(ns.upsert(ids, data.data).ok());
    for (std::size_t i = 0; i < n; i += 3) ASSERT_TRUE(ns.remove(ids[i]).value());
    ASSERT_TRUE(ns.save().ok());
    // Still usable after a save, and a second save writes the change.
    ASSERT_TRUE(ns.upsert("extra", std::span<const float>(data.row(0), dim), {{"k", 1}}).ok());
    ASSERT_TRUE(ns.save().ok());
    ASSERT_TRUE(store.close().ok());
  }
  auto store = VectorStore::open(dir.path()).value();
  auto ns = store.open_namespace("c").value();
  EXPECT_EQ(ns.size(), n - (n + 2) / 3 + 1);
  EXPECT_EQ(ns.stats().deleted, 0u);
  EXPECT_FALSE(ns.contains(ids[0]));
  EXPECT_TRUE(ns.contains(ids[1]));
  EXPECT_EQ(ns.get("extra").value().metadata, Metadata({{"k", 1}}));
  auto hits = ns.search(std::span<const float>(data.row(1), dim), {.k = 5}).value();
  ASSERT_EQ(hits.size(), 5u);
  for (const auto& h : hits) EXPECT_NE(h.id, ids[0]);
  // One generation on disk: older files are removed after the commit.
  std::size_t vector_files = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    vector_files += e.path().string().ends_with(".vectors.bin") ? 1 : 0;
  }
  EXPECT_EQ(vector_files, 1u);
}

TEST(Persistence, FlatAndEmptyNamespacesRoundTrip) {
  TempDir dir;
  auto data = testing::embedding_like(300, 5, 1);
  auto ids = make_ids(300);
  {
    auto store = VectorStore::open(dir.path()).value();
    auto flat = store.create_namespace("flat", {.dimension = 5, .index = IndexKind::kFlat}).value();
    ASSERT_TRUE(flat.upsert(ids, data.data).ok());
    ASSERT_TRUE(
        store.create_namespace("empty", {.dimension = 3, .metric = Metric::kL1}).has_value());
    ASSERT_TRUE(store.save().ok());
  }
  auto store = VectorStore::open(dir.path()).value();
  EXPECT_EQ(store.list_namespaces(), (std::vector<std::string>{"empty", "flat"}));
  auto empty = store.open_namespace("empty").value();
  EXPECT_EQ(empty.options().metric, Metric::kL1);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.search(std::vector<float>{1, 2, 3}).value().empty());
  auto flat = store.open_namespace("flat").value();
  EXPECT_EQ(flat.options().index, IndexKind::kFlat);
  auto hits = flat.search(std::span<const float>(data.row(42), 5), {.k = 1}).value();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, ids[42]);
}

TEST(Persistence, SecondWriterIsBusyAndReadOnlySharesTheDirectory) {
  TempDir dir;
  auto writer = VectorStore::open(dir.path()).value();
  auto ns = writer.create_namespace("x", {.dimension = 2, .metric = Metric::kL2}).value();
  ASSERT_TRUE(ns.upsert("a", std::vector<float>{1, 2}).ok());
  ASSERT_TRUE(writer.save().ok());

  auto second = VectorStore::open(dir.path());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), StatusCode::kBusy);
  EXPECT_NE(second.error().message().find(dir.path().string()), std::string::npos)
      << second.error().message();

  auto reader = VectorStore::open(dir.path(), {.read_only = true}).value();
  auto rns = reader.open_namespace("x").value();
  EXPECT_TRUE(rns.contains("a"));
  EXPECT_EQ(rns.upsert("b", std::vector<float>{1, 2}).code(), StatusCode::kNotSupported);
  EXPECT_EQ(rns.remove("a").error().code(), StatusCode::kNotSupported);
  EXPECT_EQ(rns.save().code(), StatusCode::kNotSupported);
  EXPECT_EQ(reader.create_namespace("y", {.dimension = 2}).error().code(),
            StatusCode::kNotSupported);
  EXPECT_EQ(reader.drop_namespace("x").code(), StatusCode::kNotSupported);

  // The writer commits a newer generation; a reader that loads afterwards sees it.
  ASSERT_TRUE(ns.upsert("b", std::vector<float>{3, 4}).ok());
  ASSERT_TRUE(ns.save().ok());
  auto reader2 = VectorStore::open(dir.path(), {.read_only = true}).value();
  EXPECT_TRUE(reader2.open_namespace("x").value().contains("b"));

  // Closing the writer releases the lock.
  ASSERT_TRUE(writer.close().ok());
  EXPECT_TRUE(VectorStore::open(dir.path()).has_value());
}

TEST(Persistence, ReaderRetriesWhenTheWriterReplacedItsGeneration) {
  TempDir dir;
  auto writer = VectorStore::open(dir.path()).value();
  auto ns = writer.create_namespace("x", {.dimension = 2, .metric = Metric::kL2}).value();
  ASSERT_TRUE(ns.upsert("a", std::vector<float>{1, 2}).ok());
  ASSERT_TRUE(ns.save().ok());
  auto reader = VectorStore::open(dir.path(), {.read_only = true}).value();
  auto rns = reader.open_namespace("x").value();  // config read, generation 1
  ASSERT_TRUE(ns.upsert("b", std::vector<float>{3, 4}).ok());
  ASSERT_TRUE(ns.save().ok());  // generation 2; generation 1's files are removed
  EXPECT_TRUE(rns.contains("b"));
  EXPECT_EQ(rns.size(), 2u);
}

TEST(Persistence, OpenOptionsAndMissingDirectories) {
  TempDir dir;
  const fs::path missing = dir.path() / "sub" / "store";
  auto r = VectorStore::open(missing, {.create_if_missing = false});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
  EXPECT_FALSE(VectorStore::open(missing, {.read_only = true}).has_value());
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_TRUE(VectorStore::open(missing).has_value());
  EXPECT_TRUE(fs::is_directory(missing));
  auto mem = VectorStore::in_memory();
  auto ns = mem.create_namespace("m", {.dimension = 2}).value();
  EXPECT_EQ(ns.save().code(), StatusCode::kNotSupported);
  EXPECT_EQ(mem.save().code(), StatusCode::kNotSupported);
}

TEST(Persistence, DropRemovesFilesAndSurvivesReopen) {
  TempDir dir;
  {
    auto store = VectorStore::open(dir.path()).value();
    for (const char* name : {"keep", "gone"}) {
      auto ns = store.create_namespace(name, {.dimension = 2, .metric = Metric::kL2}).value();
      ASSERT_TRUE(ns.upsert("a", std::vector<float>{1, 2}).ok());
    }
    ASSERT_TRUE(store.save().ok());
    auto gone = store.open_namespace("gone").value();
    ASSERT_TRUE(store.drop_namespace("gone").ok());
    EXPECT_EQ(gone.get("a").error().code(), StatusCode::kNotFound);
    for (const auto& e : fs::directory_iterator(dir.path())) {
      EXPECT_NE(e.path().filename().string().rfind("gone.", 0), 0u) << e.path();
    }
  }
  auto store = VectorStore::open(dir.path()).value();
  EXPECT_EQ(store.list_namespaces(), std::vector<std::string>{"keep"});
}

TEST(Persistence, LeftoversOfACrashAreRemovedByTheNextWriter) {
  TempDir dir;
  {
    auto store = VectorStore::open(dir.path()).value();
    auto ns = store.create_namespace("n", {.dimension = 2, .metric = Metric::kL2}).value();
    ASSERT_TRUE(ns.upsert("a", std::vector<float>{1, 2}).ok());
  }
  // What a crash mid-save or mid-drop leaves: a temporary config, a generation no config
  // names, the data files of a namespace whose config was already removed.
  for (const char* f : {"n.config.json.tmp", "n.000009.vectors.bin", "n.000009.graph.bin",
                        "dropped.000001.vectors.bin", "notes.txt"}) {
    std::ofstream(dir.path() / f) << "x";
  }
  auto store = VectorStore::open(dir.path()).value();
  EXPECT_TRUE(store.open_namespace("n").value().contains("a"));
  for (const char* f : {"n.config.json.tmp", "n.000009.vectors.bin", "n.000009.graph.bin",
                        "dropped.000001.vectors.bin"}) {
    EXPECT_FALSE(fs::exists(dir.path() / f)) << f;
  }
  EXPECT_TRUE(fs::exists(dir.path() / "notes.txt"));  // not ours: never touched
}

TEST(Persistence, DamagedConfigIsListedReportedAndDroppable) {
  TempDir dir;
  {
    auto store = VectorStore::open(dir.path()).value();
    for (const char* name : {"good", "bad"}) {
      auto ns = store.create_namespace(name, {.dimension = 2, .metric = Metric::kL2}).value();
      ASSERT_TRUE(ns.upsert("a", std::vector<float>{1, 2}).ok());
    }
  }
  {
    std::fstream f(dir.path() / "bad.config.json", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('#');
  }
  LogCapture log;
  auto store = VectorStore::open(dir.path(), {.logger = log.logger()}).value();
  EXPECT_TRUE(store.has_namespace("bad"));
  auto bad = store.open_namespace("bad");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.error().message().find("bad.config.json"), std::string::npos);
  EXPECT_TRUE(store.open_namespace("good").value().contains("a"));
  EXPECT_EQ(store.create_namespace("bad", {.dimension = 2}).error().code(),
            StatusCode::kAlreadyExists);
  ASSERT_TRUE(store.drop_namespace("bad").ok());
  EXPECT_FALSE(store.has_namespace("bad"));
  EXPECT_TRUE(store.create_namespace("bad", {.dimension = 2}).has_value());
}

TEST(Persistence, MetadataDepthAndUtf8AreCheckedAtUpsert) {
  auto store = VectorStore::in_memory();
  auto ns = store.create_namespace("m", {.dimension = 1, .metric = Metric::kL2}).value();
  Metadata deep = 1;
  for (std::size_t i = 0; i < kMaxMetadataDepth; ++i) deep = Metadata{{"d", deep}};
  ASSERT_TRUE(ns.upsert("ok", std::vector<float>{1}, deep).ok());  // exactly the limit
  deep = Metadata{{"d", deep}};
  Status s = ns.upsert("a", std::vector<float>{1}, deep);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("nested deeper"), std::string::npos) << s.message();
  Status u = ns.upsert("a", std::vector<float>{1}, {{"title", std::string("caf\xe9")}});
  EXPECT_EQ(u.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(u.message().find("metadata.title"), std::string::npos) << u.message();
  // JSON text has no NaN: saving it would silently turn it into null.
  Status nan = ns.upsert("a", std::vector<float>{1}, {{"x", {{"y", std::nan("")}}}});
  EXPECT_EQ(nan.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(nan.message().find("metadata.x.y"), std::string::npos) << nan.message();
  EXPECT_EQ(ns.update_metadata("ok", {{"z", -INFINITY}}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ns.size(), 1u);
}

TEST(Persistence, EverySavedOptionComesBack) {
  TempDir dir;
  const NamespaceOptions o{.dimension = 7,
                           .metric = Metric::kInnerProduct,
                           .index = IndexKind::kHnsw,
                           .hnsw = {.m = 12,
                                    .ef_construction = 77,
                                    .ef_search = 33,
                                    .seed = 4242,
                                    .graph_threshold = 300},
                           .max_elements = 1000,
                           .memory_limit_bytes = 123456789};
  {
    auto store = VectorStore::open(dir.path()).value();
    ASSERT_TRUE(store.create_namespace("opts", o).has_value());
  }
  auto store = VectorStore::open(dir.path()).value();
  EXPECT_EQ(store.open_namespace("opts").value().options(), o);
}

TEST(Persistence, ConcurrentFirstUseLoadsOnceAndSavesDuringSearches) {
  TempDir dir;
  const std::size_t n = 4000, dim = 16;
  auto data = testing::embedding_like(n, dim, 21);
  auto ids = make_ids(n);
  {
    auto store = VectorStore::open(dir.path()).value();
    auto ns = store.create_namespace("c", {.dimension = dim}).value();
    ASSERT_TRUE(ns.upsert(ids, data.data).ok());
  }
  std::atomic<int> loads{0};
  StoreOptions so;
  so.logger = [&](LogLevel, std::string_view line) {
    if (line.find("loaded") != std::string_view::npos) loads.fetch_add(1);
  };
  auto store = VectorStore::open(dir.path(), so).value();
  auto ns = store.open_namespace("c").value();
  std::atomic<bool> stop{false};
  std::atomic<std::size_t> wrong{0}, searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      std::size_t i = static_cast<std::size_t>(t);
      do {
        auto hits = ns.search(std::span<const float>(data.row(i % n), dim), {.k = 1});
        if (!hits || hits->empty() || hits->front().id != ids[i % n]) wrong.fetch_add(1);
        searches.fetch_add(1);
        i += 7;
      } while (!stop.load());
    });
  }
  // Saves while the readers search; each one commits an update.
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(ns.update_metadata(ids[0], {{"round", round}}).ok());
    ASSERT_TRUE(ns.save().ok());
  }
  stop.store(true);
  for (auto& t : readers) t.join();
  EXPECT_EQ(loads.load(), 1);
  EXPECT_EQ(wrong.load(), 0u) << "of " << searches.load() << " searches";
  auto reopened = VectorStore::open(dir.path(), {.read_only = true}).value();
  EXPECT_EQ(reopened.open_namespace("c").value().get(ids[0]).value().metadata,
            Metadata({{"round", 4}}));
}

TEST(Persistence, TombstonesAreNotSavedAndTheGraphStillWorks) {
  TempDir dir;
  const std::size_t n = 3000, dim = 16;
  auto data = testing::embedding_like(n, dim, 31);
  auto ids = make_ids(n);
  {
    auto store = VectorStore::open(dir.path()).value();
    auto ns = store.create_namespace("t", {.dimension = dim, .metric = Metric::kL2}).value();
    ASSERT_TRUE(ns.upsert(ids, data.data).ok());
    // Remove a quarter, including (very likely) the entry point's neighbourhood.
    for (std::size_t i = 0; i < n; i += 4) ASSERT_TRUE(ns.remove(ids[i]).value());
  }
  LogCapture log;
  auto store = VectorStore::open(dir.path(), {.logger = log.logger()}).value();
  auto ns = store.open_namespace("t").value();
  std::size_t found_self = 0;
  for (std::size_t i = 1; i < n; i += 4) {
    auto hits = ns.search(std::span<const float>(data.row(i), dim), {.k = 10}).value();
    ASSERT_EQ(hits.size(), 10u);
    for (const auto& h : hits) ASSERT_NE(std::stoul(h.id.substr(4)) % 4, 0u) << "a removed record";
    found_self += hits[0].id == ids[i] ? 1 : 0;
  }
  EXPECT_FALSE(log.contains("rebuilding"));
  EXPECT_GE(found_self, (n / 4) * 99 / 100);
  EXPECT_EQ(ns.stats().deleted, 0u);
}

// A round trip across processes: a child writes, saves and records 100 searches; this
// process, which never held the data, opens the directory and must reproduce everything exactly.
TEST(Persistence, RoundTripInANewProcessIsExact) {
  TempDir dir;
  const std::size_t n = 4000, dim = 48;
  auto data = testing::embedding_like(n, dim, 13);
  auto queries = testing::embedding_like(100, dim, 14);
  auto ids = make_ids(n);
  auto md = make_metadata(n);
  const fs::path results = dir.path() / "child-results.txt";
  const fs::path store_dir = dir.path() / "store";
  auto format_hits = [](const std::vector<std::vector<Hit>>& all) {
    std::string out;
    for (const auto& hits : all) {
      for (const auto& h : hits) {
        std::uint32_t bits;
        std::memcpy(&bits, &h.distance, 4);
        out += h.id + " " + std::to_string(bits) + " " + h.metadata.dump() + "\n";
      }
      out += "--\n";
    }
    return out;
  };
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int rc = 1;
    {
      auto store = VectorStore::open(store_dir);
      if (store) {
        auto ns = store->create_namespace("p", {.dimension = dim, .metric = Metric::kCosine});
        if (ns && ns->upsert(ids, data.data, md).ok() && ns->remove(ids[7]).value_or(false) &&
            ns->save().ok()) {
          std::ofstream(results) << format_hits(run_searches(*ns, queries));
          rc = store->close().ok() ? 0 : 1;
        }
      }
    }
    std::_Exit(rc);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  LogCapture log;
  auto store = VectorStore::open(store_dir, {.read_only = true, .logger = log.logger()}).value();
  auto ns = store.open_namespace("p").value();
  std::ifstream in(results);
  const std::string expected((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(format_hits(run_searches(ns, queries)), expected);
  EXPECT_FALSE(log.contains("rebuilding"));
  // Every record, bit for bit, against the same input upserted here in memory.
  auto mem = VectorStore::in_memory();
  auto ref = mem.create_namespace("p", {.dimension = dim, .metric = Metric::kCosine}).value();
  ASSERT_TRUE(ref.upsert(ids, data.data, md).ok());
  ASSERT_TRUE(ref.remove(ids[7]).value());
  expect_same_records(ref, ns, ids);
}

// refresh() brings a read-only store up to what the writer committed since it opened (or last
// refreshed): new generations of loaded and unloaded namespaces, new namespaces, dropped ones,
// and a namespace dropped and created again. Uncommitted changes never show.
TEST(Persistence, RefreshTakesInWhatTheWriterCommitted) {
  TempDir dir;
  StoreOptions quiet;
  quiet.logger = [](LogLevel, std::string_view) {};
  auto writer = VectorStore::open(dir.path(), quiet).value();
  const NamespaceOptions o{.dimension = 4,
                           .metric = Metric::kL2,
                           .hnsw = {.m = 8, .ef_construction = 32, .seed = 1, .graph_threshold = 1}};
  auto a = writer.create_namespace("a", o).value();
  auto b = writer.create_namespace("b", o).value();
  auto c = writer.create_namespace("c", o).value();
  auto vec = [](float x) { return std::vector<float>{x, 1, -x, 2}; };
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(a.upsert("r" + std::to_string(i), vec(static_cast<float>(i)), {{"v", 1}}).ok());
  }
  ASSERT_TRUE(b.upsert("b0", vec(0)).ok());
  ASSERT_TRUE(c.upsert("c0", vec(0)).ok());
  ASSERT_TRUE(writer.save().ok());

  StoreOptions ro = quiet;
  ro.read_only = true;
  auto reader = VectorStore::open(dir.path(), ro).value();
  auto ra = reader.open_namespace("a").value();
  auto rb = reader.open_namespace("b").value();
  auto rc = reader.open_namespace("c").value();  // never loaded before the refresh
  ASSERT_EQ(ra.size(), 10u);
  ASSERT_TRUE(ra.contains("r0"));  // loads generation 1
  ASSERT_TRUE(rb.contains("b0"));
  {
    const Status r = reader.refresh();
    EXPECT_TRUE(r.ok()) << r.to_string();
  }  // nothing new: nothing changes
  EXPECT_EQ(ra.size(), 10u);

  // The writer commits: a new generation of a, of c, a new namespace d; b is dropped.
  for (int i = 10; i < 20; ++i) {
    ASSERT_TRUE(a.upsert("r" + std::to_string(i), vec(static_cast<float>(i)), {{"v", 2}}).ok());
  }
  ASSERT_TRUE(a.remove("r0").value());
  ASSERT_TRUE(a.update_metadata("r1", {{"v", 2}}).ok());
  ASSERT_TRUE(c.upsert("c1", vec(1)).ok());
  auto d = writer.create_namespace("d", o).value();
  ASSERT_TRUE(d.upsert("d0", vec(0)).ok());
  ASSERT_TRUE(writer.save().ok());
  ASSERT_TRUE(writer.drop_namespace("b").ok());
  ASSERT_TRUE(a.upsert("uncommitted", vec(99)).ok());  // never saved before the refresh

  {
    const Status r = reader.refresh();
    EXPECT_TRUE(r.ok()) << r.to_string();
  }
  EXPECT_EQ(reader.list_namespaces(), (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_EQ(ra.size(), 19u);
  EXPECT_FALSE(ra.contains("r0"));
  EXPECT_TRUE(ra.contains("r19"));
  EXPECT_FALSE(ra.contains("uncommitted"));
  EXPECT_EQ(ra.get("r1").value().metadata, (Metadata{{"v", 2}}));
  auto hits = ra.search(vec(15), {.k = 3}).value();
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, "r15");
  EXPECT_EQ(hits[0].distance, 0.0f);
  EXPECT_EQ(rc.size(), 2u);
  EXPECT_TRUE(rc.contains("c1"));
  EXPECT_EQ(rb.get("b0").error().code(), StatusCode::kNotFound) << "b was dropped";
  EXPECT_FALSE(rb);
  EXPECT_TRUE(reader.open_namespace("d").value().contains("d0"));

  // a is dropped and created again with another dimension: the old handle is dropped, the name
  // opens the new namespace.
  ASSERT_TRUE(writer.drop_namespace("a").ok());
  auto a2 = writer.create_namespace("a", {.dimension = 2, .metric = Metric::kL1}).value();
  ASSERT_TRUE(a2.upsert("new", std::vector<float>{1, 2}).ok());
  ASSERT_TRUE(writer.save().ok());
  {
    const Status r = reader.refresh();
    EXPECT_TRUE(r.ok()) << r.to_string();
  }
  EXPECT_EQ(ra.get("r1").error().code(), StatusCode::kNotFound);
  auto ra2 = reader.open_namespace("a").value();
  EXPECT_EQ(ra2.options().dimension, 2u);
  EXPECT_TRUE(ra2.contains("new"));

  // A writer has nothing to take in; an in-memory store has no files; a closed store refuses.
  {
    const Status r = writer.refresh();
    EXPECT_TRUE(r.ok()) << r.to_string();
  }
  EXPECT_EQ(VectorStore::in_memory().refresh().code(), StatusCode::kNotSupported);
  ASSERT_TRUE(reader.close().ok());
  EXPECT_EQ(reader.refresh().code(), StatusCode::kInvalidArgument);
}

// The destructor closes the store: it saves (reporting progress) and logs what failed. A logger
// and a progress callback that throw, standard exceptions or anything else, must not terminate
// the process there, and the save still happens.
TEST(Persistence, DestructorSurvivesALoggerAndAProgressCallbackThatThrow) {
  // The child must write into this process's directory: forked, not re-executed. No thread of
  // this test runs at the fork.
  GTEST_FLAG_SET(death_test_style, "fast");
  for (const bool standard : {true, false}) {
    SCOPED_TRACE(standard ? "std::runtime_error" : "an int");
    TempDir tmp;
    const fs::path dir = tmp.path() / "store";
    EXPECT_EXIT(
        {
          StoreOptions so;
          so.threads = 1;
          so.logger = [standard](LogLevel, std::string_view) {
            if (standard) throw std::runtime_error("the logger throws");
            throw 7;
          };
          so.progress = [standard](std::string_view, std::size_t, std::size_t) {
            if (standard) throw std::runtime_error("the progress callback throws");
            throw 8;
          };
          {
            auto store = VectorStore::open(dir, so).value();
            auto ns = store.create_namespace("docs", {.dimension = 3, .metric = Metric::kL2});
            if (!ns || !ns->upsert("a", std::vector<float>{1, 2, 3}).ok()) std::_Exit(3);
          }  // ~VectorStore: close(), save_on_close
          std::_Exit(0);
        },
        ::testing::ExitedWithCode(0), "");
    StoreOptions quiet;
    quiet.logger = [](LogLevel, std::string_view) {};
    auto store = VectorStore::open(dir, quiet);
    ASSERT_TRUE(store.has_value()) << store.error().to_string();
    auto ns = store->open_namespace("docs");
    ASSERT_TRUE(ns.has_value()) << ns.error().to_string();
    EXPECT_TRUE(ns->contains("a")) << "the destructor did not save";
  }
}

}  // namespace
}  // namespace hnswstore
