// Real crashes: a child process commits random changes to a store (POSIX files) in a loop and is
// killed with SIGKILL at a random instant; the parent reopens the directory as the next writer
// and requires every namespace to load and to be exactly its last commit, or the commit that was
// in flight when the kill came. The next child continues from what is on disk.
//
// The child logs "pending <namespace> <digest>" before each commit and "committed <namespace>
// <digest>" once it returned ok (a drop commits the digest "absent"). The log is written with
// write(2) and never synced: SIGKILL does not lose the page cache, so every line the child wrote
// before it died is there.
//
// HNSWSTORE_CRASH_KILLS sets the number of kills (default 200; the `slow` ctest entry runs
// 2000), HNSWSTORE_CRASH_SEED the seed of the random choices (default: random, printed).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr std::size_t kDim = 8;
constexpr std::size_t kIds = 300;  // ids are r0 .. r299
const char* const kAbsent = "absent";

// The namespaces the child works on: an HNSW one with cosine and metadata, a flat one.
const std::vector<std::pair<std::string, NamespaceOptions>>& spaces() {
  static const std::vector<std::pair<std::string, NamespaceOptions>> all = {
      {"h",
       {.dimension = kDim,
        .metric = Metric::kCosine,
        .index = IndexKind::kHnsw,
        .hnsw = {.m = 8, .ef_construction = 32, .ef_search = 32, .seed = 1}}},
      {"f", {.dimension = kDim, .metric = Metric::kL2, .index = IndexKind::kFlat}}};
  return all;
}

StoreOptions store_options(Logger logger) {
  StoreOptions o;
  o.threads = 1;  // the parent forks: it must have no other thread then
  o.save_on_close = false;
  o.logger = std::move(logger);
  return o;
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

// The ids, in the order the digest visits them.
const std::vector<std::string>& sorted_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> all;
    for (std::size_t i = 0; i < kIds; ++i) all.push_back("r" + std::to_string(i));
    std::sort(all.begin(), all.end());
    return all;
  }();
  return ids;
}

// FNV-1a 64 over every record (id, vector bytes, metadata as JSON text) in id order: equal
// digests mean equal namespaces, bit for bit. Loads the namespace; false with `error` set if
// that fails.
bool digest(const Namespace& ns, std::string* out, std::string* error) {
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&](const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  std::size_t found = 0;
  for (const std::string& id : sorted_ids()) {
    auto r = ns.get(id);
    if (!r.has_value()) {
      if (r.error().code() == StatusCode::kNotFound) continue;
      *error = ns.name() + ": " + r.error().message();
      return false;
    }
    ++found;
    const std::string md = r->metadata.dump();
    mix(id.data(), id.size() + 1);  // with the terminator: "r1" + "2..." differs from "r12"
    mix(r->vector.data(), r->vector.size() * sizeof(float));
    mix(md.data(), md.size() + 1);
  }
  if (found != ns.size()) {
    *error = ns.name() + ": size() is " + std::to_string(ns.size()) + ", " +
             std::to_string(found) + " records found";
    return false;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  *out = hex;
  return true;
}

// ── the child ───────────────────────────────────────────────────────────────────────────────

// Writes one byte to `ready` once the store is open.
[[noreturn]] void child_main(const fs::path& dir, const fs::path& log_path, std::uint64_t seed,
                             int ready) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a parent that died
  const int fd = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) ::_exit(2);
  // One write(2) per line: a kill leaves whole lines, or at worst a last line without '\n'.
  auto line = [fd](std::string text) {
    text += '\n';
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) ::_exit(2);
  };
  auto fail = [&](const std::string& what) {
    line("error " + what);
    ::_exit(3);
  };
  auto log_warnings = [&](LogLevel level, std::string_view message) {
    if (level >= LogLevel::kWarning) line("warning " + std::string(message));
  };
  auto store = VectorStore::open(dir, store_options(log_warnings));
  if (!store) fail("open: " + store.error().message());
  if (::write(ready, "r", 1) != 1) ::_exit(2);
  ::close(ready);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto& [name, options] = spaces()[rng() % spaces().size()];
    if (rng() % 25 == 0 && store->has_namespace(name)) {
      line("pending " + name + " " + kAbsent);
      if (Status s = store->drop_namespace(name); !s.ok()) fail("drop: " + s.message());
      line("committed " + name + " " + kAbsent);
      continue;
    }
    auto ns = store->get_or_create_namespace(name, options);
    if (!ns) fail("namespace: " + ns.error().message());
    const int changes = 1 + static_cast<int>(rng() % 40);
    for (int c = 0; c < changes; ++c) {
      const std::string id = "r" + std::to_string(rng() % kIds);
      const auto what = rng() % 8;
      if (what == 0) {
        if (!ns->remove(id).has_value()) fail("remove");
      } else if (what == 1 && ns->contains(id)) {
        if (Status s = ns->update_metadata(id, {{"m", rng() % 1000}, {"s", "caf\xc3\xa9"}});
            !s.ok()) {
          fail("update_metadata: " + s.message());
        }
      } else {
        std::vector<float> v(kDim);
        for (float& x : v) x = gauss(rng);
        Metadata md = {{"c", c}, {"x", gauss(rng)}, {"tags", {id, c % 3}}};
        if (Status s = ns->upsert(id, v, std::move(md)); !s.ok()) fail("upsert: " + s.message());
      }
    }
    std::string d, error;
    if (!digest(*ns, &d, &error)) fail("digest: " + error);
    line("pending " + name + " " + d);
    if (Status s = ns->save(); !s.ok()) fail("save: " + s.message());
    line("committed " + name + " " + d);
  }
  ::_exit(0);
}

