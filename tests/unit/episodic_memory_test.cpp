// Behavioural tests of EpisodicMemory (include/hnswstore/memory/episodic_memory.hpp, entry.hpp,
// config.hpp, consolidation.hpp): one suite, run unchanged against both backends (value-
// parameterised over EpisodicBackend). kHnsw memories build their graph from the first entry
// (HnswParams::graph_threshold = 1), so their searches walk a real graph; the tests that search
// check that a graph exists.
//
// Tests marked REGRESSION pin behaviour the two earlier backends got wrong: mark_processed
// replaced the metadata (consolidated entries vanished from search), the two backends ordered
// list_sessions_with_unprocessed differently, search had one global scope, supplied embeddings
// were ignored, an empty memory's search was an error, and the HNSW backend never persisted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hnswstore/memory.hpp"
#include "hnswstore/namespace.hpp"
#include "child_process.hpp"
#include "test_dir.hpp"

namespace hnswstore::memory {

// Test names and failure messages show the backend by name.
void PrintTo(EpisodicBackend backend, std::ostream* os) { *os << backend_name(backend); }

namespace {

namespace fs = std::filesystem;
using hnswstore::testing::TempDir;

constexpr std::size_t kDim = 384;  // MemoryConfig::for_testing(): HashingEmbedder(384)
constexpr SearchMode kModes[] = {SearchMode::kVector, SearchMode::kLexical, SearchMode::kHybrid};

// 2024-01-01 00:00:00 UTC; the tests' timestamps are offsets from it.
constexpr TimePoint kBase{std::chrono::seconds(1'704'067'200)};
TimePoint at(std::int64_t seconds) { return kBase + std::chrono::seconds(seconds); }
std::int64_t ns_of(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

const char* mode_name(SearchMode mode) {
  switch (mode) {
    case SearchMode::kVector:
      return "vector";
    case SearchMode::kLexical:
      return "lexical";
    case SearchMode::kHybrid:
      return "hybrid";
  }
  return "?";
}

EpisodicBackend other_backend(EpisodicBackend b) {
  return b == EpisodicBackend::kInMemory ? EpisodicBackend::kHnsw : EpisodicBackend::kInMemory;
}

// The configuration every test starts from: for_testing() with the backend; an HNSW memory
// builds its graph from the first entry.
MemoryConfig config_for(EpisodicBackend backend) {
  MemoryConfig config = MemoryConfig::for_testing().with_backend(backend);
  if (backend == EpisodicBackend::kHnsw) config.hnsw.graph_threshold = 1;
  config.store.threads = 2;
  return config;
}

std::shared_ptr<EmbeddingService> service_over(std::shared_ptr<EmbeddingProvider> provider,
                                               std::size_t cache_capacity = 0,
                                               std::size_t batch_size = 64,
                                               std::size_t threads = 2) {
  EmbeddingServiceOptions options;
  options.cache_capacity = cache_capacity;
  options.batch_size = batch_size;
  options.threads = threads;
  return std::make_shared<EmbeddingService>(std::move(provider), options);
}

EpisodicEntry make_entry(std::string id, std::string session, std::string role, std::string content,
                         TimePoint timestamp, Metadata metadata = Metadata::object()) {
  EpisodicEntry e;
  e.id = std::move(id);
  e.session_id = std::move(session);
  e.role = std::move(role);
  e.content = std::move(content);
  e.timestamp = timestamp;
  e.metadata = std::move(metadata);
  return e;
}

std::vector<float> hashing_embedding(std::string_view text, std::size_t dim = kDim) {
  return HashingEmbedder(dim).embed_one(text);
}

// A deterministic vector that no text embeds to, not of unit length.
std::vector<float> arbitrary_vector(std::size_t dim, float phase) {
  std::vector<float> v(dim);
  for (std::size_t i = 0; i < dim; ++i) {
    const float x = static_cast<float>(i);
    v[i] = 2.5f * std::sin(0.37f * x + phase) + 0.75f * std::cos(1.3f * x);
  }
  return v;
}

// Equal to float rounding (the cosine store keeps the unit vector and the norm).
void expect_vectors_near(const std::vector<float>& got, const std::vector<float>& want,
                         const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double norm = 0;
  for (float x : want) norm += static_cast<double>(x) * x;
  const double tolerance = 1e-5 * std::max(1.0, std::sqrt(norm));
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (std::abs(static_cast<double>(got[i]) - want[i]) > tolerance) {
      ADD_FAILURE() << what << ": [" << i << "] is " << got[i] << ", expected " << want[i];
      return;
    }
  }
}

// Every field of `got` equals `want`'s (embeddings to float rounding, when `want` has one).
void expect_same_entry(const EpisodicEntry& got, const EpisodicEntry& want,
                       const std::string& what) {
  EXPECT_EQ(got.id, want.id) << what;
  EXPECT_EQ(got.session_id, want.session_id) << what << " " << want.id;
  EXPECT_EQ(got.role, want.role) << what << " " << want.id;
  EXPECT_EQ(got.content, want.content) << what << " " << want.id;
  EXPECT_EQ(ns_of(got.timestamp), ns_of(want.timestamp)) << what << " " << want.id;
  EXPECT_EQ(ns_of(got.ingestion_time), ns_of(want.ingestion_time)) << what << " " << want.id;
  EXPECT_EQ(got.metadata, want.metadata) << what << " " << want.id;
  EXPECT_EQ(got.processed, want.processed) << what << " " << want.id;
  if (want.embedding.has_value()) {
    ASSERT_TRUE(got.embedding.has_value()) << what << " " << want.id;
    expect_vectors_near(*got.embedding, *want.embedding, what + " " + want.id + " embedding");
  }
}

std::vector<std::string> ids_of(const std::vector<ScoredEntry>& results) {
  std::vector<std::string> ids;
  for (const ScoredEntry& r : results) ids.push_back(r.entry.id);
  return ids;
}
std::vector<std::string> ids_of(const std::vector<EpisodicEntry>& entries) {
  std::vector<std::string> ids;
  for (const EpisodicEntry& e : entries) ids.push_back(e.id);
  return ids;
}
std::set<std::string> id_set(const std::vector<ScoredEntry>& results) {
  const std::vector<std::string> ids = ids_of(results);
  return {ids.begin(), ids.end()};
}

MemorySearchOptions in_mode(SearchMode mode) {
  MemorySearchOptions o;
  o.mode = mode;
  return o;
}

std::vector<ScoredEntry> must_search(const EpisodicMemory& m, std::string_view query,
                                     std::size_t top_k, const MemorySearchOptions& o = {}) {
  auto r = m.search(query, top_k, o);
  EXPECT_TRUE(r.has_value()) << "search '" << query << "' (" << mode_name(o.mode)
                             << "): " << r.error().to_string();
  return r.has_value() ? std::move(r).value() : std::vector<ScoredEntry>{};
}

void expect_best_first(const std::vector<ScoredEntry>& results, const std::string& what) {
  for (std::size_t i = 1; i < results.size(); ++i) {
    EXPECT_GE(results[i - 1].score, results[i].score) << what << ": result " << i;
  }
}

EpisodicEntry must_get(const EpisodicMemory& m, std::string_view id) {
  auto r = m.get(id);
  EXPECT_TRUE(r.has_value()) << "get '" << id << "': " << r.error().to_string();
  return r.has_value() ? std::move(r).value() : EpisodicEntry{};
}

// The store behind the memory is what the backend says, and an HNSW memory with entries has
// really built its graph.
void expect_backend_index(const EpisodicMemory& m) {
  const NamespaceStats stats = m.store_namespace().stats();
  if (m.config().backend == EpisodicBackend::kHnsw) {
    EXPECT_EQ(stats.index, IndexKind::kHnsw);
    if (m.size() > 0) {
      EXPECT_GT(stats.graph_bytes, 0u) << "the HNSW graph was not built";
    }
  } else {
    EXPECT_EQ(stats.index, IndexKind::kFlat);
  }
}

// ── a corpus: every entry has two distinctive words; all but x1 and x2 share "memo" ──────────

struct Doc {
  std::string id, session, role;
  int t;
  std::string content, topic, words;
  int level;
};

const std::vector<Doc>& corpus() {
  static const std::vector<Doc> docs = {
      {"e01", "s1", "user", 1, "memo giraffe grazing acacia savanna", "animals", "giraffe acacia",
       0},
      {"e02", "s1", "assistant", 2, "memo quantum qubits entanglement superposition", "physics",
       "qubits entanglement", 1},
      {"e03", "s2", "user", 3, "memo pasta basil garlic parmesan", "food", "basil parmesan", 2},
      {"e04", "s2", "assistant", 4, "memo volcano lava magma eruption", "geology", "lava magma", 0},
      {"e05", "s3", "user", 5, "memo submarine sonar whales underwater", "ocean", "sonar whales",
       1},
      {"e06", "s3", "tool", 6, "memo bicycle tyres pressure pump", "cycling", "bicycle tyres", 2},
      {"e07", "s1", "user", 7, "memo violin concerto orchestra symphony", "music",
       "violin concerto", 0},
      {"e08", "s2", "user", 8, "memo glacier iceberg frozen tundra", "geology", "glacier tundra",
       1},
      {"e09", "s3", "assistant", 9, "memo telescope nebula galaxy astronomy", "space",
       "telescope nebula", 2},
      {"e10", "s4", "system", 10, "memo cryptography cipher encryption keys", "security",
       "cipher encryption", 0},
      {"x1", "s1", "user", 11, "chess knight bishop checkmate", "games", "knight checkmate", 1},
      {"x2", "s3", "user", 12, "saxophone jazz improvisation trumpet", "music", "saxophone jazz",
       2},
  };
  return docs;
}

EpisodicEntry doc_entry(const Doc& d) {
  return make_entry(d.id, d.session, d.role, d.content, at(d.t),
                    Metadata{{"topic", d.topic}, {"info", {{"level", d.level}}}});
}

// Adds the corpus: the first half one by one, the rest as one batch.
void add_corpus(EpisodicMemory& m) {
  const auto& docs = corpus();
  std::vector<EpisodicEntry> batch;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (i < docs.size() / 2) {
      auto r = m.add(doc_entry(docs[i]));
      ASSERT_TRUE(r.has_value()) << r.error().to_string();
      EXPECT_EQ(*r, docs[i].id);
    } else {
      batch.push_back(doc_entry(docs[i]));
    }
  }
  auto r = m.add_batch(std::move(batch));
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_EQ(m.size(), docs.size());
}

// ── fakes ───────────────────────────────────────────────────────────────────────────────────

// A HashingEmbedder that counts the texts it is asked to embed.
class CountingProvider : public EmbeddingProvider {
 public:
  explicit CountingProvider(std::size_t dim = kDim) : inner_(dim) {}
  std::string_view name() const override { return "counting"; }
  std::size_t dimensions() const override { return inner_.dimensions(); }
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override {
    texts_ += texts.size();
    return inner_.embed(texts);
  }
  std::size_t texts() const { return texts_.load(); }

 private:
  HashingEmbedder inner_;
  std::atomic<std::size_t> texts_{0};
};

// A provider that misbehaves in one way.
class BadProvider : public EmbeddingProvider {
 public:
  enum class Fault { kFail, kWrongCount, kWrongDimension, kNonFinite, kFailOnPoison };
  explicit BadProvider(Fault fault, std::size_t dim = kDim) : fault_(fault), inner_(dim) {}
  std::string_view name() const override { return "bad-provider"; }
  std::size_t dimensions() const override { return inner_.dimensions(); }
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override {
    if (fault_ == Fault::kFail) return Status::IOError("embedding server down");
    if (fault_ == Fault::kFailOnPoison) {
      for (const std::string& t : texts) {
        if (t.find("poison") != std::string::npos) return Status::IOError("poisoned text");
      }
    }
    auto r = inner_.embed(texts);
    if (!r.has_value()) return r;
    std::vector<std::vector<float>> out = std::move(r).value();
    switch (fault_) {
      case Fault::kWrongCount:
        out.push_back(out.back());
        break;
      case Fault::kWrongDimension:
        for (auto& v : out) v.pop_back();
        break;
      case Fault::kNonFinite:
        out.front()[3] = std::numeric_limits<float>::quiet_NaN();
        break;
      default:
        break;
    }
    return out;
  }

 private:
  Fault fault_;
  HashingEmbedder inner_;
};

// Records what it is given and answers with `answer`.
class FakeEngine : public ConsolidationEngine {
 public:
  using Answer = std::function<Result<ConsolidationResult>(std::span<const EpisodicEntry>)>;
  explicit FakeEngine(Answer answer) : answer_(std::move(answer)) {}
  Result<ConsolidationResult> consolidate(std::span<const EpisodicEntry> entries) override {
    calls.emplace_back(entries.begin(), entries.end());
    return answer_(entries);
  }
  std::vector<std::vector<EpisodicEntry>> calls;

 private:
  Answer answer_;
};

// An engine that consumes the first `n` entries it is given.
FakeEngine::Answer consume_first(std::size_t n) {
  return [n](std::span<const EpisodicEntry> entries) -> Result<ConsolidationResult> {
    ConsolidationResult r;
    for (std::size_t i = 0; i < std::min(n, entries.size()); ++i) {
      r.processed_ids.push_back(entries[i].id);
    }
    r.entries_examined = entries.size();
    return r;
  };
}

// ── the fixture ─────────────────────────────────────────────────────────────────────────────

class EpisodicMemoryTest : public ::testing::TestWithParam<EpisodicBackend> {
 protected:
  MemoryConfig config() const { return config_for(GetParam()); }
  EpisodicMemory fresh() const { return EpisodicMemory::create(config()).value(); }
  EpisodicMemory with_corpus() const {
    EpisodicMemory m = fresh();
    add_corpus(m);
    return m;
  }
};

// ── add / get ───────────────────────────────────────────────────────────────────────────────

TEST_P(EpisodicMemoryTest, AddAssignsUniqueUuidV4WhenIdIsEmpty) {
  EpisodicMemory m = fresh();
  // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx, V one of 8 9 a b (RFC 4122, lower case).
  const std::regex uuid_v4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  std::set<std::string> ids;
  for (int i = 0; i < 40; ++i) {
    auto id = m.add(make_entry("", "s", "user", "memo number " + std::to_string(i), at(i)));
    ASSERT_TRUE(id.has_value()) << id.error().to_string();
    EXPECT_TRUE(std::regex_match(*id, uuid_v4)) << *id;
    ids.insert(*id);
    EXPECT_EQ(must_get(m, *id).content, "memo number " + std::to_string(i));
  }
  std::vector<EpisodicEntry> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(make_entry("", "s", "user", "batch memo " + std::to_string(i), at(100 + i)));
  }
  auto batch_ids = m.add_batch(std::move(batch));
  ASSERT_TRUE(batch_ids.has_value()) << batch_ids.error().to_string();
  ASSERT_EQ(batch_ids->size(), 10u);
  for (std::size_t i = 0; i < batch_ids->size(); ++i) {
    const std::string& id = (*batch_ids)[i];
    EXPECT_TRUE(std::regex_match(id, uuid_v4)) << id;
    ids.insert(id);
    EXPECT_EQ(must_get(m, id).content, "batch memo " + std::to_string(i));
  }
  EXPECT_EQ(ids.size(), 50u) << "assigned ids must be unique";
  EXPECT_EQ(m.size(), 50u);
}

TEST_P(EpisodicMemoryTest, AddKeepsEveryGivenField) {
  EpisodicMemory m = fresh();
  // A timestamp with nanoseconds that a double of seconds could not hold.
  const TimePoint ts{std::chrono::nanoseconds(1'700'000'000'123'456'789)};
  // User keys that look like the memory's own fields, a nested '@' key (only top-level keys
  // are reserved), big integers, floats, arrays, nulls, non-ASCII text.
  const Metadata metadata = {
      {"content", "the user's own content key"},
      {"session_id", 42},
      {"processed", "not a flag"},
      {"nested", {{"@inner", true}, {"list", Metadata::array({1, "two", 3.25, nullptr, false})}}},
      {"big", 9007199254740993LL},
      {"pi", 3.141592653589793},
      {"text", "caf\xc3\xa9 \xf0\x9f\x99\x82"}};
  EpisodicEntry e = make_entry("given-id", "session-\xc3\xa9", "narrator",
                               "memo na\xc3\xafve caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9", ts, metadata);
  const TimePoint before = Clock::now();
  auto id = m.add(e);
  const TimePoint after = Clock::now();
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(*id, "given-id");

  const EpisodicEntry got = must_get(m, "given-id");
  EXPECT_EQ(got.id, "given-id");
  EXPECT_EQ(got.session_id, e.session_id);
  EXPECT_EQ(got.role, "narrator");
  EXPECT_EQ(got.content, e.content);
  EXPECT_EQ(ns_of(got.timestamp), ns_of(ts)) << "timestamps are kept to the nanosecond";
  EXPECT_GE(got.ingestion_time, before);
  EXPECT_LE(got.ingestion_time, after);
  EXPECT_EQ(got.metadata, metadata);
  EXPECT_FALSE(got.processed);
  ASSERT_TRUE(got.embedding.has_value()) << "get() fills the embedding";
  expect_vectors_near(*got.embedding, hashing_embedding(e.content), "computed embedding");

  // An entry added processed stays so; null metadata is {}; an id of 1024 bytes is fine; an
  // empty session is a session.
  EpisodicEntry p =
      make_entry(std::string(kMaxIdBytes, 'x'), "", "user", "memo flagged", at(1), nullptr);
  p.processed = true;
  ASSERT_TRUE(m.add(p).has_value());
  const EpisodicEntry got_p = must_get(m, p.id);
  EXPECT_TRUE(got_p.processed);
  EXPECT_EQ(got_p.metadata, Metadata::object());
  EXPECT_EQ(got_p.session_id, "");
  EXPECT_EQ(ids_of(m.get_session("").value()), std::vector<std::string>{p.id});

  // The user's "processed" key is theirs: filters see it, and it is not the flag.
  MemorySearchOptions o = in_mode(SearchMode::kLexical);
  o.filter = Filter::eq("processed", "not a flag");
  EXPECT_EQ(ids_of(must_search(m, "memo", 10, o)), std::vector<std::string>{"given-id"});
  o.filter = Filter::eq("nested.@inner", true);
  EXPECT_EQ(ids_of(must_search(m, "memo", 10, o)), std::vector<std::string>{"given-id"});
}

TEST_P(EpisodicMemoryTest, AddSetsNowForAnEmptyTimestampAndAlwaysSetsIngestionTime) {
  EpisodicMemory m = fresh();
  EpisodicEntry e = make_entry("now", "s", "user", "memo happening right now", TimePoint{});
  e.ingestion_time = at(-5000);  // replaced by add()
  EpisodicEntry old = make_entry("old", "s", "user", "memo happened long ago", at(-3600));
  old.ingestion_time = at(-7200);
  const TimePoint before = Clock::now();
  ASSERT_TRUE(m.add(e).has_value());
  ASSERT_TRUE(m.add_batch({old}).has_value());
  const TimePoint after = Clock::now();

  const EpisodicEntry got = must_get(m, "now");
  EXPECT_GE(got.timestamp, before) << "timestamp {} means now";
  EXPECT_LE(got.timestamp, after);
  EXPECT_GE(got.ingestion_time, before);
  EXPECT_LE(got.ingestion_time, after);
  const EpisodicEntry got_old = must_get(m, "old");
  EXPECT_EQ(ns_of(got_old.timestamp), ns_of(at(-3600)));
  EXPECT_GE(got_old.ingestion_time, before) << "add_batch sets ingestion_time too";
  EXPECT_LE(got_old.ingestion_time, after);
}

TEST_P(EpisodicMemoryTest, AddOfAnExistingIdReplacesTheEntry) {
  EpisodicMemory m = fresh();
  EpisodicEntry first =
      make_entry("same", "old-session", "user", "memo walrus tusks arctic", at(1), {{"v", 1}});
  first.processed = true;
  ASSERT_TRUE(m.add(first).has_value());
  ASSERT_TRUE(
      m.add(make_entry("other", "keep", "user", "memo unrelated lantern", at(2))).has_value());
  EpisodicEntry second = make_entry("same", "new-session", "assistant", "memo pelican beak harbour",
                                    at(3), {{"v", 2}});
  auto id = m.add(second);
  ASSERT_TRUE(id.has_value()) << id.error().to_string();
  EXPECT_EQ(*id, "same");

  EXPECT_EQ(m.size(), 2u);
  const EpisodicEntry got = must_get(m, "same");
  EXPECT_EQ(got.session_id, "new-session");
  EXPECT_EQ(got.role, "assistant");
  EXPECT_EQ(got.content, second.content);
  EXPECT_EQ(ns_of(got.timestamp), ns_of(at(3)));
  EXPECT_EQ(got.metadata, (Metadata{{"v", 2}}));
  EXPECT_FALSE(got.processed);
  expect_vectors_near(*got.embedding, hashing_embedding(second.content), "new embedding");

  // The old content, session and flag are gone everywhere.
  for (SearchMode mode : kModes) {
    const auto old_words = must_search(m, "walrus tusks", 5, in_mode(mode));
    if (mode == SearchMode::kLexical) {
      EXPECT_TRUE(old_words.empty()) << "the replaced content is still in the lexical index";
    }
    for (const ScoredEntry& r : old_words) EXPECT_NE(r.entry.content, first.content);
    const auto new_words = must_search(m, "pelican harbour", 5, in_mode(mode));
    ASSERT_FALSE(new_words.empty()) << mode_name(mode);
    EXPECT_EQ(new_words.front().entry.id, "same") << mode_name(mode);
  }
  EXPECT_TRUE(m.get_session("old-session").value().empty());
  EXPECT_EQ(ids_of(m.get_session("new-session").value()), std::vector<std::string>{"same"});
  EXPECT_EQ(ids_of(m.list_unprocessed("new-session").value()), std::vector<std::string>{"same"});
  const MemoryStats stats = m.stats();
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(stats.sessions, 2u) << "old-session has no entry left";
  expect_backend_index(m);

  // add_batch replaces too.
  ASSERT_TRUE(
      m.add_batch({make_entry("same", "new-session", "user", "memo heron marsh reeds", at(4))})
          .has_value());
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(must_get(m, "same").content, "memo heron marsh reeds");
  EXPECT_TRUE(must_search(m, "pelican", 5, in_mode(SearchMode::kLexical)).empty());
  EXPECT_EQ(ids_of(must_search(m, "heron marsh", 5, in_mode(SearchMode::kLexical))),
            std::vector<std::string>{"same"});
}

TEST_P(EpisodicMemoryTest, AddBatchReturnsTheIdsInOrder) {
  EpisodicMemory m = fresh();
  std::vector<EpisodicEntry> batch = {
      make_entry("b1", "s", "user", "memo first of the batch", at(1)),
      make_entry("", "s", "user", "memo second without id", at(2)),
      make_entry("b3", "t", "assistant", "memo third of the batch", at(3)),
  };
  auto ids = m.add_batch(batch);
  ASSERT_TRUE(ids.has_value()) << ids.error().to_string();
  ASSERT_EQ(ids->size(), 3u);
  EXPECT_EQ((*ids)[0], "b1");
  EXPECT_FALSE((*ids)[1].empty());
  EXPECT_EQ((*ids)[2], "b3");
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(must_get(m, (*ids)[i]).content, batch[i].content);
  }
  EXPECT_EQ(m.size(), 3u);
  // An empty batch stores nothing and is no error.
  auto none = m.add_batch({});
  ASSERT_TRUE(none.has_value()) << none.error().to_string();
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(m.size(), 3u);
}

TEST_P(EpisodicMemoryTest, AddBatchWithOneBadEntryStoresNothing) {
  EpisodicMemory m = fresh();
  const EpisodicEntry keep = make_entry("keep", "s", "user", "memo original keeper", at(1));
  ASSERT_TRUE(m.add(keep).has_value());
  std::vector<EpisodicEntry> batch = {
      make_entry("n0", "s", "user", "memo new zero", at(2)),
      make_entry("keep", "s", "user", "memo would replace keeper", at(3)),
      make_entry("n2", "s", "user", "", at(4)),  // empty content
      make_entry("n3", "s", "user", "memo new three", at(5)),
  };
  auto r = m.add_batch(batch);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("entries[2]"), std::string::npos) << r.error().to_string();
  EXPECT_NE(r.error().message().find("content"), std::string::npos) << r.error().to_string();
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.get("n0").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(m.get("n3").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(must_get(m, "keep").content, keep.content);
  EXPECT_TRUE(must_search(m, "replace", 5, in_mode(SearchMode::kLexical)).empty());
}

TEST_P(EpisodicMemoryTest, AddBatchRefusesDuplicateIds) {
  EpisodicMemory m = fresh();
  auto r = m.add_batch({make_entry("d", "s", "user", "memo one", at(1)),
                        make_entry("e", "s", "user", "memo two", at(2)),
                        make_entry("d", "s", "user", "memo three", at(3))});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.get("d").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(m.get("e").error().code(), StatusCode::kNotFound);
}

TEST_P(EpisodicMemoryTest, GetOfAnUnknownIdIsNotFound) {
  EpisodicMemory m = with_corpus();
  EXPECT_EQ(m.get("nobody").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(m.get("e01x").error().code(), StatusCode::kNotFound);
  // Ids no entry can have (1..1024 bytes): not found, or refused as invalid.
  for (const std::string& id : {std::string(), std::string(kMaxIdBytes + 1, 'e')}) {
    auto r = m.get(id);
    ASSERT_FALSE(r.has_value()) << id.size();
    EXPECT_TRUE(r.error().code() == StatusCode::kNotFound ||
                r.error().code() == StatusCode::kInvalidArgument)
        << r.error().to_string();
  }
}

// Content is any non-empty valid UTF-8, also text without a single word: its embedding may have
// no feature at all, and the memory must still take it.
TEST_P(EpisodicMemoryTest, ContentWithoutWordsIsAccepted) {
  EpisodicMemory m = fresh();
  const std::vector<std::string> contents = {"?", "a", "\xf0\x9f\x99\x82", "...", "  "};
  for (std::size_t i = 0; i < contents.size(); ++i) {
    const std::string id = "w" + std::to_string(i);
    auto r = m.add(make_entry(id, "s", "user", contents[i], at(static_cast<int>(i))));
    ASSERT_TRUE(r.has_value()) << "'" << contents[i] << "': " << r.error().to_string();
    EXPECT_EQ(must_get(m, id).content, contents[i]);
  }
  EXPECT_EQ(m.size(), contents.size());
  for (SearchMode mode : kModes) must_search(m, "anything", 5, in_mode(mode));
}

// ── bad input ───────────────────────────────────────────────────────────────────────────────

struct BadCase {
  std::string name;   // what is wrong
  std::string field;  // what the message must name
  std::function<void(EpisodicEntry&)> spoil;
};

std::vector<BadCase> bad_cases() {
  auto content = [](std::string c) { return [c](EpisodicEntry& e) { e.content = c; }; };
  auto embedding = [](std::vector<float> v) { return [v](EpisodicEntry& e) { e.embedding = v; }; };
  auto with_value = [](std::size_t i, float x) {
    std::vector<float> v = hashing_embedding("memo a fine vector");
    v[i] = x;
    return v;
  };
  auto metadata = [](Metadata md) { return [md](EpisodicEntry& e) { e.metadata = md; }; };
  const float inf = std::numeric_limits<float>::infinity();
  return {
      {"empty content", "content", content("")},
      {"content \\xff", "content", content("memo \xff")},
      {"truncated multi-byte", "content", content("memo \xe2\x82")},
      {"overlong encoding", "content", content("memo \xc0\xaf")},
      {"encoded surrogate", "content", content("memo \xed\xa0\x80")},
      {"beyond U+10FFFF", "content", content("memo \xf4\x90\x80\x80")},
      {"embedding too short", "embedding", embedding(std::vector<float>(kDim - 1, 0.5f))},
      {"embedding too long", "embedding", embedding(std::vector<float>(kDim + 1, 0.5f))},
      {"empty embedding", "embedding", embedding({})},
      {"NaN in embedding", "embedding",
       embedding(with_value(7, std::numeric_limits<float>::quiet_NaN()))},
      {"inf in embedding", "embedding", embedding(with_value(100, inf))},
      {"-inf in embedding", "embedding", embedding(with_value(0, -inf))},
      {"zero embedding (no direction)", "embedding", embedding(std::vector<float>(kDim, 0.0f))},
      {"metadata array", "metadata", metadata(Metadata::array({1, 2}))},
      {"metadata string", "metadata", metadata(Metadata("text"))},
      {"metadata number", "metadata", metadata(Metadata(5))},
      {"metadata boolean", "metadata", metadata(Metadata(true))},
      {"metadata key @session", "metadata", metadata(Metadata{{"ok", 1}, {"@session", "x"}})},
      {"metadata key @", "metadata", metadata(Metadata{{"@", 1}})},
      {"metadata invalid UTF-8", "metadata", metadata(Metadata{{"k", "\xff"}})},
      {"id of 1025 bytes", "id",
       [](EpisodicEntry& e) { e.id = std::string(kMaxIdBytes + 1, 'i'); }},
  };
}

TEST_P(EpisodicMemoryTest, AnInvalidEntryIsRefusedNamingTheFieldAndStoresNothing) {
  EpisodicMemory m = fresh();
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    EpisodicEntry bad = make_entry("bad", "s", "user", "memo a fine entry", at(1));
    c.spoil(bad);
    auto r = m.add(bad);
    ASSERT_FALSE(r.has_value()) << "accepted";
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().to_string();
    EXPECT_NE(r.error().message().find(c.field), std::string::npos) << r.error().to_string();
    EXPECT_EQ(m.size(), 0u);
    EXPECT_FALSE(m.get(bad.id).has_value());

    std::vector<EpisodicEntry> batch;
    for (int i = 0; i < 4; ++i) {
      batch.push_back(make_entry("ok" + std::to_string(i), "s", "user",
                                 "memo fine entry " + std::to_string(i), at(i)));
    }
    batch[2] = bad;
    auto rb = m.add_batch(batch);
    ASSERT_FALSE(rb.has_value()) << "batch accepted";
    EXPECT_EQ(rb.error().code(), StatusCode::kInvalidArgument) << rb.error().to_string();
    EXPECT_NE(rb.error().message().find("entries[2]"), std::string::npos) << rb.error().to_string();
    EXPECT_NE(rb.error().message().find(c.field), std::string::npos) << rb.error().to_string();
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.get("ok0").error().code(), StatusCode::kNotFound);
  }
  EXPECT_TRUE(m.get_session("s").value().empty());
  EXPECT_EQ(m.stats().entries, 0u);
}

