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

Result<EpisodicEntry> decode(std::string id, const Metadata& metadata) {
  auto bad = [&](std::string_view key, std::string_view what) {
    return Status::Corruption("entry '" + id + "': " + std::string(key) + ": " +
                              std::string(what) + " (not written by EpisodicMemory?)");
  };
  if (!metadata.is_object()) return bad("metadata", "not an object");
  EpisodicEntry e;
  e.metadata = Metadata::object();
  bool have_session = false, have_role = false, have_content = false, have_time = false,
       have_ingested = false;
  for (const auto& [key, value] : metadata.items()) {
    if (key.empty() || key[0] != '@') {
      e.metadata[key] = value;
    } else if (key == kSessionKey) {
      if (!value.is_string()) return bad(key, "expected a string");
      e.session_id = value.get<std::string>();
      have_session = true;
    } else if (key == kRoleKey) {
      if (!value.is_string()) return bad(key, "expected a string");
      e.role = value.get<std::string>();
      have_role = true;
    } else if (key == kContentKey) {
      if (!value.is_string()) return bad(key, "expected a string");
      e.content = value.get<std::string>();
      have_content = true;
    } else if (key == kTimeKey || key == kIngestedKey) {
      if (!value.is_number_integer()) return bad(key, "expected an integer");
      const TimePoint t = from_nanos(value.get<std::int64_t>());
      (key == kTimeKey ? e.timestamp : e.ingestion_time) = t;
      (key == kTimeKey ? have_time : have_ingested) = true;
    } else if (key == kProcessedKey) {
      if (!value.is_boolean()) return bad(key, "expected a boolean");
      e.processed = value.get<bool>();
    }
    // Other '@' keys are ignored: a later version may add some.
  }
  if (!have_session) return bad(kSessionKey, "missing");
  if (!have_role) return bad(kRoleKey, "missing");
  if (!have_content) return bad(kContentKey, "missing");
  if (!have_time) return bad(kTimeKey, "missing");
  if (!have_ingested) return bad(kIngestedKey, "missing");
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
