// Tenancy: namespaces of one persistent store are isolated from each other.
//
// - A randomised model test: 20 namespaces (HNSW and flat) share a pool of ids; thousands of
//   random upserts, removes, metadata updates, searches, saves, reopens and drops are checked
//   against one std::map per namespace.
// - Hostile namespace names are refused (kInvalidArgument naming `name`) and touch nothing on
//   disk, neither inside the store's directory nor next to it.
// - Handles to a dropped namespace stay dropped after the name is reused, also across a reopen.
// - One tenant's quota neither limits another tenant nor lets a batch half-apply.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hnswstore/hnswstore.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// A printable, bounded form of a name (some hostile names hold control bytes or NULs).
std::string printable(std::string_view s, std::size_t max = 48) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* const kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

template <class T>
::testing::AssertionResult IsCode(const Result<T>& r, StatusCode code) {
  if (r.has_value()) return ::testing::AssertionFailure() << "succeeded, expected an error";
  if (r.error().code() != code) return ::testing::AssertionFailure() << r.error().to_string();
  return ::testing::AssertionSuccess();
}
inline ::testing::AssertionResult IsCode(const Status& s, StatusCode code) {
  if (s.code() != code) return ::testing::AssertionFailure() << s.to_string();
  return ::testing::AssertionSuccess();
}
inline ::testing::AssertionResult IsErrorNaming(const Status& s, StatusCode code,
                                               std::string_view word) {
  if (s.code() != code) {
    return ::testing::AssertionFailure()
           << s.to_string() << " (expected " << status_code_name(code) << ")";
  }
  if (s.message().find(word) == std::string::npos) {
    return ::testing::AssertionFailure() << "the message does not mention '" << word
                                         << "': " << s.to_string();
  }
  return ::testing::AssertionSuccess();
}
template <class T>
::testing::AssertionResult IsErrorNaming(const Result<T>& r, StatusCode code,
                                         std::string_view word) {
  if (r.has_value()) return ::testing::AssertionFailure() << "succeeded, expected an error";
  return IsErrorNaming(r.error(), code, word);
}

