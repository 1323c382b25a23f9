// The non-learned baselines of the paper and of the TikTok table: RAND, POP and WBOI.
#pragma once

#include <cstdint>
#include <memory>

#include "eval/scorer.h"
#include "model/dataset.h"

namespace vasgd {

// RAND: an independent uniform score per (user, product), a pure function of (seed, user,
// product), so every metric sees the same random ranking.
std::unique_ptr<Scorer> MakeRandomScorer(int32_t num_products, uint64_t seed);

// POP: every user gets the products ranked by their number of training edges.
std::unique_ptr<Scorer> MakePopularityScorer(const InteractionGraph& graph);

// WBOI (weighted bag of items): a user is the purchase-weighted mean of the feature vectors of
// the products the user bought; products are their feature vectors; ranking by cosine.
// standardize = false: the paper's baseline on raw features (the space also stands for "image
// features" in the product metrics). standardize = true (WBOI-z): every feature dimension is first
// shifted and scaled to mean 0, variance 1 over the products that have features; non-negative
// CNN features share a large common component that raw cosine is dominated by.
// Products without features have no vector. Requires features.dim > 0.
Embeddings WboiEmbeddings(const TrainingData& data, bool standardize = false);

}  // namespace vasgd