TEST_P(EpisodicMemoryTest, AProviderThatMisbehavesStoresNothing) {
  using Fault = BadProvider::Fault;
  for (Fault fault :
       {Fault::kFail, Fault::kWrongCount, Fault::kWrongDimension, Fault::kNonFinite}) {
    SCOPED_TRACE("fault " + std::to_string(static_cast<int>(fault)));
    EpisodicMemory m =
        EpisodicMemory::create(
            config().with_embedding_service(service_over(std::make_shared<BadProvider>(fault))))
            .value();
    auto r = m.add(make_entry("p", "s", "user", "memo needs an embedding", at(1)));
    ASSERT_FALSE(r.has_value()) << "accepted";
    if (fault == Fault::kFail) {
      EXPECT_EQ(r.error().code(), StatusCode::kIOError) << r.error().to_string();
      EXPECT_NE(r.error().message().find("bad-provider"), std::string::npos)
          << "errors carry the provider's name: " << r.error().to_string();
    } else {
      EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().to_string();
    }
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.get("p").error().code(), StatusCode::kNotFound);

    auto rb = m.add_batch({make_entry("q1", "s", "user", "memo one", at(1)),
                           make_entry("q2", "s", "user", "memo two", at(2)),
                           make_entry("q3", "s", "user", "memo three", at(3))});
    ASSERT_FALSE(rb.has_value()) << "batch accepted";
    EXPECT_EQ(m.size(), 0u);
    EXPECT_EQ(m.get("q1").error().code(), StatusCode::kNotFound);
  }
}