float l2(std::span<const float> a, std::span<const float> b) {
  float d = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return d;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// ── the model test ──────────────────────────────────────────────────────────────────────────

struct ModelRecord {
  std::vector<float> vector;
  Metadata metadata;
};

struct ModelNamespace {
  NamespaceOptions options;
  std::map<std::string, ModelRecord> records;  // byte-wise order, as scan() returns them
};

class TenancyModel {
 public:
  explicit TenancyModel(std::uint64_t seed) : rng_(seed) {}

  void run(const fs::path& dir, int steps) {
    dir_of_store_ = dir;
    store_options_.threads = 2;
    store_ = VectorStore::open(dir, store_options_).value();
    for (int i = 0; i < kNamespaces; ++i) create(name_of(i));
    full_check("after creation");
    for (step_ = 0; step_ < steps; ++step_) {
      one_step();
      if (::testing::Test::HasFatalFailure()) return;
      if (step_ % 97 == 0) {
        full_check("periodic");
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
    full_check("at the end");
    // And once more after a last reopen.
    reopen();
    full_check("after the last reopen");
    std::cout << "[ tenancy  ] " << steps << " steps: " << counts_.upserts << " upserts, "
              << counts_.batches << " batches, " << counts_.removes << " removes, "
              << counts_.updates << " metadata updates, " << counts_.searches << " searches, "
              << counts_.saves << " saves, " << counts_.reopens << " reopens, " << counts_.drops
              << " drops, " << counts_.recreates << " re-creations\n";
  }

 private:
  static constexpr int kNamespaces = 20;
  static constexpr int kIdPool = 50;

  struct Counts {
    int upserts = 0, batches = 0, removes = 0, updates = 0, searches = 0, saves = 0,
        reopens = 0, drops = 0, recreates = 0;
  };

  static std::string name_of(int i) { return "tenant-" + std::to_string(i); }

  std::string random_id() { return "id" + std::to_string(rng_() % kIdPool); }

  std::vector<float> random_vector(std::size_t dim) {
    // Quarter steps in [-4, 4]: exact in float, and ties in distance are possible (the checks
    // must cope with them).
    std::vector<float> v(dim);
    for (float& x : v) x = static_cast<float>(static_cast<int>(rng_() % 33) - 16) / 4.0f;
    return v;
  }

  Metadata next_metadata(const std::string& ns) {
    return {{"ns", ns}, {"v", ++version_}};
  }

  // A namespace of the pool: even ones HNSW, odd ones flat (re-creations may flip that).
  void create(const std::string& name) {
    NamespaceOptions o;
    o.dimension = 4 + rng_() % 5;
    o.metric = Metric::kL2;
    o.index = rng_() % 2 == 0 ? IndexKind::kHnsw : IndexKind::kFlat;
    o.hnsw = {.m = 6, .ef_construction = 40, .ef_search = 40, .seed = rng_() % 1000};
    auto ns = store_.create_namespace(name, o);
    ASSERT_TRUE(ns.has_value()) << name << ": " << ns.error().to_string();
    EXPECT_EQ(ns->size(), 0u) << name << " was created but is not empty";
    auto scanned = ns->scan();
    ASSERT_TRUE(scanned.has_value()) << scanned.error().to_string();
    EXPECT_TRUE(scanned->empty()) << name << ": a re-created namespace holds "
                                  << scanned->size() << " records of its predecessor";
    model_[name] = {o, {}};
    handles_[name] = *ns;
  }

  void reopen() {
    ASSERT_TRUE(store_.close().ok());
    // Handles outlive the store's close; their save() is kNotSupported from now on.
    if (!handles_.empty()) {
      EXPECT_TRUE(IsCode(handles_.begin()->second.save(), StatusCode::kNotSupported));
    }
    handles_.clear();
    auto reopened = VectorStore::open(dir_of_store_, store_options_);
    ASSERT_TRUE(reopened.has_value()) << reopened.error().to_string();
    store_ = std::move(*reopened);
    for (const auto& [name, m] : model_) {
      auto ns = store_.open_namespace(name);
      ASSERT_TRUE(ns.has_value()) << name << ": " << ns.error().to_string();
      EXPECT_EQ(ns->options(), m.options) << name;
      handles_[name] = *ns;
    }
    ++counts_.reopens;
  }

  // Checks that the namespace's size and (with `deep`) every record match the model.
  void check_namespace(const std::string& name, bool deep) {
    SCOPED_TRACE("namespace " + name);
    const ModelNamespace& m = model_.at(name);
    Namespace& ns = handles_.at(name);
    ASSERT_EQ(ns.size(), m.records.size());
    if (!deep) return;
    for (const auto& [id, rec] : m.records) {
      auto r = ns.get(id);
      ASSERT_TRUE(r.has_value()) << id << ": " << r.error().to_string();
      EXPECT_TRUE(same_bits(r->vector, rec.vector)) << id;
      EXPECT_EQ(r->metadata, rec.metadata) << id;
      EXPECT_TRUE(ns.contains(id)) << id;
    }
    for (int i = 0; i < kIdPool; ++i) {
      const std::string id = "id" + std::to_string(i);
      if (m.records.count(id) != 0) continue;
      EXPECT_FALSE(ns.contains(id)) << id << " is not in the model";
      EXPECT_TRUE(IsCode(ns.get(id), StatusCode::kNotFound)) << id;
    }
    auto all = ns.scan();
    ASSERT_TRUE(all.has_value()) << all.error().to_string();
    ASSERT_EQ(all->size(), m.records.size());
    auto it = m.records.begin();
    for (const Record& r : *all) {
      EXPECT_EQ(r.id, it->first) << "scan order or content differs";
      EXPECT_EQ(r.metadata, it->second.metadata) << r.id;
      ++it;
    }
  }

  void full_check(const std::string& when) {
    SCOPED_TRACE("full check " + when + " (step " + std::to_string(step_) + ")");
    std::vector<std::string> names;
    for (const auto& [name, m] : model_) names.push_back(name);
    ASSERT_EQ(store_.list_namespaces(), names);
    for (const auto& [name, m] : model_) {
      EXPECT_TRUE(store_.has_namespace(name)) << name;
      check_namespace(name, true);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }

  void check_search(const std::string& name) {
    const ModelNamespace& m = model_.at(name);
    Namespace& ns = handles_.at(name);
    const std::vector<float> q = random_vector(m.options.dimension);
    SearchOptions so;
    so.k = 1 + rng_() % 12;
    so.include_vectors = true;
    auto hits = ns.search(q, so);
    ++counts_.searches;
    ASSERT_TRUE(hits.has_value()) << hits.error().to_string();
    ASSERT_EQ(hits->size(), std::min<std::size_t>(so.k, m.records.size())) << "k=" << so.k;
    std::set<std::string> seen;
    for (std::size_t i = 0; i < hits->size(); ++i) {
      const Hit& h = (*hits)[i];
      EXPECT_TRUE(seen.insert(h.id).second) << "duplicate hit " << h.id;
      auto rec = m.records.find(h.id);
      ASSERT_NE(rec, m.records.end()) << h.id << " is not a record of " << name;
      EXPECT_EQ(h.metadata, rec->second.metadata) << h.id;
      EXPECT_TRUE(same_bits(h.vector, rec->second.vector)) << h.id;
      const float d = l2(q, rec->second.vector);
      EXPECT_NEAR(h.distance, d, 1e-4f * (1.0f + d)) << h.id;
      if (i > 0) {
        EXPECT_LE((*hits)[i - 1].distance, h.distance) << "hits not sorted";
      }
    }
    if (m.options.index == IndexKind::kFlat) {
      // Exact: the i-th distance is the model's i-th smallest (ties may order ids either way).
      std::vector<float> exact;
      for (const auto& [id, rec] : m.records) exact.push_back(l2(q, rec.vector));
      std::sort(exact.begin(), exact.end());
      for (std::size_t i = 0; i < hits->size(); ++i) {
        EXPECT_NEAR((*hits)[i].distance, exact[i], 1e-4f * (1.0f + exact[i]))
            << "flat result " << i << " is not the exact top-k";
      }
    }
  }

  void one_step() {
    const std::string name = name_of(static_cast<int>(rng_() % kNamespaces));
    SCOPED_TRACE("step " + std::to_string(step_) + " on " + name);
    if (model_.count(name) == 0) {
      // Dropped earlier: the name is free and a new namespace of that name starts empty.
      create(name);
      ++counts_.recreates;
      check_namespace(name, true);
      return;
    }
    ModelNamespace& m = model_.at(name);
    Namespace& ns = handles_.at(name);
    const auto what = rng_() % 1000;
    if (what < 300) {  // single upsert (insert or replace)
      const std::string id = random_id();
      ModelRecord rec{random_vector(m.options.dimension), next_metadata(name)};
      ASSERT_TRUE(ns.upsert(id, rec.vector, rec.metadata).ok());
      m.records[id] = std::move(rec);
      ++counts_.upserts;
    } else if (what < 400) {  // batch of distinct ids, records or columns
      std::set<std::string> ids;
      const std::size_t n = 1 + rng_() % 12;
      while (ids.size() < n) ids.insert(random_id());
      std::vector<Record> batch;
      for (const std::string& id : ids) {
        batch.push_back({id, random_vector(m.options.dimension), next_metadata(name)});
      }
      if (rng_() % 2 == 0) {
        ASSERT_TRUE(ns.upsert(batch).ok());
      } else {
        std::vector<std::string> cids;
        std::vector<float> flat;
        std::vector<Metadata> mds;
        for (const Record& r : batch) {
          cids.push_back(r.id);
          flat.insert(flat.end(), r.vector.begin(), r.vector.end());
          mds.push_back(r.metadata);
        }
        ASSERT_TRUE(ns.upsert(cids, flat, mds).ok());
      }
      for (Record& r : batch) m.records[r.id] = {std::move(r.vector), std::move(r.metadata)};
      ++counts_.batches;
    } else if (what < 530) {  // remove
      const std::string id = random_id();
      auto removed = ns.remove(id);
      ASSERT_TRUE(removed.has_value()) << removed.error().to_string();
      EXPECT_EQ(*removed, m.records.erase(id) == 1) << id;
      ++counts_.removes;
    } else if (what < 610) {  // update_metadata
      const std::string id = random_id();
      Metadata md = next_metadata(name);
      const Status s = ns.update_metadata(id, md);
      if (m.records.count(id) != 0) {
        ASSERT_TRUE(s.ok()) << s.to_string();
        m.records[id].metadata = std::move(md);
      } else {
        EXPECT_TRUE(IsCode(s, StatusCode::kNotFound)) << id;
      }
      ++counts_.updates;
    } else if (what < 840) {  // search
      check_search(name);
    } else if (what < 920) {  // get / contains of a random id
      const std::string id = random_id();
      auto r = ns.get(id);
      auto rec = m.records.find(id);
      EXPECT_EQ(ns.contains(id), rec != m.records.end()) << id;
      if (rec == m.records.end()) {
        EXPECT_TRUE(IsCode(r, StatusCode::kNotFound)) << id;
      } else {
        ASSERT_TRUE(r.has_value()) << r.error().to_string();
        EXPECT_TRUE(same_bits(r->vector, rec->second.vector)) << id;
        EXPECT_EQ(r->metadata, rec->second.metadata) << id;
      }
    } else if (what < 950) {  // save one namespace
      ASSERT_TRUE(ns.save().ok());
      EXPECT_FALSE(ns.stats().dirty);
      ++counts_.saves;
    } else if (what < 958) {  // save the store
      ASSERT_TRUE(store_.save().ok());
      ++counts_.saves;
    } else if (what < 964) {  // close and reopen (close saves everything)
      reopen();
      if (::testing::Test::HasFatalFailure()) return;
      full_check("after a reopen");
    } else if (what < 985) {  // drop
      Namespace old = ns;
      ASSERT_TRUE(store_.drop_namespace(name).ok());
      const std::vector<float> q = random_vector(m.options.dimension);
      EXPECT_TRUE(IsCode(old.search(q), StatusCode::kNotFound));
      EXPECT_TRUE(IsCode(old.get("id0"), StatusCode::kNotFound));
      EXPECT_TRUE(IsCode(old.upsert("id0", q), StatusCode::kNotFound));
      EXPECT_EQ(old.size(), 0u);
      EXPECT_FALSE(store_.has_namespace(name));
      model_.erase(name);
      handles_.erase(name);
      ++counts_.drops;
      return;
    } else {  // compact or set_ef_search: no visible change
      if (rng_() % 2 == 0) {
        ASSERT_TRUE(ns.compact().ok());
      } else {
        const std::size_t ef = 10 + rng_() % 60;
        ASSERT_TRUE(ns.set_ef_search(ef).ok());
        m.options.hnsw.ef_search = ef;  // options() reports it, and a save keeps it
        EXPECT_EQ(ns.options().hnsw.ef_search, ef);
      }
    }
    check_namespace(name, false);
  }

  std::mt19937_64 rng_;
  StoreOptions store_options_;
  VectorStore store_ = VectorStore::in_memory();
  fs::path dir_of_store_;
  std::map<std::string, ModelNamespace> model_;
  std::map<std::string, Namespace> handles_;
  std::int64_t version_ = 0;
  int step_ = 0;
  Counts counts_;
};

TEST(Tenancy, RandomOperationsOnTwentyNamespacesMatchOneModelEach) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "store";
  TenancyModel model(20260522);
  const auto start = std::chrono::steady_clock::now();
  model.run(dir, 3000);
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ tenancy  ] " << seconds << " s\n";
}

// ── hostile names ───────────────────────────────────────────────────────────────────────────

// Every entry below `root` (recursively): relative path -> "file <size> <mtime>" or "dir".
std::map<std::string, std::string> listing(const fs::path& root, const fs::path& skip = {}) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path& p = it->path();
    if (!skip.empty() && p == skip) {
      it.disable_recursion_pending();
      continue;
    }
    const std::string rel = fs::relative(p, root).string();
    if (it->is_directory()) {
      out[rel] = "dir " + std::to_string(it->last_write_time().time_since_epoch().count());
    } else {
      out[rel] = "file " + std::to_string(it->file_size()) + " " +
                 std::to_string(it->last_write_time().time_since_epoch().count());
    }
  }
  return out;
}

