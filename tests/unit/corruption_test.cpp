// Corruption: whatever happens to the bytes of a namespace's files, the store opens to its last
// committed state or says exactly which file is damaged (and, for a vectors file, which part);
// it never crashes, never hangs, never allocates without bound and never returns wrong data. A
// damaged graph file is never an error: the load logs a warning and rebuilds the graph.
//
// One small namespace is saved once; every trial writes its files back (damaged), opens the
// store afresh and uses the namespace. HNSWSTORE_CORRUPTION_FLIPS=<n> sets the number of bit
// flips per file (default 512; a number above a file's size flips every byte of it; the flips
// under forged checksums use half as many).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "datasets.hpp"
#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define HNSWSTORE_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HNSWSTORE_TEST_ASAN 1
#endif
#endif

#ifdef HNSWSTORE_TEST_ASAN
// Nothing in this test needs a single allocation of 64 MiB; under AddressSanitizer a larger one
// aborts the test, so a decoder that sizes a buffer by a forged length cannot pass unnoticed.
// (Outside sanitizer builds the hostile cases run in a child with a small RLIMIT_AS instead.)
extern "C" const char* __asan_default_options() { return "max_allocation_size_mb=64"; }
#endif

namespace hnswstore {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr char kNs[] = "docs";
constexpr std::size_t kCount = 220;  // about 200 live records: a rebuild is cheap
constexpr std::size_t kDim = 12;
constexpr std::size_t kK = 10;
constexpr std::size_t kVectorsHeaderBytes = 40;
constexpr std::size_t kGraphHeaderBytes = 56;
constexpr std::size_t kSectionHeaderBytes = 32;
constexpr std::uint32_t kCodecRaw = 0;
constexpr std::uint32_t kCodecZstd = 1;

NamespaceOptions docs_options() {
  // ef_search above the record count: HNSW answers as exactly as a scan, so every search can
  // be compared with brute force.
  return {.dimension = kDim,
          .metric = Metric::kCosine,
          .index = IndexKind::kHnsw,
          .hnsw = {.m = 8, .ef_construction = 16, .ef_search = 400, .seed = 7, .graph_threshold = 1}};
}

// ── bytes ─────────────────────────────────────────────────────────────────────────────────────

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_bytes(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

template <class T>
T get_le(std::string_view b, std::size_t pos) {
  T v;
  std::memcpy(&v, b.data() + pos, sizeof(T));
  return v;
}

template <class T>
void set_le(std::string& b, std::size_t pos, T v) {
  std::memcpy(b.data() + pos, &v, sizeof(T));
}

template <class T>
void put_le(std::string& b, T v) {
  char c[sizeof(T)];
  std::memcpy(c, &v, sizeof(T));
  b.append(c, sizeof(T));
}

std::uint64_t xxh3(std::string_view b) { return XXH3_64bits(b.data(), b.size()); }

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void flip_bit(std::string& b, std::size_t offset, int bit) {
  b[offset] = static_cast<char>(static_cast<unsigned char>(b[offset]) ^ (1u << bit));
}

// ── the data files' layout (docs/format.md) ──────────────────────────────────────────────────

struct Section {
  std::string tag;
  std::uint32_t codec = 0;
  std::uint64_t stored = 0;
  std::uint64_t raw = 0;
  std::size_t begin = 0;  // offset of the section header
  std::size_t payload() const { return begin + kSectionHeaderBytes; }
  std::size_t end() const { return payload() + static_cast<std::size_t>(stored); }
};

// A data file: its fixed header, then its sections.
struct Layout {
  std::size_t header_bytes = 0;
  std::vector<Section> sections;

  // "header" or "section TAG": the part of the file that holds byte `offset`.
  std::string region_of(std::size_t offset) const {
    if (offset < header_bytes) return "header";
    for (const Section& s : sections) {
      if (offset < s.end()) return "section " + s.tag;
    }
    return "after the last section";
  }
  const Section& section(std::string_view tag) const {
    for (const Section& s : sections) {
      if (s.tag == tag) return s;
    }
    throw std::runtime_error("no section " + std::string(tag));
  }
};

Layout parse_layout(std::string_view bytes, std::size_t header_bytes) {
  Layout l;
  l.header_bytes = header_bytes;
  std::size_t pos = header_bytes;
  while (pos + kSectionHeaderBytes <= bytes.size()) {
    Section s;
    s.tag = std::string(bytes.substr(pos, 4));
    s.codec = get_le<std::uint32_t>(bytes, pos + 4);
    s.stored = get_le<std::uint64_t>(bytes, pos + 8);
    s.raw = get_le<std::uint64_t>(bytes, pos + 16);
    s.begin = pos;
    pos = s.end();
    l.sections.push_back(s);
  }
  return l;
}

// Recomputes a file header's checksum (its last 8 bytes: XXH3-64 of the bytes before them).
void seal_header(std::string& file, std::size_t header_bytes) {
  set_le<std::uint64_t>(file, header_bytes - 8,
                        xxh3(std::string_view(file).substr(0, header_bytes - 8)));
}

// Recomputes the checksum of the section whose header is at `begin` over whatever its fields
// say now; false if its payload would run past the end of the file.
bool seal_section(std::string& file, std::size_t begin) {
  const auto stored = get_le<std::uint64_t>(file, begin + 8);
  if (stored > file.size() - begin - kSectionHeaderBytes) return false;
  std::string covered = file.substr(begin, 24);
  covered.append(file, begin + kSectionHeaderBytes, static_cast<std::size_t>(stored));
  set_le<std::uint64_t>(file, begin + 24, xxh3(covered));
  return true;
}

// Flips one bit of a file whose layout is `layout`, then recomputes the checksum that covers it
// (the header's, or its section's), so that only the decoders' other checks can notice.
std::string flip_and_reseal(std::string file, std::size_t offset, int bit, std::size_t header_bytes,
                            const Layout& layout) {
  flip_bit(file, offset, bit);
  if (offset < header_bytes) {
    if (offset < header_bytes - 8) seal_header(file, header_bytes);
    return file;
  }
  for (const Section& s : layout.sections) {
    if (offset < s.end() && (offset < s.begin + 24 || offset >= s.payload())) {
      seal_section(file, s.begin);
    }
  }
  return file;
}

// One section with a valid checksum for whatever its fields say.
std::string make_section(std::string_view tag, std::uint32_t codec, std::string_view payload,
                         std::uint64_t raw) {
  std::string s(tag);
  put_le<std::uint32_t>(s, codec);
  put_le<std::uint64_t>(s, payload.size());
  put_le<std::uint64_t>(s, raw);
  put_le<std::uint64_t>(s, xxh3(s + std::string(payload)));
  s += payload;
  return s;
}

// The decoded payload of a (pristine) section.
std::string section_raw(std::string_view file, const Section& s) {
  const std::string_view payload = file.substr(s.payload(), static_cast<std::size_t>(s.stored));
  if (s.codec == kCodecRaw) return std::string(payload);
  std::string out(static_cast<std::size_t>(s.raw), '\0');
  const std::size_t n = ZSTD_decompress(out.data(), out.size(), payload.data(), payload.size());
  if (ZSTD_isError(n) != 0 || n != out.size()) throw std::runtime_error("bad zstd in " + s.tag);
  return out;
}

std::string zstd(std::string_view raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  const std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 3);
  if (ZSTD_isError(n) != 0) throw std::runtime_error("zstd");
  out.resize(n);
  return out;
}

// A zstd frame written by hand: a header announcing `content_size` (if any) and a window of
// 2^window_log bytes (or, single_segment, a window of exactly content_size), then `blocks` RLE
// blocks that each regenerate `block_bytes` copies of 'x'.
std::string zstd_rle_frame(std::optional<std::uint64_t> content_size, int window_log,
                           bool single_segment, std::size_t blocks, std::uint32_t block_bytes) {
  std::string f;
  put_le<std::uint32_t>(f, 0xFD2FB528u);
  unsigned descriptor = content_size ? 0xC0u : 0x00u;  // 8-byte Frame_Content_Size
  if (single_segment) descriptor |= 0x20u;
  f.push_back(static_cast<char>(descriptor));
  if (!single_segment) f.push_back(static_cast<char>((window_log - 10) << 3));
  if (content_size) put_le<std::uint64_t>(f, *content_size);
  for (std::size_t i = 0; i < blocks; ++i) {
    const std::uint32_t header = (i + 1 == blocks ? 1u : 0u) | (1u << 1) | (block_bytes << 3);
    f.append(reinterpret_cast<const char*>(&header), 3);
    f.push_back('x');
  }
  return f;
}

// ── config.json ──────────────────────────────────────────────────────────────────────────────

// A config with a valid checksum line, computed as format.cpp does: XXH3-64 of every byte
// before the line `  "checksum": "<16 hex>"`, which closes the object.
std::string seal_config(Metadata j) {
  j.erase("checksum");
  std::string text = j.dump(2);
  text.resize(text.size() - 2);  // "\n}"
  text += ",\n";
  const std::uint64_t sum = xxh3(text);
  return text + "  \"checksum\": \"" + hex64(sum) + "\"\n}\n";
}

// ── the committed namespace ──────────────────────────────────────────────────────────────────

std::string make_id(std::size_t i) {
  if (i % 7 == 0) return "long-" + std::string(150 + i % 50, 'x') + "-" + std::to_string(i);
  if (i % 11 == 0) return "r\xc3\xa9sum\xc3\xa9/\xe2\x82\xac-" + std::to_string(i);
  return "doc-" + std::to_string(i);
}

Metadata make_metadata(std::size_t i) {
  switch (i % 6) {
    case 0:
      return Metadata::object();
    case 1:
      return {{"n", i}, {"f", static_cast<double>(i) / 7.0}, {"neg", -static_cast<int>(i)}};
    case 2:
      return {{"title", "t\xc3\xa9xt \xf0\x9f\x93\x84 " + std::to_string(i)},
              {"tags", {"a", "b", std::to_string(i % 5)}},
              {"ok", i % 4 == 0},
              {"none", nullptr}};
    case 3:
      return {{"a", {{"b", {{"c", {1, {{"d", "e"}}, 2.5}}}}}}, {"i", i}};
    case 4:
      return {{"blob", std::string(i % 97 + 1, 'z')}};
    default:
      return {{"list", Metadata::array({i, i * 2, i * 3})}, {"s", "q\"uote\\"}};
  }
}

// What a damaged copy is compared with: the namespace as committed and its files' bytes.
struct Pristine {
  TempDir dir;
  std::string config_name, vectors_name, graph_name;
  std::string config, vectors, graph;
  Layout vectors_layout, graph_layout;
  std::vector<Record> records;  // every live record as get() gave it before the save
  std::map<std::string, std::size_t> position;  // id -> index into records
  std::vector<std::string> removed;             // ids removed before the save
  testing::Matrix queries;
  std::vector<std::vector<Hit>> exact;  // brute-force answers (a flat namespace, same records)
};

void build_pristine(Pristine& p) {
  const auto data = testing::embedding_like(kCount, kDim, 5);
  {
    auto store = VectorStore::open(p.dir.path(), {.threads = 1}).value();
    auto ns = store.create_namespace(kNs, docs_options()).value();
    std::vector<std::string> ids;
    std::vector<Metadata> md;
    for (std::size_t i = 0; i < kCount; ++i) {
      ids.push_back(make_id(i));
      md.push_back(make_metadata(i));
    }
    ASSERT_TRUE(ns.upsert(ids, data.data, md).ok());
    // Some history before the commit: removals, new metadata, new vectors.
    for (std::size_t i = 3; i < kCount; i += 13) {
      ASSERT_TRUE(ns.remove(ids[i]).value());
    }
    for (std::size_t i = 1; i < kCount; i += 17) {
      if (ns.contains(ids[i])) {
        ASSERT_TRUE(ns.update_metadata(ids[i], {{"updated", i}}).ok());
      }
    }
    for (std::size_t i = 2; i < kCount; i += 29) {
      ASSERT_TRUE(ns.upsert(ids[i], std::span<const float>(data.row(kCount - 1 - i), kDim),
                            {{"moved", true}})
                      .ok());
    }
    ASSERT_TRUE(ns.save().ok());
    for (const auto& id : ids) {
      if (auto r = ns.get(id)) {
        p.records.push_back(std::move(*r));
      } else {
        p.removed.push_back(id);
      }
    }
    ASSERT_TRUE(store.close().ok());
  }
  for (std::size_t i = 0; i < p.records.size(); ++i) p.position[p.records[i].id] = i;
  for (const auto& e : fs::directory_iterator(p.dir.path())) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".config.json")) p.config_name = name;
    if (name.ends_with(".vectors.bin")) p.vectors_name = name;
    if (name.ends_with(".graph.bin")) p.graph_name = name;
  }
  ASSERT_EQ(p.config_name, std::string(kNs) + ".config.json");
  ASSERT_FALSE(p.vectors_name.empty());
  ASSERT_FALSE(p.graph_name.empty());
  p.config = read_bytes(p.dir.path() / p.config_name);
  p.vectors = read_bytes(p.dir.path() / p.vectors_name);
  p.graph = read_bytes(p.dir.path() / p.graph_name);
  p.vectors_layout = parse_layout(p.vectors, kVectorsHeaderBytes);
  p.graph_layout = parse_layout(p.graph, kGraphHeaderBytes);

  // Queries: unseen vectors and some of the records' own.
  const auto unseen = testing::embedding_like(10, kDim, 77);
  p.queries.cols = kDim;
  p.queries.data = unseen.data;
  for (std::size_t i = 0; i < p.records.size(); i += p.records.size() / 10) {
    p.queries.data.insert(p.queries.data.end(), p.records[i].vector.begin(),
                          p.records[i].vector.end());
  }
  p.queries.rows = p.queries.data.size() / kDim;
  auto mem = VectorStore::in_memory({.threads = 1});
  NamespaceOptions flat = docs_options();
  flat.index = IndexKind::kFlat;
  auto reference = mem.create_namespace("flat", flat).value();
  ASSERT_TRUE(reference.upsert(p.records).ok());
  for (std::size_t q = 0; q < p.queries.rows; ++q) {
    p.exact.push_back(
        reference.search(std::span<const float>(p.queries.row(q), kDim), {.k = kK}).value());
  }
}

