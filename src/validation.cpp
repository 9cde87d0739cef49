#include "validation.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace hnswstore::detail {
namespace {

// ip: the squared norm of a vector is at most 2^126. Every partial sum of a dot product of two
// such vectors, in any order and lane split (hnswlib's SIMD kernels, distance.hpp), is bounded by
// sum |a_i * b_i| <= |a| * |b| <= 2^126, a quarter of FLT_MAX with room for the rounding of up
// to 65,536 terms: it never overflows to an infinity, so +inf + -inf = NaN cannot happen.
constexpr double kMaxInnerProductNorm2 = 0x1p126;

std::string quoted_prefix(std::string_view s, std::size_t max_chars = 40) {
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (s.size() > max_chars) out += "...";
  out += "'";
  return out;
}

bool name_char(char c, bool first) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return !first && (c == '_' || c == '.' || c == '-');
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// Depth and UTF-8 of a metadata value; recursion stops at kMaxMetadataDepth.
Status check_metadata_value(const Metadata& v, std::string& path, std::size_t depth) {
  if (v.is_string()) {
    if (!valid_utf8(v.get_ref<const std::string&>())) {
      return Status::InvalidArgument(path + ": string is not valid UTF-8");
    }
    return Status::Ok();
  }
  if (v.is_number_float() && !std::isfinite(v.get<double>())) {
    return Status::InvalidArgument(path +
                                   ": NaN and infinity are not allowed (JSON has no "
                                   "spelling for them)");
  }
  if (!v.is_object() && !v.is_array()) return Status::Ok();
  if (depth >= kMaxMetadataDepth) {
    return Status::InvalidArgument(path + ": nested deeper than " +
                                   std::to_string(kMaxMetadataDepth) + " levels");
  }
  const std::size_t base = path.size();
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      path += '.';
      path += it.key();
      if (!valid_utf8(it.key())) {
        path.resize(base);
        return Status::InvalidArgument(path + ": a key is not valid UTF-8");
      }
      if (Status s = check_metadata_value(it.value(), path, depth + 1); !s.ok()) return s;
      path.resize(base);
    }
  } else {
    std::size_t i = 0;
    for (const auto& e : v) {
      path += '[' + std::to_string(i++) + ']';
      if (Status s = check_metadata_value(e, path, depth + 1); !s.ok()) return s;
      path.resize(base);
    }
  }
  return Status::Ok();
}

}  // namespace

std::string indexed(std::string_view base, std::size_t i) {
  std::string s(base);
  s += '[';
  s += std::to_string(i);
  s += ']';
  return s;
}

