// Checks of caller input. Each returns kInvalidArgument with a message that starts with the
// name of the offending field (`records[3].vector[17]: NaN is not allowed`), or ok.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "hnswstore/options.hpp"
#include "hnswstore/records.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::detail {

/// `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}`, not "." or "..".
Status check_namespace_name(std::string_view name);
Status check_namespace_options(const NamespaceOptions& options);
Status check_id(std::string_view id, std::string_view field);
/// Length, finiteness and (for cosine) a non-zero norm.
Status check_vector(std::span<const float> vector, const NamespaceOptions& options,
                    std::string_view field);
/// null becomes {}; anything but an object is refused.
Status normalize_metadata(Metadata& metadata, std::string_view field);
Status check_ef(std::size_t ef, std::string_view field);
Status check_search_options(const SearchOptions& options);

/// `base` + "[" + i + "]".
std::string indexed(std::string_view base, std::size_t i);

}  // namespace hnswstore::detail
