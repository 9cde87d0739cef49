// The store's life cycle and its locks: writes around close(), drops while a namespace's writer
// is busy, and the memory budget's saves while other tenants write.
//
// No assertion here is about time. A wait that cannot end on the code under test (a deadlock)
// is bounded by a generous timeout only so that such a failure is reported instead of hanging;
// the test then releases what it holds so that the stuck threads finish.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fault_env.hpp"
#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr std::size_t kDim = 4;
// How long a call may take before the test calls it stuck (a deadlock): far beyond any call here.
constexpr std::chrono::seconds kStuck{30};

std::vector<float> vec(float x) { return {x, -x, 0.5f * x, 1.0f}; }

StoreOptions quiet(StoreOptions o = {}) {
  o.threads = 2;
  o.logger = [](LogLevel, std::string_view) {};
  return o;
}

NamespaceOptions flat() {
  return {.dimension = kDim, .metric = Metric::kL2, .index = IndexKind::kFlat};
}

NamespaceOptions graph() {
  return {
      .dimension = kDim,
      .metric = Metric::kL2,
      .index = IndexKind::kHnsw,
      .hnsw = {.m = 8, .ef_construction = 32, .ef_search = 32, .seed = 1, .graph_threshold = 1}};
}

// A one-shot gate: wait() blocks until open().
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  bool wait_for(std::chrono::seconds d) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, d, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// ── close() ──────────────────────────────────────────────────────────────────────────────────

// Every kind of write through a handle, as a list of (name, call).
std::vector<std::pair<std::string, std::function<Status(Namespace&)>>> every_write() {
  return {
      {"upsert", [](Namespace& ns) { return ns.upsert("late", vec(9)); }},
      {"upsert(records)",
       [](Namespace& ns) {
         return ns.upsert(std::vector<Record>{{"late2", vec(8), {}}});
       }},
      {"upsert(columnar)",
       [](Namespace& ns) {
         const std::vector<std::string> ids = {"late3"};
         return ns.upsert(ids, vec(7));
       }},
      {"update_metadata",
       [](Namespace& ns) {
         return ns.update_metadata("a", {{"x", 1}});
       }},
      {"remove(id)", [](Namespace& ns) { return ns.remove("a").status(); }},
      {"remove(filter)", [](Namespace& ns) { return ns.remove(Filter()).status(); }},
      {"set_ef_search", [](Namespace& ns) { return ns.set_ef_search(77); }},
      {"compact", [](Namespace& ns) { return ns.compact(); }},
      {"save", [](Namespace& ns) { return ns.save(); }},
  };
}

void expect_only_a(const fs::path& dir) {
  auto store = VectorStore::open(dir, quiet()).value();
  ASSERT_EQ(store.list_namespaces(), std::vector<std::string>{"docs"});
  auto ns = store.open_namespace("docs").value();
  EXPECT_EQ(ns.size(), 1u);
  EXPECT_TRUE(ns.contains("a"));
  auto a = ns.get("a");
  ASSERT_TRUE(a.has_value()) << a.error().to_string();
  EXPECT_EQ(a->metadata, Metadata::object());
  EXPECT_EQ(ns.options().hnsw.ef_search, graph().hnsw.ef_search);
}

TEST(Close, EveryWriteThroughAHandleFailsAfterClose) {
  for (const bool by_destructor : {false, true}) {
    SCOPED_TRACE(by_destructor ? "store destroyed" : "store closed");
    TempDir tmp;
    const fs::path dir = tmp.path() / "store";
    Namespace ns;
    {
      auto store = VectorStore::open(dir, quiet()).value();
      ns = store.create_namespace("docs", graph()).value();
      ASSERT_TRUE(ns.upsert("a", vec(1)).ok());
      if (!by_destructor) {
        ASSERT_TRUE(store.close().ok());
      }
    }
    for (auto& [what, write] : every_write()) {
      const Status s = write(ns);
      EXPECT_EQ(s.code(), StatusCode::kNotSupported) << what << ": " << s.to_string();
      EXPECT_NE(s.message().find("closed"), std::string::npos) << what << ": " << s.to_string();
    }
    // Reads still work, and see that nothing changed.
    EXPECT_EQ(ns.size(), 1u);
    EXPECT_TRUE(ns.get("a").has_value());
    EXPECT_FALSE(ns.contains("late"));
    // And what close() saved is all there is.
    ASSERT_NO_FATAL_FAILURE(expect_only_a(dir));
  }
}

