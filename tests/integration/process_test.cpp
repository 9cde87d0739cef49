// Real processes on one store directory (fork(), before any thread is started; every store here
// uses StoreOptions::threads = 1 so that no worker thread exists when the parent forks):
//
// - Writers exclude each other across processes: a second writer process gets kBusy, and once
//   the first closes its store (while its process lives on) a new writer process succeeds.
// - Read-only processes, started at different moments while the writer commits generation after
//   generation and changes the store without saving in between, always see exactly one committed
//   generation: never an uncommitted write, never a mix of two commits.
//
// Children report through their exit code and a message file; the parent checks both.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hnswstore/hnswstore.hpp"
#include "child_process.hpp"
#include "mix.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr std::size_t kDim = 8;
constexpr std::size_t kPerGeneration = 50;
constexpr int kGenerations = 12;

// Exit codes of the children.
using testing::kChildFailed;
using testing::kChildOk;
constexpr int kChildBusy = 10;

StoreOptions quiet_options(bool read_only = false) {
  StoreOptions o;
  o.threads = 1;
  o.read_only = read_only;
  o.save_on_close = false;
  o.logger = [](LogLevel, std::string_view) {};
  return o;
}

using testing::child_exit;
using testing::fork_child;
using testing::read_report;

// The exit code of the child, or -signal.
int wait_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1000;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1001;
}

bool read_byte(int fd, char* c) {
  for (;;) {
    const ssize_t n = ::read(fd, c, 1);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

void write_byte(int fd, char c) { ASSERT_EQ(::write(fd, &c, 1), 1) << std::strerror(errno); }

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe2(fd, O_CLOEXEC), 0) << std::strerror(errno); }
  ~Pipe() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  int read_end() const { return fd[0]; }
  int write_end() const { return fd[1]; }
  void close_read() { close_end(0); }
  void close_write() { close_end(1); }

 private:
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

