// Fault injection (tests/support/fault_env.hpp): every operation of a save and of a drop fails in
// turn, and the power goes off at every boundary between two operations. Whatever happens, a
// fresh store on what the disk holds must open without an error and find the namespace exactly
// as one of its commits (every id, every vector bit for bit, every metadata object): the last
// one, or the one being written, never a mix, and never anything but the last one when the
// failure came before the commit point.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "datasets.hpp"
#include "fault_env.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore {

// Names the parameter in test listings ("hnsw", not "4-byte object <00-00 00-00>").
void PrintTo(IndexKind kind, std::ostream* os) { *os << to_string(kind); }

namespace {

namespace fs = std::filesystem;
using testing::FaultEnv;
using testing::FaultOp;
using testing::FaultTraceEntry;

const fs::path kDir = "/faulty/store";  // inside the FaultEnv only
constexpr std::size_t kDim = 12;
constexpr std::size_t kRecords = 300;

// Collects log lines, so that a test can require that a reopen logs no warning or error.
struct LogCapture {
  std::mutex mutex;
  std::vector<std::pair<LogLevel, std::string>> lines;
  Logger logger() {
    return [this](LogLevel level, std::string_view line) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.emplace_back(level, line);
    };
  }
  // Every warning and error, one per line ("" if none).
  std::string problems() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string out;
    for (const auto& [level, line] : lines) {
      if (level >= LogLevel::kWarning) out += line + "\n";
    }
    return out;
  }
};

StoreOptions store_options(const std::shared_ptr<FaultEnv>& env, LogCapture* log) {
  StoreOptions o;
  o.threads = 1;
  // A store whose save failed is abandoned the way a crashed process abandons it: destroying it
  // must not write anything.
  o.save_on_close = false;
  o.env = env;
  o.logger = log->logger();
  return o;
}

// A namespace's records: id -> (vector bytes, metadata as JSON text).
using Dump = std::map<std::string, std::pair<std::string, std::string>>;

// Loads the namespace and lists every record: a search for all of them (k = size) gives the
// ids, get() the records. Any error (a namespace that does not load) fails the test.
void dump(const Namespace& ns, Dump* out) {
  out->clear();
  const std::size_t n = ns.size();
  const std::vector<float> probe(ns.options().dimension, 1.0f);
  auto hits = ns.search(probe, {.k = std::max<std::size_t>(n, 1)});
  ASSERT_TRUE(hits.has_value()) << ns.name() << ": " << hits.error().message();
  ASSERT_EQ(hits->size(), n) << ns.name();
  for (const Hit& h : *hits) {
    auto r = ns.get(h.id);
    ASSERT_TRUE(r.has_value()) << h.id << ": " << r.error().message();
    std::string bytes(r->vector.size() * sizeof(float), '\0');
    std::memcpy(bytes.data(), r->vector.data(), bytes.size());
    ASSERT_TRUE(out->emplace(h.id, std::make_pair(bytes, r->metadata.dump())).second)
        << "id " << h.id << " found twice";
  }
}

// Why `got` is not `want`, for failure messages.
std::string difference(const Dump& got, const Dump& want) {
  if (got == want) return "equal";
  for (const auto& [id, record] : want) {
    auto it = got.find(id);
    if (it == got.end()) return "missing id " + id;
    if (it->second.first != record.first) return "other vector for id " + id;
    if (it->second.second != record.second) {
      return "other metadata for id " + id + ": " + it->second.second + " vs " + record.second;
    }
  }
  for (const auto& [id, record] : got) {
    if (want.count(id) == 0) return "extra id " + id;
  }
  return "?";
}

NamespaceOptions docs_options(IndexKind kind) {
  return {.dimension = kDim,
          .metric = Metric::kCosine,
          .index = kind,
          .hnsw = {.m = 8, .ef_construction = 40, .ef_search = 50, .seed = 7, .graph_threshold = 1}};
}

