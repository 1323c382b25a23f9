// The VASG trainer (../shared/VASG.md): random walks over the purchase graph, skip-gram over one
// shared user/product embedding table with a feature decoder M⁻¹ weighted by learned uncertainty
// (stage 1), then an encoder M trained through the frozen decoder that embeds cold products
// (stage 2). Plain arrays in (TrainingData), a ModelVersion out; LibTorch stays inside model/.
//
// Stage 1 on CPU runs the skip-gram part as a Hogwild kernel on all cores (model/sgns.h) and
// the decoder as LibTorch steps between segments of walks; on CUDA everything is batched
// LibTorch. Both compute the same loss (tests/model/sgns_test.cc, SgnsParity).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"
#include "model/dataset.h"
#include "model/model_version.h"

namespace vasgd {

// Where a training run stands, for the daemon's status page and logs.
struct TrainProgress {
  std::string stage;          // "stage1" (walks + skip-gram + decoder) | "stage2" (encoder) | "done"
  std::string device;         // "cpu" | "cuda"
  int epoch = 0;              // 1-based within the stage
  int epochs = 0;
  int64_t step = 0;           // work done within the stage: walks (stage 1) or batches (stage 2)
  int64_t steps = 0;          // total work of the stage
  double loss_skipgram = 0;   // mean unweighted loss per positive pair over the last report period
  double loss_reconstruction = 0;  // decoder: mean squared error per standardised feature
  double loss_encoder = 0;    // stage 2: reconstruction through the frozen decoder (+ anchor term)
  double w1 = 1, w2 = 1;      // current uncertainty weights 1/(2σ²) of skip-gram and reconstruction
  double pairs_per_second = 0;  // positive (centre, context) pairs trained per second, stage 1
  double elapsed_seconds = 0;   // since training started
  double eta_seconds = 0;       // estimated time to the end of the whole run
};

// Called from the training thread every few hundred milliseconds and at stage ends. Returning
// false cancels the run: Train returns Unavailable("training cancelled").
using ProgressCallback = std::function<bool(const TrainProgress&)>;

// "cpu" or "cuda" for TrainOptions::device: "auto" picks cuda when LibTorch sees a GPU;
// "cuda" without one is Unavailable; anything else is InvalidArgument.
Result<std::string> ResolveDevice(const std::string& device);

// Narrows a warm-started run to part of the graph: the refit of a retraining (rank/fit.h) starts
// from the holdout model of the same snapshot and only has to fold the held-out purchases in.
struct TrainScope {
  std::vector<int32_t> walk_starts;  // node ids (users 0..U-1, products U+p) walks start at; empty = every node
  // Stage 2 trains nothing: the previous version's encoder (same widths) embeds the cold products
  // again; without one, stage 2 runs as usual.
  bool keep_encoder = false;
};

// True when train.max_walk_tokens caps the walk corpus of `graph`: walks_per_node walks of
// walk_length nodes from every node with a purchase would exceed it (a large shop's budget).
bool CorpusIsCapped(const InteractionGraph& graph, const TrainOptions& options);

// Trains a model version from `data`.
// - Every user and every product of `data` gets a row (same order as data.user_ids /
//   data.product_ids). Products with purchases are warm (kind 1); cold products with features are
//   embedded by the encoder (kind 2); cold products without features get kind 0 and a zero row.
// - `previous` (may be null) warm-starts the embeddings of ids it knows (same dim) and its decoder;
//   then only ceil(epochs × warm_start_epoch_fraction) epochs run, in each stage (stage 2's share is
//   taken of its epochs after train.encoder_max_examples' cap).
// - `scope` narrows a warm start (see TrainScope): rows that no walk visits and no negative draws
//   keep the previous version's values.
// - The result's manifest_extra_json holds the config, data counts, losses, timings and device.
// InvalidArgument for options or data the trainer cannot use (named), Unavailable when cancelled
// or when cuda is asked for and absent.
Result<ModelVersion> Train(const TrainingData& data, const TrainOptions& options,
                           const ModelVersion* previous, const ProgressCallback& progress = nullptr,
                           const TrainScope& scope = {});

// Decoder hidden widths for feature dimension `feature_dim` and embedding dimension `dim` when
// TrainOptions::decoder_widths is empty: the paper's [256, 512, 1024, 2048] for 4096-d features,
// otherwise those widths scaled by feature_dim/4096, each at least min(dim, feature_dim), with
// repeated widths merged. The encoder uses the same widths mirrored.
std::vector<int> DefaultDecoderWidths(int feature_dim, int dim);

}  // namespace vasgd