std::vector<std::string> hostile_names() {
  using namespace std::string_literals;
  std::vector<std::string> names = {
      ""s,
      "."s,
      ".."s,
      "..."s,
      "../x"s,
      "../sentinel.txt"s,
      "../sibling"s,
      "../sibling/inner.txt"s,
      "../../x"s,
      "/etc/passwd"s,
      "/"s,
      "/tmp"s,
      "a/b"s,
      "a/"s,
      "a/.."s,
      "a/../../sentinel.txt"s,
      "a\\b"s,
      "..\\..\\x"s,
      "\\"s,
      "a\0b"s,
      "a\0"s,
      "\0"s,
      "\0a"s,
      "../\0"s,
      std::string(kMaxNamespaceNameBytes + 1, 'n'),
      std::string(1000, 'n'),
      "a" + std::string(kMaxNamespaceNameBytes, 'b'),
      ".hidden"s,
      ".config.json"s,
      "-rf"s,
      "-"s,
      "_x"s,
      "_"s,
      "a\xEF\xBC\x8F" "b"s,        // fullwidth solidus U+FF0F
      "..\xEF\xBC\x8Fx"s,          // ..／x
      "a\xE2\x88\x95" "b"s,        // division slash U+2215
      "\xE2\x80\xA4\xE2\x80\xA4"s, // two one-dot leaders U+2024 (look like "..")
      "\xD0\xB0"s,                 // Cyrillic а U+0430
      "t\xD0\xB0nant"s,            // "tаnant" with a Cyrillic а
      "a\xE2\x80\x8B" "b"s,        // zero-width space U+200B
      "a\xE2\x80\xAE" "b"s,        // right-to-left override U+202E
      "e\xCC\x81"s,                // e + combining acute U+0301
      "\xC3\xA9"s,                 // é
      "\xEF\xBB\xBF" "a"s,         // byte order mark
      "a\xC0\xAF" "b"s,            // overlong UTF-8 encoding of '/'
      "a\xFF"s,                    // not UTF-8 at all
      "%2e%2e"s,
      "a%2fb"s,
      "~"s,
      "~root"s,
      "$HOME"s,
      "${HOME}"s,
      "a$b"s,
      "*"s,
      "a*"s,
      "?"s,
      "a?"s,
      "[a]"s,
      "a b"s,
      " a"s,
      "a "s,
      "\t"s,
      "a\tb"s,
      "a\nb"s,
      "\n"s,
      "a\r"s,
      "a\x7f"s,
      "\x01"s,
      "a:b"s,
      "C:\\x"s,
      "a|b"s,
      "a;b"s,
      "a'b"s,
      "a\"b"s,
      "a<b"s,
      "a>b"s,
      "a@b"s,
      "a#b"s,
      "a+b"s,
      "a=b"s,
      "a,b"s,
      "(a)"s,
      "{a}"s,
      "a!"s,
      "a&b"s,
      "`a`"s,
  };
  return names;
}

