// The internal interface both indexes implement. Records live in dense "slots"; the namespace
// maps string ids to slots (id_map.hpp) and owns slot allocation and reuse.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "hnswstore/options.hpp"

namespace hnswstore::detail {

struct GraphImage;

using Slot = std::uint32_t;
inline constexpr std::size_t kMaxSlots = 0xFFFFFFF0u;  // hnswlib's tableint is 32-bit
inline constexpr Slot kNoSlot = 0xFFFFFFFFu;

struct Neighbor {
  float distance;
  Slot slot;
  friend bool operator<(const Neighbor& a, const Neighbor& b) noexcept {
    return a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot);
  }
};

/// An extra predicate on slots that a search applies on top of "not deleted" (metadata
/// filters plug in here). `accept(ctx, slot)` must be safe to call from several threads.
/// A graph walk with a filter gives up after expanding `max_expansions` nodes (0 = never) and
/// then sets `gave_up` (each search has its own SlotFilter, so the flag is not shared).
struct SlotFilter {
  bool (*accept)(const void* ctx, Slot slot) = nullptr;
  const void* ctx = nullptr;
  std::size_t max_expansions = 0;
  mutable bool gave_up = false;
  bool operator()(Slot slot) const { return accept(ctx, slot); }
};

/// One vector to store at a slot, already in index form (unit length for cosine).
struct VectorWrite {
  Slot slot;
  const float* vector;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  /// Slots written so far (live and tombstoned); new slots are numbered from here.
  virtual std::size_t slot_count() const = 0;
  /// Slots that fit without reallocation.
  virtual std::size_t capacity() const = 0;
  /// Makes room for at least `slots` slots. Throws std::bad_alloc; on throw nothing changed.
  virtual void reserve(std::size_t slots) = 0;
  /// Stores each vector at its slot. A slot below slot_count() is overwritten (and revived if it
  /// was removed); new slots must be slot_count(), slot_count() + 1, ... in some order, and fit
  /// capacity(). Runs on up to `threads` threads. May throw (std::bad_alloc).
  virtual void write(std::span<const VectorWrite> writes, std::size_t threads) = 0;
  /// Tombstones a live slot: it never appears in results again until rewritten.
  virtual void remove(Slot slot) = 0;
  /// The stored vector of a slot below slot_count() (index form).
  virtual const float* vector(Slot slot) const = 0;
  /// The up to k nearest live slots accepted by `filter` (nullptr = all), closest first.
  /// `ef` is the HNSW beam width (>= k); flat indexes are exact and ignore it. An HNSW search
  /// may find fewer than k; the caller completes it with exact_search().
  virtual void search(const float* query, std::size_t k, std::size_t ef, const SlotFilter* filter,
                      std::vector<Neighbor>& out) const = 0;
  /// Whether a slot below slot_count() is tombstoned.
  virtual bool is_removed(Slot slot) const = 0;
  /// Whether searches walk a graph (HNSW) rather than scan every slot (flat, exact).
  virtual bool has_graph() const { return false; }

  /// HNSW only: the graph of the live slots, renumbered by `position` (slot -> number in the
  /// saved file; kNoSlot for slots left out, whose links are dropped). False if the index has no
  /// graph to export.
  virtual bool export_graph(std::span<const Slot> position, GraphImage& out) const {
    (void)position;
    (void)out;
    return false;
  }
  /// HNSW only: fills an empty index with n vectors (slots 0..n-1, index form, contiguous) and
  /// a graph that decode_graph() has checked, computing no distances. Throws std::bad_alloc.
  virtual void import_graph(const float* vectors, std::size_t n, const GraphImage& graph) {
    (void)vectors;
    (void)n;
    (void)graph;
  }

  virtual std::size_t vector_bytes() const = 0;
  virtual std::size_t graph_bytes() const = 0;
  /// Every byte the index holds, including unused capacity.
  virtual std::size_t memory_bytes() const = 0;
};

/// An empty index of the kind, metric and dimension the options ask for.
std::unique_ptr<VectorIndex> make_flat_index(const NamespaceOptions& options);
std::unique_ptr<VectorIndex> make_hnsw_index(const NamespaceOptions& options);

/// The number of records at which an HNSW namespace builds its graph (HnswParams::
/// graph_threshold; automatic when 0). Below it the namespace is served by a flat index.
std::size_t graph_threshold(const NamespaceOptions& options) noexcept;

/// Exact k nearest live, accepted slots of any index, closest first (used by flat search and to
/// complete an HNSW search).
void exact_search(const VectorIndex& index, Metric metric, std::size_t dimension,
                  const float* query, std::size_t k, const SlotFilter* filter,
                  std::vector<Neighbor>& out);

/// Exact k nearest among `candidates` (live slots, any order) that `filter` (nullptr = all)
/// accepts, closest first: the exact half of a filtered search.
void exact_search_slots(const VectorIndex& index, Metric metric, std::size_t dimension,
                        const float* query, std::size_t k, std::span<const Slot> candidates,
                        const SlotFilter* filter, std::vector<Neighbor>& out);

/// Capacity growth policy shared by both indexes: grow by 1/4 at least, so that unused capacity
/// stays below 25 % of the vectors while appends stay amortised O(1).
inline std::size_t grown_capacity(std::size_t current, std::size_t needed) noexcept {
  std::size_t next = current + current / 4;
  if (next < 16) next = 16;
  return next > needed ? next : needed;
}

}  // namespace hnswstore::detail