TEST(Processes, SecondWriterProcessIsBusyUntilTheFirstCloses) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that died early must fail the test, not kill it
  ::alarm(120);                // a watchdog: a lost wake-up kills the test instead of hanging
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  const fs::path report = tmp.path() / "report.txt";
  {
    auto store = VectorStore::open(dir, quiet_options()).value();
    auto ns = store.create_namespace("docs", {.dimension = kDim, .metric = Metric::kL2}).value();
    ASSERT_TRUE(ns.upsert("a", std::vector<float>(kDim, 1.0f)).ok());
    ASSERT_TRUE(store.save().ok());
    ASSERT_TRUE(store.close().ok());
  }

  // A process that tries to become a writer: kChildOk when it could (and could write),
  // kChildBusy on kBusy naming the directory, kChildFailed otherwise.
  auto try_writer = [&](const char* who) {
    return fork_child([&] {
      auto store = VectorStore::open(dir, quiet_options());
      if (!store.has_value()) {
        const Status& s = store.error();
        if (s.code() == StatusCode::kBusy) {
          if (s.message().find(dir.string()) == std::string::npos) {
            child_exit(report, kChildFailed,
                       std::string(who) + ": kBusy does not name the directory: " + s.message());
          }
          child_exit(report, kChildBusy);
        }
        child_exit(report, kChildFailed, std::string(who) + ": open: " + s.to_string());
      }
      auto ns = store->open_namespace("docs");
      if (!ns) {
        child_exit(report, kChildFailed, std::string(who) + ": " + ns.error().to_string());
      }
      if (Status s = ns->upsert(who, std::vector<float>(kDim, 2.0f)); !s.ok()) {
        child_exit(report, kChildFailed, std::string(who) + ": upsert: " + s.to_string());
      }
      if (Status s = store->save(); !s.ok()) {
        child_exit(report, kChildFailed, std::string(who) + ": save: " + s.to_string());
      }
      if (!store->close().ok()) child_exit(report, kChildFailed, std::string(who) + ": close");
      child_exit(report, kChildOk);
    });
  };

  // The first writer: opens, says so, waits for "close", closes, says so, waits for "exit".
  Pipe to_first, from_first;
  const pid_t first = fork_child([&] {
    auto store = VectorStore::open(dir, quiet_options());
    if (!store.has_value()) child_exit(report, kChildFailed, "first: " + store.error().to_string());
    auto ns = store->open_namespace("docs");
    if (!ns) child_exit(report, kChildFailed, "first: open_namespace: " + ns.error().to_string());
    if (Status s = ns->upsert("first", std::vector<float>(kDim, 3.0f)); !s.ok()) {
      child_exit(report, kChildFailed, "first: upsert: " + s.to_string());
    }
    char c = 0;
    if (::write(from_first.write_end(), "o", 1) != 1) child_exit(report, kChildFailed, "pipe");
    if (!read_byte(to_first.read_end(), &c) || c != 'c') child_exit(report, kChildFailed, "pipe");
    if (Status s = store->close(); !s.ok()) {
      child_exit(report, kChildFailed, "first: close: " + s.to_string());
    }
    if (::write(from_first.write_end(), "c", 1) != 1) child_exit(report, kChildFailed, "pipe");
    if (!read_byte(to_first.read_end(), &c) || c != 'x') child_exit(report, kChildFailed, "pipe");
    child_exit(report, kChildOk);
  });
  ASSERT_GT(first, 0);
  // Only the child writes to from_first and reads to_first: a child that dies gives EOF.
  from_first.close_write();
  to_first.close_read();
  char c = 0;
  ASSERT_TRUE(read_byte(from_first.read_end(), &c)) << read_report(report);
  ASSERT_EQ(c, 'o');

  // While it holds the store: another writer process is kBusy, twice (a failed open must not
  // disturb the holder's lock), and so is a writer in this process.
  EXPECT_EQ(wait_child(try_writer("second")), kChildBusy) << read_report(report);
  EXPECT_EQ(wait_child(try_writer("third")), kChildBusy) << read_report(report);
  {
    auto here = VectorStore::open(dir, quiet_options());
    ASSERT_FALSE(here.has_value());
    EXPECT_EQ(here.error().code(), StatusCode::kBusy) << here.error().to_string();
  }
  // A read-only process is not locked out, and sees the last commit (one record: "a").
  const pid_t reader = fork_child([&] {
    auto store = VectorStore::open(dir, quiet_options(true));
    if (!store.has_value()) child_exit(report, kChildFailed, "reader: " + store.error().to_string());
    auto ns = store->open_namespace("docs");
    if (!ns || ns->size() != 1 || !ns->contains("a") || ns->contains("first")) {
      child_exit(report, kChildFailed, "reader: saw something else than the last commit");
    }
    child_exit(report, kChildOk);
  });
  EXPECT_EQ(wait_child(reader), kChildOk) << read_report(report);

  // The first writer closes its store but its process lives on: the lock is free.
  write_byte(to_first.write_end(), 'c');
  ASSERT_TRUE(read_byte(from_first.read_end(), &c)) << read_report(report);
  ASSERT_EQ(c, 'c');
  EXPECT_EQ(wait_child(try_writer("fourth")), kChildOk) << read_report(report);
  write_byte(to_first.write_end(), 'x');
  EXPECT_EQ(wait_child(first), kChildOk) << read_report(report);

  // And after every child is gone, this process can write too; "first" was never saved
  // (save_on_close is off), "fourth" was.
  auto store = VectorStore::open(dir, quiet_options());
  ASSERT_TRUE(store.has_value()) << store.error().to_string();
  auto ns = store->open_namespace("docs").value();
  EXPECT_TRUE(ns.contains("a"));
  EXPECT_TRUE(ns.contains("fourth"));
  EXPECT_FALSE(ns.contains("first"));
  EXPECT_FALSE(ns.contains("second"));
  EXPECT_EQ(ns.size(), 2u);

  // A writer in this process holds the lock while it forks: the child's own open is kBusy.
  EXPECT_EQ(wait_child(try_writer("fifth")), kChildBusy) << read_report(report);
  // A child forked now inherits the lock file's descriptor and outlives the writer's close():
  // the lock is released all the same.
  Pipe to_sleeper;
  const pid_t sleeper = fork_child([&] {
    char x = 0;
    (void)read_byte(to_sleeper.read_end(), &x);
    child_exit(report, kChildOk);
  });
  to_sleeper.close_read();
  ASSERT_TRUE(store->close().ok());
  EXPECT_EQ(wait_child(try_writer("sixth")), kChildOk) << read_report(report);
  write_byte(to_sleeper.write_end(), 'x');
  EXPECT_EQ(wait_child(sleeper), kChildOk) << read_report(report);
  ::alarm(0);
}

// ── read-only processes during a writer's commits ───────────────────────────────────────────

