// HashingEmbedder: signed feature hashing (docs/memory.md, "HashingEmbedder").
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <xxhash.h>

#include "hnswstore/memory/embedding.hpp"
#include "hnswstore/records.hpp"
#include "text.hpp"

namespace hnswstore::memory {
namespace {

// Feature groups: each hashes with its own seed, so "ab" the word and "ab" the n-gram differ,
// and carries its own weight. Word n-grams are what matches across texts most reliably; the
// character n-grams let word forms ("meeting", "meetings") and misspellings overlap.
struct Group {
  std::uint64_t seed;
  float weight;
};
constexpr Group kWords{0x9E3779B97F4A7C15ULL, 1.0f};
constexpr Group kBigrams{0xC2B2AE3D27D4EB4FULL, 0.7f};
constexpr Group kTrigramChars{0x165667B19E3779F9ULL, 0.25f};
constexpr Group kFourgramChars{0x27D4EB2F165667C5ULL, 0.25f};
constexpr Group kRawText{0x85EBCA77C2B2AE63ULL, 1.0f};

struct Feature {
  std::uint64_t hash;
  float weight;
  friend bool operator<(const Feature& a, const Feature& b) { return a.hash < b.hash; }
};

void add_char_ngrams(const std::string& word, std::vector<Feature>& out) {
  // Over "<word>", by bytes of UTF-8: boundary markers make prefixes and suffixes features.
  std::string marked;
  marked.reserve(word.size() + 2);
  marked += '<';
  marked += word;
  marked += '>';
  for (std::size_t n : {std::size_t{3}, std::size_t{4}}) {
    const Group& g = n == 3 ? kTrigramChars : kFourgramChars;
    if (marked.size() < n) continue;
    for (std::size_t i = 0; i + n <= marked.size(); ++i) {
      // Skip n-grams that start inside a multi-byte character.
      if ((static_cast<unsigned char>(marked[i]) & 0xC0) == 0x80) continue;
      out.push_back({XXH3_64bits_withSeed(marked.data() + i, n, g.seed), g.weight});
    }
  }
}

}  // namespace

HashingEmbedder::HashingEmbedder(std::size_t dimensions)
    : dimensions_(std::clamp<std::size_t>(dimensions, 1, kMaxDimension)),
      name_("hashing-" + std::to_string(dimensions_)) {}

std::vector<float> HashingEmbedder::embed_one(std::string_view text) const {
  const std::vector<std::string> words = detail::content_words(text);
  std::vector<Feature> features;
  features.reserve(words.size() * 16);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    features.push_back({XXH3_64bits_withSeed(w.data(), w.size(), kWords.seed), kWords.weight});
    if (i + 1 < words.size()) {
      const std::string bigram = w + ' ' + words[i + 1];
      features.push_back(
          {XXH3_64bits_withSeed(bigram.data(), bigram.size(), kBigrams.seed), kBigrams.weight});
    }
    add_char_ngrams(w, features);
  }
  if (features.empty()) {  // only stop words, punctuation or spaces: hash the text itself
    features.push_back(
        {XXH3_64bits_withSeed(text.data(), text.size(), kRawText.seed), kRawText.weight});
  }
  // Sub-linear term weighting: a feature seen c times weighs weight * (1 + ln c).
  std::sort(features.begin(), features.end());
  std::vector<float> v(dimensions_, 0.0f);
  for (std::size_t i = 0; i < features.size();) {
    std::size_t j = i;
    while (j < features.size() && features[j].hash == features[i].hash) ++j;
    const float w = features[i].weight * (1.0f + std::log(static_cast<float>(j - i)));
    const std::uint64_t h = features[i].hash;
    const float sign = (h >> 63) != 0 ? -1.0f : 1.0f;
    v[static_cast<std::size_t>((h & 0x7FFFFFFFFFFFFFFFULL) % dimensions_)] += sign * w;
    i = j;
  }
  double norm = 0.0;
  for (float x : v) norm += double{x} * x;
  if (norm == 0.0) {  // every feature cancelled out (possible in very few dimensions)
    v[0] = 1.0f;
    return v;
  }
  const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& x : v) x *= inv;
  return v;
}

Result<std::vector<std::vector<float>>> HashingEmbedder::embed(
    std::span<const std::string> texts) {
  std::vector<std::vector<float>> out;
  out.reserve(texts.size());
  for (const std::string& t : texts) out.push_back(embed_one(t));
  return out;
}

}  // namespace hnswstore::memory
