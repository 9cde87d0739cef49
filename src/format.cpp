#include "format.hpp"

#include <xxhash.h>
#include <zstd.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <iterator>
#include <memory>
#include <new>
#include <unordered_set>

#include "hnswstore/version.hpp"
#include "parallel.hpp"
#include "vector_index.hpp"

static_assert(std::endian::native == std::endian::little,
              "the file format is little-endian and so far only little-endian hosts are supported");
static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559);

namespace hnswstore::detail {

std::uint64_t xxh3(std::string_view bytes) noexcept {
  return XXH3_64bits(bytes.data(), bytes.size());
}

std::string hex64(std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = kDigits[v & 15];
  return s;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

namespace {

constexpr char kVectorsMagic[8] = {'h', 'n', 's', 'w', 's', 'v', 'e', 'c'};
constexpr char kGraphMagic[8] = {'h', 'n', 's', 'w', 's', 'g', 'r', 'f'};
constexpr std::size_t kVectorsHeaderBytes = 40;
constexpr std::size_t kGraphHeaderBytes = 56;
constexpr std::size_t kSectionHeaderBytes = 32;
constexpr std::uint32_t kCodecRaw = 0;
constexpr std::uint32_t kCodecZstd = 1;

// ── little-endian writing and reading ────────────────────────────────────────────────────────

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

template <class T>
T get_at(std::string_view bytes, std::size_t pos) {
  T v;
  std::memcpy(&v, bytes.data() + pos, sizeof(T));
  return v;
}

std::uint32_t metric_code(Metric m) {
  switch (m) {
    case Metric::kL2:
      return 0;
    case Metric::kInnerProduct:
      return 1;
    case Metric::kCosine:
      return 2;
    case Metric::kL1:
      return 3;
  }
  return 0xFFFFFFFFu;
}

// ── sections ─────────────────────────────────────────────────────────────────────────────────

// A writer keeps a section compressed only if zstd saves at least 1/kMinZstdSaving of its bytes.
// Every load pays for a compressed section's decompression (about 0.4 GB/s for float vectors,
// several times slower than reading them), so a frame that saves little costs more than it
// saves: embedding vectors shrink by 7-10 % and are stored raw; ids, metadata and links shrink
// by a third or more and stay compressed. Readers accept either codec in every section.
constexpr std::size_t kMinZstdSaving = 8;

// Section checksums are computed in chunks of this many bytes (a multiple of 4, so that float
// payloads split between values), letting a caller check each chunk while it is in cache.
constexpr std::size_t kHashChunk = std::size_t{1} << 16;

// Appends one section: a 32-byte header (tag, codec, stored size, raw size, checksum of the
// header's first 24 bytes followed by the payload) and the payload, zstd-compressed when that is
// asked for and saves enough (kMinZstdSaving).
void append_section(std::string& out, const char (&tag)[5], std::string_view raw, int level) {
  std::string packed;
  std::uint32_t codec = kCodecRaw;
  if (level != 0 && !raw.empty()) {
    packed.resize(ZSTD_compressBound(raw.size()));
    const std::size_t n =
        ZSTD_compress(packed.data(), packed.size(), raw.data(), raw.size(), level);
    if (ZSTD_isError(n) == 0 && n < raw.size() && n <= raw.size() - raw.size() / kMinZstdSaving) {
      packed.resize(n);
      codec = kCodecZstd;
    }
  }
  const std::string_view payload = codec == kCodecZstd ? std::string_view(packed) : raw;
  std::string header;
  header.append(tag, 4);
  put<std::uint32_t>(header, codec);
  put<std::uint64_t>(header, payload.size());
  put<std::uint64_t>(header, raw.size());
  XXH3_state_t* state = XXH3_createState();
  if (state == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, header.data(), header.size());
  XXH3_64bits_update(state, payload.data(), payload.size());
  const std::uint64_t sum = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  put<std::uint64_t>(header, sum);
  out += header;
  out += payload;
}

// Memory for decompressed payloads, allocated without zeroing: the decoder writes every byte that
// is kept, and zeroing a fresh buffer of 150 MB first costs about as much as checking raw vectors.
class ByteBuffer {
 public:
  char* data() noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  // Reallocates to `size` bytes, keeping the first `keep`.
  void grow(std::size_t size, std::size_t keep) {
    std::unique_ptr<char[]> bigger(new char[size]);
    if (keep != 0) std::memcpy(bigger.get(), data_.get(), keep);
    data_ = std::move(bigger);
    size_ = size;
  }
  // Only the first `size` bytes count from now on (no reallocation).
  void truncate(std::size_t size) noexcept { size_ = std::min(size_, size); }
  std::unique_ptr<char[]> release() noexcept {
    size_ = 0;
    return std::move(data_);
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

// A section as its header describes it, found by SectionReader::locate, which has checked only
// that the header and the payload it announces lie inside the file (steps 1 to 3 of docs/format.md
// "Reading a section"). Nothing here is trusted before check_section.
struct Located {
  std::string where;         // "<file>: section <tag>", for messages
  std::string_view header;   // the 32 header bytes
  std::string_view payload;  // the `stored` bytes that follow
  std::uint32_t codec = 0;
  std::uint64_t raw_size = 0;
  std::uint64_t checksum = 0;
};

// Calls fn(chunk) for consecutive pieces of `bytes` of kHashChunk bytes (the last may be
// shorter).
template <class Fn>
void for_each_chunk(std::string_view bytes, Fn&& fn) {
  for (std::size_t at = 0; at < bytes.size(); at += kHashChunk) fn(bytes.substr(at, kHashChunk));
}

// Decompresses one zstd frame that must decode to exactly raw_size bytes. The buffer grows only
// as real output arrives, so a forged size cannot make it allocate.
Status unzstd(std::string_view in, std::uint64_t raw_size, const std::string& where,
              ByteBuffer& out) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  if (!ctx) throw std::bad_alloc();
  // The decoder allocates a frame's window before any output arrives. A valid frame needs no
  // window larger than what it decodes to: raw_size, and at most 2^15 bytes per input byte (an
  // RLE block regenerates 128 KiB from 4 bytes). So a forged window size is refused instead of
  // reserving up to 128 MiB.
  const std::uint64_t most = std::min<std::uint64_t>(raw_size, std::uint64_t{in.size()} << 15);
  int window_log = 10;  // zstd's smallest window
  while (window_log < 27 && (std::uint64_t{1} << window_log) < most) ++window_log;
  (void)ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, window_log);
  // Room to notice a frame that decodes to more (raw_size + 1 would wrap to 0 for 2^64 - 1).
  const std::uint64_t limit = raw_size == UINT64_MAX ? raw_size : raw_size + 1;
  out.grow(static_cast<std::size_t>(std::min<std::uint64_t>(limit, in.size() * 4 + 65536)), 0);
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  std::size_t produced = 0;
  for (;;) {
    ZSTD_outBuffer ob{out.data(), out.size(), produced};
    const std::size_t r = ZSTD_decompressStream(ctx.get(), &ob, &ib);
    if (ZSTD_isError(r) != 0) return Status::Corruption(where + ": zstd: " + ZSTD_getErrorName(r));
    produced = ob.pos;
    if (produced > raw_size) {
      return Status::Corruption(where + ": decompresses to more than its " +
                                std::to_string(raw_size) + " bytes");
    }
    if (r == 0) {
      if (ib.pos != ib.size) {
        return Status::Corruption(where + ": bytes after the end of its zstd frame");
      }
      break;
    }
    if (ob.pos == ob.size) {
      out.grow(static_cast<std::size_t>(std::min<std::uint64_t>(limit, out.size() * 2)), produced);
    } else if (ib.pos == ib.size) {
      return Status::Corruption(where + ": truncated zstd frame");
    }
  }
  if (produced != raw_size) {
    return Status::Corruption(where + ": decompresses to " + std::to_string(produced) +
                              " bytes, expected " + std::to_string(raw_size));
  }
  out.truncate(produced);
  return Status::Ok();
}

// Steps 4 to 6 of "Reading a section" for a located section: checksum, decoded size
// (`exact_raw`, if given, is the only valid one; any other is checked against `max_raw` before
// anything is allocated), codec. `raw` then views the decoded payload: into the file for a raw
// section, into `buffer` for a compressed one. If the header says the section is raw,
// each_chunk(chunk) sees its payload chunk by chunk as it is hashed, before the checksum is known:
// what it finds must not be used unless this returns Ok.
template <class ChunkFn>
Status check_section(const Located& s, std::optional<std::uint64_t> exact_raw,
                     std::uint64_t max_raw, ByteBuffer& buffer, std::string_view& raw,
                     ChunkFn&& each_chunk) {
  XXH3_state_t* state = XXH3_createState();
  if (state == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, s.header.data(), 24);
  const bool raw_payload = s.codec == kCodecRaw;
  for_each_chunk(s.payload, [&](std::string_view chunk) {
    XXH3_64bits_update(state, chunk.data(), chunk.size());
    if (raw_payload) each_chunk(chunk);
  });
  const std::uint64_t actual = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  if (actual != s.checksum) return Status::Corruption(s.where + ": checksum mismatch");
  if (exact_raw && s.raw_size != *exact_raw) {
    return Status::Corruption(s.where + ": " + std::to_string(s.raw_size) + " bytes, expected " +
                              std::to_string(*exact_raw));
  }
  if (s.raw_size > max_raw) {
    return Status::Corruption(s.where + ": " + std::to_string(s.raw_size) +
                              " bytes is more than its records can hold");
  }
  if (s.codec == kCodecRaw) {
    if (s.payload.size() != s.raw_size) {
      return Status::Corruption(s.where + ": an uncompressed section's sizes differ");
    }
    raw = s.payload;
  } else if (s.codec == kCodecZstd) {
    if (Status st = unzstd(s.payload, s.raw_size, s.where, buffer); !st.ok()) return st;
    raw = std::string_view(buffer.data(), buffer.size());
  } else {
    return Status::Corruption(s.where + ": unknown codec " + std::to_string(s.codec));
  }
  return Status::Ok();
}

Status check_section(const Located& s, std::optional<std::uint64_t> exact_raw,
                     std::uint64_t max_raw, ByteBuffer& buffer, std::string_view& raw) {
  return check_section(s, exact_raw, max_raw, buffer, raw, [](std::string_view) {});
}

class SectionReader {
 public:
  SectionReader(std::string_view bytes, std::size_t pos, std::string_view file)
      : bytes_(bytes), pos_(pos), file_(file) {}

  std::size_t pos() const noexcept { return pos_; }

  // Steps 1 to 3 for the next section, which must carry `tag`, and steps over it: the header
  // and the payload it announces lie inside the file. Reads nothing of the payload.
  Status locate(const char (&tag)[5], Located& s) {
    s.where = std::string(file_) + ": section " + tag;
    if (bytes_.size() - pos_ < kSectionHeaderBytes) {
      return Status::Corruption(s.where + ": truncated (the file ends inside its header)");
    }
    s.header = bytes_.substr(pos_, kSectionHeaderBytes);
    if (std::memcmp(s.header.data(), tag, 4) != 0) {
      return Status::Corruption(s.where + ": expected here at offset " + std::to_string(pos_) +
                                ", found another tag");
    }
    s.codec = get_at<std::uint32_t>(s.header, 4);
    const auto stored = get_at<std::uint64_t>(s.header, 8);
    s.raw_size = get_at<std::uint64_t>(s.header, 16);
    s.checksum = get_at<std::uint64_t>(s.header, 24);
    if (stored > bytes_.size() - pos_ - kSectionHeaderBytes) {
      return Status::Corruption(
          s.where + ": truncated (" + std::to_string(stored) + " payload bytes announced, " +
          std::to_string(bytes_.size() - pos_ - kSectionHeaderBytes) + " left in the file)");
    }
    s.payload = bytes_.substr(pos_ + kSectionHeaderBytes, stored);
    pos_ += kSectionHeaderBytes + stored;
    return Status::Ok();
  }

  // Reads the next section, which must carry `tag`: locate, then check_section.
  Status next(const char (&tag)[5], std::optional<std::uint64_t> exact_raw, std::uint64_t max_raw,
              ByteBuffer& buffer, std::string_view& raw) {
    Located s;
    if (Status st = locate(tag, s); !st.ok()) return st;
    return check_section(s, exact_raw, max_raw, buffer, raw);
  }

  // After the last section a reader knows: newer minor versions may append sections, which are
  // verified and skipped; anything else is corruption.
  Status finish(std::uint16_t file_minor) {
    while (pos_ < bytes_.size()) {
      if (file_minor <= kFormatMinor) {
        return Status::Corruption(std::string(file_) + ": " + std::to_string(bytes_.size() - pos_) +
                                  " unexpected bytes after the last section");
      }
      if (bytes_.size() - pos_ < kSectionHeaderBytes) {
        return Status::Corruption(std::string(file_) + ": truncated after the last section");
      }
      char tag[5] = {};
      std::memcpy(tag, bytes_.data() + pos_, 4);
      ByteBuffer buffer;
      std::string_view raw;
      const char(&t)[5] = tag;
      if (Status s = next(t, std::nullopt, UINT64_MAX, buffer, raw); !s.ok()) return s;
    }
    return Status::Ok();
  }

 private:
  std::string_view bytes_;
  std::size_t pos_;
  std::string_view file_;
};

// Checks a fixed-size file header: magic, size, checksum, major version.
Status check_header(std::string_view bytes, std::string_view file, const char (&magic)[8],
                    std::size_t header_bytes, std::string_view kind) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), magic, 8) != 0) {
    return Status::Corruption(std::string(file) + ": header: not " + std::string(kind) +
                              " (wrong magic bytes)");
  }
  if (bytes.size() < header_bytes) {
    return Status::Corruption(std::string(file) + ": header: truncated (" +
                              std::to_string(bytes.size()) + " bytes)");
  }
  const std::size_t body = header_bytes - 8;
  if (xxh3(bytes.substr(0, body)) != get_at<std::uint64_t>(bytes, body)) {
    return Status::Corruption(std::string(file) + ": header: checksum mismatch");
  }
  const auto major = get_at<std::uint16_t>(bytes, 8);
  if (major != kFormatMajor) {
    return Status::NotSupported(
        std::string(file) + ": header: format version " + std::to_string(major) + "." +
        std::to_string(get_at<std::uint16_t>(bytes, 10)) + ", this library reads version " +
        std::to_string(kFormatMajor) + ".x");
  }
  if (get_at<std::uint32_t>(bytes, 12) != 0) {
    return Status::Corruption(std::string(file) + ": header: unknown flags");
  }
  return Status::Ok();
}

