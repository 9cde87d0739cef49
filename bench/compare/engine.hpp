// The comparison driver's view of an ANN library: build, set ef, search one query, save, load.
//
// Every engine gets the same rows, parameters and queries. Cosine data sets are handed over
// already normalised (as hnswstore stores them), so that every engine searches by inner product
// on unit vectors and "cosine" means the same thing everywhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hnswstore {
class Filter;
}

namespace hnswstore::bench {

enum class Space { kL2, kCosine };

/// Row-major n x dim floats.
struct Rows {
  std::size_t n = 0, dim = 0;
  const float* data = nullptr;
  const float* row(std::size_t i) const { return data + i * dim; }
};

struct BuildParams {
  std::size_t m = 16;                ///< links per node (2 m on the bottom layer)
  std::size_t ef_construction = 200;
  std::uint64_t seed = 100;
};

inline constexpr std::uint32_t kNoRow = 0xFFFFFFFFu;

/// One predicate of a filtered search (bench/compare/filtered.cpp) in the two forms engines take:
/// hnswstore's Filter over the metadata given to set_build_metadata, and the same predicate as a
/// byte per row (allowed[row] != 0), for engines without metadata.
struct FilterArg {
  const Filter* filter = nullptr;               ///< nullptr: no filter (every row passes)
  const std::uint8_t* allowed = nullptr;        ///< nullptr: every row passes
  std::size_t exact_threshold = 0;              ///< hnswstore's SearchOptions::exact_threshold
};

class Engine {
 public:
  virtual ~Engine() = default;
  /// Short name for tables and plots ("hnswlib", "hnswstore-hnsw", "faiss-hnsw", "usearch").
  virtual std::string name() const = 0;
  /// Library version and build notes (e.g. "1.7.3, Debian generic build").
  virtual std::string version() const = 0;
  /// False for exact engines (ef is ignored; one point per dataset instead of an ef sweep).
  virtual bool approximate() const { return true; }
  /// Builds a new index over `rows` (row i gets label i) on `threads` threads, dropping any
  /// previous one. `rows` stays alive until the next build() or the engine's destruction.
  virtual void build(const Rows& rows, Space space, const BuildParams& p, std::size_t threads) = 0;
  /// The search beam width for the following searches.
  virtual void set_ef(std::size_t ef) = 0;
  /// The k nearest labels of one query, nearest first; kNoRow fills missing places. Must be
  /// safe to call from several threads at once (after set_ef, which is not).
  virtual void search(const float* query, std::size_t k, std::uint32_t* out) const = 0;
  /// Saves the index into directory `dir` (created by the caller); false if unsupported.
  virtual bool save(const std::string& dir) { (void)dir; return false; }
  /// Replaces the index by the one saved in `dir`, ready to search; false if unsupported.
  virtual bool load(const std::string& dir) { (void)dir; return false; }
  /// Where save(dir) put its files (hnswstore saves into its store's own directory).
  virtual std::string files_dir(const std::string& dir) const { return dir; }
  /// Bytes of the files save(dir) wrote (LOCK files excluded).
  std::size_t saved_bytes(const std::string& dir) const;
  /// Bytes the index holds by its own count, for engines that allocate outside malloc (usearch
  /// maps its memory directly, which glibc's heap statistics do not see); 0 if not reported.
  virtual std::size_t reported_memory() const { return 0; }
  /// hnswstore only: bytes of HNSW links (the graph) the index holds; 0 if unknown.
  virtual std::size_t graph_bytes() const { return 0; }
  /// hnswstore only: gives every record a small metadata object ({"row": i, "tag": "..."})
  /// and makes searches return it; false if the engine has no metadata.
  virtual bool add_metadata() { return false; }
  /// hnswstore only: the next build() gives row i the metadata object metadata[i] (in its bulk
  /// upsert); false if the engine has no metadata.
  virtual bool set_build_metadata(std::vector<nlohmann::json> metadata) {
    (void)metadata;
    return false;
  }
  /// The up to k nearest rows that pass `f`, nearest first, at the ef of set_ef; returns how
  /// many were found (the other places of out get kNoRow). hnswstore uses f.filter and
  /// f.exact_threshold; raw hnswlib walks its graph as hnswlib 0.8's filtered search does, with
  /// f.allowed. Thread-safe like search(). Throws std::logic_error where unsupported.
  virtual std::size_t search_filtered(const float* query, std::size_t k, const FilterArg& f,
                                      std::uint32_t* out) const;
};

/// The engines that were compiled in (FAISS and usearch only when found at configure time).
std::unique_ptr<Engine> make_hnswlib_engine();
std::unique_ptr<Engine> make_hnswstore_engine(bool flat);
std::unique_ptr<Engine> make_faiss_engine();    // nullptr when built without FAISS
std::unique_ptr<Engine> make_usearch_engine();  // nullptr when built without usearch

}  // namespace hnswstore::bench
