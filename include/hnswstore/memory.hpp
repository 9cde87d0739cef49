// The episodic memory for agents (target hnswstore::memory): entries, embeddings, backends,
// hybrid search. docs/memory.md is the guide.
#pragma once

#include "hnswstore/memory/config.hpp"
#include "hnswstore/memory/consolidation.hpp"
#include "hnswstore/memory/embedding.hpp"
#include "hnswstore/memory/entry.hpp"
#include "hnswstore/memory/episodic_memory.hpp"
