// HttpEmbedder against a local server on 127.0.0.1 that answers like OpenAI (/v1/embeddings)
// and Ollama (/api/embed), and misbehaves on demand: slow, failing, malformed, hostile answers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hnswstore/memory/embedding.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::memory {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The server's embedding of a text: dims numbers in [-1, 1) from a hash of the text, each with
// 24 significant bits so that float -> JSON -> float is exact.
std::vector<float> server_embedding(const std::string& text, std::size_t dims) {
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::vector<float> v(dims);
  for (std::size_t j = 0; j < dims; ++j) {
    h += 0x9e3779b97f4a7c15ull;  // splitmix64
    std::uint64_t z = h;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    v[j] = static_cast<float>(static_cast<double>(z >> 40) / 8388608.0 - 1.0);
  }
  return v;
}

std::vector<std::vector<float>> server_embeddings(const std::vector<std::string>& texts,
                                                  std::size_t dims) {
  std::vector<std::vector<float>> out;
  for (const std::string& t : texts) out.push_back(server_embedding(t, dims));
  return out;
}

// What the server does with the next requests.
enum class Mode {
  kOk,
  kFailThenOk,         // `failures` answers of `status` (with Retry-After if set), then kOk
  kStatus,             // always `status` with `raw` as the body
  kSlow,               // answers after 2 s (or when the test ends)
  kTrickle,            // a chunked body of spaces, one every 10 ms, for 1.5 s
  kHuge,               // announces a 300 MiB body
  kRawBody,            // status 200 with `raw` as the body
  kRawFirstEmbedding,  // a normal answer whose first embedding is the JSON text `raw`
  kShuffled,           // OpenAI: the items in reverse order (with their right "index")
  kDuplicateIndex,     // OpenAI: item 1 has index 0
  kIndexOutOfRange,    // OpenAI: item 0 has index n
  kMissingList,        // no "data" / "embeddings" but an error object
  kMissingEmbedding,   // OpenAI: item 1 has no "embedding"
  kWrongCount,         // one embedding fewer than texts
  kInconsistentDim,    // the second embedding has one number more
};