// Threads keep writing through their handles while the store closes: every write that was
// acknowledged is in the store when it is opened again, and every write after close() returned
// is refused.
TEST(Close, AWriteRacingCloseIsEitherSavedOrRefused) {
  constexpr int kWriters = 3;
  for (const bool hnsw : {false, true}) {
    for (int round = 0; round < 10; ++round) {
      SCOPED_TRACE(std::string(hnsw ? "hnsw" : "flat") + " round " + std::to_string(round));
      TempDir tmp;
      const fs::path dir = tmp.path() / "store";
      auto store = VectorStore::open(dir, quiet()).value();
      auto ns = store.create_namespace("docs", hnsw ? graph() : flat()).value();
      std::atomic<int> acknowledged{0};
      std::atomic<bool> close_returned{false};
      std::vector<std::vector<int>> acked(kWriters);  // per writer, the ids it got an ok for
      std::vector<std::string> errors(kWriters);
      std::vector<int> acked_after_close(kWriters, 0);
      std::vector<std::thread> writers;
      for (int w = 0; w < kWriters; ++w) {
        writers.emplace_back([&, w] {
          for (int i = 0;; ++i) {
            const bool after = close_returned.load();
            const Status s = ns.upsert("w" + std::to_string(w) + "-" + std::to_string(i),
                                       vec(static_cast<float>(w * 100000 + i)), {{"i", i}});
            if (!s.ok()) {
              if (s.code() != StatusCode::kNotSupported) errors[w] = s.to_string();
              return;
            }
            acked[w].push_back(i);
            acknowledged.fetch_add(1);
            // Old behaviour: writes after close() are acknowledged and never saved. A few are
            // enough to show it; then stop.
            if (after && ++acked_after_close[w] >= 20) return;
          }
        });
      }
      while (acknowledged.load() < 50 * (round + 1)) std::this_thread::yield();
      const Status closed = store.close();
      close_returned.store(true);
      for (auto& t : writers) t.join();
      ASSERT_TRUE(closed.ok()) << closed.to_string();
      for (int w = 0; w < kWriters; ++w) {
        EXPECT_EQ(errors[w], "") << "writer " << w;
        EXPECT_EQ(acked_after_close[w], 0) << "writer " << w << " was acknowledged after close()";
      }

      auto reopened = VectorStore::open(dir, quiet()).value();
      auto docs = reopened.open_namespace("docs").value();
      std::size_t total = 0;
      for (int w = 0; w < kWriters; ++w) {
        total += acked[w].size();
        for (const int i : acked[w]) {
          const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i);
          auto r = docs.get(id);
          ASSERT_TRUE(r.has_value())
              << id << " was acknowledged but is lost: " << r.error().to_string();
          ASSERT_EQ(r->vector, vec(static_cast<float>(w * 100000 + i))) << id;
        }
      }
      EXPECT_EQ(docs.size(), total) << "the store holds writes that were not acknowledged";
    }
  }
}

// ── drop_namespace() ─────────────────────────────────────────────────────────────────────────

std::vector<Record> records(std::size_t n, float base = 0.0f) {
  std::vector<Record> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back({"r" + std::to_string(i), vec(base + static_cast<float>(i)), {{"i", i}}});
  }
  return out;
}

// What another tenant does while namespace "a" is being dropped: every catalogue call, and a
// write to another namespace. Returns "" or what went wrong.
std::string other_tenant_work(VectorStore& store, const std::string& created) {
  std::string problems;
  const auto names = store.list_namespaces();
  if (std::find(names.begin(), names.end(), "b") == names.end()) problems += "b not listed; ";
  auto b = store.open_namespace("b");
  if (!b) return problems + "open_namespace(b): " + b.error().to_string();
  if (Status s = b->upsert("x", vec(3)); !s.ok()) problems += "upsert into b: " + s.to_string();
  if (!store.has_namespace("b")) problems += "has_namespace(b) false; ";
  if (auto c = store.create_namespace(created, flat()); !c) {
    problems += "create_namespace: " + c.error().to_string();
  }
  if (auto g = store.get_or_create_namespace(created + "-2", flat()); !g) {
    problems += "get_or_create_namespace: " + g.error().to_string();
  }
  (void)store.has_namespace("a");  // either answer; it must answer
  return problems;
}

