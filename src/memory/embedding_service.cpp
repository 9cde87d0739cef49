// EmbeddingService: batching, parallel provider calls, an LRU cache, answer checks.
#include <cmath>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <xxhash.h>

#include "hnswstore/memory/embedding.hpp"
#include "parallel.hpp"

namespace hnswstore::memory {
namespace {

struct Key {
  std::uint64_t low, high;
  friend bool operator==(const Key&, const Key&) = default;
};
struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept { return static_cast<std::size_t>(k.low); }
};
Key key_of(std::string_view text) noexcept {
  const XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
  return {h.low64, h.high64};
}

}  // namespace

struct EmbeddingService::Impl {
  std::shared_ptr<EmbeddingProvider> provider;
  EmbeddingServiceOptions options;
  std::string name;  // the provider's, copied: errors quote it

  mutable std::mutex mu;  // guards the cache and the counters
  std::list<std::pair<Key, std::vector<float>>> lru;  // most recent first
  std::unordered_map<Key, decltype(lru)::iterator, KeyHash> index;
  CacheStats stats;

  Status prefixed(const Status& s) const {
    return Status(s.code(), "embedding provider '" + name + "': " + s.message());
  }

  // Looks a text up, moving it to the front; counts a hit or a miss.
  std::optional<std::vector<float>> lookup(const Key& key) {
    std::lock_guard lock(mu);
    auto it = index.find(key);
    if (it == index.end()) {
      ++stats.misses;
      return std::nullopt;
    }
    ++stats.hits;
    lru.splice(lru.begin(), lru, it->second);
    return it->second->second;
  }

  void insert(const Key& key, const std::vector<float>& v) {
    if (options.cache_capacity == 0) return;
    std::lock_guard lock(mu);
    if (index.count(key) != 0) return;
    lru.emplace_front(key, v);
    index.emplace(key, lru.begin());
    while (lru.size() > options.cache_capacity) {
      index.erase(lru.back().first);
      lru.pop_back();
    }
  }

  // One provider call for texts[begin, end), checked.
  Result<std::vector<std::vector<float>>> call(std::span<const std::string> texts,
                                               std::size_t first_index) {
    Result<std::vector<std::vector<float>>> r = [&]() -> Result<std::vector<std::vector<float>>> {
      try {
        return provider->embed(texts);
      } catch (const std::exception& e) {
        return Status::Internal(std::string("embed threw: ") + e.what());
      } catch (...) {
        return Status::Internal("embed threw an exception");
      }
    }();
    if (!r) return prefixed(r.error());
    if (r->size() != texts.size()) {
      return Status::InvalidArgument("embedding provider '" + name + "' returned " +
                                     std::to_string(r->size()) + " embeddings for " +
                                     std::to_string(texts.size()) + " texts");
    }
    const std::size_t dim = provider->dimensions();
    for (std::size_t i = 0; i < r->size(); ++i) {
      const std::vector<float>& v = (*r)[i];
      const std::string where = "embedding provider '" + name + "': embeddings[" +
                                std::to_string(first_index + i) + "]";
      if (v.empty() || (dim != 0 && v.size() != dim)) {
        return Status::InvalidArgument(where + ": dimension " + std::to_string(v.size()) +
                                       ", expected " + std::to_string(dim));
      }
      if (v.size() != (*r)[0].size()) {
        return Status::InvalidArgument(where + ": dimension " + std::to_string(v.size()) +
                                       " differs from embeddings[" +
                                       std::to_string(first_index) + "]'s " +
                                       std::to_string((*r)[0].size()));
      }
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (!std::isfinite(v[k])) {
          return Status::InvalidArgument(where + "[" + std::to_string(k) +
                                         "]: not a finite number");
        }
      }
    }
    return r;
  }
};

EmbeddingService::EmbeddingService(std::shared_ptr<EmbeddingProvider> provider,
                                   EmbeddingServiceOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->provider = std::move(provider);
  impl_->options = options;
  if (impl_->options.batch_size == 0) impl_->options.batch_size = 1;
  impl_->name = impl_->provider ? std::string(impl_->provider->name()) : "(none)";
}

EmbeddingService::~EmbeddingService() = default;

Result<std::vector<float>> EmbeddingService::embed(std::string_view text) {
  std::string t(text);
  auto r = embed_batch(std::span<const std::string>(&t, 1));
  if (!r) return r.error();
  return std::move((*r)[0]);
}

Result<std::vector<std::vector<float>>> EmbeddingService::embed_batch(
    std::span<const std::string> texts) {
  Impl& s = *impl_;
  if (!s.provider) return Status::InvalidArgument("embedding service: no provider");
  std::vector<std::vector<float>> out(texts.size());
  // Texts not in the cache, each once (a batch often repeats a text).
  std::vector<std::size_t> missing;  // indexes into texts of the first occurrence
  std::unordered_map<Key, std::size_t, KeyHash> first_of;
  std::vector<std::size_t> same_as(texts.size(), SIZE_MAX);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Key key = key_of(texts[i]);
    auto [it, inserted] = first_of.emplace(key, i);
    if (!inserted) {
      same_as[i] = it->second;
      continue;
    }
    if (auto hit = s.lookup(key)) {
      out[i] = std::move(*hit);
    } else {
      missing.push_back(i);
    }
  }
  if (!missing.empty()) {
    const std::size_t batch = s.options.batch_size;
    const std::size_t batches = (missing.size() + batch - 1) / batch;
    std::vector<Status> errors(batches);
    detail::parallel_for(batches, s.options.threads, [&](std::size_t b) {
      const std::size_t begin = b * batch, end = std::min(missing.size(), begin + batch);
      std::vector<std::string> chunk;
      chunk.reserve(end - begin);
      for (std::size_t k = begin; k < end; ++k) chunk.push_back(texts[missing[k]]);
      auto r = s.call(chunk, missing[begin]);
      if (!r) {
        errors[b] = r.error();
        return;
      }
      for (std::size_t k = begin; k < end; ++k) out[missing[k]] = std::move((*r)[k - begin]);
    });
    for (const Status& e : errors) {
      if (!e.ok()) return e;
    }
    // Every batch must agree on the dimension (a provider that learns it, such as an
    // HttpEmbedder without a configured dimension, is checked here across batches).
    for (std::size_t i : missing) {
      if (out[i].size() != out[missing[0]].size()) {
        return Status::InvalidArgument("embedding provider '" + s.name + "': embeddings[" +
                                       std::to_string(i) + "]: dimension " +
                                       std::to_string(out[i].size()) + ", expected " +
                                       std::to_string(out[missing[0]].size()));
      }
    }
    for (std::size_t i : missing) s.insert(key_of(texts[i]), out[i]);
  }
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (same_as[i] != SIZE_MAX) out[i] = out[same_as[i]];
  }
  return out;
}

std::size_t EmbeddingService::dimensions() const {
  return impl_->provider ? impl_->provider->dimensions() : 0;
}

std::string_view EmbeddingService::provider_name() const { return impl_->name; }

CacheStats EmbeddingService::cache_stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

const std::shared_ptr<EmbeddingProvider>& EmbeddingService::provider() const {
  return impl_->provider;
}

}  // namespace hnswstore::memory
