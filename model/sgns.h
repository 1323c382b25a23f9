// The skip-gram part of VASG as a hand-written Hogwild kernel over the embedding table's raw
// memory (plain C++, no LibTorch): word2vec-style per-pair SGD, many threads, no locks.
//
// Why not LibTorch on CPU: a pair costs ~(1 + negatives) dot products of D floats; batched tensor
// ops pay gather/scatter copies and dispatch per batch that exceed that work, and measured slower
// than gensim on 2 cores (docs/BENCHMARKS.md "Training"). On CUDA the batched LibTorch path
// (TorchSegment in model/trainer.cc) computes the same loss and gradients (tests/model/sgns_test.cc,
// SgnsParity, through model/sgns_torch.h).
//
// Loss of a positive pair (centre c, context v) with negatives n_1..n_K, weight w (w1 of the
// paper for product centres, 1 for user centres):
//     w · ( −log σ(x_c·x_v) − Σ_k log σ(−x_c·x_{n_k}) )
// One table holds users and products (the paper's shared X). Pairs of a node with itself (a walk
// that returns to its centre) are skipped, as are negatives equal to the centre or the context.
#pragma once

#include <cstdint>
#include <vector>

#include "model/rng.h"
#include "model/walks.h"

namespace vasgd {

// Draws negatives ∝ degree^power (power 0 = uniform) from one node type or from all nodes.
// Walker's alias method: exact, O(1) per draw, and small (8 bytes per node, so it stays in cache;
// a word2vec-style unigram table of millions of slots missed the cache on every draw).
class NegativeSampler {
 public:
  // typed: a negative has the type of the positive context (user or product); else any node.
  NegativeSampler(const WalkGraph& graph, double power, bool typed);
  int32_t Sample(bool context_is_user, Rng* rng) const {
    const Alias& a = typed_ ? (context_is_user ? users_ : products_) : all_;
    const uint64_t r = rng->Next();
    const uint32_t i = static_cast<uint32_t>(((r >> 32) * a.size) >> 32);
    return (static_cast<uint32_t>(r) < a.threshold[i]) ? a.first + static_cast<int32_t>(i) : a.alias[i];
  }
  bool empty() const { return all_.size == 0; }

 private:
  struct Alias {
    int32_t first = 0;                // node id of slot 0
    uint32_t size = 0;                // slots = nodes of the range
    std::vector<uint32_t> threshold;  // keep slot i when the low 32 random bits are below this
    std::vector<int32_t> alias;       // node id taken otherwise
  };
  static Alias Build(const WalkGraph& graph, int32_t begin, int32_t end, double power);
  bool typed_;
  Alias users_, products_, all_;
};

struct SgnsSettings {
  int window_side = 3;        // contexts on each side of the centre
  bool shrink_window = false; // word2vec: per centre, a side length uniform in [1, window_side]
  // Only pairs of a user and a product (odd distances along the walk). With one shared table, a
  // same-type pair (user-user, product-product at even distances) pulls every node toward its
  // type's centroid, and popular nodes grow along it: user->product cosines then fall with
  // popularity (docs/EVALUATION.md, "Window and the shared table").
  bool cross_type_only = false;
  int negatives = 5;
  float product_weight = 1;   // w1 for pairs whose centre is a product
  // Per node id: 1 = product_weight applies (products with features). Null = every product.
  const uint8_t* weighted = nullptr;
};

// Per-thread loss accounting, split by centre type (0 = user, 1 = product). Loss values are
// unweighted (before w1) so the uncertainty weighting can use the product mean as L1.
struct SgnsStats {
  double loss[2] = {0, 0};
  int64_t pairs[2] = {0, 0};
  void Add(const SgnsStats& o) {
    for (int t = 0; t < 2; ++t) {
      loss[t] += o.loss[t];
      pairs[t] += o.pairs[t];
    }
  }
};

// Trains every (centre, context) pair of one walk with SGD step `lr`, updating `table`
// (num_nodes × dim, row = node id) in place. Safe to call from many threads on one table
// (Hogwild: races only lose a little of an update). `scratch` holds at least dim floats.
// When `product_centres` is non-null, every product centre of the walk is appended to it.
void SgnsTrainWalk(float* table, int dim, const WalkGraph& graph, const int32_t* walk, int32_t len,
                   const SgnsSettings& settings, const NegativeSampler& negatives, float lr, Rng* rng,
                   float* scratch, SgnsStats* stats, std::vector<int32_t>* product_centres);

// One positive pair with given negatives, evaluated WITHOUT updating the table: returns the
// weighted loss and adds the weighted gradient dLoss/dX into `grad` (same shape as the table).
// The reference for the batched LibTorch path and for tests.
double SgnsPairGradient(const float* table, int dim, int32_t centre, int32_t context,
                        const int32_t* negs, int num_negs, float weight, float* grad);

// −log σ(x) and σ(x) as used by the kernel (exact, not tabulated), for tests.
double NegLogSigmoid(double x);

}  // namespace vasgd