const Pristine& pristine() {
  static const std::unique_ptr<Pristine> p = [] {
    auto made = std::make_unique<Pristine>();
    build_pristine(*made);
    return made;
  }();
  return *p;
}

// ── one trial ────────────────────────────────────────────────────────────────────────────────

// The three files of a trial; nullopt: no such file.
struct Files {
  std::optional<std::string> config, vectors, graph;
};

Files pristine_files(const Pristine& p) { return {p.config, p.vectors, p.graph}; }

// The pristine config, edited, naming exactly these data files (sizes and checksums) under a
// valid checksum: as if a writer had committed them, so that only the decoders stand between
// the damage and the caller.
std::string config_naming(const Pristine& p, std::string_view vectors,
                          std::optional<std::string_view> graph,
                          const std::function<void(Metadata&)>& edit = {}) {
  Metadata j = Metadata::parse(p.config);
  j["files"]["vectors"]["size"] = vectors.size();
  j["files"]["vectors"]["xxh3"] = hex64(xxh3(vectors));
  if (graph) {
    j["files"]["graph"]["size"] = graph->size();
    j["files"]["graph"]["xxh3"] = hex64(xxh3(*graph));
  }
  if (edit) edit(j);
  return seal_config(std::move(j));
}

// Writes `files` as the store's directory (removing anything else but the lock file).
void install(const Pristine& p, const Files& files) {
  for (const auto& e : fs::directory_iterator(p.dir.path())) {
    if (e.path().filename() != "LOCK") fs::remove(e.path());
  }
  if (files.config) write_bytes(p.dir.path() / p.config_name, *files.config);
  if (files.vectors) write_bytes(p.dir.path() / p.vectors_name, *files.vectors);
  if (files.graph) write_bytes(p.dir.path() / p.graph_name, *files.graph);
}

// "" if the directory holds exactly `files`, byte for byte: opening a damaged store never
// repairs, removes or rewrites anything.
std::string check_untouched(const Pristine& p, const Files& files) {
  std::map<std::string, std::string> want;
  if (files.config) want[p.config_name] = *files.config;
  if (files.vectors) want[p.vectors_name] = *files.vectors;
  if (files.graph) want[p.graph_name] = *files.graph;
  std::size_t seen = 0;
  for (const auto& e : fs::directory_iterator(p.dir.path())) {
    const std::string name = e.path().filename().string();
    if (name == "LOCK") continue;
    auto it = want.find(name);
    if (it == want.end()) return "the store wrote '" + name + "'";
    if (read_bytes(e.path()) != it->second) return "the store changed '" + name + "'";
    ++seen;
  }
  if (seen != want.size()) return "the store removed a file";
  return "";
}

bool near(float a, float b) { return std::fabs(a - b) <= 1e-5f * std::max(1.0f, std::fabs(a)); }

// "" if `hits` answer query `q` as brute force does: same ids in the same order, same
// distances, and each hit's metadata is its record's.
std::string check_hits(const Pristine& p, std::size_t q, const std::vector<Hit>& hits) {
  const auto& want = p.exact[q];
  if (hits.size() != want.size()) {
    return "query " + std::to_string(q) + ": " + std::to_string(hits.size()) + " hits, expected " +
           std::to_string(want.size());
  }
  for (std::size_t r = 0; r < hits.size(); ++r) {
    if (hits[r].id != want[r].id || !near(hits[r].distance, want[r].distance)) {
      return "query " + std::to_string(q) + " rank " + std::to_string(r) + ": " + hits[r].id +
             " at " + std::to_string(hits[r].distance) + ", expected " + want[r].id + " at " +
             std::to_string(want[r].distance);
    }
    if (hits[r].metadata != p.records[p.position.at(hits[r].id)].metadata) {
      return "query " + std::to_string(q) + ": wrong metadata for " + hits[r].id;
    }
  }
  return "";
}

