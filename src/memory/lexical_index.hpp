// LexicalIndex: BM25 over the entries' content (docs/memory.md, "Lexical search").
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hnswstore::memory::detail {

/// An inverted index of content words (tokenize() without stop words) scored with BM25
/// (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))). Not thread-safe: the
/// memory guards it with a shared mutex.
class LexicalIndex {
 public:
  /// Indexes `content` under `id`, replacing what `id` had.
  void add(std::string_view id, std::string_view content);
  /// Forgets `id`; false if it was not indexed.
  bool remove(std::string_view id);
  /// Every indexed id that shares a word with the query, best BM25 score first (ties: id),
  /// at most `limit` of them.
  std::vector<std::pair<std::string, float>> search(std::string_view query,
                                                    std::size_t limit) const;
  std::size_t size() const noexcept { return live_; }
  /// Heap bytes held (an estimate from container sizes).
  std::size_t bytes() const noexcept;

 private:
  struct Doc {
    std::string id;
    std::vector<std::uint32_t> terms;  // term numbers of the words, each once
    std::uint32_t length = 0;           // words, for BM25's length normalisation
    bool live = false;
  };
  struct Posting {
    std::uint32_t doc;
    std::uint32_t tf;
  };
  struct Term {
    std::vector<Posting> postings;  // by doc number; may hold dead docs until compaction
    std::uint32_t df = 0;           // live documents holding the term
  };

  std::uint32_t term_number(const std::string& word);
  void compact();

  std::deque<Doc> docs_;  // a deque: ids_ keys point into the Docs' ids, which never move
  std::unordered_map<std::string_view, std::uint32_t> ids_;  // id -> doc number (live docs)
  std::unordered_map<std::string, std::uint32_t> term_numbers_;
  std::vector<Term> terms_;
  std::size_t live_ = 0, dead_ = 0;
  std::uint64_t total_length_ = 0;  // of live docs
  std::size_t postings_ = 0;        // postings held, dead ones included
};

}  // namespace hnswstore::memory::detail