class FakeServer {
 public:
  FakeServer() {
    server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
      handle(true, req, res);
    });
    server_.Post("/api/embed", [this](const httplib::Request& req, httplib::Response& res) {
      handle(false, req, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto give_up = Clock::now() + std::chrono::seconds(5);
    while (port_ > 0 && !server_.is_running() && Clock::now() < give_up) {
      std::this_thread::sleep_for(milliseconds(1));
    }
  }

  ~FakeServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  bool running() { return server_.is_running(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set(Mode mode, int status = 200, std::string raw = {}, int failures = 0,
           std::string retry_after = {}) {
    std::lock_guard lock(mu_);
    mode_ = mode;
    status_ = status;
    raw_ = std::move(raw);
    failures_ = failures;
    retry_after_ = std::move(retry_after);
  }
  void set_dims(std::size_t dims) {
    std::lock_guard lock(mu_);
    dims_ = dims;
  }

  struct Seen {
    bool openai;
    std::string authorization;  // "<none>" when absent
    std::string model;
    std::size_t texts;
    Clock::time_point at;
  };
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::size_t requests() {
    std::lock_guard lock(mu_);
    return seen_.size();
  }

 private:
  void handle(bool openai, const httplib::Request& req, httplib::Response& res) {
    std::unique_lock lock(mu_);
    Json body = Json::parse(req.body, nullptr, false);
    const bool valid = body.is_object() && body.contains("model") && body["model"].is_string() &&
                       body.contains("input") && body["input"].is_array();
    seen_.push_back({openai,
                     req.has_header("Authorization") ? req.get_header_value("Authorization")
                                                     : std::string("<none>"),
                     valid ? body["model"].get<std::string>() : std::string(),
                     valid ? body["input"].size() : 0, Clock::now()});
    if (!valid) {
      res.status = 400;
      res.set_content(R"({"error":"bad request body"})", "application/json");
      return;
    }
    std::vector<std::string> texts;
    for (const Json& t : body["input"]) texts.push_back(t.get<std::string>());
    const std::size_t n = texts.size();

    Mode mode = mode_;
    if (mode == Mode::kFailThenOk) {
      if (failures_ > 0) {
        --failures_;
        res.status = status_;
        if (!retry_after_.empty()) res.set_header("Retry-After", retry_after_);
        res.set_content("temporarily unavailable", "text/plain");
        return;
      }
      mode = Mode::kOk;
    }
    switch (mode) {
      case Mode::kStatus:
        res.status = status_;
        res.set_content(raw_, "text/plain");
        return;
      case Mode::kRawBody:
        res.set_content(raw_, "application/json");
        return;
      case Mode::kSlow:
        cv_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; });
        break;
      case Mode::kTrickle:
        // Not a type httplib compresses: compression would hold the bytes back.
        res.set_chunked_content_provider(
            "application/octet-stream", [this](std::size_t offset, httplib::DataSink& sink) {
              std::unique_lock l(mu_);
              if (cv_.wait_for(l, milliseconds(10), [this] { return stopping_; })) return false;
              l.unlock();
              // It ends, so that a client without a deadline fails the test instead of hanging.
              if (offset >= 150) {
                sink.done();
                return true;
              }
              return sink.write(" ", 1);
            });
        return;
      case Mode::kHuge:
        res.set_content_provider(std::size_t{300} << 20, "application/octet-stream",
                                 [this](std::size_t, std::size_t, httplib::DataSink& sink) {
                                   std::string chunk(1 << 16, ' ');
                                   {
                                     std::lock_guard l(mu_);
                                     if (stopping_) return false;
                                   }
                                   return sink.write(chunk.data(), chunk.size());
                                 });
        return;
      default:
        break;
    }

    std::vector<Json> vectors;
    for (const std::string& t : texts) vectors.emplace_back(server_embedding(t, dims_));
    if (mode == Mode::kInconsistentDim && n > 1) vectors[1].push_back(0.5);
    std::size_t count = n;
    if (mode == Mode::kWrongCount) --count;

    Json answer;
    if (openai) {
      Json data = Json::array();
      for (std::size_t i = 0; i < count; ++i) {
        data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", vectors[i]}});
      }
      if (mode == Mode::kShuffled) std::reverse(data.begin(), data.end());
      if (mode == Mode::kDuplicateIndex) data[1]["index"] = 0;
      if (mode == Mode::kIndexOutOfRange) data[0]["index"] = n;
      if (mode == Mode::kMissingEmbedding) data[1].erase("embedding");
      if (mode == Mode::kRawFirstEmbedding) data[0]["embedding"] = "@RAW@";
      answer = {{"object", "list"}, {"data", data}, {"model", body["model"]}};
      if (mode == Mode::kMissingList) answer = {{"error", {{"message", "no such model"}}}};
    } else {
      Json embeddings = Json::array();
      for (std::size_t i = 0; i < count; ++i) embeddings.push_back(vectors[i]);
      if (mode == Mode::kRawFirstEmbedding) embeddings[0] = "@RAW@";
      answer = {{"model", body["model"]}, {"embeddings", embeddings}};
      if (mode == Mode::kMissingList) answer = {{"error", "model 'x' not found"}};
    }
    std::string text = answer.dump();
    if (mode == Mode::kRawFirstEmbedding) {
      const std::size_t at = text.find("\"@RAW@\"");
      text.replace(at, 7, raw_);
    }
    res.set_content(text, "application/json");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  Mode mode_ = Mode::kOk;
  int status_ = 200;
  std::string raw_;
  int failures_ = 0;
  std::string retry_after_;
  std::size_t dims_ = 8;
  std::vector<Seen> seen_;
};

class HttpEmbedderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>();
    ASSERT_GT(server_->port(), 0) << "cannot bind 127.0.0.1";
    ASSERT_TRUE(server_->running());
  }
  void TearDown() override { server_.reset(); }

  // Options for the fake server, with small timeouts and back-offs.
  HttpEmbedderOptions options(HttpApi api = HttpApi::kOpenAI) const {
    HttpEmbedderOptions o;
    o.base_url = server_->url();
    o.model = "mini";
    o.api = api;
    o.timeout = milliseconds(2000);
    o.max_retries = 3;
    o.retry_backoff = milliseconds(1);
    return o;
  }

  std::shared_ptr<HttpEmbedder> make(const HttpEmbedderOptions& o) {
    auto e = HttpEmbedder::create(o);
    EXPECT_TRUE(e.has_value()) << e.error().to_string();
    return e.has_value() ? std::move(e).value() : nullptr;
  }

  // The error of one embed() call of `texts`, which must fail.
  Status fail(HttpEmbedder& e, const std::vector<std::string>& texts) {
    auto r = e.embed(texts);
    EXPECT_FALSE(r.has_value());
    return r.has_value() ? Status::Ok() : r.error();
  }

  std::string prefix(HttpApi api = HttpApi::kOpenAI) const {
    return api == HttpApi::kOpenAI ? "openai:mini: POST " + server_->url() + "/v1/embeddings: "
                                   : "ollama:mini: POST " + server_->url() + "/api/embed: ";
  }

  std::unique_ptr<FakeServer> server_;
  const std::vector<std::string> three_{"the cat sat", "on the mat", "ünïcödé ✓"};
};