// "" if every hit names a live record, carries its metadata and the true distance to it, closest
// first (what any graph, however odd, must give).
std::string check_hits_valid(const Pristine& p, std::size_t q, const std::vector<Hit>& hits) {
  const float* query = p.queries.row(q);
  for (std::size_t r = 0; r < hits.size(); ++r) {
    auto it = p.position.find(hits[r].id);
    if (it == p.position.end()) return "query " + std::to_string(q) + ": unknown id " + hits[r].id;
    const Record& rec = p.records[it->second];
    const double d = testing::reference_distance(Metric::kCosine, query, rec.vector.data(), kDim);
    if (std::fabs(d - hits[r].distance) > 1e-4) {
      return "query " + std::to_string(q) + ": wrong distance for " + hits[r].id;
    }
    if (hits[r].metadata != rec.metadata) return "wrong metadata for " + hits[r].id;
    if (r > 0 && hits[r].distance < hits[r - 1].distance) return "hits out of order";
  }
  return "";
}

// How much of the committed state a loaded namespace must show.
enum class Check {
  kCommitted,  // every record bit for bit; searches answer as brute force does
  kRecords,    // every record bit for bit; search hits valid (a graph that differs from the saved
               // one)
  kWorking,    // anything, as long as it works (a file whose checksums were forged)
};

// "" if `ns` shows what `check` asks for; else the first difference.
std::string check_contents(const Pristine& p, const Namespace& ns, Check check) {
  if (check == Check::kWorking) {
    for (const Record& want : p.records) {
      auto got = ns.get(want.id);
      if (!got && got.error().code() != StatusCode::kNotFound) {
        return "get(" + want.id + "): " + got.error().to_string();
      }
    }
    for (std::size_t q = 0; q < p.queries.rows; ++q) {
      auto hits = ns.search(std::span<const float>(p.queries.row(q), kDim), {.k = kK});
      if (!hits) return "search: " + hits.error().to_string();
      if (hits->size() > kK) return "search: too many hits";
    }
    return "";
  }
  if (ns.size() != p.records.size()) return "size " + std::to_string(ns.size());
  for (const Record& want : p.records) {
    auto got = ns.get(want.id);
    if (!got) return "get(" + want.id + "): " + got.error().to_string();
    if (got->vector.size() != want.vector.size() ||
        std::memcmp(got->vector.data(), want.vector.data(), want.vector.size() * 4) != 0) {
      return "the vector of " + want.id + " differs";
    }
    if (got->metadata != want.metadata) return "the metadata of " + want.id + " differs";
  }
  for (const auto& id : p.removed) {
    if (ns.contains(id)) return "removed id " + id + " is back";
  }
  for (std::size_t q = 0; q < p.queries.rows; ++q) {
    auto hits = ns.search(std::span<const float>(p.queries.row(q), kDim), {.k = kK});
    if (!hits) return "search: " + hits.error().to_string();
    std::string problem =
        check == Check::kCommitted ? check_hits(p, q, *hits) : check_hits_valid(p, q, *hits);
    if (!problem.empty()) return problem;
  }
  return "";
}

// What opening a damaged store and using its namespace gave.
struct Observed {
  Status status;        // ok, or the error of open_namespace or of the load (first get)
  std::string problem;  // a broken promise: wrong data, a crash-free but wrong answer, a write
  std::vector<std::string> warnings;
  bool graph_rebuilt() const {
    return std::any_of(warnings.begin(), warnings.end(), [](const std::string& w) {
      return w.find("rebuilding the HNSW graph") != std::string::npos;
    });
  }
  std::string warning_text() const {
    std::string all;
    for (const auto& w : warnings) all += w + "\n";
    return all;
  }
};

struct LogCapture {
  std::mutex mutex;
  std::vector<std::string> warnings;
  Logger logger() {
    return [this](LogLevel level, std::string_view line) {
      if (level < LogLevel::kWarning) return;
      std::lock_guard<std::mutex> lock(mutex);
      warnings.emplace_back(line);
    };
  }
};

// Opens the store (afresh) and uses the namespace: open_namespace, get, search. A load error
// must then be the answer of every later call too: no half-loaded namespace is ever visible.
Observed open_and_use(const Pristine& p, Check check = Check::kCommitted) {
  Observed o;
  LogCapture log;
  {
    auto store = VectorStore::open(p.dir.path(), {.threads = 1, .logger = log.logger()});
    if (!store) {
      o.problem = "VectorStore::open: " + store.error().to_string();
      return o;
    }
    if (store->list_namespaces() != std::vector<std::string>{kNs}) {
      o.problem = "the namespace is not listed";
    }
    auto ns = store->open_namespace(kNs);
    if (!ns) {
      o.status = ns.error();
    } else if (auto first = ns->get(p.records.front().id);
               !first && first.error().code() != StatusCode::kNotFound) {  // the load failed
      o.status = first.error();
      auto hits = ns->search(std::span<const float>(p.queries.row(0), kDim));
      auto again = ns->get(p.records.back().id);
      if (hits || hits.error().code() != o.status.code() || again ||
          again.error().code() != o.status.code() || ns->contains(p.records.front().id)) {
        o.problem = "after a failed load the namespace answers differently";
      }
    } else {
      o.problem = check_contents(p, *ns, check);
    }
  }
  std::lock_guard<std::mutex> lock(log.mutex);
  o.warnings = log.warnings;
  return o;
}

// HNSWSTORE_CORRUPTION_VERBOSE=1 prints each trial before it runs (to find the one that crashed).
void announce(const std::string& what) {
  static const bool verbose = std::getenv("HNSWSTORE_CORRUPTION_VERBOSE") != nullptr;
  if (verbose) {
    std::printf("[ corruption ] trial: %s\n", what.c_str());
    std::fflush(stdout);
  }
}

// Installs `files`, opens and uses the namespace, then checks that nothing on disk changed.
Observed trial(const Pristine& p, const Files& files, Check check = Check::kCommitted) {
  install(p, files);
  Observed o = open_and_use(p, check);
  if (o.problem.empty()) o.problem = check_untouched(p, files);
  return o;
}

bool mentions(const Status& s, std::string_view text) {
  return s.message().find(text) != std::string::npos;
}

// Counts trials and reports the first few failures (not thousands).
struct Tally {
  explicit Tally(std::string name) : what(std::move(name)) {}
  std::string what;
  std::size_t trials = 0, errors = 0, ignored = 0, failures = 0;
  std::vector<std::string> ignored_at;
  std::map<std::string, std::size_t> by_region;

  void fail(const std::string& trial, const std::string& why) {
    if (++failures <= 12) ADD_FAILURE() << what << ", " << trial << ": " << why;
  }
  void print() const {
    std::string regions;
    for (const auto& [r, n] : by_region) regions += " " + r + "=" + std::to_string(n);
    std::printf("[ corruption ] %s: %zu trials, %zu errors, %zu ignored, %zu failed;%s\n",
                what.c_str(), trials, errors, ignored, failures, regions.c_str());
    for (const auto& at : ignored_at) std::printf("[ corruption ]   ignored: %s\n", at.c_str());
    std::fflush(stdout);
  }
};

std::size_t flips_per_file() {
  if (const char* env = std::getenv("HNSWSTORE_CORRUPTION_FLIPS")) {
    return static_cast<std::size_t>(std::strtoull(env, nullptr, 10));
  }
  return 512;
}

// `n` distinct offsets in [0, size) (all of them if n >= size), each with a bit to flip.
std::vector<std::pair<std::size_t, int>> flip_sites(std::size_t size, std::size_t n,
                                                    std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::size_t> offsets(size);
  for (std::size_t i = 0; i < size; ++i) offsets[i] = i;
  std::shuffle(offsets.begin(), offsets.end(), rng);
  offsets.resize(std::min(n, size));
  std::sort(offsets.begin(), offsets.end());
  std::vector<std::pair<std::size_t, int>> sites;
  for (std::size_t off : offsets) sites.emplace_back(off, static_cast<int>(rng() % 8));
  return sites;
}

// Truncation points of a data file: 0, inside and at the end of its header, every section
// boundary (header start, inside the header, payload start, inside the payload), size - 1.
std::vector<std::size_t> cut_points(const Layout& l, std::size_t size) {
  std::set<std::size_t> cuts = {0,
                                1,
                                7,
                                8,
                                9,
                                12,
                                16,
                                l.header_bytes / 2,
                                l.header_bytes - 8,
                                l.header_bytes - 1,
                                l.header_bytes,
                                size - 1};
  for (const Section& s : l.sections) {
    for (std::size_t c : {s.begin, s.begin + 1, s.begin + 4, s.begin + 8, s.begin + 24,
                          s.payload() - 1, s.payload(), s.payload() + 1,
                          s.payload() + static_cast<std::size_t>(s.stored) / 2, s.end() - 1}) {
      if (c < size) cuts.insert(c);
    }
  }
  return {cuts.begin(), cuts.end()};
}

// ── forked children for hostile input ────────────────────────────────────────────────────────