// The deepest nesting of arrays and objects in JSON text, counting brackets outside strings.
// Up to where a parser stops (at its first syntax error, if any) it sees the same strings, so
// this is never less than the depth a parser reaches.
std::size_t bracket_depth(std::string_view text) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Metadata parse that refuses deep nesting before the parser builds it.
Status parse_metadata(std::string_view text, const std::string& where, Metadata& out) {
  try {
    if (bracket_depth(text) <= kMaxMetadataDepth) {
      // The callback below could not refuse anything here, and parsing without one takes half
      // the time (a load parses every record's metadata).
      out = Metadata::parse(text, nullptr, true);
    } else {
      out = Metadata::parse(
          text,
          [](int depth, Metadata::parse_event_t, Metadata&) {
            if (static_cast<std::size_t>(depth) > kMaxMetadataDepth) {
              throw std::length_error("deep");
            }
            return true;
          },
          true);
    }
  } catch (const std::length_error&) {
    return Status::Corruption(where + ": nested deeper than " + std::to_string(kMaxMetadataDepth) +
                              " levels");
  } catch (const Metadata::exception& e) {
    return Status::Corruption(where + ": " + e.what());
  }
  if (!out.is_object()) return Status::Corruption(where + ": not a JSON object");
  return Status::Ok();
}

}  // namespace

