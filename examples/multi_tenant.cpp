// multi_tenant: many tenants in one store, each in its own namespace, with quotas and a memory
// budget.
//
//   multi_tenant [store-dir]      (default: a fresh directory under the system's temp dir,
//                                  removed at the end)
//
// 1. Isolation: the same id in two namespaces is two independent records, and a search in one
//    namespace never returns another's.
// 2. Quotas: a tenant's namespace has max_elements and memory_limit_bytes; a batch that would
//    overrun them is refused whole with kResourceExhausted, and other tenants are unaffected.
// 3. Small namespaces: a tenant's namespace is scanned exactly, without hnswlib's graph and its
//    2.5 MiB of locks, until it holds enough records for the graph to pay off.
// 4. Memory budget: 200 tenants whose records together need far more memory than the store's
//    StoreOptions::memory_budget_bytes. The store keeps the recently used tenants loaded,
//    saves and unloads the others, and loads a tenant again when it is used; stats() shows which
//    are loaded.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "hnswstore/hnswstore.hpp"

using namespace hnswstore;

namespace {

// A deterministic 32-dimensional "embedding" for record i of a tenant.
std::vector<float> embedding(std::size_t tenant, std::size_t i) {
  std::vector<float> v(32);
  for (std::size_t d = 0; d < v.size(); ++d) {
    v[d] = static_cast<float>(((tenant * 131 + i * 31 + d * 7) % 97)) / 97.0f - 0.5f;
  }
  return v;
}

struct Loaded {
  std::size_t namespaces = 0, bytes = 0;
};

Loaded loaded(VectorStore& store) {
  Loaded l;
  for (const std::string& name : store.list_namespaces()) {
    const NamespaceStats st = store.open_namespace(name).value().stats();  // never loads
    if (st.loaded) {
      ++l.namespaces;
      l.bytes += st.memory_bytes;
    }
  }
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  const bool own_dir = argc <= 1;
  const std::filesystem::path dir =
      own_dir ? std::filesystem::temp_directory_path() /
                    ("hnswstore-multi-tenant-" + std::to_string(::getpid()))
              : std::filesystem::path(argv[1]);
  if (own_dir) std::filesystem::remove_all(dir);

  // ── 1. isolation ───────────────────────────────────────────────────────────────────────────
  {
    auto store = VectorStore::in_memory();
    NamespaceOptions options;
    options.dimension = 3;
    auto alice = store.create_namespace("tenant-alice", options).value();
    auto bob = store.create_namespace("tenant-bob", options).value();
    const std::vector<float> cooking = {0.9f, 0.1f, 0.0f};
    const std::vector<float> finance = {0.0f, 0.2f, 0.9f};
    if (!alice.upsert("note-1", cooking, {{"text", "pasta recipe"}}).ok()) return 1;
    if (!bob.upsert("note-1", finance, {{"text", "quarterly budget"}}).ok()) return 1;
    const auto a = alice.get("note-1").value();
    const auto b = bob.get("note-1").value();
    std::printf("1. isolation: alice/note-1 = %s, bob/note-1 = %s\n",
                a.metadata["text"].get<std::string>().c_str(),
                b.metadata["text"].get<std::string>().c_str());
    const auto hits = alice.search(finance).value();  // alice's search sees only alice's notes
    if (hits.size() != 1 || hits[0].metadata != a.metadata) return 1;
    if (!store.drop_namespace("tenant-bob").ok()) return 1;
    std::printf("   after dropping tenant-bob, its old handle answers: %s\n",
                bob.search(finance).error().to_string().c_str());
    if (bob.search(finance).error().code() != StatusCode::kNotFound) return 1;
  }

  // ── 2. quotas ──────────────────────────────────────────────────────────────────────────────
  {
    auto store = VectorStore::in_memory();
    NamespaceOptions free_tier;
    free_tier.dimension = 32;
    free_tier.max_elements = 100;                 // at most 100 records
    free_tier.memory_limit_bytes = 128 * 1024;    // and 128 KiB
    auto small = store.create_namespace("free-tier", free_tier).value();
    auto big = store.create_namespace("paid-tier", {.dimension = 32}).value();
    std::vector<Record> batch;
    for (std::size_t i = 0; i < 150; ++i) {
      batch.push_back({"doc-" + std::to_string(i), embedding(1, i), {{"i", i}}});
    }
    const Status over = small.upsert(batch);  // 150 > 100: refused whole
    std::printf("2. quotas: 150 records into free-tier -> %s\n   free-tier holds %zu records\n",
                over.to_string().c_str(), small.size());
    if (over.code() != StatusCode::kResourceExhausted || small.size() != 0) return 1;
    if (Status s = small.upsert(std::span(batch).first(100)); !s.ok()) {  // exactly at the quota
      std::printf("unexpected: %s\n", s.to_string().c_str());
      return 1;
    }
    const Status one_more = small.upsert("doc-100", embedding(1, 100));
    std::printf("   the 101st record -> %s\n", one_more.to_string().c_str());
    if (one_more.code() != StatusCode::kResourceExhausted) return 1;
    // The memory quota counts every byte the namespace holds (stats().memory_bytes).
    std::vector<Record> wordy;
    for (std::size_t i = 0; i < 10; ++i) {
      wordy.push_back({"doc-" + std::to_string(i), embedding(1, i),
                       {{"text", std::string(16 * 1024, 'x')}}});
    }
    const Status too_big = small.upsert(wordy);  // updates 10 records with 160 KiB of text
    std::printf("   160 KiB of metadata -> %s\n", too_big.to_string().c_str());
    if (too_big.code() != StatusCode::kResourceExhausted) return 1;
    std::printf("   free-tier: %zu records, %zu of %zu bytes; paid-tier takes the batch: %s\n",
                small.size(), small.stats().memory_bytes, free_tier.memory_limit_bytes,
                big.upsert(batch).to_string().c_str());
    if (big.size() != 150) return 1;
  }

  // ── 3. small namespaces and 4. memory budget ──────────────────────────────────────────────
  const std::size_t tenants = 200, per_tenant = 500;
  std::size_t one_tenant = 0;
  {
    StoreOptions so;
    so.memory_budget_bytes = 20 * 80 * 1024;  // room for about 20 tenants of ~80 KiB
    auto store = VectorStore::open(dir, so).value();
    for (std::size_t t = 0; t < tenants; ++t) {
      auto ns = store.create_namespace("tenant-" + std::to_string(t), {.dimension = 32}).value();
      std::vector<std::string> ids;
      std::vector<float> vectors;
      for (std::size_t i = 0; i < per_tenant; ++i) {
        ids.push_back("doc-" + std::to_string(i));
        const auto v = embedding(t, i);
        vectors.insert(vectors.end(), v.begin(), v.end());
      }
      if (!ns.upsert(ids, vectors).ok()) return 1;
      if (t == 0) {
        const NamespaceStats st = ns.stats();
        one_tenant = st.memory_bytes;
        std::printf("3. small namespaces: a tenant of %zu records holds %zu bytes (%zu of "
                    "vectors, graph %zu bytes: scanned exactly until %s records)\n",
                    st.count, st.memory_bytes, st.vector_bytes, st.graph_bytes, "2,048");
      }
    }
    Loaded l = loaded(store);
    std::printf("4. memory budget %zu bytes; %zu tenants need about %zu bytes; loaded now: %zu "
                "tenants, %zu bytes\n",
                so.memory_budget_bytes, tenants, tenants * one_tenant, l.namespaces, l.bytes);
    if (l.bytes > so.memory_budget_bytes) return 1;
    // Any tenant answers: it is loaded on use (and others unloaded).
    for (std::size_t t : {3, 150, 42, 3}) {
      auto ns = store.open_namespace("tenant-" + std::to_string(t)).value();
      const bool was_loaded = ns.stats().loaded;
      const auto hits = ns.search(embedding(t, 7), {.k = 1}).value();
      std::printf("   tenant-%zu (%s): nearest to its doc-7 is %s\n", t,
                  was_loaded ? "loaded" : "loaded on use", hits.at(0).id.c_str());
      if (hits[0].id != "doc-7") return 1;
    }
    l = loaded(store);
    std::printf("   loaded after the searches: %zu tenants, %zu bytes\n", l.namespaces, l.bytes);
    if (l.bytes > so.memory_budget_bytes) return 1;
  }
  if (own_dir) {
    std::filesystem::remove_all(dir);
  } else {
    std::printf("store directory: %s\n", dir.string().c_str());
  }
  return 0;
}