// Runs `fn` in a child process and returns its Status. The child gets `seconds` (a hang fails
// the test instead of stalling it) and, outside AddressSanitizer builds, `headroom` bytes of
// address space beyond what the parent uses, so that an allocation sized by a forged length
// fails there; under AddressSanitizer __asan_default_options caps single allocations instead.
Status in_child(const std::function<Status()>& fn, std::size_t headroom = std::size_t{64} << 20,
                unsigned seconds = 30) {
  int fds[2];
  if (::pipe(fds) != 0) return Status::Internal("pipe failed");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return Status::Internal("fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(seconds);
#ifndef HNSWSTORE_TEST_ASAN
    long pages = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
      if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
      std::fclose(f);
    }
    if (pages > 0) {
      const rlim_t limit =
          static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE)) + headroom;
      const rlimit rl{limit, limit};
      ::setrlimit(RLIMIT_AS, &rl);
    }
#else
    (void)headroom;
#endif
    Status s;
    try {
      s = fn();
    } catch (const std::exception& e) {
      s = Status::Internal(std::string("exception: ") + e.what());
    }
    std::string out(1, static_cast<char>(s.code()));
    out += s.message();
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::write(fds[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string in;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return Status::Internal("the child died of signal " + std::to_string(sig) +
                            (sig == SIGALRM ? " (it hung)" : ""));
  }
  if (WEXITSTATUS(status) != 0 || in.empty()) {
    return Status::Internal("the child exited with status " + std::to_string(WEXITSTATUS(status)));
  }
  return Status(static_cast<StatusCode>(in[0]), in.substr(1));
}

// The status of loading the namespace (open_namespace, then a get), for a child to return.
Status load_status(const Pristine& p) {
  auto store =
      VectorStore::open(p.dir.path(), {.threads = 1, .logger = [](LogLevel, std::string_view) {}});
  if (!store) return store.error();
  auto ns = store->open_namespace(kNs);
  if (!ns) return ns.error();
  auto r = ns->get(p.records.front().id);
  return r ? Status::Ok() : r.error();
}

// ── the tests ────────────────────────────────────────────────────────────────────────────────

class Corruption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { (void)pristine(); }
  const Pristine& p = pristine();
};

TEST_F(Corruption, PristineFilesLoadExactlyWithTheirGraph) {
  ASSERT_EQ(p.records.size(), kCount - p.removed.size());
  // The layout is what the format says: four vectors sections, two graph sections, no gaps.
  std::vector<std::string> tags;
  for (const auto& s : p.vectors_layout.sections) tags.push_back(s.tag);
  EXPECT_EQ(tags, (std::vector<std::string>{"IDS_", "VECS", "NORM", "META"}));
  EXPECT_EQ(p.vectors_layout.sections.back().end(), p.vectors.size());
  tags.clear();
  for (const auto& s : p.graph_layout.sections) tags.push_back(s.tag);
  EXPECT_EQ(tags, (std::vector<std::string>{"LEVL", "LINK"}));
  EXPECT_EQ(p.graph_layout.sections.back().end(), p.graph.size());
  for (const auto& s : p.vectors_layout.sections) EXPECT_GT(s.raw, 0u) << s.tag;
  // At the store's default zstd level a writer keeps a frame only if it saves an eighth of the
  // section: the ids and the metadata texts shrink that much, random float vectors and their
  // norms do not. So flips land in zstd frames and in raw sections of the same file.
  for (const auto& s : p.vectors_layout.sections) {
    const bool compressible = s.tag == "IDS_" || s.tag == "META";
    EXPECT_EQ(s.codec, compressible ? kCodecZstd : kCodecRaw) << s.tag;
  }
  // This test's own encoders agree with the library's.
  EXPECT_EQ(seal_config(Metadata::parse(p.config)), p.config);
  EXPECT_EQ(config_naming(p, p.vectors, p.graph), p.config);
  std::string header = p.vectors;
  seal_header(header, kVectorsHeaderBytes);
  for (const auto& s : p.vectors_layout.sections) EXPECT_TRUE(seal_section(header, s.begin));
  EXPECT_EQ(header, p.vectors);
  const Section& ids = p.vectors_layout.section("IDS_");
  EXPECT_EQ(make_section("IDS_", ids.codec,
                         std::string_view(p.vectors).substr(ids.payload(), ids.stored), ids.raw),
            p.vectors.substr(ids.begin, ids.end() - ids.begin));
  const std::string frame = zstd_rle_frame(1000, 17, false, 4, 250);
  std::string out(1000, '\0');
  EXPECT_EQ(ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size()), 1000u);
  EXPECT_EQ(out, std::string(1000, 'x'));

  const Observed o = trial(p, pristine_files(p));
  EXPECT_TRUE(o.status.ok()) << o.status.to_string();
  EXPECT_EQ(o.problem, "");
  EXPECT_TRUE(o.warnings.empty()) << o.warning_text();
}

TEST_F(Corruption, ConfigBitFlipsNameTheConfig) {
  Tally t("config.json bit flips");
  for (const auto& [offset, bit] : flip_sites(p.config.size(), flips_per_file(), 1001)) {
    Files f = pristine_files(p);
    flip_bit(*f.config, offset, bit);
    const std::string at = "byte " + std::to_string(offset) + " bit " + std::to_string(bit);
    announce(at);
    const Observed o = trial(p, f);
    ++t.trials;
    if (!o.problem.empty()) {
      t.fail(at, o.problem);
    } else if (o.status.ok()) {
      ++t.ignored;
      t.ignored_at.push_back(at);
    } else if (o.status.code() == StatusCode::kCorruption && mentions(o.status, p.config_name)) {
      // A flip that makes format_major another number still fails the checksum first: it is
      // kCorruption, never kNotSupported (which a valid checksum alone may earn).
      ++t.errors;
    } else {
      t.fail(at, "expected kCorruption naming " + p.config_name + ", got " + o.status.to_string());
    }
  }
  t.print();
  EXPECT_GE(t.trials, std::min<std::size_t>(500, p.config.size()));
  EXPECT_EQ(t.ignored, 0u) << "config.json bytes no check covers";
}

TEST_F(Corruption, VectorsBitFlipsNameTheFileAndTheSection) {
  Tally t("vectors.bin bit flips");
  for (const auto& [offset, bit] : flip_sites(p.vectors.size(), flips_per_file(), 2002)) {
    Files f = pristine_files(p);
    flip_bit(*f.vectors, offset, bit);
    const std::string region = p.vectors_layout.region_of(offset);
    const std::string at =
        "byte " + std::to_string(offset) + " bit " + std::to_string(bit) + " (" + region + ")";
    announce(at);
    const Observed o = trial(p, f);
    ++t.trials;
    ++t.by_region[region];
    if (!o.problem.empty()) {
      t.fail(at, o.problem);
    } else if (o.status.ok()) {
      ++t.ignored;
      t.ignored_at.push_back(at);
    } else if (o.status.code() == StatusCode::kCorruption && mentions(o.status, p.vectors_name) &&
               mentions(o.status, region)) {
      ++t.errors;
    } else {
      t.fail(at, "expected kCorruption naming " + p.vectors_name + " and " + region + ", got " +
                     o.status.to_string());
    }
  }
  t.print();
  EXPECT_GE(t.trials, 500u);
  EXPECT_EQ(t.ignored, 0u) << "vectors.bin bytes no check covers";
}

TEST_F(Corruption, GraphBitFlipsAreAWarningAndARebuild) {
  Tally t("graph.bin bit flips");
  for (const auto& [offset, bit] : flip_sites(p.graph.size(), flips_per_file(), 3003)) {
    Files f = pristine_files(p);
    flip_bit(*f.graph, offset, bit);
    const std::string region = p.graph_layout.region_of(offset);
    const std::string at =
        "byte " + std::to_string(offset) + " bit " + std::to_string(bit) + " (" + region + ")";
    announce(at);
    const Observed o = trial(p, f);
    ++t.trials;
    ++t.by_region[region];
    if (!o.status.ok()) {
      t.fail(at, "a damaged graph must not be an error: " + o.status.to_string());
    } else if (!o.problem.empty()) {
      t.fail(at, o.problem);
    } else if (!o.graph_rebuilt()) {
      ++t.ignored;
      t.ignored_at.push_back(at);
    } else if (o.warning_text().find(p.graph_name) == std::string::npos) {
      t.fail(at, "the warning does not name the graph file: " + o.warning_text());
    } else {
      ++t.errors;
    }
  }
  t.print();
  EXPECT_GE(t.trials, 500u);
  EXPECT_EQ(t.ignored, 0u) << "graph.bin bytes no check covers";
}

TEST_F(Corruption, TruncatedConfigNamesTheConfig) {
  std::set<std::size_t> cuts = {
      0, 1, 2, p.config.size() / 2, p.config.size() - 1, p.config.size() - 2, p.config.size() - 4};
  for (std::size_t i = 0; i < p.config.size(); ++i) {
    if (p.config[i] == '\n') cuts.insert(i + 1 < p.config.size() ? i + 1 : i);  // every line end
  }
  Tally t("config.json truncations");
  for (std::size_t cut : cuts) {
    Files f = pristine_files(p);
    f.config->resize(cut);
    const Observed o = trial(p, f);
    ++t.trials;
    if (!o.problem.empty()) {
      t.fail("at " + std::to_string(cut), o.problem);
    } else if (o.status.code() == StatusCode::kCorruption && mentions(o.status, p.config_name)) {
      ++t.errors;
    } else {
      t.fail("at " + std::to_string(cut), "got " + o.status.to_string());
    }
  }
  // Appended bytes (a torn overwrite) are damage too.
  Files f = pristine_files(p);
  *f.config += "\n";
  const Observed o = trial(p, f);
  EXPECT_EQ(o.status.code(), StatusCode::kCorruption) << o.status.to_string();
  EXPECT_TRUE(mentions(o.status, p.config_name)) << o.status.to_string();
  t.print();
}

