// Fusion of the vector and lexical rankings for SearchMode::kHybrid (docs/memory.md).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hnswstore/memory/entry.hpp"

namespace hnswstore::memory::detail {

/// A ranking: ids with scores, best first.
using Ranking = std::vector<std::pair<std::string, float>>;

/// The fused ranking of `vector` and `lexical` (each best first) under options.fusion,
/// vector_weight and rrf_k (MemorySearchOptions), best first; ties by id.
Ranking fuse(const Ranking& vector, const Ranking& lexical, const MemorySearchOptions& options);

/// The fusion kAuto stands for, with its constants filled in.
MemorySearchOptions resolve_auto(const MemorySearchOptions& options);

}  // namespace hnswstore::memory::detail