Metadata metadata_for(std::size_t i, int version) {
  return {{"i", i},
          {"version", version},
          {"title", "t\xc3\xa9xt " + std::to_string(i)},
          {"nested", {{"x", static_cast<double>(i) / 7.0}, {"tags", {"a", version}}}}};
}

std::string doc_id(std::size_t i) { return "doc-" + std::to_string(i); }

// A store on a fresh FaultEnv: namespace "docs" committed as state A with state B's changes
// applied in memory (new records, new vectors for old ids, removals, metadata updates), and a
// committed bystander "other" that nothing changes. The trace starts empty.
struct Scenario {
  IndexKind kind = IndexKind::kHnsw;
  std::shared_ptr<FaultEnv> env = std::make_shared<FaultEnv>();
  LogCapture log;
  std::optional<VectorStore> store;
  Namespace docs;
  Dump a, b, other;
};

void build(IndexKind kind, Scenario* sc) {
  sc->kind = kind;
  ASSERT_TRUE(sc->env->create_durable_dir(kDir).ok());
  auto store = VectorStore::open(kDir, store_options(sc->env, &sc->log));
  ASSERT_TRUE(store.has_value()) << store.error().message();
  sc->store.emplace(std::move(*store));
  auto docs = sc->store->create_namespace("docs", docs_options(kind));
  ASSERT_TRUE(docs.has_value()) << docs.error().message();
  sc->docs = *docs;
  const auto data = testing::embedding_like(kRecords + 60, kDim, 5);
  std::vector<std::string> ids;
  std::vector<Metadata> md;
  for (std::size_t i = 0; i < kRecords; ++i) {
    ids.push_back(doc_id(i));
    md.push_back(metadata_for(i, 0));
  }
  ASSERT_TRUE(
      sc->docs.upsert(ids, std::span<const float>(data.data).first(kRecords * kDim), md).ok());
  auto other = sc->store->create_namespace(
      "other", {.dimension = 3, .metric = Metric::kL2, .index = IndexKind::kFlat});
  ASSERT_TRUE(other.has_value());
  for (int i = 0; i < 20; ++i) {
    const float f = static_cast<float>(i);
    ASSERT_TRUE(other->upsert("o" + std::to_string(i), std::vector<float>{f, -f, 0.5f},
                              {{"n", i}}).ok());
  }
  ASSERT_TRUE(sc->store->save().ok());
  ASSERT_NO_FATAL_FAILURE(dump(sc->docs, &sc->a));
  ASSERT_NO_FATAL_FAILURE(dump(*other, &sc->other));

  auto row = [&](std::size_t i) { return std::span<const float>(data.row(i), kDim); };
  for (std::size_t i = kRecords; i < kRecords + 40; ++i) {
    ASSERT_TRUE(sc->docs.upsert(doc_id(i), row(i), metadata_for(i, 1)).ok());
  }
  for (std::size_t i = 0; i < kRecords; i += 10) {  // new vector and metadata
    ASSERT_TRUE(sc->docs.upsert(doc_id(i), row(kRecords + 40 + i % 20), metadata_for(i, 1)).ok());
  }
  for (std::size_t i = 1; i < 250; i += 10) ASSERT_TRUE(sc->docs.remove(doc_id(i)).value());
  for (std::size_t i = 2; i < kRecords; i += 10) {
    ASSERT_TRUE(sc->docs.update_metadata(doc_id(i), metadata_for(i, 2)).ok());
  }
  ASSERT_NO_FATAL_FAILURE(dump(sc->docs, &sc->b));
  ASSERT_NE(sc->a, sc->b);
  ASSERT_EQ(sc->b.size(), kRecords + 40 - 25);
  sc->env->reset_trace();
}

// What a fresh writer finds in `env`. Fails the test if the store does not open, a namespace
// does not load, a warning or an error is logged, "other" changed, or the open left behind a
// file that no commit names (a temporary config, a second generation).
struct Found {
  bool exists = false;
  Dump docs;
};

