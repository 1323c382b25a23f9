// Item-to-item neighbour lists as stored in a model version (plain arrays, no LibTorch): per
// product, its most related products with a weight each. A user's neighbour score for product j
// is the sum of w(i, j) over the products i the user bought (rank/hybrid.h), so row i lists
// "what people who bought i go on to buy" under the list's family (model/neighbours.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace vasgd {

struct NeighbourLists {
  std::string family;                // "rp3b" | "itemknn" | "ease"; empty = no lists
  std::string params_json = "{}";    // the family's settings, e.g. {"alpha":0.8,"beta":0}
  int32_t num_products = 0;
  std::vector<int64_t> offsets;      // num_products + 1; row p is [offsets[p], offsets[p+1])
  std::vector<int32_t> neighbours;   // product dense ids, best first within a row
  std::vector<float> weights;        // same size; > 0

  bool empty() const { return family.empty(); }
  int64_t size() const { return offsets.empty() ? 0 : offsets.back(); }
};

// The lists as one binary blob (magic, counts, then the three arrays little-endian) and back.
// DecodeNeighbourLists checks shapes, ranges, order and finiteness: Corruption naming what failed.
std::string EncodeNeighbourLists(const NeighbourLists& lists);
Result<NeighbourLists> DecodeNeighbourLists(const std::string& bytes);

// InvalidArgument when the arrays disagree (sizes, ids outside [0, num_products), offsets not
// increasing, non-finite or non-positive weights).
Status CheckNeighbourLists(const NeighbourLists& lists);

}  // namespace vasgd