testing::AssertionResult has(const Status& s, StatusCode code, const std::string& part) {
  if (s.code() != code) {
    return testing::AssertionFailure() << "code " << status_code_name(s.code()) << ", expected "
                                       << status_code_name(code) << ": " << s.message();
  }
  if (s.message().find(part) == std::string::npos) {
    return testing::AssertionFailure() << "'" << s.message() << "' lacks '" << part << "'";
  }
  return testing::AssertionSuccess();
}

// ── options ─────────────────────────────────────────────────────────────────────────────────

TEST(HttpEmbedderOptionsTest, CreateChecksEveryFieldAndNamesIt) {
  struct Case {
    std::function<void(HttpEmbedderOptions&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& o) { o.base_url = ""; }, "base_url"},
      {[](auto& o) { o.base_url = "127.0.0.1:8080"; }, "base_url"},
      {[](auto& o) { o.base_url = "ftp://host"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://:8080"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://host/v1"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://host/v1/"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://host:0"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://host:99999"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://host:80x"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://user@host"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://host?q=1"; }, "base_url"},
      {[](auto& o) { o.base_url = "http://[::1"; }, "base_url"},
      {[](auto& o) { o.model = ""; }, "model"},
      {[](auto& o) { o.model = "bad\xff"; }, "model"},
      {[](auto& o) { o.api_key = "key\r\nX-Injected: 1"; }, "api_key"},
      {[](auto& o) { o.dimensions = 65537; }, "dimensions"},
      {[](auto& o) { o.timeout = milliseconds(0); }, "timeout"},
      {[](auto& o) { o.timeout = milliseconds(-5); }, "timeout"},
      {[](auto& o) { o.max_retries = -1; }, "max_retries"},
      {[](auto& o) { o.max_retries = 11; }, "max_retries"},
      {[](auto& o) { o.retry_backoff = milliseconds(-1); }, "retry_backoff"},
      {[](auto& o) { o.batch_size = 0; }, "batch_size"},
      {[](auto& o) { o.batch_size = 2049; }, "batch_size"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    HttpEmbedderOptions o;
    o.base_url = "http://127.0.0.1:9";
    o.model = "m";
    cases[i].change(o);
    auto e = HttpEmbedder::create(o);
    ASSERT_FALSE(e.has_value()) << "case " << i;
    EXPECT_EQ(e.error().code(), StatusCode::kInvalidArgument) << "case " << i;
    EXPECT_TRUE(e.error().message().starts_with(cases[i].field + ":"))
        << "case " << i << ": " << e.error().message();
  }

  // The edges that are allowed; nothing is contacted, so an unused address is fine.
  for (const char* url : {"http://127.0.0.1:9", "http://127.0.0.1:9/", "https://api.example.com",
                          "http://[::1]:8080", "http://my-host.local:11434/"}) {
    HttpEmbedderOptions o;
    o.base_url = url;
    o.model = "m";
    o.dimensions = 65536;
    o.max_retries = 10;
    o.batch_size = 2048;
    auto e = HttpEmbedder::create(o);
    EXPECT_TRUE(e.has_value()) << url << ": " << e.error().to_string();
  }
}

TEST(HttpEmbedderOptionsTest, NameAndDimensions) {
  HttpEmbedderOptions o;
  o.base_url = "http://127.0.0.1:9";
  o.model = "text-embedding-3-small";
  o.dimensions = 1536;
  auto openai = HttpEmbedder::create(o).value();
  EXPECT_EQ(openai->name(), "openai:text-embedding-3-small");
  EXPECT_EQ(openai->dimensions(), 1536u);
  o.api = HttpApi::kOllama;
  o.model = "nomic-embed-text";
  o.dimensions = 0;
  auto ollama = HttpEmbedder::create(o).value();
  EXPECT_EQ(ollama->name(), "ollama:nomic-embed-text");
  EXPECT_EQ(ollama->dimensions(), 0u);
}

// ── good answers ────────────────────────────────────────────────────────────────────────────

TEST_F(HttpEmbedderTest, OpenAIAnswersMatchTheServerAndSendTheKey) {
  auto o = options();
  o.api_key = "sk-test-123";
  o.dimensions = 8;
  auto e = make(o);
  auto r = e->embed(three_);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(*r, server_embeddings(three_, 8));
  const auto seen = server_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].openai);
  EXPECT_EQ(seen[0].authorization, "Bearer sk-test-123");
  EXPECT_EQ(seen[0].model, "mini");
  EXPECT_EQ(seen[0].texts, 3u);
}