// ── vectors.bin ──────────────────────────────────────────────────────────────────────────────

std::string encode_vectors(const VectorsSource& src, int level) {
  const std::size_t n = src.count;
  const std::size_t dim = src.dimension;
  std::string out;
  put<std::uint64_t>(out, 0);  // magic, overwritten below
  std::memcpy(out.data(), kVectorsMagic, 8);
  put<std::uint16_t>(out, kFormatMajor);
  put<std::uint16_t>(out, kFormatMinor);
  put<std::uint32_t>(out, 0);  // flags
  put<std::uint32_t>(out, static_cast<std::uint32_t>(dim));
  put<std::uint32_t>(out, metric_code(src.metric));
  put<std::uint64_t>(out, n);
  put<std::uint64_t>(out, xxh3(out));

  std::string raw;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view id = src.id(i);
    put<std::uint32_t>(raw, static_cast<std::uint32_t>(id.size()));
    raw += id;
  }
  append_section(out, "IDS_", raw, level);

  raw.assign(n * dim * sizeof(float), '\0');
  for (std::size_t i = 0; i < n; ++i) {
    std::memcpy(raw.data() + i * dim * sizeof(float), src.vector(i), dim * sizeof(float));
  }
  append_section(out, "VECS", raw, level);

  raw.clear();
  if (src.metric == Metric::kCosine) {
    raw.resize(n * sizeof(float));
    for (std::size_t i = 0; i < n; ++i) {
      const float norm = src.norm(i);
      std::memcpy(raw.data() + i * sizeof(float), &norm, sizeof(float));
    }
  }
  append_section(out, "NORM", raw, level);

  raw.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const std::string text = src.metadata(i).dump();
    put<std::uint32_t>(raw, static_cast<std::uint32_t>(text.size()));
    raw += text;
  }
  append_section(out, "META", raw, level);
  return out;
}

