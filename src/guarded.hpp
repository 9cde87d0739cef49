// guarded(): how the public calls that return a Status or a Result<T> keep exceptions inside
// the library (docs/errors.md: no exception crosses the API).
#pragma once

#include <exception>
#include <new>

#include "hnswstore/status.hpp"

namespace hnswstore::detail {

/// Runs `fn` (which returns a Status or a Result<T>): an allocation that fails is
/// kResourceExhausted, anything else thrown is a bug (kInternal with its what()).
template <class Fn>
auto guarded(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("out of memory");
  } catch (const std::exception& e) {
    return Status::Internal(e.what());
  } catch (...) {
    return Status::Internal("an exception that is not a std::exception");
  }
}

}  // namespace hnswstore::detail