using testing::mix64;

// The vector of record i in generation g (g < 0: an uncommitted change).
std::vector<float> vector_of(std::size_t i, std::int64_t g) {
  std::vector<float> v(kDim);
  for (std::size_t d = 0; d < kDim; ++d) {
    const std::uint64_t h = mix64((i << 20) ^ (static_cast<std::uint64_t>(g + 1000) << 4) ^ d);
    v[d] = static_cast<float>(h >> 40) / 8388608.0f - 1.0f;
  }
  return v;
}

std::string doc_id(std::size_t i) { return "d" + std::to_string(i); }

// Checks that `dir` (opened read-only now) holds exactly one committed generation; returns it,
// or 0 with `error` set.
int check_one_generation(const fs::path& dir, std::string* error, bool wait_before_load = false,
                         int go_fd = -1) {
  auto store = VectorStore::open(dir, quiet_options(true));
  if (!store.has_value()) {
    *error = "open: " + store.error().to_string();
    return 0;
  }
  auto ns = store->open_namespace("docs");
  if (!ns.has_value()) {
    *error = "open_namespace: " + ns.error().to_string();
    return 0;
  }
  if (wait_before_load) {
    // The parent commits at least once more before this process loads the records.
    char c = 0;
    if (!read_byte(go_fd, &c)) {
      *error = "pipe";
      return 0;
    }
  }
  auto all = ns->scan();
  if (!all.has_value()) {
    *error = "scan: " + all.error().to_string();
    return 0;
  }
  const std::size_t n = all->size();
  if (n == 0 || n % kPerGeneration != 0 || n / kPerGeneration > kGenerations) {
    *error = "scan returned " + std::to_string(n) + " records: no generation has that many";
    return 0;
  }
  const int g = static_cast<int>(n / kPerGeneration);
  if (ns->size() != n) {
    *error = "size() " + std::to_string(ns->size()) + " but scan() " + std::to_string(n);
    return 0;
  }
  std::set<std::string> expected_ids;
  for (std::size_t i = 0; i < n; ++i) expected_ids.insert(doc_id(i));
  for (const Record& r : *all) {
    if (expected_ids.erase(r.id) != 1) {
      *error = "generation " + std::to_string(g) + " has no record " + r.id;
      return 0;
    }
    if (r.metadata != Metadata{{"g", g}}) {
      *error = r.id + ": metadata " + r.metadata.dump() + " in a state of " + std::to_string(n) +
               " records (generation " + std::to_string(g) + ")";
      return 0;
    }
    const std::size_t i = std::stoul(r.id.substr(1));
    if (r.vector != vector_of(i, g)) {
      *error = r.id + ": the vector is not the one of generation " + std::to_string(g);
      return 0;
    }
  }
  // Searches see the same generation and return min(k, n) hits.
  for (std::size_t q = 0; q < 5; ++q) {
    SearchOptions so;
    so.k = 20;
    auto hits = ns->search(vector_of(q * 7, g), so);
    if (!hits.has_value() || hits->size() != std::min<std::size_t>(so.k, n)) {
      *error = "search: " + (hits ? std::to_string(hits->size()) + " hits" : hits.error().to_string());
      return 0;
    }
    for (const Hit& h : *hits) {
      if (h.metadata != Metadata{{"g", g}}) {
        *error = "search hit " + h.id + " has " + h.metadata.dump() + " in generation " +
                 std::to_string(g);
        return 0;
      }
    }
    if ((*hits)[0].id != doc_id(q * 7) || (*hits)[0].distance != 0.0f) {
      *error = "search for " + doc_id(q * 7) + " found " + (*hits)[0].id + " first";
      return 0;
    }
  }
  return g;
}

