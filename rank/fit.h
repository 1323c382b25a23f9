// One retraining's model, everything the daemon serves, from one snapshot: the daemon's training
// child and `vasgd eval`'s Hybrid method both call FitVersion, so the evaluation measures exactly
// what the daemon trains.
//
//   1. Holdout: one purchase of some users (model/holdout.h; retrain.holdout_fraction, at most
//      retrain.holdout_max_users users) is taken out of the graph.
//   2. VASG (model/trainer.h) trains on the rest.
//   3. Neighbour lists on the rest: each family's setting (RP3β α × β, ItemKNN shrink, EASE λ
//      while the catalogue fits neighbours.ease_max_products) is the one whose lists alone rank
//      the held-out purchases best (Recall@20, then NDCG@20); the walk family is the better of
//      RP3β and ItemKNN.
//   4. The hybrid's weights are chosen on the same pairs (rank/weight_choice.h), then the cold
//      order on those of them whose product is cold in the holdout's graph (rank/cold_order.h).
//   5. Refit: the lists are rebuilt on the whole graph with the chosen settings (seconds), so the
//      held-out purchases count in what is served. VASG is retrained on the whole graph with
//      retrain.refit_vasg (shipped on), from the holdout model's vectors with a warm start's share
//      of the epochs (retrain.refit_from_holdout; else from scratch or the previous version, which
//      doubles the retraining's VASG time); without it held-out users still reach their held-out
//      product through the lists and their purchases at query time. Where train.max_walk_tokens
//      caps the corpus (retrain.refit_walks = "auto"), the refit's walks start only at the held-out
//      users and products and the holdout model's encoder is kept (a 1M-product shop's refit
//      epoch alone took 875 s).
// The holdout AUC (retrain.min_holdout_auc's gate) is the served ranking's on the held-out pairs:
// the chosen blend over the holdout-trained model, before any refit (VASG's alone is recorded too;
// it is the gate when hybrid.ranking = "vasg").
// The manifest's "hybrid" object records the weights, the families and their settings, and the
// holdout figures of the chosen blend and of each term alone.
#pragma once

#include <functional>
#include <string>

#include "common/options.h"
#include "common/status.h"
#include "model/dataset.h"
#include "model/holdout.h"
#include "model/model_version.h"
#include "model/trainer.h"
#include "rank/competitors.h"
#include "rank/hybrid.h"
#include "rank/weight_choice.h"

namespace vasgd {

struct FittedVersion {
  ModelVersion model;
  HoldoutSplit split;        // the held-out pairs and the graph without them (VASG trained on it)
  double holdout_auc = -1;   // AUC of the served ranking, trained without them; < 0 = no pair
};

// VASG's own AUC over the held-out pairs, by the model's score (dot or cosine; the gate when
// hybrid.ranking = "vasg", recorded as "vasg_holdout_auc" otherwise): per pair, the share of the
// products the user has not bought that score below the held-out product, ties counting half;
// the mean over pairs. The competitors are every product up to `max_competitors`, else an evenly
// spaced sample of that many (rank/competitors.h): over all of them, 5,000 pairs × 1,000,000
// products took 322 s of the 1M shop's retraining (docs/BENCHMARKS.md).
double MeasureVasgHoldout(const ModelVersion& m, const HoldoutPairs& pairs, int threads,
                          int64_t max_competitors = kMaxCompetitors);

// AUC of the served ranking (the hybrid with weights `w`, its cold order included) over the
// held-out pairs: per pair, the share of the competitors the user could be shown (a vector, not
// bought) that score below the held-out product, ties counting half; the mean over pairs whose
// product has a vector. The competitors are every such product up to `max_competitors`, else an
// evenly spaced sample of that many (rank/competitors.h): exhaustive, 5,000 pairs × 100,000
// products were most of the weights stage's 62 s at 100k products (docs/BENCHMARKS.md).
double MeasureServedHoldout(std::shared_ptr<const ModelVersion> model, const HybridWeights& w,
                            const HoldoutPairs& pairs, int threads, int64_t max_competitors = kMaxCompetitors);

// `stage` (may be null) is told when a step starts: "train", "neighbours", "weights", "refit".
Result<FittedVersion> FitVersion(const TrainingData& data, const Config& config, const ModelVersion* previous,
                                 const ProgressCallback& progress = nullptr,
                                 const std::function<void(const char*)>& stage = nullptr);

}  // namespace vasgd
