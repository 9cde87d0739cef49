// The commit protocol and the directory layout of a persistent store (docs/format.md):
//   LOCK                          held (flock) by the one writing VectorStore
//   <ns>.config.json              the commit point: names the generation's files
//   <ns>.<gen>.vectors.bin        the records of generation <gen>
//   <ns>.<gen>.graph.bin          the HNSW links of generation <gen> (a cache)
//   <ns>.config.json.tmp          a config being written (never read)
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "format.hpp"
#include "hnswstore/env.hpp"
#include "hnswstore/status.hpp"

namespace hnswstore::detail {

inline constexpr std::string_view kConfigSuffix = ".config.json";
inline constexpr std::string_view kTempSuffix = ".config.json.tmp";
inline constexpr std::string_view kVectorsSuffix = ".vectors.bin";
inline constexpr std::string_view kGraphSuffix = ".graph.bin";
inline constexpr std::string_view kLockFile = "LOCK";

std::string config_file_name(std::string_view ns);
std::string vectors_file_name(std::string_view ns, std::uint64_t generation);
std::string graph_file_name(std::string_view ns, std::uint64_t generation);

/// Reads and checks <ns>.config.json (its name field must be `ns`, its options valid).
Status read_config(Env& env, const std::filesystem::path& dir, std::string_view ns,
                   NamespaceConfig* out);

/// Reads a file the config names and checks its size and XXH3-64 against the config. A file
/// that is missing is kNotFound (a reader may retry with a newer config); any other mismatch is
/// kCorruption naming the file.
Status read_referenced_file(Env& env, const std::filesystem::path& dir, const FileRef& ref,
                            std::string* out);

/// Commits a new generation of a namespace: writes and fsyncs its data files, fsyncs the
/// directory, writes the config under a temporary name, fsyncs it, renames it over
/// <ns>.config.json (the commit point) and fsyncs the directory. Then removes the files of
/// `previous`, if any (a failure there is only logged by the caller: the commit stands).
/// `config` must name the files and carry the vectors file's checksum (the caller computed it
/// for the graph file already); the sizes and the graph file's checksum are filled in here.
struct CommitResult {
  bool committed = false;
  Status cleanup;  // outcome of removing the previous generation's files
};
Status commit_namespace(Env& env, const std::filesystem::path& dir, NamespaceConfig& config,
                        std::string_view vectors, const std::string* graph,
                        const NamespaceConfig* previous, CommitResult* result);

/// Removes a namespace from disk: its config first (after which it no longer exists, even if
/// the process dies), a directory fsync, then its data files.
Status remove_namespace_files(Env& env, const std::filesystem::path& dir, std::string_view ns,
                              const NamespaceConfig* config);

/// What a directory listing holds.
struct DirEntryInfo {
  enum Kind { kConfig, kTemp, kVectors, kGraph, kOther } kind = kOther;
  std::string ns;
  std::uint64_t generation = 0;
};
DirEntryInfo classify(std::string_view file_name);

}  // namespace hnswstore::detail
