#include "lexical_index.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "text.hpp"

namespace hnswstore::memory::detail {
namespace {
constexpr float kK1 = 1.2f;
constexpr float kB = 0.75f;
}  // namespace

std::uint32_t LexicalIndex::term_number(const std::string& word) {
  auto [it, inserted] = term_numbers_.emplace(word, static_cast<std::uint32_t>(terms_.size()));
  if (inserted) terms_.emplace_back();
  return it->second;
}

void LexicalIndex::add(std::string_view id, std::string_view content) {
  remove(id);
  const std::vector<std::string> words = content_words(content);
  std::map<std::uint32_t, std::uint32_t> tf;
  for (const std::string& w : words) ++tf[term_number(w)];
  const auto doc = static_cast<std::uint32_t>(docs_.size());
  Doc& d = docs_.emplace_back();
  d.id = std::string(id);
  d.length = static_cast<std::uint32_t>(words.size());
  d.live = true;
  d.terms.reserve(tf.size());
  for (const auto& [term, count] : tf) {
    d.terms.push_back(term);
    terms_[term].postings.push_back({doc, count});
    ++terms_[term].df;
  }
  postings_ += tf.size();
  ids_.emplace(d.id, doc);
  ++live_;
  total_length_ += d.length;
}

bool LexicalIndex::remove(std::string_view id) {
  auto it = ids_.find(id);
  if (it == ids_.end()) return false;
  Doc& d = docs_[it->second];
  ids_.erase(it);
  for (std::uint32_t term : d.terms) --terms_[term].df;
  d.live = false;
  --live_;
  ++dead_;
  total_length_ -= d.length;
  if (dead_ > 1024 && dead_ > live_) compact();
  return true;
}

void LexicalIndex::compact() {
  std::vector<std::uint32_t> renumber(docs_.size(), UINT32_MAX);
  std::deque<Doc> docs;
  for (std::size_t i = 0; i < docs_.size(); ++i) {
    if (!docs_[i].live) continue;
    renumber[i] = static_cast<std::uint32_t>(docs.size());
    docs.push_back(std::move(docs_[i]));
  }
  postings_ = 0;
  for (Term& t : terms_) {
    std::vector<Posting> kept;
    kept.reserve(t.df);
    for (const Posting& p : t.postings) {
      if (renumber[p.doc] != UINT32_MAX) kept.push_back({renumber[p.doc], p.tf});
    }
    t.postings = std::move(kept);
    postings_ += t.postings.size();
  }
  // Terms no document uses any more stay numbered (their postings are empty); a word that
  // comes back reuses its number.
  docs_ = std::move(docs);
  ids_.clear();
  for (std::size_t i = 0; i < docs_.size(); ++i) {
    ids_.emplace(docs_[i].id, static_cast<std::uint32_t>(i));
  }
  dead_ = 0;
}

std::vector<std::pair<std::string, float>> LexicalIndex::search(std::string_view query,
                                                                std::size_t limit) const {
  std::vector<std::pair<std::string, float>> out;
  if (live_ == 0 || limit == 0) return out;
  std::vector<std::string> words = content_words(query);
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  const auto n = static_cast<float>(live_);
  const float avg_length = static_cast<float>(total_length_) / n;
  std::unordered_map<std::uint32_t, float> scores;
  for (const std::string& w : words) {
    auto it = term_numbers_.find(w);
    if (it == term_numbers_.end()) continue;
    const Term& t = terms_[it->second];
    if (t.df == 0) continue;
    const auto df = static_cast<float>(t.df);
    const float idf = std::log(1.0f + (n - df + 0.5f) / (df + 0.5f));
    for (const Posting& p : t.postings) {
      const Doc& d = docs_[p.doc];
      if (!d.live) continue;
      const auto tf = static_cast<float>(p.tf);
      const float norm =
          kK1 * (1.0f - kB + kB * static_cast<float>(d.length) / std::max(avg_length, 1.0f));
      scores[p.doc] += idf * tf * (kK1 + 1.0f) / (tf + norm);
    }
  }
  std::vector<std::pair<std::uint32_t, float>> ranked(scores.begin(), scores.end());
  auto better = [&](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second > b.second;
    return docs_[a.first].id < docs_[b.first].id;
  };
  if (ranked.size() > limit) {
    std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(limit),
                      ranked.end(), better);
    ranked.resize(limit);
  } else {
    std::sort(ranked.begin(), ranked.end(), better);
  }
  out.reserve(ranked.size());
  for (const auto& [doc, score] : ranked) out.emplace_back(docs_[doc].id, score);
  return out;
}

std::size_t LexicalIndex::bytes() const noexcept {
  std::size_t b = postings_ * sizeof(Posting) + terms_.capacity() * sizeof(Term);
  for (const auto& [word, number] : term_numbers_) {
    b += 48 + (word.size() > 15 ? word.size() + 1 : 0);  // node, key heap beyond SSO
  }
  b += term_numbers_.bucket_count() * sizeof(void*);
  for (const Doc& d : docs_) {
    b += sizeof(Doc) + (d.id.size() > 15 ? d.id.size() + 1 : 0) +
         d.terms.capacity() * sizeof(std::uint32_t);
  }
  b += ids_.size() * 32 + ids_.bucket_count() * sizeof(void*);
  return b;
}

}  // namespace hnswstore::memory::detail