// Runs `work` on another thread and waits for it at most kStuck: false if it is stuck (then the
// caller must release what blocks it; `pending` keeps it to be waited for later).
bool finishes(std::function<std::string()> work, std::future<std::string>& pending,
              std::string* problems) {
  pending = std::async(std::launch::async, std::move(work));
  if (pending.wait_for(kStuck) != std::future_status::ready) return false;
  *problems = pending.get();
  return true;
}

// Namespace "a"'s writer is busy (its progress callback waits for the test) when another
// thread drops "a": every other tenant's create, open, list and write goes on meanwhile.
TEST(Drop, ABusyWriterOfTheDroppedNamespaceBlocksNoOtherTenant) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  Gate in_callback, release;
  std::atomic<bool> armed{false};
  StoreOptions so = quiet();
  so.progress = [&](std::string_view stage, std::size_t, std::size_t) {
    if (stage == "upsert" && armed.exchange(false)) {
      in_callback.open();
      release.wait();
    }
  };
  auto store = VectorStore::open(dir, so).value();
  auto a = store.create_namespace("a", graph()).value();
  auto b = store.create_namespace("b", flat()).value();
  ASSERT_TRUE(b.upsert("b0", vec(1)).ok());
  ASSERT_TRUE(store.save().ok());

  armed = true;
  Status written, dropped;
  std::thread writer([&] { written = a.upsert(records(500)); });
  in_callback.wait();  // a's writer holds its lock now, and keeps it until `release`
  std::thread dropper([&] { dropped = store.drop_namespace("a"); });
  // Let the drop reach its wait for a's writer (no assertion depends on this pause: without it
  // the test would only be less likely to catch the old behaviour).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::future<std::string> pending;
  std::string problems;
  const bool done = finishes([&] { return other_tenant_work(store, "c"); }, pending, &problems);
  EXPECT_TRUE(done) << "another tenant's calls waited for the dropped namespace's writer";
  release.open();
  writer.join();
  dropper.join();
  if (!done) problems = pending.get();
  EXPECT_EQ(problems, "");
  EXPECT_TRUE(written.ok()) << written.to_string();  // it held the lock first: it completes
  EXPECT_TRUE(dropped.ok()) << dropped.to_string();
  EXPECT_FALSE(store.has_namespace("a"));
  EXPECT_EQ(a.upsert("late", vec(1)).code(), StatusCode::kNotFound);
  EXPECT_EQ(store.list_namespaces(), (std::vector<std::string>{"b", "c", "c-2"}));
  ASSERT_TRUE(store.close().ok());
  auto reopened = VectorStore::open(dir, quiet()).value();
  EXPECT_EQ(reopened.list_namespaces(), (std::vector<std::string>{"b", "c", "c-2"}));
  EXPECT_TRUE(reopened.open_namespace("b").value().contains("x"));
}

// A progress callback or a logger of namespace "a"'s writer (whose lock its thread holds) that
// calls the store while another thread drops "a" must not deadlock.
class DropCallbacks : public ::testing::TestWithParam<bool> {};  // true: logger, false: progress

