#include "text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>

namespace hnswstore::memory::detail {
namespace {

constexpr std::size_t kMaxWordBytes = 64;

// Decodes one code point at text[i]; returns its length, 0 for an invalid sequence.
std::size_t decode(std::string_view text, std::size_t i, char32_t& cp) noexcept {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - i < len) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void encode(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool is_separator(char32_t cp) noexcept {
  if (cp < 0x80) {
    return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'));
  }
  return cp <= 0xBF || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x206F) ||
         (cp >= 0x2190 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
         (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
         (cp >= 0xFF5B && cp <= 0xFF65) || (cp >= 0x1F000 && cp <= 0x1FAFF);
}

bool is_single_character_word(char32_t cp) noexcept {
  return (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0x20000 && cp <= 0x2FA1F);
}

char32_t lower(char32_t cp) noexcept {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 0x20;
  if (cp >= 0x100 && cp <= 0x17F) {
    if (cp == 0x130) return 'i';
    if (cp == 0x178) return 0xFF;
    const bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
    if (odd_upper) return (cp % 2 == 1) ? cp + 1 : cp;
    if (cp == 0x138 || cp == 0x149 || cp == 0x17F) return cp;
    return (cp % 2 == 0) ? cp + 1 : cp;
  }
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 0x20;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
  return cp;
}

// Sorted, so is_stop_word is a binary search.
constexpr std::array<std::string_view, 128> kStopWords = {
    "a",       "about",   "above",  "after",   "again",   "against", "all",     "am",
    "an",      "and",     "any",    "are",     "as",      "at",      "be",      "because",
    "been",    "before",  "being",  "below",   "between", "both",    "but",     "by",
    "can",     "could",   "did",    "do",      "does",    "doing",   "down",    "during",
    "each",    "few",     "for",    "from",    "further", "had",     "has",     "have",
    "having",  "he",      "her",    "here",    "hers",    "herself", "him",     "himself",
    "his",     "how",     "i",      "if",      "in",      "into",    "is",      "it",
    "its",     "itself",  "just",   "me",      "more",    "most",    "my",      "myself",
    "no",      "nor",     "not",    "now",     "of",      "off",     "on",      "once",
    "only",    "or",      "other",  "our",     "ours",    "ourselves", "out",   "over",
    "own",     "same",    "she",    "should",  "so",      "some",    "such",    "than",
    "that",    "the",     "their",  "theirs",  "them",    "themselves", "then", "there",
    "these",   "they",    "this",   "those",   "through", "to",      "too",     "under",
    "until",   "up",      "very",   "was",     "we",      "were",    "what",    "when",
    "where",   "which",   "while",  "who",     "whom",    "why",     "will",    "with",
    "would",   "you",     "your",   "yours",   "yourself", "yourselves", "s",   "t"};

}  // namespace

std::optional<std::size_t> invalid_utf8_at(std::string_view text) noexcept {
  std::size_t i = 0;
  char32_t cp;
  while (i < text.size()) {
    const std::size_t len = decode(text, i, cp);
    if (len == 0) return i;
    i += len;
  }
  return std::nullopt;
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  std::size_t i = 0;
  while (i < text.size()) {
    char32_t cp = 0;
    std::size_t len = decode(text, i, cp);
    if (len == 0) {  // an invalid byte separates words
      flush();
      ++i;
      continue;
    }
    i += len;
    if (is_separator(cp)) {
      flush();
    } else if (is_single_character_word(cp)) {
      flush();
      encode(cp, word);
      flush();
    } else if (word.size() < kMaxWordBytes) {
      encode(lower(cp), word);
    }
  }
  flush();
  return words;
}

bool is_stop_word(std::string_view word) noexcept {
  static const auto sorted = [] {
    auto words = kStopWords;
    std::sort(words.begin(), words.end());
    return words;
  }();
  return std::binary_search(sorted.begin(), sorted.end(), word);
}

std::vector<std::string> content_words(std::string_view text) {
  std::vector<std::string> words = tokenize(text);
  std::erase_if(words, [](const std::string& w) { return is_stop_word(w); });
  return words;
}

std::string uuid_v4() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    std::seed_seq seq{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seq);
  }();
  std::array<std::uint8_t, 16> bytes;
  for (std::size_t i = 0; i < 16; i += 8) {
    const std::uint64_t r = rng();
    for (std::size_t k = 0; k < 8; ++k) bytes[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
  }
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0x0F];
  }
  return out;
}

}  // namespace hnswstore::memory::detail
