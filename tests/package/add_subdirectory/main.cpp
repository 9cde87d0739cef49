// An application that builds hnswstore as part of its own project. Exit status 0 means the
// nearest of three records is the expected one and an episodic memory (hnswstore::memory)
// finds what was added to it.
#include <cstdio>
#include <hnswstore/hnswstore.hpp>
#include <hnswstore/memory.hpp>
#include <string>
#include <vector>

int main() {
  auto fail = [](const std::string& what) {
    std::fprintf(stderr, "add_subdirectory consumer: %s\n", what.c_str());
    return 1;
  };
  auto store = hnswstore::VectorStore::in_memory();
  auto ns = store.create_namespace("docs", {.dimension = 4, .metric = hnswstore::Metric::kL2});
  if (!ns) return fail("create_namespace: " + ns.error().to_string());

  const std::vector<std::pair<std::string, std::vector<float>>> records = {
      {"a", {0, 0, 0, 0}}, {"b", {0, 0, 1, 1}}, {"c", {3, 3, 3, 3}}};
  for (const auto& [id, vector] : records) {
    if (auto s = ns->upsert(id, vector); !s.ok()) return fail("upsert: " + s.to_string());
  }
  const std::vector<float> query = {0.1f, 0, 0.9f, 1.2f};
  auto hits = ns->search(query);
  if (!hits) return fail("search: " + hits.error().to_string());
  if (hits->size() != 3) return fail("search returned " + std::to_string(hits->size()) + " hits");
  if ((*hits)[0].id != "b") return fail("nearest hit is '" + (*hits)[0].id + "', expected 'b'");
  // hnswstore::memory: an episodic memory finds what was said.
  auto memory = hnswstore::memory::EpisodicMemory::create(
      hnswstore::memory::MemoryConfig::for_testing());
  if (!memory) return fail("EpisodicMemory::create: " + memory.error().to_string());
  hnswstore::memory::EpisodicEntry entry;
  entry.session_id = "s1";
  entry.role = "user";
  entry.content = "the launch code is tangerine";
  if (auto id = memory->add(entry); !id) return fail("add: " + id.error().to_string());
  auto found = memory->search("tangerine", 1);
  if (!found || found->size() != 1) return fail("memory search found nothing");
  std::printf("add_subdirectory consumer: ok (hnswstore %s)\n", hnswstore::version());
  return 0;
}
