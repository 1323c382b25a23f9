// One hnswlib graph (inner-product space: distance = 1 - dot) behind a small interface, so that
// hnswlib's header, which defines non-inline functions, is included by hnsw_graph.cc alone.
// Used by ProductIndex, which owns the locking: concurrent Search calls, but one writer at a
// time (Add, AddAll, Grow, SetDeleted) and no Search during a write. hnswlib 0.6.2's concurrent
// Add is not used: it races on the level generator and can deadlock (see ProductIndex::Build).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vasgd {

class HnswGraph {
 public:
  struct Params {
    int32_t dim = 0;
    int64_t capacity = 0;  // elements before Grow is needed
    int m = 16;
    int ef_construction = 200;
  };
  static Result<std::unique_ptr<HnswGraph>> Create(const Params& params);

  // Reads a graph written by Save. Corruption when the file is not a graph of `dim` floats.
  static Result<std::unique_ptr<HnswGraph>> Load(const std::string& path, int32_t dim);

  // Writes `path` via `path + ".tmp"` and a rename; IoError when the file is short or missing.
  Status Save(const std::string& path) const;

  ~HnswGraph();

  // Inserts (or, for a label already present, replaces) a vector. ResourceExhausted when full.
  Status Add(const float* vector, int32_t label);
  // Adds rows[i] with labels[i] for every i, in order, on the calling thread.
  Status AddAll(const float* rows, const std::vector<int32_t>& labels, int32_t dim);
  // Raises the capacity (never lowers it).
  Status Grow(int64_t capacity);
  // Marks a label deleted (skipped by Search, still used to navigate) or undeleted.
  void SetDeleted(int32_t label, bool deleted);

  // The `fetch` nearest labels to `query`, nearest first, as (distance, label), from a beam of
  // width max(ef, fetch). Fewer when the graph holds fewer reachable undeleted elements.
  void Search(const float* query, int64_t fetch, int64_t ef, std::vector<std::pair<float, int32_t>>* out) const;

  int64_t size() const;
  int64_t capacity() const;
  // The stored vector of `label`, or nullptr when absent.
  const float* VectorOf(int32_t label) const;
  std::vector<int32_t> Labels() const;

 private:
  struct Impl;
  explicit HnswGraph(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vasgd