TEST_P(EpisodicMemoryTest, AProviderFailingInTheMiddleOfABatchStoresNothing) {
  // Batches of two texts, two in flight: some provider calls succeed, one fails.
  EpisodicMemory m =
      EpisodicMemory::create(
          config().with_embedding_service(service_over(
              std::make_shared<BadProvider>(BadProvider::Fault::kFailOnPoison), 100, 2, 2)))
          .value();
  std::vector<EpisodicEntry> batch;
  for (int i = 0; i < 8; ++i) {
    batch.push_back(make_entry("m" + std::to_string(i), "s", "user",
                               i == 5 ? "memo poison here" : "memo harmless " + std::to_string(i),
                               at(i)));
  }
  auto r = m.add_batch(batch);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kIOError) << r.error().to_string();
  EXPECT_EQ(m.size(), 0u);
  for (const EpisodicEntry& e : batch) EXPECT_FALSE(m.get(e.id).has_value()) << e.id;
  // The memory is still usable.
  batch[5].content = "memo antidote";
  ASSERT_TRUE(m.add_batch(batch).has_value());
  EXPECT_EQ(m.size(), 8u);
}

TEST_P(EpisodicMemoryTest, SearchReportsProviderErrorsWhileLexicalSearchWorks) {
  EpisodicMemory m =
      EpisodicMemory::create(config().with_embedding_service(service_over(
                                 std::make_shared<BadProvider>(BadProvider::Fault::kFail))))
          .value();
  EpisodicEntry e = make_entry("given", "s", "user", "memo hedgehog burrow", at(1));
  e.embedding = arbitrary_vector(kDim, 0.3f);
  ASSERT_TRUE(m.add(e).has_value()) << "an entry with its embedding needs no provider";
  const auto lexical = must_search(m, "hedgehog", 5, in_mode(SearchMode::kLexical));
  EXPECT_EQ(ids_of(lexical), std::vector<std::string>{"given"});
  for (SearchMode mode : {SearchMode::kVector, SearchMode::kHybrid}) {
    auto r = m.search("hedgehog", 5, in_mode(mode));
    ASSERT_FALSE(r.has_value()) << mode_name(mode);
    EXPECT_EQ(r.error().code(), StatusCode::kIOError) << r.error().to_string();
  }
  auto by_vector = m.search(std::span<const float>(*e.embedding), 5);
  ASSERT_TRUE(by_vector.has_value()) << by_vector.error().to_string();
  EXPECT_EQ(ids_of(*by_vector), std::vector<std::string>{"given"});
}

// ── search ──────────────────────────────────────────────────────────────────────────────────

TEST_P(EpisodicMemoryTest, EveryModeFindsEachEntryByItsDistinctiveWords) {
  EpisodicMemory m = with_corpus();
  expect_backend_index(m);
  for (SearchMode mode : kModes) {
    for (const Doc& d : corpus()) {
      const auto results = must_search(m, d.words, 3, in_mode(mode));
      ASSERT_FALSE(results.empty()) << mode_name(mode) << " '" << d.words << "'";
      EXPECT_EQ(results.front().entry.id, d.id) << mode_name(mode) << " '" << d.words << "'";
      EXPECT_LE(results.size(), 3u);
      expect_best_first(results, mode_name(mode));
      if (mode == SearchMode::kLexical) {
        // BM25 returns only entries that share a word with the query.
        EXPECT_EQ(results.size(), 1u) << d.words;
      }
    }
  }
}

TEST_P(EpisodicMemoryTest, ResultsAreBestFirstAtMostTopKAndFullyFormed) {
  EpisodicMemory m = with_corpus();
  for (SearchMode mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    for (std::size_t k : {1u, 3u, 7u, 100u}) {
      const auto results = must_search(m, "memo giraffe acacia violin", k, in_mode(mode));
      EXPECT_LE(results.size(), k);
      // Ten entries contain "memo": there are enough to fill k up to 10 in every mode.
      EXPECT_GE(results.size(), std::min<std::size_t>(k, 10));
      expect_best_first(results, "k " + std::to_string(k));
      std::set<std::string> seen;
      for (const ScoredEntry& r : results) {
        EXPECT_TRUE(seen.insert(r.entry.id).second) << "duplicate " << r.entry.id;
        // A result is the whole entry (without its embedding).
        const EpisodicEntry stored = must_get(m, r.entry.id);
        EpisodicEntry want = stored;
        want.embedding.reset();
        expect_same_entry(r.entry, want, "result");
        EXPECT_FALSE(r.entry.embedding.has_value()) << "results do not carry embeddings";
        if (mode == SearchMode::kVector) {
          EXPECT_GE(r.score, -1.0001f);
          EXPECT_LE(r.score, 1.0001f);
        }
        if (mode == SearchMode::kLexical) {
          EXPECT_GE(r.score, 0.0f);
        }
      }
      if (k >= 2 && results.size() >= 2) {
        // The two query words of e01 beat one of e07's.
        EXPECT_EQ(results[0].entry.id, "e01");
      }
    }
  }
}

