// MemoryConfig presets and builders.
#include "hnswstore/memory/config.hpp"

namespace hnswstore::memory {

std::string_view backend_name(EpisodicBackend backend) noexcept {
  return backend == EpisodicBackend::kHnsw ? "HNSW" : "InMemory";
}

MemoryConfig MemoryConfig::for_testing() {
  MemoryConfig c;
  c.backend = EpisodicBackend::kInMemory;
  c.embedding_service =
      std::make_shared<EmbeddingService>(std::make_shared<HashingEmbedder>(384));
  return c;
}

MemoryConfig MemoryConfig::for_production(std::shared_ptr<EmbeddingService> service) {
  MemoryConfig c;
  c.backend = EpisodicBackend::kHnsw;
  c.hnsw = HnswParams::balanced();
  c.embedding_service = std::move(service);
  return c;
}

MemoryConfig MemoryConfig::with_hnsw_config(HnswParams params) const {
  MemoryConfig c = *this;
  c.hnsw = params;
  return c;
}

MemoryConfig MemoryConfig::with_backend(EpisodicBackend b) const {
  MemoryConfig c = *this;
  c.backend = b;
  return c;
}

MemoryConfig MemoryConfig::with_directory(std::filesystem::path dir) const {
  MemoryConfig c = *this;
  c.directory = std::move(dir);
  return c;
}

MemoryConfig MemoryConfig::with_name(std::string n) const {
  MemoryConfig c = *this;
  c.name = std::move(n);
  return c;
}

MemoryConfig MemoryConfig::with_embedding_service(std::shared_ptr<EmbeddingService> s) const {
  MemoryConfig c = *this;
  c.embedding_service = std::move(s);
  return c;
}

MemoryConfig MemoryConfig::with_store_options(StoreOptions options) const {
  MemoryConfig c = *this;
  c.store = std::move(options);
  return c;
}

}  // namespace hnswstore::memory