namespace {

// Index of the first value in `bytes` (little-endian f32, a multiple of 4 bytes, any alignment)
// that is NaN or infinite, or SIZE_MAX. Those have every exponent bit set; the branch-free pass
// vectorises, and the exact index is looked for only when there is one.
std::size_t first_non_finite(std::string_view bytes) {
  const std::size_t n = bytes.size() / sizeof(float);
  const char* p = bytes.data();
  std::uint32_t any = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t w;
    std::memcpy(&w, p + i * sizeof(float), sizeof w);
    any |= static_cast<std::uint32_t>((w & 0x7f800000u) == 0x7f800000u);
  }
  for (std::size_t i = 0; any != 0 && i < n; ++i) {
    std::uint32_t w;
    std::memcpy(&w, p + i * sizeof(float), sizeof w);
    if ((w & 0x7f800000u) == 0x7f800000u) return i;
  }
  return SIZE_MAX;
}

}  // namespace

Status decode_vectors(std::string_view bytes, std::string_view file,
                      const NamespaceOptions& options, std::size_t expected_count,
                      VectorsImage* out, std::size_t threads) {
  return decode_vectors(bytes, file, options, expected_count, out,
                        VectorsDecodeOptions{.threads = threads});
}

Status decode_vectors(std::string_view bytes, std::string_view file,
                      const NamespaceOptions& options, std::size_t expected_count,
                      VectorsImage* out, const VectorsDecodeOptions& how) {
  if (Status s = check_header(bytes, file, kVectorsMagic, kVectorsHeaderBytes, "a vectors file");
      !s.ok()) {
    return s;
  }
  const std::string f(file);
  const auto minor = get_at<std::uint16_t>(bytes, 10);
  const auto dim = get_at<std::uint32_t>(bytes, 16);
  const auto metric = get_at<std::uint32_t>(bytes, 20);
  const auto count = get_at<std::uint64_t>(bytes, 24);
  if (dim != options.dimension) {
    return Status::Corruption(f + ": header: dimension " + std::to_string(dim) +
                              ", the config says " + std::to_string(options.dimension));
  }
  if (metric != metric_code(options.metric)) {
    return Status::Corruption(f + ": header: metric code " + std::to_string(metric) +
                              ", the config says " + std::string(to_string(options.metric)));
  }
  if (count != expected_count) {
    return Status::Corruption(f + ": header: " + std::to_string(count) +
                              " records, the config says " + std::to_string(expected_count));
  }
  const bool cosine = options.metric == Metric::kCosine;
  // Every record takes at least 4 + 1 id bytes, so a count the file cannot hold is refused
  // before anything is sized by it (sections may be compressed, so this is a loose bound).
  const std::uint64_t file_bytes = bytes.size();
  if (count > kMaxSlots || count * 5 > file_bytes * 65536) {
    return Status::Corruption(f + ": header: " + std::to_string(count) +
                              " records is impossible for a file of " + std::to_string(file_bytes) +
                              " bytes");
  }
  const std::size_t n = static_cast<std::size_t>(count);
  out->dimension = dim;
  out->ids.clear();
  out->vectors.clear();
  out->vector_bytes = {};
  out->vector_buffer.reset();
  out->norms.clear();
  out->metadata.clear();
  out->metadata_texts.clear();
  out->metadata_buffer.reset();

  // Where the four sections are (steps 1 to 3 of "Reading a section": bounds only). Then every
  // section is checked and decoded on up to `threads` threads, together with the whole file's
  // checksum; the first failure in file order is reported, as if the sections had been read one
  // after the other. A section's payload is used only after its own checksum and sizes passed.
  SectionReader reader(bytes, kVectorsHeaderBytes, file);
  Located ids_s, vecs_s, norm_s, meta_s;
  Located* const order[] = {&ids_s, &vecs_s, &norm_s, &meta_s};
  static constexpr char kTags[4][5] = {"IDS_", "VECS", "NORM", "META"};
  std::size_t located = 0;
  Status locate_status;
  while (located < 4) {
    locate_status = reader.locate(kTags[located], *order[located]);
    if (!locate_status.ok()) break;
    ++located;
  }

  Status ids_status, vecs_status, norm_status, meta_status;
  ByteBuffer ids_buffer, vecs_buffer, norm_buffer, meta_buffer;
  std::string_view vecs_raw, meta_raw;
  const std::uint64_t vec_bytes = count * dim * sizeof(float);

  // Each task fills only its own members; the longest come first.
  const std::function<void()> tasks[] = {
      [&] {  // VECS
        if (located < 2) return;
        // A raw payload is checked for finite values chunk by chunk as it is hashed, while each
        // chunk is in cache: one pass over 150 MB instead of two. The result counts only if the
        // checksum matches.
        std::size_t bad = SIZE_MAX;  // index of the first value that is not finite
        std::size_t seen = 0;        // bytes scanned so far
        auto scan = [&](std::string_view chunk) {
          if (bad == SIZE_MAX) {
            const std::size_t i = first_non_finite(chunk);
            if (i != SIZE_MAX) bad = seen / sizeof(float) + i;
          }
          seen += chunk.size();
        };
        vecs_status = check_section(vecs_s, vec_bytes, vec_bytes, vecs_buffer, vecs_raw, scan);
        if (!vecs_status.ok()) return;
        if (vecs_s.codec != kCodecRaw) bad = first_non_finite(vecs_raw);
        if (bad != SIZE_MAX) {
          vecs_status =
              Status::Corruption(f + ": section VECS: record " + std::to_string(bad / dim) +
                                 " holds a value that is not finite");
        }
      },
      [&] {
        if (how.hash_file) out->file_checksum = xxh3(bytes);
      },
      [&] {  // IDS_
        if (located < 1) return;
        std::string_view raw;
        ids_status = check_section(ids_s, std::nullopt, count * (4 + kMaxIdBytes), ids_buffer, raw);
        if (!ids_status.ok()) return;
        // Sized by the section's real bytes (5 or more per id), never by the header's count
        // alone.
        const std::size_t expect = std::min<std::size_t>(n, raw.size() / 5);
        out->ids.reserve(expect);
        std::unordered_set<std::string_view> unique;
        unique.reserve(expect);
        std::size_t pos = 0;
        for (std::size_t i = 0; i < n; ++i) {
          if (raw.size() - pos < 4) {
            ids_status = Status::Corruption(f + ": section IDS_: ends early");
            return;
          }
          const auto len = get_at<std::uint32_t>(raw, pos);
          pos += 4;
          if (len == 0 || len > kMaxIdBytes || len > raw.size() - pos) {
            ids_status = Status::Corruption(f + ": section IDS_: record " + std::to_string(i) +
                                            " has an impossible id length " + std::to_string(len));
            return;
          }
          const std::string_view id = raw.substr(pos, len);
          pos += len;
          if (!unique.insert(id).second) {
            ids_status = Status::Corruption(f + ": section IDS_: id of record " +
                                            std::to_string(i) + " appears twice");
            return;
          }
          out->ids.emplace_back(id);
        }
        if (pos != raw.size()) {
          ids_status =
              Status::Corruption(f + ": section IDS_: " + std::to_string(raw.size() - pos) +
                                 " bytes after the last id");
        }
      },
      [&] {  // NORM, then META's checksum and record lengths (its texts are parsed below)
        if (located < 3) return;
        const std::uint64_t norm_bytes = cosine ? count * sizeof(float) : 0;
        std::string_view raw;
        norm_status = check_section(norm_s, norm_bytes, norm_bytes, norm_buffer, raw);
        if (!norm_status.ok()) return;
        out->norms.resize(cosine ? n : 0);
        if (cosine && n != 0) std::memcpy(out->norms.data(), raw.data(), raw.size());
        for (std::size_t i = 0; i < out->norms.size(); ++i) {
          if (!std::isfinite(out->norms[i]) || !(out->norms[i] > 0.0f)) {
            norm_status = Status::Corruption(f + ": section NORM: record " + std::to_string(i) +
                                             " has an impossible norm");
            return;
          }
        }
        if (located < 4) return;
        meta_status = check_section(meta_s, std::nullopt, UINT64_MAX, meta_buffer, meta_raw);
        if (!meta_status.ok()) return;
        // Every record has its 4 length bytes, so the table is sized by real bytes.
        std::vector<std::string_view>& texts = out->metadata_texts;
        texts.reserve(std::min<std::size_t>(n, meta_raw.size() / 4));
        std::size_t pos = 0;
        for (std::size_t i = 0; i < n; ++i) {
          if (meta_raw.size() - pos < 4) {
            meta_status = Status::Corruption(f + ": section META: ends early");
            return;
          }
          const auto len = get_at<std::uint32_t>(meta_raw, pos);
          pos += 4;
          if (len > meta_raw.size() - pos) {
            meta_status = Status::Corruption(f + ": section META: record " + std::to_string(i) +
                                             " has an impossible length " + std::to_string(len));
            return;
          }
          texts.push_back(meta_raw.substr(pos, len));
          pos += len;
        }
        if (pos != meta_raw.size()) {
          meta_status =
              Status::Corruption(f + ": section META: " + std::to_string(meta_raw.size() - pos) +
                                 " bytes after the last record");
        }
      },
  };
  parallel_for(std::size(tasks), how.threads, 1, [&](std::size_t i) { tasks[i](); });
  const Status* const results[] = {&ids_status, &vecs_status, &norm_status, &meta_status};
  for (std::size_t i = 0; i < located; ++i) {
    if (!results[i]->ok()) return *results[i];
  }
  if (located < 4) return locate_status;

  if (how.copy_vectors) {
    out->vectors.resize(n * dim);
    if (!vecs_raw.empty()) std::memcpy(out->vectors.data(), vecs_raw.data(), vecs_raw.size());
  } else {
    out->vector_bytes = vecs_raw;
    if (vecs_s.codec == kCodecZstd) out->vector_buffer = vecs_buffer.release();
  }
  if (meta_s.codec == kCodecZstd) out->metadata_buffer = meta_buffer.release();
  const Status tail = reader.finish(minor);
  // A damaged text comes before the end of the file in the order of checks, so the texts are
  // parsed here, whatever the caller asked, when the end is wrong too.
  if (how.parse_metadata || !tail.ok()) {
    if (Status s = parse_metadata_texts(out, file, how.threads); !s.ok()) return s;
  }
  return tail;
}