Status check_namespace_name(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("name: must not be empty");
  if (name.size() > kMaxNamespaceNameBytes) {
    return Status::InvalidArgument("name: " + std::to_string(name.size()) +
                                   " bytes, longer than the limit of 128");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!name_char(name[i], i == 0)) {
      return Status::InvalidArgument("name: " + quoted_prefix(name) +
                                     " has a forbidden character at byte " + std::to_string(i) +
                                     "; names match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    }
  }
  return Status::Ok();  // "." and ".." cannot pass the first-character rule
}

Status check_namespace_options(const NamespaceOptions& o) {
  if (o.dimension == 0 || o.dimension > kMaxDimension) {
    return Status::InvalidArgument("dimension: must be 1..65536, got " +
                                   std::to_string(o.dimension));
  }
  switch (o.metric) {
    case Metric::kL2:
    case Metric::kInnerProduct:
    case Metric::kCosine:
    case Metric::kL1:
      break;
    default:
      return Status::InvalidArgument("metric: not a known Metric value");
  }
  switch (o.index) {
    case IndexKind::kHnsw:
    case IndexKind::kFlat:
      break;
    default:
      return Status::InvalidArgument("index: not a known IndexKind value");
  }
  if (o.hnsw.m < 2 || o.hnsw.m > 2048) {
    return Status::InvalidArgument("hnsw.m: must be 2..2048, got " + std::to_string(o.hnsw.m));
  }
  if (Status s = check_ef(o.hnsw.ef_construction, "hnsw.ef_construction"); !s.ok()) return s;
  return check_ef(o.hnsw.ef_search, "hnsw.ef_search");
}

Status check_id(std::string_view id, std::string_view field) {
  if (id.empty()) return Status::InvalidArgument(std::string(field) + ": must not be empty");
  if (id.size() > kMaxIdBytes) {
    return Status::InvalidArgument(std::string(field) + ": " + std::to_string(id.size()) +
                                   " bytes, longer than the limit of 1024 (id " +
                                   quoted_prefix(id) + ")");
  }
  return Status::Ok();
}

Status check_vector(std::span<const float> v, const NamespaceOptions& o, std::string_view field) {
  if (v.size() != o.dimension) {
    return Status::InvalidArgument(std::string(field) + ": expected dimension " +
                                   std::to_string(o.dimension) + ", got " +
                                   std::to_string(v.size()));
  }
  // Every search and upsert passes through here, so the check is one branch-free pass that
  // the compiler vectorises (a NaN or an infinity has all exponent bits set; eight independent
  // double sums); the offending element is looked for only when the pass finds one.
  constexpr std::size_t kLanes = 8;
  std::uint32_t bad = 0;
  double lanes[kLanes] = {};
  const std::size_t n = v.size();
  std::size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      const float x = v[i + l];
      bad |= ~std::bit_cast<std::uint32_t>(x) & 0x7F800000u ? 0u : 1u;
      lanes[l] += static_cast<double>(x) * x;
    }
  }
  for (; i < n; ++i) {
    bad |= ~std::bit_cast<std::uint32_t>(v[i]) & 0x7F800000u ? 0u : 1u;
    lanes[0] += static_cast<double>(v[i]) * v[i];
  }
  if (bad != 0) {
    for (std::size_t j = 0; j < n; ++j) {
      if (!std::isfinite(v[j])) {
        return Status::InvalidArgument(indexed(field, j) + ": " +
                                       (std::isnan(v[j]) ? "NaN" : "infinity") + " is not allowed");
      }
    }
  }
  double norm2 = 0.0;
  for (const double lane : lanes) norm2 += lane;
  if (o.metric == Metric::kInnerProduct && !(norm2 <= kMaxInnerProductNorm2)) {
    return Status::InvalidArgument(std::string(field) +
                                   ": its norm exceeds 2^63 (about 9.2e18), beyond which inner "
                                   "products can overflow the float range (the ip metric)");
  }
  if (o.metric == Metric::kCosine) {
    if (!(norm2 > 0.0)) {
      return Status::InvalidArgument(std::string(field) +
                                     ": a zero vector has no direction for the cosine metric");
    }
    // The store keeps the norm of each cosine vector as a float (get() returns unit * norm).
    // norm2 is a double and never overflows, so the norm itself must fit a float: otherwise
    // it is stored as infinity and get() returns infinities.
    if (!(std::sqrt(norm2) <= static_cast<double>(std::numeric_limits<float>::max()))) {
      return Status::InvalidArgument(std::string(field) +
                                     ": its norm exceeds the float range, which the cosine "
                                     "metric cannot store");
    }
  }
  return Status::Ok();
}

Status normalize_metadata(Metadata& m, std::string_view field) {
  if (m.is_null()) {
    m = Metadata::object();
    return Status::Ok();
  }
  if (!m.is_object()) {
    return Status::InvalidArgument(std::string(field) + ": expected a JSON object, got " +
                                   m.type_name());
  }
  std::string path(field);
  return check_metadata_value(m, path, 0);
}

Status check_ef(std::size_t ef, std::string_view field) {
  if (ef == 0) return Status::InvalidArgument(std::string(field) + ": must be at least 1");
  if (ef > kMaxEf) {
    return Status::InvalidArgument(std::string(field) + ": at most 16777216 (kMaxEf), got " +
                                   std::to_string(ef));
  }
  return Status::Ok();
}

Status check_search_options(const SearchOptions& o) {
  if (o.k == 0) return Status::InvalidArgument("k: must be at least 1");
  if (o.k > kMaxK) {
    return Status::InvalidArgument("k: at most 16777216 (kMaxK), got " + std::to_string(o.k));
  }
  if (o.ef > kMaxEf) {  // 0 means the namespace's ef_search
    return Status::InvalidArgument("ef: at most 16777216 (kMaxEf), got " + std::to_string(o.ef));
  }
  if (!o.filter.status().ok()) return o.filter.status();
  if (o.max_distance && std::isnan(*o.max_distance)) {
    return Status::InvalidArgument("max_distance: NaN is not allowed");
  }
  return Status::Ok();
}

}  // namespace hnswstore::detail