TEST_P(DropCallbacks, ACallbackThatUsesTheStoreDuringADropDoesNotDeadlock) {
  const bool logger = GetParam();
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  std::optional<VectorStore> store;
  std::atomic<bool> armed{false};
  Gate in_callback, drop_started;
  std::future<std::string> pending;
  std::string problems;
  std::atomic<bool> done{false};
  // Runs inside a's writer lock: waits until the drop of "a" has started, then uses the store.
  auto touch_store = [&] {
    in_callback.open();
    drop_started.wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // see the test above
    done = finishes([&] { return other_tenant_work(*store, "d"); }, pending, &problems);
  };
  StoreOptions so = quiet();
  if (logger) {
    // The writer logs (kDebug) when its batch reaches the graph threshold, holding its lock.
    so.logger = [&](LogLevel, std::string_view line) {
      if (line.find("graph threshold") != std::string_view::npos && armed.exchange(false)) {
        touch_store();
      }
    };
  } else {
    so.progress = [&](std::string_view stage, std::size_t, std::size_t) {
      if (stage == "upsert" && armed.exchange(false)) touch_store();
    };
  }
  store.emplace(VectorStore::open(dir, so).value());
  NamespaceOptions o = graph();
  o.hnsw.graph_threshold = 100;
  auto a = store->create_namespace("a", o).value();
  ASSERT_TRUE(store->create_namespace("b", flat()).has_value());

  armed = true;
  Status written, dropped;
  std::thread writer([&] { written = a.upsert(records(300)); });
  in_callback.wait();
  std::thread dropper([&] {
    drop_started.open();
    dropped = store->drop_namespace("a");
  });
  writer.join();
  dropper.join();
  EXPECT_TRUE(done) << "the callback's calls on the store waited for the drop, which waited for "
                       "the callback's thread";
  if (!done) problems = pending.get();
  EXPECT_EQ(problems, "");
  EXPECT_TRUE(written.ok()) << written.to_string();
  EXPECT_TRUE(dropped.ok()) << dropped.to_string();
  EXPECT_EQ(store->list_namespaces(), (std::vector<std::string>{"b", "d", "d-2"}));
}

INSTANTIATE_TEST_SUITE_P(Callbacks, DropCallbacks, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "logger" : "progress";
                         });

// ── the memory budget ────────────────────────────────────────────────────────────────────────

// An Env over a FaultEnv whose file syncs can be held: the first fsync of a file whose path
// contains `hold_` (once armed) opens `arrived` and waits for `release`: a slow disk.
class GateEnv final : public Env {
 public:
  void hold(std::string path_part) {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = std::move(path_part);
  }
  Gate arrived, release;

  Result<std::unique_ptr<WritableFile>> new_writable_file(const fs::path& path) override {
    auto file = base_->new_writable_file(path);
    if (!file) return file.error();
    return std::unique_ptr<WritableFile>(
        std::make_unique<File>(this, path.string(), std::move(*file)));
  }
  Status read_file(const fs::path& path, std::size_t max_bytes, std::string* out) override {
    return base_->read_file(path, max_bytes, out);
  }
  bool file_exists(const fs::path& path) override { return base_->file_exists(path); }
  Result<std::vector<std::string>> list_dir(const fs::path& dir) override {
    return base_->list_dir(dir);
  }
  Status create_dir(const fs::path& dir) override { return base_->create_dir(dir); }
  Status rename_file(const fs::path& from, const fs::path& to) override {
    return base_->rename_file(from, to);
  }
  Status remove_file(const fs::path& path) override { return base_->remove_file(path); }
  Status sync_dir(const fs::path& dir) override { return base_->sync_dir(dir); }
  Result<std::unique_ptr<FileLock>> lock_file(const fs::path& path) override {
    return base_->lock_file(path);
  }

 private:
  class File final : public WritableFile {
   public:
    File(GateEnv* env, std::string path, std::unique_ptr<WritableFile> base)
        : env_(env), path_(std::move(path)), base_(std::move(base)) {}
    Status append(std::string_view data) override { return base_->append(data); }
    Status sync() override {
      bool held = false;
      {
        std::lock_guard<std::mutex> lock(env_->mutex_);
        if (!env_->hold_.empty() && path_.find(env_->hold_) != std::string::npos) {
          env_->hold_.clear();
          held = true;
        }
      }
      if (held) {
        env_->arrived.open();
        env_->release.wait();
      }
      return base_->sync();
    }
    Status close() override { return base_->close(); }

   private:
    GateEnv* env_;
    std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  std::shared_ptr<Env> base_ = std::make_shared<testing::FaultEnv>();
  std::mutex mutex_;
  std::string hold_;
};

// A store whose budget holds only the namespace in use, with namespaces v, x and y saved; then v
// is changed, so that it is the least recently used namespace and dirty when x is written.
struct BudgetScenario {
  std::shared_ptr<GateEnv> env = std::make_shared<GateEnv>();
  std::optional<VectorStore> store;
  Namespace v, x, y;