void reopen(const Scenario& sc, const std::shared_ptr<FaultEnv>& env, Found* found) {
  LogCapture log;
  auto store = VectorStore::open(kDir, store_options(env, &log));
  ASSERT_TRUE(store.has_value()) << store.error().message();
  const auto names = store->list_namespaces();
  found->exists = names == std::vector<std::string>{"docs", "other"};
  ASSERT_TRUE(found->exists || names == std::vector<std::string>{"other"})
      << names.size() << " namespaces";
  if (found->exists) {
    auto docs = store->open_namespace("docs");
    ASSERT_TRUE(docs.has_value()) << docs.error().message();
    ASSERT_NO_FATAL_FAILURE(dump(*docs, &found->docs));
    EXPECT_EQ(docs->options(), docs_options(sc.kind));
  }
  auto other = store->open_namespace("other");
  ASSERT_TRUE(other.has_value()) << other.error().message();
  Dump other_found;
  ASSERT_NO_FATAL_FAILURE(dump(*other, &other_found));
  EXPECT_EQ(other_found, sc.other) << difference(other_found, sc.other);
  EXPECT_EQ(log.problems(), "");

  std::vector<std::string> files = env->list_dir(kDir).value();
  std::sort(files.begin(), files.end());
  std::string listing;
  for (const auto& f : files) listing += f + " ";
  std::size_t docs_vectors = 0, docs_graphs = 0, other_files = 0;
  for (const auto& f : files) {
    EXPECT_FALSE(f.ends_with(".tmp")) << listing;
    if (f.starts_with("docs.")) {
      docs_vectors += f.ends_with(".vectors.bin") ? 1 : 0;
      docs_graphs += f.ends_with(".graph.bin") ? 1 : 0;
    }
    other_files += f.starts_with("other.") ? 1 : 0;
  }
  const std::size_t one = found->exists ? 1 : 0;
  EXPECT_EQ(docs_vectors, one) << listing;
  EXPECT_EQ(docs_graphs, sc.kind == IndexKind::kHnsw ? one : 0) << listing;
  EXPECT_EQ(other_files, 2u) << listing;  // config and vectors
}

// The index of the first entry of `ops` at or after `from` that is `op` on a path ending with
// `suffix`; ops.size() if there is none.
std::size_t find_op(const std::vector<FaultTraceEntry>& ops, FaultOp op, std::string_view suffix,
                    std::size_t from = 0) {
  for (std::size_t i = from; i < ops.size(); ++i) {
    if (ops[i].op == op && ops[i].path.ends_with(suffix)) return i;
  }
  return ops.size();
}

std::string describe(const std::vector<FaultTraceEntry>& ops) {
  std::string out;
  for (const auto& e : ops) out += std::string(to_string(e.op)) + " " + e.path + "\n";
  return out;
}

// The disks a power loss now may leave: a crashed copy of `env` for each subset of the directory
// changes not yet synced, since a kernel may have written any of them back on its own. The
// label names the changes that survived.
std::vector<std::pair<std::string, std::shared_ptr<FaultEnv>>> power_losses(const FaultEnv& env) {
  std::vector<std::string> pending;
  for (const auto& name : env.unsynced_names()) {
    if (!name.ends_with("/LOCK")) pending.push_back(name);  // its contents never matter
  }
  std::vector<std::vector<std::string>> subsets;
  if (pending.size() <= 6) {
    for (std::size_t mask = 0; mask < (std::size_t{1} << pending.size()); ++mask) {
      subsets.emplace_back();
      for (std::size_t i = 0; i < pending.size(); ++i) {
        if ((mask >> i & 1) != 0) subsets.back().push_back(pending[i]);
      }
    }
  } else {  // a protocol that hardly syncs: the extremes and each change alone
    subsets.push_back({});
    subsets.push_back(pending);
    for (const auto& name : pending) subsets.push_back({name});
  }
  std::vector<std::pair<std::string, std::shared_ptr<FaultEnv>>> out;
  for (const auto& kept : subsets) {
    std::string label = "power loss; unsynced directory changes that reached the disk:";
    for (const auto& name : kept) label += " " + fs::path(name).filename().string();
    auto copy = env.snapshot();
    copy->crash_keeping(kept);
    out.emplace_back(label, copy);
  }
  return out;
}