TEST(Tenancy, HostileNamesAreRefusedAndTouchNothingOnDisk) {
  TempDir parent;
  const fs::path store_dir = parent.path() / "store";
  {
    std::ofstream(parent.path() / "sentinel.txt") << "do not touch";
    fs::create_directories(parent.path() / "sibling");
    std::ofstream(parent.path() / "sibling" / "inner.txt") << "nor this";
    std::ofstream(parent.path() / "x") << "x";
  }
  const NamespaceOptions o{.dimension = 4, .metric = Metric::kL2};
  const auto names = hostile_names();
  ASSERT_GE(std::set<std::string>(names.begin(), names.end()).size(), 50u);

  std::map<std::string, std::string> outside, inside;
  {
    auto store = VectorStore::open(store_dir, {.threads = 1}).value();
    // A legitimate tenant, so that an aliasing name (e.g. "keep\0") would show.
    auto keep = store.create_namespace("keep", o).value();
    ASSERT_TRUE(keep.upsert("r", std::vector<float>{1, 2, 3, 4}, {{"k", 1}}).ok());
    ASSERT_TRUE(store.save().ok());
    outside = listing(parent.path(), store_dir);
    inside = listing(store_dir);

    std::vector<std::string> all = names;
    all.push_back(std::string("keep\0", 5));
    all.push_back(std::string("keep\0../x", 9));
    for (const std::string& name : all) {
      SCOPED_TRACE("name \"" + printable(name) + "\" (" + std::to_string(name.size()) + " bytes)");
      EXPECT_TRUE(IsErrorNaming(store.create_namespace(name, o), StatusCode::kInvalidArgument,
                                "name"));
      EXPECT_TRUE(IsErrorNaming(store.get_or_create_namespace(name, o),
                                StatusCode::kInvalidArgument, "name"));
      EXPECT_TRUE(
          IsErrorNaming(store.open_namespace(name), StatusCode::kInvalidArgument, "name"));
      EXPECT_TRUE(
          IsErrorNaming(store.drop_namespace(name), StatusCode::kInvalidArgument, "name"));
      EXPECT_FALSE(store.has_namespace(name));
    }
    EXPECT_EQ(store.list_namespaces(), std::vector<std::string>{"keep"});
    EXPECT_EQ(listing(store_dir), inside) << "the store directory changed";
    EXPECT_EQ(listing(parent.path(), store_dir), outside) << "something beside the store changed";
    ASSERT_TRUE(store.save().ok());
    EXPECT_EQ(listing(store_dir), inside) << "the store directory changed after save()";
    ASSERT_TRUE(store.close().ok());
  }
  EXPECT_EQ(listing(store_dir), inside) << "the store directory changed after close()";
  EXPECT_EQ(listing(parent.path(), store_dir), outside) << "something beside the store changed";
  // The legitimate tenant is intact.
  auto reopened = VectorStore::open(store_dir, {.read_only = true}).value();
  EXPECT_EQ(reopened.list_namespaces(), std::vector<std::string>{"keep"});
  auto keep = reopened.open_namespace("keep").value();
  EXPECT_EQ(keep.get("r").value().metadata, (Metadata{{"k", 1}}));
}