  void build(StoreOptions so) {
    so.env = env;
    so.memory_budget_bytes = 1;  // nothing but the namespace just used stays loaded
    store.emplace(VectorStore::open("/store", so).value());
    v = store->create_namespace("v", flat()).value();
    x = store->create_namespace("x", flat()).value();
    y = store->create_namespace("y", flat()).value();
    for (Namespace* ns : {&v, &x, &y}) ASSERT_TRUE(ns->upsert(records(50)).ok());
    ASSERT_TRUE(store->save().ok());
    ASSERT_TRUE(v.upsert("dirty", vec(5)).ok());
    ASSERT_TRUE(v.stats().dirty);
  }
};

// Writing to x makes the budget unload v, whose save waits for a slow disk: meanwhile another
// thread's write to y (which charges the budget too) goes through.
TEST(BudgetLocking, AVictimsSlowSaveDoesNotHoldUpOtherTenants) {
  BudgetScenario sc;
  ASSERT_NO_FATAL_FAILURE(sc.build(quiet()));
  sc.env->hold("/v.");
  Status wrote_x;
  std::thread writer([&] { wrote_x = sc.x.upsert("x-new", vec(6)); });
  sc.env->arrived.wait();  // the writer's thread is inside v's save now
  std::future<std::string> pending;
  std::string problems;
  const bool done = finishes(
      [&]() -> std::string {
        if (Status s = sc.y.upsert("y-new", vec(7)); !s.ok()) return s.to_string();
        if (auto r = sc.y.get("r1"); !r) return r.error().to_string();
        return "";
      },
      pending, &problems);
  EXPECT_TRUE(done) << "a write to y waited for v's save, which the budget ran for x's write";
  sc.env->release.open();
  writer.join();
  if (!done) problems = pending.get();
  EXPECT_EQ(problems, "");
  EXPECT_TRUE(wrote_x.ok()) << wrote_x.to_string();
  // v was saved before it was unloaded: its change is there when it loads again.
  EXPECT_TRUE(sc.v.get("dirty").has_value());
  EXPECT_TRUE(sc.y.contains("y-new"));
  EXPECT_TRUE(sc.x.contains("x-new"));
}

// A progress callback running inside the budget's save of v calls the store from its own
// thread and from another thread it waits for: neither waits for the budget.
TEST(BudgetLocking, ACallbackInsideAnUnloadMayUseTheStoreFromAnyThread) {
  BudgetScenario sc;
  std::atomic<bool> armed{false};
  std::string problems;
  std::future<std::string> pending;
  std::atomic<bool> done{true};
  StoreOptions so = quiet();
  so.progress = [&](std::string_view stage, std::size_t done_items, std::size_t) {
    if (stage != "save" || done_items != 1 || !armed.exchange(false)) return;
    // On this thread (which is unloading v for the budget): a write that charges the budget.
    if (Status s = sc.y.upsert("same-thread", vec(8)); !s.ok()) problems += s.to_string();
    // On another thread, waited for: a write that charges the budget too.
    std::string other;
    done = finishes(
        [&]() -> std::string {
          Status s = sc.y.upsert("other-thread", vec(9));
          return s.ok() ? "" : s.to_string();
        },
        pending, &other);
    problems += other;
  };
  ASSERT_NO_FATAL_FAILURE(sc.build(so));
  armed = true;
  const Status wrote_x = sc.x.upsert("x-new", vec(6));  // unloads v, whose save reports progress
  EXPECT_FALSE(armed) << "the budget did not save v";
  EXPECT_TRUE(done) << "a write on another thread waited for the budget this thread holds";
  if (!done) problems += pending.get();
  EXPECT_EQ(problems, "");
  EXPECT_TRUE(wrote_x.ok()) << wrote_x.to_string();
  EXPECT_TRUE(sc.y.contains("same-thread"));
  EXPECT_TRUE(sc.y.contains("other-thread"));
  EXPECT_TRUE(sc.v.get("dirty").has_value());
}

}  // namespace
}  // namespace hnswstore