TEST(Processes, ReadOnlyProcessesSeeExactlyOneCommittedGeneration) {
  ::signal(SIGPIPE, SIG_IGN);
  ::alarm(120);
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  const auto start = std::chrono::steady_clock::now();
  auto store = VectorStore::open(dir, quiet_options()).value();
  const NamespaceOptions o{.dimension = kDim,
                           .metric = Metric::kL2,
                           .index = IndexKind::kHnsw,
                           .hnsw = {.m = 8, .ef_construction = 40, .ef_search = 64, .seed = 3}};
  auto ns = store.create_namespace("docs", o).value();

  struct Child {
    pid_t pid;
    fs::path report;
    std::unique_ptr<Pipe> opened, go;
    int started_at;
  };
  std::vector<Child> children;
  const std::set<int> start_after = {1, 2, 4, 6, 9};

  for (int g = 1; g <= kGenerations; ++g) {
    // Generation g: records d0 .. d(g*50-1), all with {"g": g} and the vectors of generation g;
    // the uncommitted changes of the previous round are undone or overwritten.
    std::vector<Record> batch;
    for (std::size_t i = 0; i < static_cast<std::size_t>(g) * kPerGeneration; ++i) {
      batch.push_back({doc_id(i), vector_of(i, g), {{"g", g}}});
    }
    for (std::size_t u = 0; u < 30; ++u) (void)ns.remove("u" + std::to_string(u));
    ASSERT_TRUE(ns.upsert(batch).ok());
    ASSERT_EQ(ns.size(), static_cast<std::size_t>(g) * kPerGeneration);
    ASSERT_TRUE(ns.save().ok());

    // Children waiting for a commit after their open may load now.
    for (Child& c : children) {
      if (c.go && c.started_at < g) {
        write_byte(c.go->write_end(), 'g');
        c.go.reset();
      }
    }

    // Uncommitted changes: new ids, changed metadata and vectors, removals, with a
    // metadata value no commit has.
    for (std::size_t u = 0; u < 30; ++u) {
      ASSERT_TRUE(ns.upsert("u" + std::to_string(u), vector_of(u, -1), {{"g", -1}}).ok());
    }
    for (std::size_t i = 0; i < 10; ++i) {
      ASSERT_TRUE(ns.update_metadata(doc_id(i * 3), {{"g", -g}}).ok());
      ASSERT_TRUE(ns.upsert(doc_id(i * 3 + 1), vector_of(i, -2), {{"g", g}}).ok());
      ASSERT_TRUE(ns.remove(doc_id(i * 3 + 2)).value());
    }

    if (start_after.count(g) != 0) {
      Child c{0, tmp.path() / ("report-" + std::to_string(g) + ".txt"), std::make_unique<Pipe>(),
              std::make_unique<Pipe>(), g};
      const int opened_fd = c.opened->write_end();
      const int go_fd = c.go->read_end();
      const fs::path report = c.report;
      c.pid = fork_child([&] {
        std::string seen;
        // First look: opened now, loaded only after the writer committed again.
        std::string error;
        auto store_then = VectorStore::open(dir, quiet_options(true));
        (void)store_then;  // a second reader open beside the checked one
        if (::write(opened_fd, "o", 1) != 1) child_exit(report, kChildFailed, "pipe");
        int seen_g = check_one_generation(dir, &error, /*wait_before_load=*/false);
        if (seen_g == 0) child_exit(report, kChildFailed, "right after the fork: " + error);
        seen += std::to_string(seen_g);
        seen_g = check_one_generation(dir, &error, /*wait_before_load=*/true, go_fd);
        if (seen_g == 0) child_exit(report, kChildFailed, "after the next commit: " + error);
        seen += " " + std::to_string(seen_g);
        // Then a few more looks, unsynchronised, while the writer works.
        for (int look = 0; look < 4; ++look) {
          std::this_thread::sleep_for(std::chrono::milliseconds(15));
          seen_g = check_one_generation(dir, &error);
          if (seen_g == 0) {
            child_exit(report, kChildFailed, "look " + std::to_string(look) + ": " + error);
          }
          seen += " " + std::to_string(seen_g);
        }
        child_exit(report, kChildOk, "saw generations " + seen);
      });
      ASSERT_GT(c.pid, 0);
      c.opened->close_write();
      c.go->close_read();
      char byte = 0;
      ASSERT_TRUE(read_byte(c.opened->read_end(), &byte)) << read_report(c.report);
      children.push_back(std::move(c));
    }
  }
  // Children still waiting for a commit after theirs get one more.
  ASSERT_TRUE(ns.upsert(doc_id(0), vector_of(0, kGenerations), {{"g", kGenerations}}).ok());
  for (std::size_t u = 0; u < 30; ++u) (void)ns.remove("u" + std::to_string(u));
  for (std::size_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(ns.update_metadata(doc_id(i * 3), {{"g", kGenerations}}).ok());
    ASSERT_TRUE(
        ns.upsert(doc_id(i * 3 + 1), vector_of(i * 3 + 1, kGenerations), {{"g", kGenerations}})
            .ok());
    ASSERT_TRUE(ns.upsert(doc_id(i * 3 + 2), vector_of(i * 3 + 2, kGenerations),
                          {{"g", kGenerations}})
                    .ok());
  }
  ASSERT_EQ(ns.size(), kGenerations * kPerGeneration);
  ASSERT_TRUE(ns.save().ok());
  for (Child& c : children) {
    if (c.go) {
      write_byte(c.go->write_end(), 'g');
      c.go.reset();
    }
  }
  for (Child& c : children) {
    SCOPED_TRACE("reader started after generation " + std::to_string(c.started_at));
    const int code = wait_child(c.pid);
    const std::string text = read_report(c.report);
    EXPECT_EQ(code, kChildOk) << text;
    std::cout << "[ process  ] reader started after generation " << c.started_at << ": " << text;
  }
  // Uncommitted changes at the end are not saved (save_on_close is off): a reader sees the
  // last generation.
  ASSERT_TRUE(ns.upsert("u0", vector_of(0, -1), {{"g", -1}}).ok());
  ASSERT_TRUE(store.close().ok());
  std::string error;
  EXPECT_EQ(check_one_generation(dir, &error), kGenerations) << error;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ process  ] " << seconds << " s\n";
  ::alarm(0);
}