Status parse_metadata_texts(VectorsImage* image, std::string_view file, std::size_t threads) {
  const std::vector<std::string_view>& texts = image->metadata_texts;
  const std::size_t n = texts.size();
  image->metadata.clear();
  image->metadata.resize(n);
  std::atomic<std::size_t> first_bad{SIZE_MAX};
  parallel_for(n, threads, 1024, [&](std::size_t i) {
    if (!parse_metadata(texts[i], std::string(), image->metadata[i]).ok()) {
      std::size_t seen = first_bad.load();
      while (i < seen && !first_bad.compare_exchange_weak(seen, i)) {
      }
    }
  });
  if (const std::size_t i = first_bad.load(); i != SIZE_MAX) {
    // Parsed again for the message.
    Metadata scratch;
    return parse_metadata(
        texts[i], std::string(file) + ": section META: record " + std::to_string(i), scratch);
  }
  std::vector<std::string_view>().swap(image->metadata_texts);
  image->metadata_buffer.reset();
  return Status::Ok();
}

// ── graph.bin ────────────────────────────────────────────────────────────────────────────────

std::string encode_graph(const GraphImage& g, std::uint64_t vectors_checksum, int level) {
  std::string out;
  out.append(kGraphMagic, 8);
  put<std::uint16_t>(out, kFormatMajor);
  put<std::uint16_t>(out, kFormatMinor);
  put<std::uint32_t>(out, 0);
  put<std::uint64_t>(out, vectors_checksum);
  put<std::uint64_t>(out, g.count());
  put<std::uint32_t>(out, g.max_m);
  put<std::uint32_t>(out, g.max_m0);
  put<std::uint32_t>(out, g.entry_point);
  put<std::uint32_t>(out, g.max_level);
  put<std::uint64_t>(out, xxh3(out));
  append_section(out, "LEVL",
                 std::string_view(reinterpret_cast<const char*>(g.levels.data()), g.levels.size()),
                 level);
  append_section(out, "LINK",
                 std::string_view(reinterpret_cast<const char*>(g.links.data()),
                                  g.links.size() * sizeof(std::uint32_t)),
                 level);
  return out;
}