// Each option of MemorySearchOptions, in every mode: with top_k above the corpus size, the
// query "memo" returns exactly the entries that pass (lexical: only those containing "memo").
TEST_P(EpisodicMemoryTest, SearchOptionsRestrictTheResultsInEveryMode) {
  EpisodicMemory m = with_corpus();
  const std::vector<std::string> processed_ids = {"e02", "e04", "x1"};
  ASSERT_TRUE(m.mark_processed(processed_ids).ok());
  auto is_processed = [&](const Doc& d) {
    return std::find(processed_ids.begin(), processed_ids.end(), d.id) != processed_ids.end();
  };
  struct Case {
    std::string name;
    std::function<void(MemorySearchOptions&)> set;
    std::function<bool(const Doc&)> passes;
  };
  const std::vector<Case> cases = {
      {"no option", [](MemorySearchOptions&) {}, [](const Doc&) { return true; }},
      {"session s2", [](MemorySearchOptions& o) { o.session_id = "s2"; },
       [](const Doc& d) { return d.session == "s2"; }},
      {"unknown session", [](MemorySearchOptions& o) { o.session_id = "nobody"; },
       [](const Doc&) { return false; }},
      {"role assistant", [](MemorySearchOptions& o) { o.role = "assistant"; },
       [](const Doc& d) { return d.role == "assistant"; }},
      {"after t3, before t6",
       [](MemorySearchOptions& o) {
         o.after = at(3);
         o.before = at(6);
       },
       [](const Doc& d) { return d.t >= 3 && d.t < 6; }},
      {"after t3 + 1ns",
       [](MemorySearchOptions& o) { o.after = at(3) + std::chrono::nanoseconds(1); },
       [](const Doc& d) { return d.t > 3; }},
      {"before t3 + 1ns",
       [](MemorySearchOptions& o) { o.before = at(3) + std::chrono::nanoseconds(1); },
       [](const Doc& d) { return d.t <= 3; }},
      {"processed", [](MemorySearchOptions& o) { o.processed = true; }, is_processed},
      {"unprocessed", [](MemorySearchOptions& o) { o.processed = false; },
       [&](const Doc& d) { return !is_processed(d); }},
      {"topic geology", [](MemorySearchOptions& o) { o.filter = Filter::eq("topic", "geology"); },
       [](const Doc& d) { return d.topic == "geology"; }},
      {"info.level >= 1", [](MemorySearchOptions& o) { o.filter = Filter::gte("info.level", 1); },
       [](const Doc& d) { return d.level >= 1; }},
      {"topic in music, food",
       [](MemorySearchOptions& o) {
         o.filter = Filter::in("topic", Metadata::array({"music", "food"}));
       },
       [](const Doc& d) { return d.topic == "music" || d.topic == "food"; }},
      {"session s1, role user, unprocessed, level 0",
       [](MemorySearchOptions& o) {
         o.session_id = "s1";
         o.role = "user";
         o.processed = false;
         o.filter = Filter::eq("info.level", 0);
       },
       [&](const Doc& d) {
         return d.session == "s1" && d.role == "user" && !is_processed(d) && d.level == 0;
       }},
  };
  for (const Case& c : cases) {
    for (SearchMode mode : kModes) {
      SCOPED_TRACE(c.name + ", " + mode_name(mode));
      MemorySearchOptions o = in_mode(mode);
      c.set(o);
      std::set<std::string> want;
      for (const Doc& d : corpus()) {
        if (!c.passes(d)) continue;
        if (mode == SearchMode::kLexical && d.content.find("memo") == std::string::npos) continue;
        want.insert(d.id);
      }
      const auto results = must_search(m, "memo", 50, o);
      EXPECT_EQ(id_set(results), want);
      EXPECT_EQ(results.size(), want.size()) << "duplicates";
      expect_best_first(results, c.name);
    }
  }
  expect_backend_index(m);
}

TEST_P(EpisodicMemoryTest, MinScoreDropsWeakerResults) {
  EpisodicMemory m = with_corpus();
  for (SearchMode mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    const auto all = must_search(m, "memo giraffe acacia", 50, in_mode(mode));
    ASSERT_GE(all.size(), 3u);
    ASSERT_EQ(all[0].entry.id, "e01");
    ASSERT_GT(all[0].score, all[1].score) << "e01 has all three words";
    MemorySearchOptions o = in_mode(mode);
    // Between the best and the second: only e01 stays.
    o.min_score = (all[0].score + all[1].score) / 2;
    EXPECT_EQ(ids_of(must_search(m, "memo giraffe acacia", 50, o)),
              std::vector<std::string>{"e01"});
    // At the third score exactly: every result scoring at least that (ties included).
    const float threshold = all[2].score;
    o.min_score = threshold;
    const auto kept = must_search(m, "memo giraffe acacia", 50, o);
    std::set<std::string> want;
    for (const ScoredEntry& r : all) {
      if (r.score >= threshold) want.insert(r.entry.id);
    }
    EXPECT_EQ(id_set(kept), want);
    for (const ScoredEntry& r : kept) EXPECT_GE(r.score, threshold);
    o.min_score = all.front().score + 1.0f;
    EXPECT_TRUE(must_search(m, "memo giraffe acacia", 50, o).empty());
  }
}

TEST_P(EpisodicMemoryTest, BadSearchArgumentsAreInvalid) {
  EpisodicMemory m = with_corpus();
  for (SearchMode mode : kModes) {
    SCOPED_TRACE(mode_name(mode));
    EXPECT_EQ(m.search("memo", 0, in_mode(mode)).error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(m.search("", 5, in_mode(mode)).error().code(), StatusCode::kInvalidArgument);
    MemorySearchOptions o = in_mode(mode);
    o.filter = Filter::gt("topic", true);  // $gt takes a number or a string
    ASSERT_FALSE(o.filter.status().ok());
    EXPECT_EQ(m.search("memo", 5, o).error().code(), StatusCode::kInvalidArgument);
  }
  for (float weight : {-0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    MemorySearchOptions o = in_mode(SearchMode::kHybrid);
    o.vector_weight = weight;
    EXPECT_EQ(m.search("memo", 5, o).error().code(), StatusCode::kInvalidArgument) << weight;
  }
  for (float rrf_k : {0.0f, -1.0f}) {
    MemorySearchOptions o = in_mode(SearchMode::kHybrid);
    o.fusion = Fusion::kReciprocalRank;
    o.rrf_k = rrf_k;
    EXPECT_EQ(m.search("memo", 5, o).error().code(), StatusCode::kInvalidArgument) << rrf_k;
  }
  EXPECT_EQ(m.stats().entries, corpus().size());
}

TEST_P(EpisodicMemoryTest, LexicalSearchForAnUnusedWordIsEmpty) {
  EpisodicMemory m = with_corpus();
  const auto r = m.search("xylophonist", 5, in_mode(SearchMode::kLexical));
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_TRUE(r->empty());
}

TEST_P(EpisodicMemoryTest, EveryFusionFindsTheEntry) {
  EpisodicMemory m = with_corpus();
  struct Choice {
    Fusion fusion;
    float weight;
    std::size_t candidates;
  };
  for (const Choice& c :
       {Choice{Fusion::kAuto, 0.5f, 0}, Choice{Fusion::kReciprocalRank, 0.5f, 0},
        Choice{Fusion::kRelativeScore, 0.5f, 0}, Choice{Fusion::kRelativeScore, 0.0f, 0},
        Choice{Fusion::kRelativeScore, 1.0f, 0}, Choice{Fusion::kReciprocalRank, 0.2f, 5}}) {
    MemorySearchOptions o = in_mode(SearchMode::kHybrid);
    o.fusion = c.fusion;
    o.vector_weight = c.weight;
    o.candidates = c.candidates;
    for (const Doc& d : corpus()) {
      const auto results = must_search(m, d.words, 3, o);
      ASSERT_FALSE(results.empty());
      EXPECT_EQ(results.front().entry.id, d.id)
          << "fusion " << static_cast<int>(c.fusion) << " weight " << c.weight;
      expect_best_first(results, d.words);
    }
  }
}

// entry.hpp's formulas: e01 is first in both rankings for its own words.
TEST_P(EpisodicMemoryTest, FusionScoresFollowTheDocumentedFormulas) {
  EpisodicMemory m = with_corpus();
  MemorySearchOptions o = in_mode(SearchMode::kHybrid);
  o.fusion = Fusion::kReciprocalRank;
  const auto rrf = must_search(m, "memo giraffe acacia", 20, o);
  ASSERT_FALSE(rrf.empty());
  EXPECT_EQ(rrf.front().entry.id, "e01");
  // 2 * (0.5 / (60 + 1) + 0.5 / (60 + 1)) for rank 1 in both.
  EXPECT_NEAR(rrf.front().score, 2.0 / 61.0, 1e-6);
  for (const ScoredEntry& r : rrf) EXPECT_LE(r.score, 2.0 / 61.0 + 1e-6);
  o.rrf_k = 10.0f;
  o.vector_weight = 0.25f;
  const auto rrf10 = must_search(m, "memo giraffe acacia", 20, o);
  ASSERT_FALSE(rrf10.empty());
  EXPECT_NEAR(rrf10.front().score, 2.0 * (0.25 / 11.0 + 0.75 / 11.0), 1e-6);

  // Min-max scaling: the best of both lists scores 1; every score is in [0, 1]; with
  // vector_weight 1 the order is the vector ranking's.
  o = in_mode(SearchMode::kHybrid);
  o.fusion = Fusion::kRelativeScore;
  const auto relative = must_search(m, "memo giraffe acacia", 20, o);
  ASSERT_FALSE(relative.empty());
  EXPECT_EQ(relative.front().entry.id, "e01");
  EXPECT_NEAR(relative.front().score, 1.0, 1e-6);
  for (const ScoredEntry& r : relative) {
    EXPECT_GE(r.score, -1e-6);
    EXPECT_LE(r.score, 1.0 + 1e-6);
  }
  o.vector_weight = 1.0f;
  const auto vector_only = must_search(m, "memo violin orchestra", 5, o);
  const auto vector = must_search(m, "memo violin orchestra", 5, in_mode(SearchMode::kVector));
  EXPECT_EQ(ids_of(vector_only), ids_of(vector));
  // kAuto is kRelativeScore with vector_weight 0.8, whatever vector_weight says (entry.hpp).
  MemorySearchOptions automatic = in_mode(SearchMode::kHybrid);
  automatic.vector_weight = 0.1f;
  const auto a = must_search(m, "memo giraffe violin", 10, automatic);
  automatic.fusion = Fusion::kRelativeScore;
  automatic.vector_weight = 0.8f;
  const auto r = must_search(m, "memo giraffe violin", 10, automatic);
  ASSERT_EQ(a.size(), r.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i].score, r[i].score, 1e-6);
}

TEST_P(EpisodicMemoryTest, SearchByEmbedding) {
  EpisodicMemory m = with_corpus();
  const std::vector<float> query = *must_get(m, "e05").embedding;
  auto r = m.search(std::span<const float>(query), 3);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_FALSE(r->empty());
  EXPECT_EQ(r->front().entry.id, "e05");
  EXPECT_GT(r->front().score, 0.999f);
  EXPECT_LE(r->size(), 3u);
  expect_best_first(*r, "by embedding");

  MemorySearchOptions o;
  o.session_id = "s1";
  auto in_s1 = m.search(std::span<const float>(query), 20, o);
  ASSERT_TRUE(in_s1.has_value()) << in_s1.error().to_string();
  EXPECT_EQ(id_set(*in_s1), (std::set<std::string>{"e01", "e02", "e07", "x1"}));

  EXPECT_EQ(m.search(std::span<const float>(query), 0).error().code(),
            StatusCode::kInvalidArgument);
  const std::vector<float> short_query(kDim - 1, 0.1f);
  EXPECT_EQ(m.search(std::span<const float>(short_query), 3).error().code(),
            StatusCode::kInvalidArgument);
  std::vector<float> nan_query = query;
  nan_query[9] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(m.search(std::span<const float>(nan_query), 3).error().code(),
            StatusCode::kInvalidArgument);
}

// ── sessions ────────────────────────────────────────────────────────────────────────────────

TEST_P(EpisodicMemoryTest, GetSessionAndListUnprocessedAreChronological) {
  EpisodicMemory m = fresh();
  // Added out of order; "c" and "b" share a timestamp (then ordered by id).
  ASSERT_TRUE(m.add(make_entry("e", "s", "user", "memo five", at(5))).has_value());
  ASSERT_TRUE(m.add(make_entry("c", "s", "user", "memo three c", at(3))).has_value());
  ASSERT_TRUE(m.add(make_entry("x", "other", "user", "memo elsewhere", at(2))).has_value());
  ASSERT_TRUE(m.add_batch({make_entry("a", "s", "user", "memo one", at(1)),
                           make_entry("b", "s", "assistant", "memo three b", at(3)),
                           make_entry("d", "s", "user", "memo four", at(4))})
                  .has_value());
  EpisodicEntry early = make_entry("z", "s", "user", "memo zero", at(0));
  early.processed = true;
  ASSERT_TRUE(m.add(early).has_value());
  ASSERT_TRUE(m.mark_processed(std::vector<std::string>{"d"}).ok());

  const auto session = m.get_session("s");
  ASSERT_TRUE(session.has_value()) << session.error().to_string();
  EXPECT_EQ(ids_of(*session), (std::vector<std::string>{"z", "a", "b", "c", "d", "e"}));
  const auto unprocessed = m.list_unprocessed("s");
  ASSERT_TRUE(unprocessed.has_value()) << unprocessed.error().to_string();
  EXPECT_EQ(ids_of(*unprocessed), (std::vector<std::string>{"a", "b", "c", "e"}));
  for (const EpisodicEntry& e : *unprocessed) EXPECT_FALSE(e.processed) << e.id;
  // The listed entries are whole.
  EXPECT_EQ((*session)[4].content, "memo four");
  EXPECT_TRUE((*session)[4].processed);
  EXPECT_EQ(ns_of((*session)[0].timestamp), ns_of(at(0)));
  EXPECT_EQ(ids_of(m.get_session("other").value()), std::vector<std::string>{"x"});
  EXPECT_TRUE(m.get_session("nobody").value().empty());
  EXPECT_TRUE(m.list_unprocessed("nobody").value().empty());
}

// REGRESSION: search had one global scope; a session's search saw every session.
TEST_P(EpisodicMemoryTest, SearchWithASessionIdReturnsOnlyThatSession) {
  EpisodicMemory m = fresh();
  for (const char* s : {"alice", "bob", "carol"}) {
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(m.add(make_entry(std::string(s) + std::to_string(i), s, "user",
                                   "memo the shared secret password is swordfish", at(i)))
                      .has_value());
    }
  }
  expect_backend_index(m);
  for (SearchMode mode : kModes) {
    for (const char* s : {"alice", "bob", "carol"}) {
      MemorySearchOptions o = in_mode(mode);
      o.session_id = s;
      const auto results = must_search(m, "secret password swordfish", 10, o);
      EXPECT_EQ(results.size(), 3u) << mode_name(mode) << " " << s;
      for (const ScoredEntry& r : results) {
        EXPECT_EQ(r.entry.session_id, s) << mode_name(mode);
        EXPECT_EQ(r.entry.id.rfind(s, 0), 0u) << mode_name(mode);
      }
    }
    EXPECT_EQ(must_search(m, "secret password swordfish", 10, in_mode(mode)).size(), 9u);
  }
}

