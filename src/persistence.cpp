#include "persistence.hpp"

#include <charconv>
#include <cstdio>

#include "validation.hpp"
#include "vector_index.hpp"

namespace hnswstore::detail {

namespace {

std::string with_generation(std::string_view ns, std::uint64_t generation,
                            std::string_view suffix) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%06llu", static_cast<unsigned long long>(generation));
  return std::string(ns) + "." + digits + std::string(suffix);
}

Status write_durably(Env& env, const std::filesystem::path& path, std::string_view bytes) {
  auto file = env.new_writable_file(path);
  if (!file) return file.error();
  WritableFile& f = **file;
  if (Status s = f.append(bytes); !s.ok()) return s;
  if (Status s = f.sync(); !s.ok()) return s;
  return f.close();
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::string config_file_name(std::string_view ns) {
  return std::string(ns) + std::string(kConfigSuffix);
}
std::string vectors_file_name(std::string_view ns, std::uint64_t generation) {
  return with_generation(ns, generation, kVectorsSuffix);
}
std::string graph_file_name(std::string_view ns, std::uint64_t generation) {
  return with_generation(ns, generation, kGraphSuffix);
}

DirEntryInfo classify(std::string_view name) {
  DirEntryInfo info;
  auto take_generation = [&](std::string_view suffix, DirEntryInfo::Kind kind) {
    std::string_view stem = name.substr(0, name.size() - suffix.size());
    const std::size_t dot = stem.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == stem.size() || stem.size() - dot > 21) return;
    const std::string_view digits = stem.substr(dot + 1);
    std::uint64_t generation = 0;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), generation);
    if (ec != std::errc() || end != digits.data() + digits.size()) return;  // also > 2^64 - 1
    info.kind = kind;
    info.ns = std::string(stem.substr(0, dot));
    info.generation = generation;
  };
  if (ends_with(name, kTempSuffix)) {
    info.kind = DirEntryInfo::kTemp;
    info.ns = std::string(name.substr(0, name.size() - kTempSuffix.size()));
  } else if (ends_with(name, kConfigSuffix)) {
    info.kind = DirEntryInfo::kConfig;
    info.ns = std::string(name.substr(0, name.size() - kConfigSuffix.size()));
  } else if (ends_with(name, kVectorsSuffix)) {
    take_generation(kVectorsSuffix, DirEntryInfo::kVectors);
  } else if (ends_with(name, kGraphSuffix)) {
    take_generation(kGraphSuffix, DirEntryInfo::kGraph);
  }
  if (info.kind != DirEntryInfo::kOther && !check_namespace_name(info.ns).ok()) {
    info = DirEntryInfo();
  }
  return info;
}

Status read_config(Env& env, const std::filesystem::path& dir, std::string_view ns,
                   NamespaceConfig* out) {
  const std::string file = config_file_name(ns);
  std::string bytes;
  if (Status s = env.read_file(dir / file, kMaxConfigBytes, &bytes); !s.ok()) return s;
  if (Status s = decode_config(bytes, file, out); !s.ok()) return s;
  if (out->name != ns) {
    return Status::Corruption(file + ": name: '" + out->name + "' in the file of namespace '" +
                              std::string(ns) + "'");
  }
  if (Status s = check_namespace_options(out->options); !s.ok()) {
    return Status::Corruption(file + ": options." + s.message());
  }
  if (out->count > kMaxSlots) return Status::Corruption(file + ": count: impossible");
  if (out->vectors.name != vectors_file_name(ns, out->generation) ||
      (out->graph && out->graph->name != graph_file_name(ns, out->generation))) {
    return Status::Corruption(file + ": files: names do not match generation " +
                              std::to_string(out->generation));
  }
  return Status::Ok();
}

Status read_referenced_file(Env& env, const std::filesystem::path& dir, const FileRef& ref,
                            std::string* out) {
  if (Status s = env.read_file(dir / ref.name, ref.size, out); !s.ok()) {
    if (s.code() == StatusCode::kCorruption) {
      return Status::Corruption(ref.name + ": larger than the config says (" +
                                std::to_string(ref.size) + " bytes)");
    }
    return s;
  }
  if (out->size() != ref.size) {
    return Status::Corruption(ref.name + ": truncated: " + std::to_string(out->size()) +
                              " bytes, the config says " + std::to_string(ref.size));
  }
  return Status::Ok();
}

Status commit_namespace(Env& env, const std::filesystem::path& dir, NamespaceConfig& config,
                        std::string_view vectors, const std::string* graph,
                        const NamespaceConfig* previous, CommitResult* result) {
  result->committed = false;
  config.vectors.size = vectors.size();
  if (Status s = write_durably(env, dir / config.vectors.name, vectors); !s.ok()) return s;
  if (graph != nullptr && config.graph) {
    config.graph->size = graph->size();
    config.graph->checksum = xxh3(*graph);
    if (Status s = write_durably(env, dir / config.graph->name, *graph); !s.ok()) return s;
  }
  // The data files' directory entries are durable before a config can point at them.
  if (Status s = env.sync_dir(dir); !s.ok()) return s;
  const std::string name = config_file_name(config.name);
  const std::filesystem::path temp = dir / (name + ".tmp");
  if (Status s = write_durably(env, temp, encode_config(config)); !s.ok()) return s;
  if (Status s = env.rename_file(temp, dir / name); !s.ok()) return s;
  // Committed in the running system; durable once the directory is synced.
  if (Status s = env.sync_dir(dir); !s.ok()) return s;
  result->committed = true;
  if (previous != nullptr && previous->generation != config.generation) {
    Status cleanup = env.remove_file(dir / previous->vectors.name);
    if (previous->graph) {
      Status s = env.remove_file(dir / previous->graph->name);
      if (cleanup.ok()) cleanup = s;
    }
    result->cleanup = cleanup;
  }
  return Status::Ok();
}

Status remove_namespace_files(Env& env, const std::filesystem::path& dir, std::string_view ns,
                              const NamespaceConfig* config) {
  Status s = env.remove_file(dir / config_file_name(ns));
  if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
  if (Status d = env.sync_dir(dir); !d.ok()) return d;
  // Gone for good; the data files are garbage now, and a writer's next open removes any that
  // remain if removing them here fails.
  if (config != nullptr) {
    (void)env.remove_file(dir / config->vectors.name);
    if (config->graph) (void)env.remove_file(dir / config->graph->name);
  }
  return Status::Ok();
}

}  // namespace hnswstore::detail
