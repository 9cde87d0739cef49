// Threads using one EpisodicMemory at once, on both backends (an HNSW memory builds its graph
// from the first entry): four adders (single entries and batches, distinct ids), two searchers
// (every mode, with and without session and processed conditions) and one thread marking
// entries processed. Every entry is derived from its id (entry_for), so any reader can check
// that what it sees is a whole entry and not a torn or foreign one. Also run under
// ThreadSanitizer (label concurrency): small, a few seconds at most, no fork.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "hnswstore/memory.hpp"
#include "hnswstore/namespace.hpp"

namespace hnswstore::memory {

void PrintTo(EpisodicBackend backend, std::ostream* os) { *os << backend_name(backend); }

namespace {

constexpr int kAdders = 4;
constexpr int kPerAdder = 48;  // a multiple of kBatch * 2
constexpr int kBatch = 8;
constexpr int kSessions = 3;
constexpr TimePoint kBase{std::chrono::seconds(1'704'067'200)};

int number_of(int adder, int i) { return adder * kPerAdder + i; }
std::string id_of(int n) { return "t" + std::to_string(n / kPerAdder) + "-" + std::to_string(n); }
std::string session_of(int n) { return "s" + std::to_string(n % kSessions); }

// The rule every entry follows: everything is derived from its number n.
EpisodicEntry entry_for(int n) {
  EpisodicEntry e;
  e.id = id_of(n);
  e.session_id = session_of(n);
  e.role = n % 2 == 0 ? "user" : "assistant";
  e.content = "memo entry number n" + std::to_string(n) + " says word" + std::to_string(n % 7);
  e.timestamp = kBase + std::chrono::seconds(n);
  e.metadata = {{"n", n}, {"adder", n / kPerAdder}};
  return e;
}

// The number in an id made by id_of, or -1.
int number_in(const std::string& id) {
  const auto dash = id.find('-');
  if (id.size() < 3 || id[0] != 't' || dash == std::string::npos) return -1;
  try {
    return std::stoi(id.substr(dash + 1));
  } catch (...) {
    return -1;
  }
}

// Collects failures from any thread; the first few are kept for the report.
class Failures {
 public:
  void add(const std::string& what) {
    ++count_;
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.size() < 10) first_.push_back(what);
  }
  std::size_t count() const { return count_.load(); }
  std::string report() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const std::string& f : first_) out += f + "\n";
    return out;
  }