// REGRESSION: two memories (agents) in one directory under different names saw each other.
TEST_P(EpisodicMemoryTest, MemoriesWithDifferentNamesInOneDirectoryAreIsolated) {
  TempDir tmp;
  const MemoryConfig base = config().with_directory(tmp.path() / "store");
  {
    EpisodicMemory a = EpisodicMemory::create(base.with_name("agent-a")).value();
    ASSERT_TRUE(
        a.add(make_entry("a1", "shared", "user", "memo alpha penguin colony", at(1))).has_value());
    ASSERT_TRUE(
        a.add(make_entry("same-id", "shared", "user", "memo alpha version", at(2))).has_value());
    // A second memory of the same directory while the first is open (config.hpp: several
    // memories share a directory under different names).
    auto opened = EpisodicMemory::create(base.with_name("agent-b"));
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    EpisodicMemory b = std::move(opened).value();
    EXPECT_EQ(b.size(), 0u) << "agent-b sees agent-a's entries";
    ASSERT_TRUE(
        b.add(make_entry("b1", "shared", "user", "memo beta flamingo lagoon", at(3))).has_value());
    ASSERT_TRUE(
        b.add(make_entry("same-id", "shared", "user", "memo beta version", at(4))).has_value());
    EXPECT_EQ(b.size(), 2u);
    EXPECT_EQ(a.size(), 2u);
    EXPECT_EQ(must_get(a, "same-id").content, "memo alpha version");
    EXPECT_EQ(a.get("b1").error().code(), StatusCode::kNotFound);
    EXPECT_TRUE(must_search(a, "flamingo", 5, in_mode(SearchMode::kLexical)).empty());
    EXPECT_EQ(a.list_sessions_with_unprocessed().value(), std::vector<std::string>{"shared"});
    ASSERT_TRUE(a.mark_processed(std::vector<std::string>{"a1", "same-id"}).ok());
    EXPECT_EQ(b.list_sessions_with_unprocessed().value(), std::vector<std::string>{"shared"});
    EXPECT_FALSE(must_get(b, "same-id").processed);
  }
  for (int restart = 0; restart < 2; ++restart) {
    SCOPED_TRACE("restart " + std::to_string(restart));
    for (const char* name : {"agent-a", "agent-b"}) {
      SCOPED_TRACE(name);
      const bool is_a = std::string(name) == "agent-a";
      EpisodicMemory m = EpisodicMemory::create(base.with_name(name)).value();
      EXPECT_EQ(m.size(), 2u);
      EXPECT_EQ(m.stats().entries, 2u);
      EXPECT_EQ(m.get(is_a ? "b1" : "a1").error().code(), StatusCode::kNotFound);
      EXPECT_EQ(must_get(m, "same-id").content, is_a ? "memo alpha version" : "memo beta version");
      EXPECT_EQ(must_get(m, "same-id").processed, is_a) << "flags are per memory";
      EXPECT_EQ(ids_of(m.get_session("shared").value()),
                (std::vector<std::string>{is_a ? "a1" : "b1", "same-id"}));
      for (SearchMode mode : kModes) {
        for (const ScoredEntry& r : must_search(m, "memo penguin flamingo", 10, in_mode(mode))) {
          EXPECT_EQ(r.entry.id == "a1" || r.entry.content == "memo alpha version", is_a)
              << mode_name(mode) << " found " << r.entry.id;
        }
      }
      EXPECT_TRUE(
          must_search(m, is_a ? "flamingo" : "penguin", 5, in_mode(SearchMode::kLexical)).empty());
      expect_backend_index(m);
    }
  }
}

// ── mark_processed ──────────────────────────────────────────────────────────────────────────

// REGRESSION: marking replaced the metadata, so consolidated entries vanished from search.
TEST_P(EpisodicMemoryTest, MarkProcessedChangesOnlyTheFlag) {
  EpisodicMemory m = with_corpus();
  EpisodicEntry supplied = make_entry("given", "s9", "user", "memo dolphin pod echolocation",
                                      at(50), {{"topic", "ocean"}, {"deep", {{"x", 1}}}});
  supplied.embedding = arbitrary_vector(kDim, 1.1f);
  ASSERT_TRUE(m.add(supplied).has_value());
  const std::vector<std::string> ids = {"e03", "e08", "given"};
  std::map<std::string, EpisodicEntry> before;
  for (const std::string& id : ids) before[id] = must_get(m, id);

  ASSERT_TRUE(m.mark_processed(ids).ok());
  ASSERT_TRUE(m.mark_processed(ids).ok()) << "marking twice is fine";

  for (const std::string& id : ids) {
    EpisodicEntry want = before[id];
    want.processed = true;
    expect_same_entry(must_get(m, id), want, "after mark_processed");
  }
  EXPECT_FALSE(must_get(m, "e01").processed) << "an entry not listed was marked";
  EXPECT_EQ(m.size(), corpus().size() + 1);
  // Still found by its words, in every mode, with and without the processed condition.
  const std::map<std::string, std::string> words = {
      {"e03", "basil parmesan"}, {"e08", "glacier tundra"}, {"given", "dolphin echolocation"}};
  for (SearchMode mode : kModes) {
    for (const auto& [id, w] : words) {
      if (id == "given" && mode != SearchMode::kLexical) continue;  // its vector is arbitrary
      const auto found = must_search(m, w, 3, in_mode(mode));
      ASSERT_FALSE(found.empty()) << mode_name(mode) << " " << id;
      EXPECT_EQ(found.front().entry.id, id) << mode_name(mode);
      EXPECT_TRUE(found.front().entry.processed);
      MemorySearchOptions o = in_mode(mode);
      o.processed = true;
      const auto processed = must_search(m, w, 3, o);
      ASSERT_FALSE(processed.empty()) << mode_name(mode) << " " << id;
      EXPECT_EQ(processed.front().entry.id, id) << mode_name(mode);
      MemorySearchOptions f = in_mode(mode);
      f.filter = Filter::eq("topic", before[id].metadata["topic"]);
      const auto filtered = must_search(m, w, 3, f);
      ASSERT_FALSE(filtered.empty()) << mode_name(mode) << " " << id << ": metadata lost";
      EXPECT_EQ(filtered.front().entry.id, id);
    }
  }
  auto by_vector = m.search(std::span<const float>(*supplied.embedding), 1);
  ASSERT_TRUE(by_vector.has_value());
  ASSERT_EQ(by_vector->size(), 1u);
  EXPECT_EQ(by_vector->front().entry.id, "given");
  EXPECT_GT(by_vector->front().score, 0.999f) << "the embedding changed";
  EXPECT_EQ(ids_of(m.list_unprocessed("s2").value()), (std::vector<std::string>{"e04"}));
  expect_backend_index(m);
}

TEST_P(EpisodicMemoryTest, MarkProcessedWithAnUnknownIdChangesNoFlag) {
  EpisodicMemory m = with_corpus();
  const Status s = m.mark_processed(std::vector<std::string>{"e01", "ghost", "e02"});
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.to_string();
  EXPECT_NE(s.message().find("ghost"), std::string::npos) << s.to_string();
  for (const Doc& d : corpus()) EXPECT_FALSE(must_get(m, d.id).processed) << d.id;
  EXPECT_EQ(m.list_unprocessed("s1").value().size(), 4u);
  EXPECT_TRUE(m.mark_processed(std::vector<std::string>{}).ok());
}

// ── delete_before ───────────────────────────────────────────────────────────────────────────

TEST_P(EpisodicMemoryTest, DeleteBeforeIsStrictAndRemovesEverywhere) {
  EpisodicMemory m = with_corpus();
  // Strictly before t5: e01..e04 go, e05 (at t5 exactly) stays.
  auto n = m.delete_before(at(5));
  ASSERT_TRUE(n.has_value()) << n.error().to_string();
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(m.size(), corpus().size() - 4);
  EXPECT_EQ(m.stats().entries, corpus().size() - 4);
  const std::set<std::string> gone = {"e01", "e02", "e03", "e04"};
  for (const Doc& d : corpus()) {
    const bool deleted = gone.count(d.id) > 0;
    EXPECT_EQ(m.get(d.id).has_value(), !deleted) << d.id;
    for (SearchMode mode : kModes) {
      const auto results = must_search(m, d.words, 3, in_mode(mode));
      if (deleted) {
        for (const ScoredEntry& r : results) {
          EXPECT_EQ(gone.count(r.entry.id), 0u)
              << mode_name(mode) << " found deleted " << r.entry.id;
        }
        if (mode == SearchMode::kLexical) {
          EXPECT_TRUE(results.empty()) << d.id;
        }
      } else {
        ASSERT_FALSE(results.empty()) << mode_name(mode) << " " << d.id;
        EXPECT_EQ(results.front().entry.id, d.id) << mode_name(mode);
      }
    }
  }
  for (SearchMode mode : kModes) {
    for (const ScoredEntry& r : must_search(m, "memo", 50, in_mode(mode))) {
      EXPECT_EQ(gone.count(r.entry.id), 0u) << mode_name(mode) << " found deleted " << r.entry.id;
    }
  }
  EXPECT_EQ(ids_of(m.get_session("s1").value()), (std::vector<std::string>{"e07", "x1"}));
  EXPECT_EQ(ids_of(m.get_session("s2").value()), (std::vector<std::string>{"e08"}));
  EXPECT_EQ(ids_of(m.list_unprocessed("s2").value()), (std::vector<std::string>{"e08"}));
  EXPECT_EQ(m.stats().sessions, 4u);
  EXPECT_EQ(*m.delete_before(at(5)), 0u);
  EXPECT_EQ(*m.delete_before(at(10)), 5u);  // e05..e09
  EXPECT_EQ(m.stats().sessions, 3u) << "s2 has no entry left";
  EXPECT_EQ(*m.delete_before(at(1000)), 3u);
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.stats().sessions, 0u);
  for (SearchMode mode : kModes) EXPECT_TRUE(must_search(m, "memo", 5, in_mode(mode)).empty());
}

// ── list_sessions_with_unprocessed ──────────────────────────────────────────────────────────

