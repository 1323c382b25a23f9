// Metrics of the embedding space itself (the paper's section on uses of the space):
//   product relations   accuracy of "cos(X_a, X_b) > t" on balanced co-purchased / not pairs, with
//                       t chosen on validation pairs and applied to test pairs;
//   analogy             precision@k of the products nearest (cosine) to X_p1 − X_u1 + X_u2;
//   similarity spread   excess kurtosis of the cosine of random product pairs (a wide, flat
//                       distribution, i.e. low kurtosis, means the space separates products).
// All take plain arrays, so raw image features (the WBOI space) and learned spaces compare alike.
#pragma once

#include <cstdint>
#include <vector>

#include "eval/eval_data.h"
#include "eval/scorer.h"

namespace vasgd {

struct LabeledPair {
  int32_t a = 0;
  int32_t b = 0;
  bool related = false;
};

// Balanced relation pairs built from held-out purchases, so the learned space never saw them:
// for each held-out (u, t) where u has a training item other than t, one positive (t, a) with a
// a random training item of u, and one negative (t, c) where c is the partner of another random
// positive (so negatives have the popularity profile of positives), redrawn while c == t or some
// user bought both t and c in any split. Deterministic in `seed`.
std::vector<LabeledPair> BuildRelationPairs(const EvalData& data, const std::vector<UserProduct>& held_out,
                                            uint64_t seed);

struct RelationResult {
  double threshold = 0;        // cosine threshold chosen on the validation pairs
  double val_accuracy = 0;     // accuracy at that threshold on the validation pairs
  double test_accuracy = 0;    // ... on the test pairs
  int64_t val_pairs = 0, test_pairs = 0;
};

// Threshold t maximising validation accuracy of "related iff cos > t" (midpoint between two
// consecutive distinct validation scores), then test accuracy at t. A product without a vector
// (has_product[p] == 0) has cosine 0 with everything.
RelationResult RelationAccuracy(const Embeddings& space, const std::vector<LabeledPair>& val,
                                const std::vector<LabeledPair>& test);

struct AnalogyOptions {
  int32_t queries = 10000;  // sampled (u1, p1, u2) triples
  int32_t k = 5;            // answers judged per query
  uint64_t seed = 1;
};

struct AnalogyResult {
  double precision = 0;            // mean share of the k answers to X_p1 − X_u1 + X_u2 that are relevant
  double precision_target_only = 0;  // the same answering with X_u2 alone: what the offset adds
  int64_t queries = 0;
};

// Samples u1 with a training item p1 and a second user u2 != u1 who did not buy p1 (both with
// training items); answers are the k products with vectors nearest by cosine to the query, p1
// excluded. An answer is relevant when u2 bought it in any split (train, val or test): "what p1
// was to u1, for u2" judged by u2's own purchases (the data has no categories to judge by).
AnalogyResult AnalogyPrecision(const Embeddings& space, const EvalData& data, const AnalogyOptions& options);

struct CosineSpread {
  double mean = 0;
  double stddev = 0;
  double excess_kurtosis = 0;  // m4 / m2² − 3: 0 for a normal distribution
  std::vector<float> samples;  // the sampled cosines (for histograms)
};

// Cosines of `pairs` random pairs of distinct products that have vectors. Deterministic in seed.
CosineSpread RandomPairCosines(const Embeddings& space, int64_t pairs, uint64_t seed);

}  // namespace vasgd