TEST_F(HttpEmbedderTest, OllamaAnswersMatchTheServerWithoutAKey) {
  auto o = options(HttpApi::kOllama);
  o.base_url += "/";  // a trailing '/' is allowed
  auto e = make(o);
  auto r = e->embed(three_);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(*r, server_embeddings(three_, 8));
  const auto seen = server_->seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(seen[0].openai);
  EXPECT_EQ(seen[0].authorization, "<none>");
}

TEST_F(HttpEmbedderTest, EmptyInputSendsNothing) {
  auto e = make(options());
  auto r = e->embed(std::vector<std::string>{});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(server_->requests(), 0u);
}

TEST_F(HttpEmbedderTest, SplitsIntoBatchesAndKeepsTheOrder) {
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama}) {
    server_ = std::make_unique<FakeServer>();
    auto o = options(api);
    o.batch_size = 3;
    auto e = make(o);
    std::vector<std::string> texts;
    for (int i = 0; i < 10; ++i) texts.push_back("text number " + std::to_string(i));
    auto r = e->embed(texts);
    ASSERT_TRUE(r.has_value()) << r.error().to_string();
    EXPECT_EQ(*r, server_embeddings(texts, 8));
    std::vector<std::size_t> sizes;
    for (const auto& s : server_->seen()) sizes.push_back(s.texts);
    EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 3, 3, 1}));
  }
}

TEST_F(HttpEmbedderTest, LearnsTheDimensionFromTheFirstAnswerThenHoldsToIt) {
  auto e = make(options());
  EXPECT_EQ(e->dimensions(), 0u);
  ASSERT_TRUE(e->embed(three_).has_value());
  EXPECT_EQ(e->dimensions(), 8u);
  server_->set_dims(5);
  const Status s = fail(*e, three_);
  EXPECT_TRUE(has(s, StatusCode::kInvalidArgument, "5 numbers, expected 8"));
  EXPECT_EQ(e->dimensions(), 8u);
}