// Sessions whose order shows what the order is keyed on: A's newest entry (t10) is processed,
// so A ranks by its unprocessed t1; B and E tie at t5 (then by id); D has nothing unprocessed.
void add_session_order_data(EpisodicMemory& m) {
  std::vector<EpisodicEntry> entries = {
      make_entry("c2", "C", "user", "memo c two", at(7)),
      make_entry("a2", "A", "user", "memo a two", at(10)),
      make_entry("e1", "E", "user", "memo e one", at(5)),
      make_entry("b1", "B", "user", "memo b one", at(5)),
      make_entry("d1", "D", "user", "memo d one", at(20)),
      make_entry("a1", "A", "user", "memo a one", at(1)),
      make_entry("c1", "C", "user", "memo c one", at(3)),
  };
  ASSERT_TRUE(m.add_batch(std::move(entries)).has_value());
  ASSERT_TRUE(m.mark_processed(std::vector<std::string>{"a2", "d1"}).ok());
}

// REGRESSION: the two old backends ordered these sessions differently.
TEST_P(EpisodicMemoryTest, SessionsWithUnprocessedAreOrderedByTheirLatestUnprocessedEntry) {
  EpisodicMemory m = fresh();
  EXPECT_TRUE(m.list_sessions_with_unprocessed().value().empty());
  add_session_order_data(m);
  using V = std::vector<std::string>;
  EXPECT_EQ(m.list_sessions_with_unprocessed().value(), (V{"C", "B", "E", "A"}));
  ASSERT_TRUE(m.mark_processed(std::vector<std::string>{"c2"}).ok());
  EXPECT_EQ(m.list_sessions_with_unprocessed().value(), (V{"B", "E", "C", "A"}));
  ASSERT_TRUE(m.mark_processed(std::vector<std::string>{"a1"}).ok());
  EXPECT_EQ(m.list_sessions_with_unprocessed().value(), (V{"B", "E", "C"}));
  // A new unprocessed entry moves its session up; adding A's entry again unprocessed brings A.
  ASSERT_TRUE(m.add(make_entry("a1", "A", "user", "memo a one again", at(1))).has_value());
  ASSERT_TRUE(m.add(make_entry("c3", "C", "user", "memo c three", at(6))).has_value());
  EXPECT_EQ(m.list_sessions_with_unprocessed().value(), (V{"C", "B", "E", "A"}));
}

TEST(EpisodicMemoryBackends, ListSessionsWithUnprocessedAgree) {
  EpisodicMemory in_memory = EpisodicMemory::create(config_for(EpisodicBackend::kInMemory)).value();
  EpisodicMemory hnsw = EpisodicMemory::create(config_for(EpisodicBackend::kHnsw)).value();
  add_session_order_data(in_memory);
  add_session_order_data(hnsw);
  const auto a = in_memory.list_sessions_with_unprocessed();
  const auto b = hnsw.list_sessions_with_unprocessed();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*a, (std::vector<std::string>{"C", "B", "E", "A"}));
  // And the other lists agree too.
  for (const char* s : {"A", "B", "C", "D", "E"}) {
    EXPECT_EQ(ids_of(in_memory.get_session(s).value()), ids_of(hnsw.get_session(s).value()));
    EXPECT_EQ(ids_of(in_memory.list_unprocessed(s).value()),
              ids_of(hnsw.list_unprocessed(s).value()));
  }
}

// ── consolidate ─────────────────────────────────────────────────────────────────────────────

void add_consolidation_data(EpisodicMemory& m) {
  EpisodicEntry done = make_entry("p", "s", "user", "memo already done", at(0));
  done.processed = true;
  ASSERT_TRUE(m.add_batch({make_entry("c", "s", "user", "memo third", at(3)),
                           make_entry("k1", "s", "assistant", "memo tie one", at(2)),
                           make_entry("a", "s", "user", "memo first", at(1)),
                           make_entry("o1", "other", "user", "memo other session", at(1)),
                           make_entry("k0", "s", "user", "memo tie zero", at(2)), done})
                  .has_value());
}

std::map<std::string, bool> flags(const EpisodicMemory& m) {
  std::map<std::string, bool> out;
  for (const char* id : {"a", "k0", "k1", "c", "p", "o1"}) out[id] = must_get(m, id).processed;
  return out;
}

TEST_P(EpisodicMemoryTest, ConsolidateGivesUnprocessedEntriesInOrderAndMarksWhatIsReported) {
  EpisodicMemory m = fresh();
  add_consolidation_data(m);
  FakeEngine engine(consume_first(2));
  auto r = m.consolidate("s", engine);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_EQ(engine.calls.size(), 1u);
  EXPECT_EQ(ids_of(engine.calls[0]), (std::vector<std::string>{"a", "k0", "k1", "c"}));
  for (const EpisodicEntry& e : engine.calls[0]) {
    EXPECT_EQ(e.content, must_get(m, e.id).content) << "the engine gets whole entries";
    EXPECT_EQ(e.session_id, "s");
    EXPECT_FALSE(e.processed);
  }
  EXPECT_EQ(r->processed_ids, (std::vector<std::string>{"a", "k0"}));
  EXPECT_EQ(r->entries_examined, 4u);
  EXPECT_EQ(
      flags(m),
      (std::map<std::string, bool>{
          {"a", true}, {"k0", true}, {"k1", false}, {"c", false}, {"p", true}, {"o1", false}}));
  EXPECT_EQ(ids_of(m.list_unprocessed("s").value()), (std::vector<std::string>{"k1", "c"}));

  // The next run gets only what is left; consuming everything empties the session's list.
  FakeEngine rest(consume_first(100));
  auto r2 = m.consolidate("s", rest);
  ASSERT_TRUE(r2.has_value()) << r2.error().to_string();
  ASSERT_EQ(rest.calls.size(), 1u);
  EXPECT_EQ(ids_of(rest.calls[0]), (std::vector<std::string>{"k1", "c"}));
  EXPECT_EQ(r2->entries_examined, 2u);
  EXPECT_TRUE(m.list_unprocessed("s").value().empty());
  EXPECT_EQ(m.list_sessions_with_unprocessed().value(), std::vector<std::string>{"other"});
  // Consolidated entries are still searchable.
  const auto found = must_search(m, "tie zero", 3, in_mode(SearchMode::kLexical));
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found.front().entry.id, "k0");
}

TEST_P(EpisodicMemoryTest, ConsolidateOfASessionWithNothingUnprocessed) {
  EpisodicMemory m = fresh();
  add_consolidation_data(m);
  FakeEngine engine(consume_first(100));
  auto r = m.consolidate("nobody", engine);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_TRUE(r->processed_ids.empty());
  EXPECT_EQ(r->entries_examined, 0u);
  for (const auto& call : engine.calls) EXPECT_TRUE(call.empty());
  EXPECT_FALSE(must_get(m, "o1").processed);
}

TEST_P(EpisodicMemoryTest, ConsolidateEngineErrorMarksNothing) {
  EpisodicMemory m = fresh();
  add_consolidation_data(m);
  const auto before = flags(m);
  FakeEngine engine([](std::span<const EpisodicEntry>) -> Result<ConsolidationResult> {
    return Status::IOError("llm unavailable");
  });
  auto r = m.consolidate("s", engine);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kIOError) << r.error().to_string();
  EXPECT_EQ(engine.calls.size(), 1u);
  EXPECT_EQ(flags(m), before);
}

TEST_P(EpisodicMemoryTest, ConsolidateReportingAnIdItWasNotGivenMarksNothing) {
  EpisodicMemory m = fresh();
  add_consolidation_data(m);
  const auto before = flags(m);
  // o1 exists but in another session; p is in the session but already processed (not given);
  // ghost does not exist.
  for (const char* foreign : {"o1", "p", "ghost"}) {
    SCOPED_TRACE(foreign);
    FakeEngine engine(
        [foreign](std::span<const EpisodicEntry> entries) -> Result<ConsolidationResult> {
          ConsolidationResult r;
          r.processed_ids = {entries[0].id, foreign};
          r.entries_examined = entries.size();
          return r;
        });
    auto r = m.consolidate("s", engine);
    ASSERT_FALSE(r.has_value()) << "accepted " << foreign;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().to_string();
    EXPECT_NE(r.error().message().find("processed_ids[1]"), std::string::npos)
        << r.error().to_string();
    EXPECT_EQ(flags(m), before);
  }
}

// ── supplied embeddings ─────────────────────────────────────────────────────────────────────

// REGRESSION: a supplied embedding was ignored and recomputed from the content.
TEST_P(EpisodicMemoryTest, ASuppliedEmbeddingIsUsedAsGiven) {
  auto provider = std::make_shared<CountingProvider>();
  EpisodicMemory m =
      EpisodicMemory::create(config().with_embedding_service(service_over(provider))).value();
  const std::size_t at_start = provider->texts();

  std::vector<EpisodicEntry> entries;
  for (int i = 0; i < 6; ++i) {
    EpisodicEntry e = make_entry("v" + std::to_string(i), "s", "user",
                                 "memo supplied vector number " + std::to_string(i), at(i));
    e.embedding = arbitrary_vector(kDim, 0.9f * static_cast<float>(i));
    entries.push_back(std::move(e));
  }
  ASSERT_TRUE(m.add(entries[0]).has_value());
  ASSERT_TRUE(
      m.add_batch({entries[1], entries[2], entries[3], entries[4], entries[5]}).has_value());
  EXPECT_EQ(provider->texts(), at_start) << "the provider embedded entries that had embeddings";

  for (const EpisodicEntry& e : entries) {
    const EpisodicEntry got = must_get(m, e.id);
    ASSERT_TRUE(got.embedding.has_value());
    expect_vectors_near(*got.embedding, *e.embedding, e.id + " embedding");
    auto found = m.search(std::span<const float>(*e.embedding), 3);
    ASSERT_TRUE(found.has_value()) << found.error().to_string();
    ASSERT_FALSE(found->empty());
    EXPECT_EQ(found->front().entry.id, e.id);
    EXPECT_GT(found->front().score, 0.999f);
  }
  EXPECT_EQ(provider->texts(), at_start) << "search(span) must not embed";

  // In a batch mixing both, only the entry without an embedding is sent to the provider.
  EpisodicEntry with = make_entry("w1", "s", "user", "memo with its vector", at(10));
  with.embedding = arbitrary_vector(kDim, 7.0f);
  ASSERT_TRUE(m.add_batch({with, make_entry("w2", "s", "user", "memo without a vector", at(11))})
                  .has_value());
  EXPECT_EQ(provider->texts(), at_start + 1);
  expect_vectors_near(*must_get(m, "w1").embedding, *with.embedding, "w1");
  expect_vectors_near(*must_get(m, "w2").embedding, hashing_embedding("memo without a vector"),
                      "w2");
  expect_backend_index(m);
}

// ── empty memory ────────────────────────────────────────────────────────────────────────────

// REGRESSION: searching an empty memory was an error.
TEST_P(EpisodicMemoryTest, AnEmptyMemoryAnswersWithEmptyLists) {
  EpisodicMemory m = fresh();
  EXPECT_EQ(m.size(), 0u);
  for (SearchMode mode : kModes) {
    auto r = m.search("anything at all", 5, in_mode(mode));
    ASSERT_TRUE(r.has_value()) << mode_name(mode) << ": " << r.error().to_string();
    EXPECT_TRUE(r->empty());
    MemorySearchOptions o = in_mode(mode);
    o.session_id = "s";
    o.filter = Filter::eq("topic", "x");
    auto filtered = m.search("anything", 5, o);
    ASSERT_TRUE(filtered.has_value()) << filtered.error().to_string();
    EXPECT_TRUE(filtered->empty());
  }
  const std::vector<float> q = hashing_embedding("anything");
  auto by_vector = m.search(std::span<const float>(q), 5);
  ASSERT_TRUE(by_vector.has_value()) << by_vector.error().to_string();
  EXPECT_TRUE(by_vector->empty());
  EXPECT_TRUE(m.get_session("s").value().empty());
  EXPECT_TRUE(m.list_unprocessed("s").value().empty());
  EXPECT_TRUE(m.list_sessions_with_unprocessed().value().empty());
  EXPECT_EQ(m.delete_before(at(100)).value(), 0u);
  EXPECT_EQ(m.stats().entries, 0u);
  EXPECT_EQ(m.stats().sessions, 0u);
  EXPECT_EQ(m.stats().searches, 7u) << "searches answered with an empty list count too";

  // And again once everything has been deleted.
  ASSERT_TRUE(m.add(make_entry("t", "s", "user", "memo transient", at(1))).has_value());
  ASSERT_EQ(m.delete_before(at(2)).value(), 1u);
  for (SearchMode mode : kModes) {
    auto r = m.search("memo transient", 5, in_mode(mode));
    ASSERT_TRUE(r.has_value()) << mode_name(mode) << ": " << r.error().to_string();
    EXPECT_TRUE(r->empty());
  }
}

