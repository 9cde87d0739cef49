#include "metadata_store.hpp"

#include <string>

namespace hnswstore::detail {
namespace {
std::size_t string_heap(std::size_t length) noexcept { return length > 15 ? length + 1 : 0; }
}  // namespace

std::size_t json_heap_bytes(const Metadata& value) noexcept {
  switch (value.type()) {
    case Metadata::value_t::string:
      return sizeof(std::string) + string_heap(value.get_ref<const std::string&>().size());
    case Metadata::value_t::array: {
      std::size_t bytes = 3 * sizeof(void*);  // the std::vector
      for (const auto& element : value) bytes += sizeof(Metadata) + json_heap_bytes(element);
      return bytes;
    }
    case Metadata::value_t::object: {
      std::size_t bytes = 6 * sizeof(void*);  // the std::map
      for (const auto& [key, element] : value.items()) {
        // A red-black tree node: colour and three pointers, the key, the value.
        bytes += 4 * sizeof(void*) + sizeof(std::string) + string_heap(key.size()) +
                 sizeof(Metadata) + json_heap_bytes(element);
      }
      return bytes;
    }
    case Metadata::value_t::binary:
      return 4 * sizeof(void*) + value.get_binary().size();
    default:
      return 0;
  }
}

}  // namespace hnswstore::detail
