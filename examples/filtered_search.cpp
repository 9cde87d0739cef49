// filtered_search: metadata filters on a small catalogue of songs.
//
// Shows: filters from JSON and from C++ builders, filtered k-NN search (always min(k, matches)
// hits, every one matching), the adaptive plan (SearchOptions::exact_threshold), arrays in
// metadata, scan() in pages, remove(Filter), and what a malformed filter says.
//
//   filtered_search [--songs N]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "hnswstore/hnswstore.hpp"

using namespace hnswstore;

namespace {

bool check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "FAILED: %s\n", what);
  return ok;
}

void print_hits(const char* title, const std::vector<Hit>& hits) {
  std::printf("%s\n", title);
  for (const Hit& h : hits) {
    std::printf("  %-10s %.3f  %s\n", h.id.c_str(), h.distance, h.metadata.dump().c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t songs = 20000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--songs") songs = std::strtoul(argv[i + 1], nullptr, 10);
  }
  constexpr std::size_t kDim = 32;
  const char* genres[] = {"jazz", "rock", "pop", "classical", "blues"};

  auto store = VectorStore::in_memory();
  auto ns = store.create_namespace("songs", {.dimension = kDim, .metric = Metric::kCosine}).value();

  // A catalogue: an embedding per song, and metadata with a genre, a year, a rating, tags (an
  // array) and a nested object.
  std::mt19937 rng(42);
  std::normal_distribution<float> gauss;
  std::vector<std::string> ids;
  std::vector<float> vectors;
  std::vector<Metadata> metadata;
  for (std::size_t i = 0; i < songs; ++i) {
    ids.push_back("song-" + std::to_string(i));
    for (std::size_t d = 0; d < kDim; ++d) vectors.push_back(gauss(rng));
    Metadata m = {{"genre", genres[rng() % 5]},
                  {"year", 1920 + static_cast<int>(rng() % 100)},
                  {"rating", static_cast<double>(rng() % 50) / 10.0},
                  {"artist", {{"country", (rng() % 4 == 0) ? "FR" : "US"}}}};
    if (rng() % 3 == 0) m["tags"] = {"live", (rng() % 2) ? "remastered" : "mono"};
    if (rng() % 1000 == 0) m["award"] = true;
    metadata.push_back(std::move(m));
  }
  if (!check(ns.upsert(ids, vectors, metadata).ok(), "bulk upsert")) return 1;
  const std::vector<float> query(vectors.begin(), vectors.begin() + kDim);

  // 1. A filter from JSON: jazz from the fifties and sixties.
  const Filter fifties =
      Filter::parse(R"({"genre": "jazz", "year": {"$gte": 1950, "$lt": 1970}})").value();
  SearchOptions o;
  o.k = 5;
  o.filter = fifties;
  const auto jazz = ns.search(query, o).value();
  print_hits("jazz, 1950-1969:", jazz);
  bool ok = check(jazz.size() == 5, "five hits");
  for (const Hit& h : jazz) ok &= check(fifties.matches(h.metadata), "every hit matches");

  // 2. The same filter built in C++ is equal to the parsed one (same canonical JSON).
  const Filter built = Filter::eq("genre", "jazz") && Filter::gte("year", 1950) &&
                       Filter::lt("year", 1970);
  std::printf("canonical form: %s\n", built.to_json().dump().c_str());
  ok &= check(built == Filter::parse(built.to_json()).value(), "to_json parses back");

  // 3. Arrays match by element, dotted paths reach into objects, $or / $not / $in combine.
  o.filter = Filter::parse(R"({"tags": "live", "artist.country": "FR",
                               "$or": [{"rating": {"$gte": 4.5}}, {"genre": {"$in": ["blues"]}}]})")
                 .value();
  const auto live = ns.search(query, o).value();
  print_hits("live, French, rated >= 4.5 or blues:", live);
  for (const Hit& h : live) ok &= check(o.filter.matches(h.metadata), "every hit matches");

  // 4. A very selective filter: the payload index counts its matches exactly, and the search
  //    scores them exactly instead of walking the graph (docs/filters.md, "Adaptive execution").
  o.filter = Filter::eq("award", true);
  o.k = 100;
  const auto awarded = ns.search(query, o).value();
  const auto all_awarded = ns.scan(o.filter).value();
  std::printf("award winners: search returned %zu of %zu (k = 100)\n", awarded.size(),
              all_awarded.size());
  ok &= check(awarded.size() == std::min<std::size_t>(100, all_awarded.size()),
              "min(k, matches) hits");
  // The plan can be forced: 1 = walk the graph, SIZE_MAX = score the matches exactly.
  o.filter = Filter::eq("genre", "rock");
  o.k = 10;
  o.exact_threshold = SIZE_MAX;
  const auto exact = ns.search(query, o).value();
  o.exact_threshold = 1;
  const auto walked = ns.search(query, o).value();
  std::size_t same = 0;
  for (const Hit& a : exact) {
    for (const Hit& b : walked) same += a.id == b.id ? 1 : 0;
  }
  std::printf("rock, exact vs graph walk: %zu of 10 hits in common\n", same);
  ok &= check(exact.size() == 10 && walked.size() == 10, "ten rock hits either way");

  // 5. scan(): every match, in id order, a page at a time.
  const Filter old = Filter::lt("year", 1925);
  std::size_t total = 0, pages = 0;
  std::string last;
  for (std::size_t offset = 0;; offset += 500, ++pages) {
    const auto page = ns.scan(old, 500, offset).value();
    if (page.empty()) break;
    for (const Record& r : page) {
      ok &= check(last < r.id, "ids ascending across pages");
      last = r.id;
    }
    total += page.size();
  }
  std::printf("songs before 1925: %zu, read in %zu pages of 500\n", total, pages);

  // 6. remove(Filter) deletes every match and says how many.
  const std::size_t before = ns.size();
  const std::size_t removed = ns.remove(old).value();
  std::printf("removed %zu songs from before 1925: %zu -> %zu\n", removed, before, ns.size());
  ok &= check(removed == total && ns.size() == before - removed, "remove(Filter) count");
  ok &= check(ns.scan(old).value().empty(), "nothing before 1925 is left");

  // 7. Bad filters never reach the data: the message names the JSON path of the fault.
  const auto bad = Filter::parse(R"({"$and": [{"genre": "jazz"}, {"year": {"$gte": "x", "$lt": true}}]})");
  std::printf("bad filter: %s\n", bad.error().to_string().c_str());
  ok &= check(!bad.has_value() && bad.error().code() == StatusCode::kInvalidArgument, "parse error");
  o.filter = Filter::gt("rating", nullptr);  // a builder records the error in status()
  const auto refused = ns.search(query, o);
  std::printf("search with a bad builder: %s\n", refused.error().to_string().c_str());
  ok &= check(!refused.has_value(), "search refuses an invalid filter");

  const NamespaceStats st = ns.stats();
  std::printf("metadata %zu bytes, payload index %zu bytes (%.0f %%)\n", st.metadata_bytes,
              st.payload_index_bytes,
              100.0 * static_cast<double>(st.payload_index_bytes) /
                  static_cast<double>(st.metadata_bytes));
  return ok ? 0 : 1;
}
