// hnswstore through its public API only: one namespace, ids "0", "1", ... (row numbers as
// text), one bulk upsert (with metadata when set_build_metadata gave some), Namespace::search
// per query (with SearchOptions::filter for search_filtered).
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine.hpp"
#include "hnswstore/hnswstore.hpp"

namespace hnswstore::bench {
namespace {

template <class T>
T checked(Result<T> r, const char* what) {
  if (!r.has_value()) throw std::runtime_error(std::string(what) + ": " + r.status().to_string());
  return std::move(r).value();
}

void checked(const Status& s, const char* what) {
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.to_string());
}

class HnswstoreEngine final : public Engine {
 public:
  explicit HnswstoreEngine(bool flat) : flat_(flat) {}
  ~HnswstoreEngine() override { drop_dir(); }

  std::string name() const override { return flat_ ? "hnswstore-flat" : "hnswstore-hnsw"; }
  std::string version() const override {
    return std::string(hnswstore::version()) + " (hnswlib " + hnswstore::hnswlib_version() + ")";
  }
  bool approximate() const override { return !flat_; }

  // The store lives in a fresh directory of its own, so that save() and load() can use it;
  // nothing touches the disk before save().
  void build(const Rows& rows, Space space, const BuildParams& p, std::size_t threads) override {
    ns_ = Namespace();
    store_.reset();
    drop_dir();
    dir_ = std::filesystem::temp_directory_path() /
           ("hnswstore-compare-" + std::to_string(::getpid()) + "-" + std::to_string(++builds_));
    threads_ = threads;
    options_ = NamespaceOptions();
    options_.dimension = rows.dim;
    options_.metric = space == Space::kL2 ? Metric::kL2 : Metric::kCosine;
    options_.index = flat_ ? IndexKind::kFlat : IndexKind::kHnsw;
    options_.hnsw.m = p.m;
    options_.hnsw.ef_construction = p.ef_construction;
    options_.hnsw.seed = p.seed;
    options_.hnsw.graph_threshold = 1;  // the same graph as raw hnswlib at any size
    open_store(false);
    ns_ = checked(store_->create_namespace("bench", options_), "create_namespace");
    std::vector<std::string> ids(rows.n);
    for (std::size_t i = 0; i < rows.n; ++i) ids[i] = std::to_string(i);
    if (!build_metadata_.empty() && build_metadata_.size() != rows.n) {
      throw std::invalid_argument("set_build_metadata: " + std::to_string(build_metadata_.size()) +
                                  " objects for " + std::to_string(rows.n) + " rows");
    }
    checked(ns_.upsert(ids, std::span<const float>(rows.data, rows.n * rows.dim),
                       std::span<const Metadata>(build_metadata_)),
            "upsert");
    n_ = rows.n;
    search_.include_metadata = false;
  }

  void set_ef(std::size_t ef) override { search_.ef = ef; }

  void search(const float* query, std::size_t k, std::uint32_t* out) const override {
    SearchOptions so = search_;
    so.k = k;
    run(so, query, k, out);
  }

  bool set_build_metadata(std::vector<nlohmann::json> metadata) override {
    build_metadata_ = std::move(metadata);
    return true;
  }

  std::size_t search_filtered(const float* query, std::size_t k, const FilterArg& f,
                              std::uint32_t* out) const override {
    SearchOptions so = search_;
    so.k = k;
    so.include_metadata = false;
    if (f.filter != nullptr) so.filter = *f.filter;
    so.exact_threshold = f.exact_threshold;
    return run(so, query, k, out);
  }

  bool save(const std::string& /*dir*/) override {
    checked(ns_.save(), "save");
    return true;
  }

  // Reopens the store's directory and loads the namespace (the first search would do the
  // same; open_namespace plus size() does not load, so this runs one search).
  bool load(const std::string& /*dir*/) override {
    ns_ = Namespace();
    store_.reset();
    open_store(true);
    ns_ = checked(store_->open_namespace("bench"), "open_namespace");
    std::vector<float> zero(options_.dimension, 0.0f);
    zero[0] = 1.0f;
    SearchOptions so = search_;
    so.k = 1;
    checked(ns_.search(zero, so).status(), "first search");
    return true;
  }

  std::string files_dir(const std::string& /*dir*/) const override { return dir_.string(); }

  std::size_t graph_bytes() const override { return ns_.stats().graph_bytes; }

  bool add_metadata() override {
    for (std::size_t i = 0; i < n_; ++i) {
      Metadata m = {{"row", i}, {"tag", i % 2 == 0 ? "even" : "odd"}};
      checked(ns_.update_metadata(std::to_string(i), std::move(m)), "update_metadata");
    }
    search_.include_metadata = true;
    return true;
  }

 private:
  // One search; the row numbers of the hits into out[0, k) (kNoRow after the last); how many.
  std::size_t run(const SearchOptions& so, const float* query, std::size_t k,
                  std::uint32_t* out) const {
    auto hits = ns_.search(std::span<const float>(query, options_.dimension), so);
    if (!hits.has_value()) throw std::runtime_error("search: " + hits.status().to_string());
    const auto& h = *hits;
    for (std::size_t i = 0; i < k; ++i) {
      std::uint32_t row = kNoRow;
      if (i < h.size()) std::from_chars(h[i].id.data(), h[i].id.data() + h[i].id.size(), row);
      out[i] = row;
    }
    return h.size();
  }

  void open_store(bool read_only) {
    StoreOptions so;
    so.threads = threads_;
    so.save_on_close = false;
    so.read_only = read_only;
    so.zstd_level = 0;
    store_ = std::make_unique<VectorStore>(checked(VectorStore::open(dir_, so), "open"));
  }

  void drop_dir() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }

  bool flat_;
  std::size_t threads_ = 1;
  std::size_t n_ = 0;
  unsigned builds_ = 0;
  NamespaceOptions options_;
  SearchOptions search_;
  std::vector<Metadata> build_metadata_;
  std::filesystem::path dir_;
  std::unique_ptr<VectorStore> store_;
  Namespace ns_;
};

}  // namespace

std::unique_ptr<Engine> make_hnswstore_engine(bool flat) {
  return std::make_unique<HnswstoreEngine>(flat);
}

}  // namespace hnswstore::bench
