// Episodic memory configuration: backends and presets (docs/memory.md).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "hnswstore/memory/embedding.hpp"
#include "hnswstore/options.hpp"

namespace hnswstore::memory {

/// Where a memory's entries are searched.
/// - kInMemory: an exact flat namespace (every search scores every entry; recall 1). For tests
///   and small memories. Its name, "InMemory", is the guide's: with a directory it persists too.
/// - kHnsw: an HNSW namespace with MemoryConfig::hnsw (approximate, sub-linear).
enum class EpisodicBackend { kInMemory, kHnsw };

/// "InMemory", "HNSW".
std::string_view backend_name(EpisodicBackend backend) noexcept;

/// How EpisodicMemory::create builds a memory.
/// - backend, hnsw: see EpisodicBackend; hnsw is one of HnswParams' presets or your own.
/// - embedding_service: turns content and queries into vectors; required for kHnsw, and for
///   kInMemory too unless every entry comes with its embedding and only lexical search is used.
/// - directory: empty = the memory lives in this process only; otherwise a store directory
///   (created when missing) where the memory persists as namespace `name`.
/// - name: the namespace; several memories (one per agent or user) share a directory under
///   different names, isolated like namespaces.
/// - store: the store's options (logger, threads, memory budget, ...).
struct MemoryConfig {
  EpisodicBackend backend = EpisodicBackend::kHnsw;
  HnswParams hnsw = {};
  std::shared_ptr<EmbeddingService> embedding_service;
  std::filesystem::path directory;
  std::string name = "episodic";
  StoreOptions store = {};

  /// kInMemory with an EmbeddingService over a HashingEmbedder(384): offline and deterministic.
  static MemoryConfig for_testing();
  /// kHnsw with HnswParams::balanced() and the given service.
  static MemoryConfig for_production(std::shared_ptr<EmbeddingService> service);
  MemoryConfig with_hnsw_config(HnswParams params) const;
  MemoryConfig with_backend(EpisodicBackend backend) const;
  MemoryConfig with_directory(std::filesystem::path directory) const;
  MemoryConfig with_name(std::string name) const;
  MemoryConfig with_embedding_service(std::shared_ptr<EmbeddingService> service) const;
  MemoryConfig with_store_options(StoreOptions options) const;
};

}  // namespace hnswstore::memory
