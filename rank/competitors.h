// The products a held-out purchase is ranked against when a retraining measures a ranking on its
// holdout (rank/cold_order.h, rank/fit.h): all candidates up to kMaxCompetitors, else an evenly
// spaced sample of that many, the same for every pair, so that the measure's cost per pair stays
// flat as the catalogue grows. The AUC over a uniform sample estimates the AUC over all of them.
#pragma once

#include <cstdint>
#include <vector>

#include "model/model_version.h"

namespace vasgd {

constexpr int64_t kMaxCompetitors = 10000;

// 1 for each product `m` has no vector for (ProductKind::kNone): it is never shown, so never a
// competitor; 0 for the rest.
std::vector<uint8_t> WithoutVector(const ModelVersion& m);

// `labels` itself when it holds at most `max`, else every ceil(n / max)-th of them.
std::vector<int32_t> EvenSample(const std::vector<int32_t>& labels, int64_t max);

// The vectors of `labels`' products in `m`, one row after another (labels.size() × m.dim).
std::vector<float> RawRows(const ModelVersion& m, const std::vector<int32_t>& labels);

// The same rows scaled to unit length.
std::vector<float> UnitRows(const ModelVersion& m, const std::vector<int32_t>& labels);

// The cosine of `unit_query` (unit length) with product p's vector, computed as UnitRows' rows
// are scored (the row normalised, then Dot), for a held-out product outside the sample. `row`:
// scratch.
float CosineWithProduct(const ModelVersion& m, const float* unit_query, int32_t p, std::vector<float>* row);

// The share of scores[0, n - 1) below scores[n - 1] (the held-out product, last), ties counting
// half; 0.5 when it has no competitor.
double AucOfLast(const float* scores, int64_t n);

}  // namespace vasgd
