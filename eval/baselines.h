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
// the products the user bought; products are their raw feature vectors; ranking by cosine.
// The space is the raw feature space, so it also stands for "image features" in the product
// metrics. Products without features have no vector. Requires features.dim > 0.
Embeddings WboiEmbeddings(const TrainingData& data);

}  // namespace vasgd
