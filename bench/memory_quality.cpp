// memory_quality: retrieval quality of the episodic memory's vector, lexical and hybrid search
// on a generated multi-session conversation set with known answers.
//
//   memory_quality [--sessions 200] [--seed 7] [--distractors 3] [--dim 384] [--no-hnsw]
//                  [--out FILE]
//
// Data (conversation_data.hpp documents the generator in full): --sessions sessions of 20..40
// user / assistant turns about one everyday topic each (12 topics of 12-14 synonym groups);
// two FACT turns per session plant an anchor (a person's name, a date, a made-up rare word, a
// 4-digit number or a place, cycling) with three key concepts of the topic. Each fact has two
// queries whose one answer is the fact turn:
//   - lexical:    names the anchor and one key concept as the fact words it ("Who is Kwame
//                 Kaminski again, the one with the diet?");
//   - paraphrase: no anchor; the three key concepts, 0, 1 or 2 of them (a third of the
//                 queries each) in the fact's own synonym, the others in another synonym
//                 ("Who takes care of my nutrition, the studio and run?").
// --distractors (0..3) turns per fact, in other sessions of the same topic, share as many or
// more words with a query than its answer does, except the anchor: two of the paraphrase's
// concept words (first and third distractor), or the lexical query's frame words and concept
// (second).
//
// Embedders:
//   - hashing:   the library's HashingEmbedder (--dim): shared words and word forms only;
//   - simulated: a STRONGER embedder SIMULATED here (ConceptEmbedder below), not a model: it
//                maps each word through the generator's synonym groups to a concept id and
//                feature-hashes the concept (weight 1 x k, where k in 0.4..1 is fixed per word
//                by a hash: how well the "model" knows that synonym), the raw word (0.3 +
//                1 - k), the concept's topic (0.3), and words outside every group (0.35:
//                names, dates, made-up words, filler, so rare anchors weigh less than in BM25,
//                as with dense models); stop words dropped; L2-normalised, plus deterministic
//                noise of norm 0.15 seeded by the text, renormalised. It knows the generator's
//                synonym groups, which no real model does: read its numbers as "an embedder
//                that captures most of these synonyms", not as any model's quality.
//
// Every search is EpisodicMemory::search(query text, 10, options) on a kInMemory memory (exact
// scan: the numbers measure ranking, not graph recall); recall@k = the fraction of queries
// whose answer turn is among the first k results (one answer per query, so recall@k is the
// hit rate). Settings: kVector, kLexical, and kHybrid with kAuto, kReciprocalRank (rrf_k 60,
// vector_weight 0.3 / 0.5 / 0.7) and kRelativeScore (vector_weight 0.2 .. 0.9, step 0.1). One
// kHnsw memory (HnswParams::balanced(), simulated embedder) repeats kVector and kHybrid/kAuto.
// Prints Markdown tables (per embedder; fusion settings across embedders; paraphrases by the
// words they share with the answer; HNSW vs InMemory) and conclusions: the best fused setting
// per embedder by R@10 and by R@5, whether it is within 0.02 of the better single mode, and the
// best setting across both embedders. --out also writes JSON (with recall per anchor kind).
// Exits 1 if a call fails.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conversation_data.hpp"
#include "hnswstore/memory.hpp"
#include "hnswstore/version.hpp"

namespace hm = hnswstore::memory;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kTopK = 10;

constexpr const char* kUsage =
    "usage: memory_quality [--sessions 200] [--seed 7] [--distractors 3] [--dim 384]\n"
    "                      [--no-hnsw] [--out FILE]\n"
    "  --sessions     generated sessions (>= 1); two facts, so four queries, per session\n"
    "  --seed         generator seed\n"
    "  --distractors  distractor turns per fact (0..3)\n"
    "  --dim          embedding dimension of both embedders\n"
    "  --no-hnsw      skip the kHnsw run\n"
    "  --out          also write the results as JSON to FILE\n";