Status decode_graph(std::string_view bytes, std::string_view file, std::uint64_t vectors_checksum,
                    std::size_t count, std::size_t m, GraphImage* g) {
  if (Status s = check_header(bytes, file, kGraphMagic, kGraphHeaderBytes, "a graph file");
      !s.ok()) {
    return s;
  }
  const std::string f(file);
  if (get_at<std::uint64_t>(bytes, 16) != vectors_checksum) {
    return Status::Corruption(f + ": belongs to another vectors file (stale)");
  }
  if (get_at<std::uint64_t>(bytes, 24) != count) {
    return Status::Corruption(f + ": header: node count differs from the vectors file");
  }
  g->max_m = get_at<std::uint32_t>(bytes, 32);
  g->max_m0 = get_at<std::uint32_t>(bytes, 36);
  g->entry_point = get_at<std::uint32_t>(bytes, 40);
  g->max_level = get_at<std::uint32_t>(bytes, 44);
  if (g->max_m != m || g->max_m0 != 2 * m) {
    return Status::Corruption(f + ": header: built with m " + std::to_string(g->max_m) +
                              ", the namespace has m " + std::to_string(m));
  }
  if (g->max_level > 255 || (count != 0 && g->entry_point >= count)) {
    return Status::Corruption(f + ": header: impossible entry point or level");
  }
  const std::uint16_t minor = get_at<std::uint16_t>(bytes, 10);
  SectionReader reader(bytes, kGraphHeaderBytes, file);
  ByteBuffer level_buffer;
  std::string_view raw;
  if (Status s = reader.next("LEVL", count, count, level_buffer, raw); !s.ok()) return s;
  g->levels.assign(raw.begin(), raw.end());
  // Every node has at least its level-0 count; at most (max_m0 + 1) + level * (max_m + 1) words.
  std::uint64_t max_words = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (g->levels[i] > g->max_level) {
      return Status::Corruption(f + ": section LEVL: node " + std::to_string(i) +
                                " is above the top level");
    }
    max_words += (g->max_m0 + 1) + std::uint64_t{g->levels[i]} * (g->max_m + 1);
  }
  if (count != 0 && g->levels[g->entry_point] != g->max_level) {
    return Status::Corruption(f + ": header: the entry point is not on the top level");
  }
  ByteBuffer link_buffer;
  if (Status s = reader.next("LINK", std::nullopt, max_words * 4, link_buffer, raw); !s.ok()) {
    return s;
  }
  if (raw.size() % 4 != 0) return Status::Corruption(f + ": section LINK: ragged length");
  g->links.resize(raw.size() / 4);
  if (!raw.empty()) std::memcpy(g->links.data(), raw.data(), raw.size());
  g->offsets.resize(count + 1);
  std::size_t pos = 0;
  const std::size_t words = g->links.size();
  for (std::size_t i = 0; i < count; ++i) {
    g->offsets[i] = pos;
    for (std::size_t l = 0; l <= g->levels[i]; ++l) {
      if (pos >= words) return Status::Corruption(f + ": section LINK: ends early");
      const std::uint32_t n = g->links[pos++];
      if (n > (l == 0 ? g->max_m0 : g->max_m) || n > words - pos) {
        return Status::Corruption(f + ": section LINK: node " + std::to_string(i) +
                                  " has an impossible link count");
      }
      for (std::uint32_t j = 0; j < n; ++j) {
        const std::uint32_t to = g->links[pos + j];
        if (to >= count) {
          return Status::Corruption(f + ": section LINK: node " + std::to_string(i) +
                                    " links to a node that does not exist");
        }
        // A search that follows this link reads the neighbour's list on level l.
        if (g->levels[to] < l) {
          return Status::Corruption(f + ": section LINK: node " + std::to_string(i) +
                                    " links on level " + std::to_string(l) + " to node " +
                                    std::to_string(to) + ", which is not on that level");
        }
      }
      pos += n;
    }
  }
  g->offsets[count] = pos;
  if (pos != words) return Status::Corruption(f + ": section LINK: bytes after the last node");
  return reader.finish(minor);
}

