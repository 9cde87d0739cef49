// The episodic memory's parts: text rules, HashingEmbedder, EmbeddingService, BM25, fusion,
// the latency histogram.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "fusion.hpp"
#include "hnswstore/memory.hpp"
#include "latency_histogram.hpp"
#include "lexical_index.hpp"
#include "text.hpp"

namespace hnswstore::memory {
namespace {

using detail::content_words;
using detail::tokenize;

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

TEST(Text, Utf8Validation) {
  EXPECT_FALSE(detail::invalid_utf8_at("plain ascii"));
  EXPECT_FALSE(detail::invalid_utf8_at("Gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_EQ(detail::invalid_utf8_at("ab\xFF"), 2u);
  EXPECT_EQ(detail::invalid_utf8_at("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(detail::invalid_utf8_at("x\xE2\x82"), 1u);         // truncated
  EXPECT_EQ(detail::invalid_utf8_at("\xED\xA0\x80"), 0u);      // surrogate
  EXPECT_EQ(detail::invalid_utf8_at("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
}

TEST(Text, TokeniserLowerCasesAndSplitsOnPunctuation) {
  EXPECT_EQ(tokenize("Hello, World! It's 2024-05-01."),
            (std::vector<std::string>{"hello", "world", "it", "s", "2024", "05", "01"}));
  // Latin-1, Latin Extended-A, Greek and Cyrillic capitals are lower-cased.
  EXPECT_EQ(tokenize("\xC3\x84PFEL \xC5\x81\xC3\x93" "D\xC5\xB9 \xCE\x91\xCE\x98\xCE\x97\xCE\x9D\xCE\x91 "
                     "\xD0\x9C\xD0\x9E\xD0\xA1\xD0\x9A\xD0\x92\xD0\x90"),
            (std::vector<std::string>{"\xC3\xA4pfel", "\xC5\x82\xC3\xB3" "d\xC5\xBA",
                                      "\xCE\xB1\xCE\xB8\xCE\xB7\xCE\xBD\xCE\xB1",
                                      "\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0"}));
  // General punctuation (an em dash) and emoji separate words.
  EXPECT_EQ(tokenize("alpha\xE2\x80\x94" "beta\xF0\x9F\x98\x80gamma"),
            (std::vector<std::string>{"alpha", "beta", "gamma"}));
  // CJK ideographs are one word each.
  EXPECT_EQ(tokenize("\xE4\xB8\xAD\xE6\x96\x87"),
            (std::vector<std::string>{"\xE4\xB8\xAD", "\xE6\x96\x87"}));
  // Invalid bytes separate words; words are cut at 64 bytes.
  EXPECT_EQ(tokenize("ab\xFF" "cd"), (std::vector<std::string>{"ab", "cd"}));
  EXPECT_EQ(tokenize(std::string(100, 'x'))[0].size(), 64u);
}

TEST(Text, StopWordsAreDroppedFromContentWords) {
  EXPECT_TRUE(detail::is_stop_word("the"));
  EXPECT_FALSE(detail::is_stop_word("dentist"));
  EXPECT_EQ(content_words("The dentist is at the Main Street clinic"),
            (std::vector<std::string>{"dentist", "main", "street", "clinic"}));
}

TEST(Text, UuidV4) {
  const std::regex form("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = detail::uuid_v4();
    ASSERT_TRUE(std::regex_match(id, form)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(HashingEmbedder, DeterministicUnitVectorsThatReflectSharedWords) {
  HashingEmbedder e(384);
  EXPECT_EQ(e.dimensions(), 384u);
  EXPECT_EQ(e.name(), "hashing-384");
  const auto a = e.embed_one("Priya booked a dentist appointment for Tuesday");
  const auto b = e.embed_one("When is Priya's dentist appointment?");
  const auto c = e.embed_one("The quarterly revenue grew in Europe");
  EXPECT_EQ(a, e.embed_one("Priya booked a dentist appointment for Tuesday"));
  EXPECT_EQ(a.size(), 384u);
  EXPECT_NEAR(dot(a, a), 1.0f, 1e-5f);
  EXPECT_GT(dot(a, b), dot(a, c) + 0.2f);
  // Word forms overlap through character n-grams.
  EXPECT_GT(dot(e.embed_one("meetings"), e.embed_one("meeting")), 0.3f);
  // Text without content words still gets a unit vector (never the zero vector).
  const auto stop = e.embed_one("the of and");
  EXPECT_NEAR(dot(stop, stop), 1.0f, 1e-5f);
  const auto punct = e.embed_one("?!");
  EXPECT_NEAR(dot(punct, punct), 1.0f, 1e-5f);
  // embed() is embed_one() per text.
  std::vector<std::string> texts = {"one", "two"};
  auto batch = e.embed(texts);
  ASSERT_TRUE(batch);
  EXPECT_EQ((*batch)[1], e.embed_one("two"));
}

// A provider that counts its calls and can be told to misbehave.
class FakeProvider : public EmbeddingProvider {
 public:
  enum class Mode { kGood, kFail, kWrongCount, kWrongDimension, kNaN, kThrow };
  std::atomic<int> calls{0}, texts_seen{0};
  Mode mode = Mode::kGood;
  std::string_view name() const override { return "fake"; }
  std::size_t dimensions() const override { return 4; }
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override {
    ++calls;
    texts_seen += static_cast<int>(texts.size());
    if (mode == Mode::kFail) return Status::IOError("server said no");
    if (mode == Mode::kThrow) throw std::runtime_error("boom");
    std::vector<std::vector<float>> out;
    for (const std::string& t : texts) {
      out.push_back({static_cast<float>(t.size()), 1, 0, 0});
    }
    if (mode == Mode::kWrongCount) out.pop_back();
    if (mode == Mode::kWrongDimension) out.back().push_back(0);
    if (mode == Mode::kNaN) out.back()[2] = std::nanf("");
    return out;
  }
};

TEST(EmbeddingService, CachesByTextAndCountsHitsAndMisses) {
  auto provider = std::make_shared<FakeProvider>();
  EmbeddingService service(provider, {.cache_capacity = 2, .batch_size = 2});
  EXPECT_EQ(service.dimensions(), 4u);
  EXPECT_EQ(service.provider_name(), "fake");
  ASSERT_TRUE(service.embed("abc"));
  ASSERT_TRUE(service.embed("abc"));
  EXPECT_EQ(provider->calls, 1);
  EXPECT_EQ(service.cache_stats().hits, 1u);
  EXPECT_EQ(service.cache_stats().misses, 1u);
  // LRU: capacity 2; "abc" was used last, so "x" then "yy" evict "abc" only after "x".
  ASSERT_TRUE(service.embed("x"));
  ASSERT_TRUE(service.embed("yy"));  // evicts "abc"
  const int before = provider->calls;
  ASSERT_TRUE(service.embed("x"));   // still cached
  EXPECT_EQ(provider->calls, before);
  ASSERT_TRUE(service.embed("abc"));  // evicted: a call
  EXPECT_EQ(provider->calls, before + 1);
}

TEST(EmbeddingService, BatchesInOrderAndSendsRepeatsOnce) {
  auto provider = std::make_shared<FakeProvider>();
  EmbeddingService service(provider, {.cache_capacity = 0, .batch_size = 3, .threads = 2});
  std::vector<std::string> texts = {"a", "bb", "a", "cccc", "ddddd", "bb", "eeeeee", "f"};
  auto r = service.embed_batch(texts);
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ((*r)[i][0], static_cast<float>(texts[i].size())) << i;
  }
  EXPECT_EQ(provider->texts_seen, 6);  // six distinct texts
  EXPECT_EQ(provider->calls, 2);       // in batches of three
}

TEST(EmbeddingService, RefusesBadAnswersNamingTheProvider) {
  auto provider = std::make_shared<FakeProvider>();
  EmbeddingService service(provider);
  std::vector<std::string> texts = {"a", "b"};
  const std::vector<std::pair<FakeProvider::Mode, StatusCode>> cases = {
      {FakeProvider::Mode::kFail, StatusCode::kIOError},
      {FakeProvider::Mode::kThrow, StatusCode::kInternal},
      {FakeProvider::Mode::kWrongCount, StatusCode::kInvalidArgument},
      {FakeProvider::Mode::kWrongDimension, StatusCode::kInvalidArgument},
      {FakeProvider::Mode::kNaN, StatusCode::kInvalidArgument}};
  for (const auto& [mode, code] : cases) {
    provider->mode = mode;
    auto r = service.embed_batch(texts);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), code) << r.error().to_string();
    EXPECT_NE(r.error().message().find("'fake'"), std::string::npos) << r.error().to_string();
  }
  // Nothing of a failed batch was cached.
  provider->mode = FakeProvider::Mode::kGood;
  EXPECT_EQ(service.cache_stats().hits, 0u);
}

TEST(LexicalIndex, RanksByBm25AndForgetsRemovedDocuments) {
  detail::LexicalIndex index;
  index.add("d1", "Priya's dentist appointment is on Tuesday at the Elm Street clinic");
  index.add("d2", "We talked about the weather on Tuesday");
  index.add("d3", "dentist dentist dentist reviews");
  index.add("d4", "Nothing relevant here");
  EXPECT_EQ(index.size(), 4u);
  auto r = index.search("When is Priya's dentist appointment?", 10);
  ASSERT_GE(r.size(), 2u);
  EXPECT_EQ(r[0].first, "d1");  // three rare words beat one repeated one
  for (std::size_t i = 1; i < r.size(); ++i) EXPECT_GE(r[i - 1].second, r[i].second);
  for (const auto& [id, score] : r) EXPECT_NE(id, "d4");
  EXPECT_TRUE(index.search("zebra", 10).empty());
  EXPECT_TRUE(index.search("the of and", 10).empty());  // stop words only
  EXPECT_EQ(index.search("tuesday", 1).size(), 1u);
  // Remove and replace.
  EXPECT_TRUE(index.remove("d1"));
  EXPECT_FALSE(index.remove("d1"));
  for (const auto& [id, score] : index.search("priya dentist", 10)) EXPECT_NE(id, "d1");
  index.add("d2", "now about priya");
  r = index.search("weather", 10);
  EXPECT_TRUE(r.empty());
  r = index.search("priya", 10);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].first, "d2");
}

TEST(LexicalIndex, CompactionKeepsResultsExact) {
  detail::LexicalIndex index;
  for (int i = 0; i < 5000; ++i) {
    index.add("id" + std::to_string(i), "word" + std::to_string(i % 50) + " common filler");
  }
  for (int i = 0; i < 4000; ++i) ASSERT_TRUE(index.remove("id" + std::to_string(i)));
  EXPECT_EQ(index.size(), 1000u);
  const auto r = index.search("word7", 100);
  ASSERT_EQ(r.size(), 20u);  // ids 4007, 4057, ... 4957
  for (const auto& [id, score] : r) {
    EXPECT_GE(std::stoi(id.substr(2)), 4000);
    EXPECT_EQ(std::stoi(id.substr(2)) % 50, 7);
  }
  index.add("id0", "word7 again");
  EXPECT_EQ(index.search("word7", 100).size(), 21u);
}

TEST(Fusion, ReciprocalRankAndRelativeScore) {
  const detail::Ranking vector = {{"a", 0.9f}, {"b", 0.8f}, {"c", 0.1f}};
  const detail::Ranking lexical = {{"c", 12.0f}, {"b", 6.0f}};
  MemorySearchOptions o;
  o.fusion = Fusion::kReciprocalRank;
  o.rrf_k = 60;
  auto r = detail::fuse(vector, lexical, o);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first, "c");  // ranks 3 and 1: 1/63 + 1/61 beats b's 1/62 + 1/62
  EXPECT_NEAR(r[0].second, 1.0f / 63 + 1.0f / 61, 1e-6f);
  EXPECT_EQ(r[1].first, "b");
  EXPECT_NEAR(r[1].second, 2.0f / 62, 1e-6f);
  EXPECT_EQ(r[2].first, "a");  // rank 1 in one list only
  o.fusion = Fusion::kRelativeScore;
  o.vector_weight = 0.5f;
  r = detail::fuse(vector, lexical, o);
  // Scaled: vector a 1, b 0.875, c 0; lexical c 1, b 0.
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].first, "a");
  EXPECT_NEAR(r[0].second, 0.5f, 1e-6f);
  EXPECT_EQ(r[1].first, "c");
  EXPECT_EQ(r[2].first, "b");
  o.vector_weight = 0.0f;  // lexical only
  r = detail::fuse(vector, lexical, o);
  EXPECT_EQ(r[0].first, "c");
}

TEST(LatencyHistogram, QuantilesWithinABucket) {
  detail::LatencyHistogram h;
  EXPECT_EQ(h.quantile(0.5).count(), 0);
  for (int i = 1; i <= 1000; ++i) h.record(std::chrono::microseconds(i));
  EXPECT_EQ(h.count(), 1000u);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.50).count()), 500, 500 * 0.07);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.99).count()), 990, 990 * 0.07);
  EXPECT_LE(h.quantile(0.50), h.quantile(0.95));
  EXPECT_LE(h.quantile(0.95), h.quantile(0.99));
}

}  // namespace
}  // namespace hnswstore::memory
