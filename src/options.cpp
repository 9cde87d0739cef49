#include "hnswstore/options.hpp"

namespace hnswstore {

std::string_view to_string(Metric metric) noexcept {
  switch (metric) {
    case Metric::kL2: return "l2";
    case Metric::kInnerProduct: return "ip";
    case Metric::kCosine: return "cosine";
    case Metric::kL1: return "l1";
  }
  return "unknown";
}

std::string_view to_string(IndexKind kind) noexcept {
  switch (kind) {
    case IndexKind::kHnsw: return "hnsw";
    case IndexKind::kFlat: return "flat";
  }
  return "unknown";
}

std::optional<Metric> metric_from_string(std::string_view name) noexcept {
  for (Metric m : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine, Metric::kL1}) {
    if (to_string(m) == name) return m;
  }
  return std::nullopt;
}

std::optional<IndexKind> index_kind_from_string(std::string_view name) noexcept {
  for (IndexKind k : {IndexKind::kHnsw, IndexKind::kFlat}) {
    if (to_string(k) == name) return k;
  }
  return std::nullopt;
}

}  // namespace hnswstore
