// EASE (Steck 2019: "Embarrassingly Shallow Autoencoders for Sparse Data"): the item-item weight
// matrix B minimising ‖R − R·B‖² + λ‖B‖² with diag(B) = 0, in closed form:
//   P = (RᵀR + λI)⁻¹,  B_ij = −P_ij / P_jj  (i ≠ j).
// Dense in the catalogue: memory ~8·n² bytes and time ~n³, so it is built only for catalogues of
// at most `max_products` (FailedPrecondition beyond, with the sizes). Row i of B is kept as the
// product's neighbour list (its top_k positive weights). LibTorch does the algebra (CPU or GPU).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "model/dataset.h"
#include "model/neighbour_lists.h"

namespace vasgd {

struct EaseOptions {
  double lambda = 50;          // L2 weight λ
  int top_k = 100;             // neighbours kept per product
  int64_t max_products = 10000;  // larger catalogues are refused
  int threads = 0;             // 0 = all cores
  std::string device = "cpu";  // cpu | cuda
};

Result<NeighbourLists> BuildEaseLists(const InteractionGraph& graph, const EaseOptions& options);

}  // namespace vasgd
