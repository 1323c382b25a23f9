// The item-to-item methods of `vasgd eval`, beside VASG in eval/methods.h:
//   RP3b     RP3β lists (model/neighbours.h), α × β chosen on the validation pairs
//   ItemKNN  cosine ItemKNN lists, shrink chosen on the validation pairs
//   EASE     EASE lists (model/ease.h), λ chosen on the validation pairs; refused above
//            neighbours.ease_max_products
//   Hybrid   what the daemon trains and serves (rank/fit.h): VASG, the lists and the weights, all
//            chosen on a holdout carved from the training split itself, the validation split unused
// A user's list score for product p is Σ over the user's training purchases of the list weight.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "eval/eval_data.h"
#include "eval/methods.h"

namespace vasgd {

bool IsItemMethod(const std::string& method);
Result<MethodRun> RunItemMethod(const std::string& method, const EvalData& data, const EvalOptions& options,
                                uint64_t seed);

}  // namespace vasgd