class SaveFaults : public ::testing::TestWithParam<IndexKind> {
 protected:
  // The operations of a clean save of the scenario, and where its commit point is: the rename
  // onto docs.config.json, durable at the directory sync that follows.
  void SetUp() override {
    Scenario sc;
    ASSERT_NO_FATAL_FAILURE(build(GetParam(), &sc));
    ASSERT_TRUE(sc.store->save().ok());
    ops_ = sc.env->trace();
    rename_ = find_op(ops_, FaultOp::kRename, "/docs.config.json");
    ASSERT_LT(rename_, ops_.size()) << describe(ops_);
    durable_ = find_op(ops_, FaultOp::kSyncDir, "", rename_);
    ASSERT_LT(durable_, ops_.size()) << describe(ops_);
    // The data files are written and synced, then the config: at least these must be traced.
    for (FaultOp op : {FaultOp::kCreate, FaultOp::kAppend, FaultOp::kSync}) {
      EXPECT_GE(std::count_if(ops_.begin(), ops_.end(),
                              [&](const FaultTraceEntry& e) { return e.op == op; }),
                GetParam() == IndexKind::kHnsw ? 3 : 2)
          << to_string(op) << "\n" << describe(ops_);
    }
  }

  std::vector<FaultTraceEntry> ops_;
  std::size_t rename_ = 0, durable_ = 0;
  std::size_t crashes_ = 0;  // power losses checked
};

TEST_P(SaveFaults, CrashRightAfterASuccessfulSaveKeepsIt) {
  Scenario sc;
  ASSERT_NO_FATAL_FAILURE(build(GetParam(), &sc));
  ASSERT_TRUE(sc.store->save().ok());
  sc.env->crash();
  sc.store.reset();
  Found found;
  ASSERT_NO_FATAL_FAILURE(reopen(sc, sc.env, &found));
  ASSERT_TRUE(found.exists);
  EXPECT_EQ(found.docs, sc.b) << difference(found.docs, sc.b);
}

