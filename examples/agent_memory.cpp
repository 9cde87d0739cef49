// agent_memory: the episodic memory of an agent (docs/memory.md).
//
//   agent_memory [--dir DIR]
//
// Two sessions of a conversation go into an HNSW memory in DIR (default: a fresh temporary
// directory); then it searches them by meaning, by words and both (hybrid), consolidates the
// first session with a toy engine, restarts (closes and reopens the memory: everything is
// back), migrates to the exact InMemory backend and back to HNSW (the migration guide's
// rollback path), and checks each step. Exit status 0 when every check held.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hnswstore/memory.hpp"

namespace fs = std::filesystem;
using namespace hnswstore;
using namespace hnswstore::memory;
using std::chrono::minutes;

namespace {

int failures = 0;
void check(bool ok, const char* what) {
  std::printf("  [%s] %s\n", ok ? "ok" : "FAILED", what);
  if (!ok) ++failures;
}

void print_hits(const char* title, const Result<std::vector<ScoredEntry>>& hits) {
  std::printf("%s\n", title);
  if (!hits) {
    std::printf("  error: %s\n", hits.error().to_string().c_str());
    ++failures;
    return;
  }
  for (const ScoredEntry& h : *hits) {
    std::printf("  %6.3f  [%s/%s] %s\n", h.score, h.entry.session_id.c_str(),
                h.entry.role.c_str(), h.entry.content.c_str());
  }
}

// A stand-in for an LLM that extracts facts: it "consolidates" the user's turns.
class UserTurnsEngine : public ConsolidationEngine {
 public:
  Result<ConsolidationResult> consolidate(std::span<const EpisodicEntry> entries) override {
    ConsolidationResult r;
    for (const EpisodicEntry& e : entries) {
      if (e.role == "user") r.processed_ids.push_back(e.id);
    }
    return r;
  }
};

EpisodicEntry turn(std::string session, std::string role, std::string content) {
  EpisodicEntry e;
  e.session_id = std::move(session);
  e.role = std::move(role);
  e.content = std::move(content);
  return e;
}

MemorySearchOptions options(SearchMode mode, std::optional<std::string> session = {}) {
  MemorySearchOptions o;
  o.mode = mode;
  o.session_id = std::move(session);
  return o;
}

MemoryConfig production_config(const fs::path& dir) {
  // HashingEmbedder keeps the example offline; with a model server use
  // HttpEmbedder::create({.base_url = "http://127.0.0.1:11434", .model = "nomic-embed-text",
  //                       .api = HttpApi::kOllama}).
  auto service = std::make_shared<EmbeddingService>(std::make_shared<HashingEmbedder>(384));
  StoreOptions store;
  store.logger = [](LogLevel level, std::string_view line) {
    if (level >= LogLevel::kInfo) std::printf("  log: %.*s\n", int(line.size()), line.data());
  };
  return MemoryConfig::for_production(service)
      .with_hnsw_config(HnswParams::balanced())
      .with_directory(dir)
      .with_name("assistant")
      .with_store_options(store);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
  }
  if (dir.empty()) dir = fs::temp_directory_path() / "hnswstore-agent-memory";
  fs::remove_all(dir);

  const auto t0 = Clock::now() - minutes(120);
  std::vector<EpisodicEntry> trip = {
      turn("trip", "user",
           "I'm flying to Lisbon on March 14 for the Websummit follow-up meeting."),
      turn("trip", "assistant",
           "Noted: Lisbon, March 14. Do you want a hotel near the Alfama district?"),
      turn("trip", "user",
           "Yes, and my colleague Oksana Petrenko joins on the 15th."),
      turn("trip", "assistant",
           "I'll look for two rooms from March 14 and 15.")};
  std::vector<EpisodicEntry> health = {
      turn("health", "user",
           "Remind me that my dentist appointment with Dr. Okafor moved to Friday."),
      turn("health", "assistant",
           "Done: the dental check-up is now on Friday at 9:30."),
      turn("health", "user",
           "Also I should drink more water and sleep eight hours.")};
  for (std::size_t i = 0; i < trip.size(); ++i) trip[i].timestamp = t0 + minutes(i);
  for (std::size_t i = 0; i < health.size(); ++i) health[i].timestamp = t0 + minutes(60 + i);
  trip[0].metadata = {{"channel", "chat"}, {"importance", 3}};

