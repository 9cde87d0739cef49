#include "entry_codec.hpp"

#include <cmath>

#include "text.hpp"

namespace hnswstore::memory::detail {

std::int64_t to_nanos(TimePoint t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

TimePoint from_nanos(std::int64_t ns) noexcept {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

namespace {
Status check_utf8(std::string_view text, std::string_view where, std::string_view field) {
  if (auto at = invalid_utf8_at(text)) {
    return Status::InvalidArgument(std::string(where) + std::string(field) +
                                   ": invalid UTF-8 at byte " + std::to_string(*at));
  }
  return Status::Ok();
}
}  // namespace

Status check_entry(const EpisodicEntry& entry, std::size_t dimension, std::string_view where) {
  const std::string w(where);
  if (entry.content.empty()) return Status::InvalidArgument(w + "content: must not be empty");
  if (Status s = check_utf8(entry.content, where, "content"); !s.ok()) return s;
  if (Status s = check_utf8(entry.session_id, where, "session_id"); !s.ok()) return s;
  if (Status s = check_utf8(entry.role, where, "role"); !s.ok()) return s;
  if (entry.id.size() > kMaxIdBytes) {
    return Status::InvalidArgument(w + "id: " + std::to_string(entry.id.size()) +
                                   " bytes, at most " + std::to_string(kMaxIdBytes));
  }
  if (!entry.metadata.is_null() && !entry.metadata.is_object()) {
    return Status::InvalidArgument(w + "metadata: expected a JSON object, got " +
                                   entry.metadata.type_name());
  }
  if (entry.metadata.is_object()) {
    for (const auto& [key, value] : entry.metadata.items()) {
      if (!key.empty() && key[0] == '@') {
        return Status::InvalidArgument(w + "metadata." + key +
                                       ": keys starting with '@' are reserved for the memory");
      }
    }
  }
  if (entry.embedding) {
    const std::vector<float>& v = *entry.embedding;
    if (v.size() != dimension) {
      return Status::InvalidArgument(w + "embedding: dimension " + std::to_string(v.size()) +
                                     ", expected " + std::to_string(dimension));
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!std::isfinite(v[i])) {
        return Status::InvalidArgument(w + "embedding[" + std::to_string(i) +
                                       "]: not a finite number");
      }
    }
  }
  return Status::Ok();
}

Metadata encode(const EpisodicEntry& entry) {
  Metadata m = entry.metadata.is_object() ? entry.metadata : Metadata::object();
  m[std::string(kSessionKey)] = entry.session_id;
  m[std::string(kRoleKey)] = entry.role;
  m[std::string(kContentKey)] = entry.content;
  m[std::string(kTimeKey)] = to_nanos(entry.timestamp);
  m[std::string(kIngestedKey)] = to_nanos(entry.ingestion_time);
  if (entry.processed) m[std::string(kProcessedKey)] = true;
  return m;
}

Result<EpisodicEntry> decode(std::string id, Metadata metadata) {
  auto bad = [&](std::string_view key, std::string_view what) {
    return Status::Corruption("entry '" + id + "': " + std::string(key) + ": " +
                              std::string(what) + " (not written by EpisodicMemory?)");
  };
  if (!metadata.is_object()) return bad("metadata", "not an object");
  EpisodicEntry e;
  // Take the reserved keys out of the object (moving their strings); what is left is the
  // entry's own metadata. Reserved keys sort before letters, so they are the object's first.
  auto take = [&](std::string_view key) -> Metadata* {
    auto it = metadata.find(key);
    return it == metadata.end() ? nullptr : &*it;
  };
  auto take_string = [&](std::string_view key, std::string& out) -> Status {
    Metadata* v = take(key);
    if (v == nullptr) return bad(key, "missing");
    if (!v->is_string()) return bad(key, "expected a string");
    out = std::move(v->get_ref<std::string&>());
    return Status::Ok();
  };
  auto take_time = [&](std::string_view key, TimePoint& out) -> Status {
    Metadata* v = take(key);
    if (v == nullptr) return bad(key, "missing");
    if (!v->is_number_integer()) return bad(key, "expected an integer");
    out = from_nanos(v->get<std::int64_t>());
    return Status::Ok();
  };
  if (Status s = take_string(kSessionKey, e.session_id); !s.ok()) return s;
  if (Status s = take_string(kRoleKey, e.role); !s.ok()) return s;
  if (Status s = take_string(kContentKey, e.content); !s.ok()) return s;
  if (Status s = take_time(kTimeKey, e.timestamp); !s.ok()) return s;
  if (Status s = take_time(kIngestedKey, e.ingestion_time); !s.ok()) return s;
  if (Metadata* v = take(kProcessedKey)) {
    if (!v->is_boolean()) return bad(kProcessedKey, "expected a boolean");
    e.processed = v->get<bool>();
  }
  // Drop every '@' key (a later version may add some); they sort first.
  auto& object = metadata.get_ref<Metadata::object_t&>();
  while (!object.empty() && !object.begin()->first.empty() && object.begin()->first[0] == '@') {
    object.erase(object.begin());
  }
  e.metadata = std::move(metadata);
  e.id = std::move(id);
  return e;
}

Filter to_filter(const MemorySearchOptions& o) {
  Filter f = o.filter;
  if (o.session_id) f = f && Filter::eq(std::string(kSessionKey), *o.session_id);
  if (o.role) f = f && Filter::eq(std::string(kRoleKey), *o.role);
  if (o.after) f = f && Filter::gte(std::string(kTimeKey), to_nanos(*o.after));
  if (o.before) f = f && Filter::lt(std::string(kTimeKey), to_nanos(*o.before));
  if (o.processed) {
    f = f && (*o.processed ? Filter::eq(std::string(kProcessedKey), true)
                           : Filter::ne(std::string(kProcessedKey), true));
  }
  return f;
}

}  // namespace hnswstore::memory::detail
