// Stress on one namespace: two searching threads, an upserter (single records and batches of up
// to 300), a remover (by id and by filter), a metadata updater and a thread that saves, compacts
// and changes ef_search, all at once for HNSWSTORE_STRESS_SECONDS (default 3) seconds.
//
// Every record carries its own id and the version of its vector in its metadata
// ({"id": id, "group": g, "ver": v}), and its vector is a function of (id, v). So every answer a
// reader gets can be checked without knowing what the writers did: a hit or a get() whose
// metadata belongs to another record, or whose vector is of another version than its metadata
// says, is a torn record. The writers keep a model of every id (each id has a mutex that the
// writer touching it holds, so the model is exact), which the namespace must equal once the
// threads stop, and again after a save, close and reopen.
//
// Labelled `concurrency`: the tsan mode of cmake/bootstrap.sh runs it under ThreadSanitizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hnswstore/hnswstore.hpp"
#include "mix.hpp"
#include "test_dir.hpp"

namespace hnswstore {
namespace {

using testing::TempDir;

constexpr std::size_t kDim = 8;
constexpr std::size_t kPool = 2000;  // ids s0 .. s1999
constexpr int kGroups = 8;

using testing::mix64;

// The vector of id number `idx` at version `ver`: exact floats in [-1, 1).
std::vector<float> vector_of(std::size_t idx, std::int64_t ver) {
  std::vector<float> v(kDim);
  for (std::size_t d = 0; d < kDim; ++d) {
    const std::uint64_t h = mix64((idx << 32) ^ (static_cast<std::uint64_t>(ver) << 4) ^ d);
    v[d] = static_cast<float>(h >> 40) / 8388608.0f - 1.0f;  // 24 bits / 2^23 - 1
  }
  return v;
}

std::string id_of(std::size_t idx) { return "s" + std::to_string(idx); }

float l2(std::span<const float> a, std::span<const float> b) {
  float d = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
  return d;
}

// Empty when the record (id, metadata, vector) is one whole version of one record.
std::string torn(const std::string& id, const Metadata& md, const std::vector<float>& vector) {
  if (!md.is_object() || !md.contains("id") || !md.contains("ver") || !md.contains("group")) {
    return id + ": metadata " + md.dump() + " is not a record's";
  }
  if (md["id"] != id) return id + ": carries the metadata of " + md["id"].dump();
  if (id.size() < 2 || id[0] != 's') return id + ": not an id of the pool";
  const std::size_t idx = std::stoul(id.substr(1));
  const std::vector<float> expect = vector_of(idx, md["ver"].get<std::int64_t>());
  if (vector.size() != kDim ||
      std::memcmp(vector.data(), expect.data(), kDim * sizeof(float)) != 0) {
    return id + ": the vector is not of version " + md["ver"].dump();
  }
  return {};
}

struct Slot {
  std::mutex mutex;  // held by the writer thread changing this id (and its model entry)
  bool live = false;
  std::int64_t ver = 0;
  Metadata metadata;
};

class Stress {
 public:
  Stress() : slots_(kPool) {}

  void fail(const std::string& what) {
    ++failures_;
    std::lock_guard<std::mutex> lock(messages_mutex_);
    if (messages_.size() < 20) messages_.push_back(what);
  }

  std::size_t failures() const { return failures_.load(); }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(messages_mutex_);
    return messages_;
  }

  Metadata metadata_of(std::size_t idx, int group, std::int64_t ver, std::int64_t mv = 0) {
    return {{"id", id_of(idx)}, {"group", group}, {"ver", ver}, {"mv", mv}};
  }

  // Writes the record and its model entry; the caller holds the slot's mutex.
  void set_slot(std::size_t idx, std::int64_t ver, Metadata md) {
    slots_[idx].live = true;
    slots_[idx].ver = ver;
    slots_[idx].metadata = std::move(md);
  }

  std::vector<Slot>& slots() { return slots_; }
  std::int64_t next_version() { return ++version_; }