TEST_F(HttpEmbedderTest, ReordersItemsByIndex) {
  server_->set(Mode::kShuffled);
  auto e = make(options());
  const std::vector<std::string> texts = {"a", "b", "c", "d", "e"};
  auto r = e->embed(texts);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(*r, server_embeddings(texts, 8));
}

TEST_F(HttpEmbedderTest, ConcurrentCallsAreIndependent) {
  auto e = make(options());
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::vector<std::string> texts = {"thread " + std::to_string(t),
                                          "call " + std::to_string(i), "x"};
        auto r = e->embed(texts);
        if (r.has_value() && *r == server_embeddings(texts, 8)) ++good[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good, (std::vector<int>{5, 5, 5, 5}));
  EXPECT_EQ(server_->requests(), 20u);
  EXPECT_EQ(e->dimensions(), 8u);
}

TEST_F(HttpEmbedderTest, InvalidUtf8InputIsRefusedBeforeSending) {
  auto e = make(options());
  const Status s = fail(*e, {"fine", "bad \xc3\x28"});
  EXPECT_TRUE(has(s, StatusCode::kInvalidArgument, "texts[1]"));
  EXPECT_EQ(server_->requests(), 0u);
}

// ── wrong counts and dimensions ─────────────────────────────────────────────────────────────

TEST_F(HttpEmbedderTest, WrongCountIsInvalidArgument) {
  server_->set(Mode::kWrongCount);
  for (HttpApi api : {HttpApi::kOpenAI, HttpApi::kOllama}) {
    auto e = make(options(api));
    const Status s = fail(*e, three_);
    EXPECT_TRUE(has(s, StatusCode::kInvalidArgument, "2 embeddings for 3 texts"));
    EXPECT_TRUE(s.message().starts_with(prefix(api))) << s.message();
    EXPECT_EQ(e->dimensions(), 0u);  // nothing learnt from a bad answer
  }
}

TEST_F(HttpEmbedderTest, WrongConfiguredDimensionIsInvalidArgument) {
  server_->set_dims(5);
  auto o = options();
  o.dimensions = 8;
  auto e = make(o);
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kInvalidArgument,
                  "data[0].embedding: 5 numbers, expected 8"));
}

TEST_F(HttpEmbedderTest, InconsistentDimensionsAreInvalidArgument) {
  server_->set(Mode::kInconsistentDim);
  auto e = make(options());
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kInvalidArgument,
                  "data[1].embedding: 9 numbers, expected 8"));
  auto ollama = make(options(HttpApi::kOllama));
  EXPECT_TRUE(has(fail(*ollama, three_), StatusCode::kInvalidArgument,
                  "embeddings[1]: 9 numbers, expected 8"));
  EXPECT_EQ(e->dimensions(), 0u);
}

// ── malformed answers ───────────────────────────────────────────────────────────────────────

TEST_F(HttpEmbedderTest, HtmlAnswerIsCorruptionQuotingTheBody) {
  server_->set(Mode::kRawBody, 200, "<html><body><h1>502 Bad Gateway</h1></body></html>");
  auto e = make(options());
  const Status s = fail(*e, three_);
  EXPECT_TRUE(has(s, StatusCode::kCorruption, "not valid JSON"));
  EXPECT_TRUE(has(s, StatusCode::kCorruption, "<html><body><h1>502 Bad Gateway"));
  EXPECT_TRUE(s.message().starts_with(prefix())) << s.message();
  EXPECT_EQ(server_->requests(), 1u);  // a malformed answer is not retried
}

TEST_F(HttpEmbedderTest, EmptyBodyIsCorruption) {
  server_->set(Mode::kRawBody, 200, "");
  auto e = make(options());
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kCorruption, "(empty body)"));
}