// Truncated at every section boundary, twice: with the config as committed (its size check
// names the file) and with a config that names the truncated file (as a writer that saved it
// would), so that the decoder's own truncation checks must name the file and the part cut.
TEST_F(Corruption, TruncatedVectorsNameTheFileAndTheSection) {
  Tally t("vectors.bin truncations");
  for (std::size_t cut : cut_points(p.vectors_layout, p.vectors.size())) {
    for (bool resealed : {false, true}) {
      Files f = pristine_files(p);
      f.vectors->resize(cut);
      if (resealed) f.config = config_naming(p, *f.vectors, p.graph);
      const std::string region = p.vectors_layout.region_of(cut);
      const std::string at =
          "at " + std::to_string(cut) + " (" + region + (resealed ? ", config names it)" : ")");
      const std::string expect = resealed ? region : "truncated";
      announce(at);
      const Observed o = trial(p, f);
      ++t.trials;
      ++t.by_region[region];
      if (!o.problem.empty()) {
        t.fail(at, o.problem);
      } else if (o.status.code() == StatusCode::kCorruption && mentions(o.status, p.vectors_name) &&
                 mentions(o.status, expect)) {
        ++t.errors;
      } else {
        t.fail(at, "expected kCorruption naming " + p.vectors_name + " and '" + expect + "', got " +
                       o.status.to_string());
      }
    }
  }
  // Bytes appended after the last section.
  for (bool resealed : {false, true}) {
    Files f = pristine_files(p);
    *f.vectors += std::string(40, '\0');
    if (resealed) f.config = config_naming(p, *f.vectors, p.graph);
    const Observed o = trial(p, f);
    EXPECT_EQ(o.problem, "");
    EXPECT_EQ(o.status.code(), StatusCode::kCorruption) << o.status.to_string();
    EXPECT_TRUE(mentions(o.status, p.vectors_name)) << o.status.to_string();
  }
  t.print();
}

TEST_F(Corruption, TruncatedGraphIsAWarningAndARebuild) {
  Tally t("graph.bin truncations");
  std::vector<std::string> damaged;
  for (std::size_t cut : cut_points(p.graph_layout, p.graph.size())) {
    std::string g = p.graph.substr(0, cut);
    damaged.push_back(g);
  }
  damaged.push_back(p.graph + std::string(8, '\0'));  // appended bytes
  for (const std::string& g : damaged) {
    for (bool resealed : {false, true}) {
      Files f = pristine_files(p);
      f.graph = g;
      if (resealed) f.config = config_naming(p, p.vectors, g);
      const std::string at = "size " + std::to_string(g.size()) + (resealed ? " (resealed)" : "");
      announce(at);
      const Observed o = trial(p, f);
      ++t.trials;
      if (!o.status.ok()) {
        t.fail(at, "must not be an error: " + o.status.to_string());
      } else if (!o.problem.empty()) {
        t.fail(at, o.problem);
      } else if (!o.graph_rebuilt() || o.warning_text().find(p.graph_name) == std::string::npos) {
        t.fail(at, "expected a warning naming the graph file, got: " + o.warning_text());
      } else {
        ++t.errors;
      }
    }
  }
  t.print();
}

TEST_F(Corruption, ZeroLengthAndMissingFiles) {
  {
    SCOPED_TRACE("zero-length config");
    Files f = pristine_files(p);
    f.config = "";
    const Observed o = trial(p, f);
    EXPECT_EQ(o.problem, "");
    EXPECT_EQ(o.status.code(), StatusCode::kCorruption) << o.status.to_string();
    EXPECT_TRUE(mentions(o.status, p.config_name)) << o.status.to_string();
  }
  for (bool missing : {false, true}) {
    SCOPED_TRACE(missing ? "missing vectors file" : "zero-length vectors file");
    Files f = pristine_files(p);
    if (missing) {
      f.vectors.reset();
    } else {
      f.vectors = "";
    }
    const Observed o = trial(p, f);
    EXPECT_EQ(o.problem, "");
    EXPECT_EQ(o.status.code(), StatusCode::kCorruption) << o.status.to_string();
    EXPECT_TRUE(mentions(o.status, p.vectors_name)) << o.status.to_string();
  }
  for (bool missing : {false, true}) {
    SCOPED_TRACE(missing ? "missing graph file" : "zero-length graph file");
    Files f = pristine_files(p);
    if (missing) {
      f.graph.reset();
    } else {
      f.graph = "";
    }
    const Observed o = trial(p, f);
    EXPECT_TRUE(o.status.ok()) << o.status.to_string();
    EXPECT_EQ(o.problem, "");
    EXPECT_TRUE(o.graph_rebuilt());
    EXPECT_NE(o.warning_text().find(p.graph_name), std::string::npos) << o.warning_text();
  }
  {
    SCOPED_TRACE("all three zero-length");
    const Observed o = trial(p, {"", "", ""});
    EXPECT_EQ(o.problem, "");
    EXPECT_EQ(o.status.code(), StatusCode::kCorruption) << o.status.to_string();
    EXPECT_TRUE(mentions(o.status, p.config_name)) << o.status.to_string();
  }
}

TEST_F(Corruption, NewerFormatsAreNotSupportedOnlyWithValidChecksums) {
  {
    SCOPED_TRACE("config format_major 2, valid checksum");
    Files f = pristine_files(p);
    f.config = config_naming(p, p.vectors, p.graph, [](Metadata& j) { j["format_major"] = 2; });
    const Observed o = trial(p, f);
    EXPECT_EQ(o.problem, "");
    EXPECT_EQ(o.status.code(), StatusCode::kNotSupported) << o.status.to_string();
    EXPECT_TRUE(mentions(o.status, p.config_name)) << o.status.to_string();
    // The same edit without a new checksum is damage, not a version.
    std::string text = p.config;
    const std::size_t at = text.find("\"format_major\": 1");
    ASSERT_NE(at, std::string::npos);
    text[at + 16] = '2';
    f.config = text;
    const Observed d = trial(p, f);
    EXPECT_EQ(d.status.code(), StatusCode::kCorruption) << d.status.to_string();
  }
  {
    SCOPED_TRACE("config format_minor 7: newer minors are read");
    Files f = pristine_files(p);
    f.config = config_naming(p, p.vectors, p.graph, [](Metadata& j) { j["format_minor"] = 7; });
    const Observed o = trial(p, f);
    EXPECT_TRUE(o.status.ok()) << o.status.to_string();
    EXPECT_EQ(o.problem, "");
    EXPECT_TRUE(o.warnings.empty()) << o.warning_text();
  }
  {
    SCOPED_TRACE("vectors header major 2, valid checksums");
    Files f = pristine_files(p);
    set_le<std::uint16_t>(*f.vectors, 8, 2);
    seal_header(*f.vectors, kVectorsHeaderBytes);
    f.config = config_naming(p, *f.vectors, p.graph);
    const Observed o = trial(p, f);
    EXPECT_EQ(o.problem, "");
    EXPECT_EQ(o.status.code(), StatusCode::kNotSupported) << o.status.to_string();
    EXPECT_TRUE(mentions(o.status, p.vectors_name)) << o.status.to_string();
  }
  {
    SCOPED_TRACE("graph header major 2, valid checksums");
    Files f = pristine_files(p);
    set_le<std::uint16_t>(*f.graph, 8, 2);
    seal_header(*f.graph, kGraphHeaderBytes);
    f.config = config_naming(p, p.vectors, *f.graph);
    const Observed o = trial(p, f);
    EXPECT_TRUE(o.status.ok()) << o.status.to_string();
    EXPECT_EQ(o.problem, "");
    EXPECT_TRUE(o.graph_rebuilt());
  }
  // A newer minor version may append sections: they are checked and skipped. The same bytes
  // under the current minor version are damage.
  for (bool newer : {true, false}) {
    SCOPED_TRACE(newer ? "vectors minor 1 with an extra section" : "extra section, minor 0");
    Files f = pristine_files(p);
    set_le<std::uint16_t>(*f.vectors, 10, newer ? 1 : 0);
    seal_header(*f.vectors, kVectorsHeaderBytes);
    *f.vectors += make_section("XTRA", kCodecRaw, "future", 6);
    *f.vectors += make_section("XTRZ", kCodecZstd, zstd(std::string(500, 'q')), 500);
    f.config = config_naming(p, *f.vectors, p.graph);
    // The graph names the checksum of the vectors file it was built for: now stale, rebuilt.
    const Observed o = trial(p, f);
    EXPECT_EQ(o.problem, "");
    if (newer) {
      EXPECT_TRUE(o.status.ok()) << o.status.to_string();
      EXPECT_TRUE(o.graph_rebuilt());
    } else {
      EXPECT_EQ(o.status.code(), StatusCode::kCorruption) << o.status.to_string();
      EXPECT_TRUE(mentions(o.status, p.vectors_name)) << o.status.to_string();
    }
    // A damaged extra section is damage even in a newer minor version.
    if (newer) {
      flip_bit(*f.vectors, f.vectors->size() - 3, 0);
      f.config = config_naming(p, *f.vectors, p.graph);
      const Observed d = trial(p, f);
      EXPECT_EQ(d.status.code(), StatusCode::kCorruption) << d.status.to_string();
      EXPECT_TRUE(mentions(d.status, "section XTRZ")) << d.status.to_string();
    }
  }
}