[[noreturn]] void bad_flag(const std::string& message) {
  std::fprintf(stderr, "memory_quality: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

std::size_t parse_size(const std::string& flag, const std::string& v, std::size_t lo,
                       std::size_t hi) {
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || end != v.c_str() + v.size() || x < lo || x > hi) {
    bad_flag(flag + ": '" + v + "' is not an integer in " + std::to_string(lo) + ".." +
             std::to_string(hi));
  }
  return static_cast<std::size_t>(x);
}

[[noreturn]] void fail(const std::string& what, const hnswstore::Status& status) {
  std::fprintf(stderr, "memory_quality: %s: %s\n", what.c_str(), status.to_string().c_str());
  std::exit(1);
}

// ---- The simulated stronger embedder (see the header comment) ----

bool stop_word(std::string_view w) {
  static const std::array<std::string_view, 72> kStop = {
      "a",     "about", "after", "again", "all",  "also", "am",   "an",    "and", "any",  "are",
      "as",    "at",    "be",    "been",  "but",  "by",   "can",  "could", "did", "do",   "does",
      "for",   "from",  "had",   "has",   "have", "he",   "her",  "his",   "how", "i",    "if",
      "in",    "into",  "is",    "it",    "its",  "just", "me",   "my",    "no",  "not",  "of",
      "on",    "or",    "our",   "she",   "so",   "some", "than", "that",  "the", "them", "then",
      "there", "they",  "this",  "to",    "too",  "up",   "us",   "was",   "we",  "were", "what",
      "when",  "where", "which", "who",   "will", "with"};
  return std::find(kStop.begin(), kStop.end(), w) != kStop.end();
}

class ConceptEmbedder final : public hm::EmbeddingProvider {
 public:
  static constexpr float kConcept = 1.0f, kTopic = 0.3f, kSurface = 0.3f, kUnknown = 0.35f;
  static constexpr float kNoise = 0.15f;
  static constexpr double kKnownMin = 0.4;

  explicit ConceptEmbedder(std::size_t dim)
      : dim_(dim), name_("simulated-concepts-" + std::to_string(dim)) {}
  std::string_view name() const override { return name_; }
  std::size_t dimensions() const override { return dim_; }
  hnswstore::Result<std::vector<std::vector<float>>> embed(
      std::span<const std::string> texts) override {
    std::vector<std::vector<float>> out;
    out.reserve(texts.size());
    for (const std::string& t : texts) out.push_back(embed_one(t));
    return out;
  }

  std::vector<float> embed_one(std::string_view text) const {
    const convdata::Vocabulary& voc = convdata::vocabulary();
    std::vector<float> v(dim_, 0.0f);
    auto feature = [&](std::string_view prefix, std::string_view key, float weight) {
      const std::uint64_t h = convdata::fnv1a(key, convdata::fnv1a(prefix));
      v[h % dim_] += (h >> 63) != 0 ? -weight : weight;
    };
    std::string word;
    auto flush = [&] {
      if (!word.empty() && !stop_word(word)) {
        const std::size_t c = voc.concept_of(word);
        if (c == convdata::Vocabulary::kGeneric) {
          feature("u:", word, kUnknown);
        } else {
          // How well the simulated model knows this synonym: 0.4..1 of the concept weight,
          // fixed per word; the rest goes to the word's own feature.
          const double known =
              kKnownMin + (1.0 - kKnownMin) *
                              static_cast<double>(convdata::fnv1a(word, 0x5EED) >> 11) * 0x1.0p-53;
          feature("c:", std::to_string(c), kConcept * static_cast<float>(known));
          feature("w:", word, kSurface + kConcept * static_cast<float>(1.0 - known));
          if (voc.concept_topic[c] != convdata::Vocabulary::kGeneric) {
            feature("t:", voc.topic_names[voc.concept_topic[c]], kTopic);
          }
        }
      }
      word.clear();
    };
    for (const char ch : text) {
      const auto u = static_cast<unsigned char>(ch);
      if (std::isalnum(u) != 0) {
        word += static_cast<char>(std::tolower(u));
      } else {
        flush();
      }
    }
    flush();
    normalise(v);
    // Deterministic noise of norm kNoise, seeded by the text.
    convdata::Rng rng(convdata::fnv1a(text));
    std::vector<float> noise(dim_);
    for (float& x : noise) {
      x = static_cast<float>(static_cast<double>(rng.next() >> 11) * 0x1.0p-53 * 2.0 - 1.0);
    }
    normalise(noise);
    for (std::size_t i = 0; i < dim_; ++i) v[i] += kNoise * noise[i];
    normalise(v);
    return v;
  }

 private:
  static void normalise(std::vector<float>& v) {
    double s = 0;
    for (const float x : v) s += static_cast<double>(x) * x;
    if (s <= 0) return;
    const auto inv = static_cast<float>(1.0 / std::sqrt(s));
    for (float& x : v) x *= inv;
  }
  std::size_t dim_;
  std::string name_;
};

// ---- Settings and scoring ----

struct Setting {
  std::string label;
  hm::MemorySearchOptions options;
  bool hybrid() const { return options.mode == hm::SearchMode::kHybrid; }
};

std::vector<Setting> settings() {
  std::vector<Setting> s;
  auto mode = [](hm::SearchMode m) {
    hm::MemorySearchOptions o;
    o.mode = m;
    return o;
  };
  s.push_back({"vector", mode(hm::SearchMode::kVector)});
  s.push_back({"lexical", mode(hm::SearchMode::kLexical)});
  s.push_back({"hybrid auto", mode(hm::SearchMode::kHybrid)});
  for (const float w : {0.5f, 0.3f, 0.7f}) {
    hm::MemorySearchOptions o = mode(hm::SearchMode::kHybrid);
    o.fusion = hm::Fusion::kReciprocalRank;
    o.rrf_k = 60.0f;
    o.vector_weight = w;
    char label[64];
    std::snprintf(label, sizeof label, "hybrid RRF k60 w%.1f", static_cast<double>(w));
    s.push_back({label, o});
  }
  for (int i = 2; i <= 9; ++i) {
    hm::MemorySearchOptions o = mode(hm::SearchMode::kHybrid);
    o.fusion = hm::Fusion::kRelativeScore;
    o.vector_weight = static_cast<float>(i) / 10.0f;
    char label[64];
    std::snprintf(label, sizeof label, "hybrid relative w%.1f", static_cast<double>(i) / 10.0);
    s.push_back({label, o});
  }
  return s;
}

std::string_view fusion_name(hm::Fusion f) {
  switch (f) {
    case hm::Fusion::kAuto:
      return "auto";
    case hm::Fusion::kReciprocalRank:
      return "rrf";
    case hm::Fusion::kRelativeScore:
      return "relative";
  }
  return "?";
}
std::string_view mode_name(hm::SearchMode m) {
  switch (m) {
    case hm::SearchMode::kVector:
      return "vector";
    case hm::SearchMode::kLexical:
      return "lexical";
    case hm::SearchMode::kHybrid:
      return "hybrid";
  }
  return "?";
}

// Hits at 5 and 10 over a group of queries.
struct Recall {
  std::size_t n = 0, at5 = 0, at10 = 0;
  void add(std::size_t rank) {  // rank 0-based; kTopK or more = not found
    ++n;
    if (rank < 5) ++at5;
    if (rank < 10) ++at10;
  }
  double r5() const { return n == 0 ? 0 : static_cast<double>(at5) / static_cast<double>(n); }
  double r10() const { return n == 0 ? 0 : static_cast<double>(at10) / static_cast<double>(n); }
  nlohmann::json json() const {
    return {{"queries", n}, {"recall_at_5", r5()}, {"recall_at_10", r10()}};
  }
};

struct SettingResult {
  Setting setting;
  Recall lexical, paraphrase, all;
  std::array<Recall, 5> lexical_by_anchor, paraphrase_by_anchor;
  std::array<Recall, 3> paraphrase_by_shared;  // by Query::shared_concept_words
  double seconds = 0;
  const Recall& kind(convdata::QueryKind k) const {
    return k == convdata::QueryKind::kLexical ? lexical : paraphrase;
  }
};

SettingResult evaluate(const hm::EpisodicMemory& memory, const Setting& setting,
                       const std::vector<convdata::Query>& queries) {
  SettingResult r{setting, {}, {}, {}, {}, {}, {}, 0};
  const auto start = SteadyClock::now();
  for (const convdata::Query& q : queries) {
    auto hits = memory.search(q.text, kTopK, setting.options);
    if (!hits) fail("search '" + q.text + "' (" + setting.label + ")", hits.error());
    std::size_t rank = kTopK;
    for (std::size_t i = 0; i < hits->size(); ++i) {
      if ((*hits)[i].entry.id == q.answer_id) {
        rank = i;
        break;
      }
    }
    const auto anchor = static_cast<std::size_t>(q.anchor);
    if (q.kind == convdata::QueryKind::kLexical) {
      r.lexical.add(rank);
      r.lexical_by_anchor[anchor].add(rank);
    } else {
      r.paraphrase.add(rank);
      r.paraphrase_by_anchor[anchor].add(rank);
      r.paraphrase_by_shared[std::min<std::size_t>(q.shared_concept_words, 2)].add(rank);
    }
    r.all.add(rank);
  }
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return r;
}

hm::EpisodicMemory build(const convdata::Conversations& data,
                         std::shared_ptr<hm::EmbeddingProvider> provider,
                         hm::EpisodicBackend backend, double* seconds) {
  auto service = std::make_shared<hm::EmbeddingService>(std::move(provider));
  hm::MemoryConfig config = hm::MemoryConfig{}
                                .with_backend(backend)
                                .with_hnsw_config(hnswstore::HnswParams::balanced())
                                .with_embedding_service(service);
  auto memory = hm::EpisodicMemory::create(config);
  if (!memory) fail("create", memory.error());
  const auto start = SteadyClock::now();
  constexpr std::size_t kChunk = 1000;
  for (std::size_t b = 0; b < data.turns.size(); b += kChunk) {
    std::vector<hm::EpisodicEntry> batch;
    for (std::size_t i = b; i < std::min(data.turns.size(), b + kChunk); ++i) {
      const convdata::Turn& t = data.turns[i];
      hm::EpisodicEntry e;
      e.id = t.id;
      e.session_id = t.session_id;
      e.role = t.role;
      e.content = t.content;
      e.timestamp = t.timestamp;
      e.metadata = {{"topic", t.topic}};
      batch.push_back(std::move(e));
    }
    auto ids = memory->add_batch(std::move(batch));
    if (!ids) fail("add_batch", ids.error());
  }
  *seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  if (memory->size() != data.turns.size()) {
    std::fprintf(stderr, "memory_quality: memory holds %zu entries, expected %zu\n", memory->size(),
                 data.turns.size());
    std::exit(1);
  }
  return std::move(*memory);
}

void print_table(const std::string& title, const std::vector<SettingResult>& rows,
                 double best_single) {
  std::printf("\n%s\n\n", title.c_str());
  std::printf(
      "| setting | lexical q R@5 | lexical q R@10 | paraphrase q R@5 | paraphrase q R@10 | "
      "all R@5 | all R@10 | all R@10 - best single |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const SettingResult& r : rows) {
    std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %+.3f |\n",
                r.setting.label.c_str(), r.lexical.r5(), r.lexical.r10(), r.paraphrase.r5(),
                r.paraphrase.r10(), r.all.r5(), r.all.r10(), r.all.r10() - best_single);
  }
}

