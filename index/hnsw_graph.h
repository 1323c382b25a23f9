// One hnswlib graph (inner-product space: distance = 1 - dot) behind a small interface, so that
// hnswlib's header, which defines non-inline functions, is included by hnsw_graph.cc alone.
// Used by ProductIndex, which owns the locking: concurrent Search calls, one writer at a time.
//
// Insertion is split in two so that searches wait for an insertion only while it is published
// (microseconds), never while it is computed (a beam search of width ef_construction per level,
// about a millisecond on 100,000 products): PrepareAdd reads the graph and writes only memory
// no search can reach yet, so it may run beside any number of Search calls; PublishAdd writes
// the prepared link lists and must not overlap a Search. The result is the graph hnswlib's own
// addPoint builds, byte for byte (tests/index/hnsw_graph_test.cc); hnswlib 0.6.2's concurrent
// addPoint is not used: it races on the level generator and can deadlock (see ProductIndex::Build).
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
    int64_t capacity = 0;  // elements before the graph grows (by half) on its own
    int m = 16;
    int ef_construction = 200;
    // Layer-0 walk of Search on fp16 copies of the vectors (half the bytes per neighbour read);
    // false: float rows, hnswlib's searchKnn answer exactly.
    // Ignored (float) where the CPU has no hardware fp16 conversion (HalfRowsSupported()).
    bool half_walk = false;
  };
  static Result<std::unique_ptr<HnswGraph>> Create(const Params& params);

  // Reads a graph written by Save (the file holds float vectors whatever `half_walk`: the fp16
  // rows are made on loading). Corruption when the file is not a graph of `dim` floats.
  static Result<std::unique_ptr<HnswGraph>> Load(const std::string& path, int32_t dim, bool half_walk = false);

  // Writes `path` via `path + ".tmp"` and a rename; IoError when the file is short or missing.
  Status Save(const std::string& path) const;

  ~HnswGraph();

  // An insertion computed by PrepareAdd and not yet visible. Destroying one that was never
  // published leaves the graph as it was; destroying a published one frees the arrays a growth
  // replaced (so that the caller can do it after letting searches in again).
  struct PendingAdd;
  struct PendingAddDeleter {
    void operator()(PendingAdd* pending) const;
  };
  using Pending = std::unique_ptr<PendingAdd, PendingAddDeleter>;

  // Computes the insertion of `vector` (dim floats, copied) under `label`: the new element's
  // level and links, and the new link lists of its neighbours; grows the graph's arrays (by
  // half) into fresh copies when it is full. A label already present is replaced: its old
  // element stays as a deleted one (a tombstone: still used to navigate, never returned) and
  // the new element takes the label. ResourceExhausted when memory runs out.
  // Writer only; may run while other threads Search. No other write (PublishAdd, SetDeleted) may
  // come between a PrepareAdd and the PublishAdd of its result.
  Result<Pending> PrepareAdd(const float* vector, int32_t label);
  // Makes a prepared insertion visible. Exclusive: no Search may run meanwhile.
  void PublishAdd(PendingAdd* pending);
  // PrepareAdd + PublishAdd, for building: exclusive.
  Status Add(const float* vector, int32_t label);
  // Adds rows[i] with labels[i] for every i, in order, on the calling thread: exclusive.
  Status AddAll(const float* rows, const std::vector<int32_t>& labels, int32_t dim);

  // Marks a label deleted (skipped by Search, still used to navigate) or undeleted. Exclusive.
  void SetDeleted(int32_t label, bool deleted);

  // The `fetch` nearest labels to `query`, nearest first, as (distance, label), from a beam of
  // width max(ef, fetch). Fewer when the graph holds fewer reachable undeleted elements.
  // With half_walk, the distances (and the choice of the `fetch` from the beam) are the fp16
  // rows': within fp16 rounding of 1 - Dot, not exact. Callers that rank by them rescore
  // (ProductIndex does, with its own float rows, so the answer's scores are exact; rescoring
  // here as well read every returned row twice: `similar` took 13% more daemon CPU per request
  // in both A/B pairs, bench/serve_bench.sh 13:11-13:21 UTC).
  void Search(const float* query, int64_t fetch, int64_t ef, std::vector<std::pair<float, int32_t>>* out) const;

  int64_t size() const;      // labels held (tombstones not counted)
  int64_t capacity() const;  // elements (tombstones included) before the next growth
  bool half_walk() const;    // whether Search walks fp16 rows
  // The stored vector of `label`, or nullptr when absent.
  const float* VectorOf(int32_t label) const;
  // Every label held, once each, in insertion order of their current elements.
  std::vector<int32_t> Labels() const;

 private:
  struct Impl;
  explicit HnswGraph(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vasgd