TEST_P(SaveFaults, EveryFailedOperationLeavesTheLastCommitOrTheNew) {
  std::map<FaultOp, std::uint64_t> nth;
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    const FaultOp op = ops_[i].op;
    const std::uint64_t n = ++nth[op];
    SCOPED_TRACE("failing " + std::string(to_string(op)) + " #" + std::to_string(n) + " (" +
                 ops_[i].path + ")");
    Scenario sc;
    ASSERT_NO_FATAL_FAILURE(build(GetParam(), &sc));
    sc.env->set_partial_appends(true);  // a failed write leaves half of its data behind
    sc.env->fail_nth(op, n);
    const Status s = sc.store->save();
    ASSERT_TRUE(sc.env->fault_fired());
    if (i <= durable_) {
      // Not yet durable: the caller must hear about it.
      EXPECT_FALSE(s.ok());
      EXPECT_NE(s.message().find("injected fault"), std::string::npos) << s.message();
    } else {
      // Removing the previous generation failed: the commit stands, the failure is logged.
      EXPECT_TRUE(s.ok()) << s.message();
      EXPECT_NE(sc.log.problems().find("removing the previous files failed"), std::string::npos)
          << sc.log.problems();
    }
    // The records in memory are untouched, and a failed save leaves the namespace dirty, so
    // that the next save (or the close) writes it again.
    Dump in_memory;
    ASSERT_NO_FATAL_FAILURE(dump(sc.docs, &in_memory));
    EXPECT_EQ(in_memory, sc.b) << difference(in_memory, sc.b);
    EXPECT_EQ(sc.docs.stats().dirty, !s.ok());
    const Dump& expected_running = i <= rename_ ? sc.a : sc.b;

    // The running system: another writer (after this one) sees the renamed config at once.
    Found running;
    ASSERT_NO_FATAL_FAILURE(reopen(sc, sc.env->snapshot(), &running));
    ASSERT_TRUE(running.exists);
    EXPECT_EQ(running.docs, expected_running) << difference(running.docs, expected_running);

    // A power loss now: A before the commit point, A or B after it, B once save() said ok.
    for (const auto& [label, crashed] : power_losses(*sc.env)) {
      SCOPED_TRACE(label);
      ++crashes_;
      Found after;
      ASSERT_NO_FATAL_FAILURE(reopen(sc, crashed, &after));
      ASSERT_TRUE(after.exists);
      if (i <= rename_) {
        EXPECT_EQ(after.docs, sc.a) << difference(after.docs, sc.a);
      } else if (s.ok()) {
        EXPECT_EQ(after.docs, sc.b) << difference(after.docs, sc.b);
      } else {
        EXPECT_TRUE(after.docs == sc.a || after.docs == sc.b)
            << "A: " << difference(after.docs, sc.a) << "; B: " << difference(after.docs, sc.b);
      }
    }

    // The store still works: a retry commits B, which a crash right after does not lose.
    sc.env->clear_faults();
    ASSERT_TRUE(sc.store->save().ok());
    sc.env->crash();
    sc.store.reset();
    Found retried;
    ASSERT_NO_FATAL_FAILURE(reopen(sc, sc.env, &retried));
    ASSERT_TRUE(retried.exists);
    EXPECT_EQ(retried.docs, sc.b) << difference(retried.docs, sc.b);
  }
  std::cout << "[ faults   ] " << to_string(GetParam()) << ": failed each of the " << ops_.size()
            << " operations of a save in turn, " << crashes_ << " disks checked:\n"
            << describe(ops_);
}

TEST_P(SaveFaults, PowerLossAtEveryOperationBoundaryLosesNoCommit) {
  // n = 1: before the first operation; n = ops + 1: the save ran to its end.
  for (std::size_t n = 1; n <= ops_.size() + 1; ++n) {
    SCOPED_TRACE("power off at operation " + std::to_string(n) + " of " +
                 std::to_string(ops_.size()));
    Scenario sc;
    ASSERT_NO_FATAL_FAILURE(build(GetParam(), &sc));
    sc.env->power_off_at(n);
    const Status s = sc.store->save();
    EXPECT_EQ(sc.env->fault_fired(), n <= ops_.size());
    const bool renamed = rename_ + 1 < n;  // operations 1 .. n-1 ran
    for (const auto& [label, crashed] : power_losses(*sc.env)) {
      SCOPED_TRACE(label);
      ++crashes_;
      Found found;
      ASSERT_NO_FATAL_FAILURE(reopen(sc, crashed, &found));
      ASSERT_TRUE(found.exists);
      if (!renamed) {
        EXPECT_EQ(found.docs, sc.a) << difference(found.docs, sc.a);
      } else if (s.ok()) {
        EXPECT_EQ(found.docs, sc.b) << difference(found.docs, sc.b);
      } else {
        EXPECT_TRUE(found.docs == sc.a || found.docs == sc.b)
            << "A: " << difference(found.docs, sc.a) << "; B: " << difference(found.docs, sc.b);
      }
    }
  }
  std::cout << "[ faults   ] " << to_string(GetParam()) << ": power off at each of "
            << ops_.size() + 1 << " boundaries of a save, " << crashes_ << " disks checked\n";
}

