// persistence: a store in a directory that survives restarts.
//
//   persistence [--dir DIR] [--write | --verify] [--n N]
//
// Without --write/--verify it does both in one run, in a fresh temporary directory: writes a
// namespace of N synthetic "notes" (64-dimensional cosine vectors with metadata), saves, closes,
// then reopens the directory read-only and checks every record. --write and --verify split the
// two halves across processes (CI writes with one hnswlib version and verifies with another).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"

namespace fs = std::filesystem;
using namespace hnswstore;

namespace {

constexpr std::size_t kDim = 64;

int write_store(const fs::path& dir, std::size_t n) {
  auto store = VectorStore::open(dir).value();  // creates the directory if missing
  NamespaceOptions options{.dimension = kDim, .metric = Metric::kCosine};
  auto notes = store.get_or_create_namespace("notes", options).value();
  auto data = testing::embedding_like(n, kDim, 7);
  std::vector<std::string> ids(n);
  std::vector<Metadata> metadata(n);
  for (std::size_t i = 0; i < n; ++i) {
    ids[i] = "note-" + std::to_string(i);
    metadata[i] = {{"n", i}, {"topic", i % 3 == 0 ? "work" : "home"}};
  }
  if (Status s = notes.upsert(ids, data.data, metadata); !s.ok()) {
    std::fprintf(stderr, "upsert: %s\n", s.to_string().c_str());
    return 1;
  }
  (void)notes.remove("note-0");            // a delete: saves write live records only
  if (Status s = store.save(); !s.ok()) {  // atomic: old state or new, whatever happens
    std::fprintf(stderr, "save: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("wrote %zu notes to %s:\n", notes.size(), dir.c_str());
  for (const auto& e : fs::directory_iterator(dir)) {
    std::printf("  %-28s %8ju bytes\n", e.path().filename().c_str(),
                static_cast<std::uintmax_t>(e.file_size()));
  }
  return store.close().ok() ? 0 : 1;
}

int verify_store(const fs::path& dir, std::size_t n) {
  bool rebuilt = false;
  StoreOptions o{.read_only = true};
  o.logger = [&](LogLevel level, std::string_view line) {
    if (line.find("rebuilding") != std::string_view::npos) rebuilt = true;
    if (level >= LogLevel::kWarning)
      std::fprintf(stderr, "log: %.*s\n", int(line.size()), line.data());
  };
  auto opened = VectorStore::open(dir, o);
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", opened.error().to_string().c_str());
    return 1;
  }
  auto notes = opened->open_namespace("notes").value();
  std::printf("reopened read-only: %zu notes (loaded: %s)\n", notes.size(),
              notes.stats().loaded ? "yes" : "not yet, on first use");
  auto data = testing::embedding_like(n, kDim, 7);
  std::size_t bad = 0;
  for (std::size_t i = 1; i < n; ++i) {
    auto r = notes.get("note-" + std::to_string(i));
    // Cosine keeps the unit vector and the norm, so get() returns the input up to rounding.
    bool same = r.has_value() && r->metadata["n"] == i;
    for (std::size_t d = 0; same && d < kDim; ++d) {
      same = std::fabs(r->vector[d] - data.row(i)[d]) <= 1e-5f * (1.0f + std::fabs(data.row(i)[d]));
    }
    if (!same) ++bad;
  }
  if (notes.contains("note-0")) ++bad;
  auto hits = notes.search(std::span<const float>(data.row(5), kDim), {.k = 3}).value();
  std::printf("nearest to note-5:");
  for (const auto& h : hits)
    std::printf(" %s (%.4f, %s)", h.id.c_str(), h.distance,
                h.metadata["topic"].get<std::string>().c_str());
  std::printf("\ngraph %s; %zu records differ from what was written\n",
              rebuilt ? "rebuilt from the vectors" : "reloaded from graph.bin", bad);
  return bad == 0 && !rebuilt && !hits.empty() && hits[0].id == "note-5" ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir;
  bool write = false, verify = false;
  std::size_t n = 2000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--n" && i + 1 < argc)
      n = std::stoul(argv[++i]);
    else if (a == "--write")
      write = true;
    else if (a == "--verify")
      verify = true;
    else {
      std::fprintf(stderr, "usage: persistence [--dir DIR] [--write | --verify] [--n N]\n");
      return 2;
    }
  }
  const bool temporary = dir.empty();
  if (temporary) dir = fs::temp_directory_path() / "hnswstore-persistence-example";
  if (!write && !verify) {
    write = verify = true;
    fs::remove_all(dir);
  }
  int rc = 0;
  if (write) rc = write_store(dir, n);
  if (rc == 0 && verify) rc = verify_store(dir, n);
  if (temporary && !(write && !verify)) fs::remove_all(dir);
  return rc;
}
