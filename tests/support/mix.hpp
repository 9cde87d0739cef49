// mix64: a 64-bit integer hash (the SplitMix64 finaliser) for tests that derive data, such as a
// record's vector, from its id and version, so that any reader can check what it sees.
#pragma once

#include <cstdint>

namespace hnswstore::testing {

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace hnswstore::testing