// drop_namespace: the namespace is fully there with its last commit (A; B was never saved) or
// gone, never half there, never an error on reopen; once drop said ok it stays gone.
TEST_P(SaveFaults, EveryFailedOrInterruptedDropLeavesAllOrNothing) {
  std::vector<FaultTraceEntry> drop_ops;
  {
    Scenario sc;
    ASSERT_NO_FATAL_FAILURE(build(GetParam(), &sc));
    ASSERT_TRUE(sc.store->drop_namespace("docs").ok());
    drop_ops = sc.env->trace();
    ASSERT_GE(drop_ops.size(), 3u) << describe(drop_ops);  // config, directory sync, data files
  }
  const std::size_t config_removal = find_op(drop_ops, FaultOp::kRemove, "/docs.config.json");
  ASSERT_LT(config_removal, drop_ops.size()) << describe(drop_ops);
  auto check = [&](Scenario& sc, const Status& s, bool config_removed) {
    // Without a crash.
    Found running;
    ASSERT_NO_FATAL_FAILURE(reopen(sc, sc.env->snapshot(), &running));
    EXPECT_EQ(running.exists, !config_removed);
    if (running.exists) {
      EXPECT_EQ(running.docs, sc.a) << difference(running.docs, sc.a);
    }
    // After a power loss.
    for (const auto& [label, crashed] : power_losses(*sc.env)) {
      SCOPED_TRACE(label);
      ++crashes_;
      Found after;
      ASSERT_NO_FATAL_FAILURE(reopen(sc, crashed, &after));
      if (s.ok()) {
        EXPECT_FALSE(after.exists);
      }
      if (!config_removed) {
        EXPECT_TRUE(after.exists);
      }
      if (after.exists) {
        EXPECT_EQ(after.docs, sc.a) << difference(after.docs, sc.a);
      }
    }
  };

  std::map<FaultOp, std::uint64_t> nth;
  for (std::size_t i = 0; i < drop_ops.size(); ++i) {
    const FaultOp op = drop_ops[i].op;
    const std::uint64_t n = ++nth[op];
    SCOPED_TRACE("failing " + std::string(to_string(op)) + " #" + std::to_string(n) + " (" +
                 drop_ops[i].path + ") of a drop");
    Scenario sc;
    ASSERT_NO_FATAL_FAILURE(build(GetParam(), &sc));
    sc.env->fail_nth(op, n);
    const Status s = sc.store->drop_namespace("docs");
    ASSERT_TRUE(sc.env->fault_fired());
    // Until the removal of the config is durable the caller must hear of a failure.
    const std::size_t durable = find_op(drop_ops, FaultOp::kSyncDir, "");
    if (i <= durable) {
      EXPECT_FALSE(s.ok());
    }
    if (s.ok()) {
      EXPECT_FALSE(sc.store->has_namespace("docs"));
    }
    ASSERT_NO_FATAL_FAILURE(check(sc, s, i > config_removal));
    // A retry finishes the drop.
    sc.env->clear_faults();
    if (sc.store->has_namespace("docs")) {
      ASSERT_TRUE(sc.store->drop_namespace("docs").ok());
    }
    sc.env->crash();
    sc.store.reset();
    Found retried;
    ASSERT_NO_FATAL_FAILURE(reopen(sc, sc.env, &retried));
    EXPECT_FALSE(retried.exists);
  }
  for (std::size_t n = 1; n <= drop_ops.size() + 1; ++n) {
    SCOPED_TRACE("power off at operation " + std::to_string(n) + " of a drop");
    Scenario sc;
    ASSERT_NO_FATAL_FAILURE(build(GetParam(), &sc));
    sc.env->power_off_at(n);
    const Status s = sc.store->drop_namespace("docs");
    for (const auto& [label, crashed] : power_losses(*sc.env)) {
      SCOPED_TRACE(label);
      ++crashes_;
      Found found;
      ASSERT_NO_FATAL_FAILURE(reopen(sc, crashed, &found));
      if (s.ok()) {
        EXPECT_FALSE(found.exists);
      }
      if (n == 1) {
        EXPECT_TRUE(found.exists);
      }
      if (found.exists) {
        EXPECT_EQ(found.docs, sc.a) << difference(found.docs, sc.a);
      }
    }
  }
  std::cout << "[ faults   ] " << to_string(GetParam()) << ": failed each of the "
            << drop_ops.size() << " operations of a drop in turn, then power off at each of "
            << drop_ops.size() + 1 << " boundaries; " << crashes_ << " disks checked:\n"
            << describe(drop_ops);
}

