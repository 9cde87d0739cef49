// Namespace: the public handle forwards to its NamespaceState.
#include "hnswstore/namespace.hpp"

#include "guarded.hpp"
#include "namespace_state.hpp"

namespace hnswstore {
namespace {
Status empty_handle() { return Status::NotFound("namespace: the handle refers to no namespace"); }

using detail::guarded;

// A write may have grown (or loaded) the namespace: with a memory budget, the store unloads
// others until the loaded ones fit again (docs/index.md, "Memory budget").
template <class Fn>
auto write_guarded(detail::NamespaceState& state, Fn&& fn) -> decltype(fn()) {
  auto result = guarded(std::forward<Fn>(fn));
  (void)guarded([&] {  // only an allocation can fail in there; the write itself is done
    state.charge_budget();
    return Status::Ok();
  });
  return result;
}
const std::string kNoName;
}  // namespace

const std::string& Namespace::name() const { return state_ ? state_->name() : kNoName; }
NamespaceOptions Namespace::options() const {
  return state_ ? state_->options_copy() : NamespaceOptions{};
}
std::size_t Namespace::size() const { return state_ ? state_->size() : 0; }
Namespace::operator bool() const { return state_ && !state_->dropped(); }

Status Namespace::upsert(std::string_view id, std::span<const float> vector, Metadata metadata) {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->upsert(id, vector, std::move(metadata)); });
}
Status Namespace::upsert(std::span<const Record> records) {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->upsert(records); });
}
Status Namespace::upsert(std::span<const std::string> ids, std::span<const float> vectors,
                         std::span<const Metadata> metadata) {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->upsert(ids, vectors, metadata); });
}
Status Namespace::update_metadata(std::string_view id, Metadata metadata) {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->update_metadata(id, std::move(metadata)); });
}
Status Namespace::save() {
  if (!state_) return empty_handle();
  return guarded([&] { return state_->save(); });
}
Result<bool> Namespace::remove(std::string_view id) {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->remove(id); });
}
Result<std::size_t> Namespace::remove(const Filter& filter) {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->remove(filter); });
}
Result<std::vector<Record>> Namespace::scan(const Filter& filter, std::size_t limit,
                                            std::size_t offset) const {
  if (!state_) return empty_handle();
  return guarded([&] { return state_->scan(filter, limit, offset); });
}
Result<Record> Namespace::get(std::string_view id) const {
  if (!state_) return empty_handle();
  return guarded([&] { return state_->get(id); });
}
bool Namespace::contains(std::string_view id) const { return state_ && state_->contains(id); }
Result<std::vector<Hit>> Namespace::search(std::span<const float> query,
                                           const SearchOptions& options) const {
  if (!state_) return empty_handle();
  return guarded([&] { return state_->search(query, options); });
}
Result<std::vector<std::vector<Hit>>> Namespace::search_batch(std::span<const float> queries,
                                                              const SearchOptions& options) const {
  if (!state_) return empty_handle();
  return guarded([&] { return state_->search_batch(queries, options); });
}
Status Namespace::set_ef_search(std::size_t ef) {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->set_ef_search(ef); });
}
Status Namespace::compact() {
  if (!state_) return empty_handle();
  return write_guarded(*state_, [&] { return state_->compact(); });
}
NamespaceStats Namespace::stats() const {
  return state_ ? state_->stats() : NamespaceStats{};
}

}  // namespace hnswstore
