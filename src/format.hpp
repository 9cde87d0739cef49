// The on-disk format of a namespace (docs/format.md specifies every byte): encoders produce the
// exact bytes of <ns>.config.json, <ns>.<gen>.vectors.bin and <ns>.<gen>.graph.bin; decoders
// treat their input as hostile and check every checksum and length before using it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/options.hpp"
#include "hnswstore/records.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::detail {

inline constexpr std::uint16_t kFormatMajor = 1;
inline constexpr std::uint16_t kFormatMinor = 0;
/// config.json is small; anything larger is not one.
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;

std::uint64_t xxh3(std::string_view bytes) noexcept;
/// 16 lower-case hex digits.
std::string hex64(std::uint64_t v);

// ── vectors.bin ──────────────────────────────────────────────────────────────────────────────

/// What a vectors file holds: `count` records in slot order. `vectors` are in index form (unit
/// length for cosine); `norms` is empty unless the metric is cosine.
struct VectorsImage {
  std::size_t dimension = 0;
  std::vector<std::string> ids;
  std::vector<float> vectors;  // count * dimension
  std::vector<float> norms;    // count (cosine) or empty
  std::vector<Metadata> metadata;
  std::size_t count() const noexcept { return ids.size(); }
};

/// A read-only view of the records to encode, so that a save need not copy them.
struct VectorsSource {
  std::size_t count = 0;
  std::size_t dimension = 0;
  Metric metric = Metric::kL2;  // norm() is called for kCosine only
  std::function<std::string_view(std::size_t)> id;
  std::function<const float*(std::size_t)> vector;
  std::function<float(std::size_t)> norm;
  std::function<const Metadata&(std::size_t)> metadata;
};

/// The bytes of a vectors file. zstd_level 0 stores sections raw. Throws std::bad_alloc.
std::string encode_vectors(const VectorsSource& source, int zstd_level);
/// Decodes and checks a vectors file; kCorruption names `file_name` and the section.
/// `options` gives the dimension and metric that the file must match. Metadata is parsed on up
/// to `threads` threads.
Status decode_vectors(std::string_view bytes, std::string_view file_name,
                      const NamespaceOptions& options, std::size_t expected_count,
                      VectorsImage* out, std::size_t threads = 1);

// ── graph.bin ────────────────────────────────────────────────────────────────────────────────

/// An HNSW graph over slots 0..count-1: per node its level and, for each level 0..level, its
/// neighbours. Internal ids are slots.
struct GraphImage {
  std::uint32_t max_m = 0;   // links per node on levels >= 1
  std::uint32_t max_m0 = 0;  // links per node on level 0
  std::uint32_t entry_point = 0;
  std::uint32_t max_level = 0;
  std::vector<std::uint8_t> levels;    // count
  std::vector<std::uint64_t> offsets;  // count + 1: node i's lists start at links[offsets[i]]
  std::vector<std::uint32_t> links;    // per node, per level: n, then n neighbour slots
  std::size_t count() const noexcept { return levels.size(); }
};

std::string encode_graph(const GraphImage& graph, std::uint64_t vectors_checksum, int zstd_level);
/// Decodes a graph file and checks its structure (neighbours in range, list sizes, levels, entry
/// point) against the vectors file it must belong to. Any failure is a message for the log: a
/// graph file is a cache, never a source of errors.
Status decode_graph(std::string_view bytes, std::string_view file_name,
                    std::uint64_t vectors_checksum, std::size_t count, std::size_t m,
                    GraphImage* out);

// ── config.json ──────────────────────────────────────────────────────────────────────────────

struct FileRef {
  std::string name;
  std::uint64_t size = 0;
  std::uint64_t checksum = 0;  // XXH3-64 of the whole file
};

struct NamespaceConfig {
  std::string name;
  NamespaceOptions options;
  std::uint64_t generation = 0;
  std::uint64_t count = 0;
  FileRef vectors;
  std::optional<FileRef> graph;
  std::string library_version;
  std::string created;  // ISO 8601 UTC
  std::string saved;
  std::uint16_t format_minor = kFormatMinor;
};

std::string encode_config(const NamespaceConfig& config);
/// kCorruption names `file_name` and the field; kNotSupported for a newer major format.
Status decode_config(std::string_view bytes, std::string_view file_name, NamespaceConfig* out);

/// "2026-11-22T05:53:01Z" for now.
std::string utc_now();

}  // namespace hnswstore::detail