// Files of another generation or namespace put where the config expects this one's: same
// sizes (uncompressed sections, same ids and metadata), so only the checksums tell them apart.
TEST_F(Corruption, SwappedVectorsAndStaleGraphs) {
  TempDir other;
  const auto data = testing::embedding_like(kCount, kDim, 5);
  const auto moved = testing::embedding_like(kCount, kDim, 6);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kCount; ++i) ids.push_back(make_id(i));
  const StoreOptions so{.zstd_level = 0, .threads = 1};
  std::string gen1_vectors, gen1_graph, twin_vectors, twin_graph;
  std::string config, vectors_name, graph_name;
  std::vector<Record> gen2;
  {
    auto store = VectorStore::open(other.path(), so).value();
    auto ns = store.create_namespace(kNs, docs_options()).value();
    auto twin = store.create_namespace("twin", docs_options()).value();
    ASSERT_TRUE(ns.upsert(ids, data.data).ok());
    ASSERT_TRUE(twin.upsert(ids, moved.data).ok());
    ASSERT_TRUE(store.save().ok());
    for (const auto& e : fs::directory_iterator(other.path())) {
      const std::string name = e.path().filename().string();
      if (name.starts_with("docs.") && name.ends_with(".vectors.bin"))
        gen1_vectors = read_bytes(e.path());
      if (name.starts_with("docs.") && name.ends_with(".graph.bin"))
        gen1_graph = read_bytes(e.path());
      if (name.starts_with("twin.") && name.ends_with(".vectors.bin"))
        twin_vectors = read_bytes(e.path());
      if (name.starts_with("twin.") && name.ends_with(".graph.bin"))
        twin_graph = read_bytes(e.path());
    }
    // Generation 2: one vector changed.
    ASSERT_TRUE(ns.upsert(ids[5], std::span<const float>(moved.row(5), kDim)).ok());
    ASSERT_TRUE(ns.save().ok());
    for (const auto& id : ids) gen2.push_back(ns.get(id).value());
    ASSERT_TRUE(store.drop_namespace("twin").ok());
    ASSERT_TRUE(store.close().ok());
  }
  for (const auto& e : fs::directory_iterator(other.path())) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".vectors.bin")) vectors_name = name;
    if (name.ends_with(".graph.bin")) graph_name = name;
  }
  config = read_bytes(other.path() / "docs.config.json");
  const std::string vectors = read_bytes(other.path() / vectors_name);
  const std::string graph = read_bytes(other.path() / graph_name);
  ASSERT_EQ(gen1_vectors.size(), vectors.size());
  ASSERT_EQ(twin_vectors.size(), vectors.size());
  ASSERT_NE(gen1_vectors, vectors);

  auto run = [&](const std::string& c, const std::string& v, const std::string& g,
                 std::vector<std::string>* warnings) -> Status {
    write_bytes(other.path() / "docs.config.json", c);
    write_bytes(other.path() / vectors_name, v);
    write_bytes(other.path() / graph_name, g);
    LogCapture log;
    auto store = VectorStore::open(other.path(), {.threads = 1, .logger = log.logger()}).value();
    auto ns = store.open_namespace(kNs).value();
    for (const Record& want : gen2) {
      auto got = ns.get(want.id);
      if (!got) return got.error();
      if (got->vector != want.vector) return Status::Internal("wrong vector for " + want.id);
    }
    for (std::size_t i = 0; i < kCount; i += 31) {
      auto hits = ns.search(std::span<const float>(gen2[i].vector), {.k = 1});
      if (!hits || hits->empty() || hits->front().id != gen2[i].id) {
        return Status::Internal("searching for " + gen2[i].id + " found something else");
      }
    }
    std::lock_guard<std::mutex> lock(log.mutex);
    if (warnings != nullptr) *warnings = log.warnings;
    return Status::Ok();
  };
  auto expect_rebuild = [&](const std::vector<std::string>& warnings, std::string_view why) {
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("rebuilding"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find(graph_name), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find(why), std::string::npos) << warnings[0];
  };
  std::vector<std::string> warnings;
  ASSERT_TRUE(run(config, vectors, graph, &warnings).ok());
  EXPECT_TRUE(warnings.empty());
  for (const std::string* swapped : {&gen1_vectors, &twin_vectors}) {
    SCOPED_TRACE(swapped == &gen1_vectors ? "generation 1's vectors" : "another namespace's");
    const Status s = run(config, *swapped, graph, nullptr);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
    EXPECT_TRUE(mentions(s, vectors_name)) << s.to_string();
    EXPECT_TRUE(mentions(s, "docs.config.json")) << s.to_string();
  }
  // A graph of another save: the config's checksum tells; with a config naming it (a writer
  // that crashed between files cannot make one, but a copy can), its header's vectors checksum.
  for (const std::string* stale : {&gen1_graph, &twin_graph}) {
    SCOPED_TRACE(stale == &gen1_graph ? "generation 1's graph" : "another namespace's graph");
    ASSERT_TRUE(run(config, vectors, *stale, &warnings).ok());
    expect_rebuild(warnings, "");  // its size or its checksum differs from the config's
    Metadata j = Metadata::parse(config);
    j["files"]["graph"]["size"] = stale->size();
    j["files"]["graph"]["xxh3"] = hex64(xxh3(*stale));
    ASSERT_TRUE(run(seal_config(j), vectors, *stale, &warnings).ok());
    expect_rebuild(warnings, "stale");
  }
}

// Flips whose checksums are then recomputed, in the file and in the config: damage no checksum
// can see (a buggy writer, a hostile file). The decoders must still never crash or hang: the
// load fails with kCorruption or kNotSupported naming the file, or it succeeds (a flipped float
// is a different, valid value) and the namespace works.
TEST_F(Corruption, ResealedVectorsFlipsNeverCrash) {
  Tally t("vectors.bin flips under valid checksums");
  std::size_t loaded = 0;
  for (const auto& [offset, bit] : flip_sites(p.vectors.size(), flips_per_file() / 2, 4004)) {
    const std::string region = p.vectors_layout.region_of(offset);
    const std::string v =
        flip_and_reseal(p.vectors, offset, bit, kVectorsHeaderBytes, p.vectors_layout);
    Files f = pristine_files(p);
    f.vectors = v;
    f.config = config_naming(p, v, p.graph);
    const std::string at =
        "byte " + std::to_string(offset) + " bit " + std::to_string(bit) + " (" + region + ")";
    announce(at);
    const Observed o = trial(p, f, Check::kWorking);
    ++t.trials;
    ++t.by_region[region];
    if (o.status.ok()) {
      ++loaded;
      if (!o.problem.empty()) t.fail(at, o.problem);
    } else if ((o.status.code() == StatusCode::kCorruption ||
                o.status.code() == StatusCode::kNotSupported) &&
               mentions(o.status, p.vectors_name)) {
      ++t.errors;
    } else {
      t.fail(at, "got " + o.status.to_string());
    }
  }
  t.print();
  std::printf("[ corruption ]   %zu of them loaded (valid, different data)\n", loaded);
}

TEST_F(Corruption, ResealedGraphFlipsNeverCrashOrFail) {
  Tally t("graph.bin flips under valid checksums");
  std::size_t used = 0;
  for (const auto& [offset, bit] : flip_sites(p.graph.size(), flips_per_file() / 2, 5005)) {
    const std::string region = p.graph_layout.region_of(offset);
    const std::string g = flip_and_reseal(p.graph, offset, bit, kGraphHeaderBytes, p.graph_layout);
    Files f = pristine_files(p);
    f.graph = g;
    f.config = config_naming(p, p.vectors, g);
    const std::string at =
        "byte " + std::to_string(offset) + " bit " + std::to_string(bit) + " (" + region + ")";
    // A graph that passes every check may differ from the saved one (a link to another node):
    // its answers must be valid, not necessarily the exact ones.
    announce(at);
    const Observed o = trial(p, f, Check::kRecords);
    ++t.trials;
    ++t.by_region[region];
    if (!o.status.ok()) {
      t.fail(at, "a graph must never be an error: " + o.status.to_string());
    } else if (!o.problem.empty()) {
      t.fail(at, o.problem);
    } else if (o.graph_rebuilt()) {
      ++t.errors;
    } else {
      ++used;
    }
  }
  t.print();
  std::printf("[ corruption ]   %zu of them were used as graphs (valid structure)\n", used);
}

