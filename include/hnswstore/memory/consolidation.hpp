// Consolidation: turning a session's unprocessed entries into longer-lived knowledge.
#pragma once

#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "hnswstore/memory/entry.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::memory {

/// What a consolidation did.
/// - processed_ids: the entries the engine consumed; EpisodicMemory::consolidate marks exactly
///   these processed.
/// - entries_examined: how many unprocessed entries the engine was given;
/// - duration: the engine's run and the marking.
struct ConsolidationResult {
  std::vector<std::string> processed_ids;
  std::size_t entries_examined = 0;
  std::chrono::microseconds duration{};
};

/// Consolidates entries, for example an LLM that extracts facts into a semantic store.
/// EpisodicMemory::consolidate calls it with a session's unprocessed entries in chronological
/// order; it reports which of them it consumed. An error leaves every entry unprocessed.
class ConsolidationEngine {
 public:
  virtual ~ConsolidationEngine() = default;
  virtual Result<ConsolidationResult> consolidate(std::span<const EpisodicEntry> entries) = 0;
};

}  // namespace hnswstore::memory
