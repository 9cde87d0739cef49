// The on-disk format of a namespace (docs/format.md specifies every byte): encoders produce the
// exact bytes of <ns>.config.json, <ns>.<gen>.vectors.bin and <ns>.<gen>.graph.bin; decoders
// treat their input as hostile and check every checksum and length before using it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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

/// What a vectors file holds: `count` records in slot order. The vectors are in index form (unit
/// length for cosine); `norms` is empty unless the metric is cosine.
struct VectorsImage {
  std::size_t dimension = 0;
  std::vector<std::string> ids;
  /// count * dimension values; empty when decode_vectors was asked not to copy them.
  std::vector<float> vectors;
  /// When decode_vectors was asked not to copy them: the checked VECS payload, count * dimension
  /// little-endian f32 with no alignment guarantee. It views the decoded file's bytes when the
  /// section is stored raw (the caller keeps them alive) and `vector_buffer` when it was
  /// compressed.
  std::string_view vector_bytes;
  std::unique_ptr<char[]> vector_buffer;
  std::vector<float> norms;  // count (cosine) or empty
  std::vector<Metadata> metadata;
  /// When decode_vectors was asked not to parse the metadata: each record's JSON text, whose
  /// length has been checked and nothing else, viewing the decoded file's bytes or
  /// `metadata_buffer` (a compressed section). parse_metadata_texts() turns them into `metadata`.
  std::vector<std::string_view> metadata_texts;
  std::unique_ptr<char[]> metadata_buffer;
  /// XXH3-64 of the whole file, when decode_vectors was asked for it.
  std::uint64_t file_checksum = 0;
  std::size_t count() const noexcept { return ids.size(); }
};

struct VectorsDecodeOptions {
  /// Sections are checked and metadata parsed on up to this many threads.
  std::size_t threads = 1;
  /// false: leave the vectors where they are and only set VectorsImage::vector_bytes. A load
  /// copies them once, into the index, instead of twice.
  bool copy_vectors = true;
  /// Also compute VectorsImage::file_checksum, alongside the sections' own checks.
  bool hash_file = false;
  /// false: check the META section and its record lengths, but leave the JSON texts to
  /// parse_metadata_texts(), so that the caller can parse them alongside other work.
  bool parse_metadata = true;
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
/// Decodes and checks a vectors file; kCorruption names `file_name` and the section (the first
/// failure in file order). `options` gives the dimension and metric that the file must match.
/// Throws std::bad_alloc.
Status decode_vectors(std::string_view bytes, std::string_view file_name,
                      const NamespaceOptions& options, std::size_t expected_count,
                      VectorsImage* out, const VectorsDecodeOptions& how);
/// The same, copying the vectors, with metadata parsed on up to `threads` threads.
Status decode_vectors(std::string_view bytes, std::string_view file_name,
                      const NamespaceOptions& options, std::size_t expected_count,
                      VectorsImage* out, std::size_t threads = 1);
/// The rest of decode_vectors when it was asked not to parse the metadata: parses each of
/// image->metadata_texts (each must be a JSON object nested at most kMaxMetadataDepth deep) into
/// image->metadata on up to `threads` threads. kCorruption names `file_name`, the section and
/// the first bad record. Throws std::bad_alloc.
Status parse_metadata_texts(VectorsImage* image, std::string_view file_name, std::size_t threads);

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
