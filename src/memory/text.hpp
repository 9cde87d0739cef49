// Text rules of the episodic memory: UTF-8 checks, the tokeniser shared by BM25 and the
// HashingEmbedder, the stop-word list, UUIDv4 ids (docs/memory.md, "Tokeniser").
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hnswstore::memory::detail {

/// The byte offset of the first invalid UTF-8 sequence (overlong forms, surrogates and code
/// points above U+10FFFF are invalid), or nullopt when `text` is valid.
std::optional<std::size_t> invalid_utf8_at(std::string_view text) noexcept;

/// Splits text into lower-cased words:
/// - a word is a maximal run of letters, digits and marks: ASCII letters and digits, and every
///   code point from U+00C0 up that is not a separator below;
/// - separators: ASCII other than letters and digits; U+0080..U+00BF; U+00D7; U+00F7; general
///   punctuation U+2000..U+206F; symbols, arrows and box drawing U+2190..U+2BFF; CJK
///   punctuation U+3000..U+303F; full-width punctuation; emoji U+1F000..U+1FAFF;
/// - CJK ideographs, Hiragana and Katakana are words of one character each (those scripts
///   do not separate words by spaces);
/// - lower-casing covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic;
/// - a word is cut at 64 bytes.
/// Invalid UTF-8 bytes are separators. Stop words are kept (see is_stop_word).
std::vector<std::string> tokenize(std::string_view text);

/// Whether a lower-cased word is on the English stop-word list (docs/memory.md).
bool is_stop_word(std::string_view word) noexcept;

/// tokenize() without stop words.
std::vector<std::string> content_words(std::string_view text);

/// A random (version 4, RFC 4122 variant) UUID in its 36-character lower-case form.
std::string uuid_v4();

}  // namespace hnswstore::memory::detail