// ── config.json ──────────────────────────────────────────────────────────────────────────────

namespace {

constexpr std::string_view kChecksumKey = "  \"checksum\": \"";
constexpr std::string_view kConfigEnd = "\"\n}\n";

nlohmann::json file_ref_json(const FileRef& r) {
  return {{"name", r.name}, {"size", r.size}, {"xxh3", hex64(r.checksum)}};
}

// Field access that reports the field's path when it is missing or of the wrong type.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string file) : j_(j), file_(std::move(file)) {}

  Status object(const nlohmann::json& parent, std::string_view key, std::string_view path,
                const nlohmann::json*& out) const {
    auto it = parent.find(key);
    if (it == parent.end() || !it->is_object()) return bad(path, "missing or not an object");
    out = &*it;
    return Status::Ok();
  }
  Status string(const nlohmann::json& parent, std::string_view key, std::string_view path,
                std::string& out) const {
    auto it = parent.find(key);
    if (it == parent.end() || !it->is_string()) return bad(path, "missing or not a string");
    out = it->get<std::string>();
    return Status::Ok();
  }
  Status number(const nlohmann::json& parent, std::string_view key, std::string_view path,
                std::uint64_t& out) const {
    auto it = parent.find(key);
    if (it == parent.end() || !it->is_number_unsigned()) {
      return bad(path, "missing or not an unsigned integer");
    }
    out = it->get<std::uint64_t>();
    return Status::Ok();
  }
  Status bad(std::string_view path, std::string_view what) const {
    return Status::Corruption(file_ + ": " + std::string(path) + ": " + std::string(what));
  }
  const nlohmann::json& root() const { return j_; }

 private:
  const nlohmann::json& j_;
  std::string file_;
};

Status parse_file_ref(const Fields& fx, const nlohmann::json& parent, std::string_view key,
                      const std::string& path, FileRef& out) {
  const nlohmann::json* o = nullptr;
  if (Status s = fx.object(parent, key, path, o); !s.ok()) return s;
  std::string hex;
  if (Status s = fx.string(*o, "name", path + ".name", out.name); !s.ok()) return s;
  if (Status s = fx.number(*o, "size", path + ".size", out.size); !s.ok()) return s;
  if (Status s = fx.string(*o, "xxh3", path + ".xxh3", hex); !s.ok()) return s;
  if (hex.size() != 16 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return fx.bad(path + ".xxh3", "expected 16 lower-case hex digits");
  }
  out.checksum = std::stoull(hex, nullptr, 16);
  return Status::Ok();
}

}  // namespace

std::string encode_config(const NamespaceConfig& c) {
  const NamespaceOptions& o = c.options;
  nlohmann::json j = {
      {"format", "hnswstore namespace"},
      {"format_major", kFormatMajor},
      {"format_minor", c.format_minor},
      {"name", c.name},
      {"generation", c.generation},
      {"count", c.count},
      {"library_version", c.library_version},
      {"created", c.created},
      {"saved", c.saved},
      {"options",
       {{"dimension", o.dimension},
        {"metric", to_string(o.metric)},
        {"index", to_string(o.index)},
        {"hnsw",
         {{"m", o.hnsw.m},
          {"ef_construction", o.hnsw.ef_construction},
          {"ef_search", o.hnsw.ef_search},
          {"seed", o.hnsw.seed},
          {"graph_threshold", o.hnsw.graph_threshold}}},
        {"max_elements", o.max_elements},
        {"memory_limit_bytes", o.memory_limit_bytes}}},
      {"files",
       {{"vectors", file_ref_json(c.vectors)},
        {"graph", c.graph ? file_ref_json(*c.graph) : nlohmann::json(nullptr)}}},
  };
  std::string text = j.dump(2);  // "{\n  ...\n}"
  text.resize(text.size() - 2);  // drop "\n}"
  text += ",\n";
  const std::uint64_t sum = xxh3(text);
  text += kChecksumKey;
  text += hex64(sum);
  text += kConfigEnd;
  return text;
}

