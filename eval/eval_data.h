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

// Loads `dir`. Users and products get dense ids in the order train, val, test first mention them;
// with image_feat.npy, every feature row becomes a product (row i = product "i"), so products
// seen in no split still exist as cold candidates. Duplicate training pairs keep one edge with
// their summed weight. Errors name the file (and line) at fault.
Result<EvalData> LoadEvalData(const std::string& dir);

}  // namespace vasgd