  // ── readers' checks ──
  void check_hits(const std::vector<float>& q, const std::vector<Hit>& hits, std::size_t k,
                  const Filter* filter, const char* who) {
    if (hits.size() > k) fail(std::string(who) + ": more than k hits");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < hits.size(); ++i) {
      const Hit& h = hits[i];
      if (!seen.insert(h.id).second) fail(std::string(who) + ": duplicate hit " + h.id);
      if (i > 0 && hits[i - 1].distance > h.distance) {
        fail(std::string(who) + ": hits not sorted by distance");
      }
      if (std::string t = torn(h.id, h.metadata, h.vector); !t.empty()) {
        fail(std::string(who) + ": " + t);
        continue;
      }
      const float d = l2(q, h.vector);
      if (std::fabs(d - h.distance) > 1e-4f * (1.0f + d)) {
        fail(std::string(who) + ": " + h.id + " distance " + std::to_string(h.distance) +
             ", its vector is at " + std::to_string(d));
      }
      if (filter != nullptr && !filter->matches(h.metadata)) {
        fail(std::string(who) + ": " + h.id + " does not match the filter: " + h.metadata.dump());
      }
    }
  }

 private:
  std::vector<Slot> slots_;
  std::atomic<std::int64_t> version_{0};
  std::atomic<std::size_t> failures_{0};
  std::mutex messages_mutex_;
  std::vector<std::string> messages_;
};

double stress_seconds() {
  const char* v = std::getenv("HNSWSTORE_STRESS_SECONDS");
  if (v == nullptr || *v == '\0') return 3.0;
  const double s = std::strtod(v, nullptr);
  return s > 0.0 ? s : 3.0;
}

std::vector<float> random_query(std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> q(kDim);
  for (float& x : q) x = u(rng);
  return q;
}

