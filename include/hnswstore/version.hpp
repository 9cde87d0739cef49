// The library's version. CMake's project(VERSION) is the source of truth; a unit test checks
// that these agree with it.
#pragma once

#define HNSWSTORE_VERSION_MAJOR 0
#define HNSWSTORE_VERSION_MINOR 1
#define HNSWSTORE_VERSION_PATCH 0
#define HNSWSTORE_VERSION_STRING "0.1.0"

#include "hnswstore/detail/export.hpp"

namespace hnswstore {

/// The version of the compiled library ("0.1.0"); may differ from HNSWSTORE_VERSION_STRING when
/// headers and library come from different installs.
HNSWSTORE_API const char* version() noexcept;

/// The hnswlib release series the library was compiled against, inferred from its headers
/// (hnswlib has no version macro): "0.6", "0.7" or "0.8".
HNSWSTORE_API const char* hnswlib_version() noexcept;

}  // namespace hnswstore