// ── a read-only process that refreshes while a writer process commits ──────────────────────

// The reader's view of generation g through one handle: every check of check_one_generation,
// on `ns` (which the caller keeps across refreshes). Returns g, or 0 with `error` set.
int check_handle_generation(const Namespace& ns, std::string* error) {
  auto all = ns.scan();
  if (!all.has_value()) {
    *error = "scan: " + all.error().to_string();
    return 0;
  }
  const std::size_t n = all->size();
  if (n == 0 || n % kPerGeneration != 0 || n / kPerGeneration > kGenerations) {
    *error = "scan returned " + std::to_string(n) + " records: no generation has that many";
    return 0;
  }
  const int g = static_cast<int>(n / kPerGeneration);
  for (const Record& r : *all) {
    const std::size_t i = std::stoul(r.id.substr(1));
    if (i >= n || r.metadata != Metadata{{"g", g}} || r.vector != vector_of(i, g)) {
      *error = r.id + " is not the record of generation " + std::to_string(g) + ": " +
               r.metadata.dump();
      return 0;
    }
  }
  return g;
}

// One search's hits, all from one generation: returns it (0 with `error` set if not).
int search_generation(const Namespace& ns, std::size_t q, int hint, std::string* error) {
  auto hits = ns.search(vector_of(q, hint), {.k = 10});
  if (!hits.has_value() || hits->size() != 10) {
    *error = "search: " + (hits ? std::to_string(hits->size()) + " hits" : hits.error().to_string());
    return 0;
  }
  const Metadata first = (*hits)[0].metadata;
  for (const Hit& h : *hits) {
    if (h.metadata != first || !first.contains("g") || !first["g"].is_number_integer()) {
      *error = "one search mixes " + first.dump() + " and " + h.metadata.dump();
      return 0;
    }
  }
  return first["g"].get<int>();
}

