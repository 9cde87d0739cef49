// multi_tenant: two tenants in one store, each in its own namespace, using the same ids.
//
// The same id in two namespaces is two independent records: different vectors, different
// metadata, deleted independently, and a search in one namespace never returns the other's.
#include <cstdio>
#include <string>
#include <vector>

#include "hnswstore/hnswstore.hpp"

int main() {
  using namespace hnswstore;
  auto store = VectorStore::in_memory();

  NamespaceOptions options;
  options.dimension = 3;
  options.metric = Metric::kCosine;
  auto alice = store.create_namespace("tenant-alice", options).value();
  auto bob = store.create_namespace("tenant-bob", options).value();

  // Both tenants store a note with id "note-1", with different contents.
  const std::vector<float> cooking = {0.9f, 0.1f, 0.0f};
  const std::vector<float> finance = {0.0f, 0.2f, 0.9f};
  if (!alice.upsert("note-1", cooking, {{"text", "pasta recipe"}}).ok()) return 1;
  if (!alice.upsert("note-2", finance, {{"text", "tax return"}}).ok()) return 1;
  if (!bob.upsert("note-1", finance, {{"text", "quarterly budget"}}).ok()) return 1;

  std::printf("namespaces: ");
  for (const auto& name : store.list_namespaces()) std::printf("%s ", name.c_str());
  std::printf("\n");

  const std::vector<float> query = {0.0f, 0.1f, 1.0f};  // "money"
  for (auto* ns : {&alice, &bob}) {
    std::printf("%s (%zu records) searching for money:\n", ns->name().c_str(), ns->size());
    for (const auto& hit : ns->search(query).value()) {
      std::printf("  %s  distance %.3f  %s\n", hit.id.c_str(), hit.distance,
                  hit.metadata.dump().c_str());
    }
  }

  // Same id, independent records.
  const auto a = alice.get("note-1").value();
  const auto b = bob.get("note-1").value();
  std::printf("alice/note-1: %s, bob/note-1: %s\n", a.metadata["text"].get<std::string>().c_str(),
              b.metadata["text"].get<std::string>().c_str());
  if (a.metadata == b.metadata) return 1;

  // Deleting in one tenant leaves the other alone.
  if (!alice.remove("note-1").value()) return 1;
  std::printf("after alice removes note-1: alice has it: %s, bob has it: %s\n",
              alice.contains("note-1") ? "yes" : "no", bob.contains("note-1") ? "yes" : "no");
  if (alice.contains("note-1") || !bob.contains("note-1")) return 1;

  // Dropping a tenant removes all of its records; handles to it answer NotFound.
  if (!store.drop_namespace("tenant-bob").ok()) return 1;
  const auto gone = bob.search(query);
  std::printf("after dropping tenant-bob: search on its old handle -> %s\n",
              gone.error().to_string().c_str());
  return gone.error().code() == StatusCode::kNotFound ? 0 : 1;
}
