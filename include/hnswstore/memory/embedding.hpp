// Embedding providers and the caching, batching embedding service (docs/memory.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/memory/entry.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::memory {

/// Turns texts into vectors. Implement it to plug in any model.
/// embed() must return one vector of dimensions() finite floats per text, in order; the
/// EmbeddingService checks that and refuses other answers. It may be called from several
/// threads at once, so an implementation must be thread-safe.
class EmbeddingProvider {
 public:
  virtual ~EmbeddingProvider() = default;
  /// A short name for logs and error messages ("hashing-384", "openai:text-embedding-3-small").
  virtual std::string_view name() const = 0;
  virtual std::size_t dimensions() const = 0;
  virtual Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) = 0;
};

/// An offline, deterministic embedder that needs no model files: signed feature hashing
/// (docs/memory.md, "HashingEmbedder") of word unigrams and bigrams (stop words dropped) and
/// character 3- and 4-grams of each word, weighted 1 + ln(tf), L2-normalised. It captures
/// shared words and word forms, not meaning: it is what MemoryConfig::for_testing(), the demo
/// and the tests use. Thread-safe; never fails for valid UTF-8.
class HashingEmbedder : public EmbeddingProvider {
 public:
  /// dimensions: 1..65536 (values outside are clamped).
  explicit HashingEmbedder(std::size_t dimensions = 384);
  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return dimensions_; }
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override;
  /// The embedding of one text (what embed() returns for it).
  std::vector<float> embed_one(std::string_view text) const;

 private:
  std::size_t dimensions_;
  std::string name_;
};

/// The two HTTP embedding APIs HttpEmbedder speaks.
/// - kOpenAI: POST {base_url}/v1/embeddings with {"model", "input": [texts]}, answer
///   {"data": [{"index", "embedding": [...]}, ...]} (OpenAI, vLLM, llama.cpp, LM Studio, ...).
/// - kOllama: POST {base_url}/api/embed with {"model", "input": [texts]}, answer
///   {"embeddings": [[...], ...]}.
enum class HttpApi { kOpenAI, kOllama };

/// Options of HttpEmbedder.
/// - base_url: "http://host:port" (https when cpp-httplib was built with OpenSSL), no path.
/// - api_key: sent as "Authorization: Bearer <key>" when not empty.
/// - dimensions: expected; 0 = learnt from the first answer (then fixed).
/// - timeout: for connecting, sending and receiving, per request.
/// - max_retries: further attempts after a connection failure, a timeout, 429 or 5xx, with
///   exponential back-off from retry_backoff (doubling, capped at 8 s); other answers fail at
///   once.
/// - batch_size: texts per request (1..2048).
struct HttpEmbedderOptions {
  std::string base_url;
  std::string model;
  std::string api_key;
  HttpApi api = HttpApi::kOpenAI;
  std::size_t dimensions = 0;
  std::chrono::milliseconds timeout{30000};
  int max_retries = 3;
  std::chrono::milliseconds retry_backoff{200};
  std::size_t batch_size = 256;
};

/// A client for an embedding server (OpenAI-compatible or Ollama). Thread-safe: each call uses
/// its own connection. Every answer is checked before use (status, JSON shape, count,
/// dimension, finite numbers): a bad answer is an error naming what was wrong and quoting the
/// start of the body, never a crash.
class HttpEmbedder : public EmbeddingProvider {
 public:
  /// Checks the options (kInvalidArgument naming the field); does not contact the server.
  static Result<std::shared_ptr<HttpEmbedder>> create(HttpEmbedderOptions options);
  std::string_view name() const override;
  std::size_t dimensions() const override;
  /// Errors: kIOError (connection, timeout, or an HTTP error status after the retries, with
  /// the status and the start of the body), kCorruption (an answer that is not the expected
  /// JSON, with the field at fault), kInvalidArgument (a wrong count or dimension).
  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) override;
  ~HttpEmbedder() override;

  struct Impl;

 private:
  explicit HttpEmbedder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Options of EmbeddingService.
/// - cache_capacity: embeddings kept (least recently used evicted); 0 = no cache.
/// - batch_size: texts per provider call (>= 1);
/// - threads: provider calls in flight at once for one embed_batch (0 = hardware concurrency).
struct EmbeddingServiceOptions {
  std::size_t cache_capacity = 10000;
  std::size_t batch_size = 64;
  std::size_t threads = 0;
};

/// Wraps a provider with batching, parallel calls and an LRU cache keyed by the XXH3-128 hash
/// of the text. Checks every answer of the provider: the right count, the provider's
/// dimension, finite values; errors carry the provider's name. Thread-safe.
class EmbeddingService {
 public:
  explicit EmbeddingService(std::shared_ptr<EmbeddingProvider> provider,
                            EmbeddingServiceOptions options = {});
  ~EmbeddingService();
  EmbeddingService(const EmbeddingService&) = delete;
  EmbeddingService& operator=(const EmbeddingService&) = delete;

  /// The embedding of one text. Errors: the provider's (its name prefixed), kInvalidArgument
  /// for a bad answer.
  Result<std::vector<float>> embed(std::string_view text);
  /// The embeddings of several texts, in order; all or nothing. Cached texts are not sent
  /// again; the rest go to the provider in batches of batch_size, several at once.
  Result<std::vector<std::vector<float>>> embed_batch(std::span<const std::string> texts);
  std::size_t dimensions() const;
  std::string_view provider_name() const;
  CacheStats cache_stats() const;
  const std::shared_ptr<EmbeddingProvider>& provider() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace hnswstore::memory