TEST_F(HttpEmbedderTest, NonObjectAndDeeplyNestedAnswersAreCorruption) {
  auto e = make(options());
  server_->set(Mode::kRawBody, 200, "[1,2,3]");
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kCorruption, "not an object"));
  server_->set(Mode::kRawBody, 200, std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kCorruption, "not an object"));
  server_->set(Mode::kRawBody, 200, R"({"data": {"index": 0}})");
  EXPECT_TRUE(
      has(fail(*e, three_), StatusCode::kCorruption, "data: expected an array, got object"));
  server_->set(Mode::kRawBody, 200, R"({"data": [1, 2, 3]})");
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kCorruption, "data[0]: expected an object"));
}

TEST_F(HttpEmbedderTest, MissingFieldsAreCorruptionNamingThem) {
  server_->set(Mode::kMissingList);
  auto e = make(options());
  Status s = fail(*e, three_);
  EXPECT_TRUE(has(s, StatusCode::kCorruption, "data: missing"));
  EXPECT_TRUE(has(s, StatusCode::kCorruption, "no such model"));  // the body is quoted
  auto ollama = make(options(HttpApi::kOllama));
  EXPECT_TRUE(has(fail(*ollama, three_), StatusCode::kCorruption, "embeddings: missing"));

  server_->set(Mode::kMissingEmbedding);
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kCorruption, "data[1].embedding: missing"));
  server_->set(Mode::kRawBody, 200, R"({"data": [{"embedding": [1, 2]}]})");
  EXPECT_TRUE(has(fail(*e, {"one"}), StatusCode::kCorruption, "data[0].index: missing"));
  server_->set(Mode::kRawBody, 200, R"({"data": [{"index": "0", "embedding": [1, 2]}]})");
  EXPECT_TRUE(has(fail(*e, {"one"}), StatusCode::kCorruption,
                  "data[0].index: expected an integer, got string"));
}

TEST_F(HttpEmbedderTest, BadIndicesAreCorruption) {
  auto e = make(options());
  server_->set(Mode::kDuplicateIndex);
  EXPECT_TRUE(
      has(fail(*e, three_), StatusCode::kCorruption, "data[1].index: 0 appears more than once"));
  server_->set(Mode::kIndexOutOfRange);
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kCorruption,
                  "data[0].index: 3 is out of range for 3 texts"));
  server_->set(Mode::kRawBody, 200, R"({"data": [{"index": -1, "embedding": [1, 2]}]})");
  EXPECT_TRUE(has(fail(*e, {"one"}), StatusCode::kCorruption, "data[0].index: -1 is out of range"));
}

TEST_F(HttpEmbedderTest, BadNumbersAreCorruptionNamingThePath) {
  struct Case {
    std::string raw;
    std::string openai_part;  // in the message (OpenAI); "@" stands for the path
    std::string ollama_part;
  };
  const std::vector<Case> cases = {
      // nlohmann refuses a literal that overflows a double while parsing.
      {"[0.5, 1e999]", "number overflow", "number overflow"},
      {"[0.5, NaN]", "not valid JSON", "not valid JSON"},
      {"[0.5, -Infinity]", "not valid JSON", "not valid JSON"},
      // A double, but not a float.
      {"[0.5, 1e300]", "data[0].embedding[1]: 1e+300 is not a finite float",
       "embeddings[0][1]: 1e+300 is not a finite float"},
      {"[0.5, -3.5e38]", "data[0].embedding[1]: -3.5e+38 is not a finite float",
       "embeddings[0][1]: -3.5e+38 is not a finite float"},
      {R"([0.5, "0.25"])", "data[0].embedding[1]: expected a number, got string",
       "embeddings[0][1]: expected a number, got string"},
      {"[0.5, null]", "data[0].embedding[1]: expected a number, got null",
       "embeddings[0][1]: expected a number, got null"},
      {"[0.5, true]", "data[0].embedding[1]: expected a number, got boolean",
       "embeddings[0][1]: expected a number, got boolean"},
      {"[0.5, [1]]", "data[0].embedding[1]: expected a number, got array",
       "embeddings[0][1]: expected a number, got array"},
      {R"("AAAAAA==")", "data[0].embedding: expected an array of numbers, got string",
       "embeddings[0]: expected an array of numbers, got string"},
  };
  auto openai = make(options());
  auto ollama = make(options(HttpApi::kOllama));
  for (const Case& c : cases) {
    server_->set(Mode::kRawFirstEmbedding, 200, c.raw);
    EXPECT_TRUE(has(fail(*openai, three_), StatusCode::kCorruption, c.openai_part)) << c.raw;
    EXPECT_TRUE(has(fail(*ollama, three_), StatusCode::kCorruption, c.ollama_part)) << c.raw;
  }
  // An empty embedding is a wrong dimension.
  server_->set(Mode::kRawFirstEmbedding, 200, "[]");
  EXPECT_TRUE(has(fail(*openai, three_), StatusCode::kInvalidArgument, "data[0].embedding: empty"));
  // Integers are numbers too.
  server_->set(Mode::kRawBody, 200, R"({"embeddings": [[1, -2, 0]]})");
  auto r = ollama->embed(std::vector<std::string>{"one"});
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ(*r, (std::vector<std::vector<float>>{{1.0f, -2.0f, 0.0f}}));
}

