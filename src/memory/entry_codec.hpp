// How an EpisodicEntry is kept as a store record (docs/memory.md, "Storage"): the record's id
// is the entry's, its vector the embedding, and its metadata the entry's own metadata object
// plus these reserved top-level keys, so the store's filters and payload index serve them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hnswstore/filter.hpp"
#include "hnswstore/memory/entry.hpp"
#include "hnswstore/records.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::memory::detail {

inline constexpr std::string_view kSessionKey = "@session";      // string
inline constexpr std::string_view kRoleKey = "@role";            // string
inline constexpr std::string_view kContentKey = "@content";      // string
inline constexpr std::string_view kTimeKey = "@time";            // integer, ns since the epoch
inline constexpr std::string_view kIngestedKey = "@ingested";    // integer, ns since the epoch
inline constexpr std::string_view kProcessedKey = "@processed";  // true, or absent (false)

std::int64_t to_nanos(TimePoint t) noexcept;
TimePoint from_nanos(std::int64_t ns) noexcept;

/// Checks an entry before it is stored: content non-empty valid UTF-8, session and role valid
/// UTF-8, metadata an object (or null) without reserved '@' keys, an embedding (when given)
/// of `dimension` finite numbers. Messages start with `where` ("entries[3]." or "").
Status check_entry(const EpisodicEntry& entry, std::size_t dimension, std::string_view where);

/// The record metadata of an entry (its embedding and id are stored apart).
Metadata encode(const EpisodicEntry& entry);

/// The entry a record holds (its metadata moved in). kCorruption naming the id when a reserved
/// key is missing or of the wrong type (a namespace not written by the memory, or damaged).
Result<EpisodicEntry> decode(std::string id, Metadata metadata);

/// The store filter of a search's conditions (session, role, times, processed, metadata).
Filter to_filter(const MemorySearchOptions& options);

}  // namespace hnswstore::memory::detail