Status decode_config(std::string_view bytes, std::string_view file, NamespaceConfig* c) {
  const std::string f(file);
  // The file ends in `  "checksum": "<16 hex>"\n}\n`, the XXH3-64 of every byte before that line.
  const std::size_t tail = kChecksumKey.size() + 16 + kConfigEnd.size();
  if (bytes.size() < tail + 2) return Status::Corruption(f + ": truncated");
  const std::string_view body = bytes.substr(0, bytes.size() - tail);
  const std::string_view line = bytes.substr(bytes.size() - tail);
  const std::string_view hex = line.substr(kChecksumKey.size(), 16);
  if (line.substr(0, kChecksumKey.size()) != kChecksumKey ||
      line.substr(kChecksumKey.size() + 16) != kConfigEnd ||
      hex.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return Status::Corruption(f +
                              ": checksum: the last line is not the checksum line (truncated?)");
  }
  if (hex64(xxh3(body)) != hex) return Status::Corruption(f + ": checksum mismatch");

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(bytes);
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(f + ": not JSON: " + e.what());
  }
  if (!j.is_object()) return Status::Corruption(f + ": not a JSON object");
  const Fields fx(j, f);
  std::string format;
  if (Status s = fx.string(j, "format", "format", format); !s.ok()) return s;
  if (format != "hnswstore namespace") return fx.bad("format", "not a hnswstore namespace");
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  if (Status s = fx.number(j, "format_major", "format_major", major); !s.ok()) return s;
  if (Status s = fx.number(j, "format_minor", "format_minor", minor); !s.ok()) return s;
  if (major != kFormatMajor) {
    return Status::NotSupported(f + ": format_major: version " + std::to_string(major) + "." +
                                std::to_string(minor) + ", this library reads version " +
                                std::to_string(kFormatMajor) + ".x");
  }
  if (minor > 0xFFFF) return fx.bad("format_minor", "out of range");
  c->format_minor = static_cast<std::uint16_t>(minor);
  if (Status s = fx.string(j, "name", "name", c->name); !s.ok()) return s;
  if (Status s = fx.number(j, "generation", "generation", c->generation); !s.ok()) return s;
  if (Status s = fx.number(j, "count", "count", c->count); !s.ok()) return s;
  if (Status s = fx.string(j, "library_version", "library_version", c->library_version); !s.ok()) {
    return s;
  }
  if (Status s = fx.string(j, "created", "created", c->created); !s.ok()) return s;
  if (Status s = fx.string(j, "saved", "saved", c->saved); !s.ok()) return s;

  const nlohmann::json* o = nullptr;
  if (Status s = fx.object(j, "options", "options", o); !s.ok()) return s;
  NamespaceOptions& opt = c->options;
  std::uint64_t v = 0;
  if (Status s = fx.number(*o, "dimension", "options.dimension", v); !s.ok()) return s;
  opt.dimension = v;
  std::string name;
  if (Status s = fx.string(*o, "metric", "options.metric", name); !s.ok()) return s;
  auto metric = metric_from_string(name);
  if (!metric) return fx.bad("options.metric", "unknown metric '" + name + "'");
  opt.metric = *metric;
  if (Status s = fx.string(*o, "index", "options.index", name); !s.ok()) return s;
  auto kind = index_kind_from_string(name);
  if (!kind) return fx.bad("options.index", "unknown index '" + name + "'");
  opt.index = *kind;
  const nlohmann::json* h = nullptr;
  if (Status s = fx.object(*o, "hnsw", "options.hnsw", h); !s.ok()) return s;
  if (Status s = fx.number(*h, "m", "options.hnsw.m", v); !s.ok()) return s;
  opt.hnsw.m = v;
  if (Status s = fx.number(*h, "ef_construction", "options.hnsw.ef_construction", v); !s.ok()) {
    return s;
  }
  opt.hnsw.ef_construction = v;
  if (Status s = fx.number(*h, "ef_search", "options.hnsw.ef_search", v); !s.ok()) return s;
  opt.hnsw.ef_search = v;
  if (Status s = fx.number(*h, "seed", "options.hnsw.seed", v); !s.ok()) return s;
  opt.hnsw.seed = v;
  // Added in 0.x without a format change: files written before it hold none (automatic).
  opt.hnsw.graph_threshold = 0;
  if (h->contains("graph_threshold")) {
    if (Status s = fx.number(*h, "graph_threshold", "options.hnsw.graph_threshold", v); !s.ok()) {
      return s;
    }
    opt.hnsw.graph_threshold = v;
  }
  if (Status s = fx.number(*o, "max_elements", "options.max_elements", v); !s.ok()) return s;
  opt.max_elements = v;
  if (Status s = fx.number(*o, "memory_limit_bytes", "options.memory_limit_bytes", v); !s.ok()) {
    return s;
  }
  opt.memory_limit_bytes = v;

  const nlohmann::json* files = nullptr;
  if (Status s = fx.object(j, "files", "files", files); !s.ok()) return s;
  if (Status s = parse_file_ref(fx, *files, "vectors", "files.vectors", c->vectors); !s.ok()) {
    return s;
  }
  auto g = files->find("graph");
  if (g == files->end()) return fx.bad("files.graph", "missing");
  c->graph.reset();
  if (!g->is_null()) {
    FileRef ref;
    if (Status s = parse_file_ref(fx, *files, "graph", "files.graph", ref); !s.ok()) return s;
    c->graph = ref;
  }
  return Status::Ok();
}

}  // namespace hnswstore::detail
