// The FAISS engine: faiss::IndexHNSWFlat (HNSW graph over uncompressed float vectors).
//
// Compiled to a null factory unless CMake found FAISS (HNSWSTORE_BENCH_HAVE_FAISS, set by
// engines.cmake). FAISS parallelises with OpenMP; this engine controls its thread count:
//   - build(): omp_set_num_threads(threads), then one add() of all rows;
//   - search(): omp_set_num_threads(1) on the calling thread before every search. OpenMP keeps
//     its thread count per calling thread, so setting it once (in set_ef, on the driver's main
//     thread) would not reach the driver's search threads, and FAISS opens a parallel region
//     even for a single query: without this, each search would start a team of one OpenMP
//     thread per core (or OMP_NUM_THREADS). The setting stays on the caller's thread afterwards
//     (harmless for the driver: build() sets its own count).
// set_ef writes the index's hnsw.efSearch (not concurrently with searches, as the Engine contract
// allows). FAISS 1.7.3 has a per-call SearchParametersHNSW, but its HNSW::search sizes the
// candidate heap from hnsw.efSearch whatever the parameter says (later releases honour it):
// through it, recall stayed at the efSearch=16 level for every ef.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine.hpp"

#if HNSWSTORE_BENCH_HAVE_FAISS
#include <faiss/IndexHNSW.h>
#include <faiss/index_io.h>
#include <faiss/utils/random.h>
#include <faiss/utils/utils.h>
#include <omp.h>
#endif

namespace hnswstore::bench {

#if HNSWSTORE_BENCH_HAVE_FAISS
namespace {

// FAISS's label type: faiss::Index::idx_t in 1.7.3, faiss::idx_t in newer releases; ntotal is
// declared with it in both.
using Label = decltype(faiss::Index::ntotal);

class FaissEngine final : public Engine {
 public:
  std::string name() const override { return "faiss-hnsw"; }

  std::string version() const override {
    // The SIMD level is a property of the installed library, so ask it rather than assume.
    const bool avx2 = faiss::get_compile_options().find("AVX2") != std::string::npos;
    std::string origin;
#if HNSWSTORE_BENCH_FAISS_DEBIAN
    origin = "Debian ";
#endif
    return std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
           std::to_string(FAISS_VERSION_PATCH) + " (" + origin +
           (avx2 ? "AVX2 build" : "generic build, no AVX2") + ")";
  }

  void build(const Rows& rows, Space space, const BuildParams& p, std::size_t threads) override {
    index_.reset();  // free the previous index before building the next
    // Cosine rows arrive normalised, so inner product ranks them by cosine.
    const faiss::MetricType metric =
        space == Space::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
    auto index = std::make_unique<faiss::IndexHNSWFlat>(static_cast<int>(rows.dim),
                                                        static_cast<int>(p.m), metric);
    index->hnsw.efConstruction = static_cast<int>(p.ef_construction);
    // The level of each new node is drawn from hnsw.rng.
    index->hnsw.rng = faiss::RandomGenerator(static_cast<std::int64_t>(p.seed));
    omp_set_num_threads(static_cast<int>(std::max<std::size_t>(1, threads)));
    index->add(static_cast<Label>(rows.n), rows.data);
    index->hnsw.efSearch = ef_;
    index_ = std::move(index);
  }

  void set_ef(std::size_t ef) override {
    ef_ = static_cast<int>(ef);
    if (index_) index_->hnsw.efSearch = ef_;
  }

  void search(const float* query, std::size_t k, std::uint32_t* out) const override {
    omp_set_num_threads(1);  // see the file comment
    std::vector<float> distances(k);
    std::vector<Label> labels(k);
    index_->search(1, query, static_cast<Label>(k), distances.data(), labels.data());
    for (std::size_t i = 0; i < k; ++i) {
      out[i] = labels[i] < 0 ? kNoRow : static_cast<std::uint32_t>(labels[i]);
    }
  }

  bool save(const std::string& dir) override {
    faiss::write_index(index_.get(), path(dir).c_str());
    return true;
  }

  bool load(const std::string& dir) override {
    std::unique_ptr<faiss::Index> loaded(faiss::read_index(path(dir).c_str()));
    auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(loaded.get());
    if (hnsw == nullptr) throw std::runtime_error(path(dir) + " is not a FAISS HNSW index");
    loaded.release();
    index_.reset(hnsw);
    index_->hnsw.efSearch = ef_;  // the file holds the efSearch of the saved index
    return true;
  }

 private:
  static std::string path(const std::string& dir) { return dir + "/index.faiss"; }

  std::unique_ptr<faiss::IndexHNSW> index_;
  int ef_ = 16;  // FAISS's default efSearch, until set_ef
};

}  // namespace
#endif

std::unique_ptr<Engine> make_faiss_engine() {
#if HNSWSTORE_BENCH_HAVE_FAISS
  return std::make_unique<FaissEngine>();
#else
  return nullptr;
#endif
}

}  // namespace hnswstore::bench
