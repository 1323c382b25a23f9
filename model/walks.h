// Random walks over the user–product graph (plain C++, no LibTorch).
//
// Nodes: users are 0..U-1, products U..U+P-1 (one id space, as the shared embedding table).
// A walk moves to a uniformly chosen neighbour at every step (purchase weights are ignored, as in
// the paper), so users and products alternate. Each walk is a pure function of
// (seed, epoch, round, start node): the corpus is the same for any number of threads, and it is
// generated piece by piece where it is consumed, never stored whole.
#pragma once

#include <cstdint>
#include <vector>

#include "model/dataset.h"
#include "model/rng.h"

namespace vasgd {

struct WalkGraph {
  int32_t num_users = 0;
  int32_t num_products = 0;
  std::vector<int64_t> offsets;    // num_nodes() + 1
  std::vector<int32_t> neighbors;  // node ids

  // Both directions of every purchase edge.
  static WalkGraph FromInteractions(const InteractionGraph& graph);

  int32_t num_nodes() const { return num_users + num_products; }
  int64_t degree(int32_t v) const { return offsets[v + 1] - offsets[v]; }
  bool is_user(int32_t v) const { return v < num_users; }
  int32_t product_node(int32_t p) const { return num_users + p; }
};

// Writes a walk of `length` nodes starting at `start` into out[0..length) and returns the
// number written (1 when `start` has no neighbour).
int32_t RandomWalk(const WalkGraph& g, int32_t start, int32_t length, Rng* rng, int32_t* out);

// The corpus of one epoch: `walks_per_node` rounds; each round starts one walk at every node
// with a neighbour, in an order shuffled per (seed, epoch). Walk i of the epoch is defined by i
// alone, so any split of [0, size()) over threads yields the same walks. With `max_walks` > 0 the
// corpus stops there: the last round (or the only, partial one) starts walks at a different
// shuffled subset of the nodes each epoch (train.max_walk_tokens: a large shop's budget).
// With `starts` (node ids), walks start only at those of them with a neighbour: a refit that only
// has to fold a few purchases in walks around them (model/trainer.h, TrainScope).
class WalkCorpus {
 public:
  WalkCorpus(const WalkGraph& graph, int walks_per_node, int walk_length, uint64_t seed, int epoch,
             int64_t max_walks = 0, const std::vector<int32_t>* starts = nullptr);

  int64_t size() const { return size_; }
  // The size without `max_walks`: walks_per_node walks from every start node with a neighbour.
  int64_t uncapped_size() const { return static_cast<int64_t>(order_.size()) * rounds_; }
  int32_t walk_length() const { return walk_length_; }
  // Start node of walk i.
  int32_t start(int64_t i) const { return order_[i % static_cast<int64_t>(order_.size())]; }
  // Generates walk i into out[0..walk_length()); returns its length.
  int32_t Walk(int64_t i, int32_t* out) const;

 private:
  const WalkGraph& graph_;
  int rounds_;
  int32_t walk_length_;
  uint64_t epoch_seed_;
  std::vector<int32_t> order_;  // nodes with a neighbour, shuffled
  int64_t size_ = 0;
};

}  // namespace vasgd