// A writer process commits generation after generation. The reader (this process) holds one
// handle throughout: in lock step it sees each new generation after refresh() and only then;
// afterwards, while the writer commits freely, threads search through the handle as another
// refreshes, and every search sees one generation, never an older one than before, and every
// refresh leaves the handle at exactly one committed generation; the last refresh sees the
// last commit.
TEST(Processes, ARefreshingReaderFollowsAWriterProcess) {
  ::signal(SIGPIPE, SIG_IGN);
  ::alarm(120);
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  const fs::path report = tmp.path() / "writer.txt";
  constexpr int kLockStep = 6;
  Pipe committed, proceed;
  // Forked before this process starts a thread.
  const pid_t writer = fork_child([&] {
    auto store = VectorStore::open(dir, quiet_options());
    if (!store) child_exit(report, kChildFailed, "open: " + store.error().to_string());
    const NamespaceOptions o{.dimension = kDim,
                             .metric = Metric::kL2,
                             .index = IndexKind::kHnsw,
                             .hnsw = {.m = 8, .ef_construction = 40, .ef_search = 64, .seed = 3,
                                      .graph_threshold = 1}};
    auto ns = store->create_namespace("docs", o);
    if (!ns) child_exit(report, kChildFailed, "create: " + ns.error().to_string());
    for (int g = 1; g <= kGenerations; ++g) {
      for (std::size_t u = 0; u < 20; ++u) (void)ns->remove("u" + std::to_string(u));
      std::vector<Record> batch;
      for (std::size_t i = 0; i < static_cast<std::size_t>(g) * kPerGeneration; ++i) {
        batch.push_back({doc_id(i), vector_of(i, g), {{"g", g}}});
      }
      if (Status s = ns->upsert(batch); !s.ok()) child_exit(report, kChildFailed, s.to_string());
      if (Status s = ns->save(); !s.ok()) child_exit(report, kChildFailed, s.to_string());
      // Uncommitted changes, which the reader must never see.
      for (std::size_t u = 0; u < 20; ++u) {
        if (!ns->upsert("u" + std::to_string(u), vector_of(u, -1), {{"g", -1}}).ok()) {
          child_exit(report, kChildFailed, "uncommitted upsert");
        }
      }
      (void)!::write(committed.write_end(), "c", 1);
      if (g <= kLockStep) {
        char c = 0;
        if (!read_byte(proceed.read_end(), &c)) child_exit(report, kChildFailed, "pipe");
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    child_exit(report, kChildOk);
  });
  ASSERT_GT(writer, 0);
  committed.close_write();
  proceed.close_read();

  char c = 0;
  ASSERT_TRUE(read_byte(committed.read_end(), &c)) << read_report(report);  // generation 1
  auto store = VectorStore::open(dir, quiet_options(true)).value();
  auto ns = store.open_namespace("docs").value();
  std::string error;
  ASSERT_EQ(check_handle_generation(ns, &error), 1) << error;
  for (int g = 2; g <= kLockStep; ++g) {
    write_byte(proceed.write_end(), 'p');
    ASSERT_TRUE(read_byte(committed.read_end(), &c)) << read_report(report);
    // Committed, not yet refreshed: the handle still answers for generation g - 1.
    ASSERT_EQ(check_handle_generation(ns, &error), g - 1) << error;
    const Status s = store.refresh();
    ASSERT_TRUE(s.ok()) << s.to_string();
    ASSERT_EQ(check_handle_generation(ns, &error), g) << error;
  }
  write_byte(proceed.write_end(), 'p');

  // The writer commits freely now.
  std::atomic<bool> writer_done{false};
  std::atomic<int> refreshes{0};
  std::vector<std::string> errors(3);
  std::vector<int> last_seen(3, kLockStep);
  std::vector<std::thread> searchers;
  for (int t = 0; t < 2; ++t) {
    searchers.emplace_back([&, t] {
      for (std::size_t q = 0; !writer_done.load() && errors[t].empty(); ++q) {
        const int g = search_generation(ns, q % 200, last_seen[t], &errors[t]);
        if (g == 0) return;
        if (g < last_seen[t]) {
          errors[t] = "generation " + std::to_string(g) + " after " + std::to_string(last_seen[t]);
          return;
        }
        last_seen[t] = g;
      }
    });
  }
  std::thread refresher([&] {
    while (!writer_done.load() && errors[2].empty()) {
      if (Status s = store.refresh(); !s.ok()) {
        errors[2] = "refresh: " + s.to_string();
        return;
      }
      ++refreshes;
      const int g = check_handle_generation(ns, &errors[2]);
      if (g == 0) return;
      if (g < last_seen[2]) {
        errors[2] = "refresh went back to " + std::to_string(g);
        return;
      }
      last_seen[2] = g;
    }
  });
  for (int g = kLockStep + 1; g <= kGenerations; ++g) {
    if (!read_byte(committed.read_end(), &c)) break;
  }
  const int code = wait_child(writer);
  writer_done = true;
  for (auto& t : searchers) t.join();
  refresher.join();
  ASSERT_EQ(code, kChildOk) << read_report(report);
  for (int t = 0; t < 3; ++t) EXPECT_EQ(errors[t], "") << (t < 2 ? "searcher " : "refresher ") << t;
  const Status s = store.refresh();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(check_handle_generation(ns, &error), kGenerations) << error;
  std::cout << "[ process  ] " << refreshes.load() << " refreshes while the writer committed "
            << kGenerations - kLockStep << " generations; searchers last saw generations "
            << last_seen[0] << " and " << last_seen[1] << "\n";
  ::alarm(0);
}

}  // namespace
}  // namespace hnswstore