// ── the parent ──────────────────────────────────────────────────────────────────────────────

// What the log of one child says about one namespace.
struct Expectation {
  std::string committed;               // the last commit (the previous state if none)
  std::optional<std::string> pending;  // a commit begun after it and not acknowledged
};

TEST(Crash, RandomKillsNeverLoseACommitOrMixTwo) {
  const std::uint64_t kills = env_number("HNSWSTORE_CRASH_KILLS", 200);
  const std::uint64_t seed = env_number("HNSWSTORE_CRASH_SEED", std::random_device{}());
  std::cout << "[ crash    ] " << kills << " kills, HNSWSTORE_CRASH_SEED=" << seed << "\n";
  std::mt19937_64 rng(seed);
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  const fs::path log_path = tmp.path() / "child.log";

  std::map<std::string, std::string> state;  // per namespace: its digest on disk
  for (const auto& [name, options] : spaces()) state[name] = kAbsent;
  std::size_t done = 0, mid_commit = 0, mid_commit_new = 0, between = 0, before_first = 0;
  std::size_t commits = 0, largest = 0;

  for (std::uint64_t kill = 0; kill < kills; ++kill) {
    SCOPED_TRACE("kill " + std::to_string(kill) + " (HNSWSTORE_CRASH_SEED=" +
                 std::to_string(seed) + ")");
    std::ofstream(log_path, std::ios::trunc).close();
    const std::uint64_t child_seed = rng();
    // One kill in four counts its delay from the fork, so that it may land in the child's open
    // (and its cleanup of what the last kill left); the others from the end of the open, so that
    // they land among the commits. One in four waits up to 150 ms instead of 30: long enough for
    // several commits, so that kills also land in later ones, with more records.
    const auto kind_of_kill = rng() % 4;
    const bool from_fork = kind_of_kill == 0;
    const auto delay = std::chrono::microseconds(rng() % (kind_of_kill == 3 ? 150001 : 30001));
    int ready[2];
    ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0) << std::strerror(errno);
    std::cout.flush();  // the child must not flush the parent's buffered output again
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      ::close(ready[0]);
      child_main(dir, log_path, child_seed, ready[1]);
    }
    ::close(ready[1]);
    char byte = 0;
    if (!from_fork) (void)::read(ready[0], &byte, 1);  // 0 bytes if the child died first
    std::this_thread::sleep_for(delay);
    ASSERT_EQ(::kill(pid, SIGKILL), 0) << std::strerror(errno);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid) << std::strerror(errno);
    ::close(ready[0]);  // only now: the child's write to it must not raise SIGPIPE

    std::ifstream in(log_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::map<std::string, Expectation> expect;
    for (const auto& [name, digest_on_disk] : state) expect[name].committed = digest_on_disk;
    std::string last_kind;
    std::string line;
    std::istringstream lines(text.str());
    while (std::getline(lines, line)) {
      if (lines.eof()) break;  // no '\n': the kill cut the write, the line does not count
      std::istringstream words(line);
      std::string kind, name, d;
      words >> kind >> name >> d;
      ASSERT_TRUE(kind == "pending" || kind == "committed") << "the child logged: " << line;
      ASSERT_EQ(expect.count(name), 1u) << line;
      if (kind == "pending") {
        expect[name].pending = d;
      } else {
        ASSERT_EQ(expect[name].pending, d) << line;
        expect[name] = {d, std::nullopt};
        ++commits;
      }
      last_kind = kind;
    }
    ++done;
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "the child ended by itself: "
        << (WIFSIGNALED(wstatus) ? "signal " + std::to_string(WTERMSIG(wstatus))
                                 : "exit code " + std::to_string(WEXITSTATUS(wstatus)))
        << "\nits log:\n" << text.str();
    if (last_kind.empty()) {
      ++before_first;
    } else if (last_kind == "pending") {
      ++mid_commit;
    } else {
      ++between;
    }

    // Recovery, as the next writer: opens without an error, every namespace loads and is its
    // last commit or the one in flight; leftovers are cleaned up.
    std::vector<std::string> problems;
    {
      auto store = VectorStore::open(dir, store_options([&](LogLevel level, std::string_view m) {
                                       if (level >= LogLevel::kWarning) problems.emplace_back(m);
                                     }));
      ASSERT_TRUE(store.has_value()) << store.error().message();
      for (const auto& [name, e] : expect) {
        std::string found = kAbsent;
        if (store->has_namespace(name)) {
          auto ns = store->open_namespace(name);
          ASSERT_TRUE(ns.has_value()) << name << ": " << ns.error().message();
          largest = std::max(largest, ns->size());
          std::string error;
          ASSERT_TRUE(digest(*ns, &found, &error))
              << error << "\nthe child's log:\n" << text.str();
        }
        ASSERT_TRUE(found == e.committed || (e.pending && found == *e.pending))
            << name << ": found " << found << ", last commit " << e.committed << ", in flight "
            << e.pending.value_or("none") << "\nthe child's log:\n" << text.str();
        if (e.pending && found == *e.pending && found != e.committed) ++mid_commit_new;
        state[name] = found;
      }
      EXPECT_LE(store->list_namespaces().size(), spaces().size());
    }
    EXPECT_TRUE(problems.empty()) << problems.front();
    std::map<std::string, int> vector_files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string f = entry.path().filename().string();
      EXPECT_FALSE(f.ends_with(".tmp")) << f << " survived a writer's open";
      if (f.ends_with(".vectors.bin")) ++vector_files[f.substr(0, f.find('.'))];
    }
    for (const auto& [name, n] : vector_files) {
      EXPECT_EQ(n, 1) << name << ": generations no config names survived a writer's open";
    }
    if (::testing::Test::HasFailure()) break;
  }
  std::cout << "[ crash    ] " << done << " kills: " << mid_commit << " in the middle of a commit ("
            << mid_commit_new << " of them found the new state), " << between
            << " between commits, " << before_first << " before the child's first commit; "
            << commits << " commits in all; the largest namespace found held " << largest
            << " records\n";
  EXPECT_GT(commits, 0u);
}

}  // namespace
}  // namespace hnswstore