TEST_F(HttpEmbedderTest, HugeAnswerIsRefusedWithoutReadingIt) {
  server_->set(Mode::kHuge);
  auto e = make(options());
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kCorruption, "larger than 256 MiB"));
  EXPECT_EQ(server_->requests(), 1u);
}

// ── errors and retries ──────────────────────────────────────────────────────────────────────

TEST_F(HttpEmbedderTest, RetriesServerErrorsAndRateLimitsThenSucceeds) {
  for (int status : {500, 503, 429}) {
    server_ = std::make_unique<FakeServer>();
    server_->set(Mode::kFailThenOk, status, {}, 2);
    auto e = make(options());
    auto r = e->embed(three_);
    ASSERT_TRUE(r.has_value()) << status << ": " << r.error().to_string();
    EXPECT_EQ(*r, server_embeddings(three_, 8));
    EXPECT_EQ(server_->requests(), 3u) << status;
  }
}

TEST_F(HttpEmbedderTest, GivesUpAfterMaxRetries) {
  server_->set(Mode::kFailThenOk, 503, {}, 100);
  auto o = options();
  o.max_retries = 2;
  auto e = make(o);
  const Status s = fail(*e, three_);
  EXPECT_TRUE(has(s, StatusCode::kIOError, "HTTP 503: temporarily unavailable [3 attempts]"));
  EXPECT_EQ(server_->requests(), 3u);

  server_ = std::make_unique<FakeServer>();
  server_->set(Mode::kFailThenOk, 500, {}, 100);
  o = options();
  o.max_retries = 0;
  e = make(o);
  EXPECT_TRUE(has(fail(*e, three_), StatusCode::kIOError, "HTTP 500"));
  EXPECT_EQ(server_->requests(), 1u);
}

TEST_F(HttpEmbedderTest, PermanentServerErrorMessageHasTheStatusAndBody) {
  server_->set(Mode::kStatus, 500, R"({"error": "CUDA out of memory"})");
  auto o = options();
  o.max_retries = 1;
  auto e = make(o);
  const Status s = fail(*e, three_);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(s.message(), prefix() + R"(HTTP 500: {"error": "CUDA out of memory"} [2 attempts])");
  EXPECT_EQ(server_->requests(), 2u);
}

TEST_F(HttpEmbedderTest, ClientErrorsFailAtOnce) {
  for (int status : {400, 401, 404, 413}) {
    server_ = std::make_unique<FakeServer>();
    server_->set(Mode::kStatus, status, "invalid input");
    auto e = make(options(HttpApi::kOllama));
    const Status s = fail(*e, three_);
    EXPECT_EQ(s.message(),
              prefix(HttpApi::kOllama) + "HTTP " + std::to_string(status) + ": invalid input");
    EXPECT_EQ(s.code(), StatusCode::kIOError);
    EXPECT_EQ(server_->requests(), 1u) << status;
  }
}

