// The trainer's input, as plain arrays (no LibTorch): the user–product purchase graph in CSR
// form, the product feature matrix and the string ids behind the dense ones.
// Produced by the store's snapshot export (store/), by the TSV/.npy loaders (model/io) and by the
// synthetic generators; consumed by the trainer, the evaluation and the baselines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vasgd {

// Purchases as a CSR matrix, users × products. Row u lists the products user u bought, each
// once, with the summed purchase weight. Products with no purchase in the graph are "cold".
struct InteractionGraph {
  int32_t num_users = 0;
  int32_t num_products = 0;             // all products: warm and cold
  std::vector<int64_t> user_offsets;    // size num_users + 1; row u is [offsets[u], offsets[u+1])
  std::vector<int32_t> product_index;   // size offsets[num_users]; product dense id per edge
  std::vector<float> weight;            // size offsets[num_users]; summed purchase weight per edge
  // Per edge: when it was last bought, as an ordinal (larger = later; the store's count of applied
  // updates, a file's row number). Empty, or 0 for an edge, where the source kept no order.
  std::vector<int64_t> sequence;

  int64_t num_edges() const { return user_offsets.empty() ? 0 : user_offsets.back(); }
  // The ordinal of edge e, or 0 where the graph keeps none.
  int64_t sequence_of(int64_t e) const { return sequence.empty() ? 0 : sequence[e]; }
};

// Product feature vectors, row-major num_products × dim. Rows of products without features
// are zero and have present[p] == 0. dim == 0 means the dataset has no features at all.
struct FeatureMatrix {
  int32_t dim = 0;
  std::vector<float> values;     // num_products * dim
  std::vector<uint8_t> present;  // num_products; 1 = row p holds the product's features

  const float* row(int32_t p) const { return values.data() + static_cast<int64_t>(p) * dim; }
};

struct TrainingData {
  InteractionGraph graph;
  FeatureMatrix features;
  std::vector<std::string> user_ids;     // dense user id -> the shop's string id
  std::vector<std::string> product_ids;  // dense product id -> the shop's string id
};

}  // namespace vasgd
