// A dataset split for evaluation: the training graph (with product features) plus held-out
// validation and test purchases, all in one dense id space. Laid out on disk like
// ../shared/data/tiktok: train.tsv, val.tsv, test.tsv (header, then user<TAB>item[<TAB>weight]),
// optional image_feat.npy whose row i holds the features of product "i".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/dataset.h"

namespace vasgd {

struct UserProduct {
  int32_t user = 0;
  int32_t product = 0;
};

struct EvalData {
  std::string name;      // e.g. "tiktok" (the directory's base name)
  TrainingData train;    // every user and product of every split; edges from train.tsv only
  std::vector<UserProduct> val;
  std::vector<UserProduct> test;
};

// 1 for products with at least one training edge (warm), 0 for cold ones.
std::vector<uint8_t> WarmProducts(const InteractionGraph& graph);

// Number of training edges per product (the popularity the peer and POP rank by).
std::vector<float> ProductDegrees(const InteractionGraph& graph);

// Checks that every held-out pair names a user and a product of the graph, and that the graph's
// CSR arrays agree in size. InvalidArgument naming the first offence.
Status ValidateEvalData(const EvalData& data);

// Loads `dir`: train.tsv and image_feat.npy through model/tsv.h (so with features, every feature
// row is a product, row i = product "i", and products bought in no split still exist as cold
// candidates), then val.tsv and test.tsv in the same id space; users and products first seen
// there are appended (users without training edges, products without features). A missing or
// unreadable file, or a split where every line is bad, is an error naming the file; single bad
// lines are skipped, counted in *rejected_lines (may be null) and logged.
Result<EvalData> LoadEvalData(const std::string& dir, int64_t* rejected_lines = nullptr);

// The planted shop of model/synthetic.h as an evaluation split: its held-out purchases are split
// by user into validation (odd users) and test (even users).
struct SyntheticShop;
EvalData EvalDataFromShop(const SyntheticShop& shop, const std::string& name = "synthetic");

}  // namespace vasgd