TEST_F(HttpEmbedderTest, ErrorBodyIsSanitisedAndCut) {
  std::string body = "\x1b[31mred\x1b[0m\r\nline two\x01\x7f\xc3\xa9";
  body += std::string(1000, 'z');
  server_->set(Mode::kStatus, 400, body);
  auto e = make(options());
  const Status s = fail(*e, three_);
  EXPECT_TRUE(has(s, StatusCode::kIOError, "HTTP 400: ?[31mred?[0m  line two????zzz"));
  EXPECT_TRUE(has(s, StatusCode::kIOError, "... (" + std::to_string(body.size()) + " bytes)"));
  for (char c : s.message()) {
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << static_cast<int>(c);
  }
  EXPECT_LT(s.message().size(), prefix().size() + 260);
}

TEST_F(HttpEmbedderTest, HonoursRetryAfter) {
  server_->set(Mode::kFailThenOk, 429, {}, 1, "1");
  auto e = make(options());  // back-off 1 ms: only Retry-After can make it wait a second
  auto r = e->embed(three_);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  const auto seen = server_->seen();
  ASSERT_EQ(seen.size(), 2u);
  // A lower bound only: the client slept at least as long as it was asked to.
  EXPECT_GE(seen[1].at - seen[0].at, milliseconds(950));
}

TEST_F(HttpEmbedderTest, SlowAnswerTimesOutAndIsRetried) {
  server_->set(Mode::kSlow);
  auto o = options();
  o.timeout = milliseconds(150);
  o.max_retries = 1;
  auto e = make(o);
  const Status s = fail(*e, three_);
  EXPECT_TRUE(has(s, StatusCode::kIOError, "no complete answer"));
  EXPECT_TRUE(has(s, StatusCode::kIOError, "[2 attempts]"));
  EXPECT_TRUE(s.message().starts_with(prefix())) << s.message();
  EXPECT_EQ(server_->requests(), 2u);
}

TEST_F(HttpEmbedderTest, TricklingAnswerTimesOut) {
  server_->set(Mode::kTrickle);
  auto o = options();
  o.timeout = milliseconds(200);  // each byte comes within it, the whole answer never does
  o.max_retries = 0;
  auto e = make(o);
  EXPECT_TRUE(
      has(fail(*e, three_), StatusCode::kIOError, "the answer did not arrive within 600 ms"));
  EXPECT_EQ(server_->requests(), 1u);
}

TEST_F(HttpEmbedderTest, ConnectionRefusedIsIOErrorAfterRetries) {
  // A port that was free a moment ago and has no listener now.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));

  auto o = options();
  o.base_url = url;
  o.max_retries = 2;
  auto e = make(o);
  const Status s = fail(*e, three_);
  EXPECT_EQ(s.message(),
            "openai:mini: POST " + url + "/v1/embeddings: could not connect [3 attempts]");
  EXPECT_EQ(s.code(), StatusCode::kIOError);
}

// ── through EmbeddingService ────────────────────────────────────────────────────────────────

TEST_F(HttpEmbedderTest, EmbeddingServicePassesResultsAndNamedErrors) {
  auto e = make(options());
  EmbeddingServiceOptions so;
  so.cache_capacity = 0;
  so.threads = 1;
  EmbeddingService service(e, so);
  auto good = service.embed("hello world");
  ASSERT_TRUE(good.has_value()) << good.error().to_string();
  EXPECT_EQ(*good, server_embedding("hello world", 8));
  EXPECT_EQ(service.provider_name(), "openai:mini");

  server_->set(Mode::kStatus, 500, "boom");
  auto o = options();
  o.max_retries = 0;
  auto failing = make(o);
  EmbeddingService failing_service(failing, so);
  auto bad = failing_service.embed("hello again");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kIOError);
  EXPECT_NE(bad.error().message().find("openai:mini"), std::string::npos) << bad.error().message();
  EXPECT_NE(bad.error().message().find("HTTP 500: boom"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace hnswstore::memory
