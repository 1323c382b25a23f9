// Trains item-to-item neighbour lists (model/neighbour_lists.h) from the purchase graph, beside
// VASG and from the same snapshot. Purchases count once each (weights ignored), as in the peers
// (../shared/peers/itemcf_peer.py), so a C++ list can be checked against them to the digit.
//
// Families:
//   rp3b     the three-step random walk product i -> buyer u -> product j (P3α; Cooper et al. 2014)
//            with transition probabilities raised to α and the target divided by degree(j)^β
//            (RP3β; Paudel et al. 2017):  w(i, j) = deg(i)^-α · Σ_{u bought i and j} deg(u)^-α · deg(j)^-β
//   itemknn  cosine of the buyer sets: |B(i) ∩ B(j)| / (sqrt(deg(i) · deg(j)) + shrink)
//   ease     closed-form item-item regression (Steck 2019), model/ease.h (LibTorch, dense)
// Each row keeps its top_k positive weights, best first (ties: lower id first).
//
// Scale. The walk costs Σ_u deg(u)² over users; one hub user with 100,000 purchases alone would
// cost 10^10. So a user with more than `max_user_degree` purchases takes part with a fixed
// pseudo-random subset of that many (the same subset for every row, chosen by a hash of
// (seed, user, product)), which bounds the cost by edges × max_user_degree. What the cap costs in
// quality is measured in docs/EVALUATION.md ("Neighbour lists at scale").
#pragma once

#include <cstdint>
#include <vector>

#include "model/dataset.h"
#include "model/neighbour_lists.h"

namespace vasgd {

struct NeighbourBuildOptions {
  int top_k = 100;               // neighbours kept per product
  int max_user_degree = 500;     // purchases of one user taken into the walk, at most
  int threads = 0;               // 0 = all cores
  uint64_t seed = 42;            // chooses a hub user's subset
  // Only these products' rows are built (ascending, no repeats); every other row is left empty.
  // Empty = every product. A retraining chooses the lists' settings on held-out users, whose
  // score reads only the rows of what they bought: at 1M products a twentieth of the catalogue.
  std::vector<int32_t> rows;
};

// The graph side both walk families share: per user its (capped) products, per product its
// buyers. Built once per snapshot and reused for every α, β or shrink tried.
struct CoPurchaseGraph {
  int32_t num_users = 0, num_products = 0;
  std::vector<int64_t> user_offsets;    // num_users + 1
  std::vector<int32_t> user_products;   // capped rows
  std::vector<int64_t> product_offsets; // num_products + 1
  std::vector<int32_t> product_users;   // buyers, from the capped rows
  int64_t capped_users = 0;             // users whose row was cut to max_user_degree

  static CoPurchaseGraph Build(const InteractionGraph& graph, int max_user_degree, uint64_t seed);
  int64_t user_degree(int32_t u) const { return user_offsets[u + 1] - user_offsets[u]; }
  int64_t product_degree(int32_t p) const { return product_offsets[p + 1] - product_offsets[p]; }
};

NeighbourLists BuildRp3bLists(const CoPurchaseGraph& graph, double alpha, double beta, const NeighbourBuildOptions& o);
NeighbourLists BuildItemKnnLists(const CoPurchaseGraph& graph, double shrink, const NeighbourBuildOptions& o);

}  // namespace vasgd