 private:
  std::atomic<std::size_t> count_{0};
  std::mutex mu_;
  std::vector<std::string> first_;
};

// Checks that `e` is exactly the entry its id says (the embedding aside).
void check_entry(const EpisodicEntry& e, Failures& failures, const char* where) {
  const int n = number_in(e.id);
  if (n < 0 || n >= kAdders * kPerAdder) {
    failures.add(std::string(where) + ": unknown id '" + e.id + "'");
    return;
  }
  const EpisodicEntry want = entry_for(n);
  if (e.session_id != want.session_id || e.role != want.role || e.content != want.content ||
      e.timestamp != want.timestamp || e.metadata != want.metadata) {
    failures.add(std::string(where) + ": torn or foreign entry " + e.id + ": '" + e.content +
                 "' session '" + e.session_id + "' metadata " + e.metadata.dump());
  }
  // Only the marker sets flags, and only on even numbers.
  if (e.processed && n % 2 != 0) failures.add(std::string(where) + ": " + e.id + " processed");
}

MemoryConfig config_for(EpisodicBackend backend) {
  MemoryConfig config = MemoryConfig::for_testing().with_backend(backend);
  if (backend == EpisodicBackend::kHnsw) {
    config.hnsw.graph_threshold = 1;
    config.hnsw.ef_construction = 64;  // a real graph, built fast enough under ThreadSanitizer
  }
  config.store.threads = 2;
  return config;
}

class EpisodicConcurrency : public ::testing::TestWithParam<EpisodicBackend> {};

TEST_P(EpisodicConcurrency, AddersSearchersAndAMarkerShareOneMemory) {
  EpisodicMemory memory = EpisodicMemory::create(config_for(GetParam())).value();
  Failures failures;
  // published[a] = how many of adder a's entries have been added (add returned).
  std::atomic<int> published[kAdders];
  for (auto& p : published) p.store(0);
  std::atomic<int> adders_running{kAdders};
  std::atomic<std::size_t> searches{0};

  auto adder = [&](int a) {
    for (int i = 0; i < kPerAdder; i += kBatch) {
      if ((i / kBatch) % 2 == 0) {
        for (int j = i; j < i + kBatch; ++j) {
          auto r = memory.add(entry_for(number_of(a, j)));
          if (!r.has_value()) failures.add("add: " + r.error().to_string());
          if (r.has_value() && *r != id_of(number_of(a, j))) failures.add("add returned " + *r);
          published[a].store(j + 1, std::memory_order_release);
        }
      } else {
        std::vector<EpisodicEntry> batch;
        for (int j = i; j < i + kBatch; ++j) batch.push_back(entry_for(number_of(a, j)));
        auto r = memory.add_batch(std::move(batch));
        if (!r.has_value()) failures.add("add_batch: " + r.error().to_string());
        if (r.has_value() && r->size() != static_cast<std::size_t>(kBatch)) {
          failures.add("add_batch returned " + std::to_string(r->size()) + " ids");
        }
        published[a].store(i + kBatch, std::memory_order_release);
      }
    }
    --adders_running;
  };

  auto searcher = [&](int seed) {
    const SearchMode modes[] = {SearchMode::kVector, SearchMode::kLexical, SearchMode::kHybrid};
    // Searches go on while adders run, and at least a few times in any case.
    for (int it = 0; adders_running.load() > 0 || it < 12; ++it) {
      MemorySearchOptions o;
      o.mode = modes[(it + seed) % 3];
      const int variant = (it / 3 + seed) % 4;
      if (variant == 1) o.session_id = session_of(it);
      if (variant == 2) o.processed = true;
      if (variant == 3) {
        o.session_id = session_of(it + 1);
        o.processed = false;
      }
      const std::size_t k = 5 + static_cast<std::size_t>(it % 4) * 5;
      const std::string query = "memo word" + std::to_string(it % 7) + " number";
      auto r = memory.search(query, k, o);
      ++searches;
      if (!r.has_value()) {
        failures.add("search: " + r.error().to_string());
        continue;
      }
      if (r->size() > k) failures.add("search returned more than top_k");
      for (std::size_t i = 0; i < r->size(); ++i) {
        const ScoredEntry& s = (*r)[i];
        check_entry(s.entry, failures, "search");
        if (i > 0 && (*r)[i - 1].score < s.score) failures.add("search: not best first");
        if (o.session_id && s.entry.session_id != *o.session_id) {
          failures.add("search: " + s.entry.id + " of session " + s.entry.session_id +
                       " in a search of " + *o.session_id);
        }
        if (o.processed && s.entry.processed != *o.processed) {
          failures.add("search: " + s.entry.id + " with the wrong processed flag");
        }
      }
      if (it % 5 == 0) {
        auto session = memory.get_session(session_of(it));
        if (!session.has_value()) {
          failures.add("get_session: " + session.error().to_string());
        } else {
          for (std::size_t i = 0; i < session->size(); ++i) {
            check_entry((*session)[i], failures, "get_session");
            if ((*session)[i].session_id != session_of(it)) failures.add("get_session: foreign");
            if (i > 0 && (*session)[i - 1].timestamp > (*session)[i].timestamp) {
              failures.add("get_session: not chronological");
            }
          }
        }
      }
      if (!r->empty()) {
        auto got = memory.get((*r)[0].entry.id);
        if (!got.has_value()) {
          failures.add("get of a search result: " + got.error().to_string());
        } else {
          check_entry(*got, failures, "get");
        }
      }
    }
  };

  // Marks processed every even-numbered entry once its adder has published it.
  std::vector<std::string> marked;
  auto marker = [&] {
    int done[kAdders] = {};
    for (;;) {
      const bool last_pass = adders_running.load() == 0;
      std::vector<std::string> ids;
      for (int a = 0; a < kAdders; ++a) {
        const int upto = published[a].load(std::memory_order_acquire);
        for (int i = done[a]; i < upto; ++i) {
          if (number_of(a, i) % 2 == 0) ids.push_back(id_of(number_of(a, i)));
        }
        done[a] = upto;
      }
      if (!ids.empty()) {
        const Status s = memory.mark_processed(ids);
        if (!s.ok()) failures.add("mark_processed: " + s.to_string());
        marked.insert(marked.end(), ids.begin(), ids.end());
      }
      if (last_pass) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };

  std::vector<std::thread> threads;
  for (int a = 0; a < kAdders; ++a) threads.emplace_back(adder, a);
  threads.emplace_back(searcher, 0);
  threads.emplace_back(searcher, 1);
  threads.emplace_back(marker);
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(failures.count(), 0u) << failures.report();
  EXPECT_GE(searches.load(), 24u);

  // Everything added is there, whole, with exactly the flags the marker set.
  const std::size_t total = static_cast<std::size_t>(kAdders * kPerAdder);
  EXPECT_EQ(memory.size(), total);
  EXPECT_EQ(marked.size(), total / 2);
  std::size_t processed = 0;
  for (int n = 0; n < kAdders * kPerAdder; ++n) {
    auto got = memory.get(id_of(n));
    ASSERT_TRUE(got.has_value()) << id_of(n) << ": " << got.error().to_string();
    Failures f;
    check_entry(*got, f, "final get");
    EXPECT_EQ(f.count(), 0u) << f.report();
    EXPECT_EQ(got->processed, n % 2 == 0) << id_of(n);
    processed += got->processed ? 1 : 0;
    ASSERT_TRUE(got->embedding.has_value());
  }
  EXPECT_EQ(processed, total / 2);
  for (int s = 0; s < kSessions; ++s) {
    auto unprocessed = memory.list_unprocessed(session_of(s));
    ASSERT_TRUE(unprocessed.has_value());
    std::vector<std::string> want;
    for (int n = 0; n < kAdders * kPerAdder; ++n) {
      if (n % kSessions == s && n % 2 != 0) want.push_back(id_of(n));  // n ascending = time
    }
    std::vector<std::string> got;
    for (const EpisodicEntry& e : *unprocessed) got.push_back(e.id);
    EXPECT_EQ(got, want) << session_of(s);
  }
  const MemoryStats stats = memory.stats();
  EXPECT_EQ(stats.entries, total);
  EXPECT_EQ(stats.sessions, static_cast<std::size_t>(kSessions));
  EXPECT_EQ(stats.searches, searches.load()) << "every search was answered";
  if (GetParam() == EpisodicBackend::kHnsw) {
    EXPECT_GT(memory.store_namespace().stats().graph_bytes, 0u) << "no HNSW graph was built";
  }
  // Every entry is still found by its own words.
  for (int n : {0, 1, kPerAdder + 5, kAdders * kPerAdder - 1}) {
    MemorySearchOptions o;
    o.mode = SearchMode::kLexical;
    o.session_id = session_of(n);
    auto r = memory.search("n" + std::to_string(n), 3, o);
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    ASSERT_FALSE(r->empty()) << n;
    EXPECT_EQ(r->front().entry.id, id_of(n));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, EpisodicConcurrency,
                         ::testing::Values(EpisodicBackend::kInMemory, EpisodicBackend::kHnsw),
                         [](const ::testing::TestParamInfo<EpisodicBackend>& param_info) {
                           return std::string(backend_name(param_info.param));
                         });

}  // namespace
}  // namespace hnswstore::memory