// Valid names that look like other namespaces' files ("a.000001" beside "a", names ending in
// ".config.json" or ".vectors.bin") must not be mistaken for leftovers when a writer reopens.
TEST(Tenancy, ValidNamesThatLookLikeFileNamesKeepTheirOwnRecords) {
  TempDir tmp;
  const std::vector<std::string> names = {
      "a",          "a.000001",         "a.000001.vectors.bin", "a.000001.graph.bin",
      "a.config",   "a.config.json",    "a.config.json.tmp",    "a.1",
      "a.2",        "LOCK",             "a..b",                 "a.",
      "A",          "000001",           "a.000002",             "con",
      "nul",        "a-000001.vectors", std::string(kMaxNamespaceNameBytes, 'z')};
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto store = VectorStore::open(tmp.path(), {.threads = 1}).value();
    for (std::size_t i = 0; i < names.size(); ++i) {
      const NamespaceOptions o{.dimension = 4,
                               .metric = Metric::kL2,
                               .index = i % 2 == 0 ? IndexKind::kHnsw : IndexKind::kFlat};
      auto ns = store.get_or_create_namespace(names[i], o);
      ASSERT_TRUE(ns.has_value()) << names[i] << ": " << ns.error().to_string();
      // Each round adds one record per namespace (and so a new generation of its files).
      const std::vector<float> v = {static_cast<float>(i), static_cast<float>(round), 0, 1};
      ASSERT_TRUE(ns->upsert("r" + std::to_string(round), v, {{"ns", names[i]}}).ok());
      ASSERT_EQ(ns->size(), static_cast<std::size_t>(round + 1)) << names[i];
      for (int r = 0; r <= round; ++r) {
        auto rec = ns->get("r" + std::to_string(r));
        ASSERT_TRUE(rec.has_value()) << names[i] << " r" << r << ": " << rec.error().to_string();
        EXPECT_EQ(rec->metadata, (Metadata{{"ns", names[i]}})) << names[i];
        EXPECT_EQ(rec->vector[0], static_cast<float>(i)) << names[i];
        EXPECT_EQ(rec->vector[1], static_cast<float>(r)) << names[i];
      }
    }
    std::vector<std::string> sorted = names;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(store.list_namespaces(), sorted);
    ASSERT_TRUE(store.close().ok());
  }
}