std::string today() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  convdata::GeneratorOptions gen;
  std::size_t dim = 384;
  bool hnsw = true;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--no-hnsw") {
      hnsw = false;
      continue;
    }
    if (i + 1 >= argc) bad_flag(a + " needs a value");
    const std::string v = argv[++i];
    if (a == "--sessions") {
      gen.sessions = parse_size(a, v, 1, 1000000);
    } else if (a == "--seed") {
      gen.seed = parse_size(a, v, 0, SIZE_MAX);
    } else if (a == "--distractors") {
      gen.distractors_per_fact = parse_size(a, v, 0, 3);
    } else if (a == "--dim") {
      dim = parse_size(a, v, 8, 65536);
    } else if (a == "--out") {
      out = v;
    } else {
      bad_flag("unknown option " + a);
    }
  }

  const convdata::Conversations data = convdata::generate(gen);
  std::size_t bytes = 0, n_lexical = 0;
  for (const auto& t : data.turns) bytes += t.content.size();
  for (const auto& q : data.queries) n_lexical += q.kind == convdata::QueryKind::kLexical;
  std::printf("memory_quality: retrieval quality of EpisodicMemory::search, top %zu, %s\n", kTopK,
              today().c_str());
  std::printf(
      "data: %zu sessions (seed %llu), %zu turns (mean %.0f bytes), %zu facts, %zu distractor "
      "turns; %zu queries (%zu lexical, %zu paraphrase), one answer each\n",
      data.sessions, static_cast<unsigned long long>(gen.seed), data.turns.size(),
      static_cast<double>(bytes) / static_cast<double>(data.turns.size()), data.facts,
      data.distractors, data.queries.size(), n_lexical, data.queries.size() - n_lexical);
  std::printf(
      "backend: InMemory (exact) unless said; embedders: hashing = HashingEmbedder(%zu), "
      "simulated = concept-level embedder SIMULATED from the generator's synonym groups (see "
      "the source's header), not a real model\n",
      dim);

  const std::vector<Setting> all_settings = settings();
  struct EmbedderRun {
    std::string name;
    std::vector<SettingResult> rows;
    double build_s = 0;
  };
  std::vector<EmbedderRun> runs;
  std::shared_ptr<hm::EmbeddingProvider> strong = std::make_shared<ConceptEmbedder>(dim);
  for (int e = 0; e < 2; ++e) {
    EmbedderRun run;
    run.name = e == 0 ? "hashing" : "simulated";
    std::shared_ptr<hm::EmbeddingProvider> provider =
        e == 0 ? std::make_shared<hm::HashingEmbedder>(dim) : strong;
    const hm::EpisodicMemory memory =
        build(data, provider, hm::EpisodicBackend::kInMemory, &run.build_s);
    for (const Setting& s : all_settings) run.rows.push_back(evaluate(memory, s, data.queries));
    std::fprintf(stderr, "memory_quality: %s done (build %.2f s)\n", run.name.c_str(), run.build_s);
    runs.push_back(std::move(run));
  }

  // Per embedder: the better single mode, the best setting, and the tables.
  nlohmann::json j;
  j["date"] = today();
  j["hnswstore"] = hnswstore::version();
  j["generator"] = {{"sessions", gen.sessions},
                    {"min_turns", gen.min_turns},
                    {"max_turns", gen.max_turns},
                    {"facts_per_session", gen.facts_per_session},
                    {"distractors_per_fact", gen.distractors_per_fact},
                    {"seed", gen.seed}};
  j["dataset"] = {
      {"turns", data.turns.size()},
      {"mean_bytes", static_cast<double>(bytes) / static_cast<double>(data.turns.size())},
      {"facts", data.facts},
      {"distractors", data.distractors},
      {"queries", data.queries.size()},
      {"lexical_queries", n_lexical},
      {"paraphrase_queries", data.queries.size() - n_lexical}};
  j["top_k"] = kTopK;
  j["dim"] = dim;
  j["simulated_embedder"] = {
      {"concept", ConceptEmbedder::kConcept},      {"topic", ConceptEmbedder::kTopic},
      {"surface_word", ConceptEmbedder::kSurface}, {"unknown_word", ConceptEmbedder::kUnknown},
      {"noise_norm", ConceptEmbedder::kNoise},     {"known_min", ConceptEmbedder::kKnownMin}};
  std::vector<std::string> conclusions;
  for (const EmbedderRun& run : runs) {
    const SettingResult& vec = run.rows[0];
    const SettingResult& lex = run.rows[1];
    const double best_single = std::max(vec.all.r10(), lex.all.r10());
    const char* best_single_name = vec.all.r10() >= lex.all.r10() ? "vector" : "lexical";
    print_table("### " + run.name + " embedder (" + std::to_string(data.queries.size()) +
                    " queries, InMemory)",
                run.rows, best_single);
    const SettingResult* best = nullptr;
    for (const SettingResult& r : run.rows) {
      if (!r.setting.hybrid()) continue;
      if (best == nullptr || r.all.r10() > best->all.r10() ||
          (r.all.r10() == best->all.r10() && r.all.r5() > best->all.r5())) {
        best = &r;
      }
    }
    const double delta = best->all.r10() - best_single;
    char line[512];
    std::snprintf(line, sizeof line,
                  "%s: best fused setting %s (all R@10 %.3f, R@5 %.3f); better single mode %s "
                  "(all R@10 %.3f); difference %+.3f, so the fused ranking is %s",
                  run.name.c_str(), best->setting.label.c_str(), best->all.r10(), best->all.r5(),
                  best_single_name, best_single, delta,
                  delta >= 0.0     ? "at least as good as the better single mode"
                  : delta >= -0.02 ? "within 0.02 of the better single mode"
                                   : "MORE than 0.02 below the better single mode");
    conclusions.push_back(line);
    // The same by R@5 (ties by R@10).
    const SettingResult* best5 = nullptr;
    for (const SettingResult& r : run.rows) {
      if (!r.setting.hybrid()) continue;
      if (best5 == nullptr || r.all.r5() > best5->all.r5() ||
          (r.all.r5() == best5->all.r5() && r.all.r10() > best5->all.r10())) {
        best5 = &r;
      }
    }
    const double single5 = std::max(vec.all.r5(), lex.all.r5());
    std::snprintf(line, sizeof line,
                  "%s, by R@5: best fused setting %s (all R@5 %.3f); better single mode %s "
                  "(all R@5 %.3f); difference %+.3f",
                  run.name.c_str(), best5->setting.label.c_str(), best5->all.r5(),
                  vec.all.r5() >= lex.all.r5() ? "vector" : "lexical", single5,
                  best5->all.r5() - single5);
    conclusions.push_back(line);
    // Per query kind: each fused row against the better single mode for that kind.
    for (const auto kind : {convdata::QueryKind::kLexical, convdata::QueryKind::kParaphrase}) {
      const double single = std::max(vec.kind(kind).r10(), lex.kind(kind).r10());
      std::size_t within = 0, hybrids = 0;
      for (const SettingResult& r : run.rows) {
        if (!r.setting.hybrid()) continue;
        ++hybrids;
        within += r.kind(kind).r10() >= single - 0.02;
      }
      std::snprintf(line, sizeof line,
                    "%s, %s queries: better single mode R@10 %.3f; %s gives %.3f; %zu of %zu "
                    "fused settings within 0.02 of it",
                    run.name.c_str(), convdata::query_kind_name(kind), single,
                    best->setting.label.c_str(), best->kind(kind).r10(), within, hybrids);
      conclusions.push_back(line);
    }
    nlohmann::json rows = nlohmann::json::array();
    for (const SettingResult& r : run.rows) {
      nlohmann::json by_anchor;
      for (std::size_t a = 0; a < 5; ++a) {
        by_anchor[convdata::anchor_kind_name(static_cast<convdata::AnchorKind>(a))] = {
            {"lexical", r.lexical_by_anchor[a].json()},
            {"paraphrase", r.paraphrase_by_anchor[a].json()}};
      }
      rows.push_back({{"label", r.setting.label},
                      {"mode", mode_name(r.setting.options.mode)},
                      {"fusion", fusion_name(r.setting.options.fusion)},
                      {"vector_weight", r.setting.options.vector_weight},
                      {"rrf_k", r.setting.options.rrf_k},
                      {"lexical", r.lexical.json()},
                      {"paraphrase", r.paraphrase.json()},
                      {"all", r.all.json()},
                      {"by_anchor", by_anchor},
                      {"paraphrase_by_shared_words",
                       {r.paraphrase_by_shared[0].json(), r.paraphrase_by_shared[1].json(),
                        r.paraphrase_by_shared[2].json()}},
                      {"seconds", r.seconds}});
    }
    j["embedders"][run.name] = {{"backend", "InMemory"},
                                {"build_seconds", run.build_s},
                                {"best_single_mode", best_single_name},
                                {"best_single_recall_at_10", best_single},
                                {"best_fused", best->setting.label},
                                {"settings", rows}};
  }

  // The fusion settings side by side across both embedders.
  char line[512];
  std::printf("\n### Fusion settings across embedders (all queries, R@10; R@5 in brackets)\n\n");
  std::printf(
      "| setting | hashing | simulated | mean R@10 | worst R@10 | mean R@5 |\n"
      "|---|---|---|---|---|---|\n");
  std::size_t best_mean = 0, best_worst = 0, best_mean5 = 0;
  auto mean = [&](std::size_t k) { return runs[0].rows[k].all.r10() + runs[1].rows[k].all.r10(); };
  auto mean5 = [&](std::size_t k) { return runs[0].rows[k].all.r5() + runs[1].rows[k].all.r5(); };
  auto worst = [&](std::size_t k) {
    return std::min(runs[0].rows[k].all.r10(), runs[1].rows[k].all.r10());
  };
  for (std::size_t i = 0; i < all_settings.size(); ++i) {
    const double h = runs[0].rows[i].all.r10(), s = runs[1].rows[i].all.r10();
    std::printf("| %s | %.3f (%.3f) | %.3f (%.3f) | %.3f | %.3f | %.3f |\n",
                all_settings[i].label.c_str(), h, runs[0].rows[i].all.r5(), s,
                runs[1].rows[i].all.r5(), (h + s) / 2, std::min(h, s), mean5(i) / 2);
    if (!all_settings[i].hybrid()) continue;
    if (!all_settings[best_mean].hybrid() || mean(i) > mean(best_mean)) best_mean = i;
    if (!all_settings[best_worst].hybrid() || worst(i) > worst(best_worst)) best_worst = i;
    if (!all_settings[best_mean5].hybrid() || mean5(i) > mean5(best_mean5)) best_mean5 = i;
  }
  std::printf(
      "\n### Paraphrase queries by concept words shared with the answer (R@10; %zu, %zu, %zu "
      "queries)\n\n",
      runs[0].rows[0].paraphrase_by_shared[0].n, runs[0].rows[0].paraphrase_by_shared[1].n,
      runs[0].rows[0].paraphrase_by_shared[2].n);
  std::printf(
      "| setting | hashing 0 | hashing 1 | hashing 2 | simulated 0 | simulated 1 | simulated 2 "
      "|\n|---|---|---|---|---|---|---|\n");
  for (std::size_t i = 0; i < all_settings.size(); ++i) {
    const auto& h = runs[0].rows[i].paraphrase_by_shared;
    const auto& s = runs[1].rows[i].paraphrase_by_shared;
    std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", all_settings[i].label.c_str(),
                h[0].r10(), h[1].r10(), h[2].r10(), s[0].r10(), s[1].r10(), s[2].r10());
  }
  for (const EmbedderRun& run : runs) {
    const double single = std::max(run.rows[0].all.r10(), run.rows[1].all.r10());
    std::snprintf(line, sizeof line,
                  "%s: hybrid auto gives all R@10 %.3f (%+.3f vs the better "
                  "single mode)",
                  run.name.c_str(), run.rows[2].all.r10(), run.rows[2].all.r10() - single);
    conclusions.push_back(line);
  }
  std::snprintf(line, sizeof line,
                "across both embedders, among the fused settings: best mean R@10 %s (%.3f), "
                "best worst-case R@10 %s (%.3f), best mean R@5 %s (%.3f)",
                all_settings[best_mean].label.c_str(), mean(best_mean) / 2,
                all_settings[best_worst].label.c_str(), worst(best_worst),
                all_settings[best_mean5].label.c_str(), mean5(best_mean5) / 2);
  conclusions.push_back(line);
  j["across_embedders"] = {{"best_mean_r10", all_settings[best_mean].label},
                           {"best_worst_case_r10", all_settings[best_worst].label},
                           {"best_mean_r5", all_settings[best_mean5].label}};

  if (hnsw) {
    double build_s = 0;
    const hm::EpisodicMemory memory = build(data, strong, hm::EpisodicBackend::kHnsw, &build_s);
    const auto st = memory.store_namespace().stats();
    const bool graph = st.graph_bytes > 0;
    std::printf(
        "\n### HNSW backend (HnswParams::balanced(), simulated embedder, %s) vs InMemory\n\n",
        graph ? "graph index" : "exact scan: below graph_threshold");
    std::printf(
        "| setting | HNSW all R@10 | InMemory all R@10 | HNSW paraphrase R@10 | InMemory "
        "paraphrase R@10 | HNSW lexical R@10 | InMemory lexical R@10 "
        "|\n|---|---|---|---|---|---|---|\n");
    nlohmann::json hj = nlohmann::json::array();
    for (const std::size_t idx : {std::size_t{0}, std::size_t{2}}) {
      const SettingResult r = evaluate(memory, all_settings[idx], data.queries);
      const SettingResult& ref = runs[1].rows[idx];
      std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |\n", r.setting.label.c_str(),
                  r.all.r10(), ref.all.r10(), r.paraphrase.r10(), ref.paraphrase.r10(),
                  r.lexical.r10(), ref.lexical.r10());
      hj.push_back({{"label", r.setting.label},
                    {"lexical", r.lexical.json()},
                    {"paraphrase", r.paraphrase.json()},
                    {"all", r.all.json()},
                    {"inmemory_all", ref.all.json()}});
    }
    j["hnsw"] = {{"embedder", "simulated"},
                 {"index", graph ? "graph" : "scan"},
                 {"graph_bytes", st.graph_bytes},
                 {"build_seconds", build_s},
                 {"settings", hj}};
  }

  std::printf("\n### Conclusions\n\n");
  for (const std::string& c : conclusions) std::printf("- %s\n", c.c_str());
  j["conclusions"] = conclusions;
  if (!out.empty()) {
    std::ofstream f(out);
    f << j.dump(2) << '\n';
    if (!f) {
      std::fprintf(stderr, "memory_quality: cannot write %s\n", out.c_str());
      return 1;
    }
    std::printf("\nwrote %s\n", out.c_str());
  }
  return 0;
}