// ── persistence ─────────────────────────────────────────────────────────────────────────────

// Entries with nanosecond timestamps, varied metadata, an empty session, a supplied embedding
// and an entry added processed. Entries [0, 6) are added first, then p2 is marked processed;
// entry 6 comes after a restart.
std::vector<EpisodicEntry> persisted_entries() {
  std::vector<EpisodicEntry> e = {
      make_entry("p1", "alpha", "user", "memo lighthouse keeper stormy night",
                 kBase + std::chrono::nanoseconds(123'456'789),
                 {{"topic", "sea"},
                  {"nested", {{"list", Metadata::array({1, "two", 3.5, true, nullptr})}}}}),
      make_entry("p2", "alpha", "assistant", "memo orchard apples harvest autumn",
                 at(2) + std::chrono::nanoseconds(1),
                 {{"big", 9007199254740993LL}, {"pi", 3.141592653589793}}),
      make_entry("p3", "", "system", "memo na\xc3\xafve caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9", at(5),
                 {{"emoji", "\xf0\x9f\x99\x82"}}),
      make_entry("p4", "beta", "tool", "memo spreadsheet pivot formula", at(3), {{"n", -7}}),
      make_entry("p5", "beta", "user", "memo marathon runners finish line", at(9), nullptr),
      make_entry("p6", "gamma", "user", "memo kettle teapot boiling water", at(1),
                 {{"topic", "kitchen"}}),
      make_entry("p7", "delta", "user", "memo restart survivor entry", at(4), {{"late", true}}),
  };
  e[3].embedding = arbitrary_vector(kDim, 2.0f);
  e[4].processed = true;
  return e;
}

const char* const kPersistedWords[] = {"lighthouse keeper", "orchard apples",   "caf\xc3\xa9",
                                       "spreadsheet pivot", "marathon runners", "kettle teapot",
                                       "restart survivor"};

// Adds entries [begin, end) of persisted_entries(), then marks p2 when it was among them.
Status add_persisted(EpisodicMemory& m, std::size_t begin, std::size_t end) {
  const auto entries = persisted_entries();
  for (std::size_t i = begin; i < end; ++i) {
    auto r = m.add(entries[i]);
    if (!r.has_value()) return r.error();
  }
  if (begin <= 1 && end > 1) return m.mark_processed(std::vector<std::string>{"p2"});
  return Status::Ok();
}

// The first `count` persisted entries are in `m` exactly, added between `from` and `to`.
void expect_persisted(const EpisodicMemory& m, std::size_t count, TimePoint from, TimePoint to) {
  const auto entries = persisted_entries();
  EXPECT_EQ(m.size(), count);
  EXPECT_EQ(m.stats().entries, count);
  for (std::size_t i = 0; i < count; ++i) {
    EpisodicEntry want = entries[i];
    if (want.id == "p2") want.processed = true;
    if (want.metadata.is_null()) want.metadata = Metadata::object();
    if (!want.embedding) want.embedding = hashing_embedding(want.content);
    const EpisodicEntry got = must_get(m, want.id);
    want.ingestion_time = got.ingestion_time;
    expect_same_entry(got, want, "reopened");
    EXPECT_GE(got.ingestion_time, from) << want.id;
    EXPECT_LE(got.ingestion_time, to) << want.id;
    // The lexical index was rebuilt; vectors are searchable.
    const auto lexical = must_search(m, kPersistedWords[i], 3, in_mode(SearchMode::kLexical));
    ASSERT_FALSE(lexical.empty()) << "lexical search after reopening: " << want.id;
    EXPECT_EQ(lexical.front().entry.id, want.id);
    auto by_vector = m.search(std::span<const float>(*want.embedding), 1);
    ASSERT_TRUE(by_vector.has_value()) << by_vector.error().to_string();
    ASSERT_EQ(by_vector->size(), 1u);
    EXPECT_EQ(by_vector->front().entry.id, want.id);
  }
  EXPECT_EQ(ids_of(m.get_session("alpha").value()), (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(ids_of(m.list_unprocessed("beta").value()), std::vector<std::string>{"p4"});
  // Unprocessed latest: "" t5, delta t4, beta t3, gamma t1, alpha t0.12.
  std::vector<std::string> sessions = {"", "beta", "gamma", "alpha"};
  if (count > 6) sessions.insert(sessions.begin() + 1, "delta");
  EXPECT_EQ(m.list_sessions_with_unprocessed().value(), sessions);
  EXPECT_EQ(m.stats().sessions, count > 6 ? 5u : 4u);
  expect_backend_index(m);
}

// REGRESSION: the HNSW backend never persisted.
TEST_P(EpisodicMemoryTest, PersistsAcrossCloseAndReopen) {
  TempDir tmp;
  const MemoryConfig c = config().with_directory(tmp.path() / "store");
  const TimePoint from = Clock::now();
  {
    EpisodicMemory m = EpisodicMemory::create(c).value();
    ASSERT_TRUE(add_persisted(m, 0, 6).ok());
  }  // the destructor saves
  {
    EpisodicMemory m = EpisodicMemory::create(c).value();
    expect_persisted(m, 6, from, Clock::now());
    ASSERT_TRUE(add_persisted(m, 6, 7).ok());
    const Status s = m.save();
    ASSERT_TRUE(s.ok()) << s.to_string();
  }
  EpisodicMemory m = EpisodicMemory::create(c).value();
  EXPECT_EQ(m.stats().searches, 0u) << "counters start again when a memory is opened";
  expect_persisted(m, 7, from, Clock::now());
  EXPECT_EQ(m.backend_name(), backend_name(GetParam()));
}

using hnswstore::testing::child_exit;
using hnswstore::testing::kChildFailed;
using hnswstore::testing::kChildOk;
using hnswstore::testing::read_report;

template <class F>
pid_t fork_child(F&& body) {
  return hnswstore::testing::fork_child(std::forward<F>(body), /*watchdog_seconds=*/60);
}

int wait_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1000;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1001;
}

// REGRESSION: the HNSW backend never persisted. A real restart: each child opens the memory,
// writes and exits; this process opens the directory only after they are gone.
TEST_P(EpisodicMemoryTest, PersistsAcrossARealProcessRestart) {
  TempDir tmp;
  const fs::path report = tmp.path() / "report.txt";
  // One thread each in the children (a forked child has only the forking thread).
  MemoryConfig c = config().with_directory(tmp.path() / "store");
  c.store.threads = 1;
  const TimePoint from = Clock::now();

  // The first child saves explicitly and _exits: no destructor runs, only save() wrote.
  pid_t pid = fork_child([&] {
    auto m = EpisodicMemory::create(c.with_embedding_service(
        service_over(std::make_shared<HashingEmbedder>(kDim), 100, 64, 1)));
    if (!m.has_value()) child_exit(report, kChildFailed, "create: " + m.error().to_string());
    if (Status s = add_persisted(*m, 0, 6); !s.ok()) {
      child_exit(report, kChildFailed, "add: " + s.to_string());
    }
    if (Status s = m->save(); !s.ok()) child_exit(report, kChildFailed, "save: " + s.to_string());
    child_exit(report, kChildOk);
  });
  ASSERT_GT(pid, 0);
  ASSERT_EQ(wait_child(pid), kChildOk) << read_report(report);

  // The second finds the six, adds one, and exits after the destructor saved.
  pid = fork_child([&] {
    {
      auto m = EpisodicMemory::create(c.with_embedding_service(
          service_over(std::make_shared<HashingEmbedder>(kDim), 100, 64, 1)));
      if (!m.has_value()) child_exit(report, kChildFailed, "reopen: " + m.error().to_string());
      if (m->size() != 6) {
        child_exit(report, kChildFailed, "reopened with " + std::to_string(m->size()));
      }
      if (Status s = add_persisted(*m, 6, 7); !s.ok()) {
        child_exit(report, kChildFailed, "add: " + s.to_string());
      }
    }
    child_exit(report, kChildOk);
  });
  ASSERT_GT(pid, 0);
  ASSERT_EQ(wait_child(pid), kChildOk) << read_report(report);

  EpisodicMemory m = EpisodicMemory::create(config().with_directory(tmp.path() / "store")).value();
  expect_persisted(m, 7, from, Clock::now());
}

TEST_P(EpisodicMemoryTest, SaveWithoutADirectoryIsNotSupported) {
  EpisodicMemory m = with_corpus();
  EXPECT_EQ(m.save().code(), StatusCode::kNotSupported);
  EXPECT_EQ(m.size(), corpus().size());
  TempDir tmp;
  EpisodicMemory d = EpisodicMemory::create(config().with_directory(tmp.path() / "new")).value();
  const Status s = d.save();
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(fs::exists(tmp.path() / "new")) << "the directory is created when missing";
}

TEST_P(EpisodicMemoryTest, ReopeningWithAnotherDimensionOrBackendIsInvalid) {
  TempDir tmp;
  const MemoryConfig c = config().with_directory(tmp.path() / "store");
  {
    EpisodicMemory m = EpisodicMemory::create(c).value();
    ASSERT_TRUE(m.add(make_entry("k", "s", "user", "memo kept", at(1))).has_value());
  }
  auto other_dim = EpisodicMemory::create(
      c.with_embedding_service(service_over(std::make_shared<HashingEmbedder>(64))));
  ASSERT_FALSE(other_dim.has_value());
  EXPECT_EQ(other_dim.error().code(), StatusCode::kInvalidArgument);
  auto other_backend_memory =
      EpisodicMemory::create(config_for(other_backend(GetParam())).with_directory(c.directory));
  ASSERT_FALSE(other_backend_memory.has_value());
  EXPECT_EQ(other_backend_memory.error().code(), StatusCode::kInvalidArgument);
  // Nothing was harmed.
  EpisodicMemory m = EpisodicMemory::create(c).value();
  EXPECT_EQ(must_get(m, "k").content, "memo kept");
}

// ── migrate_to ──────────────────────────────────────────────────────────────────────────────

std::map<std::string, EpisodicEntry> snapshot(const EpisodicMemory& m,
                                              const std::vector<std::string>& ids) {
  std::map<std::string, EpisodicEntry> out;
  for (const std::string& id : ids) out[id] = must_get(m, id);
  return out;
}

std::vector<std::string> all_ids() {
  std::vector<std::string> ids;
  for (const Doc& d : corpus()) ids.push_back(d.id);
  for (const EpisodicEntry& e : persisted_entries()) ids.push_back(e.id);
  return ids;
}

void expect_same_entries(const EpisodicMemory& m, const std::map<std::string, EpisodicEntry>& want,
                         const std::string& what) {
  EXPECT_EQ(m.size(), want.size()) << what;
  for (const auto& [id, e] : want) {
    auto got = m.get(id);
    ASSERT_TRUE(got.has_value()) << what << " lost " << id;
    expect_same_entry(*got, e, what);
  }
}

TEST_P(EpisodicMemoryTest, MigratesToTheOtherBackendAndBack) {
  EpisodicMemory source = with_corpus();
  ASSERT_TRUE(add_persisted(source, 0, 7).ok());
  ASSERT_TRUE(source.mark_processed(std::vector<std::string>{"e03", "x2"}).ok());
  const auto before = snapshot(source, all_ids());
  const auto sessions = source.list_sessions_with_unprocessed().value();

  const EpisodicBackend other = other_backend(GetParam());
  auto migrated = source.migrate_to(config_for(other));
  ASSERT_TRUE(migrated.has_value()) << migrated.error().to_string();
  EpisodicMemory target = std::move(migrated).value();
  EXPECT_EQ(target.backend_name(), backend_name(other));
  expect_same_entries(target, before, "migrated");
  EXPECT_EQ(target.list_sessions_with_unprocessed().value(), sessions);
  expect_backend_index(target);
  for (SearchMode mode : kModes) {
    for (const Doc& d : corpus()) {
      const auto found = must_search(target, d.words, 3, in_mode(mode));
      ASSERT_FALSE(found.empty()) << mode_name(mode) << " " << d.id;
      EXPECT_EQ(found.front().entry.id, d.id) << mode_name(mode);
    }
  }
  expect_same_entries(source, before, "source after migration");

  // Rollback.
  auto rolled_back = target.migrate_to(config_for(GetParam()));
  ASSERT_TRUE(rolled_back.has_value()) << rolled_back.error().to_string();
  EXPECT_EQ(rolled_back->backend_name(), backend_name(GetParam()));
  expect_same_entries(*rolled_back, before, "rolled back");
  EXPECT_EQ(rolled_back->list_sessions_with_unprocessed().value(), sessions);
  expect_same_entries(target, before, "target after rollback");
  const auto found =
      must_search(*rolled_back, "lighthouse keeper", 3, in_mode(SearchMode::kLexical));
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found.front().entry.id, "p1");
}