// ── dropped handles ─────────────────────────────────────────────────────────────────────────

void ExpectDropped(Namespace& h) {
  const std::vector<float> v = {1, 0, 0, 0};
  const std::vector<Record> batch = {{"x", v, {}}};
  const std::vector<std::string> ids = {"y"};
  EXPECT_TRUE(IsCode(h.upsert("x", v), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.upsert(batch), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.upsert(ids, v), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.get("old-0"), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.get("new-0"), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.search(v), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.search_batch(v), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.scan(), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.remove("old-0"), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.remove(Filter()), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.update_metadata("old-0", Metadata{{"a", 1}}), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.compact(), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.set_ef_search(10), StatusCode::kNotFound));
  EXPECT_TRUE(IsCode(h.save(), StatusCode::kNotFound));
  EXPECT_EQ(h.size(), 0u);
  EXPECT_FALSE(h.contains("old-0"));
  EXPECT_FALSE(h.contains("new-0"));
  EXPECT_FALSE(static_cast<bool>(h));
  EXPECT_EQ(h.stats().count, 0u);
}

class DroppedPersistent : public ::testing::TestWithParam<IndexKind> {};

TEST_P(DroppedPersistent, OldHandleStaysDroppedWhenTheNameIsReusedAndAfterReopen) {
  TempDir tmp;
  const NamespaceOptions o{.dimension = 4, .metric = Metric::kL2, .index = GetParam()};
  Namespace old_handle, old_copy;
  {
    auto store = VectorStore::open(tmp.path(), {.threads = 1}).value();
    old_handle = store.create_namespace("t", o).value();
    for (int i = 0; i < 20; ++i) {
      const std::vector<float> v = {static_cast<float>(i), 1, 2, 3};
      ASSERT_TRUE(old_handle.upsert("old-" + std::to_string(i), v, {{"gen", "old"}}).ok());
    }
    ASSERT_TRUE(store.save().ok());
    old_copy = old_handle;
    ASSERT_TRUE(store.drop_namespace("t").ok());
    {
      SCOPED_TRACE("right after the drop");
      ExpectDropped(old_handle);
      ExpectDropped(old_copy);
    }
    // Files of the dropped namespace are gone.
    for (const auto& e : fs::directory_iterator(tmp.path())) {
      EXPECT_FALSE(e.path().filename().string().starts_with("t."))
          << e.path().filename() << " survived the drop";
    }
    auto fresh = store.create_namespace("t", o).value();
    EXPECT_EQ(fresh.size(), 0u);
    EXPECT_TRUE(IsCode(fresh.get("old-0"), StatusCode::kNotFound));
    for (int i = 0; i < 5; ++i) {
      const std::vector<float> v = {static_cast<float>(i), 9, 9, 9};
      ASSERT_TRUE(fresh.upsert("new-" + std::to_string(i), v, {{"gen", "new"}}).ok());
    }
    {
      SCOPED_TRACE("after the name was reused");
      ExpectDropped(old_handle);
      ExpectDropped(old_copy);
    }
    EXPECT_EQ(fresh.size(), 5u);
    auto hits = fresh.search(std::vector<float>{0, 1, 2, 3}, {.k = 20}).value();
    ASSERT_EQ(hits.size(), 5u);
    for (const Hit& h : hits) EXPECT_EQ(h.metadata, (Metadata{{"gen", "new"}})) << h.id;
    ASSERT_TRUE(store.close().ok());
  }
  {
    SCOPED_TRACE("after the store was closed");
    ExpectDropped(old_handle);
  }
  auto store = VectorStore::open(tmp.path(), {.threads = 1}).value();
  EXPECT_EQ(store.list_namespaces(), std::vector<std::string>{"t"});
  auto again = store.open_namespace("t").value();
  ASSERT_EQ(again.size(), 5u);
  for (const Record& r : again.scan().value()) {
    EXPECT_TRUE(r.id.starts_with("new-")) << r.id;
    EXPECT_EQ(r.metadata, (Metadata{{"gen", "new"}})) << r.id;
  }
  {
    SCOPED_TRACE("after a reopen");
    ExpectDropped(old_handle);
  }
  // Dropped and not re-created: gone after a reopen too.
  ASSERT_TRUE(store.drop_namespace("t").ok());
  ExpectDropped(again);
  ASSERT_TRUE(store.close().ok());
  auto last = VectorStore::open(tmp.path(), {.threads = 1}).value();
  EXPECT_TRUE(last.list_namespaces().empty());
  EXPECT_TRUE(IsCode(last.open_namespace("t"), StatusCode::kNotFound));
}

