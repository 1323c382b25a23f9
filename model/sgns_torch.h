// The batched LibTorch skip-gram (the CUDA code path of the trainer) on plain arrays, so tests
// and benchmarks can compare it with the Hogwild kernel of model/sgns.h without LibTorch headers.
#pragma once

#include <cstdint>
#include <vector>

namespace vasgd {

// Loss and gradient of n pairs (centres[i], contexts[i]) with k negatives each (negs[i*k ..]),
// pair i weighted by weights[i], all negatives used; evaluated on the CPU at `table`
// (rows × dim). Returns the weighted loss sum and adds the weighted gradient into `grad`.
double TorchSgnsGradient(const float* table, int32_t rows, int dim, const std::vector<int32_t>& centres,
                         const std::vector<int32_t>& contexts, const std::vector<int32_t>& negs, int k,
                         const std::vector<float>& weights, float* grad);

}  // namespace vasgd