INSTANTIATE_TEST_SUITE_P(Index, SaveFaults, ::testing::Values(IndexKind::kHnsw, IndexKind::kFlat),
                         [](const ::testing::TestParamInfo<IndexKind>& p) {
                           return std::string(to_string(p.param));
                         });

// Many crashes in a row, each at a random operation of a random mix of saves and drops of two
// namespaces, each recovery continuing from what the previous crash left: the state found is
// always the last commit, or the change whose save (or drop) the power cut.
TEST(FaultInjection, RepeatedPowerLossesKeepTheLastCommitOrTheNext) {
  const std::uint64_t seed = 20240611;
  std::mt19937_64 rng(seed);
  auto env = std::make_shared<FaultEnv>();
  ASSERT_TRUE(env->create_durable_dir(kDir).ok());
  const std::vector<std::pair<std::string, NamespaceOptions>> spaces = {
      {"h", docs_options(IndexKind::kHnsw)},
      {"f", {.dimension = kDim, .metric = Metric::kL2, .index = IndexKind::kFlat}}};
  // Per namespace: its last commit (nullopt: none on disk).
  std::map<std::string, std::optional<Dump>> committed;
  std::size_t rounds_cut = 0, saves = 0, drops = 0;
  const int kRounds = 60;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + " (seed " + std::to_string(seed) + ")");
    LogCapture log;
    auto opened = VectorStore::open(kDir, store_options(env, &log));
    ASSERT_TRUE(opened.has_value()) << opened.error().message();
    VectorStore store = std::move(*opened);
    for (const auto& [name, options] : spaces) {
      ASSERT_EQ(store.has_namespace(name), committed[name].has_value()) << name;
      if (!committed[name]) continue;
      Dump found;
      ASSERT_NO_FATAL_FAILURE(dump(store.open_namespace(name).value(), &found));
      ASSERT_EQ(found, *committed[name]) << name << ": " << difference(found, *committed[name]);
    }
    EXPECT_EQ(log.problems(), "");

    // Up to three change-and-commit steps; the power goes off somewhere among their operations
    // (or after all of them).
    env->power_off_at(std::uniform_int_distribution<std::uint64_t>(1, 45)(rng));
    std::map<std::string, std::optional<Dump>> pending;  // the change being committed
    for (int step = 0; step < 3; ++step) {
      const auto& [name, options] = spaces[rng() % spaces.size()];
      std::optional<Dump> next;
      Status s;
      if (rng() % 8 == 0 && store.has_namespace(name)) {
        s = store.drop_namespace(name);
        ++drops;
      } else {
        auto ns = store.get_or_create_namespace(name, options);
        ASSERT_TRUE(ns.has_value()) << ns.error().message();
        std::normal_distribution<float> gauss;
        const int changes = 1 + static_cast<int>(rng() % 30);
        for (int c = 0; c < changes; ++c) {
          const std::string id = "r" + std::to_string(rng() % 200);
          const int what = static_cast<int>(rng() % 4);
          if (what == 0) {
            ASSERT_TRUE(ns->remove(id).has_value());
          } else if (what == 1 && ns->contains(id)) {
            ASSERT_TRUE(ns->update_metadata(id, {{"m", static_cast<int>(rng() % 1000)}}).ok());
          } else {
            std::vector<float> v(kDim);
            for (float& x : v) x = gauss(rng);
            ASSERT_TRUE(ns->upsert(id, v, {{"round", round}, {"c", c}}).ok());
          }
        }
        next.emplace();
        ASSERT_NO_FATAL_FAILURE(dump(*ns, &*next));
        s = ns->save();
        ++saves;
      }
      if (!s.ok()) {
        pending[name] = next;
        break;  // the power is off: nothing else reaches the disk
      }
      committed[name] = next;
    }
    rounds_cut += env->fault_fired() ? 1 : 0;
    std::vector<std::string> kept;  // unsynced directory changes the kernel wrote back anyway
    for (const auto& name : env->unsynced_names()) {
      if (rng() % 2 == 0) kept.push_back(name);
    }
    env->crash_keeping(kept);
    // What the next round must find: the last commit, or the change whose commit was cut.
    LogCapture log2;
    auto again = VectorStore::open(kDir, store_options(env, &log2));
    ASSERT_TRUE(again.has_value()) << again.error().message();
    for (const auto& [name, change] : pending) {
      std::optional<Dump> found;
      if (again->has_namespace(name)) {
        found.emplace();
        ASSERT_NO_FATAL_FAILURE(dump(again->open_namespace(name).value(), &*found));
      }
      ASSERT_TRUE(found == committed[name] || found == change)
          << name << " is neither its last commit nor the interrupted one";
      committed[name] = found;
    }
  }
  std::cout << "[ faults   ] " << kRounds << " power losses (" << rounds_cut
            << " in the middle of a commit) over " << saves << " saves and " << drops
            << " drops\n";
  EXPECT_GT(rounds_cut, static_cast<std::size_t>(kRounds) / 2);
}