// A graph whose checksums are valid but whose structure is not: each is refused (a warning and a
// rebuild), never handed to hnswlib.
TEST_F(Corruption, GraphsWithImpossibleStructureAreRebuilt) {
  const Section& levl_section = p.graph_layout.section("LEVL");
  const Section& link_section = p.graph_layout.section("LINK");
  const std::string levels = section_raw(p.graph, levl_section);
  const std::string links_raw = section_raw(p.graph, link_section);
  std::vector<std::uint32_t> links(links_raw.size() / 4);
  std::memcpy(links.data(), links_raw.data(), links_raw.size());
  const std::size_t n = levels.size();
  const std::uint32_t entry = get_le<std::uint32_t>(p.graph, 40);
  const std::uint32_t top = get_le<std::uint32_t>(p.graph, 44);
  ASSERT_GE(top, 1u) << "the test needs a graph with an upper level";
  // Where each node's lists start.
  std::vector<std::size_t> offsets(n + 1);
  {
    std::size_t pos = 0;
    for (std::size_t i = 0; i < n; ++i) {
      offsets[i] = pos;
      for (std::size_t l = 0; l <= static_cast<unsigned char>(levels[i]); ++l)
        pos += 1 + links[pos];
    }
    offsets[n] = pos;
    ASSERT_EQ(pos, links.size());
  }
  auto list_at = [&](std::size_t node, std::size_t level) {
    std::size_t pos = offsets[node];
    for (std::size_t l = 0; l < level; ++l) pos += 1 + links[pos];
    return pos;  // the count word
  };
  std::size_t ground = n;  // a node on level 0 only
  for (std::size_t i = 0; i < n && ground == n; ++i) {
    if (levels[i] == 0) ground = i;
  }
  ASSERT_LT(ground, n);
  // Its record (graph nodes are the vectors file's slots), to search for it: a greedy descent
  // from the entry point then steps onto it on the entry point's top level.
  std::string ground_id;
  {
    const std::string ids = section_raw(p.vectors, p.vectors_layout.section("IDS_"));
    std::size_t pos = 0;
    for (std::size_t i = 0; i <= ground; ++i) {
      const auto len = get_le<std::uint32_t>(ids, pos);
      ground_id = ids.substr(pos + 4, len);
      pos += 4 + len;
    }
  }
  const std::vector<float>& ground_vector = p.records[p.position.at(ground_id)].vector;
  auto graph_file = [&](std::string_view lv, const std::vector<std::uint32_t>& lk,
                        const std::function<void(std::string&)>& header = {}) {
    std::string g = p.graph.substr(0, kGraphHeaderBytes);
    if (header) header(g);
    seal_header(g, kGraphHeaderBytes);
    g += make_section("LEVL", kCodecRaw, lv, lv.size());
    const std::string_view bytes(reinterpret_cast<const char*>(lk.data()), lk.size() * 4);
    g += make_section("LINK", kCodecRaw, bytes, bytes.size());
    return g;
  };
  std::vector<std::pair<std::string, std::string>> cases;
  cases.emplace_back("re-encoded uncompressed (valid)", graph_file(levels, links));
  {
    // The entry point's top-level list leads to a node that has no list on that level: hnswlib
    // would read that node's missing upper lists.
    auto lk = links;
    const std::size_t at = list_at(entry, top);
    if (lk[at] == 0) {  // the entry point alone on its level: give it a link
      lk.insert(lk.begin() + static_cast<std::ptrdiff_t>(at) + 1, 0);
      lk[at] = 1;
    }
    lk[at + 1] = static_cast<std::uint32_t>(ground);
    cases.emplace_back("upper-level link to a node below that level", graph_file(levels, lk));
  }
  {
    auto lk = links;
    lk[list_at(ground, 0) + 1] = static_cast<std::uint32_t>(n);
    cases.emplace_back("link to a node that does not exist", graph_file(levels, lk));
    lk = links;
    lk[list_at(ground, 0) + 1] = 0xFFFFFFFFu;
    cases.emplace_back("link to node 2^32-1", graph_file(levels, lk));
  }
  {
    auto lk = links;
    lk[list_at(ground, 0)] = 17;  // more than 2 * m
    cases.emplace_back("level-0 list longer than 2m", graph_file(levels, lk));
    lk = links;
    lk[list_at(ground, 0)] = 0xFFFFFFFFu;
    cases.emplace_back("list count 2^32-1", graph_file(levels, lk));
  }
  {
    std::string lv = levels;
    lv[ground] = static_cast<char>(top + 1);
    cases.emplace_back("a node above the top level", graph_file(lv, links));
    lv = levels;
    lv[ground] = 1;  // its lists no longer parse
    cases.emplace_back("a node's level without its lists", graph_file(lv, links));
  }
  cases.emplace_back("entry point not on the top level",
                     graph_file(levels, links, [&](std::string& h) {
                       set_le<std::uint32_t>(h, 40, static_cast<std::uint32_t>(ground));
                     }));
  cases.emplace_back("entry point out of range", graph_file(levels, links, [&](std::string& h) {
                       set_le<std::uint32_t>(h, 40, static_cast<std::uint32_t>(n));
                     }));
  cases.emplace_back("max level 4096", graph_file(levels, links, [&](std::string& h) {
                       set_le<std::uint32_t>(h, 44, 4096);
                     }));
  cases.emplace_back("another m", graph_file(levels, links, [&](std::string& h) {
                       set_le<std::uint32_t>(h, 32, 9);
                       set_le<std::uint32_t>(h, 36, 18);
                     }));
  cases.emplace_back("node count 2^40", graph_file(levels, links, [&](std::string& h) {
                       set_le<std::uint64_t>(h, 24, std::uint64_t{1} << 40);
                     }));
  {
    std::string g = p.graph.substr(0, levl_section.end());
    const std::string packed = zstd(links_raw);
    g += make_section("LINK", kCodecZstd, packed, std::uint64_t{1} << 40);
    cases.emplace_back("LINK claims 2^40 bytes", g);
    g = p.graph.substr(0, levl_section.end());
    g += make_section("LINK", kCodecZstd, packed, UINT64_MAX);
    cases.emplace_back("LINK claims 2^64-1 bytes", g);
    g = p.graph.substr(0, levl_section.end());
    g += make_section("LINK", kCodecZstd, zstd_rle_frame(std::nullopt, 17, false, 600, 1 << 17),
                      links_raw.size());
    cases.emplace_back("LINK is a zstd bomb", g);
  }
  for (const auto& [what, g] : cases) {
    SCOPED_TRACE(what);
    Files f = pristine_files(p);
    f.graph = g;
    f.config = config_naming(p, p.vectors, g);
    Status s = in_child([&] {
      const Observed o = trial(p, f);
      if (!o.problem.empty()) return Status::Internal(o.problem);
      if (!o.status.ok()) return o.status;
      auto store = VectorStore::open(p.dir.path(),
                                     {.threads = 1, .logger = [](LogLevel, std::string_view) {}});
      auto hits = store.value().open_namespace(kNs).value().search(ground_vector, {.k = 1});
      if (!hits || hits->empty() || hits->front().id != ground_id) {
        return Status::Internal("searching for " + ground_id + " found something else");
      }
      return o.graph_rebuilt() ? Status::Corruption(o.warning_text()) : Status::Ok();
    });
    std::printf("[ corruption ] %s: %s\n", what.c_str(), s.to_string().c_str());
    if (what.find("(valid)") != std::string::npos) {
      EXPECT_TRUE(s.ok()) << s.to_string();
    } else {
      EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();  // i.e. rebuilt, correct
      EXPECT_TRUE(mentions(s, p.graph_name)) << s.to_string();
    }
  }
}