TEST(Stress, OneNamespaceUnderEveryKindOfCallAtOnce) {
  TempDir tmp;
  const StoreOptions store_options{.threads = 2};
  auto store = VectorStore::open(tmp.path(), store_options).value();
  const NamespaceOptions o{.dimension = kDim,
                           .metric = Metric::kL2,
                           .index = IndexKind::kHnsw,
                           .hnsw = {.m = 8, .ef_construction = 48, .ef_search = 32, .seed = 7}};
  Namespace ns = store.create_namespace("stress", o).value();
  Stress st;

  // Half the pool exists before the threads start.
  {
    std::vector<Record> first;
    for (std::size_t idx = 0; idx < kPool; idx += 2) {
      const std::int64_t ver = st.next_version();
      Metadata md = st.metadata_of(idx, static_cast<int>(idx % kGroups), ver);
      first.push_back({id_of(idx), vector_of(idx, ver), md});
      st.set_slot(idx, ver, md);
    }
    ASSERT_TRUE(ns.upsert(first).ok());
  }

  std::atomic<bool> stop{false};
  std::atomic<std::size_t> searches{0}, batches{0}, gets{0}, scans{0}, upserts{0}, removes{0},
      filter_removes{0}, updates{0}, maintenance{0};
  const Filter group3 = Filter::eq("group", 3);

  auto searcher = [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      const std::vector<float> q = random_query(rng);
      SearchOptions so;
      so.k = 1 + rng() % 30;
      so.include_vectors = true;
      if (rng() % 4 == 0) so.ef = 16 + rng() % 100;
      const bool filtered = rng() % 2 == 0;
      if (filtered) so.filter = group3;
      auto hits = ns.search(q, so);
      if (!hits.has_value()) {
        st.fail("search: " + hits.error().to_string());
        continue;
      }
      st.check_hits(q, *hits, so.k, filtered ? &group3 : nullptr, "search");
      ++searches;
    }
  };

  auto mixed_reader = [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      switch (rng() % 4) {
        case 0: {  // search_batch of 4 queries
          std::vector<float> qs;
          for (int i = 0; i < 4; ++i) {
            const auto q = random_query(rng);
            qs.insert(qs.end(), q.begin(), q.end());
          }
          SearchOptions so;
          so.k = 10;
          so.include_vectors = true;
          auto results = ns.search_batch(qs, so);
          if (!results.has_value() || results->size() != 4) {
            st.fail("search_batch: " + results.error().to_string());
            break;
          }
          for (std::size_t i = 0; i < 4; ++i) {
            const std::vector<float> q(qs.begin() + static_cast<std::ptrdiff_t>(i * kDim),
                                       qs.begin() + static_cast<std::ptrdiff_t>((i + 1) * kDim));
            st.check_hits(q, (*results)[i], so.k, nullptr, "search_batch");
          }
          ++batches;
          break;
        }
        case 1: {  // get and contains
          for (int i = 0; i < 20; ++i) {
            const std::string id = id_of(rng() % kPool);
            auto r = ns.get(id);
            if (r.has_value()) {
              if (r->id != id) st.fail("get(" + id + ") returned " + r->id);
              if (std::string t = torn(id, r->metadata, r->vector); !t.empty()) {
                st.fail("get: " + t);
              }
            } else if (r.error().code() != StatusCode::kNotFound) {
              st.fail("get: " + r.error().to_string());
            }
            (void)ns.contains(id);
          }
          ++gets;
          break;
        }
        case 2: {  // a page of a filtered scan
          auto page = ns.scan(group3, 25, rng() % 200);
          if (!page.has_value()) {
            st.fail("scan: " + page.error().to_string());
            break;
          }
          for (std::size_t i = 0; i < page->size(); ++i) {
            const Record& r = (*page)[i];
            if (!group3.matches(r.metadata)) st.fail("scan: " + r.id + " does not match");
            if (std::string t = torn(r.id, r.metadata, r.vector); !t.empty()) {
              st.fail("scan: " + t);
            }
            if (i > 0 && !((*page)[i - 1].id < r.id)) st.fail("scan: ids not ascending");
          }
          ++scans;
          break;
        }
        default: {  // stats and size
          const NamespaceStats s = ns.stats();
          if (s.count > kPool) st.fail("stats: count " + std::to_string(s.count));
          if (ns.size() > kPool) st.fail("size " + std::to_string(ns.size()));
          if (s.dimension != kDim || s.index != IndexKind::kHnsw) st.fail("stats: options");
          break;
        }
      }
    }
  };

  auto upserter = [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      if (rng() % 3 == 0) {
        const std::size_t idx = rng() % kPool;
        std::lock_guard<std::mutex> lock(st.slots()[idx].mutex);
        const std::int64_t ver = st.next_version();
        Metadata md = st.metadata_of(idx, static_cast<int>(rng() % kGroups), ver);
        if (Status s = ns.upsert(id_of(idx), vector_of(idx, ver), md); !s.ok()) {
          st.fail("upsert: " + s.to_string());
          continue;
        }
        st.set_slot(idx, ver, std::move(md));
      } else {
        std::set<std::size_t> picked;  // ascending: the lock order of every writer
        const std::size_t n = 1 + rng() % 300;
        while (picked.size() < n) picked.insert(rng() % kPool);
        std::vector<std::unique_lock<std::mutex>> locks;
        std::vector<Record> batch;
        std::vector<std::int64_t> vers;
        for (std::size_t idx : picked) {
          locks.emplace_back(st.slots()[idx].mutex);
          const std::int64_t ver = st.next_version();
          vers.push_back(ver);
          batch.push_back({id_of(idx), vector_of(idx, ver),
                           st.metadata_of(idx, static_cast<int>(rng() % kGroups), ver)});
        }
        if (Status s = ns.upsert(batch); !s.ok()) {
          st.fail("batch upsert: " + s.to_string());
          continue;
        }
        std::size_t i = 0;
        for (std::size_t idx : picked) {
          st.set_slot(idx, vers[i], batch[i].metadata);
          ++i;
        }
      }
      ++upserts;
    }
  };

  auto remover = [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!stop.load()) {
      if (rng() % 60 == 0) {
        // Every id's mutex, ascending: the model of the whole group is then exact.
        std::vector<std::unique_lock<std::mutex>> locks;
        for (Slot& s : st.slots()) locks.emplace_back(s.mutex);
        const int group = static_cast<int>(rng() % kGroups);
        std::size_t expected = 0;
        for (Slot& s : st.slots()) {
          if (s.live && s.metadata["group"] == group) ++expected;
        }
        auto removed = ns.remove(Filter::eq("group", group));
        if (!removed.has_value()) {
          st.fail("remove(filter): " + removed.error().to_string());
          continue;
        }
        if (*removed != expected) {
          st.fail("remove(filter) removed " + std::to_string(*removed) + ", expected " +
                  std::to_string(expected));
        }
        for (Slot& s : st.slots()) {
          if (s.live && s.metadata["group"] == group) s.live = false;
        }
        ++filter_removes;
      } else {
        const std::size_t idx = rng() % kPool;
        std::lock_guard<std::mutex> lock(st.slots()[idx].mutex);
        auto removed = ns.remove(id_of(idx));
        if (!removed.has_value()) {
          st.fail("remove: " + removed.error().to_string());
          continue;
        }
        if (*removed != st.slots()[idx].live) {
          st.fail("remove(" + id_of(idx) + ") returned " + (*removed ? "true" : "false"));
        }
        st.slots()[idx].live = false;
        ++removes;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  };

  auto updater = [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::int64_t mv = 0;
    while (!stop.load()) {
      const std::size_t idx = rng() % kPool;
      Slot& slot = st.slots()[idx];
      std::lock_guard<std::mutex> lock(slot.mutex);
      Metadata md = st.metadata_of(idx, static_cast<int>(rng() % kGroups), slot.ver, ++mv);
      const Status s = ns.update_metadata(id_of(idx), md);
      if (slot.live) {
        if (!s.ok()) {
          st.fail("update_metadata: " + s.to_string());
          continue;
        }
        slot.metadata = std::move(md);
      } else if (s.code() != StatusCode::kNotFound) {
        st.fail("update_metadata of a removed id: " + s.to_string());
      }
      ++updates;
    }
  };

  auto maintainer = [&](std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::size_t round = 0;
    while (!stop.load()) {
      Status s;
      switch (round++ % 3) {
        case 0: s = ns.save(); break;
        case 1: s = ns.compact(); break;
        default: s = ns.set_ef_search(8 + rng() % 90); break;
      }
      if (!s.ok()) st.fail("maintenance: " + s.to_string());
      ++maintenance;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  };

  const double seconds = stress_seconds();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  threads.emplace_back(searcher, 1);
  threads.emplace_back(mixed_reader, 2);
  threads.emplace_back(upserter, 3);
  threads.emplace_back(remover, 4);
  threads.emplace_back(updater, 5);
  threads.emplace_back(maintainer, 6);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ stress   ] " << took << " s: " << searches << " searches, " << batches
            << " search batches, " << gets << " get rounds, " << scans << " scans, " << upserts
            << " upserts (single or batch), " << removes << " removes, " << filter_removes
            << " removes by filter, " << updates << " metadata updates, " << maintenance
            << " saves/compactions/ef changes; size " << ns.size() << "\n";

  for (const std::string& m : st.messages()) ADD_FAILURE() << m;
  ASSERT_EQ(st.failures(), 0u);
  // Every thread got work done.
  EXPECT_GT(searches.load(), 0u);
  EXPECT_GT(batches.load() + gets.load() + scans.load(), 0u);
  EXPECT_GT(upserts.load(), 0u);
  EXPECT_GT(removes.load(), 0u);
  EXPECT_GT(updates.load(), 0u);
  EXPECT_GT(maintenance.load(), 0u);

  // The namespace equals the writers' model.
  auto expect_model = [&](const Namespace& n, const std::string& when) {
    SCOPED_TRACE(when);
    std::size_t live = 0;
    for (std::size_t idx = 0; idx < kPool; ++idx) {
      const Slot& slot = st.slots()[idx];
      auto r = n.get(id_of(idx));
      if (!slot.live) {
        EXPECT_FALSE(r.has_value()) << id_of(idx) << " was removed";
        continue;
      }
      ++live;
      ASSERT_TRUE(r.has_value()) << id_of(idx) << ": " << r.error().to_string();
      EXPECT_EQ(r->metadata, slot.metadata) << id_of(idx);
      EXPECT_EQ(r->vector, vector_of(idx, slot.ver)) << id_of(idx);
    }
    auto all = n.scan();
    ASSERT_TRUE(all.has_value()) << all.error().to_string();
    EXPECT_EQ(n.size(), all->size());
    EXPECT_EQ(n.size(), live);
    // Searches answer min(k, size) again now that nothing changes.
    const std::vector<float> q(kDim, 0.0f);
    auto hits = n.search(q, {.k = 50, .include_vectors = true});
    ASSERT_TRUE(hits.has_value());
    EXPECT_EQ(hits->size(), std::min<std::size_t>(50, live));
    st.check_hits(q, *hits, 50, nullptr, "final search");
    EXPECT_EQ(st.failures(), 0u);
  };
  expect_model(ns, "after the threads stopped");

  ASSERT_TRUE(ns.save().ok());
  ASSERT_TRUE(store.close().ok());
  auto reopened = VectorStore::open(tmp.path(), store_options).value();
  auto again = reopened.open_namespace("stress").value();
  expect_model(again, "after save, close and reopen");
}

}  // namespace
}  // namespace hnswstore