  std::printf("1. An HNSW memory in %s\n", dir.c_str());
  {
    auto created = EpisodicMemory::create(production_config(dir));
    if (!created) {
      std::fprintf(stderr, "create: %s\n", created.error().to_string().c_str());
      return 1;
    }
    EpisodicMemory memory = std::move(*created);
    check(memory.add_batch(trip).has_value(), "add_batch: session 'trip' (4 turns)");
    for (const EpisodicEntry& e : health) check(memory.add(e).has_value(), "add: a 'health' turn");
    check(memory.size() == 7, "size() == 7");

    std::printf("\n2. Search\n");
    // The HashingEmbedder matches words and word forms, not meaning: with a real model the
    // query could say "doctor" and "teeth".
    print_hits("vector: \"my dentist appointment\"", memory.search("my dentist appointment", 3));
    auto lexical = memory.search("Oksana", 3, options(SearchMode::kLexical));
    print_hits("lexical (words): \"Oksana\"", lexical);
    check(lexical && !lexical->empty() && lexical->front().entry.content.find("Oksana") !=
                                              std::string::npos,
          "lexical search finds the rare name");
    auto hybrid = memory.search("Lisbon hotel", 3, options(SearchMode::kHybrid, "trip"));
    print_hits("hybrid, only session 'trip': \"Lisbon hotel\"", hybrid);
    check(hybrid && !hybrid->empty(), "hybrid search with a session filter");
    auto empty = memory.search("anything", 3, options(SearchMode::kVector, "no-such-session"));
    check(empty && empty->empty(), "a search that matches nothing is an empty list");

    std::printf("\n3. Consolidation of session 'trip'\n");
    UserTurnsEngine engine;
    auto consolidated = memory.consolidate("trip", engine);
    check(consolidated && consolidated->processed_ids.size() == 2,
          "the engine consumed the 2 user turns, which are now processed");
    auto left = memory.list_unprocessed("trip");
    check(left && left->size() == 2, "2 assistant turns are still unprocessed");
    auto sessions = memory.list_sessions_with_unprocessed();
    check(sessions && *sessions == std::vector<std::string>{"health", "trip"},
          "sessions with unprocessed entries, latest first: health, trip");
    auto still = memory.search("Oksana", 1, options(SearchMode::kLexical));
    check(still && still->size() == 1 && still->front().entry.processed,
          "a processed entry is still found, with its flag");
    const MemoryStats st = memory.stats();
    std::printf("  stats: %zu entries, %zu sessions, %zu searches, p50 %lld us, p99 %lld us, "
                "embedding cache %zu hits / %zu misses\n",
                st.entries, st.sessions, st.searches,
                static_cast<long long>(st.search_p50.count()),
                static_cast<long long>(st.search_p99.count()), st.embedding_cache.hits,
                st.embedding_cache.misses);
  }  // the memory closes here: its store saves

  std::printf("\n4. Restart\n");
  auto reopened = EpisodicMemory::create(production_config(dir));
  if (!reopened) {
    std::fprintf(stderr, "reopen: %s\n", reopened.error().to_string().c_str());
    return 1;
  }
  EpisodicMemory memory = std::move(*reopened);
  check(memory.size() == 7, "all 7 entries are back");
  auto session = memory.get_session("trip");
  check(session && session->size() == 4 && session->front().metadata["channel"] == "chat" &&
            session->front().processed && session->front().timestamp == trip[0].timestamp,
        "session 'trip' in order, with metadata, flags and timestamps");
  auto lexical = memory.search("Okafor", 1, options(SearchMode::kLexical));
  check(lexical && lexical->size() == 1, "the lexical index was rebuilt");

  std::printf("\n5. Migration InMemory <- HNSW (rollback) and back\n");
  auto exact = memory.migrate_to(MemoryConfig::for_testing());
  check(exact && exact->size() == 7 && exact->backend_name() == "InMemory",
        "migrate_to(for_testing()): 7 entries in the exact backend");
  if (exact) {
    auto back = exact->migrate_to(production_config(dir / "migrated"));
    check(back && back->size() == 7 && back->backend_name() == "HNSW",
          "and back to HNSW in another directory");
    if (back) {
      auto e = back->get(session->front().id);
      check(e && e->processed && e->ingestion_time == session->front().ingestion_time,
            "ids, flags and both timestamps survive both migrations");
    }
  }
  std::printf("\n%s\n", failures == 0 ? "every check held" : "SOME CHECKS FAILED");
  return failures == 0 ? 0 : 1;
}