INSTANTIATE_TEST_SUITE_P(HnswAndFlat, DroppedPersistent,
                         ::testing::Values(IndexKind::kHnsw, IndexKind::kFlat),
                         [](const auto& pi) { return std::string(to_string(pi.param)); });

// ── quotas across tenants ───────────────────────────────────────────────────────────────────

std::vector<float> vec4(std::size_t i, float salt = 0.0f) {
  return {static_cast<float>(i % 17), static_cast<float>(i / 17), salt, 1.0f};
}

std::map<std::string, Record> all_records(const Namespace& ns) {
  std::map<std::string, Record> out;
  for (Record& r : ns.scan().value()) out[r.id] = r;
  return out;
}

TEST(Tenancy, OneTenantAtItsQuotaDoesNotLimitAnotherAndOverrunsApplyNothing) {
  TempDir tmp;
  auto store = VectorStore::open(tmp.path(), {.threads = 2}).value();
  NamespaceOptions capped{.dimension = 4, .metric = Metric::kL2, .max_elements = 10};
  NamespaceOptions free_o{.dimension = 4, .metric = Metric::kL2};
  NamespaceOptions flat_capped = capped;
  flat_capped.index = IndexKind::kFlat;
  auto a = store.create_namespace("capped", capped).value();
  auto af = store.create_namespace("capped-flat", flat_capped).value();
  auto b = store.create_namespace("free", free_o).value();

  for (Namespace* ns : {&a, &af}) {
    for (std::size_t i = 0; i < 10; ++i) {
      ASSERT_TRUE(ns->upsert("id" + std::to_string(i), vec4(i), {{"owner", ns->name()}}).ok());
    }
    ASSERT_EQ(ns->size(), 10u);
  }
  // The other tenant takes far more than 10, with the same ids and more.
  {
    std::vector<Record> batch;
    for (std::size_t i = 0; i < 200; ++i) {
      batch.push_back({"id" + std::to_string(i), vec4(i, 5.0f), {{"owner", "free"}}});
    }
    ASSERT_TRUE(b.upsert(batch).ok());
    ASSERT_EQ(b.size(), 200u);
  }
  for (Namespace* ns : {&a, &af}) {
    SCOPED_TRACE(ns->name());
    const auto before = all_records(*ns);
    // One new id beyond the quota: refused, single or in a batch with updates in front.
    EXPECT_TRUE(IsErrorNaming(ns->upsert("id10", vec4(10)), StatusCode::kResourceExhausted,
                              "max_elements"));
    std::vector<Record> overrun;
    for (std::size_t i = 5; i < 15; ++i) {  // 5 updates and 5 new ids
      overrun.push_back({"id" + std::to_string(i), vec4(i, 7.0f), {{"owner", "overrun"}}});
    }
    EXPECT_TRUE(
        IsErrorNaming(ns->upsert(overrun), StatusCode::kResourceExhausted, "max_elements"));
    std::vector<std::string> ids;
    std::vector<float> flat;
    for (const Record& r : overrun) {
      ids.push_back(r.id);
      flat.insert(flat.end(), r.vector.begin(), r.vector.end());
    }
    EXPECT_TRUE(IsErrorNaming(ns->upsert(ids, flat), StatusCode::kResourceExhausted,
                              "max_elements"));
    EXPECT_EQ(ns->size(), 10u);
    for (std::size_t i = 10; i < 15; ++i) EXPECT_FALSE(ns->contains("id" + std::to_string(i)));
    EXPECT_EQ(all_records(*ns), before) << "a refused batch changed records";
    // Updates at the quota are fine, and the other tenant keeps growing meanwhile.
    ASSERT_TRUE(ns->upsert("id3", vec4(3, 1.0f), {{"owner", ns->name()}, {"u", 1}}).ok());
    ASSERT_TRUE(b.upsert("extra-" + ns->name(), vec4(999), {{"owner", "free"}}).ok());
  }
  EXPECT_EQ(b.size(), 202u);
  for (std::size_t i = 0; i < 200; ++i) {
    auto r = b.get("id" + std::to_string(i)).value();
    EXPECT_EQ(r.metadata, (Metadata{{"owner", "free"}}));
    EXPECT_EQ(r.vector, vec4(i, 5.0f));
  }

  // A memory quota: fill one tenant until it refuses, then a batch is refused whole.
  NamespaceOptions mem{.dimension = 4, .metric = Metric::kL2, .index = IndexKind::kFlat};
  mem.memory_limit_bytes = 256 * 1024;
  auto m = store.create_namespace("mem", mem).value();
  std::size_t accepted = 0;
  Status refused;
  for (std::size_t i = 0; i < 100000; ++i) {
    refused = m.upsert("m" + std::to_string(i), vec4(i), {{"pad", std::string(100, 'p')}});
    if (!refused.ok()) break;
    ++accepted;
  }
  ASSERT_TRUE(IsErrorNaming(refused, StatusCode::kResourceExhausted, "memory_limit_bytes"));
  ASSERT_GT(accepted, 10u);
  EXPECT_LE(m.stats().memory_bytes, mem.memory_limit_bytes);
  const auto before = all_records(m);
  std::vector<Record> batch;
  for (std::size_t i = 0; i < 50; ++i) {
    batch.push_back({"batch" + std::to_string(i), vec4(i), {{"pad", std::string(100, 'q')}}});
  }
  batch.push_back({"m0", vec4(0, 3.0f), {{"changed", true}}});  // an update in the batch too
  EXPECT_TRUE(IsErrorNaming(m.upsert(batch), StatusCode::kResourceExhausted, "memory_limit_bytes"));
  EXPECT_EQ(m.size(), accepted);
  for (std::size_t i = 0; i < 50; ++i) EXPECT_FALSE(m.contains("batch" + std::to_string(i)));
  EXPECT_EQ(all_records(m), before);
  // The other tenants are unaffected by the full one.
  ASSERT_TRUE(b.upsert("after-mem", vec4(1), {{"owner", "free"}}).ok());
  std::vector<Record> big;
  for (std::size_t i = 0; i < 2000; ++i) {
    big.push_back({"big" + std::to_string(i), vec4(i, 2.0f), {{"pad", std::string(100, 'b')}}});
  }
  ASSERT_TRUE(b.upsert(big).ok());
  EXPECT_EQ(b.size(), 2203u);
  // Quotas survive a reopen.
  ASSERT_TRUE(store.close().ok());
  auto reopened = VectorStore::open(tmp.path(), {.threads = 1}).value();
  auto a2 = reopened.open_namespace("capped").value();
  EXPECT_EQ(a2.options().max_elements, 10u);
  EXPECT_TRUE(IsErrorNaming(a2.upsert("id11", vec4(11)), StatusCode::kResourceExhausted,
                            "max_elements"));
  EXPECT_EQ(a2.size(), 10u);
  auto b2 = reopened.open_namespace("free").value();
  EXPECT_EQ(b2.size(), 2203u);
  ASSERT_TRUE(b2.upsert("after-reopen", vec4(2)).ok());
}

}  // namespace
}  // namespace hnswstore