// Vectors files whose header and section checksums are valid but whose lengths lie. Each is
// loaded in a child with little address space (or under AddressSanitizer's allocation cap) and
// a time limit: the answer must be kCorruption naming the file and the part that lies.
TEST_F(Corruption, VectorsWithLyingLengthsAreRefusedCheaply) {
  const Layout& l = p.vectors_layout;
  const std::string ids = section_raw(p.vectors, l.section("IDS_"));
  const std::string vecs = section_raw(p.vectors, l.section("VECS"));
  const std::string norm = section_raw(p.vectors, l.section("NORM"));
  const std::string meta = section_raw(p.vectors, l.section("META"));
  const std::uint64_t count = p.records.size();

  struct Case {
    std::string what;
    std::string file;
    std::optional<std::uint64_t> config_count;  // the config's count, if it lies too
    std::string expect;                         // the part the message must name
  };
  std::vector<Case> cases;
  // A vectors file from a header and four (already built) sections.
  auto file = [&](std::uint64_t header_count, std::string s_ids, std::string s_vecs,
                  std::string s_norm, std::string s_meta) {
    std::string f = p.vectors.substr(0, kVectorsHeaderBytes);
    set_le<std::uint64_t>(f, 24, header_count);
    seal_header(f, kVectorsHeaderBytes);
    return f + s_ids + s_vecs + s_norm + s_meta;
  };
  const std::string s_ids = make_section("IDS_", kCodecRaw, ids, ids.size());
  const std::string s_vecs = make_section("VECS", kCodecRaw, vecs, vecs.size());
  const std::string s_norm = make_section("NORM", kCodecRaw, norm, norm.size());
  const std::string s_meta = make_section("META", kCodecRaw, meta, meta.size());
  cases.push_back({"re-encoded uncompressed (valid)", file(count, s_ids, s_vecs, s_norm, s_meta),
                   std::nullopt, ""});

  // Counts.
  cases.push_back({"count 2^40 in the header only",
                   file(std::uint64_t{1} << 40, s_ids, s_vecs, s_norm, s_meta), std::nullopt,
                   "header"});
  cases.push_back({"count 0xFFFFFFF0 in header and config",
                   file(0xFFFFFFF0u, s_ids, s_vecs, s_norm, s_meta), 0xFFFFFFF0u, "header"});
  cases.push_back({"count 10^6 in header and config", file(1000000, s_ids, s_vecs, s_norm, s_meta),
                   1000000, "section IDS_"});
  // Stored sizes.
  for (std::uint64_t stored : {UINT64_MAX, std::uint64_t{1} << 62, std::uint64_t{ids.size() + 1}}) {
    std::string s = s_ids;
    set_le<std::uint64_t>(s, 8, stored);
    cases.push_back({"IDS_ stores " + std::to_string(stored) + " bytes",
                     file(count, s, s_vecs, s_norm, s_meta), std::nullopt, "section IDS_"});
  }
  // Decoded sizes.
  const std::string packed_ids = zstd(ids);
  const std::string packed_meta = zstd(meta);
  for (std::uint64_t raw : {UINT64_MAX, std::uint64_t{1} << 40, std::uint64_t{ids.size() - 1},
                            std::uint64_t{ids.size() + 1}}) {
    cases.push_back(
        {"IDS_ (zstd) claims " + std::to_string(raw) + " bytes",
         file(count, make_section("IDS_", kCodecZstd, packed_ids, raw), s_vecs, s_norm, s_meta),
         std::nullopt, "section IDS_"});
    cases.push_back(
        {"META (zstd) claims " + std::to_string(raw) + " bytes",
         file(count, s_ids, s_vecs, s_norm, make_section("META", kCodecZstd, packed_meta, raw)),
         std::nullopt, "section META"});
  }
  cases.push_back(
      {"VECS (uncompressed) claims another raw size",
       file(count, s_ids, make_section("VECS", kCodecRaw, vecs, vecs.size() + 4), s_norm, s_meta),
       std::nullopt, "section VECS"});
  cases.push_back({"an unknown codec",
                   file(count, make_section("IDS_", 9, ids, ids.size()), s_vecs, s_norm, s_meta),
                   std::nullopt, "section IDS_"});
  // zstd frames that lie.
  const std::uint64_t huge = std::uint64_t{1} << 40;
  cases.push_back(
      {"META: a frame announcing 2^40 bytes in a 128 MiB window",
       file(count, s_ids, s_vecs, s_norm,
            make_section("META", kCodecZstd, zstd_rle_frame(huge, 27, false, 1, 100), huge)),
       std::nullopt, "section META"});
  cases.push_back(
      {"META: a single-segment frame announcing 2^40 bytes",
       file(count, s_ids, s_vecs, s_norm,
            make_section("META", kCodecZstd, zstd_rle_frame(huge, 0, true, 1, 100), huge)),
       std::nullopt, "section META"});
  cases.push_back(
      {"META: a frame with a 128 MiB window, section sized as real",
       file(count, s_ids, s_vecs, s_norm,
            make_section("META", kCodecZstd, zstd_rle_frame(100, 27, false, 1, 100), 100)),
       std::nullopt, "section META"});
  cases.push_back(
      {"META: a frame announcing 2^40 bytes, section sized as real",
       file(count, s_ids, s_vecs, s_norm,
            make_section("META", kCodecZstd, zstd_rle_frame(huge, 17, false, 1, 100), 100)),
       std::nullopt, "section META"});
  cases.push_back(
      {"VECS: a zstd bomb (73 GiB from 2.4 MB, 128 KiB window), section of its real size",
       file(count, s_ids,
            make_section("VECS", kCodecZstd,
                         zstd_rle_frame(std::nullopt, 17, false, 600000, 1 << 17), vecs.size()),
            s_norm, s_meta),
       std::nullopt, "section VECS"});
  cases.push_back(
      {"VECS: a zstd bomb (200 MiB from 800 KB, 1 KiB window), section of its real size",
       file(count, s_ids,
            make_section("VECS", kCodecZstd, zstd_rle_frame(std::nullopt, 10, false, 200000, 1024),
                         vecs.size()),
            s_norm, s_meta),
       std::nullopt, "section VECS"});
  // META has no bound but its real output (metadata has no size limit): what a frame really
  // decodes to is allocated, at most 2^15 times its stored bytes. 16 MiB fits the headroom.
  cases.push_back({"META: a zstd bomb (16 MiB from 64 KB, 1 KiB window) claiming 2^40 bytes",
                   file(count, s_ids, s_vecs, s_norm,
                        make_section("META", kCodecZstd,
                                     zstd_rle_frame(std::nullopt, 10, false, 16384, 1024), huge)),
                   std::nullopt, "section META"});
  cases.push_back({"IDS_: a frame that is cut short",
                   file(count,
                        make_section("IDS_", kCodecZstd,
                                     packed_ids.substr(0, packed_ids.size() / 2), ids.size()),
                        s_vecs, s_norm, s_meta),
                   std::nullopt, "section IDS_"});
  cases.push_back({"IDS_: bytes after the frame",
                   file(count, make_section("IDS_", kCodecZstd, packed_ids + "junk", ids.size()),
                        s_vecs, s_norm, s_meta),
                   std::nullopt, "section IDS_"});
  // Id and metadata lengths.
  for (std::uint32_t len :
       {0xFFFFFFFFu, 0x80000000u, 1025u, 0u, static_cast<std::uint32_t>(ids.size())}) {
    std::string raw = ids;
    set_le<std::uint32_t>(raw, 0, len);
    cases.push_back(
        {"first id length " + std::to_string(len),
         file(count, make_section("IDS_", kCodecRaw, raw, raw.size()), s_vecs, s_norm, s_meta),
         std::nullopt, "section IDS_"});
    raw = meta;
    set_le<std::uint32_t>(raw, 0, len);
    if (len == 0) continue;  // an empty metadata text is a parse error, covered below
    cases.push_back(
        {"first metadata length " + std::to_string(len),
         file(count, s_ids, s_vecs, s_norm, make_section("META", kCodecRaw, raw, raw.size())),
         std::nullopt, "section META"});
  }
  {
    // Two records with the same id.
    const auto first = get_le<std::uint32_t>(ids, 0);
    const auto second = get_le<std::uint32_t>(ids, 4 + first);
    std::string raw =
        ids.substr(0, 4 + first) + ids.substr(0, 4 + first) + ids.substr(8 + first + second);
    cases.push_back(
        {"an id twice",
         file(count, make_section("IDS_", kCodecRaw, raw, raw.size()), s_vecs, s_norm, s_meta),
         std::nullopt, "section IDS_"});
  }
  {
    // Metadata that is not an object, not JSON, or nested far too deep.
    const auto first = get_le<std::uint32_t>(meta, 0);
    for (const std::string& text :
         {std::string("[1,2]"), std::string("{\"a\":"), std::string("{\"a\":\"\xff\"}"),
          std::string(200000, '[') + std::string(200000, ']')}) {
      std::string raw;
      put_le<std::uint32_t>(raw, static_cast<std::uint32_t>(text.size()));
      raw += text + meta.substr(4 + first);
      cases.push_back({"metadata " + text.substr(0, 12),
                       file(count, s_ids, s_vecs, s_norm,
                            make_section("META", kCodecZstd, zstd(raw), raw.size())),
                       std::nullopt, "section META"});
    }
  }
  {
    // A NaN vector and a zero norm.
    std::string raw = vecs;
    set_le<std::uint32_t>(raw, 4 * kDim * 3 + 8, 0x7FC00000u);
    cases.push_back(
        {"a NaN",
         file(count, s_ids, make_section("VECS", kCodecRaw, raw, raw.size()), s_norm, s_meta),
         std::nullopt, "section VECS"});
    raw = norm;
    set_le<float>(raw, 4 * 7, 0.0f);
    cases.push_back(
        {"a zero norm",
         file(count, s_ids, s_vecs, make_section("NORM", kCodecRaw, raw, raw.size()), s_meta),
         std::nullopt, "section NORM"});
  }

  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Files f = pristine_files(p);
    f.vectors = c.file;
    f.config = config_naming(p, c.file, p.graph, [&](Metadata& j) {
      if (c.config_count) j["count"] = *c.config_count;
    });
    install(p, f);
    const auto start = std::chrono::steady_clock::now();
    const Status s = in_child([&] { return load_status(p); });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("[ corruption ] %s: %s\n", c.what.c_str(), s.to_string().c_str());
    if (c.expect.empty()) {
      EXPECT_TRUE(s.ok()) << s.to_string();
      continue;
    }
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
    EXPECT_TRUE(mentions(s, p.vectors_name)) << s.to_string();
    EXPECT_TRUE(mentions(s, c.expect)) << s.to_string();
    // Refused for what it is, not because memory ran out.
    EXPECT_FALSE(mentions(s, "llocat")) << s.to_string();
    EXPECT_LT(seconds, 10.0);
  }
}

}  // namespace
}  // namespace hnswstore
