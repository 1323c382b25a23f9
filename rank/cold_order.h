// Chooses the cold order (rank/hybrid.h: C = V + ρ·Q + φ·fresh among cold products) on the
// held-out purchases whose product is cold in the holdout's graph: the shop's own products that
// nobody had bought yet when someone bought them.
//
// Per such pair (u, t), the measure is the paper's cold-among-cold AUC: the share of the other
// cold products whose C is below t's (ties count half), averaged over pairs. Above 10,000 cold
// products an even sample of 10,000 stands for them (cold_order.cc), so the choice costs
// pairs × 10,000 terms at most and keeps nothing per pair. Every (ρ, φ) of the
// grids is tried; the best is used only where it beats the formula's own order of the same cold
// products on the same pairs, and only with at least `min_pairs` pairs (fewer leave the order off:
// too few to tell settings apart).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/model_version.h"
#include "rank/hybrid.h"
#include "rank/weight_choice.h"

namespace vasgd {

struct ColdOrderOptions {
  std::vector<float> visual, freshness;  // the ρ and φ grids
  int min_pairs = 30;
  int threads = 0;  // 0 = all cores
};

struct ColdOrderChoice {
  HybridWeights weights;     // the input weights with the cold order set (on or off)
  int64_t pairs = 0;         // held-out pairs whose product is cold in `model`
  int64_t cold_products = 0; // cold products of `model` (each pair's candidates)
  double formula_auc = -1;   // the formula's own order of them; < 0 = no pair
  double chosen_auc = -1;    // the chosen (ρ, φ); < 0 = none tried
  int64_t settings_tried = 0;
  std::vector<double> grid_auc;  // per (ρ, φ), ρ-major: the holdout AUC of each setting tried
  double seconds = 0;
};

// `model` was trained without the held-out pairs; `weights` are the formula's (already chosen),
// including the cold query's settings (a, λ, m).
ColdOrderChoice ChooseColdOrder(std::shared_ptr<const ModelVersion> model, const HybridWeights& weights,
                                const HoldoutPairs& holdout, const ColdOrderOptions& options);

}  // namespace vasgd
