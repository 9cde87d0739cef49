// Pins the worked example of docs/format.md to what the library writes, so that the document
// cannot drift from the code: the hexdumps and the config text are parsed out of the document
// and compared byte for byte. In static builds the internal encoders and decoders are also
// checked against them. See docs/format.md, "How the test pins this example".
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

#ifdef HNSWSTORE_FORMAT_TEST_INTERNALS
#include "format.hpp"
#include "persistence.hpp"
#endif

namespace hnswstore {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// ── reading docs/format.md ───────────────────────────────────────────────────────────────────

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::string& format_doc() {
  static const std::string text =
      read_whole_file(fs::path(HNSWSTORE_SOURCE_DIR) / "docs" / "format.md");
  return text;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// The lines inside the one fenced block that stands between "<!-- pinned: NAME -->" and
// "<!-- /pinned -->".
::testing::AssertionResult pinned_block(std::string_view name, std::vector<std::string>& out) {
  const std::string open = "<!-- pinned: " + std::string(name) + " -->";
  const std::vector<std::string> lines = split_lines(format_doc());
  if (lines.empty()) return ::testing::AssertionFailure() << "docs/format.md is missing or empty";
  const auto first = std::find(lines.begin(), lines.end(), open);
  if (first == lines.end()) return ::testing::AssertionFailure() << "no line " << open;
  if (std::find(first + 1, lines.end(), open) != lines.end()) {
    return ::testing::AssertionFailure() << open << " appears twice";
  }
  auto it = first + 1;
  if (it == lines.end() || it->rfind("```", 0) != 0) {
    return ::testing::AssertionFailure() << open << " is not followed by a ``` fence";
  }
  out.clear();
  for (++it; it != lines.end() && *it != "```"; ++it) out.push_back(*it);
  if (it == lines.end()) return ::testing::AssertionFailure() << open << ": unclosed fence";
  if (++it == lines.end() || *it != "<!-- /pinned -->") {
    return ::testing::AssertionFailure()
           << open << ": the fence is not followed by <!-- /pinned -->";
  }
  return ::testing::AssertionSuccess();
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "00000048: 01 00 00 00   | note": the offset must equal the bytes on the lines before; the
// bytes are lower-case two-digit hex numbers up to '|'.
::testing::AssertionResult parse_hexdump(const std::vector<std::string>& lines, std::string& out) {
  out.clear();
  for (std::size_t n = 0; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    auto bad = [&](std::string_view why) {
      return ::testing::AssertionFailure()
             << "hexdump line " << n + 1 << " '" << line << "': " << why;
    };
    if (line.size() < 10 || line[8] != ':') return bad("expected 8 hex digits and ':'");
    std::uint64_t offset = 0;
    for (std::size_t i = 0; i < 8; ++i) {
      const int d = hex_digit(line[i]);
      if (d < 0) return bad("the offset is not lower-case hex");
      offset = offset * 16 + static_cast<std::uint64_t>(d);
    }
    if (offset != out.size()) return bad("offset differs from the number of bytes before it");
    const std::string_view data = std::string_view(line).substr(9, line.find('|') - 9);
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < data.size();) {
      if (data[i] == ' ') {
        ++i;
        continue;
      }
      if (i + 1 >= data.size() || hex_digit(data[i]) < 0 || hex_digit(data[i + 1]) < 0 ||
          (i + 2 < data.size() && data[i + 2] != ' ')) {
        return bad("expected two-digit lower-case hex bytes");
      }
      out += static_cast<char>(hex_digit(data[i]) * 16 + hex_digit(data[i + 1]));
      ++bytes;
      i += 2;
    }
    if (bytes == 0) return bad("no bytes");
  }
  if (out.empty()) return ::testing::AssertionFailure() << "empty hexdump";
  return ::testing::AssertionSuccess();
}

std::string pinned_bytes(std::string_view name) {
  std::vector<std::string> lines;
  std::string bytes;
  EXPECT_TRUE(pinned_block(name, lines));
  EXPECT_TRUE(parse_hexdump(lines, bytes)) << "in the block " << name;
  return bytes;
}

std::string pinned_text(std::string_view name) {
  std::vector<std::string> lines;
  EXPECT_TRUE(pinned_block(name, lines));
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

::testing::AssertionResult same_bytes(std::string_view doc, std::string_view code) {
  const std::size_t n = std::min(doc.size(), code.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (doc[i] != code[i]) {
      char buf[96];
      std::snprintf(buf, sizeof buf,
                    "first difference at offset 0x%zx: the document has %02x, the code %02x", i,
                    static_cast<unsigned char>(doc[i]), static_cast<unsigned char>(code[i]));
      return ::testing::AssertionFailure() << buf;
    }
  }
  if (doc.size() != code.size()) {
    return ::testing::AssertionFailure()
           << "the document has " << doc.size() << " bytes, the code " << code.size();
  }
  return ::testing::AssertionSuccess();
}

// ── the example namespace ────────────────────────────────────────────────────────────────────

constexpr std::string_view kName = "demo";
constexpr std::string_view kCreated = "2026-01-01T12:00:00Z";
constexpr std::string_view kSaved = "2026-01-01T12:30:00Z";
constexpr std::string_view kLibraryVersion = "0.1.0";

NamespaceOptions example_options() {
  NamespaceOptions o;
  o.dimension = 2;
  o.metric = Metric::kL2;
  o.hnsw.graph_threshold = 1;  // a graph from the first record: the example shows a graph file
  return o;
}

std::vector<Record> example_records() {
  return {{"a", {1.0f, 2.0f}, Metadata{{"lang", "en"}}}, {"bc", {-0.5f, 0.25f}, Metadata()}};
}

StoreOptions example_store_options() {
  StoreOptions so;
  so.zstd_level = 0;
  so.threads = 1;
  so.logger = [](LogLevel, std::string_view) {};
  return so;
}

// ── config.json's checksum line ──────────────────────────────────────────────────────────────

constexpr std::string_view kChecksumPrefix = "  \"checksum\": \"";
constexpr std::string_view kChecksumEnd = "\"\n}\n";
constexpr std::size_t kChecksumLineBytes = 35;

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::uint64_t xxh3_of(std::string_view bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

// The checksum line as docs/format.md defines it: the XXH3-64 of every byte before it.
::testing::AssertionResult has_valid_checksum_line(std::string_view text) {
  if (text.size() < kChecksumLineBytes) return ::testing::AssertionFailure() << "too short";
  const std::string_view body = text.substr(0, text.size() - kChecksumLineBytes);
  const std::string_view line = text.substr(body.size());
  const std::string expected =
      std::string(kChecksumPrefix) + hex16(xxh3_of(body)) + std::string(kChecksumEnd);
  if (line != expected) {
    return ::testing::AssertionFailure()
           << "last line '" << line << "', expected '" << expected << "'";
  }
  return ::testing::AssertionSuccess();
}

std::string with_checksum_line(std::string_view body) {
  return std::string(body) + std::string(kChecksumPrefix) + hex16(xxh3_of(body)) +
         std::string(kChecksumEnd);
}

// Replaces the value of a top-level string member and recomputes the checksum line.
void set_member(std::string& text, std::string_view key, std::string_view value) {
  const std::string start = "\n  \"" + std::string(key) + "\": \"";
  const std::size_t at = text.find(start);
  ASSERT_NE(at, std::string::npos) << key;
  ASSERT_EQ(text.find(start, at + 1), std::string::npos) << key << " twice";
  const std::size_t from = at + start.size();
  const std::size_t to = text.find('"', from);
  ASSERT_NE(to, std::string::npos);
  text.replace(from, to - from, value);
  text = with_checksum_line(std::string_view(text).substr(0, text.size() - kChecksumLineBytes));
}

std::set<std::string> list_dir(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

// ── the pinned blocks against the public API ─────────────────────────────────────────────────

TEST(FormatDoc, PinnedBlocksAreWellFormed) {
  const std::string vectors = pinned_bytes("vectors.bin");
  const std::string graph = pinned_bytes("graph.bin");
  const std::string config = pinned_text("config.json");
  EXPECT_EQ(vectors.size(), 218u);
  EXPECT_EQ(graph.size(), 138u);
  EXPECT_EQ(vectors.substr(0, 8), "hnswsvec");
  EXPECT_EQ(graph.substr(0, 8), "hnswsgrf");
  // The document's own arithmetic: the graph names the vectors file, the config names both.
  const std::uint64_t vectors_sum = xxh3_of(vectors);
  std::string sum_bytes(8, '\0');
  std::memcpy(sum_bytes.data(), &vectors_sum, 8);
  EXPECT_EQ(graph.substr(16, 8), sum_bytes);
  EXPECT_NE(config.find("\"xxh3\": \"" + hex16(xxh3_of(vectors)) + "\""), std::string::npos);
  EXPECT_NE(config.find("\"xxh3\": \"" + hex16(xxh3_of(graph)) + "\""), std::string::npos);
  EXPECT_NE(config.find("\"size\": " + std::to_string(vectors.size()) + ",\n"), std::string::npos);
  EXPECT_NE(config.find("\"size\": " + std::to_string(graph.size()) + ",\n"), std::string::npos);
  EXPECT_TRUE(has_valid_checksum_line(config));
}

TEST(FormatDoc, SavedFilesAreTheWorkedExample) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  {
    auto store = VectorStore::open(dir, example_store_options());
    ASSERT_TRUE(store.has_value()) << store.error().message();
    auto ns = store->create_namespace(kName, example_options());
    ASSERT_TRUE(ns.has_value()) << ns.error().message();
    const std::vector<Record> records = example_records();
    ASSERT_TRUE(ns->upsert(records).ok());
    ASSERT_TRUE(store->save().ok());
    ASSERT_TRUE(store->close().ok());
  }
  EXPECT_EQ(list_dir(dir),
            (std::set<std::string>{"LOCK", "demo.config.json", "demo.000001.vectors.bin",
                                   "demo.000001.graph.bin"}));
  EXPECT_TRUE(
      same_bytes(pinned_bytes("vectors.bin"), read_whole_file(dir / "demo.000001.vectors.bin")))
      << "demo.000001.vectors.bin";
  EXPECT_TRUE(same_bytes(pinned_bytes("graph.bin"), read_whole_file(dir / "demo.000001.graph.bin")))
      << "demo.000001.graph.bin";

  std::string config = read_whole_file(dir / "demo.config.json");
  EXPECT_TRUE(has_valid_checksum_line(config)) << "as written by the library";
  set_member(config, "created", kCreated);
  set_member(config, "saved", kSaved);
  set_member(config, "library_version", kLibraryVersion);
  EXPECT_TRUE(same_bytes(pinned_text("config.json"), config)) << "demo.config.json\n" << config;
}

TEST(FormatDoc, GenerationsAndLeftoversAreNamedAsDocumented) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  {
    auto store = VectorStore::open(dir, example_store_options());
    ASSERT_TRUE(store.has_value());
    auto ns = store->create_namespace(kName, example_options());
    ASSERT_TRUE(ns.has_value());
    const std::vector<Record> records = example_records();
    ASSERT_TRUE(ns->upsert(records).ok());
    ASSERT_TRUE(ns->save().ok());
    ASSERT_TRUE(ns->upsert("d", std::vector<float>{3.0f, 4.0f}).ok());
    ASSERT_TRUE(ns->save().ok());
    ASSERT_TRUE(store->close().ok());
  }
  // The second save is generation 2; generation 1's files are gone.
  EXPECT_EQ(list_dir(dir),
            (std::set<std::string>{"LOCK", "demo.config.json", "demo.000002.vectors.bin",
                                   "demo.000002.graph.bin"}));
  // Leftovers a writer's open removes, and files that are not the store's.
  for (const char* name :
       {"demo.config.json.tmp", "demo.000001.vectors.bin", "gone.000007.graph.bin", "notes.txt",
        "x.99999999999999999999.vectors.bin", "demo.0x1.graph.bin"}) {
    std::ofstream(dir / name) << "junk";
  }
  const std::set<std::string> junk = list_dir(dir);
  {
    StoreOptions ro = example_store_options();
    ro.read_only = true;
    auto store = VectorStore::open(dir, ro);
    ASSERT_TRUE(store.has_value()) << store.error().message();
    EXPECT_EQ(store->list_namespaces(), std::vector<std::string>{"demo"});
  }
  EXPECT_EQ(list_dir(dir), junk) << "a read-only open removes nothing";
  {
    auto store = VectorStore::open(dir, example_store_options());
    ASSERT_TRUE(store.has_value()) << store.error().message();
    auto ns = store->open_namespace(kName);
    ASSERT_TRUE(ns.has_value());
    EXPECT_EQ(ns->size(), 3u);
  }
  EXPECT_EQ(list_dir(dir),
            (std::set<std::string>{"LOCK", "demo.config.json", "demo.000002.vectors.bin",
                                   "demo.000002.graph.bin", "notes.txt",
                                   "x.99999999999999999999.vectors.bin", "demo.0x1.graph.bin"}));
}

#ifdef HNSWSTORE_FORMAT_TEST_INTERNALS

// ── the encoders and decoders (static builds: they are internal) ─────────────────────────────

// The example's records, in slot order, as the encoders see them.
struct ExampleSource {
  std::vector<std::string> ids = {"a", "bc"};
  std::vector<float> vectors = {1.0f, 2.0f, -0.5f, 0.25f};
  std::vector<Metadata> metadata = {Metadata{{"lang", "en"}}, Metadata::object()};

  detail::VectorsSource source() const {
    detail::VectorsSource s;
    s.count = ids.size();
    s.dimension = 2;
    s.metric = Metric::kL2;
    s.id = [this](std::size_t i) { return std::string_view(ids[i]); };
    s.vector = [this](std::size_t i) { return vectors.data() + 2 * i; };
    s.norm = [](std::size_t) { return 1.0f; };
    s.metadata = [this](std::size_t i) -> const Metadata& { return metadata[i]; };
    return s;
  }
};

detail::GraphImage example_graph() {
  detail::GraphImage g;
  g.max_m = 16;
  g.max_m0 = 32;
  g.entry_point = 0;
  g.max_level = 0;
  g.levels = {0, 0};
  g.offsets = {0, 2, 4};
  g.links = {1, 1, 1, 0};  // node 0: one link, to 1; node 1: one link, to 0
  return g;
}

detail::NamespaceConfig example_config(std::string_view vectors, std::string_view graph) {
  detail::NamespaceConfig c;
  c.name = std::string(kName);
  c.options = example_options();
  c.generation = 1;
  c.count = 2;
  c.vectors = {"demo.000001.vectors.bin", vectors.size(), detail::xxh3(vectors)};
  c.graph = detail::FileRef{"demo.000001.graph.bin", graph.size(), detail::xxh3(graph)};
  c.library_version = std::string(kLibraryVersion);
  c.created = std::string(kCreated);
  c.saved = std::string(kSaved);
  return c;
}

constexpr std::string_view kVectorsName = "demo.000001.vectors.bin";
constexpr std::string_view kGraphName = "demo.000001.graph.bin";

Status decode_vectors(std::string_view bytes, detail::VectorsImage* out = nullptr) {
  detail::VectorsImage image;
  return detail::decode_vectors(bytes, kVectorsName, example_options(), 2, out ? out : &image);
}

Status decode_graph(std::string_view bytes, std::uint64_t vectors_checksum,
                    detail::GraphImage* out = nullptr) {
  detail::GraphImage image;
  return detail::decode_graph(bytes, kGraphName, vectors_checksum, 2, 16, out ? out : &image);
}

Status decode_config(std::string_view bytes, detail::NamespaceConfig* out = nullptr) {
  detail::NamespaceConfig config;
  return detail::decode_config(bytes, "demo.config.json", out ? out : &config);
}

template <class T>
void put_at(std::string& bytes, std::size_t pos, T v) {
  std::memcpy(bytes.data() + pos, &v, sizeof v);
}

// Recomputes a binary file's header checksum after a test edited its header.
void reseal_header(std::string& bytes, std::size_t header_bytes) {
  put_at<std::uint64_t>(bytes, header_bytes - 8,
                        xxh3_of(std::string_view(bytes).substr(0, header_bytes - 8)));
}

TEST(FormatEncoders, ReproduceThePinnedBytes) {
  const ExampleSource src;
  const std::string vectors = detail::encode_vectors(src.source(), 0);
  const std::string graph = detail::encode_graph(example_graph(), detail::xxh3(vectors), 0);
  EXPECT_TRUE(same_bytes(pinned_bytes("vectors.bin"), vectors)) << "encode_vectors";
  EXPECT_TRUE(same_bytes(pinned_bytes("graph.bin"), graph)) << "encode_graph";
  EXPECT_TRUE(
      same_bytes(pinned_text("config.json"), detail::encode_config(example_config(vectors, graph))))
      << "encode_config";
  // Sections that zstd cannot shrink are written raw at any level.
  for (int level : {1, 3, 19}) {
    EXPECT_EQ(detail::encode_vectors(src.source(), level), vectors) << "zstd level " << level;
    EXPECT_EQ(detail::encode_graph(example_graph(), detail::xxh3(vectors), level), graph);
  }
}

TEST(FormatDecoders, ReadThePinnedBytes) {
  const std::string vectors = pinned_bytes("vectors.bin");
  const std::string graph = pinned_bytes("graph.bin");
  const std::string config = pinned_text("config.json");

  detail::VectorsImage image;
  ASSERT_TRUE(decode_vectors(vectors, &image).ok()) << decode_vectors(vectors).message();
  const ExampleSource src;
  EXPECT_EQ(image.dimension, 2u);
  EXPECT_EQ(image.ids, src.ids);
  EXPECT_EQ(image.vectors, src.vectors);
  EXPECT_TRUE(image.norms.empty());
  EXPECT_EQ(image.metadata, src.metadata);

  detail::GraphImage g;
  const Status gs = decode_graph(graph, xxh3_of(vectors), &g);
  ASSERT_TRUE(gs.ok()) << gs.message();
  const detail::GraphImage want = example_graph();
  EXPECT_EQ(g.max_m, want.max_m);
  EXPECT_EQ(g.max_m0, want.max_m0);
  EXPECT_EQ(g.entry_point, want.entry_point);
  EXPECT_EQ(g.max_level, want.max_level);
  EXPECT_EQ(g.levels, want.levels);
  EXPECT_EQ(g.offsets, want.offsets);
  EXPECT_EQ(g.links, want.links);

  detail::NamespaceConfig c;
  const Status cs = decode_config(config, &c);
  ASSERT_TRUE(cs.ok()) << cs.message();
  EXPECT_EQ(c.name, kName);
  EXPECT_EQ(c.options, example_options());
  EXPECT_EQ(c.generation, 1u);
  EXPECT_EQ(c.count, 2u);
  EXPECT_EQ(c.vectors.name, kVectorsName);
  EXPECT_EQ(c.vectors.size, vectors.size());
  EXPECT_EQ(c.vectors.checksum, xxh3_of(vectors));
  ASSERT_TRUE(c.graph.has_value());
  EXPECT_EQ(c.graph->name, kGraphName);
  EXPECT_EQ(c.graph->size, graph.size());
  EXPECT_EQ(c.graph->checksum, xxh3_of(graph));
  EXPECT_EQ(c.library_version, kLibraryVersion);
  EXPECT_EQ(c.created, kCreated);
  EXPECT_EQ(c.saved, kSaved);
  EXPECT_EQ(c.format_minor, 0);
}

// Every byte of every file is checked: no single-bit change, truncation or appended byte is
// accepted.
TEST(FormatDecoders, RefuseEveryBitFlipAndEveryTruncation) {
  const std::string vectors = pinned_bytes("vectors.bin");
  const std::string graph = pinned_bytes("graph.bin");
  const std::string config = pinned_text("config.json");
  const std::uint64_t sum = xxh3_of(vectors);
  struct File {
    std::string_view name;
    const std::string& bytes;
    std::function<Status(std::string_view)> decode;
  };
  const File files[] = {
      {"vectors.bin", vectors, [](std::string_view b) { return decode_vectors(b); }},
      {"graph.bin", graph, [sum](std::string_view b) { return decode_graph(b, sum); }},
      {"config.json", config, [](std::string_view b) { return decode_config(b); }},
  };
  for (const File& f : files) {
    ASSERT_TRUE(f.decode(f.bytes).ok()) << f.name;
    for (std::size_t i = 0; i < f.bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string b = f.bytes;
        b[i] = static_cast<char>(b[i] ^ (1 << bit));
        const Status s = f.decode(b);
        EXPECT_EQ(s.code(), StatusCode::kCorruption)
            << f.name << ": byte " << i << " bit " << bit << ": " << s.message();
      }
    }
    for (std::size_t n = 0; n < f.bytes.size(); ++n) {
      EXPECT_EQ(f.decode(std::string_view(f.bytes).substr(0, n)).code(), StatusCode::kCorruption)
          << f.name << " truncated to " << n << " bytes";
    }
    EXPECT_EQ(f.decode(f.bytes + '\n').code(), StatusCode::kCorruption) << f.name << " + 1 byte";
  }
}

// Compatibility: sections appended by a newer minor are checked and skipped, another major is
// kNotSupported, config members a reader does not know are ignored.
TEST(FormatDecoders, FollowTheCompatibilityPolicy) {
  const std::string vectors = pinned_bytes("vectors.bin");
  const std::string graph = pinned_bytes("graph.bin");
  const std::string config = pinned_text("config.json");

  auto appended = [](std::string bytes) {
    const std::string payload = "new";
    std::string header = "XTRA";
    header.append(4, '\0');  // codec 0
    header.append(16, '\0');
    put_at<std::uint64_t>(header, 8, payload.size());
    put_at<std::uint64_t>(header, 16, payload.size());
    const std::uint64_t sum = xxh3_of(header + payload);
    header.append(8, '\0');
    put_at<std::uint64_t>(header, 24, sum);
    return bytes + header + payload;
  };
  auto with_version = [](std::string bytes, std::size_t header_bytes, std::uint16_t major,
                         std::uint16_t minor) {
    put_at<std::uint16_t>(bytes, 8, major);
    put_at<std::uint16_t>(bytes, 10, minor);
    reseal_header(bytes, header_bytes);
    return bytes;
  };
  const std::uint64_t sum = xxh3_of(vectors);

  EXPECT_EQ(decode_vectors(appended(vectors)).code(), StatusCode::kCorruption);
  EXPECT_TRUE(decode_vectors(appended(with_version(vectors, 40, 1, 1))).ok());
  EXPECT_TRUE(decode_vectors(with_version(vectors, 40, 1, 7)).ok());
  std::string bad_extra = appended(with_version(vectors, 40, 1, 1));
  bad_extra.back() = static_cast<char>(bad_extra.back() ^ 1);
  EXPECT_EQ(decode_vectors(bad_extra).code(), StatusCode::kCorruption);
  EXPECT_EQ(decode_vectors(with_version(vectors, 40, 2, 0)).code(), StatusCode::kNotSupported);
  EXPECT_EQ(decode_vectors(with_version(vectors, 40, 0, 0)).code(), StatusCode::kNotSupported);
  std::string flagged = vectors;
  put_at<std::uint32_t>(flagged, 12, 1);
  reseal_header(flagged, 40);
  EXPECT_EQ(decode_vectors(flagged).code(), StatusCode::kCorruption);

  EXPECT_EQ(decode_graph(appended(graph), sum).code(), StatusCode::kCorruption);
  EXPECT_TRUE(decode_graph(appended(with_version(graph, 56, 1, 1)), sum).ok());
  EXPECT_EQ(decode_graph(with_version(graph, 56, 2, 0), sum).code(), StatusCode::kNotSupported);

  const std::string body = config.substr(0, config.size() - kChecksumLineBytes);
  std::string major2 = body;
  major2.replace(major2.find("\"format_major\": 1"), 17, "\"format_major\": 2");
  EXPECT_EQ(decode_config(with_checksum_line(major2)).code(), StatusCode::kNotSupported);
  std::string added = body;
  added.insert(2, "  \"added_by_a_newer_minor\": {\"x\": [1, 2]},\n");
  EXPECT_TRUE(decode_config(with_checksum_line(added)).ok());
  EXPECT_TRUE(decode_config(config).ok());
}

// A link on level l must lead to a node that has level l: hnswlib's search reads the
// neighbour's list on that level.
TEST(FormatDecoders, RefuseALinkToANodeBelowTheListsLevel) {
  detail::GraphImage g;
  g.max_m = 16;
  g.max_m0 = 32;
  g.entry_point = 0;
  g.max_level = 1;
  g.levels = {1, 0};
  g.links = {1, 1, /* level 1 */ 1, 1, /* node 1 */ 1, 0};
  const std::uint64_t sum = 42;
  const Status s = decode_graph(detail::encode_graph(g, sum, 0), sum);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("section LINK: node 0 links on level 1 to node 1"), std::string::npos)
      << s.message();
  g.links = {1, 1, /* level 1 */ 0, /* node 1 */ 1, 0};
  EXPECT_TRUE(decode_graph(detail::encode_graph(g, sum, 0), sum).ok());
}

TEST(FormatDecoders, ReadCompressedSections) {
  ExampleSource src;
  for (int i = 0; i < 200; ++i) {
    src.ids.push_back("record-" + std::to_string(i));
    src.vectors.push_back(static_cast<float>(i % 4));
    src.vectors.push_back(0.5f);
    src.metadata.push_back(Metadata{{"lang", "en"}, {"group", i % 3}});
  }
  const std::string bytes = detail::encode_vectors(src.source(), 3);
  // Every section of this file shrinks except the empty NORM.
  std::size_t pos = 40;
  std::vector<std::uint32_t> codecs;
  while (pos < bytes.size()) {
    std::uint32_t codec = 0;
    std::uint64_t stored = 0;
    std::memcpy(&codec, bytes.data() + pos + 4, 4);
    std::memcpy(&stored, bytes.data() + pos + 8, 8);
    codecs.push_back(codec);
    pos += 32 + stored;
  }
  EXPECT_EQ(codecs, (std::vector<std::uint32_t>{1, 1, 0, 1}));
  detail::VectorsImage image;
  const Status s =
      detail::decode_vectors(bytes, kVectorsName, example_options(), src.ids.size(), &image);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(image.ids, src.ids);
  EXPECT_EQ(image.vectors, src.vectors);
  EXPECT_EQ(image.metadata, src.metadata);
}

TEST(FormatNames, ClassifyFollowsTheNamingRules) {
  using Kind = detail::DirEntryInfo::Kind;
  struct Case {
    const char* file;
    Kind kind;
    const char* ns;
    std::uint64_t generation;
  };
  const Case cases[] = {
      {"demo.config.json", Kind::kConfig, "demo", 0},
      {"demo.config.json.tmp", Kind::kTemp, "demo", 0},
      {"demo.000001.vectors.bin", Kind::kVectors, "demo", 1},
      {"demo.1234567.graph.bin", Kind::kGraph, "demo", 1234567},
      {"a.b.000002.graph.bin", Kind::kGraph, "a.b", 2},
      {"x.18446744073709551615.vectors.bin", Kind::kVectors, "x", 18446744073709551615u},
      {"x.18446744073709551616.vectors.bin", Kind::kOther, "", 0},
      {"x.99999999999999999999.vectors.bin", Kind::kOther, "", 0},
      {"x.+1.vectors.bin", Kind::kOther, "", 0},
      {"x.vectors.bin", Kind::kOther, "", 0},
      {"_x.000001.vectors.bin", Kind::kOther, "", 0},
      {"LOCK", Kind::kOther, "", 0},
  };
  for (const Case& c : cases) {
    const detail::DirEntryInfo info = detail::classify(c.file);
    EXPECT_EQ(info.kind, c.kind) << c.file;
    EXPECT_EQ(info.ns, c.ns) << c.file;
    EXPECT_EQ(info.generation, c.generation) << c.file;
  }
  EXPECT_EQ(detail::vectors_file_name("demo", 1), "demo.000001.vectors.bin");
  EXPECT_EQ(detail::graph_file_name("demo", 1234567), "demo.1234567.graph.bin");
  EXPECT_EQ(detail::config_file_name("demo"), "demo.config.json");
}

#endif  // HNSWSTORE_FORMAT_TEST_INTERNALS

}  // namespace
}  // namespace hnswstore