TEST_P(EpisodicMemoryTest, MigratingToAnotherDimensionReEmbeds) {
  EpisodicMemory source = with_corpus();
  ASSERT_TRUE(add_persisted(source, 0, 7).ok());
  const auto before = snapshot(source, all_ids());
  auto migrated = source.migrate_to(
      config_for(other_backend(GetParam()))
          .with_embedding_service(service_over(std::make_shared<HashingEmbedder>(64))));
  ASSERT_TRUE(migrated.has_value()) << migrated.error().to_string();
  EpisodicMemory target = std::move(migrated).value();
  EXPECT_EQ(target.size(), before.size());
  for (const auto& [id, e] : before) {
    EpisodicEntry want = e;
    want.embedding = hashing_embedding(e.content, 64);  // p4's supplied vector too
    auto got = target.get(id);
    ASSERT_TRUE(got.has_value()) << id;
    expect_same_entry(*got, want, "re-embedded");
  }
  for (const Doc& d : corpus()) {
    const auto found = must_search(target, d.words, 3, in_mode(SearchMode::kVector));
    ASSERT_FALSE(found.empty()) << d.id;
    EXPECT_EQ(found.front().entry.id, d.id);
  }
  expect_backend_index(target);
  expect_same_entries(source, before, "source after migration");
}

TEST_P(EpisodicMemoryTest, AFailedMigrationDropsTheNewTargetNamespace) {
  EpisodicMemory source = with_corpus();
  const auto before = snapshot(source, all_ids().size() > 0 ? std::vector<std::string>{"e01", "e10"}
                                                            : std::vector<std::string>{});
  TempDir tmp;
  const MemoryConfig target =
      config_for(other_backend(GetParam()))
          .with_directory(tmp.path() / "store")
          .with_embedding_service(
              service_over(std::make_shared<BadProvider>(BadProvider::Fault::kFail, 64)));
  auto migrated = source.migrate_to(target);
  ASSERT_FALSE(migrated.has_value()) << "re-embedding with a failing provider succeeded";
  // The 64-dimension namespace is gone: one of 32 dimensions can be created under its name.
  auto again = EpisodicMemory::create(
      target.with_embedding_service(service_over(std::make_shared<HashingEmbedder>(32))));
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_EQ(again->size(), 0u);
  EXPECT_EQ(source.size(), corpus().size());
  for (const auto& [id, e] : before) expect_same_entry(must_get(source, id), e, "source");
}

// ── create, logging, stats, names ───────────────────────────────────────────────────────────

TEST(EpisodicMemoryCreate, HnswWithoutAnEmbeddingServiceIsInvalid) {
  auto r =
      EpisodicMemory::create(config_for(EpisodicBackend::kHnsw).with_embedding_service(nullptr));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(),
            "HNSW backend requires embedding service (use MemoryConfig::for_production)");
}

// config.hpp: kInMemory needs no service when every entry comes with its embedding and only
// lexical search (or search by embedding) is used. The memory is created with a service first,
// so that its namespace (and dimension) exists, then reopened without one.
TEST(EpisodicMemoryCreate, InMemoryWithoutAServiceTakesEntriesWithEmbeddings) {
  TempDir tmp;
  const MemoryConfig c = config_for(EpisodicBackend::kInMemory).with_directory(tmp.path() / "s");
  {
    EpisodicMemory first = EpisodicMemory::create(c).value();
    ASSERT_TRUE(
        first.add(make_entry("old", "s", "user", "memo ancient pottery", at(0))).has_value());
  }
  EpisodicMemory m = EpisodicMemory::create(c.with_embedding_service(nullptr)).value();
  EXPECT_EQ(m.size(), 1u);
  EpisodicEntry e = make_entry("v", "s", "user", "memo brought its own vector", at(1));
  e.embedding = hashing_embedding(e.content);
  auto r = m.add(e);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  auto without = m.add(make_entry("n", "s", "user", "memo has no vector", at(2)));
  EXPECT_FALSE(without.has_value()) << "no service to embed with";
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.get("n").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(ids_of(must_search(m, "vector", 5, in_mode(SearchMode::kLexical))),
            std::vector<std::string>{"v"});
  EXPECT_EQ(ids_of(must_search(m, "pottery", 5, in_mode(SearchMode::kLexical))),
            std::vector<std::string>{"old"});
  EXPECT_FALSE(m.search("vector", 5, in_mode(SearchMode::kVector)).has_value());
  auto by_vector = m.search(std::span<const float>(*e.embedding), 1);
  ASSERT_TRUE(by_vector.has_value()) << by_vector.error().to_string();
  EXPECT_EQ(ids_of(*by_vector), std::vector<std::string>{"v"});
}

TEST(EpisodicMemoryCreate, ForProductionIsHnswWithBalancedParameters) {
  auto service = service_over(std::make_shared<HashingEmbedder>(kDim));
  const MemoryConfig c = MemoryConfig::for_production(service);
  EXPECT_EQ(c.backend, EpisodicBackend::kHnsw);
  EXPECT_EQ(c.hnsw, HnswParams::balanced());
  EXPECT_EQ(c.embedding_service, service);
  EXPECT_EQ(MemoryConfig::for_testing().backend, EpisodicBackend::kInMemory);
  ASSERT_NE(MemoryConfig::for_testing().embedding_service, nullptr);
  EXPECT_EQ(MemoryConfig::for_testing().embedding_service->dimensions(), kDim);
  EXPECT_EQ(MemoryConfig::for_testing().embedding_service->provider_name(), "hashing-384");
  EpisodicMemory m = EpisodicMemory::create(c).value();
  EXPECT_EQ(m.backend_name(), "HNSW");
}

TEST_P(EpisodicMemoryTest, CreateLogsTheBackendAndTheService) {
  struct Log {
    std::mutex mu;
    std::vector<std::pair<LogLevel, std::string>> lines;
  };
  auto log = std::make_shared<Log>();
  MemoryConfig c = config();
  c.store.logger = [log](LogLevel level, std::string_view line) {
    std::lock_guard<std::mutex> lock(log->mu);
    log->lines.emplace_back(level, std::string(line));
  };
  EpisodicMemory m = EpisodicMemory::create(c).value();
  std::lock_guard<std::mutex> lock(log->mu);
  auto logged = [&](const std::function<bool(const std::string&)>& pred) {
    for (const auto& [level, line] : log->lines) {
      if (level == LogLevel::kInfo && pred(line)) return true;
    }
    return false;
  };
  std::string all;
  for (const auto& [level, line] : log->lines) all += line + "\n";
  if (GetParam() == EpisodicBackend::kHnsw) {
    EXPECT_TRUE(logged([](const std::string& l) {
      return l == "Creating HNSW episodic backend (production mode)";
    })) << all;
    EXPECT_TRUE(logged([](const std::string& l) {
      return l == "HNSW backend using embedding service: hashing-384, dimensions: 384";
    })) << all;
  } else {
    EXPECT_TRUE(logged([](const std::string& l) {
      return l.find("InMemory") != std::string::npos;
    })) << all;
    EXPECT_TRUE(logged([](const std::string& l) {
      return l.find("hashing-384") != std::string::npos && l.find("384") != std::string::npos;
    })) << all;
  }
}

TEST_P(EpisodicMemoryTest, ABadNameIsInvalid) {
  for (const char* name : {"", "bad name!", "/etc", ".hidden"}) {
    auto r = EpisodicMemory::create(config().with_name(name));
    ASSERT_FALSE(r.has_value()) << "'" << name << "'";
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().to_string();
  }
  auto long_name = EpisodicMemory::create(config().with_name(std::string(129, 'n')));
  EXPECT_FALSE(long_name.has_value());
  auto ok = EpisodicMemory::create(config().with_name("agent-7.user_x"));
  EXPECT_TRUE(ok.has_value()) << ok.error().to_string();
}

TEST_P(EpisodicMemoryTest, StatsCountEntriesSessionsSearchesAndCache) {
  EpisodicMemory m = with_corpus();
  MemoryStats s = m.stats();
  EXPECT_EQ(s.entries, corpus().size());
  EXPECT_EQ(s.sessions, 4u);
  EXPECT_EQ(s.searches, 0u);

  for (SearchMode mode : kModes) must_search(m, "memo violin", 5, in_mode(mode));
  ASSERT_TRUE(m.search(std::span<const float>(hashing_embedding("memo")), 5).has_value());
  must_search(m, "memo glacier", 5, in_mode(SearchMode::kLexical));
  s = m.stats();
  EXPECT_EQ(s.searches, 5u);
  EXPECT_LE(s.search_p50, s.search_p95);
  EXPECT_LE(s.search_p95, s.search_p99);

  // The same query twice: a miss, then a hit. Lexical search needs no embedding.
  const CacheStats c0 = m.stats().embedding_cache;
  must_search(m, "a question nobody asked before", 5, in_mode(SearchMode::kVector));
  const CacheStats c1 = m.stats().embedding_cache;
  EXPECT_EQ(c1.misses, c0.misses + 1);
  EXPECT_EQ(c1.hits, c0.hits);
  must_search(m, "a question nobody asked before", 5, in_mode(SearchMode::kVector));
  const CacheStats c2 = m.stats().embedding_cache;
  EXPECT_EQ(c2.hits, c1.hits + 1);
  EXPECT_EQ(c2.misses, c1.misses);
  must_search(m, "another lexical question", 5, in_mode(SearchMode::kLexical));
  const CacheStats c3 = m.stats().embedding_cache;
  EXPECT_EQ(c3.hits, c2.hits);
  EXPECT_EQ(c3.misses, c2.misses);
  EXPECT_EQ(m.stats().searches, 8u);

  ASSERT_TRUE(m.add(make_entry("n", "s5", "user", "memo a new session", at(40))).has_value());
  EXPECT_EQ(m.stats().entries, corpus().size() + 1);
  EXPECT_EQ(m.stats().sessions, 5u);

  // Memory: the namespace's, the lexical index and the session table.
  const MemoryStats bytes = m.stats();
  EXPECT_GT(bytes.lexical_index_bytes, 0u);
  EXPECT_GE(bytes.memory_bytes,
            m.store_namespace().stats().memory_bytes + bytes.lexical_index_bytes);
}

TEST_P(EpisodicMemoryTest, BackendNameAndConfig) {
  EpisodicMemory m = fresh();
  const std::string_view want = GetParam() == EpisodicBackend::kHnsw ? "HNSW" : "InMemory";
  EXPECT_EQ(m.backend_name(), want);
  EXPECT_EQ(backend_name(GetParam()), want);
  EXPECT_EQ(m.config().backend, GetParam());
  EXPECT_EQ(m.config().name, "episodic");
  EXPECT_EQ(m.store_namespace().name(), "episodic");
  EXPECT_EQ(m.store_namespace().options().dimension, kDim);
}

TEST_P(EpisodicMemoryTest, AMovedFromMemoryAnswersInvalidArgument) {
  EpisodicMemory m = with_corpus();
  EpisodicMemory moved = std::move(m);
  EXPECT_EQ(moved.size(), corpus().size());
  // NOLINTBEGIN(bugprone-use-after-move): the contract of a moved-from memory is under test.
  EXPECT_EQ(m.add(make_entry("z", "s", "user", "memo z", at(1))).error().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(m.get("e01").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.search("memo", 3).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.get_session("s1").error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.mark_processed(std::vector<std::string>{"e01"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.delete_before(at(100)).error().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.list_sessions_with_unprocessed().error().code(), StatusCode::kInvalidArgument);
  // NOLINTEND(bugprone-use-after-move)
  EXPECT_EQ(moved.size(), corpus().size());
  EXPECT_FALSE(must_get(moved, "e01").processed);
  m = std::move(moved);
  EXPECT_EQ(m.size(), corpus().size());
  EXPECT_EQ(must_get(m, "e01").content, corpus()[0].content);
}

INSTANTIATE_TEST_SUITE_P(Backends, EpisodicMemoryTest,
                         ::testing::Values(EpisodicBackend::kInMemory, EpisodicBackend::kHnsw),
                         [](const ::testing::TestParamInfo<EpisodicBackend>& param_info) {
                           return std::string(backend_name(param_info.param));
                         });

}  // namespace
}  // namespace hnswstore::memory
