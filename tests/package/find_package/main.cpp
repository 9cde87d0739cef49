// An application that uses an installed hnswstore next to its own copy of hnswlib.
//
// hnswlib 0.6.2's headers define non-inline functions (cpuid, xgetbv, AVXCapable) and globals
// (hnswlib::L2SqrSIMD16Ext, ...); including them here as well as in libhnswstore only links
// because the library renames its private copy. Exit status 0 means everything worked.
#include <hnswlib/hnswlib.h>

#include <cstdio>
#include <cstring>
#include <hnswstore/hnswstore.hpp>
#include <hnswstore/memory.hpp>
#include <string>
#include <vector>

namespace {

int fail(const std::string& what) {
  std::fprintf(stderr, "find_package consumer: %s\n", what.c_str());
  return 1;
}

// The application's own hnswlib index: nearest of three points.
int use_hnswlib() {
  hnswlib::L2Space space(4);
  hnswlib::HierarchicalNSW<float> index(&space, 16);
  const float points[3][4] = {{0, 0, 0, 0}, {1, 0, 0, 0}, {0, 5, 0, 0}};
  for (std::size_t i = 0; i < 3; ++i) index.addPoint(points[i], i);
  const float query[4] = {0.9f, 0.1f, 0, 0};
  auto top = index.searchKnn(query, 1);
  if (top.size() != 1 || top.top().second != 1) return fail("hnswlib: wrong nearest label");
  return 0;
}

int use_hnswstore() {
  auto store = hnswstore::VectorStore::in_memory();
  auto ns = store.create_namespace("docs", {.dimension = 4, .metric = hnswstore::Metric::kL2});
  if (!ns) return fail("create_namespace: " + ns.error().to_string());

  const std::vector<std::pair<std::string, std::vector<float>>> records = {
      {"origin", {0, 0, 0, 0}}, {"x", {1, 0, 0, 0}}, {"far", {0, 5, 0, 0}}};
  int n = 0;
  for (const auto& [id, vector] : records) {
    if (auto s = ns->upsert(id, vector, {{"n", n++}}); !s.ok())
      return fail("upsert: " + s.to_string());
  }
  if (ns->size() != 3) return fail("size() is " + std::to_string(ns->size()));

  const std::vector<float> query = {0.9f, 0.1f, 0, 0};
  auto hits = ns->search(query, {.k = 2});
  if (!hits) return fail("search: " + hits.error().to_string());
  if (hits->size() != 2) return fail("search returned " + std::to_string(hits->size()) + " hits");
  if ((*hits)[0].id != "x") return fail("nearest hit is '" + (*hits)[0].id + "', expected 'x'");
  if ((*hits)[0].metadata != hnswstore::Metadata{{"n", 1}}) return fail("wrong metadata");
  return 0;
}

// hnswstore::memory, the package's second target: an episodic memory finds what was said.
int use_memory() {
  using namespace hnswstore::memory;
  auto memory = EpisodicMemory::create(MemoryConfig::for_testing());
  if (!memory) return fail("EpisodicMemory::create: " + memory.error().to_string());
  EpisodicEntry entry;
  entry.session_id = "s1";
  entry.role = "user";
  entry.content = "my favourite colour is ultramarine";
  if (auto id = memory->add(entry); !id) return fail("memory add: " + id.error().to_string());
  MemorySearchOptions lexical;
  lexical.mode = SearchMode::kLexical;
  auto hits = memory->search("ultramarine", 1, lexical);
  if (!hits || hits->size() != 1) return fail("memory search found nothing");
  return 0;
}

}  // namespace

int main() {
  if (std::strcmp(hnswstore::version(), HNSWSTORE_VERSION_STRING) != 0) {
    return fail(std::string("library version ") + hnswstore::version() + " != headers " +
                HNSWSTORE_VERSION_STRING);
  }
  if (int rc = use_hnswlib(); rc != 0) return rc;
  if (int rc = use_hnswstore(); rc != 0) return rc;
  if (int rc = use_memory(); rc != 0) return rc;
  std::printf("find_package consumer: ok (hnswstore %s, built against hnswlib %s)\n",
              hnswstore::version(), hnswstore::hnswlib_version());
  return 0;
}