// A store directory that the store creates is durable once its first save succeeded: the new
// directories' entries in their parents are synced too (a crash must not lose the directory
// with the commit inside it).
TEST(FaultInjection, PowerLossAfterTheFirstSaveKeepsANewStoreDirectory) {
  const fs::path parent = "/data";          // existed before: its own entry is durable
  const fs::path dir = parent / "new" / "store";  // two levels the store creates
  for (const bool flat : {false, true}) {
    SCOPED_TRACE(flat ? "flat" : "hnsw");
    auto env = std::make_shared<FaultEnv>();
    ASSERT_TRUE(env->create_durable_dir(parent).ok());
    LogCapture log;
    Dump saved;
    {
      auto store = VectorStore::open(dir, store_options(env, &log));
      ASSERT_TRUE(store.has_value()) << store.error().message();
      auto ns = store->create_namespace("docs",
                                        docs_options(flat ? IndexKind::kFlat : IndexKind::kHnsw));
      ASSERT_TRUE(ns.has_value()) << ns.error().message();
      const auto data = testing::embedding_like(50, kDim, 3);
      for (std::size_t i = 0; i < 50; ++i) {
        ASSERT_TRUE(ns->upsert(doc_id(i), std::span<const float>(data.row(i), kDim),
                               metadata_for(i, 0)).ok());
      }
      ASSERT_NO_FATAL_FAILURE(dump(*ns, &saved));
      ASSERT_TRUE(ns->save().ok());
    }
    // Every disk a power loss may leave now, whichever unsynced directory changes reached it.
    for (const auto& [label, disk] : power_losses(*env)) {
      SCOPED_TRACE(label);
      StoreOptions o = store_options(disk, &log);
      o.create_if_missing = false;
      auto store = VectorStore::open(dir, o);
      ASSERT_TRUE(store.has_value()) << "the store directory is gone: " << store.error().message();
      auto ns = store->open_namespace("docs");
      ASSERT_TRUE(ns.has_value()) << ns.error().message();
      Dump found;
      ASSERT_NO_FATAL_FAILURE(dump(*ns, &found));
      EXPECT_EQ(found, saved) << difference(found, saved);
    }
  }
}

}  // namespace
}  // namespace hnswstore
