// Umbrella header: everything an application needs.
//
//   #include <hnswstore/hnswstore.hpp>
//   auto store = hnswstore::VectorStore::in_memory();
//   auto ns = store.create_namespace("docs", {.dimension = 384}).value();
//
// See README.md and docs/index.md.
#pragma once

#include "hnswstore/env.hpp"
#include "hnswstore/filter.hpp"
#include "hnswstore/namespace.hpp"
#include "hnswstore/options.hpp"
#include "hnswstore/records.hpp"
#include "hnswstore/status.hpp"
#include "hnswstore/vector_store.hpp"
#include "hnswstore/version.hpp"
